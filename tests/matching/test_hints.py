"""Keywords that match no paper: saying so, and suggesting whole keywords from stored words."""

import pytest

from bot.errors import InputError
from bot.matching.engine import Matcher, PaperText
from bot.matching.hints import KeywordHint, Vocabulary, keyword_hint, keyword_hints, suggest
from bot.matching.text import forms

PAPERS = [
    PaperText(1, "Graph Neural Networks for Molecules", "We train graph neural networks."),
    PaperText(2, "Scaling Diffusion Models", "Diffusion models generate images; a graph of costs."),
    PaperText(3, "Reinforcement Learning Agents", "Agents learn from rewards in graphs."),
]


@pytest.fixture
def matcher() -> Matcher:
    return Matcher(PAPERS)


@pytest.fixture
def vocabulary(matcher: Matcher) -> Vocabulary:
    return Vocabulary.of_matcher(matcher)


def _vocabulary(*words: str) -> Vocabulary:
    return Vocabulary.of([forms(word).key for word in words], [word.lower() for word in words])


def test_a_short_misspelt_word_gets_the_whole_keyword_corrected(
    matcher: Matcher, vocabulary: Vocabulary
) -> None:
    # "grpah" has five letters: the matcher never corrects it, so the keyword matches nothing.
    assert not matcher.match_keyword("grpah neural networks")
    hint = keyword_hint("grpah neural networks", matcher, vocabulary)
    assert hint == KeywordHint("grpah neural networks", ("grpah",), ("graph neural networks",))
    assert hint.sentence() == (
        "keyword 'grpah neural networks' matches no stored paper;"
        " did you mean 'graph neural networks'?"
    )
    assert hint.sentence("recent paper").startswith(
        "keyword 'grpah neural networks' matches no recent paper;"
    )


def test_a_keyword_that_matches_gets_no_hint(matcher: Matcher, vocabulary: Vocabulary) -> None:
    assert keyword_hint("graph neural network", matcher, vocabulary) is None
    # A typo the matcher forgives matches, so it needs no hint either.
    assert matcher.match_keyword("reinforcment learning")
    assert keyword_hint("reinforcment learning", matcher, vocabulary) is None


def test_a_keyword_of_stored_words_that_matches_nothing_is_said_without_suggestions(
    matcher: Matcher, vocabulary: Vocabulary
) -> None:
    hint = keyword_hint("neural diffusion", matcher, vocabulary)
    assert hint == KeywordHint("neural diffusion", (), ())
    assert hint.sentence() == "keyword 'neural diffusion' matches no stored paper"


def test_only_stored_words_are_suggested(matcher: Matcher, vocabulary: Vocabulary) -> None:
    hint = keyword_hint("quxzy graph", matcher, vocabulary)
    assert hint == KeywordHint("quxzy graph", ("quxzy",), ())
    assert hint.sentence() == "keyword 'quxzy graph' matches no stored paper ('quxzy' is in none)"
    assert suggest("qraph", vocabulary) == (("qraph",), ("graph",))


def test_equally_close_words_are_offered_most_frequent_first() -> None:
    words = _vocabulary("mode", "modal", "modal", "model", "model", "model", "moddle")
    # "modl" is one edit from "mode", "modal" and "model"; "moddle" is two.
    assert words.nearest("modl") == ["model", "modal", "mode"]
    tied = _vocabulary("mode", "model", "modal")
    assert tied.nearest("modl") == ["modal", "mode", "model"]  # then alphabetically


def test_a_farther_word_is_never_offered_beside_a_closer_one() -> None:
    words = _vocabulary("graph", "grasp", "grape", "great", "grapa")
    assert words.nearest("grpah") == ["graph"]  # one swap; the others are two edits
    # "grapa", "grape" and "graph" are one edit from "grapz": three at most are offered.
    words = _vocabulary("graph", "grasp", "grape", "great", "grapa", "grapy")
    assert words.nearest("grapz") == ["grapa", "grape", "graph"]


def test_short_words_get_no_suggestions() -> None:
    assert _vocabulary("ai", "an").nearest("ax") == []


def test_each_unknown_word_gets_its_suggestions_with_the_others_corrected() -> None:
    words = _vocabulary("large", "large", "lake", "language", "models")
    unknown, suggestions = suggest("lage langauge models", words)
    assert unknown == ("lage", "langauge")
    assert suggestions == ("large language models", "lake language models")


def test_suggestions_keep_what_was_typed_around_the_corrected_word(
    vocabulary: Vocabulary,
) -> None:
    assert suggest("Grpah-based learning", vocabulary)[1] == ("Graph-based learning",)
    assert suggest('"GRPAH neural"', vocabulary)[1] == ('"GRAPH neural"',)
    # Spelt as in the papers and closest to what was typed: a plural for a plural.
    assert suggest("grpahs", vocabulary)[1] == ("graphs",)
    assert suggest("grpah", vocabulary)[1] == ("graph",)


def test_no_papers_no_hints_and_unusable_keywords_are_left_to_validation() -> None:
    empty = Matcher([])
    assert keyword_hint("grpah", empty, Vocabulary.of_matcher(empty)) is None
    matcher = Matcher(PAPERS)
    assert keyword_hint("!!", matcher, Vocabulary.of_matcher(matcher)) is None
    with pytest.raises(InputError):
        suggest("!!", Vocabulary.of_matcher(matcher))


def test_hints_come_in_order_once_per_keyword(matcher: Matcher, vocabulary: Vocabulary) -> None:
    hints = keyword_hints(["grpah", "diffusion models", "agnet", "grpah"], matcher, vocabulary)
    assert [(h.keyword, h.suggestions) for h in hints] == [
        ("grpah", ("graph",)),
        ("agnet", ("agents",)),  # as the papers write it
    ]
