"""Heard's configuration: one typed object built from the environment (and `.env`).

Nothing else in Heard reads ``os.environ``: `bot.environ` finds the text (the environment,
names in any case, over `.env`), this module parses and checks it, and the CLI builds
:class:`Settings` once and passes it down. A missing or malformed value is reported as
:class:`ConfigError`, whose message is one line naming the variable, which the CLI prints
before exiting with 2.

A pydantic model, not pydantic-settings' BaseSettings: importing pydantic-settings (its
sources for cloud secret stores, argparse, TOML…) cost every `heard` command 80 ms.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.environ import DEFAULT_PORT, ENV_FILE, environment

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for a person."""


class SlackMode(StrEnum):
    SOCKET = "socket"  # SLACK_APP_TOKEN: a websocket, no public URL needed
    HTTP = "http"  # single workspace over HTTP, SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET
    OAUTH = "oauth"  # many workspaces, installations stored in the database


class Settings(BaseModel):
    """Each field from the variable of its name in any case (`bot.environ.environment`);
    keyword arguments win over the environment, `_env_file=None` reads no `.env`."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = "sqlite:///heard.db"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    heard_openai_model: str = "gpt-4o-mini"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    heard_slash_command: str = "/heard"
    heard_schedules_dir: str | None = None
    heard_prompts_dir: str | None = None  # LLM prompt templates; see bot.llm.prompts

    def __init__(self, _env_file: str | None = ENV_FILE, **values: Any):
        found = environment(_env_file)
        read = {name: found[name] for name in type(self).model_fields if name in found}
        super().__init__(**read | values)

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_id",
        "slack_client_secret",
        "openai_api_key",
        "openai_base_url",
        "heard_schedules_dir",
        "heard_prompts_dir",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value):
        # `SLACK_APP_TOKEN=` in a .env means "not set", not "set to nothing".
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        value = value.strip() or DEFAULT_SLACK_API_URL
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        # WebClient joins method names onto the base URL, so it must end with a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str) -> str:
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

    @field_validator("heard_slash_command")
    @classmethod
    def _slash_command_shape(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/") or len(value) < 2 or " " in value:
            raise ValueError("must look like /heard")
        return value

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


def load_settings(**overrides) -> Settings:
    """Build Settings from the environment, `.env` and overrides; ConfigError on bad input."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        message = error["msg"].removeprefix("Value error, ")
        raw = error.get("input")
        secret = any(word in name for word in ("TOKEN", "SECRET", "KEY"))
        shown = f" (got {raw!r})" if isinstance(raw, str) and len(raw) < 80 and not secret else ""
        raise ConfigError(f"{name} {message}{shown}") from None
