from bot.ingest.links import extract_links


def test_code_and_project_links_are_told_apart() -> None:
    code, project = extract_links(
        "Code: https://github.com/rongakowang/FRESA. Project page https://fresa.github.io/ too."
    )
    assert code == ("https://github.com/rongakowang/FRESA",)
    assert project == ("https://fresa.github.io/",)


def test_trailing_punctuation_and_latex_are_not_part_of_a_link() -> None:
    code, project = extract_links(
        r"{https://github.com/nik-dim/sequel} and https://zheny2751\allowbreak-dotcom.github.io/\allowbreak here"
    )
    assert code == ("https://github.com/nik-dim/sequel",)
    assert project == ("https://zheny2751-dotcom.github.io/",)


def test_brackets_inside_a_link_are_kept() -> None:
    _, project = extract_links("(see https://en.wikipedia.org/wiki/Foo_(bar))")
    assert project == ("https://en.wikipedia.org/wiki/Foo_(bar)",)


def test_repeats_are_listed_once_and_hosts_without_dot_ignored() -> None:
    code, project = extract_links(
        "https://gitlab.com/a/b https://gitlab.com/a/b http://localhost/x"
    )
    assert code == ("https://gitlab.com/a/b",)
    assert project == ()


def test_latex_around_links_is_not_part_of_them() -> None:
    # As the sample dumps have them: a group after a name, and \href's text glued on.
    code, project = extract_links(
        "Code: MSRNet{https://github.com/x/MSRNet}. Our site: \\href{https://msr.org/}{msr.org}; "
        "also https://github.com/AlibabaResearch/AdvancedLiterateMachinery{AdvancedLiterateMachinery}."
    )
    assert code == (
        "https://github.com/x/MSRNet",
        "https://github.com/AlibabaResearch/AdvancedLiterateMachinery",
    )
    assert project == ("https://msr.org/",)
