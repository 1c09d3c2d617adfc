"""`paperbot match`: which stored papers a subscriber's topics, or a trial keyword, select."""

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.cli.app import app, fail, open_store, out
from bot.cli.hints import KeywordChecker
from bot.matching.engine import Matcher, Rule
from bot.matching.ranking import RankedPaper, rank
from bot.papers import papers_for_matching
from bot.subscriptions.spec import check_keywords
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
    limit: Annotated[int, typer.Option(min=0, help="At most this many papers; 0 for all.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, best first.")] = False,
) -> None:
    """Show every stored paper that matches, best first, with why it matched."""
    if (email is None) == (not keyword):
        fail("give either a subscriber's EMAIL or --keyword", code=2)
    _, engine = open_store()
    topics = _rules(engine, email, keyword or [], exclude or [])
    texts, facts = papers_for_matching(engine)
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


def _rules(
    engine: Engine, email: str | None, keywords: list[str], exclusions: list[str]
) -> dict[str, Rule]:
    if email is None:
        # The same checks as subscribing, so a keyword that works here works there.
        return {
            "(trial)": Rule(0, check_keywords(keywords), check_keywords(exclusions, "exclusion"))
        }
    with Session(engine) as session:
        subscriber = find_subscriber(session, email)
    if subscriber is None or not subscriber.topics:
        fail(f"{email.strip()} has no subscriptions")
    return {t.name: Rule(t.id, t.keywords, t.exclusions) for t in subscriber.topics}


def _json(entry: RankedPaper, titles: dict[int, str], names: dict[int, str]) -> dict[str, Any]:
    match = entry.best
    return {
        "paper_id": entry.paper_id,
        "title": titles[entry.paper_id],
        "score": round(match.score, 4),
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
    table = Table("#", "score", "title", "why", show_lines=True)
    for number, entry in enumerate(ranked, start=1):
        match = entry.best
        start, end = match.snippet_span
        snippet = match.snippet
        highlighted = f"{escape(snippet[:start])}[bold reverse]{escape(snippet[start:end])}[/]{escape(snippet[end:])}"
        topic = ", ".join(names[rule_id] for rule_id in entry.rule_ids)
        why = (
            f"{escape(repr(match.keyword))} in {match.field} ({match.similarity:.2f}), "
            f"topic {escape(topic)}\n{highlighted}"
        )
        table.add_row(str(number), f"{match.score:.2f}", escape(titles[entry.paper_id]), why)
    out.print(table)
    out.print(f"{len(ranked)} of {papers} stored paper(s) match")
