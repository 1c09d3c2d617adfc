import re
from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email

from bot.errors import InputError
from bot.matching import similarity
from bot.subscriptions import spec as spec_module
from bot.subscriptions.spec import (
    DEFAULT_TOPIC,
    channels_of_format,
    email_key,
    make_spec,
    normalise_email,
    shifted_level,
)


def test_a_valid_request_is_normalised() -> None:
    spec = make_spec(
        " Alice@Example.ORG ",
        ["reinforcment learning", " GAN "],
        ["link prediction"],
        cadence="Weekly",
    )
    assert spec.email == "Alice@example.org"
    assert spec.keywords == ("reinforcment learning", "GAN")
    assert spec.exclusions == ("link prediction",)
    assert (spec.name, spec.cadence, spec.channels) == (DEFAULT_TOPIC, "weekly", None)


def test_the_same_keyword_twice_is_kept_once() -> None:
    assert make_spec("a@b.org", ["LoRA", "lora", "LoRA "]).keywords == ("LoRA",)


@pytest.mark.parametrize(
    ("email", "keywords", "message"),
    [
        ("not-an-address", ["x y"], "invalid email address 'not-an-address'"),
        ("a@b", ["x y"], "invalid email address 'a@b'"),
        ("a@b.org", [], "at least one keyword"),
        ("a@b.org", ["   "], "empty"),
        ("a@b.org", ["x" * 201], "200"),
        ("a@b.org", ["?!-"], "'?!-'"),
        ("a@b.org", [f"word{n}" for n in range(101)], "too many keywords: 101"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(
    email: str, keywords: list[str], message: str
) -> None:
    with pytest.raises(InputError, match=message.replace("?", r"\?")):
        make_spec(email, keywords)


def test_channels_are_lowercased_kept_in_order_once_and_formats_become_channels() -> None:
    spec = make_spec("a@b.org", ["x"], channels=["Markdown", "lab-slack", "email", "markdown"])
    assert spec.channels == ("markdown", "lab-slack", "email")
    assert channels_of_format("both") == ("markdown", "email")
    assert channels_of_format("Email") == ("email",)
    assert channels_of_format(None) is None


def test_bad_choices_and_names_are_refused() -> None:
    with pytest.raises(InputError, match="cadence 'hourly' is not one of daily, weekly"):
        make_spec("a@b.org", ["x"], cadence="hourly")
    with pytest.raises(InputError, match="channel 'Slack!' is not email, markdown"):
        make_spec("a@b.org", ["x"], channels=["Slack!"])
    with pytest.raises(InputError, match="at least one channel"):
        make_spec("a@b.org", ["x"], channels=[])
    with pytest.raises(InputError, match="format 'pdf'"):
        channels_of_format("pdf")
    with pytest.raises(InputError, match="topic name cannot be empty"):
        make_spec("a@b.org", ["x"], name="  ")
    with pytest.raises(InputError, match="exclusion"):
        make_spec("a@b.org", ["x"], ["  "])


def test_addresses_differing_in_case_are_one_subscriber() -> None:
    assert email_key(normalise_email("Bob@Lab.ORG")) == email_key(normalise_email("bob@lab.org"))


def _library_verdict(address: str) -> str:
    """What email_validator alone says of `address`: its normal form, or its refusal."""
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return f"invalid email address {address!r}: {exc}"


def _our_verdict(address: str) -> str:
    try:
        return normalise_email(address)
    except InputError as exc:
        return str(exc)


_LOCAL_PARTS = [
    "bob", "Bob.Smith", "o'neil+tag", "a!#$%&*=?^_`{|}~-z", "PostMaster", "abuse", "x" * 64,
    "x" * 65, "a..b", ".a", "a.", "bob smith", '"quoted"', "jos\u00e9", "j\u00f6rg", "a@b", "",
]  # fmt: skip
_DOMAINS = [
    "lab.org", "Lab.ORG", "m\u00fcnchen.de", "xn--mnchen-3ya.de", "uni.example", "localhost",
    "lab.test", "lab.invalid", "-lab.org", "lab-.org", "lab..org", "lab", "[127.0.0.1]",
    "l" * 63 + ".org", "l" * 64 + ".org", ".".join(["a" * 60] * 4) + ".org", "lab.org.", "",
]  # fmt: skip


@pytest.mark.parametrize("domain", _DOMAINS)
def test_an_address_is_normalised_or_refused_exactly_as_the_validator_does(domain: str) -> None:
    # normalise_email checks a common address's domain once per domain: the result
    # and the message must be the validator's own, whatever the two parts hold.
    for local in _LOCAL_PARTS:
        address = f"{local}@{domain}"
        assert _our_verdict(address) == _library_verdict(address), address
        assert _our_verdict(address) == _our_verdict(address)  # and again, from the cache


def test_a_long_domain_makes_an_address_too_long_as_the_validator_counts_it() -> None:
    domain = ".".join(["d" * 62] * 3) + ".org"  # 193 characters: valid alone
    fits, too_long = "l" * (254 - len(domain) - 1), "l" * (255 - len(domain) - 1)
    assert normalise_email(f"{fits}@{domain}") == f"{fits}@{domain}"
    assert _our_verdict(f"{too_long}@{domain}") == _library_verdict(f"{too_long}@{domain}")
    assert "too long" in _our_verdict(f"{too_long}@{domain}")


def test_a_time_zone_is_optional_and_normalised_to_its_iana_name() -> None:
    assert make_spec("a@b.org", ["x"]).timezone is None
    assert make_spec("a@b.org", ["x"], timezone="Europe/Berlin").timezone == "Europe/Berlin"
    assert make_spec("a@b.org", ["x"], timezone=" asia/KOLKATA ").timezone == "Asia/Kolkata"
    assert make_spec("a@b.org", ["x"], timezone="utc").timezone == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "CET+1", "/etc/localtime", "../UTC"])
def test_an_unknown_time_zone_is_refused_naming_it(zone: str) -> None:
    with pytest.raises(InputError) as error:
        make_spec("a@b.org", ["x"], timezone=zone)
    message = str(error.value)
    assert message.startswith(f"unknown time zone {zone!r}: expected an IANA name")
    assert "\n" not in message


REFUSED = {
    "\x00": "a control character (U+0000)",
    "\x07": "a control character (U+0007)",
    "\t": "a control character (U+0009)",
    "\n": "a control character (U+000A)",
    "\x1b": "a control character (U+001B)",
    "\x7f": "a control character (U+007F)",
    "\x85": "a control character (U+0085)",
    "\u2028": "a control character (U+2028)",
    "\u202e": "an invisible formatting character (U+202E)",
    "\u2066": "an invisible formatting character (U+2066)",
    "\u200b": "an invisible formatting character (U+200B)",
    "\ufeff": "an invisible formatting character (U+FEFF)",
    "\udcff": "an undecodable byte (U+DCFF)",
}


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("email", "email address"),
        ("keywords", "keyword 'ab{}cd'"),
        ("exclusions", "exclusion 'ab{}cd'"),
        ("name", "topic name"),
        ("cadence", "cadence"),
        ("channels", "channel"),
        ("timezone", "time zone"),
    ],
)
def test_a_control_character_in_any_field_is_refused_naming_the_field(
    char: str, field: str, named: str
) -> None:
    arguments: dict[str, Any] = {"email": "a@b.org", "keywords": ["x"]}
    values = {
        "email": f"a{char}b@c.org",
        "keywords": [f"ab{char}cd"],
        "exclusions": [f"ab{char}cd"],
        "channels": [f"ab{char}cd"],
    }
    arguments[field] = values.get(field, f"ab{char}cd")
    expected = f"{named.format(repr(char)[1:-1])} contains {REFUSED[char]}"
    with pytest.raises(InputError) as refused:
        make_spec(**arguments)
    assert str(refused.value) == expected


@pytest.mark.parametrize(
    "text",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "👩\u200d🔬",
        "co\u00adoperation",
        "naïve Bayes",
        "Schrödinger",
    ],
    ids=["zero-width non-joiner", "zero-width joiner", "soft hyphen", "accents", "umlaut"],
)
def test_characters_real_text_needs_are_kept(text: str) -> None:
    spec = make_spec("a@b.org", [f"{text} models"], name=text)
    assert (spec.keywords, spec.name) == ((f"{text} models",), text)


def test_surrounding_white_space_is_trimmed_not_refused() -> None:
    spec = make_spec(" a@b.org\n", ["\tGAN\n"], name=" graphs\t", timezone="UTC\n")
    assert (spec.email, spec.keywords, spec.name, spec.timezone) == (
        "a@b.org",
        ("GAN",),
        "graphs",
        "UTC",
    )


def test_a_topic_may_follow_people_labs_categories_and_trending_without_keywords() -> None:
    spec = make_spec(
        "a@b.org", [], authors=[" Y. LeCun ", "y. lecun"], organisations=["Stability AI"],
        categories=["cs.*"], exclude_authors=["Y. Li"], exclude_categories=["cs.CR"],
        min_upvotes=10, top=3,
    )  # fmt: skip
    assert (spec.keywords, spec.authors, spec.organisations, spec.categories) == (
        (), ("Y. LeCun",), ("Stability AI",), ("cs.*",),
    )  # fmt: skip
    assert (spec.exclude_authors, spec.exclude_categories) == (("Y. Li",), ("cs.CR",))
    assert (spec.min_upvotes, spec.top) == (10, 3)
    assert make_spec("a@b.org", [], top=5).top == 5  # trending alone selects


@pytest.mark.parametrize(
    ("follows", "message"),
    [
        ({"authors": ["42"]}, "author '42' has no name in it"),
        (
            {"exclude_authors": ["Y.\u202eLi"], "top": 1},
            "excluded author .* contains an invisible formatting character",
        ),
        ({"categories": ["computer science"]}, "category 'computer science' is not an arXiv"),
        ({"organisations": ["x" * 201]}, "organisation 'x+…' is too long"),
        ({"authors": [f"A. Person{n}" for n in range(101)]}, "too many authors: 101"),
        (
            {"exclude_categories": ["cs.CR"]},
            "at least one keyword, liked paper, author, organisation",
        ),
        ({"top": 0}, "top of the day 0 is out of range: 1 to 100"),
        ({"min_upvotes": -3}, "minimum upvotes -3 is out of range"),
        ({"colour": ["red"]}, "unknown field"),
    ],
)
def test_bad_follows_are_refused_and_named(follows: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_spec("a@b.org", [], **follows)


def test_examples_are_named_once_each_and_not_both_liked_and_unliked() -> None:
    spec = make_spec(
        "a@lab.org", [], liked=["2401.00001", "arXiv:2401.00001v2", "A Title"],
        unliked=["a title 2"], level=-2,
    )  # fmt: skip
    assert [r.text for r in spec.liked] == ["2401.00001", "A Title"]
    assert (spec.liked[0].arxiv_id, spec.liked[1].title, spec.level) == (
        "2401.00001",
        "A Title",
        -2,
    )
    with pytest.raises(
        InputError, match=re.escape("'https://arxiv.org/abs/2401.00001' is given as both")
    ):
        make_spec(
            "a@lab.org", [], liked=["https://arxiv.org/abs/2401.00001"], unliked=["2401.00001"]
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": 4}, "level 4 is out of range: use a whole number from -3"),
        ({"liked": ["   "]}, "a paper cannot be empty"),
        ({"liked": ["x" * 501]}, "paper too long: 501 characters"),
        ({"liked": ["Bad\u202etitle"]}, "invisible formatting character"),
        ({"liked": ["https://arxiv.org/list/cs.CL/new"]}, "this arXiv link names no paper"),
        ({"liked": ["https://huggingface.co/models"]}, "this Hugging Face link names no paper"),
        ({"liked": [f"{n:04d}.00001" for n in range(101)]}, "too many example papers: 101"),
        ({}, "at least one keyword, liked paper, author"),
    ],
)
def test_bad_examples_and_levels_are_refused_naming_them(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        make_spec("a@lab.org", [], **kwargs)


def test_the_levels_of_the_spec_are_those_of_the_similarity_engine() -> None:
    assert spec_module.MAX_LEVEL == similarity.MAX_LEVEL


def test_a_level_not_given_is_none_and_keeps_the_stored_one() -> None:
    assert make_spec("a@lab.org", ["GAN"]).level is None
    assert make_spec("a@lab.org", ["GAN"], level=0).level == 0


@pytest.mark.parametrize(
    ("current", "step", "shifted"), [(0, 1, 1), (2, 1, 3), (3, 1, 3), (-3, -1, -3), (1, -1, 0)]
)
def test_more_and_fewer_move_the_level_by_one_within_its_range(
    current: int, step: int, shifted: int
) -> None:
    assert shifted_level(current, step) == shifted


def test_a_topic_keeping_its_stored_liked_papers_needs_no_keyword() -> None:
    spec = make_spec("a@lab.org", [], level=-1, keeps_liked=True)
    assert (spec.keywords, spec.liked, spec.level) == ((), (), -1)
    with pytest.raises(InputError, match="at least one keyword"):
        make_spec("a@lab.org", [], level=-1, keeps_liked=False)
