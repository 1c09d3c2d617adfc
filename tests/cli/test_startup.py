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


def test_the_command_line_is_imported_with_the_collector_off_and_runs_with_it_on() -> None:
    # Collections counted from the call of `run` to the moment `main` sets the
    # collector up (counted from the call, not the process's start: compiling the
    # probe's own imports, where no bytecode is kept, makes objects too); then
    # whether the collector is on and the imported objects frozen.
    probe = (
        "import gc, sys; import bot.bulk as bulk; from bot.__main__ import run;"
        " seen = []; at_start = [];"
        " real = bulk.settle_collector;"
        " bulk.settle_collector = lambda: (at_start.append(len(seen)), real());"
        " sys.argv = ['paperbot', '--version'];"
        " gc.callbacks.append(lambda phase, info: phase == 'start' and seen.append(phase))\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print(at_start, gc.isenabled(), gc.get_freeze_count() > 10000)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split("\n")[-2]

    assert shown == "[0] True True"
