"""`paperbot match`: which stored papers a subscriber's topics, or a trial keyword, select."""

import json
from typing import Annotated, Any

import typer
from rich.text import Text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.cli.app import app, as_usage_error, fail, open_store, out, print_rows
from bot.cli.follows import (
    Authors,
    Categories,
    ExcludedAuthors,
    ExcludedCategories,
    ExcludedOrganisations,
    MinUpvotes,
    Organisations,
    Top,
    follows,
)
from bot.cli.hints import KeywordChecker
from bot.matching.engine import Match, Matcher, Rule
from bot.matching.ranking import RankedPaper, rank
from bot.papers import papers_for_matching
from bot.subscriptions.spec import check_follows, check_keywords, normalise_email, selects
from bot.subscriptions.store import find_subscriber


@app.command("match")
def match_command(
    email: Annotated[str | None, typer.Argument(help="A subscriber whose topics to try.")] = None,
    keyword: Annotated[
        list[str] | None, typer.Option("--keyword", "-k", help="Try this keyword instead.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", "-x", help="With --keyword: a veto keyword.")
    ] = None,
    author: Authors = None,
    org: Organisations = None,
    category: Categories = None,
    exclude_author: ExcludedAuthors = None,
    exclude_org: ExcludedOrganisations = None,
    exclude_category: ExcludedCategories = None,
    min_upvotes: MinUpvotes = None,
    top: Top = None,
    limit: Annotated[int, typer.Option(min=0, help="At most this many papers; 0 for all.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, best first.")] = False,
) -> None:
    """Show every stored paper that matches, best first, with why it matched.

    Either a subscriber's topics (papers similar to a topic's example papers show
    which example and how similar, on the same 0-1 scale as digests), or a trial topic
    given by the options: keywords, authors, organisations, categories, trending
    switches and their exclusions.
    """
    # Trial rules are checked before the database is opened: bad input is said first.
    with as_usage_error():
        trial = follows(
            author, org, category, exclude_author, exclude_org, exclude_category, min_upvotes, top
        )
        checked = check_follows(**trial)
        given = bool(keyword) or selects(checked)
        if email is not None and (given or exclude or any(checked.values())):
            fail("give either a subscriber's EMAIL or options for a trial topic, not both", code=2)
        if email is None and not given:
            fail(
                "give either a subscriber's EMAIL or a trial topic: --keyword, --author, --org,"
                " --category, --min-upvotes or --top",
                code=2,
            )
        topics = _trial_rules(keyword or [], exclude or [], checked) if email is None else {}
        if email is not None:
            normalise_email(email)
    _, engine = open_store()
    texts, facts = papers_for_matching(engine)
    if email is not None:
        topics = _subscriber_rules(engine, email, [paper.id for paper in texts])
    titles = {paper.id: paper.title for paper in texts}
    matcher = Matcher(texts)
    ranked = rank(matcher.match(topics.values()), facts)
    KeywordChecker(matcher).warn(k for rule in topics.values() for k in rule.keywords)
    if limit:
        ranked = ranked[:limit]
    names = {rule.id: name for name, rule in topics.items()}
    if as_json:
        out.print_json(json.dumps([_json(entry, titles, names) for entry in ranked]))
        return
    _print(ranked, titles, names, papers=len(texts))


def _trial_rules(
    keywords: list[str], exclusions: list[str], checked: dict[str, Any]
) -> dict[str, Rule]:
    # The same checks as subscribing, so a topic that works here works there.
    return {
        "(trial)": Rule(
            0, check_keywords(keywords), check_keywords(exclusions, "exclusion"), **checked
        )
    }


def _subscriber_rules(engine: Engine, email: str, papers: list[int]) -> dict[str, Rule]:
    """The subscriber's topics' rules, with the stored papers similar to their examples."""
    with Session(engine) as session:
        subscriber = find_subscriber(session, email)
    if subscriber is None or not subscriber.topics:
        fail(f"{email.strip()} has no subscriptions")
    # numpy: only for a subscriber's topics
    from bot.similar_papers import example_ids, load_similar_papers

    similar = load_similar_papers(engine, papers, example_ids(subscriber.topics))
    rules = similar.rules(subscriber.topics)
    return {topic.name: rule for topic, rule in zip(subscriber.topics, rules, strict=True)}


def _json(entry: RankedPaper, titles: dict[int, str], names: dict[int, str]) -> dict[str, Any]:
    match = entry.best
    return {
        "paper_id": entry.paper_id,
        "title": titles[entry.paper_id],
        "score": round(match.score, 4),
        "kind": match.explanation.kind,
        "rule": match.explanation.label,
        "trending": match.explanation.trending,
        "keyword": match.keyword,
        "field": match.field,
        "matched": match.matched,
        "snippet": match.snippet,
        "similarity": round(match.similarity, 4),
        "topic": names[match.rule_id],
        "topics": [names[rule_id] for rule_id in entry.rule_ids],
    }


def _print(
    ranked: list[RankedPaper], titles: dict[int, str], names: dict[int, str], *, papers: int
) -> None:
    rows = []
    for number, entry in enumerate(ranked, start=1):
        match = entry.best
        topic = ", ".join(names[rule_id] for rule_id in entry.rule_ids)
        rows.append((str(number), f"{match.score:.2f}", titles[entry.paper_id], _why(match, topic)))
    print_rows(
        ("#", "score", "title", "why"),
        rows,
        empty=f"none of the {papers} stored paper(s) match",
        show_lines=True,
    )
    if ranked:
        out.print(f"{len(ranked)} of {papers} stored paper(s) match")


def _why(match: Match, topic: str) -> Text:
    """Why a paper matched, for the table: the rule, where, and the matched text highlighted."""
    why = match.explanation
    trending = f", {why.trending}" if why.trending and why.kind != "trending" else ""
    if why.kind == "keyword":
        line = Text(
            f"{match.keyword!r} in {match.field} ({match.similarity:.2f}){trending}, topic {topic}\n"
        )
        snippet = Text(match.snippet)
        snippet.stylize("bold reverse", *match.snippet_span)  # what matched, on a terminal
        return line + snippet
    if why.kind in ("trending", "similar"):
        return Text(f"{why.label}, topic {topic}")
    return Text(f"{why.label} ({match.matched}){trending}, topic {topic}")
