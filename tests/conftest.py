"""Shared fixtures for tests/. The network guard (autouse) and the `expect_network_attempt`
fixture live in tests/network_guard.py, a plugin the root conftest.py loads so that it
also covers the package's doctests."""

from tests.network_guard import NetworkAccessError

__all__ = ["NetworkAccessError"]
