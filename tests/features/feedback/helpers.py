"""Helpers for the feedback tests: reading pings and text out of what Heard posts.

The people and channels (Acme's, see bot.sandbox.workspace) are in tests.people; they are
re-exported here for the test modules that import them from this module.
"""

import re

from tests.people import (  # noqa: F401
    ACME,
    FEEDBACK,
    GENERAL,
    GLOBEX,
    HEARD,
    JONAS,
    LEADERS,
    LENA,
    MAYA,
    PRIYA,
    PRODUCT,
    SAM,
    TOMAS,
    ZENDESK_BOT,
)  # fmt: skip

_PING = re.compile(r"<(!channel|!here|!everyone|!subteam\^[^>]*|@[UW][A-Z0-9]+[^>]*)>")


def pings(text: str) -> list[str]:
    """Every broadcast, group or person mention in Slack markup."""
    return _PING.findall(text or "")


def texts(node) -> str:
    """All text in a message or view (text and every text object of its blocks)."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
                found.append(value["text"])
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    if isinstance(node, dict) and isinstance(node.get("text"), str):
        found.append(node["text"])
    walk(node.get("blocks") if isinstance(node, dict) else node)
    return "\n".join(found)
