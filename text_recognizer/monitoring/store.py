"""The evaluation store: every prediction the service makes, the users' flags, drift alerts.

One class, two databases::

    store = EvaluationStore.open("monitoring/store.db")                  # SQLite (default)
    store = EvaluationStore.open("postgresql://user@localhost/monitor",  # PostgreSQL
                                 image_root="monitoring/")

SQLite is enough for one machine: a single file, WAL mode so readers never block the
writer, and a busy timeout so several processes (Gradio workers, the backend, a batch job)
can write without "database is locked" errors. PostgreSQL takes over when several machines
write. The SQL is kept portable; the few differences (placeholders, auto-increment keys,
float types, how concurrent migrations are serialized) live in :class:`Dialect`.

Input images are never stored in the tables: they are content-addressed on disk,
``<root>/images/ab/abcdef....png``, named by the SHA-256 of their pixels (see
:func:`image_digest`), written atomically, and stored once however often they are seen.
A flag from the UI finds its prediction through the same hash.

The schema evolves through ordered migrations (``MIGRATIONS``); ``schema_version`` records
which ones a database has, and ``open`` applies the missing ones in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from text_recognizer.monitoring.projections import PROJECTIONS, compute_projections, out_of_charset
from text_recognizer.util import atomic_write

if TYPE_CHECKING:
    import pandas as pd

SQLITE_BUSY_TIMEOUT_MS = 30_000
ROLES = ("production", "candidate")
# Any 64-bit constant: PostgreSQL's advisory lock id for "migrating the evaluation store".
PG_MIGRATION_LOCK = 0x7E57_0808


# ---------------------------------------------------------------- images, content-addressed
def canonical_image(image: Image.Image) -> Image.Image:
    """The canonical pixels behind an image's content address: alpha composited on white,
    ``L`` when the image has no color (even if stored as RGB), ``RGB`` otherwise.

    Why canonical: the UI may hand over RGB where the API got grayscale for the same
    upload; both must hash the same so a flag finds its prediction.

    >>> canonical_image(Image.new("RGB", (2, 2), (9, 9, 9))).mode
    'L'
    >>> canonical_image(Image.new("RGBA", (2, 2), (255, 0, 0, 255))).mode
    'RGB'
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if image.mode == "L":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F", "1"):
        from text_recognizer.util import to_grayscale

        return to_grayscale(image)
    rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    if red.tobytes() == green.tobytes() == blue.tobytes():
        return red  # gray pixels stored as RGB
    return rgb


def image_digest(image: Image.Image) -> str:
    """SHA-256 of an image's canonical pixels (mode, size and bytes), as hex.

    Hashing pixels rather than file bytes makes the address independent of the encoder:
    the same page saved as PNG or BMP, or decoded by Gradio, has one address.

    >>> a = Image.new("L", (3, 2), 200)
    >>> image_digest(a) == image_digest(a.convert("RGB")), len(image_digest(a))
    (True, 64)
    """
    image = canonical_image(image)
    header = f"{image.mode} {image.width}x{image.height}\n".encode()
    return hashlib.sha256(header + image.tobytes()).hexdigest()


def image_relpath(digest: str) -> str:
    """Where an image lives below the store root: two-character fan-out, then the hash.

    >>> image_relpath("abcdef0123")
    'images/ab/abcdef0123.png'
    """
    return f"images/{digest[:2]}/{digest}.png"


def write_image(root: Path, image: Image.Image) -> tuple[str, Path]:
    """Save ``image`` under its content address (once; atomically) -> (digest, path)."""
    canonical = canonical_image(image)
    digest = image_digest(canonical)
    path = Path(root) / image_relpath(digest)
    if not path.exists():
        with atomic_write(path, "wb") as file:  # readers see the whole file or none
            canonical.save(file, format="PNG")
    return digest, path


# ---------------------------------------------------------------- time
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


# ---------------------------------------------------------------- schema
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


class StoreError(RuntimeError):
    """The store could not be opened or written; the message says why."""


# ---------------------------------------------------------------- the store
class EvaluationStore:
    """Predictions, flags and alerts in SQLite or PostgreSQL; input images on disk.

    Thread-safe (one connection, one lock); open one store per process.
    """

    def __init__(self, connection: Any, dialect: Dialect, image_root: Path, url: str) -> None:
        self._connection = connection
        self.dialect = dialect
        self.image_root = Path(image_root)
        self.url = url
        self._lock = threading.RLock()

    # ------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, url_or_path: str | os.PathLike, image_root: str | os.PathLike | None = None
    ) -> EvaluationStore:
        """Open (creating and migrating if needed) the store at a SQLite path or a
        ``postgresql://`` URL. Images go to ``image_root``: by default the SQLite file's
        folder; required for PostgreSQL (the database may live on another machine).
        """
        text = os.fspath(url_or_path)
        if text.startswith(("postgresql://", "postgres://")):
            if image_root is None:
                raise StoreError("a PostgreSQL store needs image_root= (a folder for images)")
            store = cls(_connect_postgres(text), POSTGRES, Path(image_root), text)
        else:
            path = Path(text.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            root = Path(image_root) if image_root is not None else path.parent
            store = cls(_connect_sqlite(path), SQLITE, root, str(path))
        store.image_root.mkdir(parents=True, exist_ok=True)
        store.migrate()
        return store

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> EvaluationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EvaluationStore({self.url!r}, image_root={str(self.image_root)!r})"

    # ------------------------------------------------------------ SQL plumbing
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction; yields a cursor. SQLite takes the write lock up front
        (``BEGIN IMMEDIATE``) so two writers never deadlock upgrading a read lock."""
        with self._lock:
            cursor = self._connection.cursor()
            if self.dialect is SQLITE:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            else:
                with self._connection.transaction():
                    yield cursor

    def _execute(self, cursor: Any, statement: str, params: Sequence[Any] = ()) -> Any:
        cursor.execute(self.dialect.sql(statement), tuple(params))
        return cursor

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only statement (``?`` placeholders) -> rows as dicts."""
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute(self.dialect.sql(statement), tuple(params))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    # ------------------------------------------------------------ migrations
    def schema_version(self) -> int:
        """The newest migration applied to this database (0 for an empty one)."""
        rows = self.query("SELECT MAX(version) AS version FROM schema_version")
        return int(rows[0]["version"] or 0)

    def migrate(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
        """Apply the migrations this database lacks, in order, in ONE transaction, and
        return their versions. Safe when several processes open a new store at once: the
        first takes the lock and migrates, the others then find nothing to do."""
        with self.transaction() as cursor:
            if self.dialect is POSTGRES:
                self._execute(cursor, "SELECT pg_advisory_xact_lock(?)", (PG_MIGRATION_LOCK,))
            self._execute(
                cursor,
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)",
            )
            current = self._execute(cursor, "SELECT MAX(version) FROM schema_version").fetchone()
            current = int(current[0] or 0)
            applied = []
            for migration in sorted(migrations, key=lambda m: m.version):
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    self._execute(cursor, statement)
                self._execute(
                    cursor,
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, utc_timestamp()),
                )
                applied.append(migration.version)
        return applied

    # ------------------------------------------------------------ writing
    def save_image(self, image: Image.Image) -> tuple[str, Path]:
        """Store an input image under its content address -> (sha256, path)."""
        return write_image(self.image_root, image)

    def image_path(self, digest: str) -> Path:
        """Where the image with this SHA-256 is (or would be) stored."""
        return self.image_root / image_relpath(digest)

    def log_prediction(
        self,
        *,
        output_text: str | None,
        image: Image.Image | None = None,
        confidence: float | None = None,
        latency_ms: float | None = None,
        source: str = "api",
        model_name: str | None = None,
        model_version: str | None = None,
        request_id: str | None = None,
        timestamp: datetime | str | float | None = None,
        role: str = "production",
        label: str | None = None,
        projections: Mapping[str, float] | None = None,
        error: str | None = None,
    ) -> int:
        """Record one prediction -> its row id.

        The image is written first (content-addressed), then the row, so a row never points
        at a missing file. Logging the same ``(request_id, role)`` twice keeps the first row
        and returns its id: retries are harmless. Projections are computed here unless given.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        request_id = request_id or uuid.uuid4().hex
        digest = width = height = None
        if image is not None:
            digest, _ = self.save_image(image)
            width, height = image.size
        if projections is None:
            projections = compute_projections(image, output_text, confidence)
            if label is not None:  # what the model could never spell, where the truth is known
                projections["label_out_of_charset"] = out_of_charset(label)
        row = (
            request_id,
            role,
            utc_timestamp(timestamp),
            source,
            model_name,
            model_version,
            output_text,
            _finite(confidence),
            _finite(latency_ms),
            digest,
            width,
            height,
            json.dumps(dict(projections), sort_keys=True),
            error,
            label,
        )
        with self.transaction() as cursor:
            inserted = self._execute(
                cursor,
                "INSERT INTO predictions (request_id, role, timestamp, source, model_name,"
                " model_version, output_text, confidence, latency_ms, image_sha256, image_width,"
                " image_height, projections, error, label)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (request_id, role) DO NOTHING RETURNING id",
                row,
            ).fetchone()
            if inserted is None:  # a retry of a request already logged
                inserted = self._execute(
                    cursor,
                    "SELECT id FROM predictions WHERE request_id = ? AND role = ?",
                    (request_id, role),
                ).fetchone()
        return int(inserted[0])

    def log_flag(
        self,
        option: str | None,
        *,
        prediction_id: int | None = None,
        request_id: str | None = None,
        image: Image.Image | None = None,
        output_text: str | None = None,
        username: str | None = None,
        timestamp: datetime | str | float | None = None,
    ) -> int:
        """Record a user's flag -> its row id.

        The flag is attached to a prediction by id, by request id, or else by content: the
        newest production prediction of the same image (and output text, when given). A flag
        that matches no prediction is kept anyway, with ``prediction_id`` NULL.
        """
        digest = None
        if image is not None:
            digest, _ = self.save_image(image)
        with self.transaction() as cursor:
            if prediction_id is None and request_id is not None:
                found = self._execute(
                    cursor,
                    "SELECT id FROM predictions WHERE request_id = ? AND role = 'production'",
                    (request_id,),
                ).fetchone()
                prediction_id = found[0] if found else None
            if prediction_id is None and digest is not None:
                prediction_id = self._match_by_content(cursor, digest, output_text)
            if prediction_id is not None and request_id is None:
                found = self._execute(
                    cursor, "SELECT request_id FROM predictions WHERE id = ?", (prediction_id,)
                ).fetchone()
                request_id = found[0] if found else None
            flag_id = self._execute(
                cursor,
                "INSERT INTO flags (prediction_id, request_id, timestamp, option, username,"
                " image_sha256, output_text) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    prediction_id,
                    request_id,
                    utc_timestamp(timestamp),
                    option,
                    username,
                    digest,
                    output_text,
                ),
            ).fetchone()[0]
        return int(flag_id)

    def _match_by_content(self, cursor: Any, digest: str, output_text: str | None) -> int | None:
        statement = "SELECT id FROM predictions WHERE image_sha256 = ? AND role = 'production'"
        params: list[Any] = [digest]
        if output_text is not None:
            statement += " AND output_text = ?"
            params.append(output_text)
        statement += " ORDER BY timestamp DESC, id DESC LIMIT 1"
        found = self._execute(cursor, statement, params).fetchone()
        if found is None and output_text is not None:  # e.g. the UI trimmed whitespace
            return self._match_by_content(cursor, digest, None)
        return int(found[0]) if found else None

    def log_alert(
        self,
        *,
        window_start: datetime | str,
        window_end: datetime | str,
        check_name: str,
        projection: str,
        statistic: float | None,
        threshold: float | None,
        message: str = "",
        timestamp: datetime | str | float | None = None,
    ) -> int | None:
        """Record a drift alert -> its id, or None if this window/check/projection already
        has one (re-running a drift check does not duplicate alerts)."""
        with self.transaction() as cursor:
            row = self._execute(
                cursor,
                "INSERT INTO alerts (timestamp, window_start, window_end, check_name, projection,"
                " statistic, threshold, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (window_start, window_end, check_name, projection) DO NOTHING"
                " RETURNING id",
                (
                    utc_timestamp(timestamp),
                    utc_timestamp(window_start),
                    utc_timestamp(window_end),
                    check_name,
                    projection,
                    _finite(statistic),
                    _finite(threshold),
                    message,
                ),
            ).fetchone()
        return int(row[0]) if row else None

    def recompute_projections(self, charset: Iterable[str] | None = None) -> int:
        """Recompute every row's projections from its stored image and text (after adding a
        projection, or fixing one) -> rows updated."""
        rows = self.query("SELECT id, image_sha256, output_text, confidence FROM predictions")
        for row in rows:
            image = self.load_image(row["image_sha256"]) if row["image_sha256"] else None
            values = compute_projections(image, row["output_text"], row["confidence"], charset)
            with self.transaction() as cursor:
                self._execute(
                    cursor,
                    "UPDATE predictions SET projections = ? WHERE id = ?",
                    (json.dumps(values, sort_keys=True), row["id"]),
                )
        return len(rows)

    # ------------------------------------------------------------ reading
    def count(self, table: str = "predictions", role: str | None = None) -> int:
        if table not in ("predictions", "flags", "alerts"):
            raise ValueError(f"unknown table {table!r}")
        statement, params = f"SELECT COUNT(*) AS n FROM {table}", []
        if role is not None:
            statement += " WHERE role = ?"
            params.append(role)
        return int(self.query(statement, params)[0]["n"])

    def load_image(self, digest: str) -> Image.Image:
        """The stored image with this SHA-256, fully loaded."""
        with Image.open(self.image_path(digest)) as image:
            image.load()
            return image

    def to_dataframe(
        self,
        *,
        role: str | None = "production",
        source: str | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        expand_projections: bool = True,
    ) -> pd.DataFrame:
        """Predictions as a pandas DataFrame, oldest first, one row per prediction, with
        ``image_path`` (the stored input), the flags (``flags``: the options, ``;``-joined;
        ``flagged``: bool) and, by default, one column per projection.

        ``start`` is inclusive and ``end`` exclusive, so consecutive windows never overlap.
        """
        import pandas as pd

        statement, params = "SELECT * FROM predictions WHERE 1 = 1", []
        for column, value, op in (
            ("role", role, "="),
            ("source", source, "="),
            ("timestamp", start, ">="),
            ("timestamp", end, "<"),
        ):
            if value is not None:
                statement += f" AND {column} {op} ?"
                params.append(utc_timestamp(value) if column == "timestamp" else value)
        rows = self.query(statement + " ORDER BY timestamp, id", params)
        frame = pd.DataFrame(rows, columns=_prediction_columns(rows))
        flags = self.flags_dataframe()
        joined = (
            flags.dropna(subset=["prediction_id"])
            .assign(option=lambda f: f["option"].fillna("").astype(str))
            .groupby("prediction_id")["option"]
            .agg(";".join)
        )
        frame["flags"] = [joined.get(i, "") for i in frame["id"]]
        frame["flagged"] = frame["id"].isin(joined.index)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        frame["image_path"] = [
            str(self.image_path(d)) if isinstance(d, str) else None for d in frame["image_sha256"]
        ]
        if expand_projections:
            projections = pd.DataFrame(
                [json.loads(p) if p else {} for p in frame["projections"]], index=frame.index
            )
            known = [name for name in PROJECTIONS if name in projections]
            extra = sorted(set(projections) - set(known))
            # confidence and image size are table columns already: keep one copy of each
            projections = projections[[c for c in known + extra if c not in frame]]
            frame = pd.concat([frame.drop(columns="projections"), projections], axis=1)
        return frame

    def flags_dataframe(self) -> pd.DataFrame:
        """Every flag, oldest first."""
        import pandas as pd

        rows = self.query("SELECT * FROM flags ORDER BY timestamp, id")
        columns = [
            "id",
            "prediction_id",
            "request_id",
            "timestamp",
            "option",
            "username",
            "image_sha256",
            "output_text",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        return frame

    def alerts_dataframe(self) -> pd.DataFrame:
        """Every alert, by window."""
        import pandas as pd

        rows = self.query("SELECT * FROM alerts ORDER BY window_start, check_name, projection")
        columns = [
            "id",
            "timestamp",
            "window_start",
            "window_end",
            "check_name",
            "projection",
            "statistic",
            "threshold",
            "message",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("timestamp", "window_start", "window_end"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame

    def images_for(self, predictions: pd.DataFrame | Iterable[int]) -> list[Image.Image | None]:
        """The input images of some predictions (a DataFrame from :meth:`to_dataframe`, or
        row ids), in order; None where a prediction had no image."""
        if hasattr(predictions, "columns"):
            digests = list(predictions["image_sha256"])
        else:
            ids = [int(i) for i in predictions]
            found = {
                row["id"]: row["image_sha256"]
                for chunk in _chunks(ids, 500)
                for row in self.query(
                    "SELECT id, image_sha256 FROM predictions WHERE id IN ("
                    + ", ".join("?" * len(chunk))
                    + ")",
                    chunk,
                )
            }
            digests = [found.get(i) for i in ids]
        return [self.load_image(d) if isinstance(d, str) else None for d in digests]


# ---------------------------------------------------------------- helpers
def _finite(value: float | None) -> float | None:
    """NULL rather than NaN/inf in the database (PostgreSQL and SQLite disagree on NaN).

    >>> _finite(float("nan")) is None, _finite(1.5)
    (True, 1.5)
    """
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _prediction_columns(rows: list[dict[str, Any]]) -> list[str]:
    if rows:
        return list(rows[0])
    return [
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
    ]


def _connect_sqlite(path: Path) -> sqlite3.Connection:
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


def _connect_postgres(url: str) -> Any:
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
