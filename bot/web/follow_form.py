"""What a topic follows beside keywords, as the web forms hold it (pure: text in, values out).

The subscribe and manage forms give each topic the same fields, named after
`bot.matching.facets.FOLLOW_FIELDS` ("authors", "exclude_categories",
"top"...), each a text box. Names of people and organisations may hold commas
("LeCun, Yann", "University of California, Berkeley"): they are one per line,
or separated by ";". Categories hold neither commas nor spaces: any of them
separates them. The values are then checked by `make_spec`, as everywhere.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from bot.matching.facets import FOLLOW_FIELDS, TRENDING_FIELDS

_NAME_SEPARATORS = re.compile(r"[;\r\n]+")
_CATEGORY_SEPARATORS = re.compile(r"[,;\s]+")
# Longer than any usable number: "123456" upvotes is already out of range.
_MAX_NUMBER_CHARS = 9

NUMBER_LABELS = {"min_upvotes": "minimum upvotes", "top": "top of the day"}


def split_names(text: str) -> tuple[str, ...]:
    """The names of a text box: one per line or separated by ";", blanks dropped."""
    return tuple(part.strip() for part in _NAME_SEPARATORS.split(text) if part.strip())


def split_categories(text: str) -> tuple[str, ...]:
    """The categories of a text box: separated by spaces, commas, ";" or lines."""
    return tuple(part for part in _CATEGORY_SEPARATORS.split(text) if part)


_SPLITTERS: dict[str, Callable[[str], tuple[str, ...]]] = {
    "authors": split_names,
    "organisations": split_names,
    "categories": split_categories,
    "exclude_authors": split_names,
    "exclude_organisations": split_names,
    "exclude_categories": split_categories,
}


@dataclass(frozen=True)
class FollowFields:
    """A topic's follow fields as typed: shown back as they are when the form is refused."""

    authors: str = ""
    organisations: str = ""
    categories: str = ""
    exclude_authors: str = ""
    exclude_organisations: str = ""
    exclude_categories: str = ""
    min_upvotes: str = ""
    top: str = ""

    @classmethod
    def from_fields(cls, data: Mapping[str, Any], prefix: str = "") -> "FollowFields":
        """The fields `prefix` + name of a submitted form; a missing or non-text one is empty."""
        values = {}
        for name in FOLLOW_FIELDS:
            value = data.get(prefix + name)
            values[name] = value if isinstance(value, str) else ""
        return cls(**values)

    @classmethod
    def from_follows(cls, follows: Mapping[str, Any]) -> "FollowFields":
        """The fields filled with what a stored topic follows (`Topic.follows`)."""
        return cls(
            **{
                name: ("" if follows[name] is None else str(follows[name]))
                if name in TRENDING_FIELDS
                else "\n".join(follows[name])
                for name in FOLLOW_FIELDS
            }
        )

    @property
    def given(self) -> bool:
        """True when any field holds more than white space."""
        return any(getattr(self, field.name).strip() for field in fields(self))

    def arguments(self) -> tuple[dict[str, Any], list[str]]:
        """The `make_spec` arguments these fields give, and what is not a whole number.

        A number that is not one is left out (None) and said, as "top of the day
        'three' is not a whole number"; its range is `make_spec`'s to check.
        """
        arguments: dict[str, Any] = {
            name: splitter(getattr(self, name)) for name, splitter in _SPLITTERS.items()
        }
        problems: list[str] = []
        for name in TRENDING_FIELDS:
            text = getattr(self, name).strip()
            arguments[name] = None
            if not text:
                continue
            if text.isascii() and text.isdecimal() and len(text) <= _MAX_NUMBER_CHARS:
                arguments[name] = int(text)
            else:
                shown = text if len(text) <= 20 else text[:20] + "…"
                problems.append(f"{NUMBER_LABELS[name]} {shown!r} is not a whole number")
        return arguments, problems
