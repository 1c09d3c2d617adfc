"""`paperbot digest` and `paperbot preview` end to end, as real processes."""

import json
import os
import re
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.cli.report import STORY_ROWS
from bot.db import open_engine
from bot.models import Delivery
from tests.conftest import SAMPLES, RunCli, prepared_data, use_data
from tests.delivery.conftest import (
    ECHOED_AUTH,
    ECHOED_PASSWORD,
    ECHOED_USER,
    Handler,
    SmtpServer,
    StartServer,
)


@pytest.fixture(scope="module")
def ready_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Papers of one sample dump, and two readers: ana by email, bo by Markdown."""
    return prepared_data(
        tmp_path_factory,
        ("ingest", "--year", "2025", str(SAMPLES / "spaced-1.txt")),
        ("subscribe", "ana@lab.org", "graph neural network"),
        ("subscribe", "bo@lab.org", "backpropagation", "--format", "markdown"),
    )


@pytest.fixture
def ready(run_cli: RunCli, tmp_path: Path, ready_data: Path) -> RunCli:
    """`run_cli` on a copy of `ready_data`."""
    use_data(ready_data, tmp_path)
    return run_cli


def test_a_dry_run_then_a_real_run_then_nothing_twice(ready: RunCli, tmp_path: Path) -> None:
    dry = ready("digest", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would send" in dry.stdout and "dry run: nothing sent or recorded" in dry.stdout
    assert not (tmp_path / "paperbot-data" / "outbox").exists()
    real = ready("digest")
    assert real.returncode == 0, real.stderr
    assert len(list((tmp_path / "paperbot-data" / "outbox").glob("*.eml"))) == 1
    assert len(list((tmp_path / "paperbot-data" / "digests").glob("*.md"))) == 1
    again = ready("digest")
    assert again.returncode == 0 and "already sent" in again.stdout
    assert len(list((tmp_path / "paperbot-data" / "outbox").glob("*.eml"))) == 1
    [run, *_] = json.loads(ready("report", "--json", "--kind", "delivery").stdout)
    assert run["status"] == "ok" and run["counts"]["skipped"] == 2


def test_only_one_subscriber(ready: RunCli, tmp_path: Path) -> None:
    result = ready("digest", "--only", "BO@lab.org")
    assert result.returncode == 0, result.stderr
    assert "bo@lab.org" in result.stdout and "ana@lab.org" not in result.stdout
    missing = ready("digest", "--only", "ghost@lab.org")
    assert missing.returncode == 1 and "no active subscriber" in missing.stderr


def test_without_a_base_url_digest_warns_once_that_its_mail_has_no_links(
    ready: RunCli, tmp_path: Path
) -> None:
    for args in (["digest", "--dry-run"], ["digest"]):
        result = ready(*args)
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1, result.stderr
        assert warnings[0].startswith("paperbot: warning: web.base_url is not set: digests go out")
        assert "set web.base_url (or PAPERBOT_WEB_BASE_URL)" in warnings[0]
    [eml] = (tmp_path / "paperbot-data" / "outbox").glob("*.eml")
    assert "List-Unsubscribe" not in eml.read_text()  # what the warning said


def test_with_a_base_url_digest_says_nothing_of_it_and_the_mail_has_its_links(
    ready: RunCli, tmp_path: Path
) -> None:
    result = ready("digest", env={"PAPERBOT_WEB_BASE_URL": "https://papers.example.org"})
    assert result.returncode == 0, result.stderr
    assert "web.base_url" not in result.stderr
    [eml] = (tmp_path / "paperbot-data" / "outbox").glob("*.eml")
    assert "List-Unsubscribe: <https://papers.example.org/unsubscribe/" in eml.read_text()


def test_only_an_address_not_subscribed_records_no_run_and_no_round(
    ready: RunCli, tmp_path: Path
) -> None:
    before = json.loads(ready("report", "--json").stdout)
    refused = ready("digest", "--only", "nobody@x.org")
    assert refused.returncode == 1
    [warning, error] = refused.stderr.splitlines()  # no web.base_url in these settings
    assert warning.startswith("paperbot: warning: web.base_url is not set")
    assert error == "paperbot: error: no active subscriber with the address 'nobody@x.org'"
    assert json.loads(ready("report", "--json").stdout) == before
    with sqlite3.connect(tmp_path / "paperbot-data" / "paperbot.db") as db:
        assert db.execute("SELECT count(*) FROM deliveryround").fetchone() == (0,)


def test_output_files_take_the_permissions_the_umask_gives(
    run_cli: RunCli, samples: Path, tmp_path: Path
) -> None:
    # The commands inherit this process's umask; 027 is neither the usual 022 nor private.
    umask = os.umask(0o027)
    try:
        assert run_cli("ingest", "--year", "2025", str(samples / "spaced-1.txt")).returncode == 0
        subscribed = run_cli("subscribe", "ana@lab.org", "graph neural network", "--format", "both")
        assert subscribed.returncode == 0
        assert run_cli("digest").returncode == 0
    finally:
        os.umask(umask)
    data = tmp_path / "paperbot-data"
    written = {
        kind: list(folder.glob(pattern))
        for kind, folder, pattern in (
            ("email", data / "outbox", "*.eml"),
            ("markdown", data / "digests", "*.md"),
            ("site", data / "digests" / "site", "*.md"),
        )
    }
    assert all(len(paths) == 1 for paths in written.values()), written
    modes = {kind: oct(stat.S_IMODE(paths[0].stat().st_mode)) for kind, paths in written.items()}
    assert modes == {"email": "0o640", "markdown": "0o640", "site": "0o640"}


def test_preview_writes_a_file_and_records_nothing(ready: RunCli, tmp_path: Path) -> None:
    result = ready("preview", "ana@lab.org", "--format", "md", "--output", "ana.md")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "ana.md").read_text(encoding="utf-8")
    assert "Graph Neural Networks" in text and "**" in text
    html = ready("preview", "ana@lab.org", "--output", "ana.html")
    assert html.returncode == 0 and "<mark" in (tmp_path / "ana.html").read_text(encoding="utf-8")
    assert ready("digest").returncode == 0  # the preview did not count as a delivery
    assert len(list((tmp_path / "paperbot-data" / "outbox").glob("*.eml"))) == 1


def test_preview_without_output_prints_the_digest_and_writes_no_file(
    ready: RunCli, tmp_path: Path
) -> None:
    before = sorted(tmp_path.iterdir())
    result = ready("preview", "ana@lab.org", "--format", "md")
    assert result.returncode == 0, result.stderr
    assert "Graph Neural Networks" in result.stdout and "**" in result.stdout
    written = ready("preview", "ana@lab.org", "--format", "md", "--output", "ana.md")
    assert result.stdout == (tmp_path / "ana.md").read_text(encoding="utf-8")
    assert written.stdout.startswith("wrote ana.md: ")
    assert re.fullmatch(r"\d+ paper\(s\), \d+ more waiting\n", result.stderr)
    assert sorted(tmp_path.iterdir()) == sorted([*before, tmp_path / "ana.md"])


def test_a_refused_login_keeps_no_word_of_the_servers_reply(
    ready: RunCli,
    echoing_auth_server: SmtpServer,
    tmp_path: Path,
) -> None:
    server = echoing_auth_server
    env = {
        "PAPERBOT_DELIVERY_TRANSPORT": "smtp",
        "PAPERBOT_DELIVERY_RETRIES": "0",
        "PAPERBOT_SMTP_HOST": server.host,
        "PAPERBOT_SMTP_PORT": str(server.port),
        "PAPERBOT_SMTP_SECURITY": "none",
        "PAPERBOT_SMTP_USERNAME": ECHOED_USER,
        "PAPERBOT_SMTP_PASSWORD": ECHOED_PASSWORD,
    }
    runs = [ready("--verbose", "digest", env=env), ready("report"), ready("report", "--json")]
    runs.append(ready("digest", "--json", env=env))  # the failed one is tried again
    engine = open_engine(f"sqlite:///{tmp_path / 'paperbot-data' / 'paperbot.db'}")
    with Session(engine) as session:
        reasons = [row.reason for row in session.exec(select(Delivery)) if row.status == "failed"]
    engine.dispose()

    assert runs[0].returncode == 1 and runs[3].returncode == 1
    [retried] = [o for o in json.loads(runs[3].stdout)["outcomes"] if o["status"] == "failed"]
    assert reasons == ["cannot connect: 535 login refused (the server's reply is not kept)"] * 2
    assert retried["why"] == reasons[0]
    shown = "\n".join([*map(str, reasons), *(run.stdout + run.stderr for run in runs)])
    assert "535 login refused" in runs[1].stdout
    secrets = (ECHOED_PASSWORD, ECHOED_AUTH, "AUTH PLAIN")
    assert [secret for secret in secrets if secret in shown] == []


def test_digest_and_report_tell_a_run_in_the_same_words_and_numbers(ready: RunCli) -> None:
    assert (
        ready("subscribe", "cy@lab.org", "graph neural network", "--format", "both").returncode == 0
    )
    assert ready("subscribe", "di@lab.org", "no such topic anywhere").returncode == 0

    dry = ready("digest", "--dry-run")
    real = ready("digest")
    report = ready("report", "--kind", "delivery", "--limit", "1")
    [recorded] = json.loads(ready("report", "--json", "--kind", "delivery").stdout)

    assert dry.returncode == 0 and real.returncode == 0, dry.stderr + real.stderr
    # ana and cy by email, bo and cy as Markdown; di has no matching papers.
    told = "4 (2 by email, 2 as Markdown)"
    assert dry.stdout.splitlines()[-1] == (
        f"dry run: nothing sent or recorded; would send {told}, 1 skipped"
    )
    summary = "4 delivered (2 by email, 2 as Markdown), 0 failed, 1 skipped"
    assert real.stdout.splitlines()[-1] == f"run {recorded['id']}; {summary}"
    # A small run lists every row, as a whole, then its counts: nothing left out to say.
    assert len(real.stdout.splitlines()) == 1 + 5 + 1
    assert "di@lab.org\t\tskipped" in real.stdout and "ana@lab.org\temail\tsent" in real.stdout
    assert summary in report.stdout
    assert recorded["counts"] == {
        "subscribers": 4, "delivered": 4, "emails": 2, "markdown": 2, "chats": 0, "failed": 0,
        "skipped": 1,
    }  # fmt: skip


BIG = 25
"""Readers imported by `test_a_large_run_*`: with ana and bo, more rows than a table lists whole."""


def _many_readers(ready: RunCli, tmp_path: Path) -> None:
    lines = ["email,name,keywords,exclusions,cadence,format,liked"]
    lines += [f"reader{i:02d}@lab.org,,graph neural network,,daily,email," for i in range(BIG)]
    (tmp_path / "readers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    imported = ready("subscriptions", "import", "readers.csv")
    assert imported.returncode == 0, imported.stderr


def _smtp_env(server: SmtpServer) -> dict[str, str]:
    return {
        "PAPERBOT_DELIVERY_TRANSPORT": "smtp",
        "PAPERBOT_DELIVERY_RETRIES": "0",
        "PAPERBOT_SMTP_HOST": server.host,
        "PAPERBOT_SMTP_PORT": str(server.port),
        "PAPERBOT_SMTP_SECURITY": "none",
    }


def test_a_large_run_lists_only_the_rows_that_need_a_look(
    ready: RunCli, start_server: StartServer, tmp_path: Path
) -> None:
    _many_readers(ready, tmp_path)
    server = start_server(Handler(reject={"reader07@lab.org"}))
    rows = BIG + 2  # ana by email and bo as Markdown too

    dry = ready("digest", "--dry-run")
    every = ready("--verbose", "digest", "--dry-run")
    real = ready("digest", env=_smtp_env(server))
    [recorded] = json.loads(ready("report", "--json", "--kind", "delivery").stdout)

    assert dry.returncode == 0 and every.returncode == 0, dry.stderr + every.stderr
    assert dry.stdout.splitlines() == [
        f"dry run: nothing sent or recorded; would send {rows} ({rows - 1} by email, 1 as"
        " Markdown), 0 skipped",
        f"none of the {rows} rows needs a look; every row: paperbot --verbose digest --dry-run",
    ]
    listed = every.stdout.splitlines()
    assert listed[0].split("\t") == ["subscriber", "channel", "status", "papers", "why"]
    assert len(listed) == 1 + rows + 1 and listed[-1] == dry.stdout.splitlines()[0]
    assert real.returncode == 1
    [header, failed, summary, left_out] = real.stdout.splitlines()
    assert header == listed[0]
    assert failed.startswith("reader07@lab.org\temail\tfailed\t")
    assert summary == (
        f"run {recorded['id']}; {rows - 1} delivered ({rows - 2} by email, 1 as Markdown),"
        " 1 failed, 0 skipped"
    )
    assert left_out == (
        f"listed: the 1 of {rows} rows that need a look (failed, or skipped other than by"
        " the schedule); every row: paperbot report --json --kind delivery --limit 1"
    )
    assert len(recorded["details"]) == rows  # where that line points: every row


def test_the_report_of_a_large_run_tells_the_failures_not_every_row(
    ready: RunCli, start_server: StartServer, tmp_path: Path
) -> None:
    _many_readers(ready, tmp_path)
    (tmp_path / "quiet.csv").write_text(
        "email,name,keywords\nquiet@lab.org,,xylophone quartet tuning\n", encoding="utf-8"
    )
    assert ready("subscriptions", "import", "quiet.csv").returncode == 0
    rejected = {f"reader{i:02d}@lab.org" for i in range(STORY_ROWS + 2)}
    server = start_server(Handler(reject=rejected))

    assert ready("digest", env=_smtp_env(server)).returncode == 1
    story = ready("report", "--kind", "delivery").stdout
    [recorded] = json.loads(ready("report", "--json", "--kind", "delivery").stdout)

    listed = re.findall(r"([\w.]+@lab\.org): (\w+): ", story)
    assert len(listed) == STORY_ROWS and {outcome for _, outcome in listed} == {"failed"}
    assert "... and 2 more (paperbot report --json)" in story
    assert "quiet@lab.org" not in story  # nothing new for them: the schedule at work
    assert "reader19@lab.org" not in story  # delivered
    quiet = [row for row in recorded["details"] if row["target"] == "quiet@lab.org"]
    assert quiet == [
        {"target": "quiet@lab.org", "outcome": "skipped", "reason": "no new matching papers",
         "routine": "yes"}
    ]  # fmt: skip
    failed = {row["target"] for row in recorded["details"] if row["outcome"] == "failed"}
    assert failed == rejected


def test_digest_json_gives_every_row_and_the_counts_as_recorded(
    ready: RunCli, start_server: StartServer, tmp_path: Path
) -> None:
    _many_readers(ready, tmp_path)
    server = start_server(Handler(reject={"reader07@lab.org"}))
    result = ready("digest", "--json", env=_smtp_env(server))
    [recorded] = json.loads(ready("report", "--json", "--kind", "delivery").stdout)

    assert result.returncode == 1
    shown = json.loads(result.stdout)  # one document, nothing else on stdout
    assert shown["run"] == recorded["id"] and shown["dry_run"] is False
    assert shown["counts"] == recorded["counts"]
    assert len(shown["outcomes"]) == BIG + 2
    assert set(shown["outcomes"][0]) == {"subscriber", "channel", "status", "papers", "why"}
    failed = [o["subscriber"] for o in shown["outcomes"] if o["status"] == "failed"]
    assert failed == ["reader07@lab.org"]
    dry = json.loads(ready("digest", "--dry-run", "--json").stdout)
    assert dry["run"] is None and dry["dry_run"] is True
