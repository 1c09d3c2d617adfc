"""Topics by example, measured on hand-labelled reader profiles over the sample dumps.

`tests/data/similarity/profiles.toml` holds reader profiles (2-3 liked papers,
some unliked ones) with the papers each reader would want, decided by reading
the papers, not by running a method. The test prints, per profile and overall,
average precision, precision at 10, recall at 20 and the precision and recall
of what the default threshold includes, for the default method and for the
classic baseline (TF-IDF cosine to the mean of the liked examples); the
profiles used to tune the method and the held-out ones are reported apart. It
fails when the default ranks worse than the baseline or when what it includes
is less than 80% relevant.

A second test replays a reader's feedback for three rounds (each topic's top 10
marked "more" when relevant, "fewer" when not) and prints how the figures move:
over the papers not yet marked, and the share of all relevant papers the reader
has met. It fails when a round's included papers are less than 80% relevant,
as they were after the first round's "fewer" marks while each unliked example
vetoed papers on its own.
"""

import pytest

from bot.matching.similarity import BASELINE_METHOD, DEFAULT_METHOD
from tests.matching.similarity_eval import (
    Outcome,
    Summary,
    evaluate,
    feedback_rounds,
    load_papers,
    load_profiles,
    summarise,
)

INCLUDED_PRECISION_BAR = 0.8


def _figure(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.2f}"


def _row(outcome: Outcome) -> str:
    precision = outcome.included_relevant / outcome.included if outcome.included else None
    recall = outcome.included_relevant / outcome.relevant if outcome.relevant else None
    return (
        f"{_figure(outcome.average_precision)} {_figure(outcome.precision_at_10)} "
        f"{_figure(outcome.recall_at_20)} {outcome.included:>3} {_figure(precision)} "
        f"{_figure(recall)}"
    )


def _summary(summary: Summary) -> str:
    return (
        f"{summary.mean_average_precision:5.3f} {summary.precision_at_10:5.2f} "
        f"{summary.recall_at_20:5.2f} {summary.included:>3} {summary.included_precision:5.2f} "
        f"{summary.included_recall:5.2f}"
    )


def test_similarity_quality_on_the_labelled_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    papers = load_papers()
    profiles = load_profiles()
    titles = {p.title for p in papers}
    for profile in profiles:
        given = set(profile.liked) | set(profile.unliked) | profile.relevant
        assert given <= titles, f"{profile.name}: titles not in the dumps: {given - titles}"
    assert len(profiles) >= 25
    ours = evaluate(papers, profiles, DEFAULT_METHOD)
    theirs = evaluate(papers, profiles, BASELINE_METHOD)

    head = "   AP  P@10  R@20 inc     P     R"
    lines = [
        f"{'':<36} {'default':<34} | baseline (TF-IDF cosine to the examples' mean)",
        f"{'profile':<30} {'truth':>5} {head} | {head}",
    ]
    for profile, mine_row, base_row in zip(profiles, ours, theirs, strict=True):
        name = profile.name + (" *" if profile.held_out else "")
        lines.append(f"{name:<30} {mine_row.relevant:>5} {_row(mine_row)} | {_row(base_row)}")
    halves = {
        "tuning half": [n for n, p in enumerate(profiles) if not p.held_out],
        "held-out half (*)": [n for n, p in enumerate(profiles) if p.held_out],
        "all": list(range(len(profiles))),
    }
    lines.append(
        f"{'':<30} {'':>5}   MAP  P@10  R@20 inc     P     R |   MAP  P@10  R@20 inc     P     R"
    )
    summaries = {}
    for name, rows in halves.items():
        mine = summarise([ours[n] for n in rows])
        base = summarise([theirs[n] for n in rows])
        summaries[name] = (mine, base)
        lines.append(f"{name:<36} {_summary(mine)} | {_summary(base)}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))

    mine, base = summaries["all"]
    assert mine.mean_average_precision >= base.mean_average_precision
    assert mine.included_precision >= INCLUDED_PRECISION_BAR


def test_feedback_rounds_on_the_labelled_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    rounds = feedback_rounds(load_papers(), load_profiles(), DEFAULT_METHOD)
    lines = ["round   MAP  P@10  R@20 inc     P     R   met (marked more so far + included)"]
    lines += [
        f"{n:>5} {_summary(step.summary)} {step.found_recall:5.2f}" for n, step in enumerate(rounds)
    ]
    with capsys.disabled():
        print(
            "\nfeedback: each round's top 10 marked more (relevant) or fewer (not)\n"
            + "\n".join(lines)
        )
    assert all(step.summary.included_precision >= INCLUDED_PRECISION_BAR for step in rounds)
    assert rounds[-1].found_recall > rounds[0].found_recall
