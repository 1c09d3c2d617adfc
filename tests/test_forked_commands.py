"""The test suite's forked commands behave as commands started by a new interpreter."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests import forked_commands


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("subscribe", "--no-such-option"),  # a usage error: exit 2, Click's usage line
        ("subscribe", "not an address", "graphs"),  # paperbot's own error: exit 1
        ("subscribe", "ana@lab.org", "grpah neural networks"),  # stdout, stderr, exit 0
        ("subscriptions", "--json"),
    ],
)
def test_a_forked_command_prints_and_exits_as_a_new_interpreter_running_it(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    env = forked_commands.command_env()
    assert forked_commands.forks(env)
    results = []
    for run in (forked_commands.run_new, forked_commands.run):
        folder = tmp_path / run.__name__
        folder.mkdir()
        result = run(args, folder, env, timeout=120)
        said = (result.stdout + "\n--\n" + result.stderr).replace(str(folder), "<folder>")
        results.append((result.returncode, said))
        assert (folder / "paperbot-data").is_dir() == (args[0] == "subscribe" and "@" in args[1])
    assert results[0] == results[1]


def test_a_forked_command_takes_the_folder_environment_and_umask_it_is_given(
    tmp_path: Path,
) -> None:
    env = forked_commands.command_env({"PAPERBOT_DATA_DIR": str(tmp_path / "elsewhere")})
    assert forked_commands.forks(env)
    umask = os.umask(0o077)
    try:
        result = forked_commands.run(("subscribe", "ana@lab.org", "graphs"), tmp_path, env, 120)
    finally:
        os.umask(umask)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "elsewhere" / "paperbot.db"
    assert oct(database.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "paperbot-data").exists()


def test_a_forked_command_that_outlives_its_timeout_is_killed(tmp_path: Path) -> None:
    # Long enough that it would not give up on its own meanwhile.
    env = forked_commands.command_env({"PAPERBOT_INGEST_FEED_TIMEOUT": "300"})
    assert forked_commands.forks(env)
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never answers
        url = f"http://127.0.0.1:{server.getsockname()[1]}/feed.xml"
        with pytest.raises(subprocess.TimeoutExpired):
            forked_commands.run(("ingest", url), tmp_path, env, timeout=3)
        # On a busy machine it may be killed before it asks: then it never does, where a
        # live command would have asked long before the bound.
        server.settimeout(30)
        try:
            connection, _ = server.accept()
        except TimeoutError:
            return
        with connection:
            connection.settimeout(60)
            while connection.recv(4096):  # read until the killed process's end closes it
                pass
