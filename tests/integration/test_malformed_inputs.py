"""Abuse the running backend with >= 1,000 generated malformed requests (hypothesis).

Every case must get a 4xx with a JSON ``{"error": message}``, never a 5xx or a dropped
connection; the server must still serve a valid request afterwards, and its memory must
stay bounded. The cases include JSON nested to any depth, any Unicode, bodies up to and
over the size limit, and ``image_url`` values aimed at the server's own loopback port and
at private, link-local and reserved addresses (SSRF). Cases are generated
deterministically (``derandomize=True``), so a failure reproduces exactly."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import struct
import threading
import zlib
from collections import Counter
from dataclasses import dataclass

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from text_recognizer.serving import lambda_handler
from text_recognizer.serving.lambda_handler import MAX_PAYLOAD_BYTES, MAX_URL_LENGTH, sniff_format
from text_recognizer.serving.local_server import make_server

N_CASES = 1000


@dataclass(frozen=True)
class Case:
    kind: str
    method: str
    body: bytes
    content_type: str | None
    expected: frozenset[int]


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _page() -> Image.Image:
    image = Image.new("L", (200, 60), 235)
    ImageDraw.Draw(image).text((8, 12), "hello", fill=25, font=ImageFont.load_default(size=28))
    return image


# Noise compresses poorly, so every part of the compressed stream carries pixels and any cut
# into it leaves rows missing (a cut into a constant tail could still decode).
NOISE = Image.effect_noise((64, 48), 64).convert("L")
VALID = {fmt: _encode(NOISE, fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")}


def _png_with_size(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b""))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def _json(payload) -> bytes:
    return json.dumps(payload).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _case(kind, body, expected, content_type="application/json", method="POST") -> Case:
    return Case(kind, method, body, content_type, frozenset(expected))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
non_string_json = json_values.filter(lambda value: not isinstance(value, str))


@st.composite
def truncated_images(draw):
    fmt = draw(st.sampled_from(sorted(VALID)))
    data = VALID[fmt]
    # Keep at most 90% of the file: the tail of a compressed stream (checksums, end markers)
    # can be lost without losing pixels, so those cuts would still decode.
    cut = draw(st.integers(min_value=1, max_value=int(len(data) * 0.9)))
    expected = {422} if fmt == "PNG" and cut >= 8 else {415, 422}
    return _case(f"truncated {fmt}", _json({"image": _b64(data[:cut])}), expected)


@st.composite
def huge_or_zero_dimensions(draw):
    width = draw(st.integers(0, 2**31 - 1))
    height = draw(st.integers(0, 2**31 - 1))
    if 0 < width * height <= lambda_handler.util.MAX_IMAGE_PIXELS:
        width = 0  # keep only the cases that must be refused: zero-size or over the guard
    as_raw = draw(st.booleans())
    data = _png_with_size(width, height)
    if as_raw:
        return _case("huge/zero dimensions (raw body)", data, {422}, content_type="image/png")
    return _case("huge/zero dimensions", _json({"image": _b64(data)}), {422})


non_images = st.binary(min_size=1, max_size=2048).filter(lambda data: sniff_format(data) is None)


@st.composite
def non_image_base64(draw):
    data = draw(non_images | st.text(min_size=1, max_size=300).map(str.encode))
    if sniff_format(data) is not None:  # text that happens to start like an image header
        data = b"#" + data
    prefix = draw(st.sampled_from(["", "data:image/png;base64,"]))
    return _case("non-image base64", _json({"image": prefix + _b64(data)}), {415})


@st.composite
def wrong_content_types(draw):
    content_type = draw(
        st.sampled_from(
            [
                "text/html",
                "application/xml",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=xyz",
                "video/mp4",
                "application/pdf",
                "audio/wav",
            ]
        )
    )
    body = draw(st.sampled_from([_json({"image": _b64(VALID["PNG"])}), b"image=abc", VALID["PNG"]]))
    return _case(
        f"Content-Type {content_type.split(';')[0]}", body, {415}, content_type=content_type
    )


@st.composite
def image_content_type_without_image(draw):
    body = draw(st.sampled_from([_json({"image": _b64(VALID["PNG"])}), b"hello"]) | non_images)
    content_type = draw(st.sampled_from(["image/png", "image/jpeg", "application/octet-stream"]))
    return _case("image Content-Type, non-image body", body, {415}, content_type=content_type)


@st.composite
def bad_json(draw):
    text = draw(st.text(min_size=1, max_size=200))
    try:
        json.loads(text)
        text = "{" + text  # make sure it does not parse
    except ValueError:
        pass
    body = draw(
        st.sampled_from([text.encode(), text.encode("utf-16"), b"\xff\xfe" + text.encode()])
    )
    return _case("invalid JSON", body, {400})


@st.composite
def wrong_json_types(draw):
    choice = draw(st.sampled_from(["top-level", "image", "image_url"]))
    if choice == "top-level":
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return _case("JSON body not an object", _json(value), {400})
    return _case(f"{choice} of wrong type", _json({choice: draw(non_string_json)}), {400})


@st.composite
def missing_fields(draw):
    keys = st.text(max_size=12).filter(lambda key: key not in ("image", "image_url"))
    payload = draw(st.dictionaries(keys, json_values, max_size=4))
    if draw(st.booleans()):
        payload = {**payload, "image": _b64(VALID["PNG"]), "image_url": "http://127.0.0.1/x"}
    return _case("missing (or both) fields", _json(payload), {400})


@st.composite
def bad_base64(draw):
    text = draw(st.text(min_size=1, max_size=200).filter(lambda t: t.strip()))
    try:
        base64.b64decode("".join(text.split()), validate=True)
        text = text + "!"  # happened to be valid base64: break it
    except ValueError:
        pass
    return _case("invalid base64", _json({"image": text}), {400})


@st.composite
def long_urls(draw):
    extra = draw(st.integers(min_value=MAX_URL_LENGTH, max_value=40_000))
    scheme = draw(st.sampled_from(["http", "https", "file", "ftp"]))
    url = f"{scheme}://127.0.0.1/" + "a" * extra
    return _case("very long URL", _json({"image_url": url}), {400})


@st.composite
def non_http_schemes(draw):
    scheme = draw(
        st.sampled_from(
            [
                "file",
                "FILE",
                "ftp",
                "gopher",
                "data",
                "javascript",
                "s3",
                "ws",
                "ldap",
                "dict",
                "jar",
            ]
        )
    )
    rest = draw(st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=40))
    url = draw(st.sampled_from([f"{scheme}://{rest}", f"{scheme}:{rest}", f"/etc/{rest}"]))
    return _case("non-http(s) scheme", _json({"image_url": url}), {400})


@st.composite
def non_public_urls(draw):
    """SSRF: loopback (a closed port, or the backend's own /metrics), private, link-local,
    reserved: refused before any connection, since no allow-list is set here."""
    path = draw(st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=30))
    host = draw(
        st.sampled_from(
            [f"127.0.0.1:{CLOSED_PORT}", f"127.0.0.1:{BACKEND_PORT[0]}", "localhost",
             "[::1]", "10.0.0.1", "172.16.5.4", "192.168.0.1", "169.254.169.254",
             "[fe80::1]", "0.0.0.0", "240.0.0.1", "[::ffff:127.0.0.1]"]
        )
    )  # fmt: skip
    url = draw(st.sampled_from([f"http://{host}/{path}.png", f"http://{host}/metrics"]))
    return _case("non-public image_url", _json({"image_url": url}), {403})


@st.composite
def deeply_nested(draw):
    """JSON nested far beyond any parser's recursion limit, alone or inside a field."""
    depth = draw(st.integers(min_value=33, max_value=200_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + "1" + closer * depth
    body = draw(st.sampled_from([nested, '{"image": ' + nested + "}", nested[: depth // 2]]))
    return _case("deeply nested JSON", body.encode(), {400, 413})


@st.composite
def unicode_payloads(draw):
    """Any Unicode in keys and values (surrogates excluded: not encodable as UTF-8)."""
    text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
    field = draw(st.sampled_from(["image", "image_url", "other"]))
    payload = {field: draw(text), draw(text): draw(text)}
    body = json.dumps(payload, ensure_ascii=draw(st.booleans())).encode()
    return _case("unicode payload", body, {400, 403, 415, 422})


@st.composite
def wrong_methods(draw):
    method = draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]))
    body = draw(st.sampled_from([b"", _json({"image": _b64(VALID["PNG"])})]))
    return _case(f"method {method}", body, {405}, method=method)


@st.composite
def oversized(draw):
    extra = draw(st.integers(min_value=1, max_value=4096))
    body = b'{"image": "' + b"A" * (MAX_PAYLOAD_BYTES + extra) + b'"}'
    return _case("over 6 MB", body, {413})


@st.composite
def empty_things(draw):
    which = draw(st.sampled_from(["empty body", "empty image", "empty url", "blank image"]))
    body = {
        "empty body": b"",
        "empty image": _json({"image": ""}),
        "empty url": _json({"image_url": ""}),
        "blank image": _json({"image": " \n\t "}),
    }[which]
    return _case(which, body, {400})


@st.composite
def non_image_data_urls(draw):
    mime = draw(st.sampled_from(["text/plain", "application/json", "text/html", "video/mp4", ""]))
    return _case("data URL, not image/*", _json({"image": f"data:{mime};base64,aGVsbG8="}), {415})


CASES = st.one_of(
    truncated_images(),
    huge_or_zero_dimensions(),
    non_image_base64(),
    wrong_content_types(),
    image_content_type_without_image(),
    bad_json(),
    wrong_json_types(),
    missing_fields(),
    bad_base64(),
    long_urls(),
    non_http_schemes(),
    non_public_urls(),
    deeply_nested(),
    unicode_payloads(),
    wrong_methods(),
    oversized(),
    empty_things(),
    non_image_data_urls(),
)

# A port nothing listens on: bound (so no one else takes it) but never listening.
_closed = socket.socket()
_closed.bind(("127.0.0.1", 0))
CLOSED_PORT = _closed.getsockname()[1]
BACKEND_PORT = [0]  # set by the fixture: SSRF cases aim at the backend's own port


def _rss_bytes() -> int:
    """This process's resident memory (the backend runs in it, in a thread)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def backend():
    server = make_server("127.0.0.1", 0, concurrency=2, preload=True, quiet=True)
    BACKEND_PORT[0] = server.server_address[1]
    os.environ.pop("TEXT_RECOGNIZER_URL_ALLOW", None)  # no allow-list: every SSRF case refused
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, thread
    server.shutdown()
    server.server_close()


def test_every_malformed_request_gets_a_4xx_with_a_message(backend):
    server, thread = backend
    session = requests.Session()
    seen: Counter[str] = Counter()
    rss_before = _rss_bytes()

    @settings(
        max_examples=N_CASES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=CASES)
    def check(case: Case) -> None:
        headers = {"Content-Type": case.content_type} if case.content_type else {}
        response = session.request(
            case.method, server.url, data=case.body, headers=headers, timeout=30
        )
        assert 400 <= response.status_code < 500, (case.kind, response.status_code, response.text)
        assert response.status_code in case.expected, (
            case.kind,
            response.status_code,
            response.text,
        )
        assert response.headers["Content-Type"] == "application/json"
        if case.method != "HEAD":
            error = response.json()["error"]
            assert isinstance(error, str) and len(error) > 5, case.kind
        seen[case.kind.split(" (")[0]] += 1

    check()
    assert sum(seen.values()) >= 1000, seen
    grown = (_rss_bytes() - rss_before) / 2**20
    assert grown < 300, (
        f"the backend's memory grew by {grown:.0f} MB over {sum(seen.values())} cases"
    )
    assert len({kind.split()[0] for kind in seen}) >= 12, seen  # every family was exercised
    # The server is still up and still right.
    assert thread.is_alive()
    page = _encode(_page(), "PNG")
    answer = requests.post(server.url, json={"image": _b64(page)}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()["pred"], str)
    print(f"\n{sum(seen.values())} malformed cases:", dict(sorted(seen.items())))
