"""8 writer PROCESSES x 200 predictions each into one SQLite store: no row lost or duplicated.

Processes, not threads: Gradio workers, the backend and batch jobs are separate processes
with their own connections, which is exactly where SQLite's locking (WAL + busy timeout +
BEGIN IMMEDIATE) must hold. The writers also share a small pool of images, so several
processes write the same content address at once (atomic rename keeps each file whole).
tests/integration/test_postgres_store.py reuses ``run_writers`` against PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from text_recognizer.monitoring.store import EvaluationStore

WRITERS, PER_WRITER, SHARED_IMAGES = 8, 200, 16


def _image(k: int) -> Image.Image:
    rng = np.random.default_rng(k)
    return Image.fromarray(rng.integers(0, 256, (24, 48), dtype=np.uint8))


def _writer(
    url: str, image_root: str, writer: int, count: int, start: multiprocessing.Event
) -> int:
    """One process: open its own store, wait for the others, then log ``count`` predictions."""
    store = EvaluationStore.open(url, image_root=image_root)  # all migrate at once, too
    start.wait(60)
    images = [_image(k) for k in range(SHARED_IMAGES)]
    for k in range(count):
        store.log_prediction(
            output_text=f"writer {writer} prediction {k}",
            image=images[(writer + k) % SHARED_IMAGES],
            confidence=k / count,
            latency_ms=float(k),
            request_id=f"w{writer}-{k}",
            source="api",
        )
    store.close()
    return count


def run_writers(url: str, image_root: Path, writers: int = WRITERS, per_writer: int = PER_WRITER):
    """Start ``writers`` processes together; return when all are done (raising on failure)."""
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as real services
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(writers) as pool:
            results = [
                pool.apply_async(_writer, (url, str(image_root), w, per_writer, start))
                for w in range(writers)
            ]
            start.set()
            assert [r.get(timeout=300) for r in results] == [per_writer] * writers


def check_every_row_once(
    store: EvaluationStore, writers: int = WRITERS, per_writer: int = PER_WRITER
):
    rows = store.query("SELECT request_id, output_text, image_sha256 FROM predictions")
    expected = {f"w{w}-{k}" for w in range(writers) for k in range(per_writer)}
    ids = [row["request_id"] for row in rows]
    assert len(ids) == len(set(ids)), "duplicated rows"
    assert set(ids) == expected, f"lost rows: {len(expected - set(ids))}"
    for row in rows:  # each row is the writer's own, intact
        writer, k = row["request_id"][1:].split("-")
        assert row["output_text"] == f"writer {writer} prediction {k}"
    files = [p for p in (store.image_root / "images").rglob("*") if p.is_file()]
    assert len(files) == SHARED_IMAGES and not any(p.name.startswith(".tmp") for p in files)
    for path in files:
        with Image.open(path) as image:
            image.load()
    assert {row["image_sha256"] for row in rows} == {p.stem for p in files}


@pytest.mark.slow
def test_eight_processes_write_to_sqlite_without_losing_rows(tmp_path):
    url = str(tmp_path / "store.db")
    run_writers(url, tmp_path)
    with EvaluationStore.open(url) as store:
        check_every_row_once(store)
        assert store.query("PRAGMA integrity_check")[0]["integrity_check"] == "ok"
        assert store.schema_version() >= 1
        assert store.query("SELECT COUNT(*) AS n FROM schema_version")[0]["n"] == len(
            store.query("SELECT DISTINCT version FROM schema_version")
        )
