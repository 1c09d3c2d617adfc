"""`paperbot report`: the latest runs, how they ended and why."""

import json
from dataclasses import asdict
from typing import Annotated

import typer

from bot.cli.app import app, fail, jsonable, open_store, out, print_rows
from bot.delivery.outcomes import DONE, OutcomeCounts, summarise
from bot.runs import RUN_KINDS, RunView, recent_runs


@app.command("report")
def report_command(
    limit: Annotated[int, typer.Option(min=1, help="How many runs to show.")] = 10,
    kind: Annotated[
        str | None, typer.Option(help=f"Only runs of this kind: {', '.join(RUN_KINDS)}.")
    ] = None,
    as_json_output: Annotated[
        bool, typer.Option("--json", help="One JSON array, newest first.")
    ] = False,
) -> None:
    """Show the latest runs: when, what they did, and why anything was skipped or failed."""
    if kind is not None and kind not in RUN_KINDS:
        fail(f"--kind must be {' or '.join(RUN_KINDS)}, not {kind!r}", code=2)
    _, engine = open_store()
    runs = recent_runs(engine, limit=limit, kind=kind)
    if as_json_output:
        out.print_json(json.dumps([jsonable(asdict(run)) for run in runs]))
        return
    print_rows(
        ("run", "kind", "started (UTC)", "took", "status", "what happened"),
        (
            (
                str(run.id),
                run.kind,
                run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                _duration(run),
                run.status if run.finished_at else "did not finish",
                _story(run),
            )
            for run in runs
        ),
        empty="no runs recorded yet" if kind is None else f"no {kind} runs recorded yet",
    )


def _duration(run: RunView) -> str:
    if run.finished_at is None:
        return ""
    return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"


def _story(run: RunView) -> str:
    if run.kind == "delivery" and run.finished_at is not None and run.counts:
        # In the words and numbers `paperbot digest` said them.
        numbers = summarise(OutcomeCounts.from_record(run.counts))
    else:
        numbers = ", ".join(
            f"{name.replace('_', ' ')} {value}" for name, value in run.counts.items() if value
        )
    problems = [
        f"{d['target']}: {d['outcome']}: {d['reason']}" for d in run.details if _needs_look(d)
    ]
    if len(problems) > STORY_ROWS:
        more = len(problems) - STORY_ROWS
        problems[STORY_ROWS:] = [f"... and {more:,} more (paperbot report --json)"]
    return "\n".join([numbers or "nothing to do", *problems])


STORY_ROWS = 10
"""The rows a run's story lists; past that it counts the rest (all of them are in --json)."""

_WENT_WELL = {"ok", *DONE}
"""A source ingested, or a digest delivered (`DONE`)."""


def _needs_look(row: dict[str, str]) -> bool:
    """A row worth a reader's look: one that neither went well nor was skipped by the schedule."""
    return row["outcome"] not in _WENT_WELL and bool(row["reason"]) and not row.get("routine")
