"""Requests the way Slack sends them to an app: signed, to Heard's real HTTP endpoint.

`SlackRequestSender` builds Events API envelopes, slash commands and interaction payloads
like Slack does (field names, encodings, headers), signs them with the signing secret as
`X-Slack-Signature: v0=HMAC-SHA256("v0:{timestamp}:{body}")`, and POSTs them. Every
builder takes the signing overrides `timestamp=`, `signature=`, `sign_with=` and
`headers=`, so a security test can send a stale, forged or wrongly keyed request with
the same one line as a good one.

Bolt serves events, commands and interactions on one path, `/slack/events`.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

EVENTS_PATH = "/slack/events"
DEFAULT_APP_ID = "A0HEARD"
DEFAULT_BOT_USER_ID = "U0HEARDBOT"
# The legacy verification token Slack still puts in payloads; Bolt ignores it.
VERIFICATION_TOKEN = "fake-verification-token"


@dataclass(frozen=True)
class Response:
    """What the app answered. Non-2xx statuses are returned, never raised."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class SlackRequestSender:
    """Sends signed Slack requests to an app served at `base_url` (e.g. `http://127.0.0.1:3000`).

    `now` is the clock used for `X-Slack-Request-Timestamp` and event times; pass the
    test's frozen clock so the app under test agrees on what "stale" means.
    `response_url_factory(team_id)` makes the response_url put in commands and
    interactions; give it `FakeSlack.response_url` so replies land in the fake.
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        now: Callable[[], float] = time.time,
        path: str = EVENTS_PATH,
        api_app_id: str = DEFAULT_APP_ID,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        response_url_factory: Callable[[str], str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signing_secret = signing_secret
        self.now = now
        self.path = path
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.response_url_factory = response_url_factory
        self.timeout = timeout
        self._sequence = itertools.count(1)

    # -- identifiers -------------------------------------------------------------------------

    def next_event_id(self) -> str:
        """A fresh event id (`Ev…`); pass the same one again to simulate a Slack retry."""
        return f"Ev0{next(self._sequence):06d}{secrets.token_hex(3).upper()}"

    def next_trigger_id(self) -> str:
        """A trigger id in Slack's format, usable once with views.open on the fake."""
        return f"{int(self.now())}.{next(self._sequence)}.{secrets.token_hex(16)}"

    def _response_url(self, team_id: str) -> str:
        if self.response_url_factory is not None:
            return self.response_url_factory(team_id)
        return f"https://hooks.slack.com/commands/{team_id}/{next(self._sequence)}/{secrets.token_hex(12)}"

    # -- Slack's request kinds -------------------------------------------------------------------

    def event(
        self,
        event: dict[str, Any],
        *,
        team_id: str,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        api_app_id: str | None = None,
        authorizations: list[dict[str, Any]] | None = None,
        enterprise_id: str | None = None,
        **sig: Any,
    ) -> Response:
        """POST an `event_callback` envelope around `event`.

        The envelope has every field of Slack's event wrapper schema. `event_ts` is
        filled from the event's `ts` (or now) when missing. A `retry_num` adds Slack's
        `X-Slack-Retry-Num`/`X-Slack-Retry-Reason` headers; a real retry also repeats
        the `event_id`.
        """
        event = dict(event)
        event.setdefault("event_ts", event.get("ts") or f"{self.now():.6f}")
        app_id = api_app_id or self.api_app_id
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "enterprise_id": enterprise_id,
            "context_team_id": team_id,
            "context_enterprise_id": enterprise_id,
            "api_app_id": app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or self.next_event_id(),
            "event_time": int(self.now()),
            "authorizations": authorizations
            if authorizations is not None
            else [
                {
                    "enterprise_id": enterprise_id,
                    "team_id": team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "authed_users": [self.bot_user_id],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }
        headers = dict(sig.pop("headers", None) or {})
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        body = json.dumps(envelope).encode("utf-8")
        return self.post(self.path, body, "application/json", headers=headers, **sig)

    def command(
        self,
        text: str,
        *,
        team_id: str,
        user_id: str,
        channel_id: str = "C0GENERAL1",
        command: str = "/heard",
        trigger_id: str | None = None,
        user_name: str | None = None,
        channel_name: str | None = None,
        team_domain: str | None = None,
        enterprise_id: str | None = None,
        response_url: str | None = None,
        **sig: Any,
    ) -> Response:
        """POST a slash command, form-encoded with the fields Slack sends.

        `text` is passed as Slack would deliver it: a test writing mentions should use
        Slack's escaped forms (`<@U123|maya>`, `<#C123|general>`, `<!subteam^S1|@support>`).
        """
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": team_domain or team_id.lower(),
            "channel_id": channel_id,
            "channel_name": channel_name
            or ("directmessage" if channel_id.startswith("D") else "general"),
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self._response_url(team_id),
            "trigger_id": trigger_id or self.next_trigger_id(),
        }
        if enterprise_id:
            fields["enterprise_id"] = enterprise_id
        return self.post(
            self.path, urlencode(fields).encode(), "application/x-www-form-urlencoded", **sig
        )

    def interaction(self, payload: dict[str, Any], **sig: Any) -> Response:
        """POST an interaction (`block_actions`, `view_submission`, `message_action`, …).

        Slack form-encodes the JSON as `payload=…`. Build the payload with the helpers
        below or by hand; nothing is added to it.
        """
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(self.path, body, "application/x-www-form-urlencoded", **sig)

    def url_verification(self, challenge: str, **sig: Any) -> Response:
        """POST the handshake Slack sends when the Request URL is saved."""
        body = json.dumps(
            {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        )
        return self.post(self.path, body.encode(), "application/json", **sig)

    # -- payload builders for common interactions ----------------------------------------------

    def block_actions_payload(
        self,
        *,
        team_id: str,
        user_id: str,
        action: dict[str, Any],
        channel_id: str | None = None,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        trigger_id: str | None = None,
    ) -> dict[str, Any]:
        """A `block_actions` payload: `action` is one clicked element, e.g.
        `{"action_id": "ack", "block_id": "b1", "type": "button", "value": "42"}`.
        Give `channel_id` + `message` for a button in a message, `view` for one in a view."""
        action = {"action_ts": f"{self.now():.6f}", **action}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": _payload_user(team_id, user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "container": {},
            "trigger_id": trigger_id or self.next_trigger_id(),
            "team": {"id": team_id, "domain": team_id.lower()},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        if message is not None and channel_id is not None:
            payload["container"] = {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": channel_id.lower()}
            payload["message"] = message
            payload["response_url"] = self._response_url(team_id)
        elif view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
        return payload

    def view_submission_payload(
        self,
        *,
        team_id: str,
        user_id: str,
        view: dict[str, Any],
        values: dict[str, dict[str, dict[str, Any]]],
    ) -> dict[str, Any]:
        """A `view_submission` payload for `view` (as returned by views.open) with `values`
        shaped like Slack's state: `{block_id: {action_id: {"type": …, "value": …}}}`."""
        submitted = {**view, "state": {"values": values}}
        return {
            "type": "view_submission",
            "team": {"id": team_id, "domain": team_id.lower()},
            "user": _payload_user(team_id, user_id),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.next_trigger_id(),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def message_shortcut_payload(
        self,
        *,
        team_id: str,
        user_id: str,
        callback_id: str,
        channel_id: str,
        message: dict[str, Any],
    ) -> dict[str, Any]:
        """A `message_action` payload: someone chose a message shortcut on `message`."""
        return {
            "type": "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": f"{self.now():.6f}",
            "team": {"id": team_id, "domain": team_id.lower()},
            "user": _payload_user(team_id, user_id),
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.next_trigger_id(),
            "response_url": self._response_url(team_id),
            "message_ts": message["ts"],
            "message": message,
        }

    # -- transport ---------------------------------------------------------------------------------

    def signature_for(self, timestamp: int | str, body: bytes, *, secret: str | None = None) -> str:
        """`v0=…`: the X-Slack-Signature Slack would send for `body` at `timestamp`."""
        verifier = SignatureVerifier(secret if secret is not None else self.signing_secret)
        return verifier.generate_signature(timestamp=str(timestamp), body=body.decode("utf-8"))

    def post(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        sign_with: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """POST `body` signed like Slack. `timestamp` overrides the request time (e.g. ten
        minutes ago), `signature` replaces the signature outright, `sign_with` signs with
        another secret; `headers` are added last and win."""
        stamp = int(self.now()) if timestamp is None else int(timestamp)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": signature
            if signature is not None
            else self.signature_for(stamp, body, secret=sign_with),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        all_headers.update(headers or {})
        return self._send("POST", path, body, all_headers)

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        """An unsigned GET (install pages, OAuth redirect, health checks)."""
        return self._send("GET", path, None, dict(headers or {}))

    def _send(self, verb: str, path: str, body: bytes | None, headers: dict[str, str]) -> Response:
        url = self.base_url + (path if path.startswith("/") else "/" + path)
        request = urllib.request.Request(url, data=body, headers=headers, method=verb)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=self.timeout) as reply:
                return Response(reply.status, _lower(reply.headers.items()), reply.read())
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, _lower(error.headers.items()), error.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # OAuth tests assert on the redirect itself (Location header), so never follow it.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _lower(items: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def _payload_user(team_id: str, user_id: str) -> dict[str, str]:
    """The `user` object of an interaction payload."""
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}
