from datetime import date

from bot.matching.engine import Matcher, PaperText, Rule
from bot.matching.ranking import PaperFacts, rank

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
