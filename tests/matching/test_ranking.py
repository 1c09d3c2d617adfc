import random
from datetime import date

from bot.matching.engine import Explanation, Match, Matcher, PaperText, Rule
from bot.matching.ranking import PaperFacts, Ranking, rank, rank_top

PAPERS = [
    PaperText(1, "A study of things", "We use graph neural networks here."),
    PaperText(2, "Graph Neural Networks at scale", "Nothing else."),
    PaperText(3, "Another study", "Graph neural networks again, and LoRA."),
    PaperText(4, "Third study", "More graph neural networks."),
]


def test_title_matches_first_then_upvotes_then_recency() -> None:
    matches = Matcher(PAPERS).match([Rule(7, ("graph neural network",))])
    facts = {
        1: PaperFacts(upvotes=5, paper_date=date(2024, 1, 1)),
        2: PaperFacts(upvotes=None, paper_date=None),
        3: PaperFacts(upvotes=5, paper_date=date(2024, 6, 1)),
        4: PaperFacts(upvotes=9, paper_date=date(2020, 1, 1)),
    }
    assert [entry.paper_id for entry in rank(matches, facts)] == [2, 4, 3, 1]


def test_a_paper_matched_by_two_topics_appears_once_with_both() -> None:
    matches = Matcher(PAPERS).match([Rule(1, ("graph neural network",)), Rule(2, ("LoRA",))])
    ranked = rank(matches, {})
    assert sorted(entry.paper_id for entry in ranked) == [1, 2, 3, 4]
    [third] = [entry for entry in ranked if entry.paper_id == 3]
    assert sorted(third.rule_ids) == [1, 2]


def _random_matches(rng: random.Random) -> tuple[list[Match], dict[int, PaperFacts]]:
    """Matches and facts drawn from few values, so scores, upvotes and dates often tie."""
    why = Explanation("graph", "title", 0, 5, 1.0, "graph")
    papers = rng.sample(range(1, 200), rng.randint(0, 60))
    matches = [
        Match(rng.randint(1, 4), rng.choice(papers), rng.choice((0.5, 1.0, 1.8, 2.0)), why)
        for _ in range(rng.randint(0, 120) if papers else 0)
    ]
    days = (None, date(2024, 1, 1), date(2024, 1, 2))
    # Some papers have no facts at all: they rank as unknown.
    facts = {
        paper: PaperFacts(rng.choice((None, 0, 3, 3, 7)), rng.choice(days))
        for paper in papers
        if rng.random() < 0.9
    }
    return matches, facts


def test_the_top_few_are_the_head_of_the_full_ranking_ties_included() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        matches, facts = _random_matches(rng)
        full = rank(matches, facts)
        limit = rng.choice((1, 2, 5, 25, 100))
        assert rank_top(matches, facts, limit) == Ranking(tuple(full[:limit]), len(full))
