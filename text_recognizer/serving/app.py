"""The product: a Gradio web app that reads handwriting. ``make app`` starts it.

    python -m text_recognizer.serving.app                      # model in this process
    python -m text_recognizer.serving.app --port 8080 --host 0.0.0.0
    python -m text_recognizer.serving.app --model_url http://127.0.0.1:9000/   # remote model

A user uploads, pastes or photographs a page (and may crop it or paint out smudges in the
editor), presses Submit and reads the text. Buttons flag a wrong, offensive or otherwise
bad prediction; flags go to a :class:`gradio.flagging.FlaggingCallback` (by default
:class:`~text_recognizer.serving.flagging.JsonLinesFlagger` under ``logs/flagged/``; Lab 08
passes the evaluation store's callback). The same events are an HTTP API: ``/predict``
(image -> text) and ``/flag_incorrect``, ``/flag_offensive``, ``/flag_other`` (image, text).

Two ways to run the model, one UI:

- **in-process** (default): :class:`~text_recognizer.recognizer.ParagraphTextRecognizer`
  loads the staged artifact (ONNX by default) once; simplest, and fastest for one user.
- **model-as-service** (``--model_url``): the UI only encodes the image as base64 and POSTs
  ``{"image": ...}`` to a backend (the Lambda handler behind a function URL, or
  ``text_recognizer.serving.local_server`` on this machine), which answers
  ``{"pred": ..., ...}``. The UI then scales separately from the model, and the model
  runs on hardware of its own.

Everything is offline by default: the app binds 127.0.0.1, turns off Gradio's analytics
and the Hugging Face Hub before Gradio is imported, and serves its fonts and examples
from local files.
"""

from __future__ import annotations

import os

# Set before gradio is imported: it reads them at import time.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
from gradio.flagging import FlaggingCallback
from PIL import Image

from text_recognizer.serving.flagging import JsonLinesFlagger
from text_recognizer.util import MAX_IMAGE_BYTES, ImageReadError, encode_b64_image, read_image_pil

logger = logging.getLogger(__name__)

APP_DIR = Path(__file__).resolve().parent
EXAMPLES_DIR = APP_DIR / "examples"
FLAGGING_DIR = Path("logs/flagged")
FLAG_OPTIONS = ("incorrect", "offensive", "other")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
BACKEND_TIMEOUT_S = 60.0
# Images sent to a remote backend are shrunk to this longest side first: a phone photo as
# PNG can exceed Lambda's 6 MB request limit, and the model's stem downsamples far below it.
MAX_UPLOAD_SIDE = 2048


class Reading(NamedTuple):
    """What a ``predict_fn`` may return instead of a bare string (so may a
    :class:`~text_recognizer.recognizer.Prediction`, which has the same fields)."""

    text: str
    confidence: float | None = None  # the model's page confidence, 0..1
    low_confidence: bool = False  # below the model card's threshold: likely misread


# image -> the text, or a Reading / Prediction (text + confidence) that the UI shows in full
PredictFn = Callable[[Image.Image], Any]

TITLE = "Text Recognizer: handwriting to text"
DESCRIPTION = """\
Upload, paste or photograph a page of **handwritten English text**, press **Submit**, and
read the text. Crop or paint out smudges under *Edit the image* first if the page has more
than the text on it. Click an example below to try one. If the result is wrong or
offensive, tell us with the flag buttons: flagged images are the next training data.
"""

ABOUT = """\
### What this is
A paragraph text recognizer trained, on two CPU cores and with no internet, only on
**synthetic handwriting** (handwriting fonts, randomly styled, on simulated paper), built
step by step in the *Text Recognizer Labs* course. It finds the lines of a paragraph and
reads each one with a small convolutional-recurrent network; the text keeps one line per
written line. Its model card (`text_recognizer/artifacts/paragraph_text_recognizer/card.md`)
has its error rates and how it was made.

### Limits
- Trained on synthetic pages only: real handwriting, unusual inks, ruled or coloured paper
  and photos at an angle are out of distribution and read worse. Crop to the text for the
  best results.
- One column of roughly horizontal lines (tilted up to a few degrees); tables, several
  columns, vertical or curved text are not split into lines correctly, and lines that touch
  may be read as one.
- English letters, digits and common punctuation only (no accents, no currency signs).
- The confidence under the text is the model's own doubt, not a probability of being right;
  below its threshold the app says *low confidence*: check that read against the image.
- Images stay on this machine (or go to the backend you chose with `--model_url`). Flagged
  images are stored under `logs/flagged/`.

### Calling the API
Every button is also an HTTP endpoint (see *Use via API* at the bottom of the page).
With Python's `gradio_client`:

```python
from gradio_client import Client, handle_file
client = Client("http://127.0.0.1:7860/")
text = client.predict(handle_file("page.png"), api_name="/predict")
client.predict(handle_file("page.png"), text, api_name="/flag_incorrect")
```

With `curl`, in two steps (Gradio queues the request, then streams the result as
server-sent events); the image can travel as a base64 data URL:

```bash
B64=$(base64 -w0 page.png)
EVENT_ID=$(curl -s -X POST http://127.0.0.1:7860/gradio_api/call/predict \\
  -H "Content-Type: application/json" \\
  -d '{"data": [{"url": "data:image/png;base64,'"$B64"'", "meta": {"_type": "gradio.FileData"}}]}' \\
  | python -c 'import json, sys; print(json.load(sys.stdin)["event_id"])')
curl -s -N http://127.0.0.1:7860/gradio_api/call/predict/$EVENT_ID   # event: complete, data: ["..."]
```

The model can also run as a separate service (an AWS Lambda handler, or its local
stand-in `make serve-backend`): `POST {"image": "<base64>"}` and read `pred` from the
JSON answer; start this app with `--model_url URL` to use it.
"""


class BackendError(RuntimeError):
    """The remote model backend could not be reached or answered with an error."""


class RemotePredictor:
    """``predict_fn`` for model-as-service: POST the image as base64 JSON to ``url``.

    The request is the backend's documented format, ``{"image": "<base64 PNG>"}``; the
    answer's ``pred`` is the text. Failures (no connection, timeout, a 4xx/5xx, a body
    that is not the expected JSON) raise :class:`BackendError` with what went wrong, which
    the UI shows to the user.
    """

    def __init__(self, url: str, timeout: float = BACKEND_TIMEOUT_S) -> None:
        self.url = url
        self.timeout = timeout

    def __call__(self, image: Image.Image) -> Reading:
        import requests

        payload = {"image": encode_b64_image(_for_upload(image))}
        try:
            response = requests.post(self.url, json=payload, timeout=self.timeout)
        except requests.RequestException as error:
            raise BackendError(
                f"could not reach the model backend at {self.url}: {error}"
            ) from error
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            detail = _error_message(body) or response.text[:300].strip() or response.reason
            raise BackendError(f"the model backend answered {response.status_code}: {detail}")
        if not isinstance(body, dict) or not isinstance(body.get("pred"), str):
            raise BackendError(f"unexpected answer from the model backend: {response.text[:300]!r}")
        confidence = body.get("confidence")
        return Reading(
            body["pred"],
            float(confidence) if isinstance(confidence, int | float) else None,
            body.get("low_confidence") is True,
        )


def confidence_note(reading: Any) -> str:
    """The line the UI shows under the text: the confidence, and a warning when it is low
    (nothing for a ``predict_fn`` that returns only a string).

    >>> confidence_note(Reading("a cat", 0.934))
    'Confidence 0.93.'
    >>> confidence_note(Reading("o,c?t", 0.41, low_confidence=True))[:28]
    '**Low confidence (0.41)**: t'
    >>> confidence_note("just text")
    ''
    """
    confidence = getattr(reading, "confidence", None)
    if confidence is None:
        return ""
    if getattr(reading, "low_confidence", False):
        return (
            f"**Low confidence ({confidence:.2f})**: this read is probably wrong. Check it "
            "against the image; crop to the text or take a sharper photo, and flag it as "
            "*incorrect* if it is."
        )
    return f"Confidence {confidence:.2f}."


def _error_message(body: Any) -> str | None:
    """The human-readable part of a JSON error body, whatever key the server used.

    >>> _error_message({"error": "not an image"}), _error_message(["x"]), _error_message(None)
    ('not an image', None, None)
    """
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if body.get(key):
                return str(body[key])
    return None


def _for_upload(image: Image.Image) -> Image.Image:
    """A copy that PNG can hold, no larger than ``MAX_UPLOAD_SIDE`` on its longest side.

    >>> _for_upload(Image.new("F", (5000, 100))).size, _for_upload(Image.new("L", (9, 9))).mode
    ((2048, 41), 'L')
    """
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        image = image.convert("RGB")
    if max(image.size) > MAX_UPLOAD_SIDE:
        image = image.copy()
        image.thumbnail((MAX_UPLOAD_SIDE, MAX_UPLOAD_SIDE), Image.Resampling.LANCZOS)
    return image


def example_paths(directory: str | Path = EXAMPLES_DIR) -> list[str]:
    """The bundled example images, sorted by name (empty if the folder is missing)."""
    return sorted(str(path) for path in Path(directory).glob("*.png"))


def make_frontend(
    predict_fn: PredictFn,
    flagging_callback: FlaggingCallback | None = None,
    *,
    flagging_dir: str | Path = FLAGGING_DIR,
    examples: Sequence[str] | None = None,
    model_info: str = "",
) -> gr.Blocks:
    """Build the UI around ``predict_fn`` (a PIL image -> the recognized text).

    ``flagging_callback`` receives ``[image, text]`` per flag (default: a
    :class:`JsonLinesFlagger` writing to ``flagging_dir``). ``examples`` defaults to the
    bundled PNGs; ``model_info`` is a line under the title saying which model answers. The
    API endpoints are ``/predict`` and ``/flag_<option>``.
    """
    callback = flagging_callback if flagging_callback is not None else JsonLinesFlagger()
    examples = example_paths() if examples is None else list(examples)

    def recognize(payload: dict | None) -> tuple[str, str]:
        if payload is None:
            raise gr.Error("No image yet: upload, paste or photograph some handwriting first.")
        try:
            reading = predict_fn(payload_to_image(payload))
            return getattr(reading, "text", reading), confidence_note(reading)
        except (ValueError, BackendError) as error:  # ImageReadError is a ValueError
            raise gr.Error(str(error)) from error
        except Exception as error:
            logger.exception("prediction failed")
            raise gr.Error(f"recognition failed: {type(error).__name__}: {error}") from error

    def flagger(option: str) -> Callable[..., str]:
        def flag(image: dict | None, text: str | None, request: gr.Request) -> str:
            if image is None:
                raise gr.Error("Nothing to flag: submit an image first.")
            count = callback.flag([image, text], flag_option=option, username=request.username)
            return (
                f"Thanks: flagged as *{option}* ({count} flag{'s' if count != 1 else ''} so far)."
            )

        flag.__name__ = f"flag_{option}"
        return flag

    with gr.Blocks(title="Text Recognizer") as demo:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION}")
        if model_info:
            gr.Markdown(f"<small>{model_info}</small>", elem_id="model-info")
        with gr.Row(equal_height=False):
            with gr.Column():
                image = gr.Image(
                    # /predict reads the uploaded FILE itself (see below); these settings
                    # apply where Gradio decodes or re-encodes it, for the editor
                    type="pil",
                    image_mode=None,  # keep the file's mode
                    sources=["upload", "clipboard", "webcam"],
                    format="png",  # lossless
                    label="Handwriting",
                    height=360,
                    elem_id="input-image",
                )
                with gr.Accordion("Edit the image (crop, paint out smudges)", open=False):
                    editor = gr.ImageEditor(
                        type="pil",
                        image_mode="RGB",
                        sources=["upload", "clipboard", "webcam"],
                        transforms=("crop",),
                        brush=gr.Brush(colors=["#ffffff", "#000000"], color_mode="fixed"),
                        layers=False,
                        format="png",
                        label="Editor: the white brush paints out marks",
                    )
                    use_edit = gr.Button("Use the edited image", size="sm")
                with gr.Row():
                    clear = gr.ClearButton(value="Clear")
                    submit = gr.Button("Submit", variant="primary", elem_id="submit")
            with gr.Column():
                text = gr.Textbox(
                    label="Recognized text",
                    lines=8,
                    max_lines=24,
                    buttons=["copy"],
                    elem_id="output-text",
                )
                note = gr.Markdown(elem_id="confidence-note")
                with gr.Row():
                    flag_buttons = {
                        option: gr.Button(f"Flag as {option}", size="sm", elem_id=f"flag-{option}")
                        for option in FLAG_OPTIONS
                    }
                flag_status = gr.Markdown(elem_id="flag-status")
        if examples:
            gr.Examples(examples=[[path] for path in examples], inputs=[image], label="Examples")
        with gr.Accordion("About this app, its limits and its API", open=False):
            gr.Markdown(ABOUT)

        callback.setup([image, text], str(flagging_dir))
        # preprocess=False: the file is decoded by util.read_image_pil (size guard, EXIF,
        # clear messages for files that are not images), not by Gradio.
        # The confidence note travels in a State, so /predict still returns the text alone
        # (a State output is not part of the API), and is then shown under the text.
        note_state = gr.State("")
        submit.click(
            recognize,
            inputs=image,
            outputs=[text, note_state],
            preprocess=False,
            api_name="predict",
        ).then(lambda shown: shown, note_state, note, api_visibility="private", queue=False)
        for option, button in flag_buttons.items():
            button.click(
                flagger(option),
                inputs=[image, text],
                outputs=flag_status,
                preprocess=False,  # the callback gets the file payload, not a decoded image
                api_name=f"flag_{option}",
            )
        clear.add([image, text, note, flag_status])
        # The editor is UI plumbing, not API: a new image is loaded into it; its result
        # replaces the input image.
        image.change(lambda im: im, image, editor, queue=False, api_visibility="private")
        use_edit.click(_composite, editor, image, queue=False, api_visibility="private")
    return demo


def payload_to_image(payload: Any) -> Image.Image:
    """The image in a Gradio file payload (``{"path": ...}`` once uploaded, or a base64
    ``{"url": "data:image/..."}``), decoded as the recognizer would read a file.

    >>> data_url = "data:image/png;base64," + encode_b64_image(Image.new("L", (3, 2)))
    >>> payload_to_image({"url": data_url}).size
    (3, 2)
    >>> payload_to_image({"path": None, "url": None})
    Traceback (most recent call last):
    ...
    text_recognizer.util.ImageReadError: the request holds no image data
    """
    if hasattr(payload, "model_dump"):  # a gradio FileData object
        payload = payload.model_dump()
    if isinstance(payload, dict):
        if payload.get("path"):
            return read_image_pil(Path(payload["path"]))
        url = payload.get("url") or ""
        if url.startswith("data:"):
            return read_image_pil(url)
    raise ImageReadError("the request holds no image data")


def _composite(value: dict | None) -> Image.Image | None:
    """The editor's flattened result (crop and brush strokes applied), or its background."""
    if not value:
        return None
    return value.get("composite") or value.get("background")


def load_predict_fn(args: argparse.Namespace) -> tuple[PredictFn, str]:
    """The model ``args`` ask for (a remote backend, or the staged artifact in-process), and
    a line for the UI saying which it is."""
    if args.model_url:
        return RemotePredictor(args.model_url, timeout=args.timeout), (
            f"Model: the backend at {args.model_url}"
        )
    from text_recognizer.recognizer import ParagraphTextRecognizer

    recognizer = ParagraphTextRecognizer(args.artifact_dir, backend=args.backend)
    logger.info("loaded %s %s (%s)", recognizer.name, recognizer.version, args.backend)
    return recognizer.predict_details, (
        f"Model: {recognizer.name} {recognizer.version} ({args.backend}, in this process)"
    )


def launch(demo: gr.Blocks, host: str = DEFAULT_HOST, port: int | None = DEFAULT_PORT, **kwargs):
    """Start the server with the app's offline, loopback-first settings; returns what
    :meth:`gradio.Blocks.launch` returns ``(app, local_url, share_url)``."""
    demo.queue(default_concurrency_limit=1)  # one model, one prediction at a time
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        allowed_paths=[str(EXAMPLES_DIR)],
        max_file_size=MAX_IMAGE_BYTES,
        footer_links=["api"],
        **kwargs,
    )


def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from text_recognizer.recognizer import DEFAULT_BACKEND, SERVING_BACKENDS

    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"interface to bind (default {DEFAULT_HOST}; 0.0.0.0 exposes it to the network)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument(
        "--model_url",
        default=None,
        help="send images to this model backend (e.g. `make serve-backend`) instead of "
        "running the model in this process",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=BACKEND_TIMEOUT_S,
        help="seconds to wait for --model_url (default %(default)s)",
    )
    parser.add_argument(
        "--artifact_dir",
        type=Path,
        default=None,
        help="staged model to load in-process (default: the recognizer's release artifact)",
    )
    parser.add_argument(
        "--backend",
        choices=SERVING_BACKENDS,
        default=DEFAULT_BACKEND,
        help="in-process runtime (default %(default)s)",
    )
    parser.add_argument(
        "--flagging_dir",
        type=Path,
        default=FLAGGING_DIR,
        help="where the default flagging callback writes (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m text_recognizer.serving.app",
        description=__doc__.splitlines()[0],
    )
    args = add_to_argparse(parser).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up requests
    predict_fn, model_info = load_predict_fn(args)
    demo = make_frontend(predict_fn, flagging_dir=args.flagging_dir, model_info=model_info)
    launch(demo, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
