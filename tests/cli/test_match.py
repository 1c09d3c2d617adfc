"""`paperbot match` end to end on the sample dumps."""

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli


@pytest.fixture
def stored(run_cli: RunCli, samples: Path) -> RunCli:
    assert run_cli("ingest", str(samples)).returncode == 0
    return run_cli


def test_a_subscribers_matches_are_ranked_and_explained(stored: RunCli) -> None:
    stored(
        "subscribe", "ana@lab.org", "graph neural network", "-x", "link prediction", "-n", "graphs"
    )
    stored("subscribe", "ana@lab.org", "reinforcment learning", "-n", "rl")
    result = stored("match", "ana@lab.org", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert entries and {"title", "score", "keyword", "field", "snippet"} <= entries[0].keys()
    scores = [e["score"] for e in entries]
    assert scores == sorted(scores, reverse=True)
    assert entries[0]["field"] == "title"
    typo = [e for e in entries if e["keyword"] == "reinforcment learning"]
    assert typo and all(e["matched"].lower() == "reinforcement learning" for e in typo)
    assert all(e["similarity"] < 1 for e in typo)
    assert all("link prediction" not in e["snippet"].lower() for e in entries)
    assert len({e["title"] for e in entries}) == len(entries)


def test_a_trial_keyword_needs_no_subscription(stored: RunCli) -> None:
    result = stored("match", "--keyword", "GAN", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert all(e["matched"].lower().rstrip("s") == "gan" for e in entries)
    table = stored("match", "-k", "in context learning", "--limit", "3")
    assert "3 of 555 stored paper(s) match" in table.stdout


def test_match_says_what_is_wrong(stored: RunCli) -> None:
    assert stored("match").returncode == 2
    missing = stored("match", "ghost@lab.org")
    assert missing.returncode == 1 and "ghost@lab.org has no subscriptions" in missing.stderr
    bad = stored("match", "--keyword", "!!")
    assert bad.returncode == 2 and "'!!'" in bad.stderr


def test_a_control_character_in_a_trial_keyword_is_one_line(run_cli: RunCli) -> None:
    for args, message in [
        (["-k", "G\aAN"], "keyword 'G\\x07AN' contains a control character (U+0007)"),
        (["-k", "GAN", "-x", "sur\u202evey"], "exclusion 'sur\\u202evey' contains an invisible"),
    ]:
        result = run_cli("match", *args)
        assert result.returncode == 2
        [line] = result.stderr.splitlines()
        assert line.startswith(f"paperbot: error: {message}"), line
