"""The guard in conftest.py must actually block the network (a test that can fail)."""

import socket

import pytest
import requests

from tests.network_guard import NetworkAccessError


def test_public_address_is_blocked(expect_network_attempt):
    with pytest.raises(NetworkAccessError):
        socket.create_connection(("93.184.215.14", 80), timeout=1)
    assert expect_network_attempt, "the attempt was not recorded"


def test_dns_and_requests_fail_fast(expect_network_attempt):
    with pytest.raises(requests.ConnectionError):
        requests.get("https://example.com", timeout=2)
    assert any("example.com" in attempt for attempt in expect_network_attempt)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()
