"""Names for the feedback tests: Acme's people and channels (see bot.sandbox.workspace)."""

import re

ACME = "T0ACME001"
GLOBEX = "T0GLOBEX2"
FEEDBACK = "C0FEEDBACK"
GENERAL = "C0GENERAL1"
PRODUCT = "C0PRODUCT1"  # public, Heard not a member
LEADERS = "C0LEADERS1"  # private, Heard a member
HEARD = "U0HEARDBOT"
MAYA = "U0MAYA0001"
JONAS = "U0JONAS002"
PRIYA = "U0PRIYA003"
TOMAS = "U0TOMAS004"
LENA = "U0LENA0005"
SAM = "U0SAM00006"
ZENDESK_BOT = "B0ZENDESK1"

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
