"""What Heard hands Slack to give back later, sealed so it comes back as Heard wrote it.

A modal's `private_metadata` returns with the submission, but the submission is a request
anyone holding a signed body could have edited, and a person could forge: a log-feedback
modal whose metadata named someone else as the reporter would credit them. `seal` adds an
HMAC over the data, with a key derived from a secret only Heard and Slack hold (the signing
secret; in Socket Mode, which has none, the app token); `unseal` gives the data back only
when the HMAC matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

_PURPOSE = b"heard private_metadata v1"
_TAG_BYTES = 16  # 128 bits of HMAC-SHA256: 22 characters of base64


def seal(data: dict[str, Any], secret: str) -> str:
    """`data` as JSON with its tag: `{json}.{tag}`."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"{payload}.{_tag(payload, secret)}"


def unseal(text: str | None, secret: str) -> dict[str, Any] | None:
    """The data `seal` sealed with `secret`, or None if the text was changed or is not Heard's."""
    if not isinstance(text, str) or "." not in text:
        return None
    payload, _, tag = text.rpartition(".")
    if not hmac.compare_digest(tag, _tag(payload, secret)):
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _tag(payload: str, secret: str) -> str:
    key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
