"""Where Heard's settings come from: the environment, then `.env`.

`bot.settings` parses and checks the values (`Settings`); this module only finds their
text, so that one process can read a setting without importing SQLAlchemy (whose URL
parser checks DATABASE_URL): `heard run`'s gunicorn master, which must know whether to
serve HTTP at all (SLACK_APP_TOKEN) and which port to listen on (PORT) before it forks
the worker that builds Settings and the app, and would otherwise hold SQLAlchemy for its
whole life.
Both read through `environment()`, so they cannot disagree; the worker checks anyway.
"""

from __future__ import annotations

import os

ENV_FILE = ".env"  # in the working directory
DEFAULT_PORT = 3000  # `Settings.port`'s default
PORT_RANGE = (1, 65535)
_PORT_DIGITS = 5  # past leading zeros; longer digit strings (or past int()'s 4,300) go to pydantic


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for a person.

    Defined here, where `.env` is read, and re-exported by `bot.settings`."""


def environment(env_file: str | None = ENV_FILE) -> dict[str, str]:
    """Every variable, its name lowered (`PORT`, `port` and `Port` are one setting; of two
    in the environment, the last listed wins), the environment's over `env_file`'s. A
    name in `env_file` without `=` is not set."""
    found: dict[str, str] = {}
    if env_file and os.path.isfile(env_file):
        from dotenv import dotenv_values

        try:
            values = dotenv_values(env_file, encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{env_file} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                              f"{exc.start}); save it as UTF-8") from None  # fmt: skip
        found |= {name.lower(): value for name, value in values.items() if value is not None}
    found |= {name.lower(): value for name, value in os.environ.items()}
    return found


def peek(name: str) -> str | None:
    """The text `Settings` parses for `name` (e.g. "PORT"), or None when unset."""
    return environment().get(name.lower())


def peek_port() -> int | None:
    """PORT as `Settings.port` reads it, when it is plain digits in range (or unset);
    None for anything else, which only `load_settings` may judge."""
    text = peek("PORT")
    if text is None:
        return DEFAULT_PORT
    number = port_digits(text)
    return number if number is not None and PORT_RANGE[0] <= number <= PORT_RANGE[1] else None


def port_digits(text: str) -> int | None:
    """`text` as a number when it is plain ASCII digits, at most five past its leading
    zeros (int() refuses over 4,300 digits, zeros too); None for anything else."""
    if text.isascii() and text.isdigit() and len(text.lstrip("0")) <= _PORT_DIGITS:
        return int(text.lstrip("0") or "0")
    return None


def peek_socket_mode() -> bool:
    """True when SLACK_APP_TOKEN is set (not blank): `Settings.slack_mode` is then Socket Mode."""
    return bool((peek("SLACK_APP_TOKEN") or "").strip())
