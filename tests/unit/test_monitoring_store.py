"""The evaluation store: migrations, WAL, content-addressed images, flags, DataFrames.

Every test takes ``open_store``, a factory that opens THE SAME database each call (to test
re-opening). Here it is SQLite; tests/integration/test_postgres_store.py imports these
tests and overrides ``open_store`` with a real PostgreSQL server, so both backends pass the
same assertions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from text_recognizer.monitoring.logger import PredictionLogger
from text_recognizer.monitoring.store import EvaluationStore
from text_recognizer.monitoring.store_images import image_digest
from text_recognizer.monitoring.store_schema import MIGRATIONS, SCHEMA_VERSION, SQLITE, Migration

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def open_store(tmp_path):
    """Factory: open (or re-open) one SQLite store in tmp_path."""
    opened = []

    def factory(migrations=None) -> EvaluationStore:
        store = EvaluationStore.open(tmp_path / "store.db")
        if migrations is not None:
            store.migrate(migrations)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def page(seed: int, size=(64, 32), color: bool = False) -> Image.Image:
    """A small random 'page', distinct per seed."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if color else (size[1], size[0])
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def test_fresh_store_has_every_migration_in_order(open_store):
    store = open_store()
    assert store.schema_version() == SCHEMA_VERSION == MIGRATIONS[-1].version
    rows = store.query("SELECT version, description FROM schema_version ORDER BY version")
    assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]
    assert store.migrate() == []  # nothing left to do
    reopened = open_store()
    assert reopened.schema_version() == SCHEMA_VERSION
    assert reopened.query("SELECT COUNT(*) AS n FROM schema_version")[0]["n"] == len(MIGRATIONS)


def test_old_database_is_migrated_and_keeps_its_rows(tmp_path, open_store):
    # Build a version-1 database by hand (the first release), with one row in it ...
    store = open_store()
    if store.dialect is SQLITE:
        store.close()
        (tmp_path / "store.db").unlink()
        import sqlite3

        connection = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
        old = EvaluationStore(connection, SQLITE, tmp_path, str(tmp_path / "store.db"))
        old.migrate(MIGRATIONS[:1])
    else:  # drop what open() created and rebuild at version 1
        with store.transaction() as cursor:
            for table in ("alerts", "flags", "predictions", "schema_version"):
                cursor.execute(f"DROP TABLE {table}")
        store.migrate(MIGRATIONS[:1])
        old = store
    assert old.schema_version() == 1
    with old.transaction() as cursor:
        old._execute(
            cursor,
            "INSERT INTO predictions (request_id, timestamp, source, output_text)"
            " VALUES (?, ?, ?, ?)",
            ("legacy", "2025-01-01T00:00:00.000000+00:00", "api", "old text"),
        )
    # ... then open it with today's code: migrations 2.. run, the row survives.
    new = open_store()
    assert new.schema_version() == SCHEMA_VERSION
    frame = new.to_dataframe()
    assert list(frame["request_id"]) == ["legacy"]
    assert frame["label"].isna().all()  # the column migration 3 added
    new.log_alert(
        window_start=T0, window_end=T0, check_name="ks", projection="p", statistic=1, threshold=0
    )  # the table migration 2 added
    # A later release appends a migration: only that one is applied.
    extra = Migration(
        SCHEMA_VERSION + 1, "test: an extra column", ("ALTER TABLE flags ADD COLUMN note TEXT",)
    )
    assert new.migrate((*MIGRATIONS, extra)) == [SCHEMA_VERSION + 1]
    assert new.schema_version() == SCHEMA_VERSION + 1


def test_sqlite_uses_wal_and_a_busy_timeout(open_store):
    store = open_store()
    if store.dialect is not SQLITE:
        pytest.skip("SQLite pragmas")
    assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert store.query("PRAGMA busy_timeout")[0]["timeout"] >= 1000
    assert Path(store.url + "-wal").exists()


def test_failed_transaction_leaves_nothing(open_store):
    store = open_store()
    with pytest.raises(RuntimeError), store.transaction() as cursor:
        store._execute(
            cursor,
            "INSERT INTO predictions (request_id, timestamp, source) VALUES (?, ?, ?)",
            ("doomed", "2026-01-01T00:00:00.000000+00:00", "api"),
        )
        raise RuntimeError("boom")
    assert store.count() == 0


def test_images_are_content_addressed_once_and_atomically(open_store):
    store = open_store()
    image = page(1)
    first = store.log_prediction(output_text="a", image=image)
    second = store.log_prediction(output_text="b", image=image.convert("RGB"))  # same pixels
    store.log_prediction(output_text="c", image=page(2))
    frame = store.to_dataframe()
    digest = image_digest(image)
    assert frame.set_index("id").loc[[first, second], "image_sha256"].tolist() == [digest] * 2
    path = store.image_root / "images" / digest[:2] / f"{digest}.png"
    assert frame.set_index("id").loc[first, "image_path"] == str(path)
    files = sorted(p for p in (store.image_root / "images").rglob("*") if p.is_file())
    assert len(files) == 2  # two distinct images, no temporary files left behind
    assert not any(p.name.startswith(".tmp") for p in files)
    with Image.open(path) as stored:  # the file holds exactly the logged pixels
        assert np.array_equal(np.asarray(stored), np.asarray(image))
    color = page(3, color=True)
    store.log_prediction(output_text="d", image=color)
    assert store.images_for(store.to_dataframe().tail(1))[0].mode == "RGB"


def test_log_prediction_is_idempotent_per_request_and_role(open_store):
    store = open_store()
    a = store.log_prediction(output_text="x", request_id="req-1")
    b = store.log_prediction(output_text="y", request_id="req-1")  # a retry
    c = store.log_prediction(output_text="z", request_id="req-1", role="candidate")
    assert a == b != c
    assert store.count() == 2 and store.count(role="production") == 1
    assert store.to_dataframe()["output_text"].tolist() == ["x"]
    with pytest.raises(ValueError, match="role"):
        store.log_prediction(output_text="x", role="nonsense")


def test_dataframe_has_projections_flags_and_image_paths(open_store):
    store = open_store()
    for k in range(5):
        store.log_prediction(
            output_text=f"line {k}\nsecond line",
            image=page(k),
            confidence=0.5 + k / 10,
            latency_ms=10.0 * k,
            source="ui" if k % 2 else "api",
            model_name="paragraph_text_recognizer",
            model_version="1.0",
            timestamp=T0 + timedelta(minutes=k),
            label=f"line {k}\nsecond line" if k == 0 else None,
        )
    frame = store.to_dataframe()
    assert len(frame) == 5 and frame["timestamp"].is_monotonic_increasing
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].iloc[2] == T0 + timedelta(minutes=2)
    assert frame["num_lines"].tolist() == [2.0] * 5
    assert frame["confidence"].tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert frame["image_width"].tolist() == [64] * 5
    assert all(Path(p).is_file() for p in frame["image_path"])
    assert frame["label"].iloc[0] == "line 0\nsecond line" and frame["label"].iloc[1:].isna().all()
    assert not frame["flagged"].any()
    # windows: start inclusive, end exclusive
    window = store.to_dataframe(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert window["timestamp"].tolist() == [T0 + timedelta(minutes=m) for m in (1, 2)]
    assert store.to_dataframe(source="ui")["source"].unique().tolist() == ["ui"]
    # flags appear on their predictions
    store.log_flag("incorrect", prediction_id=int(frame["id"].iloc[3]), username="ana")
    store.log_flag("offensive", prediction_id=int(frame["id"].iloc[3]))
    flagged = store.to_dataframe().set_index("id").loc[int(frame["id"].iloc[3])]
    assert flagged["flagged"] and flagged["flags"] == "incorrect;offensive"
    assert store.images_for([int(frame["id"].iloc[4])])[0].size == (64, 32)


def test_flags_find_their_prediction_by_request_or_content(open_store):
    store = open_store()
    shown = page(7)
    old = store.log_prediction(output_text="v1 text", image=shown, timestamp=T0)
    new = store.log_prediction(output_text="v2 text", image=shown, timestamp=T0 + timedelta(1))
    other = store.log_prediction(output_text="other", image=page(8), request_id="req-9")
    # by content: the same pixels (as the UI's RGB file) and the output text shown
    store.log_flag("incorrect", image=shown.convert("RGB"), output_text="v1 text", username="bo")
    # by content without text: the newest prediction of that image
    store.log_flag("unclear", image=shown)
    # by request id
    store.log_flag("incorrect", request_id="req-9")
    # no match: kept, unattached
    store.log_flag("incorrect", image=page(99), output_text="never predicted")
    flags = store.flags_dataframe()
    assert flags["prediction_id"].tolist()[:3] == [old, new, other]
    assert flags["request_id"].iloc[2] == "req-9"
    assert flags["username"].iloc[0] == "bo" and pd.isna(flags["username"].iloc[1])
    assert flags["prediction_id"].isna().tolist() == [False, False, False, True]
    assert store.count("flags") == 4


def test_alerts_are_not_duplicated_when_checks_rerun(open_store):
    store = open_store()
    kwargs = {
        "window_start": T0,
        "window_end": T0 + timedelta(hours=1),
        "check_name": "drift",
        "projection": "polarity",
        "statistic": 0.9,
        "threshold": 0.3,
        "message": "polarity shifted",
    }
    assert store.log_alert(**kwargs) is not None
    assert store.log_alert(**kwargs) is None
    alerts = store.alerts_dataframe()
    assert len(alerts) == 1 and alerts["projection"].iloc[0] == "polarity"
    assert alerts["window_start"].iloc[0] == T0


def test_projections_can_be_recomputed_from_stored_data(open_store):
    store = open_store()
    store.log_prediction(output_text="abc", image=page(1), projections={"stale": 1.0})
    assert "output_length" not in store.to_dataframe()
    assert store.recompute_projections() == 1
    frame = store.to_dataframe()
    assert frame["output_length"].iloc[0] == 3.0 and "stale" not in frame
    row = store.query("SELECT projections FROM predictions")[0]
    assert json.loads(row["projections"])["image_width"] == 64.0


def test_logger_never_raises_and_counts_failures(tmp_path, open_store, caplog):
    store = open_store()
    inline = PredictionLogger(store, background=False, source="ui", model_version="9")
    inline.log(output_text="fine", image=page(1), confidence=0.9)
    inline.log(output_text="bad", role="not-a-role")  # the store raises; the logger must not
    assert (inline.logged, inline.failures) == (1, 1)
    assert "logging failed" in caplog.text
    queued = PredictionLogger(store, max_queue=1000)
    for k in range(20):
        queued.log(output_text=f"t{k}", request_id=f"q{k}")
    assert queued.flush(timeout=30)
    assert queued.stats()["logged"] == 20 and queued.failures == 0
    queued.close()
    assert store.count() == 21
    assert store.to_dataframe()["source"].iloc[0] == "ui"
    # a store that cannot be opened: still no exception, just counted failures
    (tmp_path / "a-file").write_text("not a folder")
    broken = PredictionLogger(tmp_path / "a-file" / "x.db", background=False)
    broken.log(output_text="lost")
    assert broken.failures == 1 and broken.logged == 0


def test_flagged_examples_become_a_regression_suite(open_store, tmp_path):
    from types import SimpleNamespace

    from text_recognizer.monitoring.regression import evaluate_suite, export_flagged

    store = open_store()
    wrong = store.log_prediction(output_text="helo", image=page(1), label="hello", request_id="a")
    store.log_prediction(output_text="fine", image=page(2), label="fine", request_id="b")
    unlabeled = store.log_prediction(output_text="??", image=page(3), request_id="c")
    store.log_flag("incorrect", prediction_id=wrong)
    store.log_flag("incorrect", prediction_id=unlabeled)
    suite = export_flagged(store, tmp_path / "suite", labels={})
    assert suite.exists() and len(list((tmp_path / "suite").glob("*.png"))) == 1

    class Fixed:  # a "new model" that now reads the flagged page right
        def predict_batch(self, images, batch_size=8):
            return [SimpleNamespace(text="hello") for _ in images]

    frame, total = evaluate_suite(Fixed(), tmp_path / "suite")
    assert frame["label"].tolist() == ["hello"]
    assert frame["cer_when_flagged"].iloc[0] == pytest.approx(0.2) and total == 0.0
