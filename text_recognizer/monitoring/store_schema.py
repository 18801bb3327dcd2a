"""The evaluation store's tables, and what differs between SQLite and PostgreSQL.

- how values are written: :func:`utc_timestamp` (fixed-width ISO-8601 strings, which sort
  in time order in any database) and :func:`finite` (NULL, never NaN);
- :class:`Dialect`: placeholders and column types, ``SQLITE`` and ``POSTGRES``;
- ``MIGRATIONS``: the schema, as ordered, append-only steps; :func:`apply_migrations` brings
  a database up to date (``schema_version`` records what it has); ``COLUMNS``: the tables'
  columns after them all;
- :func:`connect_sqlite` (WAL, busy timeout) and :func:`connect_postgres`.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any 64-bit constant: PostgreSQL's advisory lock id for "migrating the evaluation store".
PG_MIGRATION_LOCK = 0x7E57_0808


class StoreError(RuntimeError):
    """The store could not be opened or written; the message says why."""


# ---------------------------------------------------------------- values
def utc_timestamp(value: datetime | str | float | None = None) -> str:
    """A fixed-width ISO-8601 UTC string; such strings sort in time order, in any database.

    ``None`` means now; naive datetimes are taken as UTC; floats are Unix seconds.

    >>> utc_timestamp(datetime(2026, 1, 2, 3, 4, 5))
    '2026-01-02T03:04:05.000000+00:00'
    >>> utc_timestamp(0.5)
    '1970-01-01T00:00:00.500000+00:00'
    """
    if value is None:
        value = datetime.now(UTC)
    elif isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def finite(value: float | None) -> float | None:
    """NULL rather than NaN/inf in the database (PostgreSQL and SQLite disagree on NaN).

    >>> finite(float("nan")) is None, finite(1.5)
    (True, 1.5)
    """
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------- dialects
@dataclass(frozen=True)
class Dialect:
    """What differs between SQLite and PostgreSQL in the SQL this module writes."""

    name: str
    placeholder: str  # "?" (sqlite3) or "%s" (psycopg)
    id_column: str  # an auto-incrementing integer primary key
    real: str  # a double-precision float
    bigint: str

    def sql(self, statement: str) -> str:
        """Statements are written with ``?`` placeholders and ``{id}``/``{real}``/``{bigint}``
        type slots; this fills them for the dialect.

        >>> POSTGRES.sql("SELECT x FROM t WHERE a = ? AND b = ?")
        'SELECT x FROM t WHERE a = %s AND b = %s'
        """
        statement = statement.replace("{id}", self.id_column)
        statement = statement.replace("{real}", self.real).replace("{bigint}", self.bigint)
        return statement.replace("?", self.placeholder) if self.placeholder != "?" else statement


SQLITE = Dialect("sqlite", "?", "INTEGER PRIMARY KEY AUTOINCREMENT", "REAL", "INTEGER")
POSTGRES = Dialect("postgresql", "%s", "BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION", "BIGINT")


# ---------------------------------------------------------------- migrations
@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


# Append only: a database at version N gets migrations N+1, N+2, ... in order.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "predictions and user flags",
        (
            """CREATE TABLE predictions (
                id {id},
                request_id TEXT NOT NULL,
                role TEXT NOT NULL DEFAULT 'production',
                timestamp TEXT NOT NULL,
                source TEXT NOT NULL,
                model_name TEXT,
                model_version TEXT,
                output_text TEXT,
                confidence {real},
                latency_ms {real},
                image_sha256 TEXT,
                image_width INTEGER,
                image_height INTEGER,
                projections TEXT,
                error TEXT,
                UNIQUE (request_id, role)
            )""",
            "CREATE INDEX predictions_timestamp ON predictions (timestamp)",
            "CREATE INDEX predictions_image ON predictions (image_sha256)",
            """CREATE TABLE flags (
                id {id},
                prediction_id {bigint} REFERENCES predictions (id),
                request_id TEXT,
                timestamp TEXT NOT NULL,
                option TEXT,
                username TEXT,
                image_sha256 TEXT,
                output_text TEXT
            )""",
            "CREATE INDEX flags_prediction ON flags (prediction_id)",
        ),
    ),
    Migration(
        2,
        "drift alerts",
        (
            """CREATE TABLE alerts (
                id {id},
                timestamp TEXT NOT NULL,
                window_start TEXT NOT NULL,
                window_end TEXT NOT NULL,
                check_name TEXT NOT NULL,
                projection TEXT NOT NULL,
                statistic {real},
                threshold {real},
                message TEXT,
                UNIQUE (window_start, window_end, check_name, projection)
            )""",
        ),
    ),
    Migration(
        3,
        "ground-truth labels (annotations, simulated traffic) for CER in shadow reports",
        ("ALTER TABLE predictions ADD COLUMN label TEXT",),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

# The tables' columns once every migration has run (for empty DataFrames).
COLUMNS: dict[str, tuple[str, ...]] = {
    "predictions": (
        "id",
        "request_id",
        "role",
        "timestamp",
        "source",
        "model_name",
        "model_version",
        "output_text",
        "confidence",
        "latency_ms",
        "image_sha256",
        "image_width",
        "image_height",
        "projections",
        "error",
        "label",
    ),
    "flags": (
        "id",
        "prediction_id",
        "request_id",
        "timestamp",
        "option",
        "username",
        "image_sha256",
        "output_text",
    ),
    "alerts": (
        "id",
        "timestamp",
        "window_start",
        "window_end",
        "check_name",
        "projection",
        "statistic",
        "threshold",
        "message",
    ),
}


def apply_migrations(cursor: Any, dialect: Dialect, migrations: Sequence[Migration]) -> list[int]:
    """Apply the migrations this database lacks, in order, through ``cursor`` (inside the
    caller's transaction) and return their versions. On PostgreSQL an advisory lock makes
    concurrent openers wait for the first one's migration; SQLite's write lock does that."""

    def execute(statement: str, params: Sequence[Any] = ()) -> Any:
        cursor.execute(dialect.sql(statement), tuple(params))
        return cursor

    if dialect is POSTGRES:
        execute("SELECT pg_advisory_xact_lock(?)", (PG_MIGRATION_LOCK,))
    execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    current = int(execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version <= current:
            continue
        for statement in migration.statements:
            execute(statement)
        execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, utc_timestamp()),
        )
        applied.append(migration.version)
    return applied


# ---------------------------------------------------------------- connections
def connect_sqlite(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, busy timeout."""
    connection = sqlite3.connect(
        path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:  # switching to WAL needs a moment of exclusive access on a new file
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise StoreError(f"could not open {path}: {error}") from error
            time.sleep(0.05)
    if mode.lower() != "wal":
        raise StoreError(f"{path}: SQLite refused WAL mode (got {mode!r}); is it on NFS?")
    connection.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe in WAL
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def connect_postgres(url: str) -> Any:
    try:
        import psycopg
    except ImportError as error:  # pragma: no cover - psycopg is in requirements/prod.in
        raise StoreError(
            "a PostgreSQL store needs psycopg: pip install 'psycopg[binary]'"
        ) from error
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        raise StoreError(f"could not connect to {url}: {error}") from error
