from datetime import date

from bot.digest.model import Digest, DigestPaper
from bot.digest.select import select_digest
from bot.matching.engine import Matcher, PaperText, Rule

TEXTS = [
    PaperText(1, "Graph neural networks for molecules", "We study LoRA adapters too."),
    PaperText(2, "A survey", "Graph neural networks are popular."),
    PaperText(3, "LoRA at scale", "Low-rank adapters."),
    PaperText(4, "Unrelated", "Nothing to see."),
    PaperText(5, "More graphs", "Yet more graph neural networks."),
]
PAPERS = {t.id: DigestPaper(t.id, t.title, t.abstract, upvotes=t.id) for t in TEXTS}
TOPICS = {10: "graphs", 20: "lora"}
RULES = [Rule(10, ("graph neural network",)), Rule(20, ("LoRA",))]


def _digest(*, sent: frozenset[int] = frozenset(), cap: int = 25) -> Digest | None:
    return select_digest(
        subscriber_id=7, email="a@lab.org", day=date(2024, 11, 22), topics=TOPICS,
        matches=Matcher(TEXTS).match(RULES), papers=PAPERS, already_sent=sent, cap=cap,
    )  # fmt: skip


def test_each_paper_once_under_its_best_topic_ranked() -> None:
    digest = _digest()
    assert digest is not None
    assert [s.topic for s in digest.sections] == ["graphs", "lora"]
    graphs, lora = digest.sections
    # Paper 1 matches both topics; its title match (graphs) beats its abstract match (lora).
    assert [e.paper.paper_id for e in graphs.entries] == [1, 5, 2]
    assert [e.paper.paper_id for e in lora.entries] == [3]
    assert graphs.entries[0].reason.field == "title"
    assert digest.more == 0


def test_papers_already_sent_are_left_out_and_the_cap_counts_the_rest() -> None:
    digest = _digest(sent=frozenset({1}), cap=2)
    assert digest is not None
    # The two best: 3 (a title match), then 5 (more upvotes than 2); shown by topic.
    assert [[e.paper.paper_id for e in s.entries] for s in digest.sections] == [[5], [3]]
    assert digest.more == 1


def test_nothing_new_means_no_digest() -> None:
    assert _digest(sent=frozenset({1, 2, 3, 5})) is None
