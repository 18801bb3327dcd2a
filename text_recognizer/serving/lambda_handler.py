"""The model as a service: an AWS Lambda handler for the paragraph text recognizer.

One function, ``handler(event, context)``, serves two kinds of events:

- a **function-URL** event (HTTP API payload format 2.0): ``requestContext.http.method``,
  ``headers``, ``body`` and ``isBase64Encoded``. The body is JSON (``{"image": base64}`` or
  ``{"image_url": "https://..."}``) or the raw bytes of an image;
- a **direct invocation** with a plain dict, e.g. ``aws lambda invoke`` or a test:
  ``{"image": base64}`` / ``{"image_url": ...}``.

Both return ``{"statusCode", "headers", "body"}`` with a JSON body (see serving/README.md).
Bad input gets a precise 4xx with a message; the handler never raises, because an exception
escaping a Lambda handler becomes an opaque 502 for the caller.

The model loads once per container (a lazy module-level singleton): the first request pays
the cold start, later ones reuse it. Each request writes one JSON log line (CloudWatch Logs
Insights and our local tests can both parse it) with latency, image statistics and the
prediction length: the raw material for monitoring (Lab 08).

Configuration is through environment variables, as on Lambda:
``TEXT_RECOGNIZER_ARTIFACT_DIR`` (default: the packaged artifact),
``TEXT_RECOGNIZER_BACKEND`` (``onnx``, the default, or ``torchscript``),
``TEXT_RECOGNIZER_URL_TIMEOUT_S`` and ``TEXT_RECOGNIZER_URL_MAX_BYTES`` (image_url
downloads: one total deadline, a byte cap), ``TEXT_RECOGNIZER_URL_ALLOW`` (comma-separated
hosts or networks that image_url may reach although they are not public, e.g.
``10.0.0.0/8,images.lan``: by default loopback, private, link-local, multicast and reserved
addresses are refused with a 403, see fetch.py), and, to log every prediction to the
evaluation store (Lab 08), ``TEXT_RECOGNIZER_EVAL_STORE`` (a SQLite path or a
``postgresql://`` URL) with ``TEXT_RECOGNIZER_EVAL_IMAGES`` (the image folder).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import re
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageStat, UnidentifiedImageError

from text_recognizer import fetch, util

if TYPE_CHECKING:
    from text_recognizer.recognizer import Recognizer

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous request payload limit (6 MB)
MAX_URL_LENGTH = 2048  # longer image_url values are refused before any network access
URL_TIMEOUT_S = float(os.environ.get("TEXT_RECOGNIZER_URL_TIMEOUT_S", "5"))
URL_MAX_BYTES = int(os.environ.get("TEXT_RECOGNIZER_URL_MAX_BYTES", str(MAX_PAYLOAD_BYTES)))
# Formats a scan or a phone photo arrives in. Pillow reads dozens more (PSD, EPS, ICNS, ...),
# but each is attack surface we do not need, and exotic formats get a clear 415 instead.
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")
JSON_HEADERS = {"Content-Type": "application/json"}

_JSON_TYPES = re.compile(r"^(application/([\w.+-]+\+)?json|text/plain)$")
_RAW_IMAGE_TYPES = re.compile(r"^(image/[\w.+-]+|application/octet-stream)$")
_DATA_URL = re.compile(r"^data:([^;,]*)(;[^,]*)?,", re.IGNORECASE)
_JSON_STRUCTURE = re.compile(r'[\[\]{}"\\]')  # what json_depth_exceeds needs to see
MAX_JSON_DEPTH = 32  # our payload is one flat object; deep nesting is only ever an attack

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)
_recognizer: Recognizer | None = None
_recognizer_lock = threading.Lock()
_prediction_logger: Any = None


class RequestError(Exception):
    """A request we refuse, with the HTTP status and the message the caller will read."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ------------------------------------------------------------------------ the model singleton
def get_recognizer() -> Recognizer:
    """Return the process-wide recognizer, loading it on first use (the cold start).

    Lambda keeps a container's module state between invocations, so loading here rather than
    per request is what makes warm requests fast. The lock matters for the threaded local
    server, where two first requests could otherwise load the model twice."""
    global _recognizer
    if _recognizer is None:
        with _recognizer_lock:
            if _recognizer is None:
                from text_recognizer.recognizer import DEFAULT_BACKEND, ParagraphTextRecognizer

                start = time.perf_counter()
                recognizer = ParagraphTextRecognizer(
                    artifact_dir=os.environ.get("TEXT_RECOGNIZER_ARTIFACT_DIR") or None,
                    backend=os.environ.get("TEXT_RECOGNIZER_BACKEND", DEFAULT_BACKEND),
                )
                log_event(
                    "model_load",
                    load_s=round(time.perf_counter() - start, 4),
                    model=recognizer.name,
                    version=recognizer.version,
                )
                _recognizer = recognizer
    return _recognizer


def set_recognizer(recognizer: Recognizer | None) -> None:
    """Use ``recognizer`` (any :class:`~text_recognizer.recognizer.Recognizer`: ``name``,
    ``version``, ``predict``, ``predict_details``) instead of loading the artifact; ``None``
    resets to lazy loading. For tests and alternative backends."""
    from text_recognizer.recognizer import Recognizer

    if recognizer is not None and not isinstance(recognizer, Recognizer):
        raise TypeError(
            f"{type(recognizer).__name__} is not a Recognizer: it needs name, version, "
            "predict and predict_details"
        )
    global _recognizer
    with _recognizer_lock:
        _recognizer = recognizer


def get_prediction_logger() -> Any:
    """The evaluation-store logger (``monitoring.logger.PredictionLogger``) when
    ``TEXT_RECOGNIZER_EVAL_STORE`` is set, else ``None``. Created once per container.

    Locally it writes from a background thread, so logging never delays an answer. On Lambda
    it writes inline: a container is frozen between invocations, and a queue left behind
    could be lost with it."""
    global _prediction_logger
    target = os.environ.get("TEXT_RECOGNIZER_EVAL_STORE")
    if _prediction_logger is None and target:
        with _recognizer_lock:
            if _prediction_logger is None:
                from text_recognizer.monitoring.logger import PredictionLogger

                _prediction_logger = PredictionLogger(
                    target,
                    image_root=os.environ.get("TEXT_RECOGNIZER_EVAL_IMAGES") or None,
                    background="AWS_LAMBDA_FUNCTION_NAME" not in os.environ,
                    source="api",
                )
    return _prediction_logger


def set_prediction_logger(prediction_logger: Any) -> None:
    """Log predictions with ``prediction_logger`` (anything with ``log(**fields)``); ``None``
    goes back to the environment variable. For tests and for servers that own a store."""
    global _prediction_logger
    _prediction_logger = prediction_logger


def log_event(event: str, **fields: Any) -> None:
    """Write one structured JSON log line: ``{"event": ..., **fields}``.

    On Lambda, stdout/stderr go to CloudWatch, where JSON lines can be queried field by field.
    """
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()  # stderr; Lambda's runtime installs its own
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.info(json.dumps({"event": event, **fields}, sort_keys=True, default=str))


# ------------------------------------------------------------------------------- the handler
def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point: a function-URL event or a plain dict in, a response dict out.

    >>> response = handler({"image": "not base64!"})
    >>> response["statusCode"], json.loads(response["body"])["error"]
    (400, "field 'image' is not valid base64")
    >>> handler({"version": "2.0", "requestContext": {"http": {"method": "GET"}}})["statusCode"]
    405
    """
    start = time.perf_counter()
    cold = _recognizer is None
    record: dict[str, Any] = {"request_id": getattr(context, "aws_request_id", None)}
    try:
        payload = _parse_event(event, record)
        image = _load_image(payload, record)
        record.update(_image_stats(image))
        recognizer = get_recognizer()
        tic = time.perf_counter()
        prediction = recognizer.predict_details(image)
        model_ms = (time.perf_counter() - tic) * 1000
        body = {
            "pred": prediction.text,
            "confidence": float(prediction.confidence),
            "low_confidence": bool(prediction.low_confidence),
            "line_confidences": [float(c) for c in prediction.line_confidences],
            "model": recognizer.name,
            "version": recognizer.version,
        }
        record.update(pred_length=len(prediction.text), confidence=round(body["confidence"], 4))
        response = _response(200, body)
        _log_prediction(image, prediction, recognizer, model_ms, record)
    except RequestError as error:
        response = _response(error.status, {"error": error.message, "status": error.status})
        record["error"] = error.message
    except util.ImageReadError as error:  # raised by the recognizer on input it cannot use
        response = _response(422, {"error": str(error), "status": 422})
        record["error"] = str(error)
    except Exception:  # a bug: never leak internals, never crash the container
        record["traceback"] = traceback.format_exc()
        response = _response(500, {"error": "internal server error", "status": 500})
    else:
        record["cold_start"] = cold
    if response["statusCode"] == 405:
        response["headers"]["Allow"] = "POST"
    record.update(status=response["statusCode"], latency_s=round(time.perf_counter() - start, 4))
    log_event("request", **record)
    return response


def _log_prediction(image, prediction, recognizer, model_ms: float, record: dict) -> None:
    """Hand the prediction to the evaluation store, if one is configured. Monitoring must
    never break the product: any failure is noted in the log line, never raised."""
    try:
        prediction_logger = get_prediction_logger()
        if prediction_logger is not None:
            prediction_logger.log(
                output_text=prediction.text,
                image=image,
                confidence=float(prediction.confidence),
                latency_ms=model_ms,
                model_name=recognizer.name,
                model_version=recognizer.version,
                request_id=record.get("request_id"),
            )
    except Exception as error:
        record["eval_store_error"] = f"{type(error).__name__}: {error}"


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": json.dumps(body)}


# ---------------------------------------------------------------------------- event parsing
def _parse_event(event: Any, record: dict[str, Any]) -> dict[str, Any] | bytes:
    """Return the request payload: a JSON object (dict) or the raw bytes of an image."""
    if not isinstance(event, dict):
        raise RequestError(400, f"event must be a JSON object, got {type(event).__name__}")
    if not _is_http_event(event):
        record["source"] = "invoke"
        _check_size(sum(len(v) for v in event.values() if isinstance(v, str)))
        return event
    record["source"] = "function_url"
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    method = http.get("method") if isinstance(http, dict) else event.get("httpMethod")
    method = str(method or "").upper()
    if method != "POST":
        raise RequestError(405, f"method {method or '(none)'} not allowed; use POST")
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise RequestError(400, "event body must be a string")
    # Lambda's limit applies to the event, so a binary body counts at its base64 size (4/3).
    _check_size(len(body))  # characters: a lower bound on the UTF-8 size, checked cheaply
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise RequestError(400, "body is marked isBase64Encoded but is not base64") from error
    else:
        raw = body.encode("utf-8", errors="surrogateescape")
        _check_size(len(raw))
    headers = event.get("headers") if isinstance(event.get("headers"), dict) else {}
    headers = {str(k).lower(): str(v) for k, v in headers.items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if _RAW_IMAGE_TYPES.match(content_type):
        if not raw:
            raise RequestError(400, f"empty body with Content-Type {content_type}")
        return raw
    if content_type and not _JSON_TYPES.match(content_type):
        raise RequestError(
            415, f"unsupported Content-Type {content_type!r}; send application/json or image/*"
        )
    if not raw.strip():
        raise RequestError(400, "empty body; send JSON with 'image' or 'image_url'")
    try:
        text = raw.decode("utf-8")  # JSON on the wire is UTF-8 (RFC 8259)
        if json_depth_exceeds(text, MAX_JSON_DEPTH):  # before the (recursive) parser runs
            raise RequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        payload = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(400, f"body is not valid JSON: {error}") from error
    except RecursionError as error:  # a second line of defence; the guard above should win
        raise RequestError(400, "JSON nested too deeply") from error
    if not isinstance(payload, dict):
        raise RequestError(400, f"JSON body must be an object, got {type(payload).__name__}")
    return payload


def json_depth_exceeds(text: str, limit: int) -> bool:
    r"""True when arrays/objects in the JSON ``text`` nest deeper than ``limit``; brackets in
    strings do not count. One pass over the structural characters, stopping at the limit.

    >>> json_depth_exceeds('{"a": [[1]]}', 3), json_depth_exceeds('{"a": [[1]]}', 2)
    (False, True)
    >>> json_depth_exceeds('{"s": "[[[[\\"[["}', 1)  # brackets inside a string, an escaped quote
    False
    """
    depth, in_string, skip_to = 0, False, -1
    for match in _JSON_STRUCTURE.finditer(text):
        index, char = match.start(), match.group()
        if index < skip_to:  # the character after a backslash
            continue
        if in_string:
            if char == "\\":
                skip_to = index + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _is_http_event(event: dict[str, Any]) -> bool:
    """Function-URL / HTTP API v2 events carry ``requestContext.http``; API Gateway v1 events
    carry ``httpMethod``. Anything else is a direct invocation whose dict IS the payload."""
    context = event.get("requestContext")
    return (isinstance(context, dict) and "http" in context) or "httpMethod" in event


def _check_size(size: int) -> None:
    if size > MAX_PAYLOAD_BYTES:
        raise RequestError(
            413, f"payload of {size} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit"
        )


# ---------------------------------------------------------------------------- image loading
def _load_image(payload: dict[str, Any] | bytes, record: dict[str, Any]) -> Image.Image:
    """Turn the payload into a fully decoded PIL image, or raise the RequestError that says
    precisely what is wrong with it."""
    if isinstance(payload, bytes):
        record["input"] = "raw"
        return _decode(payload)
    fields = [name for name in ("image", "image_url") if name in payload]
    if len(fields) != 1:
        problem = "both" if fields else "neither"
        raise RequestError(400, f"send exactly one of 'image' or 'image_url' (got {problem})")
    name = fields[0]
    value = payload[name]
    if not isinstance(value, str):
        raise RequestError(400, f"field {name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise RequestError(400, f"field {name!r} is empty")
    record["input"] = name
    if name == "image_url":
        return _decode(_fetch(value.strip()))
    return _decode(_decode_base64_field(value))


def _decode_base64_field(value: str) -> bytes:
    """Plain base64 or a ``data:image/...;base64,`` URL; whitespace (e.g. the line breaks that
    ``base64`` inserts every 76 characters) is ignored."""
    match = _DATA_URL.match(value.lstrip())
    if match:
        mime, params = (match.group(1) or "").lower(), (match.group(2) or "").lower()
        if not mime.startswith("image/") and mime != "application/octet-stream":
            raise RequestError(415, f"data URL has media type {mime or '(none)'!r}, not image/*")
        if "base64" not in params:
            raise RequestError(400, "data URL must be base64-encoded (';base64,')")
        value = value.lstrip()[match.end() :]
    try:  # the one base64 / data-URL decoder of the package
        return util.decode_base64(value)
    except util.ImageReadError as error:
        raise RequestError(400, "field 'image' is not valid base64") from error


def _fetch(url: str) -> bytes:
    if len(url) > MAX_URL_LENGTH:
        raise RequestError(400, f"image_url is {len(url)} characters long; limit {MAX_URL_LENGTH}")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https") or not re.match(r"^https?://[^/?#\s]+", url, re.I):
        raise RequestError(400, f"image_url must be an absolute http(s) URL, got scheme {scheme!r}")
    allow = fetch.parse_allow_list(os.environ.get("TEXT_RECOGNIZER_URL_ALLOW"))
    try:  # public addresses only (no SSRF), one total deadline, capped size and redirects
        return fetch.fetch(url, timeout=URL_TIMEOUT_S, max_bytes=URL_MAX_BYTES, allow=allow)
    except fetch.FetchError as error:
        raise RequestError(403 if error.refused else 422, f"image_url: {error}") from error
    except Exception as error:  # e.g. a malformed host that even urlsplit cannot read
        raise RequestError(
            422, f"image_url could not be fetched: {type(error).__name__}"
        ) from error


def _decode(data: bytes) -> Image.Image:
    """415 if the bytes are no image format we accept; 422 if they claim to be one but do not
    decode sensibly (truncated, zero-sized, over the decompression-bomb guard)."""
    if not data:
        raise RequestError(400, "image data is empty")
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as header:
            image_format = header.format
    except Image.DecompressionBombError as error:
        raise RequestError(422, f"image dimensions are too large: {error}") from error
    except UnidentifiedImageError as error:
        sniffed = sniff_format(data)
        if sniffed in ALLOWED_FORMATS:
            raise RequestError(422, f"corrupt or truncated {sniffed} image") from error
        if sniffed:
            raise RequestError(
                415, f"unsupported image format {sniffed}; send one of {', '.join(ALLOWED_FORMATS)}"
            ) from error
        raise RequestError(415, "data is not an image (no known image format)") from error
    except Exception as error:  # a plugin choking on a crafted header
        raise RequestError(422, f"unreadable image header: {type(error).__name__}") from error
    try:
        return util.read_image_pil(data)
    except util.ImageReadError as error:
        message = re.sub(r" <_io\.BytesIO object at 0x[0-9a-f]+>", "", str(error))
        raise RequestError(422, f"unreadable {image_format} image: {message}") from error
    except Exception as error:  # decoders raise EOFError, struct.error, ... on crafted data
        raise RequestError(
            422, f"unreadable {image_format} image: {type(error).__name__}"
        ) from error


def sniff_format(data: bytes) -> str | None:
    """Name the image format whose magic bytes ``data`` starts with, using Pillow's own
    signature checks; ``None`` if none matches. Decides 415 (not an image) vs 422 (a broken one).

    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n truncated"), sniff_format(b'{"image": 1}')
    ('PNG', None)
    """
    Image.init()
    prefix = data[:64]
    for name, (_, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(prefix):
                return name
        except Exception:  # some checks index past a short prefix
            continue
    return None


def _image_stats(image: Image.Image) -> dict[str, Any]:
    """What the monitoring lab projects: size and mean gray level (0 black .. 255 white)."""
    gray = util.to_grayscale(image)
    return {
        "image_width": image.width,
        "image_height": image.height,
        "image_mode": image.mode,
        "mean_intensity": round(ImageStat.Stat(gray).mean[0], 2),
    }
