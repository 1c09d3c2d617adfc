"""Keyword warnings check the newest stored papers, so their cost does not grow with the store."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.cli.hints import HINT_PAPERS, KeywordChecker
from bot.db import open_engine, upgrade_schema
from tests.conftest import DATA_FOLDER, RunCli, store_titled

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def test_keywords_are_checked_against_the_newest_papers_first_seen_and_say_so(
    engine: Engine,
) -> None:
    # Stored newest first: the order of first sighting, not of rows, decides.
    store_titled(engine, NOW, [("Graph neural networks", "Message passing on graphs.")])
    store_titled(engine, NOW - timedelta(days=1), [("Diffusion models", "Denoising at scale.")])
    store_titled(engine, NOW - timedelta(days=2), [("Quokka tracking", "Marsupials in the wild.")])

    two = KeywordChecker.of_store(engine, newest=2)
    assert two.sentences(["graph neural network", "diffusion", "quokka", "quokkas"]) == [
        "keyword 'quokka' matches no paper of the 2 newest ('quokka' is in none)",
        "keyword 'quokkas' matches no paper of the 2 newest ('quokkas' is in none)",
    ]
    assert two.sentences(["grpah neural networks"]) == [
        "keyword 'grpah neural networks' matches no paper of the 2 newest;"
        " did you mean 'graph neural networks'?"
    ]
    every = KeywordChecker.of_store(engine, newest=3)
    assert every.sentences(["quokka", "wombat"]) == [
        "keyword 'wombat' matches no stored paper ('wombat' is in none)"
    ]


def test_subscribe_warns_of_a_keyword_found_only_in_papers_older_than_the_newest_checked(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / DATA_FOLDER).mkdir()
    engine = open_engine(f"sqlite:///{tmp_path / DATA_FOLDER / 'paperbot.db'}")
    upgrade_schema(engine)
    store_titled(engine, NOW - timedelta(days=30), [("Quokka tracking", "Marsupials in the wild.")])
    store_titled(
        engine,
        NOW,
        [(f"Graph study {n}", f"Message passing, part {n}.") for n in range(HINT_PAPERS)],
    )
    engine.dispose()
    made = run_cli("subscribe", "ana@lab.org", "quokka", "message passing")
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines() == [
        f"paperbot: warning: keyword 'quokka' matches no paper of the {HINT_PAPERS:,} newest"
        " ('quokka' is in none)"
    ]
