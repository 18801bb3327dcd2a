"""`make release-model DATA=iam`: fine-tune the release reader on real IAM lines, then stage
it. Offline: the IAM download is the generated IAM fixture served on loopback, the start is
a tiny synthetic checkpoint, and training runs a few steps (plumbing, not accuracy)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.fixtures.http_server import LoopbackFileServer
from tests.fixtures.iam_fixture import make_iam_fixture
from text_recognizer.recognizer import ParagraphTextRecognizer
from text_recognizer.training import run_experiment

pytestmark = [pytest.mark.integration, pytest.mark.training, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
TINY = {"conv_dim": 4, "rnn_dim": 8, "rnn_layers": 1}


@pytest.fixture(scope="module")
def synthetic_checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    result = run_experiment.run(
        {
            "data_class": "SyntheticParagraphLines",
            "model_class": "LineCRNN",
            "lit_model_class": "CTCLitModel",
            **TINY,
            "image_height": 64,
            "image_width": 80,
            "max_lines": 2,
            "max_text_length": 10,
            "max_label_length": 40,
            "num_train": 8,
            "num_val": 2,
            "num_test": 2,
            "sentence_source": "offline",
            "gen_workers": 1,
            "num_workers": 0,
            "batch_size": 4,
            "max_epochs": 1,
            "limit_train_batches": 2,
            "data_dir": root / "pages",
            "lines_data_dir": root / "lines",
            "logs_dir": root / "logs",
            "progress_bar": False,
        }
    )
    return Path(result["best_model_path"])


def test_release_model_data_iam_fine_tunes_and_stages(synthetic_checkpoint, tmp_path):
    fixture = make_iam_fixture(tmp_path / "served")
    out = tmp_path / "artifact"
    with LoopbackFileServer(fixture.root) as server:
        iam_args = [
            *[f"--{k} {v}" for k, v in TINY.items()],
            f"--iam_url {server.url}/iamdb.zip",
            f"--iam_sha256 {fixture.sha256}",
            f"--download_dir {tmp_path / 'downloaded'}",
            f"--processed_dir {tmp_path / 'iam_lines'}",
            "--batch_size 2 --num_workers 0 --limit_train_batches 2 --limit_val_batches 1",
        ]
        env = {
            **os.environ,
            "PYTHON": sys.executable,
            "DATA": "iam",
            "CHECKPOINT": str(synthetic_checkpoint),
            "IAM_EPOCHS": "1",
            "IAM_ARGS": " ".join(iam_args),
            "NUM_EVAL": "0",  # accuracy is not the point here; the synthetic eval is tested in test_stage
            "OUT": str(out),
            "LOGS_DIR": str(tmp_path / "logs"),
        }
        proc = subprocess.run(
            ["bash", "scripts/release_model.sh"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    card = json.loads((out / "card.json").read_text())
    assert "IAMReleaseLines" in card["training"]["command"]
    assert card["stem"]["image_height"] == 32 and card["mapping"][0] == "<B>"
    fine_tuned = Path(card["training"]["checkpoint"])
    assert fine_tuned != synthetic_checkpoint and "release-iam" in str(fine_tuned)

    def weights(path: Path) -> dict[str, torch.Tensor]:
        return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]

    before, after = weights(synthetic_checkpoint), weights(fine_tuned)
    assert before.keys() == after.keys()  # the same reader, trained further
    assert any(not torch.equal(before[k], after[k]) for k in before)
    line = next(iter(sorted((tmp_path / "iam_lines").rglob("*.png"))))
    assert isinstance(ParagraphTextRecognizer(out).predict(line), str)
    assert shlex.split(card["training"]["command"])  # recorded as a runnable command
