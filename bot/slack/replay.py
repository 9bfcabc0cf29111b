"""Stored events, replayed to the rooms' event listeners without Bolt's dispatch.

The inbox's processor (`bot.slack.inbox`) hands each stored event body to `Replayer`.
The rooms register their event listeners on it exactly as on a Bolt app
(`app.event("message", matchers=[...])`), and it keeps Bolt's rules for an event:

- the workspace must be one Heard serves (`bot.slack.middleware.served`, as for any
  request); its `workspace_id` and `time_zone` are in the listener's context;
- the bot token is the workspace's: `SLACK_BOT_TOKEN` for a single workspace, the
  installation store's in OAuth mode (an event from a team with no installation stored
  is logged and skipped); `app_uninstalled`, `tokens_revoked` and
  `team_access_revoked` need none, as Slack has already taken the token back. Unlike
  Bolt's OAuth authorization, a stored token is not checked with `auth.test` on every
  event: a token revoked a moment ago fails the listeners' Slack calls instead (Slack
  then sends `tokens_revoked`, which uninstalls the workspace); and when the one
  `auth.test` of a single-token process fails, the event is retried rather than dropped;
- an event the bot itself caused (its own user id or, for `bot_message`, its bot id)
  is skipped, except `member_joined_channel` and `member_left_channel` (Bolt's
  `IgnoringSelfEvents`);
- listeners of the event's type are tried in the order they were registered, and the
  first whose matchers all say yes runs; none, and the event needed nothing.

Listeners and matchers get the keyword arguments they name, from `body`, `event`,
`payload` (the event), `message` (the event, for a message), `context`, `client` and
`logger`; a listener naming anything else is refused when it is registered, so a typo
fails at start-up, not on the first event.

Why not Bolt: an event already signed, checked and stored needs none of Bolt's request
handling, and Bolt builds a request, a context, a WebClient and every matcher's and
listener's arguments by inspection for each event: about a third of the processor's
time per event. A listener or matcher that raises is not caught here: the processor
rolls the event's unit back and retries it, then parks it with that error.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context import BoltContext
from slack_bolt.request.internals import (
    extract_channel_id,
    extract_enterprise_id,
    extract_is_enterprise_install,
    extract_team_id,
    extract_user_id,
)

from bot.db.unit import remember
from bot.slack.front import Refused, check_shape
from bot.slack.middleware import FROM_INBOX, served

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a JSON escape of U+D800 to U+DFFF

NO_TOKEN_EVENTS = frozenset({"app_uninstalled", "tokens_revoked", "team_access_revoked"})
KEPT_SELF_EVENTS = frozenset({"member_joined_channel", "member_left_channel"})
ARGUMENTS = frozenset({"body", "event", "payload", "message", "context", "client", "logger"})
BOT_SECONDS = 5.0  # how long a workspace's bot token, read from the store, is reused


@dataclass(frozen=True)
class _Listener:
    function: Callable[..., Any]
    wants: tuple[str, ...]
    matchers: tuple[tuple[Callable[..., Any], tuple[str, ...]], ...]


def _wanted(function: Callable[..., Any]) -> tuple[str, ...]:
    """The arguments `function` names; TypeError for one the replay cannot give."""
    wants = []
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name in ARGUMENTS:
            wants.append(name)
        elif parameter.default is parameter.empty:
            raise TypeError(f"{function.__qualname__} takes {name!r}, which a stored event's listener is not given "
                            f"(it may take {', '.join(sorted(ARGUMENTS))})")  # fmt: skip
    return tuple(wants)


class Replayer:
    """The processor's dispatch: `replayer(body)` runs one stored event body through the
    listener it concerns; None when done (or when nothing needed doing), never an error
    string: failures raise, and the processor retries them.

    Rooms register on it as on a Bolt app; only event listeners are kept (actions, views,
    shortcuts, commands and options need Slack's 3-second answer and stay on the front
    app, so registering them here does nothing)."""

    def __init__(self, runtime: Runtime, *, subscribed: Iterable[str] = (), oauth: bool = False):
        self.runtime = runtime
        self._listeners: dict[str, list[_Listener]] = {}
        self._subscribed = {name.split(".")[0] for name in subscribed}
        self._oauth = oauth
        self._single: AuthorizeResult | None = None
        self._store = None  # the installation store, in OAuth mode
        self._client = lru_cache(maxsize=256)(runtime.client)  # a WebClient per token, reused

    # -- registering, as on a Bolt app ------------------------------------------------------------

    def event(self, event: str, matchers: Iterable[Callable[..., Any]] | None = None, middleware: Any = None):
        if not isinstance(event, str):
            raise TypeError(f"a replayed event listener names its event type as text, not {event!r}")
        if middleware:
            raise TypeError("listener middleware is not run for stored events; put the check in a matcher")
        checks = tuple((matcher, _wanted(matcher)) for matcher in matchers or ())

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self._listeners.setdefault(event, []).append(_Listener(function, _wanted(function), checks))
            return function

        return register

    def _not_here(self, *args, **kwargs):
        return lambda listener: listener

    action = view = shortcut = command = options = block_action = view_submission = view_closed = _not_here

    # -- replaying ----------------------------------------------------------------------------------

    def __call__(self, body: str) -> None:
        payload = json.loads(body)
        # Stored before the front refused or mended a lone surrogate, which only a JSON
        # escape of one can write: only such a body is checked again (the front checked
        # the rest when it stored them).
        if _SURROGATE_ESCAPE.search(body) and isinstance(payload, dict):
            try:
                check_shape(payload)
            except Refused as refusal:
                log.warning("stored event skipped: %s", refusal.reason)
                return
        event = payload.get("event") if isinstance(payload, dict) else None
        kind = event.get("type") if isinstance(event, dict) else None
        listeners = self._listeners.get(kind) if isinstance(kind, str) else None
        if not listeners:
            if kind not in self._subscribed:
                log.warning("stored event not handled: no listener for events of type %r", kind)
            return
        team_id = extract_team_id(payload)
        workspace = served(self.runtime, payload, team_id)
        if workspace is None:
            return
        authorized = None if kind in NO_TOKEN_EVENTS else self._authorize(payload, team_id)
        if authorized is None and kind not in NO_TOKEN_EVENTS:
            log.warning("stored %s event skipped: no installation stored for team %s", kind, team_id)
            return
        user_id = extract_user_id(payload)
        if authorized is not None and kind not in KEPT_SELF_EVENTS and (
            (user_id is not None and user_id == authorized.bot_user_id)
            or (event.get("bot_id") is not None and event.get("bot_id") == authorized.bot_id)
        ):
            return  # the bot's own doing
        token = authorized.bot_token if authorized is not None else None
        client = self._client(token)
        context = BoltContext(
            {
                FROM_INBOX: True, **workspace, "team_id": team_id, "enterprise_id": extract_enterprise_id(payload),
                "is_enterprise_install": extract_is_enterprise_install(payload), "user_id": user_id,
                "channel_id": extract_channel_id(payload), "authorize_result": authorized, "token": token,
                "bot_token": token, "bot_id": authorized.bot_id if authorized else None,
                "bot_user_id": authorized.bot_user_id if authorized else None, "client": client, "logger": log,
            }
        )  # fmt: skip
        given = {"body": payload, "event": event, "payload": event, "message": event if kind == "message" else None,
                 "context": context, "client": client, "logger": log}  # fmt: skip
        for listener in listeners:
            if all(matcher(**{name: given[name] for name in wants}) for matcher, wants in listener.matchers):
                listener.function(**{name: given[name] for name in listener.wants})
                return

    def _authorize(self, payload: dict, team_id: str | None) -> AuthorizeResult | None:
        if not self._oauth:
            if self._single is None:  # once per process, as Bolt's single-team authorization does
                token = self.runtime.settings.slack_bot_token
                auth = self._client(token).auth_test()
                self._single = AuthorizeResult(enterprise_id=auth.get("enterprise_id"), team_id=auth.get("team_id"),
                                               bot_token=token, bot_id=auth.get("bot_id"),
                                               bot_user_id=auth.get("user_id"))  # fmt: skip
            return self._single
        enterprise_id = extract_enterprise_id(payload)
        enterprise_install = extract_is_enterprise_install(payload) or False
        return remember(("replay-bot", enterprise_id, team_id, enterprise_install),
                        lambda: self._stored_bot(enterprise_id, team_id, enterprise_install),
                        across_batches=BOT_SECONDS)  # fmt: skip

    def _stored_bot(self, enterprise_id: str | None, team_id: str | None, enterprise_install: bool) -> AuthorizeResult | None:
        if self._store is None:
            self._store = self.runtime.installation_store()
        store = self._store
        bot = store.find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=enterprise_install)
        if bot is None or not bot.bot_token:
            return None
        return AuthorizeResult(enterprise_id=bot.enterprise_id, team_id=bot.team_id, bot_token=bot.bot_token,
                               bot_id=bot.bot_id, bot_user_id=bot.bot_user_id, bot_scopes=bot.bot_scopes)  # fmt: skip
