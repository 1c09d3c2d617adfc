"""Settings: a TOML file, environment overrides and embedded defaults, validated.

Where settings come from, first match wins:

1. the file given to `load_settings` (the command line's `--config`);
2. the file named by `$PAPERBOT_CONFIG` (an empty value counts as unset);
3. `paperbot.toml` in the working directory, when there is one;
4. the embedded defaults: everything works with no file at all.

Environment variables then override single settings. Each variable's name comes
from the schema: `PAPERBOT_<SECTION>_<KEY>` in upper case (`PAPERBOT_SMTP_PORT`),
or `PAPERBOT_<KEY>` for a top-level key (`PAPERBOT_DATA_DIR`). Lists of tables
(`[[feeds]]`) cannot be set this way. Other `PAPERBOT_*` variables are ignored,
because other tools may share the prefix.

Relative paths (and a relative SQLite database file) written in a config file
are taken relative to that file's folder; defaults and environment values are
taken relative to the working directory. Every path in `Settings` is absolute.

Any problem is one `ConfigError` line naming the file or variable, the dotted key
and what is expected. Messages never repeat a value that was read, so a secret
(the SMTP password, a database URL with a password) cannot leak through them.
"""

import difflib
import ipaddress
import os
import re
import tomllib
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot import __version__
from bot.errors import ConfigError
from bot.redaction import redact_url

CONFIG_ENV = "PAPERBOT_CONFIG"
"""The environment variable naming the config file."""

ENV_PREFIX = "PAPERBOT_"
"""The prefix of every environment variable that overrides a setting."""

DEFAULT_CONFIG_NAME = "paperbot.toml"
"""The config file looked for in the working directory."""

MASK = "***"
"""What `describe` shows in place of a secret that is set."""

_SQLITE_PREFIX = "sqlite:///"
_POSTGRESQL = re.compile(r"postgresql(\+\w+)?://")
# The error type of every message this module writes itself; others are
# pydantic's and get rewritten from the schema.
_OWN_ERROR = "paperbot_config"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

_Loc = tuple[int | str, ...]


# --- Relative values ---------------------------------------------------------


@dataclass(frozen=True)
class _Anchored:
    """Field metadata: a relative value of this setting is relative to a folder.

    `anchor(text, folder)` returns the value made absolute. The loader applies it
    to a config file's values, with the file's folder, before validation; the
    field's validator applies it to whatever is still relative (defaults and
    environment values), with the working directory.
    """

    anchor: Callable[[str, Path], str]


def _anchor_path(text: str, folder: Path) -> str:
    if not text or Path(text).is_absolute():
        return text
    return str(folder / text)


def _anchor_sqlite_url(url: str, folder: Path) -> str:
    if not url.startswith(_SQLITE_PREFIX):
        return url
    database, question_mark, query = url.removeprefix(_SQLITE_PREFIX).partition("?")
    if database in ("", ":memory:") or database.startswith("file:") or Path(database).is_absolute():
        return url
    return f"{_SQLITE_PREFIX}{folder / database}{question_mark}{query}"


def _working_dir(info: ValidationInfo) -> Path:
    cwd = info.context.get("cwd") if isinstance(info.context, dict) else None
    # No context: Settings built directly in code, without load_settings.
    return cwd if isinstance(cwd, Path) else Path.cwd()


def _own_error(message: str, **context: object) -> PydanticCustomError:
    return PydanticCustomError(_OWN_ERROR, message, context or None)


# --- Field types ---------------------------------------------------------------


def _refuse_empty_path(value: object) -> object:
    # Path("") means ".", which would silently pick the file's or working folder.
    if value == "":
        raise _own_error("expected a non-empty path")
    return value


def _absolute_path(value: Path | None, info: ValidationInfo) -> Path | None:
    if value is None or value.is_absolute():
        return value
    return _working_dir(info) / value


def _check_database_url(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    if not (value.startswith(_SQLITE_PREFIX) or _POSTGRESQL.match(value)):
        raise _own_error("expected a URL starting with sqlite:/// or postgresql://")
    # Parsed now, as the engine will parse it, so a malformed URL is this one line
    # rather than a traceback at the first command. Nothing of the URL is quoted:
    # it may hold a password.
    try:
        port = make_url(value).port
    except ValueError:  # the port is not a number
        raise _own_error("not a valid database URL: its port is not a number") from None
    except ArgumentError:
        raise _own_error("not a valid database URL") from None
    if port is not None and not 1 <= port <= 65535:
        raise _own_error("not a valid database URL: its port is not from 1 to 65535")
    return _anchor_sqlite_url(value, _working_dir(info))


def _check_feed_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _own_error("expected an http or https URL")
    return value


def _check_name(value: str) -> str:
    if not value.strip():
        raise _own_error("expected a non-empty name")
    return value


ConfigPath = Annotated[
    Path,
    Strict(False),  # TOML has no path type: accept a string
    BeforeValidator(_refuse_empty_path),
    AfterValidator(_absolute_path),
    _Anchored(_anchor_path),
]
"""A path setting; relative values are made absolute."""

OptionalConfigPath = Annotated[
    Path | None,
    Strict(False),
    BeforeValidator(_refuse_empty_path),
    AfterValidator(_absolute_path),
    _Anchored(_anchor_path),
]
"""A path setting that may be unset (its default is derived)."""

DatabaseUrl = Annotated[
    str | None,
    AfterValidator(_check_database_url),
    _Anchored(_anchor_sqlite_url),
]
"""A SQLAlchemy database URL for SQLite or PostgreSQL; may hold a password."""


def _check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _own_error("expected a time zone name such as 'UTC' or 'Europe/Berlin'") from None
    return value


def _check_network(value: str) -> str:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise _own_error(
            "expected an IP address or network, such as '127.0.0.1' or '10.0.0.0/8'"
        ) from None
    return value.strip()


NetworkAddress = Annotated[str, AfterValidator(_check_network)]
"""An IP address or network (CIDR), IPv4 or IPv6."""

TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
"""An IANA time zone name, such as "Europe/Berlin"."""

TimeOfDay = Annotated[time, Strict(False)]
"""A time of day: a TOML time (08:00:00) or a string "HH:MM" or "HH:MM:SS"."""

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A duration in seconds; a TOML integer is accepted too."""

Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP port number."""


# --- The schema ---------------------------------------------------------------


class _Section(BaseModel):
    """Rules shared by every table: read-only, no unknown keys, no type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class PathsSettings(_Section):
    """Folders paperbot reads from and writes to; unset ones live under `data_dir`."""

    inbox: OptionalConfigPath = None
    outbox: OptionalConfigPath = None
    digests: OptionalConfigPath = None


class DatabaseSettings(_Section):
    """Where papers are stored."""

    # repr=False keeps a password in the URL out of reprs and logs; `describe`
    # masks every field declared this way.
    url: DatabaseUrl = Field(default=None, repr=False)
    busy_timeout: Seconds = 30.0
    idle_transaction_timeout: Seconds = 60.0
    auto_upgrade: bool = True


def _names_from_text(value: object) -> object:
    # An environment variable holds one string: names separated by commas.
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return value


NameList = Annotated[tuple[str, ...], Strict(False), BeforeValidator(_names_from_text)]
"""A list of names: a TOML array of strings, or one string of names separated by commas."""


FEED_DEADLINE_PER_TIMEOUT = 4
"""`ingest.feed_deadline` by default, in multiples of `ingest.feed_timeout`."""


class IngestSettings(_Section):
    """How feeds are fetched."""

    feed_timeout: Seconds = 30.0
    feed_deadline: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    user_agent: str = f"paperbot/{__version__}"
    secret_params: NameList = ()
    # Hugging Face's daily papers: the API's address, whether feed polls fetch today's
    # list, and the pause between the days of a back-fill (`ingest --hf-daily`).
    hf_daily: bool = False
    hf_daily_url: Annotated[str, AfterValidator(_check_feed_url)] = (
        "https://huggingface.co/api/daily_papers"
    )
    hf_daily_pause: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0


FeedKind = Literal["arxiv", "feed", "hf-daily"]
"""The kinds a feed may be said to be: the fetchable entries of `bot.ingest.sources`."""


class FeedSettings(_Section):
    """One subscribed feed."""

    name: Annotated[str, AfterValidator(_check_name)]
    url: Annotated[str, AfterValidator(_check_feed_url)]
    # The source kind (`bot.ingest.sources`) when stated; else the content tells.
    kind: FeedKind | None = None


class SmtpSettings(_Section):
    """The mail server digests are sent through."""

    host: str = "localhost"
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password: SecretStr = SecretStr("")
    timeout: Seconds = 30.0
    max_connections: Annotated[int, Field(ge=1, le=64)] = 4
    messages_per_connection: Annotated[int, Field(ge=1, le=10000)] = 100


class DeliverySettings(_Section):
    """What digests hold and how they leave."""

    transport: Literal["file", "smtp"] = "file"
    sender: str = "paperbot <paperbot@localhost>"
    max_papers: Annotated[int, Field(ge=1, le=500)] = 25
    backlog_days: Annotated[int, Field(ge=0, le=3650)] = 7
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    claim_lease: Annotated[float, Field(ge=1, le=86400, allow_inf_nan=False)] = 600.0
    unsubscribe_mailto: str = ""
    templates: OptionalConfigPath = None
    # Chat channels and webhooks (`paperbot channel add`): how long one request may
    # take, and how many go at once (each destination keeps to its own rate limit).
    channel_timeout: Seconds = 30.0
    channel_connections: Annotated[int, Field(ge=1, le=64)] = 4


MIN_SECRET_LENGTH = 32
"""The shortest `web.secret` accepted: a shorter one can be recovered from one signed link."""


def _check_link_secret(value: SecretStr) -> SecretStr:
    # Empty means "the secret generated and kept in the database", which is long enough.
    if 0 < len(value.get_secret_value()) < MIN_SECRET_LENGTH:
        raise _own_error(
            f"expected at least {MIN_SECRET_LENGTH} characters (a random string, e.g. from"
            " `openssl rand -base64 32`), or empty for the secret paperbot generates"
        )
    return value


class WebSettings(_Section):
    """The subscriber-facing links in every digest, and where `paperbot serve` listens."""

    base_url: str = ""
    secret: Annotated[SecretStr, AfterValidator(_check_link_secret)] = SecretStr("")
    host: str = "127.0.0.1"
    port: Port = 8080
    confirmations_per_day: Annotated[int, Field(ge=1, le=100)] = 3
    # A tuple keeps the frozen settings read-only; lax only to accept TOML's list.
    trusted_proxies: tuple[NetworkAddress, ...] = Field(default=(), strict=False)


class ScheduleSettings(_Section):
    """When `paperbot serve` does its work."""

    timezone: TimeZoneName = "UTC"
    send_at: TimeOfDay = time(8, 0)
    weekly_on: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"
    inbox_every: Seconds = 300.0
    feeds_every: Seconds = 3600.0
    grace: Seconds = 21600.0
    stop_timeout: Seconds = 30.0


class LogSettings(_Section):
    """What is logged, and how."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["plain", "json"] = "json"


class Settings(_Section):
    """Every setting of paperbot, validated; paths are absolute.

    Build it with `load_settings`. Settings with derived defaults are read
    through the properties (`database_url`, `inbox_dir`...), which fill them in.
    """

    data_dir: ConfigPath = Field(default=Path("paperbot-data"), validate_default=True)
    paths: PathsSettings = Field(default_factory=PathsSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    # A tuple keeps the frozen settings read-only; lax only to accept TOML's list.
    feeds: tuple[FeedSettings, ...] = Field(default=(), strict=False)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("feeds")
    @classmethod
    def _unique_feed_names(cls, feeds: tuple[FeedSettings, ...]) -> tuple[FeedSettings, ...]:
        first_index: dict[str, int] = {}
        for index, feed in enumerate(feeds):
            if feed.name in first_index:
                raise _own_error(
                    "name {name} is used by feeds[{first}] and feeds[{index}]",
                    name=repr(feed.name),
                    first=first_index[feed.name],
                    index=index,
                )
            first_index[feed.name] = index
        return feeds

    @property
    def source(self) -> Path | None:
        """The config file these settings were read from; None for the embedded defaults."""
        return self._source

    @property
    def database_url(self) -> str:
        """The database URL; by default a SQLite file in `data_dir`."""
        if self.database.url is None:
            return f"{_SQLITE_PREFIX}{self.data_dir / 'paperbot.db'}"
        return self.database.url

    @property
    def feed_deadline(self) -> float:
        """The most one feed's fetch may take in all; by default 4 times `feed_timeout`."""
        if self.ingest.feed_deadline is None:
            return FEED_DEADLINE_PER_TIMEOUT * self.ingest.feed_timeout
        return self.ingest.feed_deadline

    @property
    def inbox_dir(self) -> Path:
        """The folder new dump files are picked up from."""
        return self.paths.inbox or self.data_dir / "inbox"

    @property
    def outbox_dir(self) -> Path:
        """The folder outgoing messages are written to."""
        return self.paths.outbox or self.data_dir / "outbox"

    @property
    def digests_dir(self) -> Path:
        """The folder Markdown digests are written to."""
        return self.paths.digests or self.data_dir / "digests"


# --- Loading -------------------------------------------------------------------


@dataclass(frozen=True)
class _ConfigFile:
    """A config file: its absolute path, and how messages name it."""

    path: Path
    label: str


def load_settings(
    config_path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Read, merge and validate the settings; raise `ConfigError` on any problem.

    `config_path` is the command line's `--config`. `environ` defaults to
    `os.environ` and `cwd` to the working directory; see the module docstring
    for the lookup order and the environment variables.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd.absolute()
    config_file = _find_config_file(config_path, environ, cwd)
    data: dict[str, Any] = {}
    if config_file is not None:
        data = _anchored(_read_toml(config_file), Settings, config_file.path.parent)
    overrides, variables = _env_overrides(environ)
    data = _merged(data, overrides)
    settings = _validate(data, config_file, variables, cwd)
    settings._source = None if config_file is None else config_file.path
    return settings


def _find_config_file(
    config_path: Path | None, environ: Mapping[str, str], cwd: Path
) -> _ConfigFile | None:
    if config_path is not None:
        return _existing_file(config_path, cwd, origin="")
    from_env = environ.get(CONFIG_ENV, "")
    if from_env:
        return _existing_file(Path(from_env), cwd, origin=f" (named by ${CONFIG_ENV})")
    local = cwd / DEFAULT_CONFIG_NAME
    if local.exists():
        return _ConfigFile(local, DEFAULT_CONFIG_NAME)
    return None


def _existing_file(path: Path, cwd: Path, *, origin: str) -> _ConfigFile:
    absolute = cwd / path
    if not absolute.exists():
        raise ConfigError(f"config file {path} does not exist{origin}")
    return _ConfigFile(absolute, str(path))


def _read_toml(config_file: _ConfigFile) -> dict[str, Any]:
    label = config_file.label
    try:
        content = config_file.path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{label}: cannot be read: {exc.strerror}") from None
    try:
        # utf-8-sig: a byte-order mark left by an editor is harmless.
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not valid TOML: not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages name a position, a key or one character, never a value.
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None


def _anchored(data: dict[str, Any], model: type[BaseModel], folder: Path) -> dict[str, Any]:
    """`data` with its relative path strings taken relative to `folder`, made absolute."""
    result = dict(data)
    for name, field in model.model_fields.items():
        value = data.get(name)
        section = _section_model(field.annotation)
        anchor = _anchor_of(field)
        if section is not None and isinstance(value, dict):
            result[name] = _anchored(value, section, folder)
        elif anchor is not None and isinstance(value, str):
            result[name] = anchor.anchor(value, folder)
        # Anything else is left as it is, for validation to judge.
    return result


def _anchor_of(field: FieldInfo) -> _Anchored | None:
    return next((m for m in field.metadata if isinstance(m, _Anchored)), None)


def _merged(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(data)
    for key, value in overrides.items():
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = _merged(current, value)
        elif isinstance(value, dict) and key in result:
            pass  # the file's value is not a table: validation reports it
        else:
            result[key] = value
    return result


def _validate(
    data: dict[str, Any],
    config_file: _ConfigFile | None,
    variables: dict[_Loc, str],
    cwd: Path,
) -> Settings:
    try:
        return Settings.model_validate(data, context={"cwd": cwd})
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        message = _error_line(errors[0], config_file, variables)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        # `from None`: the ValidationError's own text would show the input values.
        raise ConfigError(message) from None


# --- Environment ---------------------------------------------------------------


@dataclass(frozen=True)
class _EnvSetting:
    """A setting that an environment variable can override."""

    variable: str
    loc: tuple[str, ...]
    field: FieldInfo


def _env_settings(
    model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX, loc: tuple[str, ...] = ()
) -> Iterator[_EnvSetting]:
    """Every overridable setting of `model` with its variable name, read from the schema."""
    for name, field in model.model_fields.items():
        section = _section_model(field.annotation)
        if section is not None:
            yield from _env_settings(section, f"{prefix}{name.upper()}_", (*loc, name))
        elif _item_model(field.annotation) is None:
            yield _EnvSetting(f"{prefix}{name.upper()}", (*loc, name), field)


def env_variables() -> dict[str, str]:
    """Every environment variable that overrides a setting, with the dotted key it sets."""
    return {setting.variable: ".".join(setting.loc) for setting in _env_settings()}


def _env_overrides(
    environ: Mapping[str, str], model: type[BaseModel] = Settings
) -> tuple[dict[str, Any], dict[_Loc, str]]:
    """The settings set in `environ`, as nested data, and the variable behind each one."""
    overrides: dict[str, Any] = {}
    variables: dict[_Loc, str] = {}
    for setting in _env_settings(model):
        text = environ.get(setting.variable)
        if text is None:
            continue
        *sections, key = setting.loc
        table = overrides
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = _env_value(setting, text)
        variables[setting.loc] = setting.variable
    return overrides, variables


def _env_value(setting: _EnvSetting, text: str) -> object:
    """`text` converted to the setting's type, for validation to check further."""
    kind = _without_none(setting.field.annotation)
    try:
        if kind is bool:
            return _parse_bool(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise ConfigError(f"{setting.variable}: expected {_expected(setting.field)}") from None
    if get_origin(kind) in (list, tuple):  # a list of strings: separated by commas
        return [part.strip() for part in text.split(",") if part.strip()]
    # Strings, secrets, paths and choices are validated as given.
    return text


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(word)


# --- Error messages ------------------------------------------------------------


def _error_line(
    error: ErrorDetails, config_file: _ConfigFile | None, variables: dict[_Loc, str]
) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return _in_file(config_file, f"unknown setting {_dotted(loc)!r}{_suggestion(loc)}")
    reason = _reason(error, loc)
    variable = variables.get(loc)
    if variable is not None:
        return f"{variable}: {reason}"
    if loc and isinstance(loc[-1], int) and loc[:-1] in variables:  # one item of a list
        return f"{variables[loc[:-1]]}, item {loc[-1] + 1}: {reason}"
    return _in_file(config_file, f"{_dotted(loc)}: {reason}")


def _in_file(config_file: _ConfigFile | None, text: str) -> str:
    return text if config_file is None else f"{config_file.label}: {text}"


def _reason(error: ErrorDetails, loc: _Loc) -> str:
    if error["type"] == _OWN_ERROR:
        return error["msg"]
    if error["type"] == "missing":
        return "required setting is missing"
    target = _schema_at(loc)
    if target is None:
        # Not reached with this schema; pydantic's messages do not quote the input.
        return error["msg"]
    if isinstance(target, FieldInfo):
        return f"expected {_expected(target)}"
    return "expected a table"


def _dotted(loc: _Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _suggestion(loc: _Loc) -> str:
    parent = _schema_at(loc[:-1])
    if isinstance(parent, FieldInfo):
        parent = _section_model(parent.annotation)
    if parent is None or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], list(parent.model_fields), n=1)
    return f" (did you mean {_dotted((*loc[:-1], close[0]))!r}?)" if close else ""


def _schema_at(loc: _Loc) -> FieldInfo | type[BaseModel] | None:
    """The field, or the table's model, at `loc` in `Settings`; None if there is none."""
    target: FieldInfo | type[BaseModel] = Settings
    for part in loc:
        model = _model_inside(target, part)
        if model is None:
            return None
        if isinstance(part, int):
            target = model
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        target = field
    return target


def _model_inside(target: FieldInfo | type[BaseModel], part: int | str) -> type[BaseModel] | None:
    """The model that `part` (a key, or a list index) looks into from `target`."""
    if isinstance(target, type):
        return target if isinstance(part, str) else None
    if isinstance(part, int):
        return _item_model(target.annotation)
    return _section_model(target.annotation)


def _expected(field: FieldInfo) -> str:
    """What a setting must be, in words, from its type and constraints."""
    kind = _without_none(field.annotation)
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(kind))
    if _item_model(kind) is not None:
        return "a list of tables"
    if get_origin(kind) in (list, tuple):
        return "a list of strings"
    if _section_model(kind) is not None:
        return "a table"
    if kind is bool:
        return "true or false"
    if kind is int:
        return "an integer" + _bounds(field)
    if kind is float:
        return "a number" + _bounds(field)
    if kind is Path:
        return "a path"
    return "a string"


def _bounds(field: FieldInfo) -> str:
    limits: dict[str, object] = {}
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            limits["ge"] = rule.ge
        elif isinstance(rule, annotated_types.Gt):
            limits["gt"] = rule.gt
        elif isinstance(rule, annotated_types.Le):
            limits["le"] = rule.le
        elif isinstance(rule, annotated_types.Lt):
            limits["lt"] = rule.lt
    if "ge" in limits and "le" in limits:
        return f" from {limits['ge']} to {limits['le']}"
    words = {"ge": "at least", "gt": "greater than", "le": "at most", "lt": "less than"}
    return "".join(f" {words[name]} {value}" for name, value in limits.items())


# --- Schema inspection ---------------------------------------------------------


def _without_none(annotation: Any) -> Any:
    """`X` for `X | None`, else the annotation unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        others = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(others) == 1:
            return others[0]
    return annotation


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a table setting, or None."""
    kind = _without_none(annotation)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind
    return None


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """The item model of a list-of-tables setting (`[[feeds]]`), or None."""
    kind = _without_none(annotation)
    if get_origin(kind) not in (list, tuple):
        return None
    return _section_model(get_args(kind)[0])


# --- Showing settings ----------------------------------------------------------


def describe(settings: Settings) -> dict[str, object]:
    """The effective settings as plain data, for display.

    Derived defaults are filled in, paths are strings, and a secret shows as
    `"***"` when set and `""` when not. The database URL is shown only when it
    is the derived default, which holds no password; feed URLs are redacted.
    """
    data = _plain(settings)
    data["paths"] = {
        "inbox": str(settings.inbox_dir),
        "outbox": str(settings.outbox_dir),
        "digests": str(settings.digests_dir),
    }
    if settings.database.url is None:
        data["database"] = {**_plain(settings.database), "url": settings.database_url}
    data["ingest"] = {**_plain(settings.ingest), "feed_deadline": settings.feed_deadline}
    data["feeds"] = [
        {
            "name": feed.name,
            "url": redact_url(feed.url, settings.ingest.secret_params),
            **({"kind": feed.kind} if feed.kind else {}),
        }
        for feed in settings.feeds
    ]
    return data


def _plain(model: BaseModel) -> dict[str, object]:
    return {
        name: _plain_value(getattr(model, name), secret=_is_secret(field))
        for name, field in type(model).model_fields.items()
    }


def _plain_value(value: object, *, secret: bool) -> object:
    if secret:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return MASK if text else ""
    if isinstance(value, BaseModel):
        return _plain(value)
    if isinstance(value, tuple):
        return [_plain_value(item, secret=False) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    return value


def _is_secret(field: FieldInfo) -> bool:
    return field.repr is False or _without_none(field.annotation) is SecretStr
