"""Topics by example: terms, statistics, scoring, thresholds and explanations (pure)."""

import math

import pytest

from bot.errors import InputError
from bot.matching.similarity import (
    BASELINE_METHOD,
    DEFAULT_METHOD,
    MAX_LEVEL,
    METHOD,
    Candidate,
    Example,
    Method,
    PaperTerms,
    SimilarityIndex,
    Topic,
    paper_terms,
    term_statistics,
)

GRAPHS = (
    "Graph neural networks for node classification",
    ("We train graph neural networks on citation graphs; message passing over nodes."),
)
GRAPHS_TOO = (
    "Message passing graph networks",
    ("Graph neural networks pass messages between nodes for node classification."),
)
FORGETTING = (
    "Overcoming catastrophic forgetting",
    ("Continual learning suffers from catastrophic forgetting of earlier tasks."),
)
REPLAY = (
    "Experience replay for continual learning",
    ("A replay buffer keeps old tasks' samples so continual learning forgets less."),
)
SPEECH = "Speech recognition with transducers", "Acoustic models transcribe audio into text."


def _papers(*texts: tuple[str, str]) -> list[Example]:
    return [
        Example(n, title, paper_terms(title, abstract)) for n, (title, abstract) in enumerate(texts)
    ]


def _index(
    examples: list[Example], candidates: list[Example], method: Method = DEFAULT_METHOD
) -> SimilarityIndex:
    statistics = term_statistics(p.terms for p in examples + candidates)
    return SimilarityIndex([Candidate(p.paper_id, p.terms) for p in candidates], statistics, method)


def test_terms_fold_spellings_and_plurals_and_leave_out_function_words() -> None:
    terms = paper_terms("Optimisation of Networks", "The network optimizations we propose.").terms
    assert "optimization" in terms and "network" in terms
    assert "the" not in terms and "we" not in terms and "propose" not in terms
    # Title words count twice: 1 + log(2 + 1) for "network" (title once, abstract once).
    assert terms["network"] == pytest.approx(1 + math.log(3))


def test_punctuation_and_hyphens_split_words() -> None:
    terms = paper_terms("Self-attention (SSL) models,", "rl_reach: learning.").terms
    assert terms.keys() == {"self", "attention", "ssl", "model", "rl_reach", "learning"}


def test_terms_depend_on_the_text_alone_and_round_trip_as_json() -> None:
    first = paper_terms(*GRAPHS)
    assert first == paper_terms(*GRAPHS)
    again = PaperTerms.from_json(first.to_json())
    assert again.method == METHOD and again.current
    assert again.terms.keys() == first.terms.keys()
    assert all(abs(again.terms[t] - w) < 1e-4 for t, w in first.terms.items())
    assert first.to_json() == PaperTerms.from_json(first.to_json()).to_json()


def test_a_vector_of_another_recipe_is_not_current() -> None:
    assert not PaperTerms({"graph": 1.0}, method="terms/0").current


@pytest.mark.parametrize(
    "text",
    [
        '{"method": "terms/1"}',
        "not json",
        '{"method": 1, "terms": {}}',
        '{"method": "m", "terms": {"a": "x"}}',
    ],
)
def test_a_damaged_stored_vector_is_refused_with_one_clear_line(text: str) -> None:
    with pytest.raises(InputError, match="stored paper vector"):
        PaperTerms.from_json(text)


def test_rare_terms_weigh_more_than_common_ones() -> None:
    statistics = term_statistics(
        [PaperTerms({"learning": 1.0, "graph": 1.0}), PaperTerms({"learning": 1.0})]
    )
    assert statistics.papers == 2
    assert statistics.idf("graph") > statistics.idf("learning") > 0
    assert statistics.idf("unseen") > statistics.idf("graph")


def test_a_topic_needs_a_liked_example_and_a_level_in_range() -> None:
    example = _papers(GRAPHS)[0]
    with pytest.raises(InputError, match="at least one liked example"):
        Topic(1, ())
    with pytest.raises(InputError, match="level 4 is out of range"):
        Topic(1, (example,), level=MAX_LEVEL + 1)


def test_papers_on_the_examples_topic_rank_first_and_are_explained() -> None:
    graphs, forgetting, graphs_too, replay, speech = _papers(
        GRAPHS, FORGETTING, GRAPHS_TOO, REPLAY, SPEECH
    )
    index = _index([graphs, forgetting], [graphs_too, replay, speech])
    scores = index.score([Topic(7, (forgetting,)), Topic(8, (graphs,))])
    assert scores.ranking(0)[0] == 1  # replay, for the forgetting topic
    assert scores.ranking(1)[0] == 0  # the other graph paper
    matches = scores.matches(Method(threshold=0.15))
    assert {(m.topic_key, m.paper_id) for m in matches} == {
        (7, replay.paper_id),
        (8, graphs_too.paper_id),
    }
    graph_match = next(m for m in matches if m.topic_key == 8)
    assert graph_match.example_id == graphs.paper_id
    assert graph_match.explanation == f"similar to {GRAPHS[0]} ({graph_match.example_score:.2f})"
    assert 0 < graph_match.example_score <= 1


def test_the_explanation_names_the_nearest_liked_example() -> None:
    graphs, forgetting, graphs_too, replay = _papers(GRAPHS, FORGETTING, GRAPHS_TOO, REPLAY)
    index = _index([graphs, forgetting], [graphs_too, replay], Method(threshold=0.05))
    matches = index.score([Topic(1, (graphs, forgetting))]).matches(index.method)
    nearest = {m.paper_id: m.example_id for m in matches}
    assert nearest == {graphs_too.paper_id: graphs.paper_id, replay.paper_id: forgetting.paper_id}


def test_an_unliked_example_vetoes_only_the_papers_closer_to_it() -> None:
    graphs, forgetting, graphs_too, replay = _papers(GRAPHS, FORGETTING, GRAPHS_TOO, REPLAY)
    method = Method(threshold=0.0, feedback_papers=0)
    index = _index([graphs, forgetting], [graphs_too, replay], method)
    scores = index.score([Topic(1, (graphs,), unliked=(forgetting,))])
    assert scores.vetoed[0].tolist() == [False, True]
    assert [m.paper_id for m in scores.matches(method)] == [graphs_too.paper_id]
    plain = index.score([Topic(1, (graphs,))])
    assert [m.paper_id for m in plain.matches(method)] == [graphs_too.paper_id, replay.paper_id]
    # The ranking is left alone: only what is included changes.
    assert scores.final.tolist() == plain.final.tolist()


def test_each_level_moves_the_threshold_by_one_step() -> None:
    method = Method(threshold=0.2, level_step=0.25)
    assert method.threshold_at(0) == 0.2
    assert method.threshold_at(2) == pytest.approx(0.1)
    assert method.threshold_at(-1) == pytest.approx(0.25)


def test_more_includes_at_least_what_the_default_does_and_fewer_at_most() -> None:
    example = Example(1, "x", PaperTerms({"x": 1.0, "y": 1.0, "z": 1.0}))
    closer = [
        Candidate(2, PaperTerms({"x": 1.0, "y": 1.0, "z": 1.0})),
        Candidate(3, PaperTerms({"x": 1.0, "y": 1.0, "w": 1.0})),
        Candidate(4, PaperTerms({"x": 1.0, "v": 1.0, "w": 1.0})),
    ]
    statistics = term_statistics([PaperTerms({t: 1.0 for t in "xyzvw"})])
    index = SimilarityIndex(
        closer, statistics, Method(feedback_papers=0, threshold=0.5, level_step=0.5)
    )
    levels = [
        index.score([Topic(1, (example,), level=n)]).included(0, index.method) for n in (-1, 0, 1)
    ]
    assert levels == [[0], [0, 1], [0, 1, 2]]


def test_feedback_lifts_a_paper_that_shares_words_with_the_top_papers_only() -> None:
    example = Example(1, "x", PaperTerms({"forgetting": 1.0, "continual": 1.0}))
    top = [
        Candidate(10 + n, PaperTerms({"forgetting": 1.0, "continual": 1.0, "replay": 1.0}))
        for n in range(2)
    ]
    indirect = Candidate(20, PaperTerms({"replay": 1.0, "buffer": 1.0}))
    unrelated = Candidate(21, PaperTerms({"speech": 1.0, "audio": 1.0}))
    candidates = [*top, indirect, unrelated]
    statistics = term_statistics([example.terms] + [c.terms for c in candidates])
    plain = SimilarityIndex(candidates, statistics, BASELINE_METHOD).score([Topic(1, (example,))])
    fed = SimilarityIndex(candidates, statistics, Method(feedback_papers=2, feedback=0.5)).score(
        [Topic(1, (example,))]
    )
    assert plain.final[0, 2] == plain.final[0, 3] == 0
    assert fed.final[0, 2] > fed.final[0, 3] == 0


def test_the_batched_scores_equal_cosines_computed_one_by_one() -> None:
    papers = _papers(GRAPHS, FORGETTING, GRAPHS_TOO, REPLAY, SPEECH)
    index = _index(papers[:2], papers[2:], BASELINE_METHOD)
    scores = index.score([Topic(1, (papers[0],)), Topic(2, (papers[1],))])
    for row, example in enumerate(papers[:2]):
        query = index.weighted(example.terms)
        for column, candidate in enumerate(papers[2:]):
            vector = index.weighted(candidate.terms)
            expected = sum(w * vector.get(t, 0.0) for t, w in query.items())
            assert scores.final[row, column] == pytest.approx(expected, abs=1e-6)


def test_no_candidates_and_no_shared_terms_score_zero() -> None:
    example = _papers(GRAPHS)[0]
    empty = SimilarityIndex([], term_statistics([example.terms]))
    assert empty.score([Topic(1, (example,))]).matches() == []
    stranger = Candidate(2, PaperTerms({"zzz": 1.0}))
    index = SimilarityIndex([stranger], term_statistics([example.terms, stranger.terms]))
    assert index.score([Topic(1, (example,))]).final.tolist() == [[0.0]]


def test_the_nearest_example_is_found_among_many_liked_ones() -> None:
    # Feedback rounds grow the liked examples: the index of the nearest must not wrap.
    liked = tuple(Example(n, f"paper {n}", PaperTerms({f"t{n}": 1.0})) for n in range(200))
    candidate = Candidate(1000, PaperTerms({"t150": 1.0}))
    statistics = term_statistics([e.terms for e in liked] + [candidate.terms])
    index = SimilarityIndex([candidate], statistics, Method(threshold=0.0))
    (match,) = index.score([Topic(1, liked)]).matches(index.method)
    assert match.example_id == 150
    assert match.example_score == pytest.approx(1.0)


def _example(number: int, words: str) -> Example:
    return Example(number, f"paper {number}", PaperTerms(dict.fromkeys(words.split(), 1.0)))


def test_with_several_unliked_examples_a_classifier_of_all_of_them_keeps_papers_out() -> None:
    liked = (_example(1, "graph node message pass"), _example(2, "graph node citation edge"))
    unliked = (_example(3, "graph node molecule drug"), _example(4, "protein fold chain residue"))
    near_an_unliked = Candidate(10, _example(10, "graph node molecule message").terms)
    unliked_side = Candidate(11, _example(11, "protein fold chain drug").terms)
    unrelated = Candidate(12, _example(12, "speech audio text").terms)
    candidates = [near_an_unliked, unliked_side, unrelated]
    statistics = term_statistics([e.terms for e in liked + unliked] + [c.terms for c in candidates])
    topic = Topic(1, liked, unliked)
    # One unliked example nearer than every liked one was enough to keep a paper out...
    nearest_rule = Method(threshold=0.0, feedback_papers=0, classifier_unliked=3)
    vetoed = SimilarityIndex(candidates, statistics, nearest_rule).score([topic]).vetoed
    assert vetoed[0].tolist() == [True, True, False]
    # ...with two or more, the examples decide together: the paper that shares the
    # liked examples' subject stays, the one on the unliked side is kept out.
    classifier = Method(threshold=0.0, feedback_papers=0)
    vetoed = SimilarityIndex(candidates, statistics, classifier).score([topic]).vetoed
    assert vetoed[0].tolist() == [False, True, False]


def test_a_topics_own_examples_among_the_candidates_are_neither_included_nor_fed_back() -> None:
    liked, other, unliked, relevant, speech = _papers(
        GRAPHS, GRAPHS_TOO, FORGETTING, REPLAY, SPEECH
    )
    # The examples are candidates too, as when a reader likes a paper of this week's digest.
    candidates = [liked, other, unliked, relevant, speech]
    scores = _index([], candidates).score([Topic(1, (liked,), (unliked,))])

    included = {candidates[i].paper_id for i in scores.included(0)}
    assert liked.paper_id not in included and unliked.paper_id not in included
    assert other.paper_id in included
    assert scores.vetoed[0, 0] and scores.vetoed[0, 2]
