"""step_time_breakdown, top_operators and print_summary on small hand-made Chrome traces."""

import gzip
import json

import pytest

from text_recognizer.training.profiling import (
    CATEGORIES,
    classify,
    format_breakdown,
    load_trace,
    make_profiler,
    print_summary,
    step_time_breakdown,
    top_operators,
)

PL = "[pl][profile]"
MAIN = {"pid": 7, "tid": 7}


def span(name, ts, dur, cat="user_annotation", **thread):
    return {"ph": "X", "cat": cat, "name": name, "ts": ts, "dur": dur, **(thread or MAIN)}


def lightning_step(n, t0):
    """One training iteration of 100 us, nested the way Lightning 2.x nests it:
    fetch 20 | hooks 5 | optimizer_step 70 [ Adam.step [ training_step 25, zero_grad 5,
    backward 30 [ on_before_backward hook 2 ] ] ] | on_train_batch_end 5."""
    return [
        span(f"ProfilerStep#{n}", t0, 100),
        span(f"{PL}[_TrainingEpochLoop].train_dataloader_next", t0, 20),
        span("enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__", t0 + 1, 18),
        span(f"{PL}[Strategy]SingleDeviceStrategy.batch_to_device", t0 + 20, 5),
        span(f"{PL}run_training_batch", t0 + 25, 70),
        span(f"{PL}[LightningModule]Lit.optimizer_step", t0 + 25, 70),
        span("Optimizer.step#Adam.step", t0 + 26, 69),
        span(f"{PL}[Strategy]SingleDeviceStrategy.training_step", t0 + 30, 25),
        span("aten::addmm", t0 + 31, 10, cat="cpu_op"),
        span(f"{PL}[LightningModule]Lit.optimizer_zero_grad", t0 + 55, 5),
        span(f"{PL}[Strategy]SingleDeviceStrategy.backward", t0 + 60, 30),
        span(f"{PL}[LightningModule]Lit.on_before_backward", t0 + 61, 2),
        span(f"{PL}[LightningModule]Lit.on_train_batch_end", t0 + 95, 5),
    ]


# Per step: data 20; forward 25; backward 30 (the hook inside counts as backward);
# optimizer = 70 - 25 - 30 = 15 (Adam.step and zero_grad inside optimizer_step);
# other = batch_to_device 5 + on_train_batch_end 5 = 10.
EXPECTED = {"data": 20.0, "forward": 25.0, "backward": 30.0, "optimizer": 15.0, "other": 10.0}


def test_nested_ranges_are_counted_once_for_the_innermost_phase():
    trace = lightning_step(5, 1000) + lightning_step(6, 1100)
    breakdown = step_time_breakdown(trace)
    assert {c: breakdown[c] for c in CATEGORIES} == pytest.approx(EXPECTED)
    assert sum(breakdown[c] for c in CATEGORIES) == pytest.approx(100.0)
    assert breakdown["steps"] == 2 and breakdown["step_ms"] == pytest.approx(0.1)


def test_time_outside_steps_other_threads_and_crossing_ranges_are_excluded():
    trace = lightning_step(5, 1000) + lightning_step(6, 1500)  # a 400 us gap between steps
    trace += [
        # an epoch range around everything, and a fetch that began before the recorded window
        # and ends 2 us into step 5's batch_to_device (other -> data for those 2 us)
        span(f"{PL}run_training_epoch", 0, 5000),
        span(f"{PL}[_TrainingEpochLoop].train_dataloader_next", 900, 122),
        # a DataLoader worker and a CUDA stream overlap the main thread, never add to it
        span(f"{PL}[_TrainingEpochLoop].train_dataloader_next", 1000, 600, pid=8, tid=8),
        span("void gemm_kernel", 1030, 50, cat="kernel", pid=0, tid=7),
    ]
    breakdown = step_time_breakdown(trace)
    expected = dict(EXPECTED, data=(20 + 22) / 2, other=(10 + 8) / 2)  # % of 2 x 100 us
    assert {c: breakdown[c] for c in CATEGORIES} == pytest.approx(expected)
    assert breakdown["step_ms"] == pytest.approx(0.1)


def test_a_range_cut_by_the_first_step_is_clipped_to_it():
    # The recorded window starts inside a backward pass: only its last 40 us count.
    trace = [
        span("ProfilerStep#3", 100, 100),
        span(f"{PL}[Strategy]SingleDeviceStrategy.backward", 60, 80),  # 60..140
        span(f"{PL}[_TrainingEpochLoop].train_dataloader_next", 150, 50),
    ]
    breakdown = step_time_breakdown(trace)
    assert breakdown["backward"] == pytest.approx(40.0)
    assert breakdown["data"] == pytest.approx(50.0)
    assert breakdown["other"] == pytest.approx(10.0)


def test_without_profiler_steps_the_whole_thread_span_is_one_step():
    trace = [e for e in lightning_step(0, 0) if not e["name"].startswith("ProfilerStep")]
    breakdown = step_time_breakdown({"traceEvents": trace})
    assert {c: breakdown[c] for c in CATEGORIES} == pytest.approx(EXPECTED)
    assert breakdown["steps"] == 1


def test_reads_json_and_gzipped_json_files(tmp_path):
    trace = {"traceEvents": lightning_step(1, 0)}
    plain, packed = tmp_path / "t.json", tmp_path / "t.pt.trace.json.gz"
    plain.write_text(json.dumps(trace))
    with gzip.open(packed, "wt") as file:
        json.dump(trace, file)
    assert step_time_breakdown(plain) == step_time_breakdown(packed) == step_time_breakdown(trace)
    assert len(load_trace(str(plain))) == len(trace["traceEvents"])


def test_bad_input_gets_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trace"):
        step_time_breakdown(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="no ProfilerStep"):
        step_time_breakdown([span("aten::mm", 0, 10, cat="cpu_op")])
    with pytest.raises(ValueError, match="not a Chrome trace"):
        step_time_breakdown({"traceEvents": "nope"})


@pytest.mark.parametrize(
    ("name", "category"),
    [
        (f"{PL}[_TrainingEpochLoop].train_dataloader_next", "data"),
        (f"{PL}[_EvaluationLoop].val_next", None),  # validation is not a training phase
        (f"{PL}[Strategy]SingleDeviceStrategy.training_step", "forward"),
        (f"{PL}[Strategy]DDPStrategy.training_step", "forward"),
        (f"{PL}[Strategy]SingleDeviceStrategy.validation_step", None),
        (f"{PL}[Strategy]SingleDeviceStrategy.backward", "backward"),
        (f"{PL}[Callback]Timer.on_before_backward", None),
        (f"{PL}[LightningModule]Lit.optimizer_step", "optimizer"),
        (f"{PL}optimizer_step", "optimizer"),  # manual optimization
        (f"{PL}[LightningModule]Lit.optimizer_zero_grad", "optimizer"),
        ("Optimizer.zero_grad#SGD.zero_grad", "optimizer"),
        (f"{PL}[Strategy]SingleDeviceStrategy.batch_to_device", None),
        ("aten::mm", None),
    ],
)
def test_classify(name, category):
    assert classify(name) == category


def test_format_breakdown_lists_every_phase():
    table = format_breakdown(step_time_breakdown(lightning_step(1, 0)))
    for category in CATEGORIES:
        assert f"| {category}" in table
    assert "100.0%" in table and "|    0.03 |" in table  # backward: 30% of 0.1 ms


def test_top_operators_uses_self_time():
    trace = [
        span("aten::linear", 0, 100, cat="cpu_op"),
        span("aten::addmm", 10, 80, cat="cpu_op"),  # child: linear keeps 20 us of self time
        span("aten::relu", 200, 30, cat="cpu_op"),
        span("void gemm_kernel", 20, 70, cat="kernel", pid=0, tid=7),
    ]
    lines = top_operators(trace, "self_cpu").splitlines()
    names = [line.split()[0] for line in lines[1:]]
    assert names[:3] == ["aten::addmm", "aten::relu", "aten::linear"]
    assert "20.000ms" not in lines[3] and "0.020ms" in lines[3]  # linear: 20 us self
    assert top_operators(trace, "self_device").splitlines()[1].startswith("void gemm_kernel")


def test_print_summary_of_a_trace_file(tmp_path, capsys):
    path = tmp_path / "trace.json"
    path.write_text(json.dumps({"traceEvents": lightning_step(1, 0)}))
    text = print_summary(path)
    assert capsys.readouterr().out.strip() == text.strip()
    assert "Top operators by self CPU time" in text and "aten::addmm" in text
    assert "Step time breakdown" in text and "| forward   |  25.0% |" in text


def test_print_summary_of_a_trace_without_training_ranges(tmp_path, capsys):
    path = tmp_path / "plain.json"  # e.g. torch.profiler around a hand-written loop
    path.write_text(json.dumps([span("aten::mm", 0, 10, cat="cpu_op")]))
    text = print_summary(path)
    assert "aten::mm" in text and "Step time breakdown: not available" in text
    with pytest.raises(ValueError, match="sort_by"):
        top_operators(path, sort_by="cpu")


def test_make_profiler_checks_its_schedule(tmp_path):
    assert make_profiler(tmp_path, warmup=2, active=4, skip_first=1).steps_needed == 7
    with pytest.raises(ValueError, match="active >= 1"):
        make_profiler(tmp_path, active=0)


def test_trace_timeline_takes_the_last_step_on_its_thread_and_draws_it():
    import matplotlib

    matplotlib.use("Agg")
    from text_recognizer.training import trace_timeline

    other_thread = span(f"{PL}[Strategy]SingleDeviceStrategy.backward", 1130, 5, pid=7, tid=8)
    module = span("[pl][module]torch.nn.modules.linear.Linear: fc", 1131, 9)
    trace = lightning_step(5, 1000) + lightning_step(6, 1100) + [other_thread, module]
    timeline = trace_timeline.last_step(trace)
    assert timeline.step["name"] == "ProfilerStep#6"
    assert all(1100 <= e["ts"] < 1200 and e["tid"] == 7 for e in timeline.events)
    phases = trace_timeline.phase_table(timeline, limit=20)
    assert phases[0][:3] == (0.0, 0.02, "data")  # the batch fetch opens the step
    assert {p[2] for p in phases} >= {"data", "forward", "backward"}
    assert trace_timeline.slowest_layers(timeline) == [
        ("torch.nn.modules.linear.Linear: fc", 0.009)
    ]
    ax = trace_timeline.plot_step(timeline)
    assert ax.get_title() == "ProfilerStep#6: 0.1 ms" and len(ax.collections) > 0
    with pytest.raises(ValueError, match="no ProfilerStep"):
        trace_timeline.last_step(trace[1:13])
