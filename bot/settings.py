"""Heard's configuration: one typed object built from the environment (and `.env`).

Nothing else in Heard reads ``os.environ``: `bot.environ` finds the text (the environment,
names in any case, over `.env`), this module parses and checks it, and the CLI builds
:class:`Settings` once and passes it down. A missing or malformed value is reported as
:class:`ConfigError`, whose message is one line naming the variable, which the CLI prints
before exiting with 2.

Parsed here rather than by a pydantic model (as it was until issue 20): importing
pydantic and building the model's validators cost every `heard run` about 0.1 s of CPU
before it could answer /healthz, more than half a no-op Bolt app's whole start. The
values and messages are still pydantic's: what a variable can hold (text, and for PORT
plain digits) is read here the way pydantic read it, and anything else (a PORT such as
"+4000" or "4_000", or a value of another type, which only code passes) is handed to
pydantic itself, imported then (`tests/test_settings.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from bot.environ import DEFAULT_PORT, ENV_FILE, PORT_RANGE, ConfigError, environment, port_digits

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SlackMode(StrEnum):
    SOCKET = "socket"  # SLACK_APP_TOKEN: a websocket, no public URL needed
    HTTP = "http"  # single workspace over HTTP, SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET
    OAUTH = "oauth"  # many workspaces, installations stored in the database


def _header_safe(value: str) -> str:
    """A credential: printable ASCII without spaces, as every Slack and OpenAI token, id and
    secret is. Tokens travel in an HTTP header (`Authorization: Bearer …`), where a line
    break pasted into a `.env` surfaced as a traceback from the HTTP library on the first
    request; a signing secret with one would refuse every request as badly signed."""
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise ValueError("must be printable ASCII without spaces or line breaks")
    return value


def _bot_token_shape(value: str) -> str:
    if not value.startswith("xoxb-"):
        raise ValueError("must be a bot token starting with xoxb-")
    return _header_safe(value)


def _app_token_shape(value: str) -> str:
    if not value.startswith("xapp-"):
        raise ValueError("must be an app-level token starting with xapp-")
    return _header_safe(value)


def _http_url(value: str, example: str) -> str:
    """`value` if it is an http(s) URL with a host that an HTTP client can open, else
    ValueError naming `example`. urllib's parser, not httpx's: httpx is imported only
    when the LLM is asked, and a start must not pay for it."""
    from urllib.parse import urlsplit

    message = f"must be an http(s) URL such as {example}"
    if not value.startswith(("http://", "https://")) or not (value.isascii() and value.isprintable()):
        raise ValueError(message)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(message) from None
    if not parts.hostname or " " in value:
        raise ValueError(message)
    return value


def _api_url_shape(value: str) -> str:
    value = _http_url(value.strip() or DEFAULT_SLACK_API_URL, DEFAULT_SLACK_API_URL)
    # WebClient joins method names onto the base URL, so it must end with a slash.
    return value if value.endswith("/") else value + "/"


def _openai_base_url_shape(value: str) -> str:
    return _http_url(value, "https://api.openai.com/v1")


def _database_url_shape(value: str) -> str:
    # SQLAlchemy's URL parser: imported by the database's engine anyway.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = value.strip()
    # Heroku-style URLs say postgres://; SQLAlchemy wants an explicit driver.
    if value.startswith("postgres://"):
        value = "postgresql+psycopg://" + value.removeprefix("postgres://")
    elif value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("is not a database URL (e.g. sqlite:///heard.db)") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError("must be a sqlite:// or postgresql+psycopg:// URL")
    return value


SLASH_COMMAND_LENGTH = 32  # Slack's limit, the slash included (the app manifest's schema)


def _slash_command_shape(value: str) -> str:
    value = value.strip()
    if not value.startswith("/") or len(value) < 2 or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("must look like /heard")
    if len(value) > SLASH_COMMAND_LENGTH:
        raise ValueError(f"must be at most {SLASH_COMMAND_LENGTH} characters, the slash included")
    return value


class _Invalid(Exception):
    """A field's value is wrong: `message`, as pydantic worded it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _text(value: Any, *, optional: bool) -> str | None:
    """`value` as a `str` field (`str | None` when `optional`) takes it."""
    if isinstance(value, str) or (optional and value is None):
        return value
    return _by_pydantic("str | None" if optional else "str", value)


def _port(value: Any) -> int:
    """`value` as `int` between 1 and 65535, as pydantic's `Field(ge=1, le=65535)` takes it."""
    number = port_digits(value) if isinstance(value, str) else None
    if number is not None:
        pass
    elif type(value) is int:
        number = value
    else:  # a sign, spaces, underscores, "4000.0", 5,000 digits (past int()'s limit), another
        # type: pydantic's rules, not a copy of them
        return _by_pydantic("port", value)
    low, high = PORT_RANGE
    if number < low:
        raise _Invalid(f"Input should be greater than or equal to {low}")
    if number > high:
        raise _Invalid(f"Input should be less than or equal to {high}")
    return number


def _by_pydantic(kind: str, value: Any) -> Any:
    """`value` validated by pydantic as the field `kind` ("str", "str | None" or "port"):
    for input no environment variable holds, so that its values and messages stay
    pydantic's. Imported here: no ordinary start gets this far."""
    from typing import Annotated

    from pydantic import Field, TypeAdapter, ValidationError

    annotation = {"str": str, "str | None": str | None,
                  "port": Annotated[int, Field(ge=PORT_RANGE[0], le=PORT_RANGE[1])]}[kind]  # fmt: skip
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        raise _Invalid(exc.errors()[0]["msg"]) from None


def _optional(check: Callable[[str], str] | None = None) -> Callable[[Any], str | None]:
    """A `str | None` field: blank is unset (`SLACK_APP_TOKEN=` in a .env means "not set",
    not "set to nothing"), text is stripped, then `check`ed."""

    def parse(value: Any) -> str | None:
        if isinstance(value, str):
            value = value.strip() or None
        value = _text(value, optional=True)
        return check(value) if check and value is not None else value

    return parse


def _required(check: Callable[[str], str] | None = None) -> Callable[[Any], str]:
    """A `str` field, `check`ed."""

    def parse(value: Any) -> str:
        value = _text(value, optional=False)
        return check(value) if check else value

    return parse


# Each field: its default and how its value is read, in the order they are checked (the
# first that is wrong is the one reported).
_FIELDS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "slack_bot_token": (None, _optional(_bot_token_shape)),
    "slack_signing_secret": (None, _optional(_header_safe)),
    "slack_app_token": (None, _optional(_app_token_shape)),
    "slack_client_id": (None, _optional(_header_safe)),
    "slack_client_secret": (None, _optional(_header_safe)),
    "slack_api_url": (DEFAULT_SLACK_API_URL, _required(_api_url_shape)),
    "database_url": ("sqlite:///heard.db", _required(_database_url_shape)),
    "openai_api_key": (None, _optional(_header_safe)),
    "openai_base_url": (None, _optional(_openai_base_url_shape)),
    "heard_openai_model": ("gpt-4o-mini", _required()),
    "port": (DEFAULT_PORT, _port),
    "heard_slash_command": ("/heard", _required(_slash_command_shape)),
    "heard_schedules_dir": (None, _optional()),
    "heard_prompts_dir": (None, _optional()),  # LLM prompt templates; see bot.llm.prompts
}

_SECRET_WORDS = ("TOKEN", "SECRET", "KEY")


class Settings:
    """Each field from the variable of its name in any case (`bot.environ.environment`);
    keyword arguments win over the environment, `_env_file=None` reads no `.env`. Names
    that are no field are ignored. A wrong value raises `ConfigError`."""

    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_client_id: str | None
    slack_client_secret: str | None
    slack_api_url: str
    database_url: str
    openai_api_key: str | None
    openai_base_url: str | None
    heard_openai_model: str
    port: int
    heard_slash_command: str
    heard_schedules_dir: str | None
    heard_prompts_dir: str | None
    fields_set: frozenset[str]  # the fields the environment, `.env` or an argument set (not a default)

    def __init__(self, _env_file: str | None = ENV_FILE, **values: Any):
        found = environment(_env_file)
        given = {name: found[name] for name in _FIELDS if name in found}
        given |= {name: value for name, value in values.items() if name in _FIELDS}
        for name, (default, parse) in _FIELDS.items():
            raw = given.get(name, default)
            try:
                setattr(self, name, parse(raw))
            except (_Invalid, ValueError) as exc:
                raise ConfigError(_one_line(name, str(exc), raw)) from None
        self.fields_set = frozenset(given)

    def __repr__(self) -> str:
        def shown(name: str) -> str:
            value = getattr(self, name)
            return "'…'" if value and any(word in name.upper() for word in _SECRET_WORDS) else repr(value)

        return f"Settings({', '.join(f'{name}={shown(name)}' for name in _FIELDS)})"

    @property
    def slack_mode(self) -> SlackMode | None:
        """Which way Heard talks to Slack, or None when no credentials are set."""
        if self.slack_app_token:
            return SlackMode.SOCKET
        if self.slack_client_id or self.slack_client_secret:
            return SlackMode.OAUTH
        if self.slack_bot_token or self.slack_signing_secret:
            return SlackMode.HTTP
        return None

    @property
    def sealing_secret(self) -> str:
        """The secret `bot.slack.sealed` keys what Heard gives Slack to hand back: the
        signing secret, or in Socket Mode (which has none) the app token, else the bot token."""
        return self.slack_signing_secret or self.slack_app_token or self.slack_bot_token or ""

    def require_slack(self) -> SlackMode:
        """Check the Slack credentials `heard run` needs; raise ConfigError naming what's missing."""
        mode = self.slack_mode
        if mode is None:
            raise ConfigError(
                "no Slack credentials: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
                "(add SLACK_APP_TOKEN for Socket Mode, or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET for OAuth installs); to try Heard without Slack, "
                "run `heard demo`"
            )
        if mode is SlackMode.SOCKET and not (self.slack_bot_token or self.slack_client_id):
            raise ConfigError("SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is missing")
        if mode is SlackMode.OAUTH:
            for name in ("slack_client_id", "slack_client_secret", "slack_signing_secret"):
                if not getattr(self, name):
                    raise ConfigError(f"{name.upper()} is missing (OAuth install mode)")
        if mode is SlackMode.HTTP:
            for name in ("slack_bot_token", "slack_signing_secret"):
                if not getattr(self, name):
                    raise ConfigError(f"{name.upper()} is missing (HTTP mode)")
        return mode


def _one_line(name: str, message: str, raw: Any) -> str:
    """What is wrong with the variable `name`, in one line; its value is shown when it is
    short text and not a secret."""
    name = name.upper()
    secret = any(word in name for word in _SECRET_WORDS)
    shown = f" (got {raw!r})" if isinstance(raw, str) and len(raw) < 80 and not secret else ""
    return f"{name} {message}{shown}"


def load_settings(**overrides) -> Settings:
    """Build Settings from the environment, `.env` and overrides; ConfigError on bad input."""
    return Settings(**overrides)
