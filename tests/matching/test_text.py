"""Words and their forms: tokens, folding, plurals, spelling, phrase joins, snippets."""

import pytest

from bot.matching.text import (
    american,
    forms,
    joins,
    separator,
    singular,
    snippet,
    tokenise,
)


def _key(word: str) -> str:
    return forms(word).key


def test_tokens_are_runs_of_letters_and_digits_with_their_offsets() -> None:
    text = "Self-supervised ViT-B/16 (86M params), 3.5x faster_than GPT-4's."
    tokens = tokenise(text)
    assert [t.text for t in tokens] == [
        "Self", "supervised", "ViT", "B", "16", "86M", "params", "3", "5x", "faster_than",
        "GPT", "4", "s",
    ]  # fmt: skip
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_underscores_bind_an_identifier_into_one_word() -> None:
    assert [t.text for t in tokenise("see rl_reach and _x_ or a__b_")] == [
        "see", "rl_reach", "and", "x", "or", "a__b",
    ]  # fmt: skip


def test_a_decomposed_accent_does_not_split_a_word() -> None:
    text = "Schro\u0308dinger bridges"
    assert [t.text for t in tokenise(text)] == ["Schro\u0308dinger", "bridges"]
    assert forms("Schro\u0308dinger").fold == forms("Schrödinger").fold == "schrodinger"


def test_case_and_accents_are_folded_and_the_literal_form_keeps_accents() -> None:
    assert forms("Transformer").fold == "transformer"
    assert forms("Möbius").fold == "mobius"
    assert forms("Möbius").literal == "möbius"
    assert forms("STRASSE").fold == forms("Straße").fold == "strasse"


@pytest.mark.parametrize(
    ("plural", "singular_form"),
    [
        ("models", "model"),
        ("processes", "process"),
        ("studies", "study"),
        ("queries", "query"),
        ("approaches", "approach"),
        ("boxes", "box"),
        ("cases", "case"),
        ("responses", "response"),
        ("sizes", "size"),
        ("classes", "class"),
        ("losses", "loss"),
        ("biases", "bias"),
        ("lenses", "lens"),
        ("movies", "movie"),
        ("matrices", "matrix"),
        ("vertices", "vertex"),
        ("indices", "index"),
        ("analyses", "analysis"),
        ("hypotheses", "hypothesis"),
        ("criteria", "criterion"),
        ("phenomena", "phenomenon"),
        ("corpora", "corpus"),
        ("GANs", "GAN"),
        ("LLMs", "LLM"),
        ("GPUs", "GPU"),
        ("APIs", "API"),
        ("Gaussians", "Gaussian"),
    ],
)
def test_a_plural_and_its_singular_share_a_key(plural: str, singular_form: str) -> None:
    assert _key(plural) == _key(singular_form)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("modal", "model"),
        ("POS", "pose"),
        ("new", "news"),
        ("den", "dense"),
        ("ten", "tense"),
        ("diver", "diverse"),
        ("organ", "organic"),
        ("basis", "base"),
    ],
)
def test_different_words_keep_different_keys(one: str, other: str) -> None:
    assert _key(one) != _key(other)


@pytest.mark.parametrize(
    "word", ["gas", "bus", "its", "has", "was", "corpus", "status", "analysis", "class"]
)
def test_short_words_and_singulars_ending_in_s_are_kept(word: str) -> None:
    assert singular(word) == word


@pytest.mark.parametrize(
    ("british", "american"),
    [
        ("optimisation", "optimization"),
        ("regularisation", "regularization"),
        ("generalise", "generalize"),
        ("tokenised", "tokenized"),
        ("neighbours", "neighbors"),
        ("behaviour", "behavior"),
        ("modelling", "modeling"),
        ("labelled", "labeled"),
        ("dialogue", "dialog"),
        ("centre", "center"),
        ("defence", "defense"),
        ("artefacts", "artifact"),
    ],
)
def test_british_and_american_spellings_share_a_key(british: str, american: str) -> None:
    assert _key(british) == _key(american)


@pytest.mark.parametrize("word", ["noise", "rise", "arises", "hour", "hours", "metre", "tour"])
def test_short_words_are_not_taken_for_british_spellings(word: str) -> None:
    assert american(word) == word


@pytest.mark.parametrize(
    "text",
    [
        "self supervised",
        "self-supervised",
        "self\u2010supervised",
        "self \u2013 supervised",
        "encoder/decoder",
        "Bayes' rule",
        "repre-\nsentation",
        "GPT-3.5",
        "1,000",
        "Q&A",
    ],
)
def test_words_joined_by_spaces_hyphens_and_such_are_one_phrase(text: str) -> None:
    first, second = tokenise(text)[:2]
    assert joins(text, first.end, second.start)


@pytest.mark.parametrize(
    "text",
    [
        "graph. Neural",
        "graph, neural",
        "graph; neural",
        "graph: neural",
        "graph (neural",
        "graph) neural",
        "graph \u2014 neural",
        'graph "neural',
        "graph.neural",
        "graph & neural",
    ],
)
def test_punctuation_ends_a_phrase(text: str) -> None:
    first, second = tokenise(text)[:2]
    assert not joins(text, first.end, second.start)


@pytest.mark.parametrize(
    ("gap", "kind"),
    [
        (" ", " "),
        ("\n  ", " "),
        ("-", "-"),
        ("\u2010", "-"),
        ("--", "-"),
        (" - ", " - "),
        ("/", "/"),
    ],
)
def test_separators_are_compared_by_kind(gap: str, kind: str) -> None:
    assert separator(gap) == kind


def test_a_snippet_keeps_whole_words_around_the_match_and_says_where_it_is() -> None:
    text = (
        "Large language models are strong few-shot learners. We study in-context "
        "learning in detail, with many experiments on benchmarks and ablations that "
        "show where it fails."
    )
    start = text.index("in-context")
    end = start + len("in-context learning")
    shown, mark_start, mark_end = snippet(text, start, end, context=30)
    assert shown[mark_start:mark_end] == "in-context learning"
    assert shown.startswith("…") and shown.endswith("…")
    before, after = shown[1:mark_start], shown[mark_end:-1]
    assert before == "few-shot learners. We study "
    assert after == " in detail, with many"


def test_a_snippet_of_a_short_text_is_the_whole_text_on_one_line() -> None:
    text = "Diffusion models\n  for   graphs"
    shown, mark_start, mark_end = snippet(text, 0, 16)
    assert shown == "Diffusion models for graphs"
    assert (mark_start, mark_end) == (0, 16)


def test_a_snippet_never_cuts_into_the_match() -> None:
    text = "x" * 100 + " LoRA " + "y" * 100
    start = text.index("LoRA")
    shown, mark_start, mark_end = snippet(text, start, start + 4)
    assert shown == "…LoRA…"
    assert shown[mark_start:mark_end] == "LoRA"
