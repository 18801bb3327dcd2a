"""The app in a real browser: headless Chromium (the SYSTEM one, installed by
scripts/install_system_deps.sh; Playwright drives it, nothing is downloaded) loads the page,
uploads a bundled example, clicks Submit and reads the text from the output box. The text
must equal the recognizer's own prediction for that file. A screenshot of the result goes to
``bench/results/app_screenshot.png``: the page a user sees.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from tests.integration.test_app import EXAMPLES, serving_app

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "bench" / "results" / "app_screenshot.png"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 90_000  # headless Chromium on a busy 2-core machine is slow to start and render
EXAMPLE = next((e for e in EXAMPLES if "hershey_cursive" in e), EXAMPLES[0])


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no system Chromium at {CHROMIUM}: run `sudo bash scripts/install_system_deps.sh` "
            "(or set CHROMIUM=/path/to/chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def test_upload_submit_read_and_screenshot(browser, tmp_path):
    from text_recognizer.recognizer import ParagraphTextRecognizer

    recognizer = ParagraphTextRecognizer()
    expected = recognizer.predict(EXAMPLE)
    answered = threading.Event()

    def predict(image):  # the app's model, plus a signal that the server has answered
        prediction = recognizer.predict_details(image)
        answered.set()
        return prediction

    info = f"Model: {recognizer.name} {recognizer.version} ({recognizer.backend}, in this process)"
    with serving_app(predict, flagging_dir=tmp_path / "flagged", model_info=info) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, timeout=TIMEOUT_MS)
        page.locator("#input-image input[type=file]").set_input_files(EXAMPLE)
        page.locator("#input-image img").first.wait_for()  # the upload is shown
        page.locator("#submit").click()
        assert answered.wait(TIMEOUT_MS / 1000), "the click never reached the model"
        # The box shows the answer once the browser has received it (an empty prediction
        # would match at once, but the server has answered by now, so it is the answer).
        page.wait_for_function(
            "expected => document.querySelector('#output-text textarea').value === expected",
            arg=expected,
            timeout=TIMEOUT_MS,
        )
        page.locator("#confidence-note", has_text="Confidence").wait_for()
        page.wait_for_timeout(500)  # let the progress animation end before the screenshot
        text = page.locator("#output-text textarea").input_value()
        note = page.locator("#confidence-note").inner_text()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        tmp = SCREENSHOT.with_name(f".{SCREENSHOT.name}.tmp.png")
        page.screenshot(path=str(tmp), full_page=True)
        os.replace(tmp, SCREENSHOT)
        page.close()
    assert text == expected
    assert note.strip() == f"Confidence {recognizer.predict_details(EXAMPLE).confidence:.2f}."
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_low_confidence_read_is_marked_as_such(browser, tmp_path):
    from text_recognizer.serving.app import Reading

    with serving_app(lambda image: Reading("o,c?t", 0.41, low_confidence=True)) as url:
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, timeout=TIMEOUT_MS)
        page.locator("#input-image input[type=file]").set_input_files(EXAMPLE)
        page.locator("#input-image img").first.wait_for()
        page.locator("#submit").click()
        page.locator("#confidence-note", has_text="Low confidence (0.41)").wait_for()
        assert page.locator("#output-text textarea").input_value() == "o,c?t"
        page.close()
