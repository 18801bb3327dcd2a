"""Quality gate and format parity for the SHIPPED release artifact.

On a fixed sample of the fixed SyntheticParagraphs test split (the first pages; the split
never depends on the training seed), the artifact must read at least as well as its model
card says (plus a small margin), and TorchScript and ONNX must give the same text."""

from __future__ import annotations

import json

import pytest

from text_recognizer.recognizer import DEFAULT_ARTIFACT_DIR, ParagraphTextRecognizer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (DEFAULT_ARTIFACT_DIR / "card.json").exists(), reason="no staged release artifact"
    ),
]
NUM_PAGES = 20
MARGIN = 0.02  # absolute CER: 20 pages are a small sample of the card's figure


@pytest.fixture(scope="module")
def card():
    return json.loads((DEFAULT_ARTIFACT_DIR / "card.json").read_text())


@pytest.fixture(scope="module")
def sample(card):
    """The first NUM_PAGES pages of the fixed test split the card was scored on."""
    from text_recognizer import evaluation
    from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs

    command_args = card["training"]["data_args"]
    pages = SyntheticParagraphs(command_args)
    if pages.fingerprints["test"] != card["evaluation"]["test_split_fingerprint"]:
        pytest.fail("the test split's fingerprint differs from the card's: data changed")
    images, texts, families = evaluation.heldout_pages(pages, NUM_PAGES)
    return images, texts, families


@pytest.fixture(scope="module")
def readings(sample):
    images, _, _ = sample
    return {
        backend: [p.text for p in ParagraphTextRecognizer(backend=backend).predict_batch(images)]
        for backend in ("torchscript", "onnx")
    }


def test_quality_gate(card, sample, readings):
    from text_recognizer import evaluation

    _, texts, families = sample
    holdout = set(card["training"]["holdout_families"].split(","))
    measured = evaluation.score_by_family(readings["torchscript"], texts, families, holdout)["cer"]
    promised = card["evaluation"]["torchscript"]["cer"]
    assert measured <= promised + MARGIN, f"CER {measured:.4f} > card {promised:.4f} + {MARGIN}"


def test_torchscript_and_onnx_agree(readings):
    assert readings["torchscript"] == readings["onnx"]


@pytest.mark.parametrize("condition", ["light on dark (IAM crop)", "phone shadow"])
def test_pages_under_capture_conditions_read_as_well(sample, readings, condition):
    """IAM crops as FSDL ships them are light ink on black, and a phone photo has a shadow
    across it: the same pages under either must read within 1 CER point of the pages as
    rendered (the input is normalized first). Before polarity was judged on local
    contrast, the shadow flipped faint pages to "light on dark" (CER 6 % -> 21 %)."""
    from text_recognizer import evaluation
    from text_recognizer.data.capture_conditions import CONDITIONS

    images, texts, families = sample
    changed = [CONDITIONS[condition](image) for image in images]
    read = [p.text for p in ParagraphTextRecognizer().predict_batch(changed)]
    as_rendered = evaluation.score_by_family(readings["torchscript"], texts, families, set())["cer"]
    under_condition = evaluation.score_by_family(read, texts, families, set())["cer"]
    assert abs(under_condition - as_rendered) <= 0.01, (under_condition, as_rendered)
