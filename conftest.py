"""Root conftest: applies to tests/ AND to the package's doctests."""

pytest_plugins = ["tests.network_guard"]
