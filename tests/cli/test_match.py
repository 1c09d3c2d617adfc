"""`paperbot match` end to end on the sample dumps."""

import json

from tests.conftest import RunCli


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


GRAPH_HINT = (
    "paperbot: warning: keyword 'grpah neural networks' matches no stored paper;"
    " did you mean 'graph neural networks'?"
)


def test_a_keyword_matching_no_stored_paper_is_said_with_what_was_meant(stored: RunCli) -> None:
    result = stored("match", "-k", "grpah neural networks", "-k", "GAN", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)  # GAN matches; stdout is still one JSON document
    assert result.stderr.splitlines() == [GRAPH_HINT]
    alone = stored("match", "-k", "grpah neural networks")
    assert alone.returncode == 0
    assert alone.stderr.splitlines() == [GRAPH_HINT]


def test_a_subscribers_keyword_matching_nothing_is_said(stored: RunCli) -> None:
    stored("subscribe", "ana@lab.org", "GAN", "xqzvw")
    result = stored("match", "ana@lab.org")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "paperbot: warning: keyword 'xqzvw' matches no stored paper ('xqzvw' is in none)"
    ]
