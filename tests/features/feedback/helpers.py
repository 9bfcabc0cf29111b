"""Helpers for the feedback tests: reading pings and text out of what Heard posts.
Who and where (Acme's people and channels) are in tests.people."""

import re

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
