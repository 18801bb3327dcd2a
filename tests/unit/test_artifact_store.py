"""The local artifact store: versions, aliases, checksums, atomic publication, lineage."""

import json
import threading

import pytest

from text_recognizer.training.artifact_store import (
    METADATA_FILENAME,
    ArtifactError,
    ArtifactStore,
)


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(tmp_path / "artifacts", mirror_to_wandb=False)


def write(path, content: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_versions_latest_and_aliases(tmp_path, store):
    ckpt = write(tmp_path / "run" / "model.ckpt", b"epoch 1")
    first = store.log_artifact(
        "ckpt", "model", ckpt, produced_by="train-1", aliases=["best"], metadata={"val/cer": 0.3}
    )
    write(ckpt, b"epoch 2")
    second = store.log_artifact("ckpt", "model", ckpt, produced_by="train-1")
    assert (first.id, second.id) == ("ckpt:v0", "ckpt:v1")
    assert store.get("ckpt").version == "v1"  # latest
    assert store.get("ckpt", "best").version == "v0" and store.get("ckpt", 0).id == "ckpt:v0"
    assert (store.use_artifact("ckpt") / "model.ckpt").read_bytes() == b"epoch 2"
    assert store.use_artifact("ckpt", "v0").joinpath("model.ckpt").read_bytes() == b"epoch 1"
    assert first.metadata == {"val/cer": 0.3} and first.file() == first.path / "model.ckpt"
    # An alias moves to the newest version that carries it, like W&B's.
    third = store.log_artifact("ckpt", "model", ckpt, aliases=["best"])
    assert store.get("ckpt", "best").id == third.id == "ckpt:v2"
    with pytest.raises(ArtifactError, match="no version or alias 'v9'"):
        store.get("ckpt", "v9")
    with pytest.raises(ArtifactError, match="no artifact 'nope'.*known: ckpt"):
        store.use_artifact("nope")


def test_files_as_list_mapping_and_directory(tmp_path, store):
    a, b = write(tmp_path / "a.txt", b"a"), write(tmp_path / "d" / "sub" / "b.txt", b"b")
    assert set(store.log_artifact("x", "data", [a, b]).files) == {"a.txt", "b.txt"}
    assert set(store.log_artifact("y", "data", {"in/a.txt": a}).files) == {"in/a.txt"}
    assert set(store.log_artifact("z", "data", tmp_path / "d").files) == {"sub/b.txt"}
    for bad in ({"../escape": a}, {METADATA_FILENAME: a}, [a, a], tmp_path / "missing", []):
        with pytest.raises(ArtifactError):
            store.log_artifact("bad", "data", bad)
    with pytest.raises(ArtifactError, match="artifact name"):
        store.log_artifact("no spaces", "data", a)


def test_written_atomically_and_checksummed(tmp_path, store):
    ckpt = write(tmp_path / "model.ckpt", b"weights")
    ref = store.log_artifact("ckpt", "model", ckpt, produced_by="train-1")
    # Only published versions remain: no staging folders or temporary files.
    leftovers = [p.name for p in store.root.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    record = json.loads((ref.path / METADATA_FILENAME).read_text())
    assert record["version"] == "v0" and record["produced_by"] == "train-1"
    assert record["files"]["model.ckpt"]["size"] == len(b"weights")
    (ref.path / "model.ckpt").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="does not match its checksum"):
        store.use_artifact("ckpt")
    assert store.use_artifact("ckpt", verify=False) == ref.path


def test_concurrent_writers_get_distinct_versions(tmp_path, store):
    sources = [write(tmp_path / f"w{i}" / "model.ckpt", f"writer {i}".encode()) for i in range(8)]
    refs, errors = [], []

    def log(source):
        try:
            refs.append(store.log_artifact("ckpt", "model", source, produced_by=source.parent.name))
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=log, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.version for r in refs) == sorted(f"v{i}" for i in range(8))
    for ref in refs:  # every version holds exactly the file its producer logged
        assert ref.file().read_bytes() == f"writer {ref.produced_by[1:]}".encode()


def test_a_taken_version_number_moves_to_the_next(tmp_path, store, monkeypatch):
    ckpt = write(tmp_path / "model.ckpt", b"1")
    store.log_artifact("ckpt", "model", ckpt)
    # Simulate a process that computed "v0" before another one published it.
    monkeypatch.setattr(ArtifactStore, "_next_version_number", staticmethod(lambda _: 0))
    assert store.log_artifact("ckpt", "model", ckpt).version == "v1"


def test_lineage_run_checkpoint_staged_model(tmp_path, store):
    data = store.log_artifact(
        "lines", "dataset", write(tmp_path / "lines.npz", b"data"), produced_by="prepare-1"
    )
    store.use_artifact("lines", consumed_by="train-1")
    ckpt = store.log_artifact(
        "ckpt", "model", write(tmp_path / "m.ckpt", b"w"), produced_by="train-1"
    )
    for _ in range(3):  # consumed several times by one run: recorded once
        store.use_artifact("ckpt", consumed_by="stage-1")
    staged = store.log_artifact(
        "recognizer", "staged-model", write(tmp_path / "r.pt", b"ts"), produced_by="stage-1"
    )
    store.use_artifact("recognizer", consumed_by="serve-1")

    lineage = store.lineage("ckpt")
    assert lineage["produced_by"] == "train-1" and lineage["consumed_by"] == ["stage-1"]
    assert lineage["upstream"] == ["run:train-1", f"artifact:{data.id}", "run:prepare-1"]
    assert lineage["downstream"] == ["run:stage-1", f"artifact:{staged.id}", "run:serve-1"]
    assert ("run:train-1", f"artifact:{ckpt.id}", "produced") in lineage["edges"]
    assert (f"artifact:{ckpt.id}", "run:stage-1", "consumed") in lineage["edges"]
    assert len(lineage["edges"]) == len(set(lineage["edges"])) == 6
    assert len(list((ckpt.path / "consumers").glob("*.json"))) == 1

    staged_lineage = store.lineage("recognizer")
    assert staged_lineage["upstream"][:3] == ["run:stage-1", f"artifact:{ckpt.id}", "run:train-1"]
    assert staged_lineage["downstream"] == ["run:serve-1"]
    # Reopening the store (another process) sees the same records.
    assert ArtifactStore(store.root).lineage("ckpt") == lineage
