"""One delivery run against real files, a real database (SQLite and PostgreSQL) and a real SMTP server."""

import re
import threading
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.testclient import TestClient

from bot.config import Settings, load_settings
from bot.db import open_engine, upgrade_schema, write_session
from bot.delivery import claims
from bot.delivery.claims import Holding
from bot.delivery.run import deliver
from bot.digest.render import DigestRenderer
from bot.digest.site import days_touched, write_site_digests
from bot.errors import InputError
from bot.ingest.pipeline import ingest_file
from bot.models import (
    Delivery,
    DeliveryRound,
    Run,
    SentPaper,
    Subscriber,
    Subscription,
    TopicExample,
)
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import subscribe, unsubscribe
from bot.tokens import read_feedback_token
from bot.web.app import create_app
from tests.conftest import DATA, SAMPLES
from tests.delivery.conftest import ManualClock, SmtpServer


def _setup(
    tmp_path: Path,
    clock: ManualClock,
    env: dict[str, str] | None = None,
    *,
    database_url: str | None = None,
) -> tuple[Engine, Settings]:
    """Settings, and a database holding the papers of one sample dump.

    The database is the settings' own: by default a SQLite file in the data folder;
    any other `database_url` (PostgreSQL) is given as PAPERBOT_DATABASE_URL.
    """
    environ = {"PAPERBOT_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    if database_url is not None and not database_url.startswith("sqlite"):
        environ["PAPERBOT_DATABASE_URL"] = database_url
    settings = load_settings(environ=environ, cwd=tmp_path)
    engine = open_engine(settings.database_url)
    upgrade_schema(engine)
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=clock, year=2025)
    return engine, settings


def _subscribe(
    engine: Engine, clock: ManualClock, email: str, *keywords: str, **options: Any
) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec(email, keywords, **options), now=clock())


def _count(engine: Engine, table: type, *where: ColumnElement[bool]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _smtp_env(server: SmtpServer) -> dict[str, str]:
    return {
        "PAPERBOT_DELIVERY_TRANSPORT": "smtp",
        "PAPERBOT_SMTP_HOST": server.host,
        "PAPERBOT_SMTP_PORT": str(server.port),
        "PAPERBOT_SMTP_SECURITY": "none",
    }


def test_files_are_written_once_and_the_ledger_remembers(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    _subscribe(engine, clock, "bo@lab.org", "backpropagation", channels=["markdown"])
    report = deliver(engine, settings, clock=clock)
    assert sorted((o.email, o.channel, o.status) for o in report.outcomes) == [
        ("ana@lab.org", "email", "sent"),
        ("bo@lab.org", "markdown", "sent"),
    ]
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert message["To"] == "ana@lab.org"
    body = message.get_body(("plain",))
    assert body is not None
    assert "Graph Neural Networks" in body.get_content()
    [markdown] = list(settings.digests_dir.glob("*.md"))
    assert "propagation" in markdown.read_text(encoding="utf-8").lower()
    papers = sum(o.papers for o in report.outcomes)
    assert _count(engine, SentPaper) == papers > 0
    clock.now += timedelta(days=1)
    again = deliver(engine, settings, clock=clock)
    assert {o.status for o in again.outcomes} == {"skipped"}
    assert {o.reason for o in again.outcomes} == {"no new matching papers"}
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1


def test_a_run_the_same_day_waits_for_the_cadence(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", cadence="weekly")
    deliver(engine, settings, clock=clock)  # on a Saturday: never served, so due at once
    clock.now += timedelta(days=1, hours=23, minutes=59)  # a minute before Monday's slot
    [outcome] = deliver(engine, settings, clock=clock).outcomes
    assert (outcome.status, outcome.reason) == (
        "skipped",
        "weekly digest already sent at 2025-11-22 08:00 UTC; next on 2025-11-24 08:00 UTC",
    )


def test_a_paused_subscriber_is_skipped_and_gets_the_papers_on_resuming(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", cadence="paused")
    [outcome] = deliver(engine, settings, clock=clock).outcomes
    assert (outcome.status, outcome.reason) == ("skipped", "paused")
    assert _count(engine, SentPaper) == 0
    clock.now += timedelta(days=2)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", cadence="daily")
    [outcome] = deliver(engine, settings, clock=clock).outcomes
    assert outcome.status == "sent" and outcome.papers > 0


def test_a_stop_request_finishes_what_is_on_the_way_and_leaves_the_rest_due(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    engine, settings = _setup(tmp_path, clock, _smtp_env(smtp_server), database_url=database_url)
    emails = [f"reader{n}@lab.org" for n in range(8)]
    for email in emails:
        _subscribe(engine, clock, email, "graph neural network")
    stop = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 2:
            stop.set()  # as SIGTERM does in the service

    first = deliver(engine, settings, clock=clock, progress=progress, stop=stop)
    sent = {o.email for o in first.outcomes if o.status == "sent"}
    stopped = {o.email for o in first.outcomes if o.status == "skipped"}
    # Messages already on their way when the stop came are finished and recorded.
    assert 2 <= len(sent) < len(emails) and sent | stopped == set(emails)
    assert all("stopping" in o.reason for o in first.outcomes if o.status == "skipped")
    assert {r.recipients[0] for r in smtp_server.handler.received} == sent
    assert _count(engine, Delivery) == len(sent)
    # The next run sends exactly the rest.
    second = deliver(engine, settings, clock=clock)
    assert {o.email for o in second.outcomes if o.status == "sent"} == stopped
    received = sorted(r.recipients[0] for r in smtp_server.handler.received)
    assert received == sorted(emails)


def test_a_dry_run_changes_nothing(tmp_path: Path, database_url: str, clock: ManualClock) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    report = deliver(engine, settings, clock=clock, dry_run=True)
    assert [o.status for o in report.outcomes] == ["would send"] and report.run_id is None
    assert not settings.outbox_dir.exists() or not list(settings.outbox_dir.iterdir())
    assert (
        _count(engine, Delivery)
        == _count(engine, SentPaper)
        == _count(engine, Run, col(Run.kind) == "delivery")
        == 0
    )


def test_only_an_address_not_subscribed_is_refused_before_anything_is_recorded(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    _subscribe(engine, clock, "gone@lab.org", "graph neural network")
    with write_session(engine) as session:
        unsubscribe(session, "gone@lab.org", now=clock())
    for address in ("nobody@x.org", "GONE@lab.org"):
        with pytest.raises(InputError, match=f"no active subscriber with the address '{address}'"):
            deliver(engine, settings, clock=clock, only=address)
    assert _count(engine, Run, col(Run.kind) == "delivery") == _count(engine, DeliveryRound) == 0
    assert [
        o.status for o in deliver(engine, settings, clock=clock, only="ANA@lab.org").outcomes
    ] == ["sent"]


def test_one_rejected_recipient_does_not_stop_the_others(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    engine, settings = _setup(tmp_path, clock, _smtp_env(smtp_server), database_url=database_url)
    smtp_server.handler.reject.add("bad@lab.org")
    for email in ("ana@lab.org", "bad@lab.org", "cy@lab.org"):
        _subscribe(engine, clock, email, "graph neural network")
    report = deliver(engine, settings, clock=clock)
    status = {o.email: (o.status, o.reason) for o in report.outcomes}
    assert status["ana@lab.org"][0] == status["cy@lab.org"][0] == "sent"
    assert status["bad@lab.org"][0] == "failed" and "550" in status["bad@lab.org"][1]
    assert sorted(r.recipients[0] for r in smtp_server.handler.received) == [
        "ana@lab.org",
        "cy@lab.org",
    ]
    with Session(engine) as session:
        run = session.get_one(Run, report.run_id)
    assert run.status == "partial" and run.counts["failed"] == 1


def test_temporary_failures_are_retried_with_backoff(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    engine, settings = _setup(tmp_path, clock, _smtp_env(smtp_server), database_url=database_url)
    smtp_server.handler.tempfail["ana@lab.org"] = 2
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    pauses: list[float] = []
    [outcome] = deliver(engine, settings, clock=clock, sleep=pauses.append).outcomes
    assert outcome.status == "sent"
    assert len(pauses) == 2 and pauses[1] > pauses[0] * 0.5  # growing, with jitter
    assert len(smtp_server.handler.received) == 1
    with Session(engine) as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert delivery.attempts == 3


def test_retries_pause_once_per_attempt_for_all_failing_recipients(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    # Every address failing now and then shares the same few pauses: a run with many
    # struggling recipients waits per attempt, not per recipient.
    engine, settings = _setup(tmp_path, clock, _smtp_env(smtp_server), database_url=database_url)
    emails = [f"reader{n}@lab.org" for n in range(6)]
    for n, email in enumerate(emails):
        smtp_server.handler.tempfail[email] = 1 + n % 2
        _subscribe(engine, clock, email, "graph neural network")
    pauses: list[float] = []
    report = deliver(engine, settings, clock=clock, sleep=pauses.append)
    assert [o.status for o in report.outcomes] == ["sent"] * 6
    assert len(pauses) == 2
    ids_per_address: dict[str, set[str]] = {}
    for message in smtp_server.handler.received:
        ids_per_address.setdefault(message.recipients[0], set()).add(message.message["Message-ID"])
    assert sorted(ids_per_address) == sorted(emails)
    with Session(engine) as session:
        recorded = {d.message_id for d in session.scalars(select(Delivery))}
    # One message each, and the run records the Message-ID each recipient got.
    assert all(len(ids) == 1 for ids in ids_per_address.values())
    assert recorded == {ids.pop() for ids in ids_per_address.values()}


def test_each_channel_counts_alone_a_failed_email_goes_again_and_the_written_file_does_not(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    engine, settings = _setup(tmp_path, clock, _smtp_env(smtp_server), database_url=database_url)
    smtp_server.handler.reject.add("both@lab.org")
    _subscribe(
        engine, clock, "both@lab.org", "graph neural network", channels=["markdown", "email"]
    )
    first = deliver(engine, settings, clock=clock)
    assert sorted((o.channel, o.status) for o in first.outcomes) == [
        ("email", "failed"),
        ("markdown", "sent"),
    ]
    # The email has not had its papers: the next run tries it again at once; the
    # Markdown file had them, and gets nothing until its next slot.
    smtp_server.handler.reject.clear()
    clock.now += timedelta(minutes=5)
    second = deliver(engine, settings, clock=clock)
    assert [(o.channel, o.status) for o in second.outcomes] == [("email", "sent")]
    assert [m.recipients[0] for m in smtp_server.handler.received] == ["both@lab.org"]
    assert len(list(settings.digests_dir.glob("*.md"))) == 1


def test_unsubscribing_and_coming_back_does_not_resend_old_papers(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    first = deliver(engine, settings, clock=clock)
    with write_session(engine) as session:
        unsubscribe(session, "ana@lab.org", now=clock())
    clock.now += timedelta(days=1)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    [again] = deliver(engine, settings, clock=clock).outcomes
    assert first.outcomes[0].status == "sent"
    assert (again.status, again.reason) == ("skipped", "no new matching papers")


def test_progress_is_reported_subscriber_by_subscriber(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    _subscribe(engine, clock, "bo@lab.org", "backpropagation", channels=["markdown", "email"])
    seen: list[tuple[int, int]] = []
    deliver(engine, settings, clock=clock, progress=lambda done, total: seen.append((done, total)))
    # bo gets an email and a Markdown file: settled once both are done.
    assert seen == [(1, 2), (2, 2)]


def test_subscribers_are_read_a_page_at_a_time_and_one_gone_meanwhile_is_not_served(
    tmp_path: Path, database_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of two: the run reads who is due page by page, then reads each page of
    # them again as it claims; a reader who unsubscribes in between gets nothing.
    monkeypatch.setattr("bot.subscriptions.store.LIST_PAGE", 2)
    monkeypatch.setattr("bot.delivery.run.LIST_PAGE", 2)
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    emails = [f"reader{n}@lab.org" for n in range(7)]
    for email in emails:
        _subscribe(engine, clock, email, "graph neural network")
    _subscribe(engine, clock, "paused@lab.org", "graph neural network", cadence="paused")
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 1:
            with write_session(engine) as session:
                unsubscribe(session, "reader6@lab.org", now=clock())

    report = deliver(engine, settings, clock=clock, progress=progress)

    sent = sorted(o.email for o in report.outcomes if o.status == "sent")
    assert sent == emails[:6]
    assert [(o.email, o.reason) for o in report.outcomes if o.status != "sent"] == [
        ("paused@lab.org", "paused")
    ]
    assert seen[-1] == (7, 7)  # the reader who left counts as settled: the run ends
    assert len(list(settings.outbox_dir.glob("*.eml"))) == _count(engine, Delivery) == 6


def test_a_dry_run_reads_its_subscribers_a_page_at_a_time_too(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.subscriptions.store.LIST_PAGE", 2)
    monkeypatch.setattr("bot.delivery.run.LIST_PAGE", 2)
    engine, settings = _setup(tmp_path, clock)
    emails = [f"reader{n}@lab.org" for n in range(5)]
    for email in emails:
        _subscribe(engine, clock, email, "graph neural network")

    report = deliver(engine, settings, clock=clock, dry_run=True)

    assert [(o.email, o.status) for o in report.outcomes] == [(e, "would send") for e in emails]


def test_a_long_run_keeps_its_claims_past_the_first_lease(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    env = {"PAPERBOT_DELIVERY_CLAIM_LEASE": "1800"}
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    for email in ("ana@lab.org", "bo@lab.org", "cy@lab.org", "di@lab.org"):
        _subscribe(engine, clock, email, "graph neural network")
    other = Holding(claims.start_round(engine, holder="other-host:7", now=clock()), "other-host:7")
    taken: list[frozenset[int]] = []

    def slow_progress(done: int, total: int) -> None:
        clock.now += timedelta(minutes=15)  # 4 digests: an hour, twice the lease
        with Session(engine) as session:
            waiting = session.scalars(
                select(col(Subscriber.id)).where(
                    ~col(Subscriber.id).in_(select(col(Delivery.subscriber_id)))
                )
            ).all()
        ids = [i for i in waiting if i is not None]  # primary keys, typed as optional
        got = claims.claim(engine, other, ids, now=clock(), lease=timedelta(hours=1))
        taken.append(got.mine)

    report = deliver(engine, settings, clock=clock, progress=slow_progress)
    assert taken == [frozenset()] * 4  # another worker never got one still on its way
    assert {o.status for o in report.outcomes} == {"sent"}


def _sent_to(engine: Engine, email: str) -> set[int]:
    with Session(engine) as session:
        query = (
            select(col(SentPaper.paper_id))
            .join(Subscriber, col(Subscriber.id) == col(SentPaper.subscriber_id))
            .where(col(Subscriber.email) == email)
        )
        return set(session.scalars(query))


def test_a_weekly_subscriber_gets_one_digest_a_week_with_all_papers_since_the_last(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    clock.now = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)  # a Monday at schedule.send_at
    engine, settings = _setup(
        tmp_path, clock, {"PAPERBOT_DELIVERY_BACKLOG_DAYS": "1"}, database_url=database_url
    )
    _subscribe(engine, clock, "weekly@lab.org", "graph neural network", cadence="weekly")
    _subscribe(engine, clock, "daily@lab.org", "graph neural network")
    new_dumps = {19: "compact-1.txt", 21: "compact-2.txt"}  # Wednesday and Friday
    sent: dict[str, list[tuple[datetime, int]]] = {}
    for day in range(17, 25):
        if day in new_dumps:
            clock.now = datetime(2025, 11, day, 7, 0, tzinfo=UTC)
            ingest_file(engine, SAMPLES / new_dumps[day], clock=clock, year=2025)
        for hour in (8, 20):  # a run at the slot, and one later the same day
            clock.now = datetime(2025, 11, day, hour, 0, tzinfo=UTC)
            for outcome in deliver(engine, settings, clock=clock).outcomes:
                if outcome.status == "sent":
                    sent.setdefault(outcome.email, []).append((clock.now, outcome.papers))
                elif outcome.email == "weekly@lab.org" and day not in (17, 24):
                    assert outcome.reason == (
                        "weekly digest already sent at 2025-11-17 08:00 UTC;"
                        " next on 2025-11-24 08:00 UTC"
                    )
    first, second = sent["weekly@lab.org"]
    assert (first[0].day, second[0].day) == (17, 24) and first[0].hour == second[0].hour == 8
    assert [when.day for when, _ in sent["daily@lab.org"]] == [17, 19, 21]
    # The week's digest holds everything the daily subscriber got over the week.
    assert _sent_to(engine, "weekly@lab.org") == _sent_to(engine, "daily@lab.org")
    assert second[1] == sum(papers for when, papers in sent["daily@lab.org"] if when.day > 17) > 0


def test_a_new_weekly_subscriber_gets_the_whole_week_whatever_the_backlog(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    clock.now = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
    engine, settings = _setup(
        tmp_path, clock, {"PAPERBOT_DELIVERY_BACKLOG_DAYS": "1"}, database_url=database_url
    )
    clock.now = datetime(2025, 11, 20, 8, 0, tzinfo=UTC)  # three days after the papers came
    _subscribe(engine, clock, "weekly@lab.org", "graph neural network", cadence="weekly")
    _subscribe(engine, clock, "daily@lab.org", "graph neural network")
    outcomes = {o.email: o for o in deliver(engine, settings, clock=clock).outcomes}
    assert (outcomes["weekly@lab.org"].status, outcomes["weekly@lab.org"].papers) == ("sent", 4)
    # A daily subscriber's first digest looks back delivery.backlog_days only.
    assert outcomes["daily@lab.org"].reason == "no new matching papers"


def test_subscribers_in_different_time_zones_are_due_at_their_own_send_at(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    clock.now = datetime(2025, 11, 22, 9, 0, tzinfo=UTC)  # 18:00 in Tokyo
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", timezone="Asia/Tokyo")
    _subscribe(engine, clock, "bo@lab.org", "graph neural network")  # the configured UTC
    first = deliver(engine, settings, clock=clock).outcomes
    assert [(o.email, o.status) for o in first] == [("ana@lab.org", "sent"), ("bo@lab.org", "sent")]
    ingest_file(engine, SAMPLES / "compact-1.txt", clock=clock, year=2025)

    def run_at(hour: int, day: int = 22) -> dict[str, str]:
        clock.now = datetime(2025, 11, day, hour, 0, tzinfo=UTC)
        outcomes = deliver(engine, settings, clock=clock).outcomes
        return {o.email: o.status if o.status == "sent" else o.reason for o in outcomes}

    assert run_at(22) == {
        "ana@lab.org": "daily digest already sent at 2025-11-22 18:00 JST;"
        " next on 2025-11-23 08:00 JST",
        "bo@lab.org": "daily digest already sent at 2025-11-22 09:00 UTC;"
        " next on 2025-11-23 08:00 UTC",
    }
    # 23:00 UTC is 08:00 in Tokyo; bo's 08:00 comes nine hours later.
    assert run_at(23)["ana@lab.org"] == "sent"
    assert run_at(23)["bo@lab.org"].startswith("daily digest already sent")
    assert run_at(8, day=23) == {
        "ana@lab.org": "daily digest already sent at 2025-11-23 08:00 JST;"
        " next on 2025-11-24 08:00 JST",
        "bo@lab.org": "sent",
    }


def test_a_digest_of_followed_authors_and_trending_papers_says_why(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    for day in ("2023-11-27", "2023-11-28"):
        ingest_file(engine, DATA / "hf_daily" / f"{day}.json", clock=clock)
    with write_session(engine) as session:
        spec = make_spec(
            "ana@lab.org", [], name="people", authors=["Blattmann, A."], top=1,
            exclude_organisations=["example-lab"],
        )  # fmt: skip
        subscribe(session, spec, now=clock())
        subscribe(session, make_spec("ana@lab.org", [], name="hot", min_upvotes=50), now=clock())
    report = deliver(engine, settings, clock=clock)
    assert [(o.status, o.papers) for o in report.outcomes] == [("sent", 2)]
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert (
        "Matched author: Blattmann, A. (trending: 40 upvotes, #1 of the day) (topic: people):\n"
        '   "*Andreas Blattmann*"'
    ) in text
    assert 'Matched trending (topic: hot):\n   "*55 upvotes, #1 of the day*"' in text
    html = message.get_body(("html",))
    assert html is not None
    assert "<strong>author: Blattmann, A.</strong>" in html.get_content()


def test_each_entry_carries_feedback_links_that_mark_the_paper_when_followed(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    env = {"PAPERBOT_WEB_BASE_URL": "http://testserver", "PAPERBOT_WEB_SECRET": "s" * 32}
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    _subscribe(
        engine,
        clock,
        "ana@lab.org",
        "graph neural network",
        name="graphs",
        channels=["markdown", "email"],
    )
    _subscribe(engine, clock, "ana@lab.org", "diffusion", name="video")
    deliver(engine, settings, clock=clock)
    [eml] = settings.outbox_dir.glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    [markdown] = settings.digests_dir.glob("*.md")
    with Session(engine) as session:
        query = select(func.count()).select_from(SentPaper).where(col(SentPaper.channel) == "email")
        sent = session.scalar(query)
    link = re.compile(r"http://testserver/feedback/(more|fewer)/([A-Za-z0-9_.-]+)")
    parts = [message.get_body((kind,)) for kind in ("plain", "html")]
    bodies = [part.get_content() for part in parts if part is not None]
    for body in [*bodies, markdown.read_text(encoding="utf-8")]:
        links = link.findall(body)
        more = [token for direction, token in links if direction == "more"]
        # One token per entry, for both of its links.
        assert more == [token for direction, token in links if direction == "fewer"]
        assert len(set(more)) == len(more) == sent
    with Session(engine) as session:
        topics = set(session.scalars(select(col(Subscription.id))))
    tokens = [token for direction, token in link.findall(bodies[0]) if direction == "more"]
    today = clock().date()
    # Each entry's links name the topic it was sent under: both topics have entries.
    assert {read_feedback_token("s" * 32, t, today=today).topic_id for t in tokens} == topics
    token = tokens[0]
    found = read_feedback_token("s" * 32, token, today=today)

    # The site-wide digests, which anyone may read, carry no reader's links.
    days = days_touched(engine, clock() - timedelta(days=1))
    site_digests = write_site_digests(engine, DigestRenderer(), tmp_path / "public", days)
    assert site_digests
    for path in site_digests:
        assert "/feedback/" not in path.read_text(encoding="utf-8")

    client = TestClient(create_app(engine, settings, clock=clock))
    url = f"/feedback/more/{token}"
    shown = client.get(url)
    assert shown.status_code == 200
    assert _count(engine, TopicExample) == 0  # opening the link changes nothing
    csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text)
    assert csrf is not None
    done = client.post(url, data={"csrf": csrf[1]})
    assert done.status_code == 200 and "Noted: more like this" in done.text
    with Session(engine) as session:
        [example] = session.scalars(select(TopicExample)).all()
    assert (example.subscription_id, example.paper_id) == (found.topic_id, found.paper_id)
    assert (example.liked, example.source) == (True, "feedback")


def test_without_a_base_url_digests_carry_no_feedback_links(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", channels=["markdown", "email"])
    deliver(engine, settings, clock=clock)
    [eml] = settings.outbox_dir.glob("*.eml")
    [markdown] = settings.digests_dir.glob("*.md")
    for text in (eml.read_text(), markdown.read_text(encoding="utf-8")):
        assert "/feedback/" not in text and "like this" not in text
