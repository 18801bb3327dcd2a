"""`text-recognizer stage`: a checkpoint becomes a loadable artifact (TorchScript + ONNX +
card) that both recognizer backends read identically. A tiny model is trained in-test on
tiny synthetic pages (seconds), so this checks the plumbing, not accuracy."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from text_recognizer import evaluation
from text_recognizer.recognizer import ParagraphTextRecognizer, Prediction
from text_recognizer.training import run_experiment, stage

pytestmark = [pytest.mark.training, pytest.mark.slow]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage")
    args = {
        "data_class": "SyntheticParagraphLines",
        "model_class": "LineCRNN",
        "lit_model_class": "CTCLitModel",
        "image_height": 64,
        "image_width": 80,
        "max_lines": 3,
        "max_text_length": 10,
        "max_label_length": 40,
        "num_train": 8,
        "num_val": 2,
        "num_test": 4,
        "holdout_families": "Hershey Sans",
        "sentence_source": "offline",
        "gen_workers": 1,
        "num_workers": 0,
        "batch_size": 4,
        "line_max_width": 256,
        "conv_dim": 4,
        "rnn_dim": 8,
        "rnn_layers": 1,
        "max_epochs": 1,
        "limit_train_batches": 2,
        "data_dir": root / "pages",
        "lines_data_dir": root / "lines",
        "logs_dir": root / "logs",
        "progress_bar": False,
    }
    result = run_experiment.run(args)
    assert result["best_model_path"], "training saved no checkpoint"
    return result["best_model_path"], root


def test_stage_writes_a_loadable_artifact(checkpoint):
    path, root = checkpoint
    out = root / "artifact"
    assert (
        stage.main(
            [
                "--checkpoint",
                str(path),
                "--out",
                str(out),
                "--num_eval",
                "3",
                "--num_latency",
                "2",
                "--logs_dir",
                str(root / "logs"),
                "--version",
                "0.0.1",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "card.json",
        "card.md",
        "model.onnx",
        "model.ts",
        "reference.csv",
    ]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers
    card = json.loads((out / "card.json").read_text())
    assert card["version"] == "0.0.1" and card["architecture"]["parameters"] > 0
    assert set(card["file_sizes_bytes"]) == {"torchscript", "onnx"}
    assert card["training"]["data_fingerprints"]["pages"]["test"]
    assert card["evaluation"]["torchscript"]["pages"] == 3
    assert 0 <= card["evaluation"]["torchscript"]["cer"]
    assert "CER" in (out / "card.md").read_text()
    reference = pd.read_csv(out / "reference.csv")  # monitoring's drift reference, shipped
    assert len(reference) == 3 and {"polarity", "confidence", "label"} <= set(reference)

    from text_recognizer.stems.segment import segment_lines  # noqa: F401 (same stems)

    images, _, _ = evaluation.heldout_pages(stage.load_checkpoint(path)[2], 3)
    readers = [ParagraphTextRecognizer(out, backend=b) for b in ("torchscript", "onnx")]
    eager = ParagraphTextRecognizer(out, backend="eager", checkpoint=path)
    for image in images:
        results = [r.predict_details(image) for r in [*readers, eager]]
        assert all(isinstance(r, Prediction) for r in results)
        assert results[0].text == results[1].text == results[2].text
        assert results[0].line_boxes == results[1].line_boxes

    # the eager backend builds the class the card names, and says so when it cannot
    assert card["architecture"]["model_class"] == "LineCRNN"
    renamed = out.parent / "renamed"
    shutil.copytree(out, renamed)
    bad_card = json.loads((renamed / "card.json").read_text())
    bad_card["architecture"]["model_class"] = "NoSuchModel"
    (renamed / "card.json").write_text(json.dumps(bad_card))
    with pytest.raises(ValueError, match="unknown model class 'NoSuchModel'"):
        ParagraphTextRecognizer(renamed, backend="eager", checkpoint=path)

    # lineage: the checkpoint was consumed by the stage run that produced the model
    from text_recognizer.training.artifact_store import ArtifactStore

    store = ArtifactStore.default(root / "logs", mirror_to_wandb=False)
    lineage = store.lineage(card["name"])
    assert any(
        node.startswith("artifact:paragraph_text_recognizer-checkpoint")
        for node in lineage["upstream"]
    )


def test_stage_refuses_a_missing_checkpoint(tmp_path, capsys):
    assert (
        stage.main(["--checkpoint", str(tmp_path / "nope.ckpt"), "--out", str(tmp_path / "a")]) == 1
    )
    assert "no checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
