"""The SAME store tests, against a REAL PostgreSQL server started by this module.

The server is the Debian package's (``/usr/lib/postgresql/*/bin``): ``initdb`` into a
temporary folder, ``pg_ctl start`` listening on a unix socket in that folder only (no TCP
port: nothing to collide with, nothing reachable from outside). PostgreSQL refuses to run
as root, so under root the server runs as the ``postgres`` system user (``runuser``) in a
folder it owns; the tests connect through the socket as the database superuser.

Each test gets a fresh database (CREATE DATABASE), so tests stay independent, as with
SQLite's one-file-per-test.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.integration.test_store_concurrency import check_every_row_once, run_writers
from tests.unit.test_monitoring_store import (  # noqa: F401 - collected again, here on PostgreSQL
    test_alerts_are_not_duplicated_when_checks_rerun,
    test_dataframe_has_projections_flags_and_image_paths,
    test_failed_transaction_leaves_nothing,
    test_flags_find_their_prediction_by_request_or_content,
    test_fresh_store_has_every_migration_in_order,
    test_images_are_content_addressed_once_and_atomically,
    test_log_prediction_is_idempotent_per_request_and_role,
    test_logger_never_raises_and_counts_failures,
    test_old_database_is_migrated_and_keeps_its_rows,
    test_projections_can_be_recomputed_from_stored_data,
)
from text_recognizer.monitoring.store import EvaluationStore
from text_recognizer.monitoring.store_schema import POSTGRES

PORT = 54329  # only names the socket file: the server opens no TCP port


def postgres_bindir() -> Path | None:
    """The newest installed server's binaries (Debian layout, or initdb on PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parts[-3])
    except ValueError:
        return 0.0


class LocalPostgres:
    """A throwaway PostgreSQL cluster on a unix socket in a temporary folder."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="text-recognizer-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # postgres will not run as root: use its own system user
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"

    def run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-k {self.dir} -c listen_addresses='' -p {PORT} -c fsync=off -c max_connections=60"
        )
        self.run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-o", options, "start",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.dir}&port={PORT}"

    def create_database(self) -> str:
        import psycopg

        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        try:
            self.run(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    server = LocalPostgres(bindir)
    try:
        server.start()
    except subprocess.CalledProcessError as error:
        log = server.log.read_text() if server.log.exists() else ""
        server.stop()
        pytest.fail(f"could not start PostgreSQL: {error.stderr.decode()}\n{log}")
    yield server
    server.stop()


@pytest.fixture
def open_store(postgres, tmp_path):
    """Factory: open (or re-open) one fresh PostgreSQL database; images in tmp_path."""
    url = postgres.create_database()
    opened = []

    def factory(migrations=None) -> EvaluationStore:
        store = EvaluationStore.open(url, image_root=tmp_path)
        assert store.dialect is POSTGRES
        if migrations is not None:
            store.migrate(migrations)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def test_server_is_real_postgresql(open_store):
    store = open_store()
    version = store.query("SELECT version() AS v")[0]["v"]
    assert version.startswith("PostgreSQL")


@pytest.mark.slow
def test_eight_processes_write_to_postgres_without_losing_rows(postgres, tmp_path):
    url = postgres.create_database()
    run_writers(url, tmp_path)
    with EvaluationStore.open(url, image_root=tmp_path) as store:
        check_every_row_once(store)
        assert store.query("SELECT COUNT(*) AS n FROM schema_version")[0]["n"] == len(
            store.query("SELECT DISTINCT version FROM schema_version")
        )
