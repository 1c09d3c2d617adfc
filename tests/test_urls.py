"""The one rule for addresses shown or linked, and taking LaTeX residue off them."""

import pytest

from bot.urls import clean_link, find_links, web_url


def test_web_url_keeps_only_web_links() -> None:
    assert web_url(" https://x.org/a?b=1 ") == "https://x.org/a?b=1"
    assert web_url("HTTP://x.org/") == "HTTP://x.org/"
    assert web_url("javascript:alert(1)") is None
    assert web_url(" JavaScript:alert(1)") is None
    assert web_url("data:text/html,<b>x</b>") is None
    assert web_url('https://x.org/"onmouseover=') is None
    assert web_url("https://x.org/a b") is None
    assert web_url(None) is None


@pytest.mark.parametrize(
    ("written", "clean"),
    [
        # A LaTeX group around the address, as `MSRNet{...}.` in an abstract.
        ("MSRNet{https://github.com/x/MSRNet}.", "https://github.com/x/MSRNet"),
        (r"SequeL\url{https://github.com/nik-dim/sequel}", "https://github.com/nik-dim/sequel"),
        (r"\href{https://a.org/p}{the project}", "https://a.org/p"),
        (r"\href{https://a.org/p}{https://a.org/p}.", "https://a.org/p"),
        # As stored before the cleaning: `\href` gone, its text glued on.
        (
            "https://github.com/AlibabaResearch/AdvancedLiterateMachinery{AdvancedLiterateMachinery",
            "https://github.com/AlibabaResearch/AdvancedLiterateMachinery",
        ),
        ("https://github.com/x/MSRNet}", "https://github.com/x/MSRNet"),
        # LaTeX escapes stand for the character.
        (r"https://github.com/a\_b/c\%20d\#e", "https://github.com/a_b/c%20d#e"),
        (r"https://x.org/\~{}me/", "https://x.org/~me/"),
        (
            r"https://zheny2751\allowbreak-dotcom.github.io/\allowbreak",
            "https://zheny2751-dotcom.github.io/",
        ),
        # Sentence punctuation after it; a bracket pair inside it stays.
        ("https://github.com/cacayaya/DRIFT.git.", "https://github.com/cacayaya/DRIFT.git"),
        ("(see https://github.com/x/y).", "https://github.com/x/y"),
        ("https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("https://github.com/x/y;", "https://github.com/x/y"),
        ("<https://github.com/x/y>", "https://github.com/x/y"),
    ],
)
def test_clean_link_takes_latex_residue_and_punctuation_off(written: str, clean: str) -> None:
    assert clean_link(written) == clean


@pytest.mark.parametrize(
    "written", ["javascript:alert(1)", "ftp://x.org/a", "https://localhost/x", "https://[::1/x", ""]
)
def test_clean_link_refuses_what_is_no_web_address(written: str) -> None:
    assert clean_link(written) is None


def test_find_links_finds_both_halves_of_an_href() -> None:
    assert find_links(r"\href{https://github.com/a/b}{https://a.github.io}, and more") == [
        "https://github.com/a/b",
        "https://a.github.io",
    ]
