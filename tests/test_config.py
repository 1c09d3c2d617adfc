"""Settings: lookup, validation, environment overrides, secrets, the example file."""

import json
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from bot import __version__
from bot.config import (
    FeedSettings,
    Settings,
    _env_overrides,
    describe,
    env_variables,
    load_settings,
)
from bot.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
PASSWORD = "Zebra-Quartz-9931"
DB_URL = f"postgresql://paperbot:{PASSWORD}@db.internal/papers"


def write(path: Path, text: str) -> Path:
    """Write a config file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    """Load settings from `text` written to tmp_path/c.toml, with a clean environment."""
    return load_settings(write(tmp_path / "c.toml", text), environ=environ or {}, cwd=tmp_path)


def config_error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    """The one-line message of the ConfigError that loading `text` raises."""
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every setting of `model` as a dotted key; `name[].key` for a list of tables."""
    keys = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys += leaf_keys(kind, f"{prefix}{name}.")
        elif get_origin(kind) is tuple and _is_model(get_args(kind)[0]):
            keys += leaf_keys(get_args(kind)[0], f"{prefix}{name}[].")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def lookup(data: dict[str, Any], dotted: str) -> bool:
    """Whether parsed TOML `data` holds the dotted key (`name[]` looks in the first table)."""
    value: Any = data
    for part in dotted.split("."):
        if part.endswith("[]"):
            tables = value.get(part[:-2])
            if not isinstance(tables, list) or not tables:
                return False
            value = tables[0]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False
    return True


def uncommented_example() -> str:
    """The example file with its commented-out settings and tables switched on."""
    setting = re.compile(r"^# (\[\[?\w+\]\]?|\w+ = .*)$")
    return "\n".join(setting.sub(r"\1", line) for line in EXAMPLE.read_text().splitlines())


# --- Defaults and lookup ---------------------------------------------------------


def test_defaults_apply_when_there_is_no_file(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)

    data = tmp_path / "paperbot-data"
    assert settings.source is None
    assert settings.data_dir == data
    assert settings.inbox_dir == data / "inbox"
    assert settings.outbox_dir == data / "outbox"
    assert settings.digests_dir == data / "digests"
    assert settings.database_url == f"sqlite:///{data / 'paperbot.db'}"
    assert settings.database.busy_timeout == 30.0
    assert settings.database.auto_upgrade is True
    assert settings.ingest.feed_timeout == 30.0
    assert settings.ingest.user_agent == f"paperbot/{__version__}"
    assert settings.feeds == ()
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "localhost",
        587,
        "starttls",
    )
    assert settings.smtp.username == ""
    assert settings.smtp.password.get_secret_value() == ""
    assert settings.smtp.timeout == 30.0
    assert (settings.log.level, settings.log.format) == ("info", "json")


def test_settings_built_in_code_have_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert Settings().data_dir == tmp_path / "paperbot-data"


def test_settings_are_read_only(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)

    with pytest.raises(ValidationError):
        settings.smtp.port = 25


def test_explicit_file_beats_environment_and_local_file(tmp_path: Path) -> None:
    explicit = write(tmp_path / "explicit.toml", '[smtp]\nhost = "explicit"\n')
    from_env = write(tmp_path / "env.toml", '[smtp]\nhost = "env"\n')
    write(tmp_path / "paperbot.toml", '[smtp]\nhost = "local"\n')

    settings = load_settings(explicit, environ={"PAPERBOT_CONFIG": str(from_env)}, cwd=tmp_path)

    assert settings.smtp.host == "explicit"
    assert settings.source == explicit


def test_environment_file_beats_local_file(tmp_path: Path) -> None:
    from_env = write(tmp_path / "env.toml", '[smtp]\nhost = "env"\n')
    write(tmp_path / "paperbot.toml", '[smtp]\nhost = "local"\n')

    settings = load_settings(environ={"PAPERBOT_CONFIG": str(from_env)}, cwd=tmp_path)

    assert settings.smtp.host == "env"
    assert settings.source == from_env


def test_local_file_is_used_when_nothing_else_is_given(tmp_path: Path) -> None:
    local = write(tmp_path / "paperbot.toml", '[smtp]\nhost = "local"\n')

    settings = load_settings(environ={}, cwd=tmp_path)

    assert settings.smtp.host == "local"
    assert settings.source == local


def test_empty_config_variable_counts_as_unset(tmp_path: Path) -> None:
    write(tmp_path / "paperbot.toml", '[smtp]\nhost = "local"\n')

    settings = load_settings(environ={"PAPERBOT_CONFIG": ""}, cwd=tmp_path)

    assert settings.smtp.host == "local"


def test_relative_explicit_path_is_taken_from_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "bot.toml", "[smtp]\nport = 25\n")

    settings = load_settings(Path("conf/bot.toml"), environ={}, cwd=tmp_path)

    assert settings.smtp.port == 25
    assert settings.source == tmp_path / "conf" / "bot.toml"


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "paperbot.toml", "")
    missing = tmp_path / "nope.toml"

    with pytest.raises(ConfigError) as caught:
        load_settings(missing, environ={}, cwd=tmp_path)

    assert str(caught.value) == f"config file {missing} does not exist"


def test_missing_file_named_by_the_environment_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "paperbot.toml", "")

    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"PAPERBOT_CONFIG": "gone.toml"}, cwd=tmp_path)

    assert str(caught.value) == "config file gone.toml does not exist (named by $PAPERBOT_CONFIG)"


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "folder.toml").mkdir()

    with pytest.raises(ConfigError, match=r"^folder\.toml: cannot be read: "):
        load_settings(Path("folder.toml"), environ={}, cwd=tmp_path)


# --- Reading the file ------------------------------------------------------------


def test_invalid_toml_names_the_file_and_position(tmp_path: Path) -> None:
    message = config_error(tmp_path, "[smtp]\nport = = 25\n")

    assert message.startswith(f"{tmp_path / 'c.toml'}: not valid TOML: ")
    assert "line 2" in message


def test_local_file_is_named_as_found(tmp_path: Path) -> None:
    write(tmp_path / "paperbot.toml", "[smtp]\nport = 0\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, cwd=tmp_path)

    assert str(caught.value) == "paperbot.toml: smtp.port: expected an integer from 1 to 65535"


def test_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'[smtp]\nhost = "caf\xe9"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={}, cwd=tmp_path)

    assert str(caught.value) == f"{path}: not valid TOML: not UTF-8 text"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf[smtp]\nport = 25\n")

    assert load_settings(path, environ={}, cwd=tmp_path).smtp.port == 25


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "")

    assert settings.model_dump() == load_settings(environ={}, cwd=tmp_path).model_dump()
    assert settings.source == tmp_path / "c.toml"


# --- Validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour = 1", "unknown setting 'colour'"),
        ("data_dri = 'x'", "unknown setting 'data_dri' (did you mean 'data_dir'?)"),
        ("[smtp]\nportt = 25", "unknown setting 'smtp.portt' (did you mean 'smtp.port'?)"),
        ("[smpt]\nport = 25", "unknown setting 'smpt' (did you mean 'smtp'?)"),
        ("[log]\nlevel = 'info'\nextra = true", "unknown setting 'log.extra'"),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://a.example'\nnmae = 'b'",
            "unknown setting 'feeds[0].nmae' (did you mean 'feeds[0].name'?)",
        ),
    ],
)
def test_unknown_settings_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert config_error(tmp_path, text) == f"{tmp_path / 'c.toml'}: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[smtp]\nport = '587'", "smtp.port: expected an integer from 1 to 65535"),
        ("[smtp]\nport = 587.0", "smtp.port: expected an integer from 1 to 65535"),
        ("[smtp]\nport = true", "smtp.port: expected an integer from 1 to 65535"),
        ("[smtp]\nhost = 42", "smtp.host: expected a string"),
        ("[smtp]\npassword = 1234", "smtp.password: expected a string"),
        ("[smtp]\ntimeout = '30'", "smtp.timeout: expected a number greater than 0"),
        (
            "[database]\nbusy_timeout = false",
            "database.busy_timeout: expected a number greater than 0",
        ),
        ("[ingest]\nuser_agent = 2024-01-01", "ingest.user_agent: expected a string"),
        ("data_dir = 5", "data_dir: expected a path"),
        ("data_dir = ''", "data_dir: expected a non-empty path"),
        ("[paths]\ninbox = ['a']", "paths.inbox: expected a path"),
        ("smtp = [1, 2]", "smtp: expected a table"),
        ("smtp = 'localhost'", "smtp: expected a table"),
        ("[[smtp]]\nport = 25", "smtp: expected a table"),
        ("[feeds]\nname = 'a'", "feeds: expected a list of tables"),
        ("feeds = ['https://a.example']", "feeds[0]: expected a table"),
    ],
)
def test_wrong_types_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert config_error(tmp_path, text) == f"{tmp_path / 'c.toml'}: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[smtp]\nsecurity = 'ssl'", "smtp.security: expected one of 'starttls', 'tls', 'none'"),
        ("[log]\nlevel = 'INFO'", "log.level: expected one of 'debug', 'info', 'warning', 'error'"),
        ("[log]\nformat = 'xml'", "log.format: expected one of 'plain', 'json'"),
    ],
)
def test_bad_choices_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert config_error(tmp_path, text) == f"{tmp_path / 'c.toml'}: {expected}"


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_port_out_of_range_is_refused(tmp_path: Path, port: int) -> None:
    message = config_error(tmp_path, f"[smtp]\nport = {port}")

    assert message == f"{tmp_path / 'c.toml'}: smtp.port: expected an integer from 1 to 65535"


@pytest.mark.parametrize("port", [1, 25, 65535])
def test_port_in_range_is_accepted(tmp_path: Path, port: int) -> None:
    assert load_text(tmp_path, f"[smtp]\nport = {port}").smtp.port == port


@pytest.mark.parametrize("value", ["0", "-1.5", "inf", "nan"])
def test_durations_must_be_finite_and_positive(tmp_path: Path, value: str) -> None:
    message = config_error(tmp_path, f"[ingest]\nfeed_timeout = {value}")

    assert message.endswith("ingest.feed_timeout: expected a number greater than 0")


def test_an_integer_is_accepted_as_seconds(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "[database]\nbusy_timeout = 5")

    assert settings.database.busy_timeout == 5.0
    assert isinstance(settings.database.busy_timeout, float)


def test_several_errors_report_the_first_and_count_the_rest(tmp_path: Path) -> None:
    message = config_error(tmp_path, "[smtp]\nport = 'x'\nhost = 1\n[log]\nlevel = 'loud'")

    assert message == (f"{tmp_path / 'c.toml'}: smtp.host: expected a string (and 2 more)")


def test_feeds_are_read_in_order(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        "[[feeds]]\nname = 'cs.CL'\nurl = 'https://rss.arxiv.org/rss/cs.CL'\n"
        "[[feeds]]\nname = 'local'\nurl = 'http://127.0.0.1:8000/feed.xml'\n",
    )

    assert settings.feeds == (
        FeedSettings(name="cs.CL", url="https://rss.arxiv.org/rss/cs.CL"),
        FeedSettings(name="local", url="http://127.0.0.1:8000/feed.xml"),
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/feed",
        "example.org/feed",
        "https://",
        "file:///tmp/feed.xml",
        "http://[::1",
    ],
)
def test_feed_url_must_be_http_or_https(tmp_path: Path, url: str) -> None:
    message = config_error(tmp_path, f"[[feeds]]\nname = 'a'\nurl = '{url}'")

    assert message == f"{tmp_path / 'c.toml'}: feeds[0].url: expected an http or https URL"


def test_feed_names_must_be_unique(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        "[[feeds]]\nname = 'arxiv'\nurl = 'https://a.example/rss'\n"
        "[[feeds]]\nname = 'other'\nurl = 'https://b.example/rss'\n"
        "[[feeds]]\nname = 'arxiv'\nurl = 'https://c.example/rss'\n",
    )

    assert message == f"{tmp_path / 'c.toml'}: feeds: name 'arxiv' is used by feeds[0] and feeds[2]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[[feeds]]\nname = ''\nurl = 'https://a.example'",
            "feeds[0].name: expected a non-empty name",
        ),
        (
            "[[feeds]]\nname = '  '\nurl = 'https://a.example'",
            "feeds[0].name: expected a non-empty name",
        ),
        ("[[feeds]]\nurl = 'https://a.example'", "feeds[0].name: required setting is missing"),
        ("[[feeds]]\nname = 'a'", "feeds[0].url: required setting is missing"),
    ],
)
def test_feed_needs_a_name_and_a_url(tmp_path: Path, text: str, expected: str) -> None:
    assert config_error(tmp_path, text) == f"{tmp_path / 'c.toml'}: {expected}"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/paperbot/paperbot.db",
        "sqlite:///:memory:",
        "postgresql://paperbot@localhost/papers",
        "postgresql+psycopg://paperbot@localhost:5433/papers",
    ],
)
def test_sqlite_and_postgresql_urls_are_accepted(tmp_path: Path, url: str) -> None:
    settings = load_text(tmp_path, f"[database]\nurl = '{url}'")

    assert settings.database_url == url


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "sqlite://", "postgres://u@h/db", "papers.db", ""]
)
def test_other_database_urls_are_refused(tmp_path: Path, url: str) -> None:
    message = config_error(tmp_path, f"[database]\nurl = '{url}'")

    assert message == (
        f"{tmp_path / 'c.toml'}: database.url: expected a URL starting with sqlite:/// or postgresql://"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"postgresql://u:{PASSWORD}@127.0.0.1:notaport/db", "its port is not a number"),
        (f"postgresql://u:{PASSWORD}@[::1/db", "its port is not a number"),
        (f"postgresql://u:{PASSWORD}@db:0/papers", "its port is not from 1 to 65535"),
        (f"postgresql+psycopg://u:{PASSWORD}@db:65536/papers", "its port is not from 1 to 65535"),
    ],
)
def test_a_database_url_that_does_not_parse_is_refused_without_quoting_it(
    tmp_path: Path, url: str, reason: str
) -> None:
    message = config_error(tmp_path, f"[database]\nurl = '{url}'")

    assert message == f"{tmp_path / 'c.toml'}: database.url: not a valid database URL: {reason}"
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, "", {"PAPERBOT_DATABASE_URL": url})
    assert str(caught.value) == f"PAPERBOT_DATABASE_URL: not a valid database URL: {reason}"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- Relative paths ------------------------------------------------------------------


def test_relative_paths_in_a_file_are_relative_to_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "paperbot"
    path = write(
        folder / "bot.toml",
        'data_dir = "data"\n'
        '[paths]\ninbox = "../drop"\ndigests = "/srv/digests"\n'
        '[database]\nurl = "sqlite:///db/papers.db?timeout=5"\n',
    )

    settings = load_settings(path, environ={}, cwd=tmp_path / "elsewhere")

    assert settings.data_dir == folder / "data"
    assert settings.inbox_dir == folder / ".." / "drop"
    assert settings.outbox_dir == folder / "data" / "outbox"
    assert settings.digests_dir == Path("/srv/digests")
    assert settings.database_url == f"sqlite:///{folder / 'db' / 'papers.db'}?timeout=5"


def test_defaults_stay_relative_to_the_working_directory_with_a_file(tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "bot.toml", "[smtp]\nport = 25\n")

    settings = load_settings(path, environ={}, cwd=tmp_path / "work")

    assert settings.data_dir == tmp_path / "work" / "paperbot-data"
    assert (
        settings.database_url == f"sqlite:///{tmp_path / 'work' / 'paperbot-data' / 'paperbot.db'}"
    )


def test_every_path_is_absolute(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "data_dir = 'd'\n[paths]\noutbox = 'o'")

    for path in (settings.data_dir, settings.inbox_dir, settings.outbox_dir, settings.digests_dir):
        assert path.is_absolute()


# --- Environment ---------------------------------------------------------------------


def test_environment_names_come_from_the_schema() -> None:
    variables = env_variables()

    assert variables["PAPERBOT_DATA_DIR"] == "data_dir"
    assert variables["PAPERBOT_PATHS_INBOX"] == "paths.inbox"
    assert variables["PAPERBOT_DATABASE_URL"] == "database.url"
    assert variables["PAPERBOT_INGEST_FEED_TIMEOUT"] == "ingest.feed_timeout"
    assert variables["PAPERBOT_SMTP_PORT"] == "smtp.port"
    assert variables["PAPERBOT_SMTP_PASSWORD"] == "smtp.password"
    # One variable per single setting: every key but the list of feeds.
    assert sorted(variables.values()) == sorted(
        key for key in leaf_keys(Settings) if not key.startswith("feeds")
    )


def test_environment_overrides_single_settings(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        "[smtp]\nport = 2525\nhost = 'mail.example'\n",
        {
            "PAPERBOT_DATABASE_URL": DB_URL,
            "PAPERBOT_SMTP_PASSWORD": PASSWORD,
            "PAPERBOT_SMTP_PORT": "465",
            "PAPERBOT_SMTP_SECURITY": "tls",
            "PAPERBOT_INGEST_FEED_TIMEOUT": "2.5",
            "PAPERBOT_LOG_LEVEL": "debug",
        },
    )

    assert settings.database_url == DB_URL
    assert settings.smtp.password.get_secret_value() == PASSWORD
    assert settings.smtp.port == 465
    assert settings.smtp.host == "mail.example"
    assert settings.smtp.security == "tls"
    assert settings.ingest.feed_timeout == 2.5
    assert settings.log.level == "debug"


def test_environment_paths_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "bot.toml", "data_dir = 'from-file'\n")

    settings = load_settings(
        path,
        environ={"PAPERBOT_DATA_DIR": "from-env", "PAPERBOT_PATHS_INBOX": "drop"},
        cwd=tmp_path / "work",
    )

    assert settings.data_dir == tmp_path / "work" / "from-env"
    assert settings.inbox_dir == tmp_path / "work" / "drop"


def test_environment_sqlite_url_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    settings = load_settings(environ={"PAPERBOT_DATABASE_URL": "sqlite:///p.db"}, cwd=tmp_path)

    assert settings.database_url == f"sqlite:///{tmp_path / 'p.db'}"


def test_environment_works_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(environ={"PAPERBOT_SMTP_PORT": "25"}, cwd=tmp_path)

    assert settings.smtp.port == 25
    assert settings.source is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PAPERBOT_SMTP_PORT", "smtp", "PAPERBOT_SMTP_PORT: expected an integer from 1 to 65535"),
        ("PAPERBOT_SMTP_PORT", "25.0", "PAPERBOT_SMTP_PORT: expected an integer from 1 to 65535"),
        ("PAPERBOT_SMTP_PORT", "70000", "PAPERBOT_SMTP_PORT: expected an integer from 1 to 65535"),
        (
            "PAPERBOT_INGEST_FEED_TIMEOUT",
            "soon",
            "PAPERBOT_INGEST_FEED_TIMEOUT: expected a number greater than 0",
        ),
        (
            "PAPERBOT_INGEST_FEED_TIMEOUT",
            "-1",
            "PAPERBOT_INGEST_FEED_TIMEOUT: expected a number greater than 0",
        ),
        ("PAPERBOT_LOG_FORMAT", "yaml", "PAPERBOT_LOG_FORMAT: expected one of 'plain', 'json'"),
        ("PAPERBOT_DATA_DIR", "", "PAPERBOT_DATA_DIR: expected a non-empty path"),
    ],
)
def test_bad_environment_values_name_the_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    write(tmp_path / "paperbot.toml", "[smtp]\nport = 25\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(environ={variable: value}, cwd=tmp_path)

    assert str(caught.value) == expected


def test_unknown_prefixed_variables_are_ignored(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"PAPERBOT_SMTP_PORTT": "x", "PAPERBOT_FEEDS": "x", "PAPERBOT_THEME": "dark"},
        cwd=tmp_path,
    )

    assert settings.model_dump() == load_settings(environ={}, cwd=tmp_path).model_dump()


class _Flags(BaseModel):
    enabled: bool = False


class _WithFlags(BaseModel):
    flags: _Flags = _Flags()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("No", False),
    ],
)
def test_environment_booleans(text: str, value: bool) -> None:
    overrides, variables = _env_overrides({"PAPERBOT_FLAGS_ENABLED": text}, _WithFlags)

    assert overrides == {"flags": {"enabled": value}}
    assert variables == {("flags", "enabled"): "PAPERBOT_FLAGS_ENABLED"}


@pytest.mark.parametrize("text", ["maybe", "", "on", "2"])
def test_bad_environment_boolean_is_refused(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _env_overrides({"PAPERBOT_FLAGS_ENABLED": text}, _WithFlags)

    assert str(caught.value) == "PAPERBOT_FLAGS_ENABLED: expected true or false"


# --- Secrets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "environ"),
    [
        (f"[smtp]\npassword = '{PASSWORD}'\nport = 0", {}),
        (f"[smtp]\npassword = '{PASSWORD}'\npasword = '{PASSWORD}'", {}),
        (f"[smtp]\npassword = '{PASSWORD}", {}),
        (f"[smtp]\npassword = '{PASSWORD}'\n[smtp]\nport = 1", {}),
        (f"[smtp]\npassword = ['{PASSWORD}']", {}),
        (f"[database]\nurl = 'mysql://u:{PASSWORD}@h/db'", {}),
        (f"[database]\nurl = 5\n[smtp]\npassword = '{PASSWORD}'\nport = 0", {}),
        ("", {"PAPERBOT_DATABASE_URL": f"mysql://u:{PASSWORD}@h/db"}),
        ("", {"PAPERBOT_SMTP_PASSWORD": PASSWORD, "PAPERBOT_SMTP_PORT": PASSWORD}),
    ],
)
def test_secrets_never_appear_in_errors(tmp_path: Path, text: str, environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, environ)

    assert PASSWORD not in str(caught.value)
    # No chained pydantic or tomllib error either: its text would show the input.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize("length", [4, 17, 31])
def test_a_short_web_secret_is_refused_without_showing_it(tmp_path: Path, length: int) -> None:
    weak = (PASSWORD * 2)[:length]

    from_file = config_error(tmp_path, f"[web]\nsecret = '{weak}'\n")
    from_env = config_error(tmp_path, "", {"PAPERBOT_WEB_SECRET": weak})

    assert from_file.endswith(
        "c.toml: web.secret: " + from_env.removeprefix("PAPERBOT_WEB_SECRET: ")
    )
    assert from_env.startswith("PAPERBOT_WEB_SECRET: expected at least 32 characters")
    assert weak not in from_file and weak not in from_env


@pytest.mark.parametrize("secret", ["", "s" * 32, PASSWORD * 3])
def test_an_empty_or_long_enough_web_secret_is_accepted(tmp_path: Path, secret: str) -> None:
    settings = load_text(tmp_path, "", {"PAPERBOT_WEB_SECRET": secret})

    assert settings.web.secret.get_secret_value() == secret


def test_secrets_never_appear_in_repr_or_describe(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        f"[database]\nurl = '{DB_URL}'\n[smtp]\nusername = 'bot'\npassword = '{PASSWORD}'\n",
    )

    assert settings.smtp.password.get_secret_value() == PASSWORD
    assert settings.database_url == DB_URL
    for text in (repr(settings), str(settings), repr(settings.database), repr(settings.smtp)):
        assert PASSWORD not in text
        assert DB_URL not in text
    assert PASSWORD not in json.dumps(describe(settings))


# --- describe ----------------------------------------------------------------------------


def test_describe_masks_set_secrets(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path, "", {"PAPERBOT_SMTP_PASSWORD": PASSWORD, "PAPERBOT_DATABASE_URL": DB_URL}
    )

    data = describe(settings)

    assert data["smtp"] == {
        "host": "localhost",
        "port": 587,
        "security": "starttls",
        "username": "",
        "password": "***",
        "timeout": 30.0,
        "max_connections": 4,
        "messages_per_connection": 100,
    }
    assert data["database"] == {
        "url": "***",
        "busy_timeout": 30.0,
        "idle_transaction_timeout": 60.0,
        "auto_upgrade": True,
    }


def test_the_feed_deadline_is_four_feed_timeouts_unless_set(tmp_path: Path) -> None:
    assert load_text(tmp_path, "").feed_deadline == 120.0
    assert load_text(tmp_path, "[ingest]\nfeed_timeout = 5\n").feed_deadline == 20.0
    assert load_text(tmp_path, "", {"PAPERBOT_INGEST_FEED_DEADLINE": "7.5"}).feed_deadline == 7.5
    assert config_error(tmp_path, "[ingest]\nfeed_deadline = 0\n").endswith(
        "c.toml: ingest.feed_deadline: expected a number greater than 0"
    )


def test_describe_redacts_feed_urls(tmp_path: Path) -> None:
    url = f"https://reader:{PASSWORD}@feeds.example/rss?api_key=K3Y-1&sid=S1D-2&lang=en"
    settings = load_text(
        tmp_path, f"[ingest]\nsecret_params = ['sid']\n[[feeds]]\nname = 'a'\nurl = '{url}'\n"
    )

    assert settings.feeds[0].url == url
    assert describe(settings)["feeds"] == [
        {"name": "a", "url": "https://***@feeds.example/rss?api_key=***&sid=***&lang=en"}
    ]


def test_secret_params_come_as_a_list_or_as_names_separated_by_commas(tmp_path: Path) -> None:
    from_file = load_text(tmp_path, "[ingest]\nsecret_params = ['sid', 'session']\n")
    from_env = load_text(tmp_path, "", {"PAPERBOT_INGEST_SECRET_PARAMS": "sid, session,"})

    assert from_file.ingest.secret_params == from_env.ingest.secret_params == ("sid", "session")
    assert config_error(tmp_path, "[ingest]\nsecret_params = 5\n").endswith(
        "c.toml: ingest.secret_params: expected a list of strings"
    )


def test_describe_shows_effective_defaults(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path, "[paths]\ninbox = 'drop'\n[[feeds]]\nname = 'a'\nurl = 'https://a.example/rss'\n"
    )
    data_dir = tmp_path / "paperbot-data"

    assert describe(settings) == {
        "data_dir": str(data_dir),
        "paths": {
            "inbox": str(tmp_path / "drop"),
            "outbox": str(data_dir / "outbox"),
            "digests": str(data_dir / "digests"),
        },
        "database": {
            "url": f"sqlite:///{data_dir / 'paperbot.db'}",
            "busy_timeout": 30.0,
            "idle_transaction_timeout": 60.0,
            "auto_upgrade": True,
        },
        "ingest": {
            "feed_timeout": 30.0,
            "feed_deadline": 120.0,
            "user_agent": f"paperbot/{__version__}",
            "secret_params": [],
            "hf_daily": False,
            "hf_daily_url": "https://huggingface.co/api/daily_papers",
            "hf_daily_pause": 1.0,
        },
        "feeds": [{"name": "a", "url": "https://a.example/rss"}],
        "smtp": {
            "host": "localhost",
            "port": 587,
            "security": "starttls",
            "username": "",
            "password": "",
            "timeout": 30.0,
            "max_connections": 4,
            "messages_per_connection": 100,
        },
        "delivery": {
            "transport": "file",
            "sender": "paperbot <paperbot@localhost>",
            "max_papers": 25,
            "backlog_days": 7,
            "retries": 3,
            "claim_lease": 600.0,
            "unsubscribe_mailto": "",
            "templates": None,
            "channel_timeout": 30.0,
            "channel_connections": 4,
        },
        "web": {
            "base_url": "",
            "secret": "",
            "host": "127.0.0.1",
            "port": 8080,
            "confirmations_per_day": 3,
            "trusted_proxies": [],
        },
        "schedule": {
            "timezone": "UTC",
            "send_at": "08:00",
            "weekly_on": "monday",
            "inbox_every": 300.0,
            "feeds_every": 3600.0,
            "grace": 21600.0,
            "stop_timeout": 30.0,
        },
        "log": {"level": "info", "format": "json"},
    }


# --- The example file ------------------------------------------------------------------


def test_example_file_as_shipped_equals_the_defaults() -> None:
    from_example = load_settings(EXAMPLE, environ={}, cwd=EXAMPLE.parent)
    defaults = load_settings(environ={}, cwd=EXAMPLE.parent)

    assert from_example.source == EXAMPLE
    assert from_example.model_dump() == defaults.model_dump()
    assert describe(from_example) == describe(defaults)


def test_example_file_shows_every_setting() -> None:
    shown = tomllib.loads(uncommented_example())

    missing = [key for key in leaf_keys(Settings) if not lookup(shown, key)]

    assert missing == []


def test_example_file_with_everything_uncommented_is_valid(tmp_path: Path) -> None:
    settings = load_text(tmp_path, uncommented_example())

    assert [feed.name for feed in settings.feeds] == ["arxiv-cs-cl"]


def test_example_file_documents_the_environment_rule() -> None:
    text = EXAMPLE.read_text()

    for name in (
        "PAPERBOT_CONFIG",
        "PAPERBOT_DATA_DIR",
        "PAPERBOT_SMTP_PASSWORD",
        "PAPERBOT_DATABASE_URL",
    ):
        assert name in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[schedule]\ntimezone = 'Mars/Olympus'", "schedule.timezone: expected a time zone name"),
        ("[schedule]\nsend_at = '25:00'", "schedule.send_at"),
        ("[schedule]\nweekly_on = 'mon'", "schedule.weekly_on"),
    ],
)
def test_schedule_values_are_checked(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_text(tmp_path, text)


def test_send_at_takes_a_toml_time_or_a_string(tmp_path: Path) -> None:
    assert load_text(tmp_path, "[schedule]\nsend_at = 07:30:15").schedule.send_at == time(7, 30, 15)
    assert load_text(tmp_path, "[schedule]\nsend_at = '06:45'").schedule.send_at == time(6, 45)
    env = {"PAPERBOT_SCHEDULE_SEND_AT": "09:05", "PAPERBOT_SCHEDULE_TIMEZONE": "Asia/Tokyo"}
    settings = load_settings(environ=env, cwd=tmp_path)
    assert (settings.schedule.send_at, settings.schedule.timezone) == (time(9, 5), "Asia/Tokyo")


def test_trusted_proxies_from_a_file_or_the_environment(tmp_path: Path) -> None:
    from_file = load_text(tmp_path, "[web]\ntrusted_proxies = ['127.0.0.1', '10.0.0.0/8', '::1']\n")
    from_env = load_text(tmp_path, "", {"PAPERBOT_WEB_TRUSTED_PROXIES": " 127.0.0.1 ,10.0.0.0/8,"})

    assert from_file.web.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert from_env.web.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    assert load_text(tmp_path, "").web.trusted_proxies == ()


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        (
            "[web]\ntrusted_proxies = ['127.0.0.1', 'proxy.lan']\n",
            {},
            "c.toml: web.trusted_proxies[1]: expected an IP address or network,"
            " such as '127.0.0.1' or '10.0.0.0/8'",
        ),
        ("[web]\ntrusted_proxies = '127.0.0.1'\n", {}, "expected a list of strings"),
        (
            "",
            {"PAPERBOT_WEB_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/33"},
            "PAPERBOT_WEB_TRUSTED_PROXIES, item 2: expected an IP address or network",
        ),
        (
            "[web]\nconfirmations_per_day = 0\n",
            {},
            "web.confirmations_per_day: expected an integer from 1 to 100",
        ),
    ],
)
def test_bad_web_limits_are_one_clear_line(
    tmp_path: Path, text: str, environ: dict[str, str], expected: str
) -> None:
    message = config_error(tmp_path, text, environ)

    assert expected in message and "\n" not in message
