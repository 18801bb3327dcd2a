"""The network guard, a pytest plugin loaded by the root conftest.py for every test and
doctest. It proves "offline" instead of assuming it: any attempt to connect to a
non-loopback address (or to resolve a host name) fails the test that made it."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

# Nothing the tests run may talk to an account or a hub.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_create_connection = socket.create_connection


class NetworkAccessError(ConnectionRefusedError):
    """A test tried to reach a non-loopback address. An OSError, so libraries fail the way
    they would offline; the guard also records it and fails the test at teardown."""


_attempts: list[str] = []
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name other than localhost: resolving it would leave the box
        return False


def _refuse(address) -> None:
    _attempts.append(repr(address))
    raise NetworkAccessError(f"test tried to reach the network: {address!r}")


def _guarded(real):
    def connect(self, address, *args, **kwargs):
        if not _is_local(address):
            _refuse(address)
        return real(self, address, *args, **kwargs)

    return connect


def _guarded_create_connection(address, *args, **kwargs):
    if not _is_local(address):
        _refuse(address)
    return _real_create_connection(address, *args, **kwargs)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local((host.decode() if isinstance(host, bytes) else host, 0)):
        _refuse((host, "dns"))
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def network_guard(monkeypatch, request):
    """Autouse: block non-loopback connections (and DNS look-ups) for every test, and fail
    the test if it tried, even when the code under test swallowed the error. A test that
    checks offline behaviour on purpose uses the ``expect_network_attempt`` fixture."""
    _attempts.clear()
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield
    if _attempts and "expect_network_attempt" not in request.fixturenames:
        attempts = ", ".join(_attempts)
        _attempts.clear()
        pytest.fail(f"network access attempted (the suite must run offline): {attempts}")


@pytest.fixture
def expect_network_attempt():
    """Declare that this test tries the network on purpose (to check the offline path)."""
    yield _attempts
