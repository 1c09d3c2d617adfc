"""Authors' names: one person however the name is written, never two people taken for one."""

import pytest

from bot.errors import InputError
from bot.matching.authors import AuthorIndex, AuthorScan, name_of, parse_name, same_person


def _same(followed: str, listed: str) -> bool:
    found = name_of(listed)
    assert found is not None
    return same_person(parse_name(followed), found)


@pytest.mark.parametrize(
    ("followed", "listed"),
    [
        ("Y. LeCun", "Yann LeCun"),
        ("Yann LeCun", "Y. LeCun"),
        ("LeCun, Yann", "Yann LeCun"),
        ("Yann LeCun", "LeCun, Yann"),
        ("Yann André LeCun", "Yann LeCun"),
        ("Y. LeCun", "Yann André LeCun"),
        ("yann lecun", "Yann LeCun"),
        ("Yann Le Cun", "Yann LeCun"),
        ("Jurgen Schmidhuber", "Jürgen Schmidhuber"),
        ("Jürgen Schmidhuber", "Jurgen Schmidhuber"),
        ("M. Garcia-Perez", "María García-Pérez"),
        ("Garcia Perez, Maria", "María García-Pérez"),
        ("J.-B. Mouret", "Jean-Baptiste Mouret"),
        ("J. B. Mouret", "Jean-Baptiste Mouret"),
        ("L. van der Maaten", "Laurens van der Maaten"),
        ("van der Maaten, Laurens", "Laurens van der Maaten"),
        ("Maaten, Laurens van der", "Laurens van der Maaten"),
        ("LeCun", "Yann LeCun"),
        ("Y. Li", "Yang Li"),
        ("Y. Li", "Yi Li"),
        ("C. O'Brien", "Conan O'Brien"),
    ],
)
def test_one_person_however_the_name_is_written(followed: str, listed: str) -> None:
    assert _same(followed, listed)


@pytest.mark.parametrize(
    ("followed", "listed"),
    [
        ("Y. Li", "Yang Liu"),  # another surname
        ("Yang Li", "Yang Liu"),
        ("Li Yang", "Yang Li"),  # no comma: the last word is the surname, never swapped
        ("Yang Li", "Li Yang"),
        ("Yang Li", "Yi Li"),  # two given names that differ
        ("Y. B. LeCun", "Yann André LeCun"),  # a middle initial that differs
        ("E. Bengio", "Yoshua Bengio"),
        ("M. Garcia", "María García-Pérez"),  # a hyphenated surname is matched whole
        ("Garcia-Perez", "Maria Garcia"),
        ("Hans Maaten", "Laurens van der Maaten"),
        ("Yann Dubois", "Yann LeCun"),
    ],
)
def test_different_people_are_never_one(followed: str, listed: str) -> None:
    assert not _same(followed, listed)


@pytest.mark.parametrize(("text", "message"), [("", "has no name"), ("  12 ", "has no name")])
def test_a_followed_name_without_letters_is_refused_and_named(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_name(text)


def test_a_followed_name_too_long_is_refused() -> None:
    with pytest.raises(InputError, match=r"author 'x+…' is too long: 201 characters"):
        parse_name("x" * 201)


def test_the_index_and_the_scan_find_the_same_first_author_of_each_paper() -> None:
    papers = [["Yann LeCun", "Y. LeCun"], ["Rong Wang"], [], ["LeCun, Yann"], ["Yang Li"]]
    for term in ("Y. LeCun", "LeCun", "Yang Li", "R. Wang", "Nobody Here"):
        assert AuthorIndex(papers).find(term) == AuthorScan(papers).find(term)
    assert AuthorIndex(papers).find("Y. LeCun") == {0: "Yann LeCun", 3: "LeCun, Yann"}


def test_the_first_listed_author_who_matches_explains_whatever_their_initials() -> None:
    papers = [["LeCun", "Yann LeCun"], ["Y. LeCun", "LeCun"], ["Ann LeCun", "Yann LeCun"]]
    for term in ("Yann LeCun", "LeCun", "A. LeCun"):
        assert AuthorIndex(papers).find(term) == AuthorScan(papers).find(term)
    assert AuthorIndex(papers).find("Yann LeCun") == {0: "LeCun", 1: "Y. LeCun", 2: "Yann LeCun"}
