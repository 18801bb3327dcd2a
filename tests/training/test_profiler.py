"""Profile a few steps of a tiny real training run (Digits + MLP + BaseLitModel)."""

import json

import pytest
import pytorch_lightning as pl

from text_recognizer.data.digits import Digits
from text_recognizer.lit_models.base import BaseLitModel
from text_recognizer.models.mlp import MLP
from text_recognizer.training.profiling import (
    CATEGORIES,
    classify,
    make_profiler,
    print_summary,
    step_time_breakdown,
)

pytestmark = pytest.mark.training


def fit(tmp_path, profiler, max_epochs=2, limit_train_batches=4):
    pl.seed_everything(0)
    data = Digits({"batch_size": 32, "num_workers": 0})
    model = BaseLitModel(MLP(data.config(), {"fc1": 32, "fc2": 16}), {})
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        limit_train_batches=limit_train_batches,
        limit_val_batches=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        profiler=profiler,
    )
    trainer.fit(model, datamodule=data)


def test_profiler_writes_traces_and_explains_step_time(tmp_path, capsys):
    profiler = make_profiler(tmp_path / "profile", skip_first=2, warmup=1, active=3)
    # Steps 0-1 skipped, 2 warm-up, 3 recorded; then epoch 0 ends and validates; then steps
    # 4-5 recorded. Validation happens inside ProfilerStep#3 but never advances the schedule.
    fit(tmp_path, profiler)

    assert profiler.trace_path == tmp_path / "profile" / "trace.json"
    events = json.loads(profiler.trace_path.read_text())["traceEvents"]
    names = [e.get("name", "") for e in events if e.get("ph") == "X"]
    assert sorted(n for n in names if n.startswith("ProfilerStep#")) == [
        "ProfilerStep#3",
        "ProfilerStep#4",
        "ProfilerStep#5",
    ]
    recorded = {classify(name) for name in names}
    assert {"data", "forward", "backward", "optimizer"} <= recorded
    assert sum(n.endswith("training_step") for n in names) == 3
    assert sum(n.endswith("validation_step") for n in names) == 2  # limit_val_batches
    assert any(n.startswith("[pl][module]") and "fc1" in n for n in names)  # per-layer ranges
    assert any(n.startswith("aten::") for n in names)  # the operators themselves

    tensorboard_traces = list((tmp_path / "profile" / "tensorboard").glob("*.pt.trace.json"))
    assert len(tensorboard_traces) == 1
    assert json.loads(tensorboard_traces[0].read_text())["traceEvents"]

    breakdown = step_time_breakdown(profiler.trace_path)
    assert sum(breakdown[c] for c in CATEGORIES) == pytest.approx(100.0, abs=2.0)
    assert all(breakdown[c] > 0 for c in ("data", "forward", "backward", "optimizer"))
    assert breakdown["steps"] == 3 and breakdown["step_ms"] > 0
    assert breakdown["other"] > 10  # validation ran inside step 3: other, not forward

    capsys.readouterr()
    text = print_summary(profiler)
    printed = capsys.readouterr().out
    assert text in printed and "Top operators by self CPU time" in printed
    assert "aten::" in printed and "Self CPU" in printed
    assert "| backward  |" in printed
    assert "aten::" in (tmp_path / "profile" / "summary.txt").read_text()  # written by describe()


def test_a_run_too_short_to_record_says_so(tmp_path, capsys):
    profiler = make_profiler(tmp_path / "profile", skip_first=5, warmup=1, active=3)
    fit(tmp_path, profiler, max_epochs=1, limit_train_batches=3)
    assert profiler.trace_path is None and profiler.steps_seen == 3
    assert "at least 9 steps" in print_summary(profiler)
