"""Organisations, categories and trending: the small rule kinds, each on its own."""

from datetime import date

import pytest

from bot.errors import InputError
from bot.matching.categories import CategoryIndex, CategoryScan, check_category
from bot.matching.organisations import (
    OrganisationIndex,
    OrganisationScan,
    check_organisation,
    organisation_key,
)
from bot.matching.trending import (
    Trend,
    check_min_upvotes,
    check_top,
    day_trends,
    day_trends_exhaustive,
    is_trending,
)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Stability AI", "stabilityai"),
        ("stability-ai", "STABILITY AI"),
        ("Université de Montréal", "universite de montreal"),
    ],
)
def test_an_organisation_is_the_same_whatever_its_case_accents_and_spacing(
    one: str, other: str
) -> None:
    assert organisation_key(one) == organisation_key(other)


def test_an_organisation_matches_the_short_or_the_full_name_whole() -> None:
    papers = [["stabilityai", "Stability AI"], ["google-deepmind", "Google DeepMind"], ["Google"]]
    index = OrganisationIndex(papers)
    assert index.find("Stability AI") == {0: "stabilityai"}
    assert index.find("google") == {2: "Google"}
    assert index.find("Google DeepMind") == OrganisationScan(papers).find("Google DeepMind")


def test_an_organisation_without_letters_is_refused() -> None:
    with pytest.raises(InputError, match="organisation '-' has no letters or digits"):
        check_organisation(" - ")


def test_a_category_matches_exactly_or_by_archive_with_a_star() -> None:
    papers = [["cs.CL", "cs.LG"], ["stat.ML"], ["hep-th"], ["cs.CV"], ["math.OC", "cs.CV"]]
    index = CategoryIndex(papers)
    assert index.find("cs.cl") == {0: "cs.CL"}
    assert index.find("cs.*") == {0: "cs.CL", 3: "cs.CV", 4: "cs.CV"}
    assert index.find("stat.ML") == {1: "stat.ML"}
    assert index.find("hep-th") == {2: "hep-th"}
    for term in ("cs.CL", "cs.*", "stat.*", "hep-th", "math.OC", "CS.CV"):
        assert index.find(term) == CategoryScan(papers).find(term)


@pytest.mark.parametrize("text", ["cs", "cs.", "cs.C L", "*", "cs/CL", "cs.CL;", "x" * 41])
def test_what_is_not_an_arxiv_category_is_refused_and_named(text: str) -> None:
    if text == "cs":
        assert check_category(text) == "cs"  # an archive without classes, as "hep-th"
        return
    with pytest.raises(InputError, match="is not an arXiv category"):
        check_category(text)


def test_papers_of_a_day_are_ranked_by_upvotes_ties_sharing_a_rank() -> None:
    day, other = date(2025, 3, 3), date(2025, 3, 4)
    upvotes = [10, 40, 10, None, 5, 99, 7]
    days = [day, day, day, day, day, other, None]
    expected = [Trend(10, 2), Trend(40, 1), Trend(10, 2), None, Trend(5, 4), Trend(99, 1)]
    assert day_trends(upvotes, days) == [*expected, Trend(7, None)]
    assert day_trends_exhaustive(upvotes, days) == day_trends(upvotes, days)


def test_trending_needs_every_switch_it_is_given() -> None:
    assert is_trending(Trend(42, 3), 40, 3)
    assert not is_trending(Trend(42, 3), 50, None)
    assert not is_trending(Trend(42, 3), None, 2)
    assert not is_trending(Trend(42, None), None, 5)  # no day: no rank
    assert is_trending(Trend(42, None), 10, None)
    assert not is_trending(None, 1, None)
    assert Trend(42, 3).describe() == "42 upvotes, #3 of the day"
    assert Trend(1, None).describe() == "1 upvote"


def test_trending_bounds_are_checked() -> None:
    assert (check_min_upvotes(None), check_top(3)) == (None, 3)
    with pytest.raises(InputError, match="minimum upvotes 0 is out of range: 1 to 100000"):
        check_min_upvotes(0)
    with pytest.raises(InputError, match="top of the day 101 is out of range: 1 to 100"):
        check_top(101)
