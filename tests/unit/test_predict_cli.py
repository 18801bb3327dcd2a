"""`text-recognizer predict IMAGE...`: prints each image's text; a bad input gives one clear
line on stderr and a non-zero exit status, never a traceback."""

from __future__ import annotations

import pytest
from PIL import Image

from text_recognizer import cli
from text_recognizer.recognizer import DEFAULT_ARTIFACT_DIR, ParagraphTextRecognizer

pytestmark = pytest.mark.skipif(
    not (DEFAULT_ARTIFACT_DIR / "card.json").exists(), reason="no staged release artifact"
)


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    from text_recognizer.data.synthetic_paragraphs import render_paragraph

    image, _, _ = render_paragraph(["A short note", "in two lines"], 1, line_height=40)
    path = tmp_path_factory.mktemp("predict") / "note.png"
    image.save(path)
    return path


def test_prints_the_text(page_path, capsys):
    assert cli.main(["predict", str(page_path)]) == 0
    out = capsys.readouterr().out
    assert out == ParagraphTextRecognizer().predict(page_path) + "\n"


def test_several_images_and_details(page_path, capsys):
    assert (
        cli.main(["predict", "--details", "--backend", "onnx", str(page_path), str(page_path)]) == 0
    )
    out = capsys.readouterr().out
    assert out.count(f"== {page_path}") == 2 and "confidence" in out


def test_unreadable_input_exits_non_zero_with_one_line(page_path, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a png")
    assert cli.main(["predict", str(bad), str(page_path), str(tmp_path / "missing.png")]) == 1
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)
    assert "Traceback" not in captured.err
    assert f"== {page_path}" in captured.out  # the good image was still read


def test_missing_artifact_is_a_clear_error(tmp_path, page_path, capsys):
    assert cli.main(["predict", "--artifact_dir", str(tmp_path), str(page_path)]) == 1
    assert "stage a model" in capsys.readouterr().err


def test_blank_image_prints_an_empty_line(tmp_path, capsys):
    path = tmp_path / "blank.png"
    Image.new("L", (50, 20), 255).save(path)
    assert cli.main(["predict", str(path)]) == 0
    assert capsys.readouterr().out == "\n"
