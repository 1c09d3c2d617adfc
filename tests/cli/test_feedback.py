"""`paperbot feedback` end to end, run as a real process on the sample dumps' papers."""

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.ingest.identity import title_key
from bot.subscriptions.spec import MAX_EXAMPLES
from tests.conftest import RunCli

NOPROP = "NoProp: Training Neural Networks without Back-propagation or Forward-propagation"
LATENT = "Searching Latent Program Spaces"


def _topics(run_cli: RunCli) -> dict[str, dict[str, Any]]:
    """ana@lab.org's topics by name."""
    result = run_cli("subscriptions", "--json")
    assert result.returncode == 0, result.stderr
    [ana] = json.loads(result.stdout)
    return {topic["name"]: topic for topic in ana["topics"]}


def _marks(run_cli: RunCli, name: str) -> tuple[list[str], list[str]]:
    topic = _topics(run_cli)[name]
    return [p["title"] for p in topic["liked"]], [p["title"] for p in topic["unliked"]]


def test_feedback_marks_a_paper_more_or_fewer_like_this(stored: RunCli) -> None:
    assert stored("subscribe", "ana@lab.org", "backpropagation", "--level", "1").returncode == 0
    said = [stored("feedback", "ana@lab.org", NOPROP, flag).stdout for flag in ("--more", "--more")]
    assert said == [
        f"marked {NOPROP!r} as more like this in topic 'default' of ana@lab.org\n",
        f"{NOPROP!r} was already marked as more like this in topic 'default' of ana@lab.org\n",
    ]
    changed = stored("feedback", "ANA@lab.org", NOPROP, "--fewer")
    assert changed.stdout == (
        f"marked {NOPROP!r} as fewer like this in topic 'default' of ana@lab.org"
        " (it was marked the other way)\n"
    )
    assert stored("feedback", "ana@lab.org", LATENT, "--more").returncode == 0
    assert _marks(stored, "default") == ([LATENT], [NOPROP])
    topic = _topics(stored)["default"]
    assert (topic["keywords"], topic["level"]) == (["backpropagation"], 1)  # left as they were


def test_feedback_with_several_topics_needs_the_topic_name(stored: RunCli) -> None:
    assert stored("subscribe", "ana@lab.org", "GAN").returncode == 0
    assert stored("subscribe", "ana@lab.org", "LoRA", "-n", "lora").returncode == 0
    unnamed = stored("feedback", "ana@lab.org", LATENT, "--more")
    assert unnamed.returncode == 1
    assert unnamed.stderr.splitlines() == [
        "paperbot: error: ana@lab.org: name the topic (--name): there are several"
        " ('default', 'lora')"
    ]
    named = stored("feedback", "ana@lab.org", LATENT, "--fewer", "--name", "lora")
    assert named.returncode == 0, named.stderr
    assert (_marks(stored, "lora"), _marks(stored, "default")) == (([], [LATENT]), ([], []))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ghost@lab.org", LATENT, "--more"], 1, "no subscriber with the address 'ghost@lab.org'"),
        (["ana@lab.org", "No Such Paper", "--more"], 1,
         "paper 'No Such Paper': no stored paper has this title"),
        (["ana@lab.org", "https://huggingface.co/models", "--more"], 2,
         "this Hugging Face link names no paper"),
        (["ana@lab.org", LATENT, "--more", "-n", "nope"], 1,
         "ana@lab.org: there is no topic named 'nope'"),
        (["ana@lab.org", LATENT], 2, "give one of --more and --fewer"),
        (["ana@lab.org", LATENT, "--more", "--fewer"], 2, "give one of --more and --fewer"),
        (["not-an-email", LATENT, "--more"], 2, "invalid email address 'not-an-email'"),
    ],
)  # fmt: skip
def test_bad_feedback_is_one_line_and_changes_nothing(
    stored: RunCli, args: list[str], code: int, message: str
) -> None:
    assert stored("subscribe", "ana@lab.org", "GAN").returncode == 0
    before = _topics(stored)
    result = stored("feedback", *args)
    assert result.returncode == code
    [line] = result.stderr.splitlines()
    assert line.startswith("paperbot: error: ") and message in line, line
    assert _topics(stored) == before


def test_feedback_stops_at_the_most_examples_a_topic_holds(stored: RunCli, tmp_path: Path) -> None:
    papers = json.loads(stored("papers", "--json").stdout)
    keys = Counter(title_key(paper["title"]) for paper in papers)
    titles = [
        p["title"] for p in papers if keys[title_key(p["title"])] == 1 and ";" not in p["title"]
    ]
    with (tmp_path / "full.csv").open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(
            [["email", "liked"], ["ana@lab.org", ";".join(titles[:MAX_EXAMPLES])]]
        )
    imported = stored("subscriptions", "import", "full.csv")
    assert imported.returncode == 0, imported.stderr
    result = stored("feedback", "ana@lab.org", titles[MAX_EXAMPLES], "--fewer")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"paperbot: error: this topic already has {MAX_EXAMPLES} example papers: remove some first"
    ]
    assert len(_marks(stored, "default")[0]) == MAX_EXAMPLES
