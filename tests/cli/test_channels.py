"""`paperbot channel`: adding, listing and removing a subscriber's chat channels, as a process."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import RunCli

HOOK = "https://hooks.slack.com/services/T0000/B0000/Xs3cretXs3cretXs3cret"


def test_a_channel_is_added_listed_used_and_removed_with_its_address_never_shown(
    run_cli: RunCli,
) -> None:
    assert run_cli("subscribe", "ana@lab.org", "graph neural network").returncode == 0
    added = run_cli("channel", "add", "lab-slack", "--for", "ana@lab.org", "--slack", HOOK)
    assert added.returncode == 0, added.stderr
    assert "added channel lab-slack for ana@lab.org" in added.stdout
    listed = run_cli("channel", "list")
    assert "lab-slack" in listed.stdout and "hooks.slack.com" in listed.stdout
    [ana] = json.loads(run_cli("subscriptions", "--json").stdout)
    assert ana["channels"] == ["email", "lab-slack"]
    exported = run_cli("subscriptions", "export").stdout
    assert "email;lab-slack" in exported
    for result in (added, listed):
        assert "s3cret" not in result.stdout + result.stderr
    assert run_cli("subscribe", "ana@lab.org", "GNN", "--channel", "lab-slack").returncode == 0
    only = run_cli("channel", "remove", "lab-slack")
    assert only.returncode == 1 and "only channel of ana@lab.org" in only.stderr
    assert run_cli("subscribe", "ana@lab.org", "GNN", "--channel", "email").returncode == 0
    removed = run_cli("channel", "remove", "lab-slack")
    assert removed.returncode == 0, removed.stderr
    assert "no channels" in run_cli("channel", "list").stdout


def test_bad_channels_are_refused_in_one_line_and_nothing_is_stored(run_cli: RunCli) -> None:
    assert run_cli("subscribe", "ana@lab.org", "graph neural network").returncode == 0
    add = ("channel", "add", "x")
    webhook = (*add, "--kind", "webhook", "-o", "url=http://127.0.0.1:9/in",
               "-o", "secret=a-long-enough-secret")  # fmt: skip
    cases = [
        ((*add, "--for", "ana@lab.org", "--slack", "ftp://x"), "must be an http"),
        (("channel", "add", "email", "--for", "ana@lab.org", "--slack", HOOK), "built-in"),
        ((*add, "--for", "nobody@lab.org", "--slack", HOOK), "no active"),
        ((*add, "--for", "ana@lab.org"), "exactly one of"),
        ((*add, "--kind", "pager", "-o", "url=http://x"), "unknown channel kind 'pager'"),
        ((*add, "--kind", "slack", "-o", "webhook_url"), "NAME=VALUE"),
        ((*add, "--kind", "slack", "--slack", HOOK), "not both"),
        ((*add, "--slack", HOOK, "-o", "per_topic=true"), "goes with --kind"),
        ((*add, "--kind", "slack", "-o", f"webhook_url={HOOK}", "-o", "per_topic=maybe"),
         "`per_topic` must be true or false"),
        ((*webhook, "-o", "requests=many"), "`requests` must be a positive number"),
        (("subscribe", "ana@lab.org", "GNN", "--channel", "nope"), "no channel named 'nope'"),
    ]  # fmt: skip
    for args, said in cases:
        result = run_cli(*args)
        assert result.returncode != 0, args
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, (
            args,
            result.stderr,
        )
    assert "no channels" in run_cli("channel", "list").stdout
    [ana] = json.loads(run_cli("subscriptions", "--json").stdout)
    assert ana["channels"] == ["email"]


def test_a_secret_can_come_from_the_standard_input(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("subscribe", "ana@lab.org", "graph neural network").returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "channel", "add", "hook", "--for", "ana@lab.org",
         "--webhook", "http://127.0.0.1:9/in", "--secret", "-"],
        input="a-webhook-signing-secret\n", capture_output=True, text=True, cwd=tmp_path,
        env=clean, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "signing-secret" not in result.stdout
    assert "hook" in run_cli("channel", "list").stdout


def test_any_kind_of_channel_is_added_with_its_settings_as_typed(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # What a kind without flags of its own takes: its name and settings, NAME=VALUE.
    assert run_cli("subscribe", "ana@lab.org", "graph neural network").returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    token = "syt_Xs3cretXs3cretXs3cret"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "channel", "add", "room", "--for", "ana@lab.org",
         "--kind", "matrix", "-o", "homeserver=https://matrix.example.org",
         "-o", "room_id=!lab:example.org", "-o", "access_token=-"],
        input=token + "\n", capture_output=True, text=True, cwd=tmp_path, env=clean,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Matrix room !lab:example.org on https://matrix.example.org" in result.stdout
    slack = run_cli(
        "channel", "add", "lab-slack", "--kind", "Slack", "-o", f"webhook_url={HOOK}",
        "-o", "per_topic=true",
    )  # fmt: skip
    assert slack.returncode == 0, slack.stderr
    assert "a message per topic" in slack.stdout
    hook = run_cli(
        "channel", "add", "lab-hook", "--kind", "webhook", "-o", "url=http://127.0.0.1:9/in",
        "-o", "secret=a-long-enough-secret", "-o", "requests=2", "-o", "per=1.5",
    )  # fmt: skip
    assert hook.returncode == 0, hook.stderr
    listed = run_cli("channel", "list")
    assert all(name in listed.stdout for name in ("room", "lab-slack", "lab-hook"))
    for said in (result, slack, listed):
        assert "s3cret" not in said.stdout + said.stderr
    [ana] = json.loads(run_cli("subscriptions", "--json").stdout)
    assert ana["channels"] == ["email", "room"]


def test_a_lab_channel_is_added_for_no_one_fed_by_routed_topics_and_removed(
    run_cli: RunCli,
) -> None:
    for email, keyword in (("ana@lab.org", "graph neural network"), ("bob@lab.org", "graph")):
        assert run_cli("subscribe", email, keyword, "--name", "graphs").returncode == 0
    added = run_cli(
        "channel", "add", "lab-room", "--slack", HOOK, "--cadence", "weekly", "--per-topic"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added lab channel lab-room: ")
    assert "a message per topic" in added.stdout
    ambiguous = run_cli("channel", "route", "lab-room", "graphs")
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.strip().splitlines() == [
        "paperbot: error: more than one subscriber has a topic named 'graphs' (ana@lab.org,"
        " bob@lab.org): name its owner with --of"
    ]
    routed = run_cli("channel", "route", "lab-room", "graphs", "--of", "bob@lab.org")
    assert routed.returncode == 0, routed.stderr
    assert "routed topic 'graphs' of bob@lab.org to lab-room" in routed.stdout
    listed = run_cli("channel", "list")
    assert "lab: graphs (bob@lab.org)" in listed.stdout and "s3cret" not in listed.stdout
    # The room is no subscriber: not listed, not exported.
    everyone = json.loads(run_cli("subscriptions", "--all", "--json").stdout)
    assert [s["email"] for s in everyone] == ["ana@lab.org", "bob@lab.org"]
    assert "lab-room" not in run_cli("subscriptions", "export").stdout
    planned = run_cli("digest", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "#lab-room" in planned.stdout
    unrouted = run_cli("channel", "unroute", "lab-room", "graphs")
    assert unrouted.returncode == 0, unrouted.stderr
    assert "lab: no topics routed yet" in run_cli("channel", "list").stdout
    removed = run_cli("channel", "remove", "lab-room")
    assert removed.returncode == 0 and "removed lab channel lab-room" in removed.stdout
    assert "no channels" in run_cli("channel", "list").stdout


def test_a_subscribers_own_channel_takes_no_routes_nor_a_cadence(run_cli: RunCli) -> None:
    assert run_cli("subscribe", "ana@lab.org", "graph neural network").returncode == 0
    own = run_cli(
        "channel", "add", "x", "--for", "ana@lab.org", "--slack", HOOK, "--cadence", "weekly"
    )
    assert own.returncode == 2 and "--cadence is a lab channel's" in own.stderr
    assert (
        run_cli("channel", "add", "mine", "--for", "ana@lab.org", "--slack", HOOK).returncode == 0
    )
    route = run_cli("channel", "route", "mine", "default")
    assert route.returncode == 1
    assert "channel 'mine' is ana@lab.org's own" in route.stderr
