"""Fetching an http(s) URL on behalf of someone else, without becoming their proxy (SSRF).

A server that downloads ``image_url`` for its callers can be pointed at ANY address it can
reach: its own ``/metrics``, a database on the private network, the cloud metadata service
at 169.254.169.254. :func:`fetch` closes that hole the way it must be closed:

1. the host is resolved once, and every address it resolves to must be public (not
   loopback, private, link-local, multicast, reserved or unspecified, IPv4-mapped forms
   included), unless the host or address is on an explicit allow-list;
2. the connection goes to the address that was checked (no second DNS lookup that a
   rebinding attacker could answer differently), with the original host name in the
   ``Host`` header and for TLS (SNI and certificate verification);
3. redirects are followed by hand, each target checked like the first, at most
   ``max_redirects`` of them;
4. one total deadline covers DNS, connecting, redirects and the whole body, and the body
   is cut off at ``max_bytes``.

Only the standard library: ``http.client`` can connect to a chosen address, ``requests``
cannot without patching its connection pool.

>>> is_public_address("127.0.0.1"), is_public_address("10.1.2.3"), is_public_address("::ffff:169.254.169.254")
(False, False, False)
>>> is_public_address("93.184.216.34"), is_public_address("2606:4700::1111")
(True, True)
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "text-recognizer"


class FetchError(Exception):
    """The URL could not be fetched; ``refused`` is True when the guard said no."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


def is_public_address(address: str) -> bool:
    """True for an address on the public internet (see the module docstring)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def is_allowed(host: str, address: str, allow: Iterable[str]) -> bool:
    """True when ``host`` (a name) or ``address`` is on the allow-list: host names compared
    case-insensitively, entries with a ``/`` or an address read as networks.

    >>> is_allowed("img.lan", "10.0.0.5", ["10.0.0.0/8"]), is_allowed("IMG.lan", "10.0.0.5", ["img.lan"])
    (True, True)
    >>> is_allowed("evil.test", "127.0.0.1", ["10.0.0.0/8", "img.lan"])
    False
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    for entry in (e.strip() for e in allow):
        if not entry:
            continue
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:  # not an address or a network: a host name
            if entry.lower() == host.lower():
                return True
    return False


def parse_allow_list(text: str | None) -> tuple[str, ...]:
    """A comma-separated allow-list (e.g. an environment variable) as a tuple.

    >>> parse_allow_list(" 10.0.0.0/8, images.lan ,"), parse_allow_list(None)
    (('10.0.0.0/8', 'images.lan'), ())
    """
    return tuple(e.strip() for e in (text or "").split(",") if e.strip())


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timed out (total deadline reached)")
    return left


def _resolve(host: str, port: int, deadline: float, public_only: bool, allow) -> str:
    """The first address of ``host`` after checking ALL of them."""
    _remaining(deadline)
    try:
        addresses = [str(ipaddress.ip_address(host))]  # a literal address: nothing to resolve
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise FetchError(f"cannot resolve host {host!r}: {error}") from error
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if public_only:
        blocked = [
            a for a in addresses if not is_public_address(a) and not is_allowed(host, a, allow)
        ]
        if blocked:
            raise FetchError(
                f"refused: {host!r} resolves to a non-public address ({blocked[0]}); "
                "set TEXT_RECOGNIZER_URL_ALLOW to allow a host or network",
                refused=True,
            )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a fixed, already-checked address."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a fixed address, verifying the certificate for the original host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch(
    url: str,
    timeout: float = 5.0,
    max_bytes: int = 6 * 1024 * 1024,
    *,
    public_only: bool = True,
    allow: Iterable[str] = (),
    max_redirects: int = 3,
) -> bytes:
    """GET ``url`` and return the body, or raise :class:`FetchError` (see the module doc).

    ``timeout`` is ONE deadline for everything; ``public_only=False`` skips the address
    check (for a user's own tools, never for a server's callers).
    """
    deadline = time.monotonic() + timeout
    allow = tuple(allow)
    for _ in range(max_redirects + 1):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"only absolute http(s) URLs are allowed, got {url[:80]!r}", True)
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as error:
            raise FetchError(f"bad port in URL: {error}", refused=True) from error
        address = _resolve(parts.hostname, port, deadline, public_only, allow)
        kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = kind(parts.hostname, port, address, timeout=_remaining(deadline))
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("GET", path, headers={"User-Agent": USER_AGENT})
            sock = connection.sock  # kept: getresponse() may hand it over to the response
            sock.settimeout(_remaining(deadline))
            response = connection.getresponse()
            if response.status in REDIRECTS and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location"))
                continue
            if response.status >= 400:
                raise FetchError(f"HTTP {response.status} {response.reason} from the URL")
            return _read_body(sock, response, deadline, max_bytes)
        except (OSError, http.client.HTTPException) as error:
            timed_out = isinstance(error, TimeoutError | socket.timeout)
            raise FetchError("timed out" if timed_out else f"could not fetch: {error}") from error
        finally:
            connection.close()
    raise FetchError(f"too many redirects (more than {max_redirects})")


def _read_body(sock, response, deadline: float, max_bytes: int) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"image at URL is larger than {max_bytes} bytes")
    chunks, total = [], 0
    while True:
        sock.settimeout(_remaining(deadline))  # no single wait outlasts the total deadline
        chunk = response.read1(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"image at URL is larger than {max_bytes} bytes")
        chunks.append(chunk)
