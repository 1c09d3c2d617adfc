"""What a subscription request says, validated (pure: no I/O but reading the time zone database).

The command line, bulk imports and the web pages all build a
`SubscriptionSpec` through `make_spec`, so the same input is refused the same
way wherever it comes from.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email

from bot.errors import InputError
from bot.matching.keywords import validate_keywords

CADENCES = ("daily", "weekly", "paused")
FORMATS = ("email", "markdown", "both")
DEFAULT_TOPIC = "default"
MAX_TOPIC_NAME = 100

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

    `cadence`, `format` and `timezone` belong to the subscriber; None keeps
    what the subscriber has (daily, email and the configured time zone for a
    new one).
    """

    email: str
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...] = ()
    name: str = DEFAULT_TOPIC
    cadence: str | None = None
    format: str | None = None
    timezone: str | None = None


def normalise_email(text: str) -> str:
    """Return the address in its normal form; raise `InputError` if it is not one.

    Only the syntax is checked: no DNS lookup, so it works offline.
    """
    address = check_text(text.strip(), "email address")
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InputError(f"invalid email address {address!r}: {exc}") from None


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
    format: str | None = None,
    timezone: str | None = None,
) -> SubscriptionSpec:
    """Validate a subscription request; raise `InputError` naming the first bad value."""
    return SubscriptionSpec(
        email=normalise_email(email),
        keywords=_keywords(keywords, "keyword", required=True),
        exclusions=_keywords(exclusions, "exclusion", required=False),
        name=_topic_name(name),
        cadence=_choice(cadence, CADENCES, "cadence"),
        format=_choice(format, FORMATS, "format"),
        timezone=None if timezone is None else normalise_time_zone(timezone),
    )


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
