"""The options that make a topic follow authors, organisations, categories and trending papers.

`subscribe` and `match` take the same ones, spelt the same way.
"""

from typing import Annotated, Any

import typer

from bot.subscriptions.spec import describe_follows

Authors = Annotated[
    list[str] | None,
    typer.Option("--author", "-a", help="Follow an author: 'Y. LeCun', 'LeCun, Yann'."),
]
Organisations = Annotated[
    list[str] | None,
    typer.Option("--org", help="Follow an organisation: its Hub name or full name."),
]
Categories = Annotated[
    list[str] | None,
    typer.Option("--category", "-c", help="Follow an arXiv category: 'cs.CL', or 'cs.*'."),
]
ExcludedAuthors = Annotated[
    list[str] | None, typer.Option("--exclude-author", help="An author whose papers are vetoed.")
]
ExcludedOrganisations = Annotated[
    list[str] | None,
    typer.Option("--exclude-org", help="An organisation whose papers are vetoed."),
]
ExcludedCategories = Annotated[
    list[str] | None,
    typer.Option("--exclude-category", help="A category whose papers are vetoed ('cs.*' too)."),
]
MinUpvotes = Annotated[
    int | None,
    typer.Option(
        "--min-upvotes",
        help="Only papers with at least this many upvotes; alone, every such paper.",
    ),
]
Top = Annotated[
    int | None,
    typer.Option(
        "--top",
        help="Only papers among the N most upvoted of their day; alone, every such paper.",
    ),
]


def follows(
    author: list[str] | None,
    org: list[str] | None,
    category: list[str] | None,
    exclude_author: list[str] | None,
    exclude_org: list[str] | None,
    exclude_category: list[str] | None,
    min_upvotes: int | None,
    top: int | None,
) -> dict[str, Any]:
    """The options as the fields of `bot.matching.facets.FOLLOW_FIELDS`, unchecked."""
    return {
        "authors": author or [],
        "organisations": org or [],
        "categories": category or [],
        "exclude_authors": exclude_author or [],
        "exclude_organisations": exclude_org or [],
        "exclude_categories": exclude_category or [],
        "min_upvotes": min_upvotes,
        "top": top,
    }


def describe(fields: dict[str, Any]) -> str:
    """What a topic follows beside keywords, counted: ", 2 author(s), top 3 of the day"."""
    parts = [
        f"{len(fields[name])} {label}(s)"
        for name, label in (
            ("authors", "author"),
            ("organisations", "organisation"),
            ("categories", "category"),
        )
        if fields[name]
    ]
    vetoes = sum(len(fields[name]) for name in fields if name.startswith("exclude_"))
    if vetoes:
        parts.append(f"{vetoes} excluded author(s), organisation(s) or category(ies)")
    if fields["min_upvotes"] is not None:
        parts.append(f"at least {fields['min_upvotes']} upvotes")
    if fields["top"] is not None:
        parts.append(f"top {fields['top']} of the day")
    return "".join(f", {part}" for part in parts)


def summary(fields: dict[str, Any]) -> str:
    """What a topic follows beside keywords, in one line: "author: Y. LeCun; top 3 of the day"."""
    return "; ".join(describe_follows(fields))
