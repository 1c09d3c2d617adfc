"""The kinds of rule that follow what a paper lists: authors, organisations, categories.

Each kind lives in a module of its own (`authors`, `organisations`,
`categories`) with a function that checks what a user typed, an index that
finds the papers a followed value matches, and a scan that finds the same by
reading every value (the reference the index is tested against). This table is
all the matcher, the subscription checks and the explanations know of them:
adding a kind is writing its module, giving `Rule` and `PaperText` its fields,
and adding a row here.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.matching.authors import AuthorIndex, AuthorScan, check_author
from bot.matching.categories import CategoryIndex, CategoryScan, check_category
from bot.matching.organisations import OrganisationIndex, OrganisationScan, check_organisation

FacetKind = Literal["author", "organisation", "category"]
FacetField = Literal["authors", "organisations", "categories"]


class FacetFinder(Protocol):
    """Finds the papers a followed value matches, among papers given as lists of values."""

    def find(self, term: str) -> dict[int, str]:
        """Paper number -> the paper's value that matched, as the paper gives it."""
        ...


@dataclass(frozen=True)
class Facet:
    """One kind of rule on a paper's listed values.

    `kind` names it in explanations ("author: Y. LeCun"); `values` is the
    `PaperText` attribute it reads; `include` and `exclude` are the `Rule` (and
    subscription) attributes that hold the followed and the excluded values;
    `plural` names the kind in messages ("too many authors").
    """

    kind: FacetKind
    plural: str
    values: FacetField
    include: str
    exclude: str
    check: Callable[[str, str], str]
    index: Callable[[Sequence[Sequence[str]]], FacetFinder]
    scan: Callable[[Sequence[Sequence[str]]], FacetFinder]


FACETS: tuple[Facet, ...] = (
    Facet(
        "author", "authors", "authors", "authors", "exclude_authors",
        check_author, AuthorIndex, AuthorScan,
    ),
    Facet(
        "organisation", "organisations", "organisations", "organisations",
        "exclude_organisations", check_organisation, OrganisationIndex, OrganisationScan,
    ),
    Facet(
        "category", "categories", "categories", "categories", "exclude_categories",
        check_category, CategoryIndex, CategoryScan,
    ),
)  # fmt: skip
"""Every kind, in the order a rule tries them (after keywords): on a tie the earlier explains."""

TRENDING_FIELDS = ("min_upvotes", "top")
"""The trending switches of a rule (and a subscription): integers or None."""

FOLLOW_FIELDS: tuple[str, ...] = (
    *(facet.include for facet in FACETS),
    *(facet.exclude for facet in FACETS),
    *TRENDING_FIELDS,
)
"""Every field a rule, a subscription and its forms share beside keywords and exclusions."""
