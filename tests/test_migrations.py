"""Schema migrations on real SQLite files: new databases, old ones with data, races, the CLI.

Old databases are made from `tests/data/schemas/`: the tables `create_schema` made
at the commits before migrations, captured from those commits' models.
"""

import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Select, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlmodel import Session, SQLModel, col

from bot import migrations
from bot.db import open_engine, schema_state, upgrade_schema, write_session
from bot.errors import StoreError
from bot.migrations import alembic_config, compare_type, include_object, scripts
from bot.models import (
    ConfirmationCount,
    Delivery,
    DeliveryClaim,
    DeliveryRound,
    JobState,
    Paper,
    PaperVector,
    PendingSubscription,
    SentPaper,
    Sighting,
    Subscriber,
    Subscription,
    TopicExample,
)
from bot.runs import finish_run, recent_runs, start_run
from bot.subscriptions.channels import add_channel
from bot.subscriptions.lab_channels import lab_recipients, route_topic
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import subscribe
from tests.conftest import DATA, ROOT, RunCli

SCHEMAS = DATA / "schemas"
BASELINE, SERVICE, NEWEST = "f9c7182", "84a261d", "05b6eae"  # commits before migrations
HEAD = "0015"
NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def _old_database(path: Path, commit: str) -> None:
    """A database file with the tables `create_schema` made at `commit`, and no alembic_version."""
    with sqlite3.connect(path) as connection:
        connection.executescript((SCHEMAS / f"{commit}.sql").read_text())


def _differences(engine: Engine, metadata: MetaData = SQLModel.metadata) -> list[object]:
    """What Alembic's autogenerate finds between the database and `metadata` (as `alembic check`)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": include_object, "compare_type": compare_type},
        )
        return list(compare_metadata(context, metadata))


def _recorded(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return []
        return list(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _fill_baseline(path: Path) -> None:
    """Rows in every kind of table a baseline database held, written as the old code did."""
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            INSERT INTO paper (id, title, title_key, abstract, authors, code_urls, project_urls,
                arxiv_id, categories, first_seen_at, updated_at)
              VALUES (1, 'Graph Nets', 'graph nets', 'An abstract.', '["Ana"]', '[]', '[]',
                '2401.00001', '["cs.LG"]', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
                     (2, 'Diffusion', 'diffusion', '', '[]', '[]', '[]',
                NULL, '[]', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
            INSERT INTO importedfile (id, path, content_hash, size, mtime_ns, status, warnings,
                papers_parsed, papers_new, papers_updated, imported_at)
              VALUES (1, '/in/dump.txt', 'abc', 10, 1, 'ok', '[]', 2, 2, 0, '2024-01-01 00:00:00');
            INSERT INTO sighting (paper_id, imported_file_id, page_date, seen_at)
              VALUES (1, 1, '2024-01-01', '2024-01-01 00:00:00');
            INSERT INTO subscriber (id, email, email_key, cadence, format, status,
                created_at, updated_at)
              VALUES (1, 'Ana@lab.org', 'ana@lab.org', 'weekly', 'email', 'active',
                '2024-01-01 00:00:00', '2024-01-01 00:00:00');
            INSERT INTO subscription (subscriber_id, name, keywords, exclusions, created_at,
                updated_at)
              VALUES (1, 'default', '["graph"]', '[]', '2024-01-01 00:00:00',
                '2024-01-01 00:00:00');
            INSERT INTO run (id, kind, started_at, status, counts, details)
              VALUES (1, 'delivery', '2024-01-01 00:00:00', 'ok', '{"sent": 1}', '[]');
            INSERT INTO delivery (id, run_id, subscriber_id, channel, status, attempts, papers,
                created_at)
              VALUES (1, 1, 1, 'email', 'sent', 1, 1, '2024-01-01 00:00:00');
            INSERT INTO sentpaper (subscriber_id, paper_id, delivery_id, sent_at)
              VALUES (1, 1, 1, '2024-01-01 00:00:00');
            """
        )


def _assert_baseline_rows_kept(engine: Engine) -> None:
    with Session(engine) as session:
        papers = session.scalars(select(Paper).order_by(col(Paper.id))).all()
        assert [(p.title, p.authors, p.arxiv_id) for p in papers] == [
            ("Graph Nets", ["Ana"], "2401.00001"),
            ("Diffusion", [], None),
        ]
        [subscriber] = session.scalars(select(Subscriber)).all()
        assert (subscriber.email, subscriber.cadence, subscriber.timezone) == (
            "Ana@lab.org",
            "weekly",
            None,  # the new column: NULL in the rows already there
        )
        assert session.scalars(select(col(Subscription.keywords))).one() == ["graph"]
        assert session.scalars(select(col(Sighting.paper_id))).one() == 1
        assert session.scalars(select(col(Delivery.status))).one() == "sent"
        ledger = session.scalars(select(SentPaper)).one()
        assert (ledger.subscriber_id, ledger.paper_id, ledger.delivery_id) == (1, 1, 1)
        assert ledger.sent_at == datetime(2024, 1, 1, tzinfo=UTC)


def test_the_head_written_in_code_is_the_newest_script() -> None:
    # Commands trust `migrations.HEAD` to skip Alembic when a database is up to date.
    assert migrations.HEAD == scripts().get_current_head() == HEAD


def test_a_database_at_head_is_checked_without_waiting_for_writers(database_url: str) -> None:
    # Every command checks the schema first: `paperbot health`, say, must not queue
    # behind a delivery's writes when there is nothing to upgrade.
    writer = open_engine(database_url)
    upgrade_schema(writer)
    checker = open_engine(database_url, busy_timeout=0.5)
    try:
        with write_session(writer) as session:
            session.execute(text("SELECT 1"))  # holds the writers' lock until the block ends
            done = upgrade_schema(checker)
        assert (done.before.current, done.after) == (HEAD, HEAD)
    finally:
        checker.dispose()
        writer.dispose()


def _tables(engine: Engine) -> dict[str, dict[str, object]]:
    """Each table's columns, keys, indexes and constraints, in a form two databases compare in."""
    sqlite = engine.dialect.name == "sqlite"

    def type_of(column: ReflectedColumn) -> str:
        name = str(column["type"])
        # SQLite stores every type whose name holds INT alike (its affinity rules).
        return "INTEGER" if sqlite and "INT" in name else name

    tables: dict[str, dict[str, object]] = {}
    with engine.connect() as connection:
        found = inspect(connection)
        for table in found.get_table_names():
            columns = found.get_columns(table)
            tables[table] = {
                "columns": sorted(
                    (c["name"], type_of(c), c["nullable"], str(c.get("default"))) for c in columns
                ),
                "key": found.get_pk_constraint(table)["constrained_columns"],
                "references": sorted(
                    (tuple(k["constrained_columns"]), k["referred_table"], str(k.get("options")))
                    for k in found.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in found.get_indexes(table)
                ),
                "unique": sorted(
                    tuple(u["column_names"]) for u in found.get_unique_constraints(table)
                ),
            }
    return tables


def test_a_new_database_is_made_with_the_tables_every_revision_makes(database_url: str) -> None:
    engine = open_engine(database_url)
    with engine.begin() as connection:  # every revision, one after another
        command.upgrade(alembic_config(connection), "head")
    made_by_revisions = _tables(engine)
    with engine.begin() as connection:
        everything = MetaData()
        everything.reflect(connection)
        everything.drop_all(connection)
    done = upgrade_schema(engine)  # a new database again: made at head at once
    assert (done.before.current, done.after) == (None, HEAD)
    assert _tables(engine) == made_by_revisions
    assert _recorded(engine) == [HEAD]
    engine.dispose()


def test_a_new_database_is_made_without_loading_alembic(tmp_path: Path) -> None:
    # Alembic and its scripts were an eighth of an operator's first command.
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = (
        "import sys; from bot.db import open_engine, upgrade_schema;"
        f" upgrade_schema(open_engine({url!r})); print('alembic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert schema_state(open_engine(url)).current == HEAD


def test_head_is_exactly_the_models_on_each_database(database_url: str) -> None:
    engine = open_engine(database_url)
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == (None, HEAD)
    assert _differences(engine) == []
    engine.dispose()


def test_an_empty_database_upgraded_to_head_is_exactly_the_models(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'new.db'}")
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == (None, HEAD)
    assert _differences(engine) == []
    assert _recorded(engine) == [HEAD]
    with engine.begin() as connection:  # and the comparison does see what is missing
        connection.exec_driver_sql("DROP INDEX ix_paper_title_key")
    assert _differences(engine) != []


@pytest.mark.parametrize(("commit", "revision"), [(BASELINE, "0001"), (SERVICE, "0002")])
def test_each_revision_makes_the_tables_create_schema_made_at_its_commit(
    tmp_path: Path, commit: str, revision: str
) -> None:
    old = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _old_database(tmp_path / "old.db", commit)
    made_then = MetaData()
    with old.connect() as connection:
        made_then.reflect(connection)
    migrated = open_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with migrated.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    assert _differences(migrated, made_then) == []


@pytest.mark.parametrize("made_by", ["create_schema", "the baseline migration"])
def test_a_baseline_database_with_data_upgrades_in_place(tmp_path: Path, made_by: str) -> None:
    path = tmp_path / "paperbot.db"
    engine = open_engine(f"sqlite:///{path}")
    if made_by == "create_schema":
        _old_database(path, BASELINE)
    else:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
    _fill_baseline(path)
    done = upgrade_schema(engine)
    assert (done.before.current, done.before.recorded, done.after) == (
        "0001",
        made_by != "create_schema",
        HEAD,
    )
    assert _recorded(engine) == [HEAD]
    assert _differences(engine) == []
    _assert_baseline_rows_kept(engine)
    with write_session(engine) as session:  # the new tables and column take rows
        session.add(JobState(name="inbox", last_outcome="ok", last_finished_at=NOW))
        session.add(PendingSubscription(email="b@lab.org", email_key="b@lab.org", created_at=NOW))
        session.add(ConfirmationCount(address="0" * 64, day=NOW.date(), sent=1))
        subscriber = session.scalars(select(Subscriber)).one()
        subscriber.timezone = "Asia/Tokyo"
        delivery_round = DeliveryRound(started_by="host:1", started_at=NOW)
        session.add(delivery_round)
        session.flush()
        assert subscriber.id is not None and delivery_round.id is not None
        session.add(
            DeliveryClaim(
                subscriber_id=subscriber.id, round_id=delivery_round.id, holder="host:1",
                expires_at=NOW,
            )
        )  # fmt: skip
    with Session(engine) as session:
        assert session.scalars(select(col(Subscriber.timezone))).one() == "Asia/Tokyo"
        assert session.scalars(select(col(DeliveryClaim.holder))).one() == "host:1"
        assert session.scalars(select(col(ConfirmationCount.sent))).one() == 1


@pytest.mark.parametrize(
    ("commit", "revision"), [(BASELINE, "0001"), (SERVICE, "0002"), (NEWEST, "0003")]
)
def test_a_database_made_before_migrations_is_recorded_then_upgraded(
    tmp_path: Path, commit: str, revision: str
) -> None:
    _old_database(tmp_path / "old.db", commit)
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    state = schema_state(engine)
    assert (state.current, state.recorded, state.behind) == (revision, False, revision != HEAD)
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == (revision, HEAD)
    assert _recorded(engine) == [HEAD]
    assert _differences(engine) == []


def test_upgrading_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path, BASELINE)
    engine = open_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    with sqlite3.connect(path) as connection:
        schema = connection.execute("SELECT * FROM sqlite_master ORDER BY name").fetchall()
    again = upgrade_schema(engine)
    assert (again.before.current, again.before.recorded, again.after) == (HEAD, True, HEAD)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT * FROM sqlite_master ORDER BY name").fetchall() == schema


def test_tables_no_paperbot_version_made_are_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    _old_database(path, BASELINE)
    with sqlite3.connect(path) as connection:  # half of revision 0002: the service's tables only
        connection.execute("CREATE TABLE jobstate (name VARCHAR NOT NULL PRIMARY KEY)")
    engine = open_engine(f"sqlite:///{path}")
    with pytest.raises(StoreError, match="match no schema paperbot ever made"):
        upgrade_schema(engine)
    assert _recorded(engine) == []
    assert "heartbeat" not in inspect(engine).get_table_names()


def test_a_revision_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade_schema(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(StoreError, match="at 0099, a revision this paperbot does not know"):
        upgrade_schema(engine)
    assert _recorded(engine) == ["0099"]


def test_the_scheduler_table_is_not_part_of_the_schema(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade_schema(engine)
    with engine.begin() as connection:  # as APScheduler's SQLAlchemyJobStore makes it
        connection.exec_driver_sql(
            "CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, job_state BLOB)"
        )
    assert _differences(engine) == []


UPGRADER = """
import sys, time
from pathlib import Path
from bot.db import open_engine, upgrade_schema
engine = open_engine(sys.argv[1])
Path(sys.argv[2]).touch()
while not Path(sys.argv[3]).exists():  # start together: both ready, then both go
    time.sleep(0.001)
done = upgrade_schema(engine)
print(done.before.current, done.before.recorded, done.after)
"""


def test_two_processes_upgrading_at_once_both_succeed_and_one_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path, BASELINE)
    _fill_baseline(path)
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADER, f"sqlite:///{path}", str(tmp_path / f"ready{n}"), go],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{n}").exists() for n in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes)
        time.sleep(0.01)
    go.touch()
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        outputs.append(stdout.strip())
    # One found the old schema and migrated it; the other waited, then found it at head.
    assert sorted(outputs) == [f"0001 False {HEAD}", f"{HEAD} True {HEAD}"]
    engine = open_engine(f"sqlite:///{path}")
    assert _recorded(engine) == [HEAD]
    assert _differences(engine) == []
    _assert_baseline_rows_kept(engine)


def test_without_auto_upgrade_an_old_schema_is_refused_until_db_upgrade(
    tmp_path: Path, run_cli: RunCli
) -> None:
    path = tmp_path / "paperbot-data" / "paperbot.db"
    path.parent.mkdir()
    _old_database(path, BASELINE)
    _fill_baseline(path)
    manual = {"PAPERBOT_DATABASE_AUTO_UPGRADE": "false"}

    refused = run_cli("papers", env=manual)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"paperbot: error: the database schema is at 0001, paperbot needs {HEAD}:"
        " run `paperbot db upgrade`\n"
    )
    assert _recorded(open_engine(f"sqlite:///{path}")) == []  # nothing was changed

    current = run_cli("db", "current", env=manual)
    assert current.returncode == 0, current.stderr
    assert current.stdout == (
        f"0001 (from its tables: no revision recorded yet); paperbot needs {HEAD}:"
        " run `paperbot db upgrade`\n"
    )
    upgraded = run_cli("db", "upgrade", env=manual)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == (
        f"recorded the database schema as 0001 (it had no revision yet), then upgraded it to {HEAD}\n"
    )
    assert run_cli("db", "current").stdout == f"{HEAD}: up to date\n"
    assert run_cli("db", "upgrade").stdout == (
        f"the database schema is already at {HEAD}: nothing to do\n"
    )
    listed = run_cli("papers", "--json", env=manual)
    assert listed.returncode == 0, listed.stderr
    assert "Graph Nets" in listed.stdout


def test_db_upgrade_says_from_which_revision_to_which(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "paperbot-data" / "paperbot.db"
    path.parent.mkdir()
    engine = open_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    assert (
        run_cli("db", "current").stdout
        == f"0002; paperbot needs {HEAD}: run `paperbot db upgrade`\n"
    )
    upgraded = run_cli("db", "upgrade")
    assert (upgraded.returncode, upgraded.stdout) == (
        0,
        f"upgraded the database schema from 0002 to {HEAD}\n",
    )
    assert _recorded(engine) == [HEAD]


def test_with_auto_upgrade_any_command_upgrades_an_old_schema(
    tmp_path: Path, run_cli: RunCli
) -> None:
    path = tmp_path / "paperbot-data" / "paperbot.db"
    path.parent.mkdir()
    _old_database(path, BASELINE)
    _fill_baseline(path)
    listed = run_cli("subscriptions", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "ana@lab.org" in listed.stdout.lower()
    assert _recorded(open_engine(f"sqlite:///{path}")) == [HEAD]


def test_a_new_database_without_auto_upgrade_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    refused = run_cli(
        "subscribe", "ana@lab.org", "GAN", env={"PAPERBOT_DATABASE_AUTO_UPGRADE": "false"}
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        "paperbot: error: the database schema is at nothing (an empty database),"
        f" paperbot needs {HEAD}: run `paperbot db upgrade`\n"
    )
    assert run_cli("db", "current").stdout == (
        f"no schema yet (an empty database); paperbot needs {HEAD}\n"
    )
    assert run_cli("db", "upgrade").stdout == f"created the database schema at {HEAD}\n"


def test_papers_stored_before_0007_keep_their_rows_and_take_the_new_fields(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0006")
        connection.execute(
            text(
                "INSERT INTO paper (title, title_key, abstract, authors, code_urls, project_urls,"
                " arxiv_id, categories, first_seen_at, updated_at) VALUES ('Editorial',"
                " 'editorial', '', '[]', '[]', '[]', '2311.15127', '[]', :now, :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == ("0006", HEAD)
    assert _differences(engine) == []
    with write_session(engine) as session:
        paper = session.scalars(select(Paper)).one()
        assert (paper.title, paper.doi, paper.entry_key, paper.hf_url) == (
            "Editorial", None, None, None,
        )  # fmt: skip
        assert (paper.ai_keywords, paper.github_stars) == ([], None)
        paper.doi, paper.ai_keywords, paper.github_stars = "10.1000/x1", ["video"], 12
    with Session(engine) as session:
        assert session.execute(
            select(col(Paper.doi), col(Paper.ai_keywords), col(Paper.github_stars))
        ).one() == ("10.1000/x1", ["video"], 12)
    with engine.begin() as connection:  # and back down, the rows still there
        command.downgrade(alembic_config(connection), "0006")
        assert connection.scalar(text("SELECT title FROM paper")) == "Editorial"
    engine.dispose()


def test_topics_stored_before_0009_keep_their_keywords_and_take_the_follows(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0008")
        connection.execute(
            text(
                "INSERT INTO subscriber (id, email, email_key, cadence, format, status,"
                " created_at, updated_at) VALUES (1, 'ana@lab.org', 'ana@lab.org', 'daily',"
                " 'email', 'active', :now, :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO subscription (subscriber_id, name, keywords, exclusions,"
                " created_at, updated_at) VALUES (1, 'graphs', '[\"GNN\"]', '[\"survey\"]',"
                " :now, :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == ("0008", HEAD)
    assert _differences(engine) == []
    with write_session(engine) as session:
        topic = session.scalars(select(Subscription)).one()
        assert (topic.keywords, topic.exclusions) == (["GNN"], ["survey"])
        assert (topic.authors, topic.exclude_categories, topic.min_upvotes, topic.top) == (
            [], [], None, None,
        )  # fmt: skip
        topic.authors, topic.categories, topic.top = ["Y. LeCun"], ["cs.*"], 3
    with Session(engine) as session:
        assert session.execute(
            select(col(Subscription.authors), col(Subscription.categories), col(Subscription.top))
        ).one() == (["Y. LeCun"], ["cs.*"], 3)
    with engine.begin() as connection:  # and back down, the topic still there
        command.downgrade(alembic_config(connection), "0008")
        assert connection.scalar(text("SELECT name FROM subscription")) == "graphs"
    engine.dispose()


def test_topics_stored_before_0010_start_at_level_0_and_take_examples(database_url: str) -> None:
    engine = open_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0009")
        now = {"now": NOW.replace(tzinfo=None)}
        connection.execute(
            text(
                "INSERT INTO subscriber (id, email, email_key, cadence, format, status,"
                " created_at, updated_at) VALUES (1, 'ana@lab.org', 'ana@lab.org', 'daily',"
                " 'email', 'active', :now, :now)"
            ),
            now,
        )
        connection.execute(
            text(
                "INSERT INTO subscription (id, subscriber_id, name, keywords, exclusions,"
                " created_at, updated_at) VALUES (1, 1, 'grok', '[\"grokking\"]', '[]', :now, :now)"
            ),
            now,
        )
        connection.execute(
            text(
                "INSERT INTO paper (id, title, title_key, abstract, authors, code_urls,"
                " project_urls, categories, first_seen_at, updated_at) VALUES (7, 'Grokking',"
                " 'grokking', 'Fourier.', '[]', '[]', '[]', '[]', :now, :now)"
            ),
            now,
        )
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == ("0009", HEAD)
    assert _differences(engine) == []
    with write_session(engine) as session:
        topic = session.scalars(select(Subscription)).one()
        assert (topic.keywords, topic.similarity_level) == (["grokking"], 0)
        session.add(TopicExample(subscription_id=1, paper_id=7, liked=True, source="web",
                                 added_at=NOW))  # fmt: skip
        session.add(PaperVector(paper_id=7, method="terms/1", text_hash="h", terms="{}"))
    with engine.begin() as connection:  # and back down, the topic and paper still there
        command.downgrade(alembic_config(connection), "0009")
        assert connection.scalar(text("SELECT name FROM subscription")) == "grok"
        assert connection.scalar(text("SELECT title FROM paper")) == "Grokking"
    engine.dispose()


def test_subscribers_stored_before_0011_start_at_feed_version_0(database_url: str) -> None:
    engine = open_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0010")
        connection.execute(
            text(
                "INSERT INTO subscriber (id, email, email_key, cadence, format, status,"
                " created_at, updated_at) VALUES (1, 'ana@lab.org', 'ana@lab.org', 'daily',"
                " 'email', 'active', :now, :now)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == ("0010", HEAD)
    assert _differences(engine) == []
    with write_session(engine) as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert (subscriber.email, subscriber.feed_version) == ("ana@lab.org", 0)
        subscriber.feed_version += 1
    with Session(engine) as session:
        assert session.scalars(select(col(Subscriber.feed_version))).one() == 1
    with engine.begin() as connection:  # and back down, the subscriber still there
        command.downgrade(alembic_config(connection), "0010")
        assert connection.scalar(text("SELECT email FROM subscriber")) == "ana@lab.org"
    engine.dispose()


def test_formats_stored_before_0012_become_channels_and_their_ledger_is_kept_per_channel(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    now = {"now": NOW.replace(tzinfo=None)}
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0011")
        for number, format in enumerate(("email", "markdown", "both"), start=1):
            connection.execute(
                text(
                    "INSERT INTO subscriber (id, email, email_key, cadence, format, status,"
                    " created_at, updated_at) VALUES (:id, :email, :email, 'daily', :format,"
                    " 'active', :now, :now)"
                ),
                {"id": number, "email": f"{format}@lab.org", "format": format, **now},
            )
        connection.execute(
            text(
                "INSERT INTO paper (id, title, title_key, abstract, authors, code_urls,"
                " project_urls, categories, first_seen_at, updated_at) VALUES (1, 'Graph paper',"
                " 'graph paper', '', '[]', '[]', '[]', '[]', :now, :now)"
            ),
            now,
        )
        for number in (1, 2, 3):
            connection.execute(
                text(
                    "INSERT INTO delivery (id, subscriber_id, channel, status, attempts,"
                    " papers, created_at) VALUES (:id, :id, 'email', 'sent', 1, 1, :now)"
                ),
                {"id": number, **now},
            )
            connection.execute(
                text(
                    "INSERT INTO sentpaper (subscriber_id, paper_id, delivery_id, sent_at)"
                    " VALUES (:id, 1, :id, :now)"
                ),
                {"id": number, **now},
            )
    done = upgrade_schema(engine)
    assert (done.before.current, done.after) == ("0011", HEAD)
    assert _differences(engine) == []
    with Session(engine) as session:
        channels = dict(
            session.execute(select(col(Subscriber.email), col(Subscriber.channels))).all()
        )
        ledger = sorted(
            session.execute(select(col(SentPaper.subscriber_id), col(SentPaper.channel)))
        )
    assert channels == {
        "email@lab.org": ["email"],
        "markdown@lab.org": ["markdown"],
        "both@lab.org": ["markdown", "email"],
    }
    assert ledger == [(1, "email"), (2, "markdown"), (3, "email"), (3, "markdown")]
    with engine.begin() as connection:  # and back down: formats again, one row per paper
        command.downgrade(alembic_config(connection), "0011")
        formats: dict[int, str] = dict(
            connection.execute(text("SELECT id, format FROM subscriber")).all()
        )
        rows = connection.scalar(text("SELECT count(*) FROM sentpaper"))
    assert formats == {1: "email", 2: "markdown", 3: "both"}
    assert rows == 3
    engine.dispose()


def test_lab_channels_added_at_0013_are_dropped_with_their_history_going_back_to_0012(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    upgrade_schema(engine)
    with write_session(engine) as session:
        subscribe(session, make_spec("ana@lab.org", ["graphs"]), now=NOW)
        add_channel(session, "lab", "slack", {"webhook_url": "https://hooks.slack.com/x"},
                    owner=None, now=NOW)  # fmt: skip
        route_topic(session, "lab", "default", owner=None, now=NOW)
        [room] = lab_recipients(session)
        session.add(Delivery(subscriber_id=room.id, channel="lab", status="failed", created_at=NOW))
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0012")
        emails = connection.scalars(text("SELECT email FROM subscriber")).all()
        left = [
            connection.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("channel", "delivery")
        ]
        assert not inspect(connection).has_table("channelroute")
    assert emails == ["ana@lab.org"] and left == [0, 0]
    assert upgrade_schema(engine).after == HEAD
    assert _differences(engine) == []
    engine.dispose()


def test_run_rows_added_at_0014_go_back_into_their_runs_details_going_back_to_0013(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    upgrade_schema(engine)
    rows = [
        {"target": f"reader{n}@lab.org", "outcome": "sent", "reason": "250 ok"} for n in range(3)
    ]
    first, second = start_run(engine, "delivery", now=NOW), start_run(engine, "ingest", now=NOW)
    finish_run(engine, first, status="ok", counts={"emails": 3}, details=rows[::-1], now=NOW)
    finish_run(engine, second, status="ok", counts={}, details=[], now=NOW)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0013")
        kept: dict[int, object] = {
            run: details for run, details in connection.execute(text("SELECT id, details FROM run"))
        }
        assert not inspect(connection).has_table("runrow")
    details = {run: json.loads(d) if isinstance(d, str) else d for run, d in kept.items()}
    assert details == {first: rows[::-1], second: []}
    assert upgrade_schema(engine).after == HEAD
    assert [r.details for r in recent_runs(engine, limit=2)] == [[], rows[::-1]]
    assert _differences(engine) == []
    engine.dispose()


def test_papers_indexed_by_first_sighting_at_0015_are_found_by_it_and_lose_it_going_back(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    upgrade_schema(engine)
    window = select(Paper).where(col(Paper.first_seen_at) >= NOW)
    newest = select(Paper).order_by(col(Paper.first_seen_at).desc(), col(Paper.id).desc()).limit(9)
    if engine.dialect.name == "sqlite":  # PostgreSQL plans a table this small as a scan
        assert _plan(engine, window) == [
            "SEARCH paper USING INDEX ix_paper_first_seen_at (first_seen_at>?)"
        ]
        assert _plan(engine, newest) == ["SCAN paper USING INDEX ix_paper_first_seen_at"]
    with engine.begin() as connection:
        assert "ix_paper_first_seen_at" in _paper_indexes(connection)
        command.downgrade(alembic_config(connection), "0014")
        assert "ix_paper_first_seen_at" not in _paper_indexes(connection)
    assert upgrade_schema(engine).after == HEAD
    assert _differences(engine) == []
    engine.dispose()


def _plan(engine: Engine, query: Select[Any]) -> list[str]:
    """The steps of SQLite's plan for `query`: no sort step means the index gives the order."""
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        return [row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]


def _paper_indexes(connection: object) -> set[str]:
    return {index["name"] or "" for index in inspect(connection).get_indexes("paper")}
