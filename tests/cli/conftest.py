"""Fixtures of the command-line tests: the real SMTP server of the delivery tests."""

from tests.delivery.conftest import start_server  # noqa: F401
