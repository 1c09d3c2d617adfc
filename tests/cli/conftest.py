"""Fixtures of the command-line tests: the real SMTP server of the delivery tests."""

from tests.delivery.conftest import echoing_auth_server, start_server  # noqa: F401
