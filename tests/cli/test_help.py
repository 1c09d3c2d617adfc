"""Every command's `--help`, as a user reads it: flags shown as flags, values as values."""

import re

import typer.main
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.testing import CliRunner

from bot.cli import app


def _commands(
    command: TyperCommand | TyperGroup, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """The path of every command and group under `command`, `command` itself first."""
    found = [path]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            assert isinstance(sub, TyperCommand | TyperGroup)
            found += _commands(sub, (*path, name))
    return found


def test_no_help_shows_a_value_after_a_plain_flag() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    paths = _commands(root)
    assert ("subscriptions", "export") in paths and ("db", "copy") in paths
    runner = CliRunner()
    flags_seen = values_seen = 0
    for path in paths:
        shown = runner.invoke(app, [*path, "--help"], prog_name="paperbot")
        assert shown.exit_code == 0, (path, shown.output)
        command: object = root
        for name in path:
            assert isinstance(command, TyperGroup)
            command = command.commands[name]
        assert isinstance(command, TyperCommand | TyperGroup)
        for param in command.params:
            if not isinstance(param, TyperOption) or param.hidden:
                continue
            name = max(param.opts, key=len)  # "-c, --config <path>": the value follows it
            after = re.search(rf"(?:^|[ ,]){re.escape(name)}( <[^>]+>| [A-Z_]+)?\s", shown.output)
            assert after is not None, (path, name, shown.output)
            if param.is_flag:
                flags_seen += 1
                assert after.group(1) is None, (path, name, after.group(0))
            else:
                values_seen += 1
                assert after.group(1) is not None, (path, name, after.group(0))
    assert flags_seen >= 10 and values_seen >= 10  # the walk reached the options
