"""Fixtures of the web tests."""

# The real SMTP server on 127.0.0.1, shared with the delivery tests.
from tests.delivery.conftest import smtp_server, start_server  # noqa: F401
