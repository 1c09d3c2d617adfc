"""The `paperbot` command end to end, run as a real process on real files."""

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    DATA,
    FEED_SECRETS,
    DailyPapersApi,
    GuardedFeeds,
    RunCli,
    StaticFeeds,
)


def _arxiv_rss(*items: tuple[str, str, str, str]) -> bytes:
    """An arXiv daily RSS document of (id, announce type, title, abstract) items."""
    body = "".join(
        f"<item><title>{title}</title><link>https://arxiv.org/abs/{arxiv_id}</link>"
        f"<description>arXiv:{arxiv_id}v2 Announce Type: {kind} \nAbstract: {abstract}</description>"
        f'<guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v2</guid><category>cs.LG</category>'
        f"<arxiv:announce_type>{kind}</arxiv:announce_type><dc:creator>Ada One, Bo Two</dc:creator></item>"
        for arxiv_id, kind, title, abstract in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>cs.LG updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.LG</link>{body}</channel></rss>"
    ).encode()


def _papers(run_cli: RunCli, *args: str) -> list[dict[str, Any]]:
    result = run_cli("papers", "--json", *args)
    assert result.returncode == 0, result.stderr
    papers: list[dict[str, Any]] = json.loads(result.stdout)
    return papers


def test_ingest_of_the_samples_reports_per_file_in_json(run_cli: RunCli, samples: Path) -> None:
    result = run_cli("ingest", "--json", str(samples))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [(Path(r["path"]).name, r["kind"], r["parsed"], r["new"]) for r in report] == [
        ("compact-1.txt", "dump/compact", 302, 302),
        ("compact-2.txt", "dump/compact", 214, 197),
        ("spaced-1.txt", "dump/spaced", 63, 56),
    ]
    assert all({"updated", "skipped", "warnings", "errors"} <= r.keys() for r in report)
    again = json.loads(run_cli("ingest", "--json", str(samples)).stdout)
    assert [r["status"] for r in again] == ["skipped"] * 3
    assert all(r["skipped"] for r in again)


def test_papers_lists_every_stored_field_and_searches(run_cli: RunCli, samples: Path) -> None:
    run_cli("ingest", "--year", "2025", str(samples / "spaced-1.txt"))
    papers = _papers(run_cli)
    assert len(papers) == 63
    svd = next(p for p in papers if str(p["title"]).startswith("Stable Video Diffusion"))
    assert (svd["author_count"], svd["upvotes"], svd["paper_date"]) == (12, 8, "2023-11-25")
    assert svd["code_urls"] == ["https://github.com/Stability-AI/generative-models"]
    assert {"abstract", "organization", "arxiv_id", "first_seen_at", "sightings"} <= svd.keys()
    noprop = next(p for p in papers if str(p["title"]).startswith("NoProp"))
    assert noprop["paper_date"] == "2025-03-31"  # yearless date, year given
    found = _papers(run_cli, "--search", "graph neural")
    assert found and all(
        "graph neural" in (str(p["title"]) + str(p["abstract"])).lower() for p in found
    )
    table = run_cli("papers", "--search", "Kolmogorov")
    assert "Activation Space Selectable Kolmogorov-Arnold Networks" in table.stdout


def test_papers_search_finds_what_match_finds_by_the_keyword_rules(
    run_cli: RunCli, samples: Path
) -> None:
    assert run_cli("ingest", str(samples)).returncode == 0
    # Hyphens ("in-context"), whole words ("GAN" is not in "organ"), a typo in a plural.
    for keyword in ("in context learning", "GAN", "diffusion modles"):
        found = [p["id"] for p in _papers(run_cli, "--search", keyword)]
        trial = run_cli("match", "--keyword", keyword, "--json")
        assert trial.returncode == 0, trial.stderr
        assert sorted(found) == sorted(m["paper_id"] for m in json.loads(trial.stdout)), keyword
        assert found, keyword
    newest = [p["id"] for p in _papers(run_cli, "--search", "in context learning")]
    assert len(newest) >= 20
    assert [
        p["id"] for p in _papers(run_cli, "--search", "in-context learning", "--limit", "5")
    ] == (newest[:5])
    assert "paperbot match" in run_cli("papers", "--help").stdout


def test_papers_search_with_an_unusable_keyword_is_one_line(run_cli: RunCli) -> None:
    result = run_cli("papers", "--search", "!!!")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paperbot: error: search '!!!' has no letters or digits"
    ]


def test_ingest_says_when_a_year_came_from_the_file_date(
    run_cli: RunCli, samples: Path, tmp_path: Path
) -> None:
    text = (samples / "spaced-1.txt").read_text(encoding="utf-8")  # its page reads "Nov 21"
    dumps = {}
    for year in (2025, 2090, 2091):
        dumps[year] = tmp_path / f"dump-{year}.txt"
        dumps[year].write_text(text + "\n" * (year - 2024), encoding="utf-8")
        taken = datetime(year, 11, 22, 12, 0).timestamp()  # noon, local time
        os.utime(dumps[year], (taken, taken))
    told = run_cli("ingest", str(dumps[2025]))
    assert told.returncode == 0, told.stderr
    note = f"{dumps[2025]}: year 2025 from the file's date; use --year to state it"
    assert note in told.stdout.splitlines()
    future = run_cli("ingest", "--json", str(dumps[2090]))
    assert future.returncode == 0, future.stderr
    [result] = json.loads(future.stdout)
    assert result["year_from_file"] == 2090
    assert result["warnings"][0].startswith("page date 2090-11-21 is in the future: its year 2090")
    stated = run_cli("ingest", "--year", "2025", str(dumps[2091]))
    assert stated.returncode == 0, stated.stderr
    assert "from the file's date" not in stated.stdout + stated.stderr


def test_a_bad_file_gets_one_line_and_a_failing_exit(
    run_cli: RunCli, samples: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(samples / "compact-2.txt", inbox / "good.txt")
    (inbox / "page.html").write_text(
        "<!DOCTYPE html><html><body><h1>Daily Papers</h1></body></html>"
    )
    result = run_cli("ingest", str(inbox))
    assert result.returncode == 1
    problems = [line for line in result.stderr.splitlines() if "page.html" in line]
    assert len(problems) == 1 and "HTML" in problems[0]
    assert len(_papers(run_cli)) == 214


def test_a_truncated_feed_file_or_url_and_a_truncated_dump_fail_the_command(
    run_cli: RunCli, samples: Path, tmp_path: Path, feed_server: StaticFeeds
) -> None:
    whole = _arxiv_rss(
        *((f"2411.0000{n}", "new", f"Cut paper {n}", f"Abstract number {n}.") for n in (1, 2, 3))
    )
    cut = whole[: whole.index(b"Abstract number 3")]  # inside the third item
    (tmp_path / "cut.xml").write_bytes(cut)
    feed_server.documents["/rss/cut"] = cut
    lines = (samples / "compact-1.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "cut.txt").write_text("".join(lines[:101]), encoding="utf-8")  # ends on a title
    for source, lost in (
        (str(tmp_path / "cut.xml"), "feed cut short"),
        (feed_server.url("/rss/cut"), "feed cut short"),
        (str(tmp_path / "cut.txt"), "no abstract"),
    ):
        result = run_cli("ingest", source)
        assert result.returncode == 1, (source, result.stdout, result.stderr)
        [problem] = [line for line in result.stderr.splitlines() if line.startswith(source)]
        assert "dropped 1" in problem and lost in problem, problem
    assert len(_papers(run_cli)) == 2 + 49


def test_nothing_to_ingest_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("ingest")
    assert result.returncode == 2
    assert "nothing to ingest" in result.stderr


def test_the_inbox_comes_from_the_settings(run_cli: RunCli, samples: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "data" / "inbox"
    inbox.mkdir(parents=True)
    shutil.copy(samples / "compact-1.txt", inbox)
    env = {"PAPERBOT_DATA_DIR": str(tmp_path / "data")}
    result = run_cli("ingest", "--inbox", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert [r["new"] for r in json.loads(result.stdout)] == [302]
    assert (tmp_path / "data" / "paperbot.db").exists()


def test_a_bad_setting_stops_with_one_line_naming_it(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "paperbot.toml").write_text('[smtp]\nport = "587"\npassword = "hunter2-secret"\n')
    result = run_cli("papers")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "paperbot: error: paperbot.toml: smtp.port: expected an integer from 1 to 65535"
    ]
    assert "hunter2-secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["config", "serve"])
def test_a_short_web_secret_stops_every_command_with_one_line(
    run_cli: RunCli, tmp_path: Path, command: str
) -> None:
    weak = "w3ak-Link-S3cret"  # 16 characters: recovered offline from one signed link
    (tmp_path / "paperbot.toml").write_text(f'[web]\nsecret = "{weak}"\n')
    from_file = run_cli(command)
    elsewhere = tmp_path / "elsewhere"  # no settings file there
    elsewhere.mkdir()
    from_env = run_cli(command, env={"PAPERBOT_WEB_SECRET": weak}, cwd=elsewhere)

    for result, named in (
        (from_file, "paperbot.toml: web.secret"),
        (from_env, "PAPERBOT_WEB_SECRET"),
    ):
        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert line.startswith(f"paperbot: error: {named}: expected at least 32 characters")
        assert weak not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_an_empty_or_long_web_secret_is_accepted(run_cli: RunCli) -> None:
    for secret in ("", "x" * 32):
        result = run_cli("config", env={"PAPERBOT_WEB_SECRET": secret})
        assert result.returncode == 0, result.stderr
        assert f'"secret": "{"***" if secret else ""}"' in result.stdout


def test_the_config_command_masks_secrets(run_cli: RunCli) -> None:
    result = run_cli("config", env={"PAPERBOT_SMTP_PASSWORD": "hunter2-secret"})
    assert result.returncode == 0, result.stderr
    assert "hunter2-secret" not in result.stdout
    assert '"password": "***"' in result.stdout


def test_the_config_command_warns_on_stderr_while_web_base_url_is_unset(run_cli: RunCli) -> None:
    unset = run_cli("config")
    assert unset.returncode == 0, unset.stderr
    [line] = unset.stderr.splitlines()
    assert line.startswith("paperbot: warning: web.base_url is not set: digests go out")
    assert "confirmation emails link to http://127.0.0.1:8080" in line
    assert '"base_url": ""' in unset.stdout  # the settings are shown all the same
    set_ = run_cli("config", env={"PAPERBOT_WEB_BASE_URL": "https://papers.example.org"})
    assert set_.returncode == 0 and set_.stderr == ""


def test_secrets_in_feed_urls_are_shown_nowhere(
    run_cli: RunCli, guarded_feeds: GuardedFeeds, tmp_path: Path
) -> None:
    good, down = guarded_feeds.url("/feed"), guarded_feeds.url("/down")
    guarded_feeds.write_settings(tmp_path)
    runs = [
        run_cli("ingest", "--feeds"),
        run_cli("ingest", "--feeds", "--json"),
        run_cli("ingest", down),
        run_cli("ingest", "--json", down),
        run_cli("config"),
        run_cli("report"),
        run_cli("report", "--json"),
        run_cli("--verbose", "ingest", good),
    ]
    # The credentials did reach the server: every fetch was answered as authorized.
    assert guarded_feeds.authorized == [
        "/feed",
        "/down",
        "/feed",
        "/down",
        "/down",
        "/down",
        "/feed",
    ]
    assert [run.returncode for run in runs] == [1, 1, 1, 1, 0, 0, 0, 0]
    assert "HTTP Request: GET" in runs[7].stderr  # logged with --verbose, redacted
    shown = "\n".join(run.stdout + run.stderr for run in runs)
    assert [secret for secret in FEED_SECRETS if secret in shown] == []
    masked = (
        f"http://***@{guarded_feeds.base.removeprefix('http://')}/down?api_key=***&sid=***&lang=en"
    )
    assert f"{masked}: HTTP 503 Service Unavailable" in runs[2].stderr
    assert json.loads(runs[3].stdout)[0]["path"] == masked
    assert masked in [
        feed["url"] for feed in json.loads(runs[4].stdout.partition("\n")[2])["feeds"]
    ]
    assert masked in [d["target"] for run in json.loads(runs[6].stdout) for d in run["details"]]


def test_a_feed_url_and_a_dump_name_one_paper(
    run_cli: RunCli, samples: Path, feed_server: StaticFeeds
) -> None:
    run_cli("ingest", str(samples / "spaced-1.txt"))
    title = "On the Initialization of Graph Neural Networks"
    feed_server.documents["/rss/cs.LG"] = _arxiv_rss(
        ("2411.00001", "new", title, "The arXiv abstract."),
        ("2411.00002", "new", "A Paper Only The Feed Has", "Its abstract."),
    )
    url = feed_server.url("/rss/cs.LG")
    result = run_cli("ingest", "--json", url)
    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert (report["kind"], report["new"], report["updated"]) == ("feed/arxiv-rss", 1, 1)
    papers = _papers(run_cli)
    assert len(papers) == 64
    [merged] = [p for p in papers if p["title"] == title]
    assert (merged["arxiv_id"], merged["author_count"], merged["sightings"]) == ("2411.00001", 2, 2)
    # The second fetch is conditional and the server says nothing changed.
    again = json.loads(run_cli("ingest", "--json", url).stdout)
    assert again[0]["status"] == "skipped"
    assert feed_server.requests[-1][1] is not None


def test_a_replacement_updates_the_paper_and_is_not_a_new_one(
    run_cli: RunCli, feed_server: StaticFeeds
) -> None:
    feed_server.documents["/feed"] = _arxiv_rss(("2411.00005", "new", "Old Title", "Version one."))
    run_cli("ingest", feed_server.url("/feed"))
    feed_server.documents["/feed"] = _arxiv_rss(
        ("2411.00005", "replace", "New Title", "Version two.")
    )
    result = json.loads(run_cli("ingest", "--json", feed_server.url("/feed")).stdout)
    assert (result[0]["new"], result[0]["updated"]) == (0, 1)
    [paper] = _papers(run_cli)
    assert (paper["title"], paper["abstract"]) == ("New Title", "Version two.")


def test_configured_feeds_are_fetched_and_a_dead_one_fails_alone(
    run_cli: RunCli, feed_server: StaticFeeds, tmp_path: Path
) -> None:
    feed_server.documents["/good"] = (DATA / "feeds" / "arxiv_api_query.atom.xml").read_bytes()
    (tmp_path / "paperbot.toml").write_text(
        f'[[feeds]]\nname = "good"\nurl = "{feed_server.url("/good")}"\n'
        f'[[feeds]]\nname = "gone"\nurl = "{feed_server.url("/gone")}"\n'
    )
    result = run_cli("ingest", "--feeds", "--json")
    assert result.returncode == 1
    report = {r["path"]: r for r in json.loads(result.stdout)}
    assert report[feed_server.url("/good")]["status"] == "ok"
    assert report[feed_server.url("/good")]["new"] > 0
    assert "404" in report[feed_server.url("/gone")]["errors"][0]


def test_version_and_help(run_cli: RunCli) -> None:
    assert run_cli("--version").stdout.startswith("paperbot ")
    help_text = run_cli("--help").stdout
    assert all(command in help_text for command in ("ingest", "papers", "config"))


def test_ingesting_the_working_folder_passes_over_paperbots_own_files(
    run_cli: RunCli, samples: Path, tmp_path: Path
) -> None:
    shutil.copy(samples / "compact-2.txt", tmp_path)
    assert run_cli("ingest", ".").returncode == 0
    (tmp_path / "paperbot-data" / "outbox").mkdir(parents=True)
    (tmp_path / "paperbot-data" / "outbox" / "digest.eml").write_text("From: x")
    result = run_cli("ingest", "--json", ".")
    assert result.returncode == 0, result.stderr
    assert [Path(r["path"]).name for r in json.loads(result.stdout)] == ["compact-2.txt"]


def test_problem_lines_are_one_per_file_and_unwrapped(
    run_cli: RunCli, samples: Path, tmp_path: Path
) -> None:
    lines = (samples / "compact-1.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    # A title with no abstract, twice: two papers dropped, two warnings, one line.
    damaged = lines[:10] + lines[10:11] + lines[12:20] + lines[20:21] + lines[22:]
    (tmp_path / "damaged.txt").write_text("".join(damaged), encoding="utf-8")
    result = run_cli("ingest", "damaged.txt")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("damaged.txt: kept 300 paper(s), dropped 2: ")
    assert "(and 1 more warning(s)" in line
    fresh = {"PAPERBOT_DATA_DIR": str(tmp_path / "other")}
    verbose = run_cli("--verbose", "ingest", "damaged.txt", env=fresh)
    warnings = [
        line for line in verbose.stderr.splitlines() if line.startswith("damaged.txt: warning: ")
    ]
    assert len(warnings) == 2


def test_papers_limits(run_cli: RunCli, samples: Path) -> None:
    run_cli("ingest", str(samples / "spaced-1.txt"))
    assert len(_papers(run_cli)) == 63  # --json lists everything by default
    assert len(_papers(run_cli, "--limit", "50")) == 50
    assert len(_papers(run_cli, "--limit", "0")) == 63
    table = run_cli("papers")
    assert "50 paper(s) shown" in table.stdout


def test_hf_daily_papers_by_url_and_by_file_then_bad_input_fails_and_keeps_the_store(
    run_cli: RunCli, tmp_path: Path, feed_server: StaticFeeds
) -> None:
    days = DATA / "hf_daily"
    feed_server.documents["/api/daily_papers?date=2023-11-27"] = (
        days / "2023-11-27.json"
    ).read_bytes()
    by_url = run_cli("ingest", "--json", feed_server.url("/api/daily_papers?date=2023-11-27"))
    assert by_url.returncode == 0, by_url.stderr
    assert [(r["kind"], r["new"]) for r in json.loads(by_url.stdout)] == [("hf/daily", 3)]
    by_file = run_cli("ingest", str(days / "2023-11-28.json"))
    assert by_file.returncode == 0, by_file.stderr
    stored = {p["arxiv_id"]: p for p in _papers(run_cli)}
    assert len(stored) == 5
    assert stored["2311.15127"]["hf_url"] == "https://huggingface.co/papers/2311.15127"
    assert stored["2311.16001"]["github_stars"] == 310
    (tmp_path / "cut.json").write_bytes((days / "2023-11-27.json").read_bytes()[:3000])
    (tmp_path / "other.json").write_text('{"error": "Invalid date"}')
    feed_server.documents["/api/daily_papers?date=2023-11-29"] = b"<!DOCTYPE html><html>Busy</html>"
    for source, why in (
        (str(tmp_path / "cut.json"), "JSON cut short after 3000 characters"),
        (str(tmp_path / "other.json"), "a JSON object (keys: error), not a list of Hugging Face"),
        (feed_server.url("/api/daily_papers?date=2023-11-29"), "an HTML page, not an RSS or Atom"),
    ):
        failed = run_cli("ingest", source)
        assert failed.returncode == 1
        [line] = failed.stderr.splitlines()
        assert line.startswith(f"{source}: {why}")
    assert len(_papers(run_cli)) == 5


def test_hf_daily_back_fill_fetches_each_day_politely_and_conditionally(
    run_cli: RunCli, tmp_path: Path, daily_papers_api: DailyPapersApi
) -> None:
    days = DATA / "hf_daily"
    for day in ("2023-11-27", "2023-11-28"):
        daily_papers_api.days[day] = (days / f"{day}.json").read_bytes()
    (tmp_path / "paperbot.toml").write_text(daily_papers_api.settings())
    first = run_cli("ingest", "--json", "--hf-daily", "2023-11-25..2023-11-28")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert [(r["status"], r["new"]) for r in report] == [("ok", 0), ("ok", 0), ("ok", 3), ("ok", 2)]
    assert [day for day, _, _ in daily_papers_api.requests] == [
        "2023-11-25", "2023-11-26", "2023-11-27", "2023-11-28",
    ]  # fmt: skip
    assert {agent for _, _, agent in daily_papers_api.requests} == {
        "paperbot-test/1 (admin@lab.example)"
    }
    assert daily_papers_api.most_at_once == 1
    # Again, unchanged: every day is asked conditionally and answers "not modified".
    again = json.loads(run_cli("ingest", "--json", "--hf-daily", "2023-11-25..2023-11-28").stdout)
    assert [r["reason"] for r in again] == ["not modified since the last fetch"] * 4
    assert all(etag for _, etag, _ in daily_papers_api.requests[4:])
    # A later fetch with more upvotes updates the paper, and duplicates nothing.
    raised = json.loads(daily_papers_api.days["2023-11-28"])
    raised[0]["paper"]["upvotes"] = 80
    daily_papers_api.days["2023-11-28"] = json.dumps(raised).encode()
    later = json.loads(run_cli("ingest", "--json", "--hf-daily", "2023-11-28..2023-11-28").stdout)
    assert [(r["new"], r["updated"]) for r in later] == [(0, 1)]
    stored = _papers(run_cli)
    assert len(stored) == 5
    assert next(p for p in stored if p["arxiv_id"] == "2311.16001")["upvotes"] == 80


@pytest.mark.parametrize(
    ("span", "why"),
    [
        ("2023-11-31", "'2023-11-31' is not a day: expected YYYY-MM-DD or SINCE..UNTIL"),
        ("2023-11-28..2023-11-25", "the span ends before it starts"),
        ("2999-01-01", "2999-01-01 is after today"),
    ],
)
def test_a_bad_hf_daily_span_is_a_usage_error(run_cli: RunCli, span: str, why: str) -> None:
    result = run_cli("ingest", "--hf-daily", span)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert why in line


def test_the_feed_poll_fetches_todays_list_when_hf_daily_is_on(
    run_cli: RunCli, tmp_path: Path, daily_papers_api: DailyPapersApi
) -> None:
    (tmp_path / "paperbot.toml").write_text(daily_papers_api.settings())
    assert run_cli("ingest", "--feeds").returncode == 0
    assert daily_papers_api.requests == []  # off by default
    (tmp_path / "paperbot.toml").write_text(
        daily_papers_api.settings().replace("[ingest]\n", "[ingest]\nhf_daily = true\n")
    )
    before = datetime.now(UTC).date().isoformat()
    result = run_cli("ingest", "--json", "--feeds")
    after = datetime.now(UTC).date().isoformat()
    assert result.returncode == 0, result.stderr
    [(day, _, _)] = daily_papers_api.requests
    assert day in (before, after)
    assert [r["kind"] for r in json.loads(result.stdout)] == ["hf/daily"]
