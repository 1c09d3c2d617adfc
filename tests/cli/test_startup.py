"""What every `paperbot` command loads before it runs: not the parts only some commands use."""

import subprocess
import sys

# The scheduler, the web app, templates and SMTP, feed parsing and HTTP; migrations,
# needed only when a database's schema is behind.
HEAVY = (
    "alembic",
    "apscheduler",
    "uvicorn",
    "fastapi",
    "starlette",
    "jinja2",
    "aiosmtplib",
    "feedparser",
    "httpx",
)


def test_the_command_line_loads_no_command_specific_library_until_a_command_needs_it() -> None:
    probe = (
        f"import sys, bot.cli; print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.split() == []
