"""What a subscription request says, validated (pure: no I/O but reading the time zone database).

The command line, bulk imports and the web pages all build a
`SubscriptionSpec` through `make_spec`, so the same input is refused the same
way wherever it comes from.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
    LOCAL_PART_MAX_LENGTH,
)

from bot.errors import InputError
from bot.matching.facets import FACETS, FOLLOW_FIELDS, TRENDING_FIELDS, Facet
from bot.matching.keywords import MAX_KEYWORDS, validate_keywords
from bot.matching.trending import check_min_upvotes, check_top
from bot.subscriptions.paper_reference import PaperReference, parse_paper_reference

CADENCES = ("daily", "weekly", "paused")
BUILT_IN_CHANNELS = ("email", "markdown")
"""The channels every subscriber can have: their address, and a Markdown file on the server."""
# What the `format` of older files, commands and forms becomes.
CHANNELS_OF_FORMAT = {"email": ("email",), "markdown": ("markdown",), "both": ("markdown", "email")}
MAX_CHANNELS = 10
CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
"""A chat channel's name: lowercase letters, digits, `-` and `_`, at most 40 characters."""
DEFAULT_TOPIC = "default"
MAX_TOPIC_NAME = 100
# Example papers per topic, liked and unliked together: enough for years of feedback,
# few enough that a page listing them stays short and a request stays small.
MAX_EXAMPLES = 100
# The "more / fewer" levels of example topics, as `bot.matching.similarity.MAX_LEVEL`
# (not imported from there: that would load numpy for every command).
MAX_LEVEL = 3

# Every field is one line of text. Refused in all of them: control characters
# (Unicode category Cc, tab and newline included, and the line and paragraph
# separators), the formatting characters that reorder or hide text without being
# seen (bidirectional marks, embeddings, overrides and isolates; zero-width space,
# word joiner, byte order mark), and lone surrogates (bytes of a command-line
# argument that were not valid UTF-8). Other formatting characters stay allowed:
# the zero-width joiner and non-joiner are part of how Persian, Indic scripts and
# emoji are written.
_REFUSED_CHARACTER = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029"
    "\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
    "\ud800-\udfff]"
)


@dataclass(frozen=True)
class SubscriptionSpec:
    """One topic of one subscriber, as requested.

    `cadence`, `channels` and `timezone` belong to the subscriber; None keeps
    what the subscriber has (daily, email and the configured time zone for a
    new one). `level` None likewise keeps the topic's level (0 for a new topic).
    """

    email: str
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...] = ()
    name: str = DEFAULT_TOPIC
    cadence: str | None = None
    channels: tuple[str, ...] | None = None
    timezone: str | None = None
    authors: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_authors: tuple[str, ...] = ()
    exclude_organisations: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    min_upvotes: int | None = None
    top: int | None = None
    liked: tuple[PaperReference, ...] = ()
    unliked: tuple[PaperReference, ...] = ()
    level: int | None = None

    @property
    def follows(self) -> dict[str, Any]:
        """What the topic follows beside keywords, by field name (see `FOLLOW_FIELDS`)."""
        return follows_of(self)


def normalise_email(text: str) -> str:
    """Return the address in its normal form; raise `InputError` if it is not one.

    Only the syntax is checked: no DNS lookup, so it works offline.
    """
    address = check_text(text.strip(), "email address")
    local, _, domain = address.rpartition("@")
    if _plain_local_part(local):
        # The common address: the validator would return its local part as it is,
        # so only the domain is left to check, and a list's addresses share few domains.
        checked = _checked_domain(domain)
        if checked is not None and len(local) + 1 + checked[1] <= _MAX_ADDRESS:
            return f"{local}@{checked[0]}"
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InputError(f"invalid email address {address!r}: {exc}") from None


def _plain_local_part(local: str) -> bool:
    """Whether the validator accepts `local` and returns it unchanged, whatever its domain.

    That is its own test of the common local part (an ASCII dot-atom), in strict mode
    too (at most 64 characters), but for the mailbox names it lowercases.
    """
    return (
        len(local) <= LOCAL_PART_MAX_LENGTH
        and DOT_ATOM_TEXT.match(local) is not None
        and local.lower() not in _LOWERED_MAILBOXES
    )


_LOWERED_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
_MAX_ADDRESS = 254
"""The validator's limit on a whole address in UTF-8 bytes, as given, normalised and in ASCII."""


@functools.lru_cache(maxsize=1024)
def _checked_domain(domain: str) -> tuple[str, int] | None:
    """The validator's normal form of `domain`, and the UTF-8 length of its longest form
    (as given, normal, ASCII); None when the validator refuses it.

    Checked once per domain: the domain's checks (international names, reserved
    names) were two thirds of validating an address, and an import of 10,000
    subscribers checked a lab's domain 10,000 times.
    """
    try:
        checked = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None  # the whole address is validated again, for the validator's own message
    forms = (domain, checked.domain, checked.ascii_domain or "")
    return checked.domain, max(len(form.encode("utf-8")) for form in forms)


def email_key(email: str) -> str:
    """Return the key under which two spellings of one address are the same subscriber."""
    return email.casefold()


def make_spec(
    email: str,
    keywords: Iterable[str],
    exclusions: Iterable[str] = (),
    *,
    name: str | None = None,
    cadence: str | None = None,
    channels: Iterable[str] | None = None,
    timezone: str | None = None,
    liked: Iterable[str] = (),
    unliked: Iterable[str] = (),
    level: int | None = None,
    keeps_liked: bool = False,
    **follows: Any,
) -> SubscriptionSpec:
    """Validate a subscription request; raise `InputError` naming the first bad value.

    `follows` are the fields of `FOLLOW_FIELDS` (authors=[...], top=3...), checked
    by `check_follows`. `liked` and `unliked` name example papers (arXiv id, link
    or exact title: `check_paper`), `level` moves their threshold ("more" above 0,
    "fewer" below; None keeps the topic's). A topic needs something that selects
    papers: a keyword, a liked paper, an author, an organisation, a category or a
    trending switch; `keeps_liked` says the topic already has liked papers stored,
    which it keeps (the manage page saves a topic without naming its examples again).
    """
    checked_keywords = _keywords(keywords, "keyword", required=False)
    checked_exclusions = _keywords(exclusions, "exclusion", required=False)
    checked = check_follows(**follows)
    checked_liked, checked_unliked = check_examples(liked, unliked)
    checked_level = None if level is None else check_level(level)
    if not checked_keywords and not checked_liked and not keeps_liked and not selects(checked):
        raise InputError(
            "at least one keyword, liked paper, author, organisation or category, or a"
            " trending switch (minimum upvotes, top of the day), is needed"
        )
    return SubscriptionSpec(
        email=normalise_email(email),
        keywords=checked_keywords,
        exclusions=checked_exclusions,
        name=_topic_name(name),
        cadence=_choice(cadence, CADENCES, "cadence"),
        channels=None if channels is None else check_channels(channels),
        timezone=None if timezone is None else normalise_time_zone(timezone),
        liked=checked_liked,
        unliked=checked_unliked,
        level=checked_level,
        **checked,
    )


def check_channels(names: Iterable[str]) -> tuple[str, ...]:
    """Validate a list of channel names: "email", "markdown" or a chat channel's name.

    Names are lowercased; repeats are dropped, the order kept. Whether a chat
    channel of that name is the subscriber's is the store's to say. Raises
    `InputError` naming the first bad name, or when the list is empty.
    """
    checked: list[str] = []
    for name in names:
        word = check_text(name.strip(), "channel").lower()
        if not CHANNEL_NAME.fullmatch(word):
            raise InputError(
                f"channel {name.strip()!r} is not email, markdown or a channel's name"
                " (lowercase letters, digits, - and _, at most 40)"
            )
        if word not in checked:
            checked.append(word)
    if not checked:
        raise InputError("at least one channel is needed: email, markdown or a channel's name")
    if len(checked) > MAX_CHANNELS:
        raise InputError(f"at most {MAX_CHANNELS} channels, not {len(checked)}")
    return tuple(checked)


def channels_of_format(format: str | None) -> tuple[str, ...] | None:
    """The channels a `format` ("email", "markdown" or "both") of older files and commands means."""
    word = _choice(format, tuple(CHANNELS_OF_FORMAT), "format")
    return None if word is None else CHANNELS_OF_FORMAT[word]


def check_paper(text: str) -> PaperReference:
    """Validate how a paper is named (arXiv id, arXiv or Hugging Face link, exact title).

    Raises `InputError` naming the text; whether the store holds the paper is
    `bot.subscriptions.examples.find_paper`'s to say.
    """
    return parse_paper_reference(check_text(text.strip(), f"paper {text.strip()!r}"))


def check_examples(
    liked: Iterable[str], unliked: Iterable[str]
) -> tuple[tuple[PaperReference, ...], tuple[PaperReference, ...]]:
    """Validate a topic's liked and unliked papers: each once, at most `MAX_EXAMPLES` in all.

    A paper named twice in one list counts once; one named as both liked and
    unliked is refused (the reader has to say which).
    """
    checked: list[list[PaperReference]] = [[], []]
    for kept, texts in zip(checked, (liked, unliked), strict=True):
        for text in texts:
            reference = check_paper(text)
            if not any(_same_paper(reference, other) for other in kept):
                kept.append(reference)
    total = len(checked[0]) + len(checked[1])
    if total > MAX_EXAMPLES:
        raise InputError(f"too many example papers: {total} (at most {MAX_EXAMPLES})")
    for reference in checked[0]:
        if any(_same_paper(reference, other) for other in checked[1]):
            raise InputError(f"paper {reference.text!r} is given as both liked and unliked")
    return tuple(checked[0]), tuple(checked[1])


def _same_paper(first: PaperReference, second: PaperReference) -> bool:
    if first.arxiv_id or second.arxiv_id:
        return first.arxiv_id == second.arxiv_id
    return (first.title or "").casefold() == (second.title or "").casefold()


def check_level(level: int) -> int:
    """Validate a topic's "more / fewer" level: a whole number from -3 (fewer) to 3 (more)."""
    if (
        isinstance(level, bool)
        or not isinstance(level, int)
        or not -MAX_LEVEL <= level <= MAX_LEVEL
    ):
        raise InputError(
            f"level {level!r} is out of range: use a whole number from -{MAX_LEVEL} (fewer papers)"
            f" to {MAX_LEVEL} (more papers); 0 is the default"
        )
    return level


def shifted_level(current: int, step: int) -> int:
    """The level one "more" (`step` 1) or "fewer" (-1) away from `current`, kept in range."""
    return max(-MAX_LEVEL, min(MAX_LEVEL, current + step))


def check_follows(**given: Any) -> dict[str, Any]:
    """Validate what a topic follows beside keywords; return every field of `FOLLOW_FIELDS`.

    Lists come back trimmed, each value once (whatever its case), as tuples;
    missing fields empty or None. Raises `InputError` naming the first bad value
    ("author '123' has no name in it"), a list of over 100 values, or an unknown field.
    """
    unknown = set(given) - set(FOLLOW_FIELDS)
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {}
    for facet in FACETS:
        checked[facet.include] = _follows(
            given.get(facet.include) or (), facet, facet.kind, facet.plural
        )
        checked[facet.exclude] = _follows(
            given.get(facet.exclude) or (),
            facet,
            f"excluded {facet.kind}",
            f"excluded {facet.plural}",
        )
    checked["min_upvotes"] = check_min_upvotes(given.get("min_upvotes"))
    checked["top"] = check_top(given.get("top"))
    return checked


def selects(follows: Mapping[str, Any]) -> bool:
    """Tell whether checked follows select papers without keywords (an author, trending...)."""
    return any(follows.get(facet.include) for facet in FACETS) or any(
        follows.get(name) is not None for name in TRENDING_FIELDS
    )


def describe_follows(follows: Mapping[str, Any]) -> list[str]:
    """What a topic follows beside keywords, one line each: "author: Y. LeCun", "top 3 of the day"."""
    lines = [f"{facet.kind}: {value}" for facet in FACETS for value in follows[facet.include]]
    lines += [f"not {facet.kind}: {value}" for facet in FACETS for value in follows[facet.exclude]]
    if follows["min_upvotes"] is not None:
        lines.append(f"at least {follows['min_upvotes']} upvotes")
    if follows["top"] is not None:
        lines.append(f"top {follows['top']} of the day")
    return lines


def follows_of(topic: object) -> dict[str, Any]:
    """The `FOLLOW_FIELDS` of a spec, a stored topic or a rule, by name."""
    return {name: getattr(topic, name) for name in FOLLOW_FIELDS}


def _follows(texts: Iterable[str], facet: Facet, what: str, plural: str) -> tuple[str, ...]:
    given = list(texts)
    if len(given) > MAX_KEYWORDS:
        raise InputError(f"too many {plural}: {len(given)} (at most {MAX_KEYWORDS})")
    kept: list[str] = []
    for text in given:
        value = facet.check(check_text(text.strip(), f"{what} {text.strip()!r}"), what)
        if value.casefold() not in (k.casefold() for k in kept):
            kept.append(value)
    return tuple(kept)


def check_text(text: str, field: str) -> str:
    """Return `text`; raise `InputError` naming `field` if it holds a character no field may hold.

    The one rule for every text a person submits (see `_REFUSED_CHARACTER`); the
    message names the first such character by its code point, as in "topic name
    contains a control character (U+0000)".
    """
    found = _REFUSED_CHARACTER.search(text)
    if found is None:
        return text
    char = found.group()
    category = unicodedata.category(char)
    if category == "Cs":
        kind = "an undecodable byte"
    elif category == "Cf":
        kind = "an invisible formatting character"
    else:
        kind = "a control character"
    raise InputError(f"{field} contains {kind} (U+{ord(char):04X})")


def check_keywords(texts: Iterable[str], what: str = "keyword") -> tuple[str, ...]:
    """Validate keywords (or exclusions, `what`) as `make_spec` does; return them trimmed, once each.

    For keywords used without subscribing, such as `paperbot match --keyword`.
    """
    return _keywords(texts, what, required=False)


def normalise_topic_name(name: str) -> str:
    """Return a topic name as `make_spec` stores it (trimmed); raise `InputError` if it is bad."""
    stripped = check_text(name.strip(), "topic name")
    if not stripped:
        raise InputError("a topic name cannot be empty")
    if len(stripped) > MAX_TOPIC_NAME:
        raise InputError(
            f"topic name too long: {len(stripped)} characters (at most {MAX_TOPIC_NAME})"
        )
    return stripped


def normalise_time_zone(text: str) -> str:
    """Return the canonical IANA name of a time zone given in any case; raise `InputError`.

    "europe/berlin" becomes "Europe/Berlin". Only names of the time zone
    database count: no file paths, no "localtime".
    """
    name = check_text(text.strip(), "time zone")
    canonical = _zone_names().get(name.casefold())
    if canonical is None:
        raise InputError(
            f"unknown time zone {text!r}: expected an IANA name such as 'Europe/Berlin' or 'UTC'"
        )
    try:
        ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"time zone {text!r} cannot be loaded") from None
    return canonical


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every time zone name, by its case-folded form (read once: it walks the database)."""
    return {name.casefold(): name for name in sorted(available_timezones())}


def _keywords(texts: Iterable[str], what: str, *, required: bool) -> tuple[str, ...]:
    given = list(texts)
    for text in given:
        stripped = text.strip()
        check_text(stripped, f"{what} {stripped!r}")
    validate_keywords(given, what=what)  # raises InputError naming the first bad one
    kept: list[str] = []
    for text in given:
        keyword = text.strip()
        if keyword.casefold() not in (k.casefold() for k in kept):
            kept.append(keyword)
    if required and not kept:
        raise InputError(f"at least one {what} is needed")
    return tuple(kept)


def _topic_name(name: str | None) -> str:
    return DEFAULT_TOPIC if name is None else normalise_topic_name(name)


def _choice(value: str | None, choices: tuple[str, ...], what: str) -> str | None:
    if value is None:
        return None
    word = check_text(value.strip(), what).lower()
    if word not in choices:
        raise InputError(f"{what} {value!r} is not one of {', '.join(choices)}")
    return word


_LIST_SEPARATORS = re.compile(r"[,\r\n]+")


def split_keywords(text: str) -> tuple[str, ...]:
    """The keywords of a text box: one per line or separated by commas, blanks dropped.

    A comma ends a phrase when matching (see the README, "How keywords match"), so no
    useful keyword holds one.
    """
    return tuple(part.strip() for part in _LIST_SEPARATORS.split(text) if part.strip())
