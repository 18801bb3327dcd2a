"""The evaluation store: every prediction the service makes, the users' flags, drift alerts.

One class, two databases::

    store = EvaluationStore.open("monitoring/store.db")                  # SQLite (default)
    store = EvaluationStore.open("postgresql://user@localhost/monitor",  # PostgreSQL
                                 image_root="monitoring/")

SQLite is enough for one machine: a single file, WAL mode so readers never block the
writer, and a busy timeout so several processes (Gradio workers, the backend, a batch job)
can write without "database is locked" errors. PostgreSQL takes over when several machines
write. The SQL is kept portable; the few differences (placeholders, auto-increment keys,
float types, how concurrent migrations are serialized) live in
:mod:`~text_recognizer.monitoring.store_schema`, with the tables' ordered migrations, which
``open`` applies in one transaction.

Input images are never stored in the tables: :mod:`~text_recognizer.monitoring.store_images`
keeps them on disk, content-addressed, once however often they are seen; a flag from the UI
finds its prediction through the same hash.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from text_recognizer.monitoring.projections import PROJECTIONS, compute_projections, out_of_charset
from text_recognizer.monitoring.store_images import image_relpath, write_image
from text_recognizer.monitoring.store_schema import (
    COLUMNS,
    MIGRATIONS,
    POSTGRES,
    SQLITE,
    Dialect,
    Migration,
    StoreError,
    apply_migrations,
    connect_postgres,
    connect_sqlite,
    finite,
    utc_timestamp,
)

if TYPE_CHECKING:
    import pandas as pd

ROLES = ("production", "candidate")


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
            store = cls(connect_postgres(text), POSTGRES, Path(image_root), text)
        else:
            path = Path(text.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            root = Path(image_root) if image_root is not None else path.parent
            store = cls(connect_sqlite(path), SQLITE, root, str(path))
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
            return apply_migrations(cursor, self.dialect, migrations)

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
            finite(confidence),
            finite(latency_ms),
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
                    finite(statistic),
                    finite(threshold),
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
        frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else list(COLUMNS["predictions"]))
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
        frame = pd.DataFrame(rows, columns=list(COLUMNS["flags"]))
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        return frame

    def alerts_dataframe(self) -> pd.DataFrame:
        """Every alert, by window."""
        import pandas as pd

        rows = self.query("SELECT * FROM alerts ORDER BY window_start, check_name, projection")
        frame = pd.DataFrame(rows, columns=list(COLUMNS["alerts"]))
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
                for chunk in (ids[k : k + 500] for k in range(0, len(ids), 500))
                for row in self.query(
                    "SELECT id, image_sha256 FROM predictions WHERE id IN ("
                    + ", ".join("?" * len(chunk))
                    + ")",
                    chunk,
                )
            }
            digests = [found.get(i) for i in ids]
        return [self.load_image(d) if isinstance(d, str) else None for d in digests]
