"""Keywords as users type them: splitting, exactness, typo bounds and refusals."""

import pytest

from bot.errors import InputError
from bot.matching.keywords import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    parse_keyword,
    typo_bound,
    validate_keywords,
)


def test_a_keyword_is_split_into_normalised_words() -> None:
    keyword = parse_keyword("  Self-Attention Diffusion Models ")
    assert keyword.text == "Self-Attention Diffusion Models"
    assert not keyword.quoted
    assert [word.key for word in keyword.words] == ["self", "attention", "diffusion", "model"]
    assert [word.fold for word in keyword.words] == ["self", "attention", "diffusion", "models"]


@pytest.mark.parametrize("text", ['"graph neural networks"', "“graph neural networks”"])
def test_a_keyword_in_double_quotes_is_quoted_and_exact(text: str) -> None:
    keyword = parse_keyword(text)
    assert keyword.quoted
    assert keyword.exact
    assert [word.literal for word in keyword.words] == ["graph", "neural", "networks"]


@pytest.mark.parametrize(
    "text", ["GAN", "LoRA", "MoE", "BERT", "NeRF", "iPhone", "gpt4", "ResNet50", "graph", "gan"]
)
def test_acronyms_words_with_digits_and_short_words_are_exact(text: str) -> None:
    assert parse_keyword(text).exact


@pytest.mark.parametrize(
    "text", ["learning", "Transformer", "reinforcment", "Knowledge", "modles", "agnets"]
)
def test_longer_lower_case_words_may_be_corrected(text: str) -> None:
    assert not parse_keyword(text).exact


def test_exactness_is_decided_word_by_word() -> None:
    keyword = parse_keyword("LoRA fine-tunning")
    assert [word.exact for word in keyword.words] == [True, True, False]
    assert not keyword.exact


@pytest.mark.parametrize(
    ("text", "bound"),
    [("modal", 0), ("graph", 0), ("tensor", 1), ("lerning", 1), ("knowlege", 1),
     ("attention", 2), ("reinforcment", 2), ("GPT-4o", 0), ("Transformers", 2)],
)  # fmt: skip
def test_the_typo_bound_grows_with_word_length(text: str, bound: int) -> None:
    assert typo_bound(parse_keyword(text).words[-1]) == bound


@pytest.mark.parametrize(
    ("text", "bound"),
    [("graphs", 1), ("modles", 1), ("layres", 1), ("netwroks", 1), ("reasoners", 2)],
)
def test_the_typo_bound_counts_the_letters_as_typed_plural_ending_included(
    text: str, bound: int
) -> None:
    assert typo_bound(parse_keyword(text).words[-1]) == bound


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_keyword_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="is empty"):
        parse_keyword(text)


@pytest.mark.parametrize("text", ["!!!", "---", '""', "“”", "() / :"])
def test_a_keyword_without_letters_or_digits_is_refused_and_named(text: str) -> None:
    with pytest.raises(InputError, match="no letters or digits") as caught:
        parse_keyword(text)
    assert repr(text) in str(caught.value)


def test_a_keyword_over_200_characters_is_refused_with_its_start_and_length() -> None:
    text = "graph neural networks " * 10  # 220 characters, 219 once trimmed
    with pytest.raises(InputError, match="too long: 219 characters") as caught:
        parse_keyword(text)
    assert "graph neural networks graph neural netwo" in str(caught.value)
    assert parse_keyword("x" * MAX_KEYWORD_LENGTH).words[0].key == "x" * MAX_KEYWORD_LENGTH


def test_a_list_of_keywords_is_checked_whole_and_the_first_bad_one_named() -> None:
    assert [k.text for k in validate_keywords(["LoRA", "diffusion models"])] == [
        "LoRA",
        "diffusion models",
    ]
    with pytest.raises(InputError, match="'\\?\\?'"):
        validate_keywords(["LoRA", "??", "!!"])


def test_more_than_100_keywords_are_refused() -> None:
    assert len(validate_keywords([f"topic {n}" for n in range(MAX_KEYWORDS)])) == MAX_KEYWORDS
    with pytest.raises(InputError, match="too many keywords: 101 \\(at most 100\\)"):
        validate_keywords([f"topic {n}" for n in range(MAX_KEYWORDS + 1)])


def test_messages_can_name_an_exclusion() -> None:
    with pytest.raises(InputError, match="exclusion '  ' is empty"):
        parse_keyword("  ", what="exclusion")
    with pytest.raises(InputError, match="too many exclusions"):
        validate_keywords(["x"] * 101, what="exclusion")
