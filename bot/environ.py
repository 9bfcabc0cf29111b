"""A setting's raw text, read without pydantic: for `heard run`'s gunicorn master.

`bot.settings` parses and checks Heard's configuration, and everything else takes it from
there. One process cannot wait for that: the master of `heard run` in HTTP mode, which
must know whether to serve HTTP at all (SLACK_APP_TOKEN) and which port to listen on
(PORT) before it forks the worker that builds Settings and the app. Importing pydantic
and SQLAlchemy there would keep them resident in the master for its whole life, so it
reads those two settings here instead: raw text, from the same places in the same order
as `Settings` (the environment, names in any case; then `.env` in the working
directory). The worker then builds `Settings` and stops, in one line, if they disagree
(`bot.cli`); a value this module cannot read plainly sends the master to `load_settings`.
"""

from __future__ import annotations

import os

ENV_FILE = ".env"  # `Settings.model_config["env_file"]`
DEFAULT_PORT = 3000  # `Settings.port`'s default


def peek(name: str) -> str | None:
    """The text `Settings` would parse for `name` (e.g. "PORT"), or None when unset."""
    wanted = name.lower()
    # As pydantic-settings with case_sensitive=False: names lowered, the last one listed wins.
    environment = {key.lower(): value for key, value in os.environ.items()}
    if wanted in environment:
        return environment[wanted]
    if not os.path.isfile(ENV_FILE):
        return None
    from dotenv import dotenv_values  # what pydantic-settings reads `.env` with

    values = {key.lower(): value for key, value in dotenv_values(ENV_FILE, encoding="utf-8").items()}
    return values.get(wanted)


def peek_port() -> int | None:
    """PORT as `Settings.port` reads it, when it is plain digits in range (or unset);
    None for anything else, which only `load_settings` may judge."""
    text = peek("PORT")
    if text is None:
        return DEFAULT_PORT
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 65535:
        return int(text)
    return None


def peek_socket_mode() -> bool:
    """True when SLACK_APP_TOKEN is set (not blank): `Settings.slack_mode` is then Socket Mode."""
    return bool((peek("SLACK_APP_TOKEN") or "").strip())
