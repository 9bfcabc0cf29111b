"""Errors the CLI turns into one line and an exit status (bot.settings.ConfigError is 2)."""


class Failure(Exception):
    """A runtime failure for the person at the terminal: one line, exit 1."""
