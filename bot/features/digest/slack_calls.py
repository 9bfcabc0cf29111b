"""The digest job's calls to Slack that are reads or invisible preparation, not posts:
whether a leader is still in the workspace, the DM to share a chart in, and the chart's
upload (`files.getUploadURLExternal`, then the bytes; sharing it is
`files.completeUploadExternal`, queued in the outbox so it happens once). Never
`files.upload`, which Slack retired."""

from __future__ import annotations

import logging
import urllib.request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = 30


def has_left(client: WebClient, user_id: str) -> bool:
    """True when Slack says the person is deactivated or unknown; any other answer
    (rate limits, an outage) is not taken as leaving."""
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        return exc.response.get("error") in ("user_not_found", "account_inactive")
    except OSError:
        return False
    return bool(user.get("deleted"))


def conversation_for(client: WebClient, recipient: str) -> str | None:
    """The conversation a file is shared in: a channel as is, a person's DM opened."""
    if not recipient.startswith(("U", "W")):
        return recipient
    try:
        return client.conversations_open(users=recipient)["channel"]["id"]
    except (SlackApiError, OSError, KeyError, TypeError) as exc:
        log.info("could not open a DM with %s for the chart: %s", recipient, exc)
        return None


def upload_file(client: WebClient, content: bytes, *, filename: str, alt_text: str) -> str | None:
    """Upload `content` without sharing it yet; returns its file id, or None if Slack
    refused (the digest then goes without its chart)."""
    try:
        answer = client.files_getUploadURLExternal(filename=filename, length=len(content), alt_txt=alt_text)
        request = urllib.request.Request(answer["upload_url"], data=content, method="POST",
                                         headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT) as response:
            if response.status != 200:
                log.warning("chart upload answered HTTP %s", response.status)
                return None
        return answer["file_id"]
    except (SlackApiError, OSError, KeyError) as exc:
        log.warning("chart upload failed: %s", exc)
        return None
