"""`paperbot match` end to end on the sample dumps."""

import json

import pytest

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


def test_a_trial_topic_follows_authors_organisations_categories_and_trending(
    listed: RunCli,
) -> None:
    def titles(*args: str) -> list[str]:
        result = listed("match", "--json", *args)
        assert result.returncode == 0, result.stderr
        return [entry["title"] for entry in json.loads(result.stdout)]

    video = "Stable Video Diffusion: Scaling Latent Video Diffusion Models to Large Datasets"
    assert titles("--author", "Blattmann, A.") == [video]
    assert titles("--org", "Stability AI") == titles("--org", "stabilityai") == [video]
    assert len(titles("--category", "cs.*")) == 6  # the feed's papers
    without = titles("--category", "cs.*", "--exclude-category", "stat.ML")
    assert (
        len(without) == 4 and "Conformal Prediction Sets for Graph Neural Networks" not in without
    )
    assert titles("--top", "1") == ["Tiny Recurrent Models Reason Well", video]
    assert titles("--org", "stabilityai", "--min-upvotes", "41") == []
    assert titles("-k", "video", "--exclude-author", "Tim Dockhorn") == []
    [entry] = json.loads(listed("match", "--json", "--author", "A. Blattmann", "--top", "1").stdout)
    assert (entry["kind"], entry["rule"], entry["matched"]) == (
        "author", "author: A. Blattmann", "Andreas Blattmann",
    )  # fmt: skip
    assert entry["trending"] == "trending: 40 upvotes, #1 of the day"
    table = listed("match", "--org", "example-lab")
    assert "organisation: example-lab (example-lab), topic (trial)" in table.stdout


def test_a_subscribers_follows_are_matched_and_explained(listed: RunCli) -> None:
    made = listed("subscribe", "ana@lab.org", "-n", "hot", "--min-upvotes", "50")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(
        "subscribed ana@lab.org: new topic 'hot' with 0 keyword(s) and 0 exclusion(s),"
        " at least 50 upvotes"
    )
    result = listed("match", "ana@lab.org", "--json")
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert (entry["title"], entry["rule"], entry["topic"]) == (
        "Tiny Recurrent Models Reason Well", "trending: 55 upvotes, #1 of the day", "hot",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--author", "42"], "author '42' has no name in it"),
        (["--category", "cs/LG"], "category 'cs/LG' is not an arXiv category"),
        (["--top", "0"], "top of the day 0 is out of range: 1 to 100"),
        (["--exclude-org", "google"], "give either a subscriber's EMAIL or a trial topic"),
        (["ana@lab.org", "--author", "Y. Li"], "give either a subscriber's EMAIL or options"),
    ],
)
def test_a_bad_trial_follow_is_a_usage_error_in_one_line(
    run_cli: RunCli, args: list[str], message: str
) -> None:
    result = run_cli("match", *args)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"paperbot: error: {message}"), line


NOPROP = "NoProp: Training Neural Networks without Back-propagation or Forward-propagation"


def test_a_topic_of_example_papers_shows_the_papers_like_them_and_which_example(
    stored: RunCli,
) -> None:
    made = stored("subscribe", "ana@lab.org", "-n", "like noprop", "--like", NOPROP, "--more")
    assert made.returncode == 0, made.stderr
    result = stored("match", "ana@lab.org", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert entries, "a liked paper at the 'more' level finds papers like it"
    assert {e["kind"] for e in entries} == {"similar"}
    assert all(e["topic"] == "like noprop" for e in entries)
    for entry in entries:
        assert entry["rule"] == f"similar to {NOPROP} ({entry['similarity']:.2f})"
        assert 0 < entry["similarity"] < 1
    assert NOPROP not in {e["title"] for e in entries}, "an example is never its own match"
    scores = [e["score"] for e in entries]
    assert scores == sorted(scores, reverse=True)
    table = stored("match", "ana@lab.org")
    assert f"similar to {NOPROP[:30]}" in " ".join(table.stdout.split())
