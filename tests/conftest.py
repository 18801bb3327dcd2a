"""Shared fixtures for tests/. The network guard (autouse) and the `expect_network_attempt`
fixture live in tests/network_guard.py, a plugin the root conftest.py loads so that it
also covers the package's doctests."""

from tests.network_guard import NetworkAccessError

__all__ = ["NetworkAccessError"]


def pytest_collection_modifyitems(config, items):
    """Mark tests by folder, so `-m` selections partition the suite exactly:
    tests/integration -> integration, tests/training -> training."""
    for item in items:
        path = item.path.as_posix()
        if "/tests/integration/" in path:
            item.add_marker("integration")
        elif "/tests/training/" in path:
            item.add_marker("training")
