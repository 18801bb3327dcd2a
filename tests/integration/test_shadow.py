"""Shadow mode and the promotion gate, with real recognizers.

- ONNX vs TorchScript of the same artifact: the same model, so it must pass the gate and
  agree (almost) everywhere;
- a deliberately degraded candidate (the same model reading low-resolution inputs) must
  FAIL the gate: the test can fail;
- in shadow, users get production's answer and both predictions are logged per request.
"""

from __future__ import annotations

import pytest

from text_recognizer.monitoring.drift import heldout_split
from text_recognizer.monitoring.shadow import ShadowRecognizer, compare, is_not_worse
from text_recognizer.monitoring.simulator import DegradedRecognizer
from text_recognizer.monitoring.store import EvaluationStore

pytestmark = pytest.mark.slow
HELDOUT_PAGES = 24


@pytest.fixture(scope="module")
def production():
    from text_recognizer.recognizer import ParagraphTextRecognizer

    return ParagraphTextRecognizer(backend="torchscript")


@pytest.fixture(scope="module")
def heldout():
    return heldout_split(limit=HELDOUT_PAGES)


def test_onnx_candidate_is_not_worse(production, heldout):
    from text_recognizer.recognizer import ParagraphTextRecognizer

    candidate = ParagraphTextRecognizer(backend="onnx")
    result = is_not_worse(candidate, production, heldout, margin=0.01)
    print(f"\nonnx vs torchscript: {result}")
    assert result.passed and bool(result)
    assert result.agreement >= 0.9
    assert abs(result.cer_candidate - result.cer_production) <= 0.01


def test_degraded_candidate_is_refused(production, heldout):
    candidate = DegradedRecognizer(production, scale=0.3)
    result = is_not_worse(candidate, production, heldout, margin=0.01)
    print(f"\ndegraded vs torchscript: {result}")
    assert not result.passed
    assert result.cer_candidate > result.cer_production + 0.01


def test_shadow_serves_production_and_logs_both(production, heldout, tmp_path):
    images, labels = heldout
    with EvaluationStore.open(tmp_path / "store.db") as store:
        shadow = ShadowRecognizer(production, DegradedRecognizer(production), store)
        for k in range(4):
            served = shadow.predict_details(images[k], request_id=f"r{k}", label=labels[k])
            assert served.text == production.predict(images[k])  # the user sees production
        shadow.wait()
        assert shadow.candidate_failures == 0
        assert store.count(role="production") == store.count(role="candidate") == 4
        comparison = compare(store)
    summary = comparison.summary
    assert summary["requests"] == 4 and summary["labeled"] == 4
    assert 0.0 <= summary["agreement"] <= 1.0
    assert summary["cer_candidate"] > summary["cer_production"]
    assert summary["latency_p50_ms_production"] > 0
