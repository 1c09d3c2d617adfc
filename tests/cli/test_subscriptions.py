"""Subscription commands end to end, run as a real process."""

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.cli.subscriptions import IMPORT_BATCH
from tests.conftest import RunCli


def _subscribers(run_cli: RunCli, *args: str) -> list[dict[str, Any]]:
    result = run_cli("subscriptions", "--json", *args)
    assert result.returncode == 0, result.stderr
    subscribers: list[dict[str, Any]] = json.loads(result.stdout)
    return subscribers


def test_subscribe_list_and_unsubscribe(run_cli: RunCli) -> None:
    made = run_cli(
        "subscribe", "ana@lab.org", "graph neural network", "GNN",
        "--exclude", "link prediction", "--name", "graphs", "--cadence", "weekly",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "subscribed ana@lab.org: new topic 'graphs'" in made.stdout
    run_cli("subscribe", "ana@lab.org", "diffusion models", "--name", "diffusion")
    [ana] = _subscribers(run_cli)
    assert ana["cadence"] == "weekly"
    topics = {t["name"]: t for t in ana["topics"]}
    assert topics["graphs"]["keywords"] == ["graph neural network", "GNN"]
    assert topics["graphs"]["exclusions"] == ["link prediction"]
    table = run_cli("subscriptions").stdout
    assert "ana@lab.org" in table and "diffusion" in table
    gone = run_cli("unsubscribe", "ANA@lab.org")
    assert gone.returncode == 0, gone.stderr
    assert _subscribers(run_cli) == []
    [kept] = _subscribers(run_cli, "--all")
    assert kept["status"] == "unsubscribed"


def test_bad_input_is_one_line_and_stores_nothing(run_cli: RunCli) -> None:
    assert run_cli("db", "upgrade").returncode == 0
    cases = [
        (["not-an-email", "GAN"], "invalid email address 'not-an-email'"),
        (["a@lab.org", "   "], "empty"),
        (["a@lab.org", "x" * 201], "200"),
        (["a@lab.org", "?!"], "'?!'"),
        (["a@lab.org", *[f"topic{n}" for n in range(101)]], "too many keywords"),
        (["a@lab.org", "GAN", "--cadence", "hourly"], "cadence 'hourly'"),
        (["a@lab.org", "GAN", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    ]
    for args, message in cases:
        result = run_cli("subscribe", *args)
        assert result.returncode == 2, args
        [line] = result.stderr.splitlines()
        assert line.startswith("paperbot: error: ") and message in line, line
    assert _subscribers(run_cli, "--all") == []


def test_unsubscribing_an_unknown_address_fails(run_cli: RunCli) -> None:
    assert run_cli("subscribe", "ana@lab.org", "GAN").returncode == 0
    result = run_cli("unsubscribe", "ghost@lab.org")
    assert result.returncode == 1
    assert "no subscriber with the address 'ghost@lab.org'" in result.stderr


def test_bulk_import_and_export_round_trip(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "subs.csv").write_text(
        "email,name,keywords,exclusions,cadence,format\n"
        "ana@lab.org,graphs,graph neural network;GNN,link prediction,weekly,email\n"
        "bo@lab.org,,LoRA;MoE,,,markdown\n",
        encoding="utf-8",
    )
    (tmp_path / "more.csv").write_text(
        "email,keywords,timezone\ncy@lab.org,GAN,asia/kolkata\n", encoding="utf-8"
    )
    result = run_cli("subscriptions", "import", "subs.csv")
    assert result.returncode == 0, result.stderr
    assert "imported 2 subscription(s)" in result.stdout
    assert run_cli("subscriptions", "import", "more.csv").returncode == 0
    exported = run_cli("subscriptions", "export", "--format", "toml", "--output", "subs.toml")
    assert exported.returncode == 0, exported.stderr
    other = {"PAPERBOT_DATA_DIR": str(tmp_path / "other")}
    assert run_cli("subscriptions", "import", "subs.toml", env=other).returncode == 0
    again = run_cli("subscriptions", "export", env=other).stdout
    assert again == run_cli("subscriptions", "export").stdout
    assert "bo@lab.org,default,LoRA;MoE,,daily,markdown," in again
    assert "cy@lab.org,default,GAN,,daily,email,Asia/Kolkata" in again


def test_an_import_with_one_bad_row_imports_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "subs.csv").write_text(
        "email,keywords\nana@lab.org,GAN\nbroken,GAN\n", encoding="utf-8"
    )
    assert run_cli("db", "upgrade").returncode == 0
    result = run_cli("subscriptions", "import", "subs.csv")
    assert result.returncode == 1
    assert "subs.csv: row 3: invalid email address 'broken'" in result.stderr
    assert _subscribers(run_cli) == []


def _rows_past_one_batch(last: str) -> str:
    """A CSV whose rows span two of an import's batches: ana first and again after the batch."""
    rows = ["email,name,keywords", "ana@lab.org,graphs,graph neural network"]
    rows += [f"reader{i:04d}@lab.org,,LoRA" for i in range(IMPORT_BATCH)]
    return "\n".join([*rows, last]) + "\n"


def test_an_import_past_one_batch_is_one_transaction_with_one_subscriber_per_address(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "subs.csv").write_text(_rows_past_one_batch("ANA@lab.org,moe,MoE"), "utf-8")
    result = run_cli("subscriptions", "import", "subs.csv")

    assert result.returncode == 0, result.stderr
    rows = IMPORT_BATCH + 2
    assert f"imported {rows} subscription(s) from subs.csv: {rows - 1} new" in result.stdout
    subscribers = {s["email"].lower(): s for s in _subscribers(run_cli)}
    assert len(subscribers) == rows - 1
    ana = subscribers["ana@lab.org"]
    assert sorted(topic["name"] for topic in ana["topics"]) == ["graphs", "moe"]


def test_a_bad_row_after_a_stored_batch_imports_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("subscribe", "cy@lab.org", "GAN").returncode == 0
    before = _subscribers(run_cli, "--all")
    (tmp_path / "subs.csv").write_text(_rows_past_one_batch("broken,,GAN"), "utf-8")
    result = run_cli("subscriptions", "import", "subs.csv")

    assert result.returncode == 1
    bad = IMPORT_BATCH + 3  # the header, ana and the readers come first
    assert result.stderr.splitlines() == [
        f"paperbot: error: subs.csv: row {bad}: invalid email address 'broken':"
        " An email address must have an @-sign."
    ]
    assert _subscribers(run_cli, "--all") == before


def test_a_subscriber_time_zone_is_set_kept_and_listed(run_cli: RunCli) -> None:
    made = run_cli("subscribe", "ana@lab.org", "GAN", "--timezone", "europe/berlin")
    assert made.returncode == 0, made.stderr
    run_cli("subscribe", "ana@lab.org", "MoE", "--name", "moe")  # no --timezone: kept
    run_cli("subscribe", "bo@lab.org", "LoRA")
    ana, bo = _subscribers(run_cli)
    assert (ana["timezone"], bo["timezone"]) == ("Europe/Berlin", None)
    table = run_cli("subscriptions", env={"PAPERBOT_SCHEDULE_TIMEZONE": "Asia/Tokyo"}).stdout
    assert "timezone" in table and "Europe/Berlin" in table
    assert "Asia/Tokyo (default)" in table  # bo follows the configured zone


def test_a_control_character_is_one_line_and_changes_nothing(run_cli: RunCli) -> None:
    assert run_cli("subscribe", "ana@lab.org", "GAN", "--name", "graphs").returncode == 0
    before = _subscribers(run_cli, "--all")
    # An argument cannot hold a NUL; BEL is as much a control character, and an
    # argument that is not valid UTF-8 arrives as lone surrogates.
    cases = [
        (["subscribe", "ana@lab.org", "G\aAN"], "keyword 'G\\x07AN' contains a control character (U+0007)"),
        (["subscribe", "ana@lab.org", "GAN", "-x", "sur\tvey"], "exclusion 'sur\\tvey' contains a control character (U+0009)"),
        (["subscribe", "ana@lab.org", "GAN", "-n", "gra\aphs"], "topic name contains a control character (U+0007)"),
        (["subscribe", "ana\a@lab.org", "GAN"], "email address contains a control character (U+0007)"),
        (["subscribe", "ana@lab.org", "GAN", "--timezone", "UTC\u202e"], "time zone contains an invisible formatting character (U+202E)"),
        (["subscribe", "ana@lab.org", "G\udcffAN"], "keyword 'G\\udcffAN' contains an undecodable byte (U+DCFF)"),
        (["unsubscribe", "ana@lab.org", "--name", "gra\aphs"], "topic name contains a control character (U+0007)"),
        (["unsubscribe", "ana\udcff@lab.org"], "email address contains an undecodable byte (U+DCFF)"),
        (["digest", "--only", "ana\udcff@lab.org"], "email address contains an undecodable byte (U+DCFF)"),
        (["papers", "--search", "G\udcffAN"], "search text contains an undecodable byte (U+DCFF)"),
    ]  # fmt: skip
    for args, message in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.splitlines() == [f"paperbot: error: {message}"], args
    assert _subscribers(run_cli, "--all") == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("subs.csv", "email,keywords\nbo@lab.org,LoRA\ncy@lab.org,G\x00AN\n",
         "subs.csv: row 3: a cell contains a control character (U+0000)"),
        ("subs.csv", "email,name,keywords\nbo@lab.org,\x1b[31mred,LoRA\n",
         "subs.csv: row 2: topic name contains a control character (U+001B)"),
        ("subs.csv", "email,keywords\nbo@lab.org,LoRA\ncy@lab.org," + "x" * 140_000 + "\n",
         "subs.csv: row 3: not valid CSV: field larger than field limit (131072)"),
        ("subs.toml", '[[subscription]]\nemail = "bo@lab.org"\nkeywords = ["Lo\\u0000RA"]\n',
         "subs.toml: subscription 1: keyword 'Lo\\x00RA' contains a control character (U+0000)"),
    ],
    ids=["NUL in a CSV cell", "escape in a CSV cell", "oversized CSV cell", "NUL in TOML"],
)  # fmt: skip
def test_a_bad_import_file_is_one_line_naming_file_and_row_and_changes_nothing(
    run_cli: RunCli, tmp_path: Path, name: str, content: str, message: str
) -> None:
    assert run_cli("subscribe", "ana@lab.org", "GAN").returncode == 0
    before = _subscribers(run_cli, "--all")
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = run_cli("subscriptions", "import", name)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"paperbot: error: {message}"]
    assert _subscribers(run_cli, "--all") == before


def test_a_csv_export_neutralises_formulas_and_round_trips_exactly(
    run_cli: RunCli, tmp_path: Path
) -> None:
    made = run_cli(
        "subscribe", "--name", '=HYPERLINK("http://x","y")', "-x", "@work",
        "ana@lab.org", "--", "+1", "-x", "@home",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert run_cli("subscribe", "'bo@lab.org", "'tis", "--name", "'quoted").returncode == 0
    first = run_cli("subscriptions", "export", "--output", "subs.csv")
    assert first.returncode == 0, first.stderr
    text = (tmp_path / "subs.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[2][:7] == [
        "ana@lab.org", "'=HYPERLINK(\"http://x\",\"y\")", "'+1;-x;@home", "'@work", "daily", "email", "",
    ]  # fmt: skip
    assert rows[1][:4] == ["''bo@lab.org", "''quoted", "''tis", ""]
    other = {"PAPERBOT_DATA_DIR": str(tmp_path / "other")}
    imported = run_cli("subscriptions", "import", "subs.csv", env=other)
    assert imported.returncode == 0, imported.stderr
    assert run_cli("subscriptions", "export", env=other).stdout == text
    assert _stored(run_cli, env=other) == _stored(run_cli)


def _stored(run_cli: RunCli, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    """The stored subscriptions without what differs between two databases (ids, dates)."""
    result = run_cli("subscriptions", "--json", env=env)
    assert result.returncode == 0, result.stderr
    subscribers: list[dict[str, Any]] = json.loads(result.stdout)
    for subscriber in subscribers:
        del subscriber["id"], subscriber["created_at"]
        for topic in subscriber["topics"]:
            del topic["id"]
    return subscribers


def test_subscribing_with_a_keyword_matching_no_stored_paper_warns_and_stores_it(
    stored: RunCli,
) -> None:
    made = stored("subscribe", "ana@lab.org", "grpah neural networks", "GAN")
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines() == [
        "paperbot: warning: keyword 'grpah neural networks' matches no stored paper;"
        " did you mean 'graph neural networks'?"
    ]
    [ana] = _subscribers(stored)
    assert ana["topics"][0]["keywords"] == ["grpah neural networks", "GAN"]


def test_an_import_warns_of_keywords_matching_no_stored_paper_and_stores_them(
    stored: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "subs.csv").write_text(
        "email,name,keywords\n"
        "ana@lab.org,graphs,grpah neural networks;GAN\n"
        "bo@lab.org,,LoRA;xqzvw\n",
        encoding="utf-8",
    )
    result = stored("subscriptions", "import", "subs.csv")
    assert result.returncode == 0, result.stderr
    assert "imported 2 subscription(s)" in result.stdout
    assert result.stderr.splitlines() == [
        "paperbot: warning: ana@lab.org, topic 'graphs': keyword 'grpah neural networks'"
        " matches no stored paper; did you mean 'graph neural networks'?",
        "paperbot: warning: bo@lab.org, topic 'default': keyword 'xqzvw' matches no stored"
        " paper ('xqzvw' is in none)",
    ]
    keywords = {s["email"]: s["topics"][0]["keywords"] for s in _subscribers(stored)}
    assert keywords == {
        "ana@lab.org": ["grpah neural networks", "GAN"],
        "bo@lab.org": ["LoRA", "xqzvw"],
    }


def test_a_large_import_lists_its_first_warnings_then_counts_the_rest(
    stored: RunCli, tmp_path: Path
) -> None:
    rows = [f"reader{n}@lab.org,,xqzvw{n}" for n in range(25)]
    (tmp_path / "subs.csv").write_text("email,name,keywords\n" + "\n".join(rows) + "\n")
    result = stored("subscriptions", "import", "subs.csv")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 21 and all("matches no stored paper" in line for line in lines[:20])
    assert lines[-1] == (
        "paperbot: warning: 5 more warnings like these"
        " (paperbot --verbose subscriptions import lists every one)"
    )
    every = stored("--verbose", "subscriptions", "import", "subs.csv")
    assert sum("matches no stored paper" in line for line in every.stderr.splitlines()) == 25


def test_subscribe_follows_authors_organisations_categories_and_trending(
    run_cli: RunCli, tmp_path: Path
) -> None:
    made = run_cli(
        "subscribe", "ana@lab.org", "-n", "people", "--author", "Y. LeCun", "-a", "LeCun, Yann",
        "--org", "stabilityai", "--category", "cs.*", "--exclude-category", "cs.CR",
        "--exclude-author", "Y. Li", "--exclude-org", "google", "--top", "3",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == (
        "subscribed ana@lab.org: new topic 'people' with 0 keyword(s) and 0 exclusion(s),"
        " 2 author(s), 1 organisation(s), 1 category(s), 3 excluded author(s),"
        " organisation(s) or category(ies), top 3 of the day\n"
    )
    [subscriber] = _subscribers(run_cli)
    [topic] = subscriber["topics"]
    assert (topic["authors"], topic["categories"], topic["top"]) == (
        ["Y. LeCun", "LeCun, Yann"], ["cs.*"], 3,
    )  # fmt: skip
    table = run_cli("subscriptions").stdout
    assert "author: Y. LeCun; author: LeCun, Yann; organisation: stabilityai" in table
    for format in ("csv", "toml"):
        exported = run_cli("subscriptions", "export", "--format", format, "-o", f"subs.{format}")
        assert exported.returncode == 0, exported.stderr
        other = {"PAPERBOT_DATA_DIR": str(tmp_path / format)}
        imported = run_cli("subscriptions", "import", f"subs.{format}", env=other)
        assert imported.returncode == 0, imported.stderr
        assert _stored(run_cli, env=other) == _stored(run_cli)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--author", "12"], "author '12' has no name in it"),
        (["--category", "machine learning"], "category 'machine learning' is not an arXiv"),
        (["--min-upvotes", "0"], "minimum upvotes 0 is out of range: 1 to 100000"),
        (
            ["--exclude-org", "google"],
            "at least one keyword, liked paper, author, organisation or category",
        ),
    ],
)
def test_a_bad_follow_is_a_usage_error_and_stores_nothing(
    run_cli: RunCli, args: list[str], message: str
) -> None:
    assert run_cli("subscribe", "ana@lab.org", "GAN").returncode == 0
    before = _subscribers(run_cli, "--all")
    result = run_cli("subscribe", "ana@lab.org", "-n", "people", *args)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"paperbot: error: {message}"), line
    assert _subscribers(run_cli, "--all") == before


NOPROP = "NoProp: Training Neural Networks without Back-propagation or Forward-propagation"
LATENT = "Searching Latent Program Spaces"


def _examples(subscriber: dict[str, Any]) -> dict[str, tuple[list[str], list[str], int]]:
    """Each topic's liked and unliked titles and its level, by topic name."""
    return {
        topic["name"]: (
            sorted(paper["title"] for paper in topic["liked"]),
            sorted(paper["title"] for paper in topic["unliked"]),
            topic["level"],
        )
        for topic in subscriber["topics"]
    }


def test_subscribe_by_example_keeps_the_examples_and_level_when_not_given(stored: RunCli) -> None:
    made = stored(
        "subscribe", "ana@lab.org", "-n", "rules", "--like", NOPROP, "--unlike", LATENT,
        "--level", "2",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == (
        "subscribed ana@lab.org: new topic 'rules' with 0 keyword(s) and 0 exclusion(s),"
        " 1 liked paper(s), 1 unliked paper(s), level 2\n"
    )
    assert stored("subscribe", "ana@lab.org", "-n", "rules", "backpropagation").returncode == 0
    [ana] = _subscribers(stored)
    assert _examples(ana) == {"rules": ([NOPROP], [LATENT], 2)}
    assert ana["topics"][0]["keywords"] == ["backpropagation"]
    levels = []
    for flag in ("--more", "--more", "--fewer"):
        assert stored("subscribe", "ana@lab.org", "-n", "rules", "GAN", flag).returncode == 0
        levels.append(_examples(_subscribers(stored)[0])["rules"][2])
    assert levels == [3, 3, 2]  # clamped at 3
    table = stored("subscriptions").stdout
    assert f"liked: {NOPROP}; unliked: {LATENT}\t2\t" in table


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--like", "No Such Paper"], 1, "paper 'No Such Paper': no stored paper has this title"),
        (["--like", "2401.99999"], 1, "no stored paper has the arXiv id 2401.99999"),
        (["--like", NOPROP, "--unlike", NOPROP.upper()], 2, "is given as both liked and unliked"),
        (["--like", NOPROP, "--level", "4"], 2, "level 4 is out of range"),
        (["--like", NOPROP, "--level", "1", "--more"], 2, "give only one of --level, --more"),
    ],
)
def test_an_unknown_paper_or_bad_level_is_one_line_and_stores_nothing(
    stored: RunCli, args: list[str], code: int, message: str
) -> None:
    result = stored("subscribe", "ana@lab.org", *args)
    assert result.returncode == code
    [line] = result.stderr.splitlines()
    assert line.startswith("paperbot: error: ") and message in line, line
    assert _subscribers(stored, "--all") == []  # not even the subscriber


def test_examples_and_levels_round_trip_through_export_and_import(
    stored: RunCli, sample_papers_data: Path, tmp_path: Path
) -> None:
    assert stored("subscribe", "ana@lab.org", "--like", NOPROP, "--like", LATENT).returncode == 0
    made = stored("subscribe", "bo@lab.org", "GAN", "--unlike", NOPROP, "--level", "-2")
    assert made.returncode == 0, made.stderr
    for format in ("csv", "toml"):
        exported = stored("subscriptions", "export", "--format", format, "-o", f"subs.{format}")
        assert exported.returncode == 0, exported.stderr
        other = {"PAPERBOT_DATA_DIR": str(tmp_path / format)}
        shutil.copytree(sample_papers_data, tmp_path / format)  # the same papers, no examples
        imported = stored("subscriptions", "import", f"subs.{format}", env=other)
        assert imported.returncode == 0, imported.stderr
        listed = stored("subscriptions", "--json", env=other)
        assert [_examples(s) for s in json.loads(listed.stdout)] == [
            {"default": ([NOPROP, LATENT], [], 0)},
            {"default": ([], [NOPROP], -2)},
        ]


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("subs.csv", f"email,keywords,liked\nbo@lab.org,LoRA,{NOPROP}\ncy@lab.org,GAN,Unknown Paper\n", "row 3"),
        ("subs.toml", f'[[subscription]]\nemail = "bo@lab.org"\nliked = ["{NOPROP}"]\n\n'
         '[[subscription]]\nemail = "cy@lab.org"\nunliked = ["Unknown Paper"]\nkeywords = ["GAN"]\n',
         "subscription 2"),
    ],
)  # fmt: skip
def test_an_import_naming_an_unknown_paper_names_its_row_and_stores_nothing(
    stored: RunCli, tmp_path: Path, name: str, content: str, where: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = stored("subscriptions", "import", name)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"paperbot: error: {name}: {where}: paper 'Unknown Paper': no stored paper has this"
        " title (give its exact title, its arXiv id or a link to it)"
    ]
    assert _subscribers(stored, "--all") == []
