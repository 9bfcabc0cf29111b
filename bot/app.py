"""Builds the Bolt App: settings -> database -> Slack -> features.

One factory serves every mode: HTTP with a single bot token, multi-workspace OAuth
with installations in the database, and Socket Mode (same app, different transport).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.error import URLError

from slack_bolt import App, BoltRequest
from slack_bolt.error import BoltError
from slack_bolt.logger import get_bolt_logger
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request.internals import extract_team_id
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot.db.unit import on_commit
from bot.features import load_rooms
from bot.rooms import RoomContext, Rooms
from bot.runtime import Runtime
from bot.settings import ConfigError, SlackMode
from bot.slack.commands import SlashDispatcher, register_slash_command
from bot.slack.inbox import InboxProcessor
from bot.slack.manifest import bot_scopes
from bot.slack.middleware import FROM_INBOX, EventStore, served, store_events, workspace_guard
from bot.slack.outbox import deliver_due
from bot.slack.people import People, caller_access, fetch_workspace_info
from bot.slack.requests import typed_interactions
from bot.workspaces import record_install

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"
OAUTH_STATE_SECONDS = 600
APP_NAME = "heard"  # named, so Bolt does not inspect the call stack for one on each build


class _TokenFromClient(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and, given Heard's client
    (which carries that token and Heard's Slack URL and retry handlers), warns that the
    client wins, once for each app Heard builds. That is the intent: the line is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


get_bolt_logger(App).addFilter(_TokenFromClient())


class SlackUnavailable(Exception):
    """Slack refused the bot token or could not be reached at start-up; one line."""


def build_app(runtime: Runtime, *, on_workspace_change=None, listener_executor=None,
              rooms: Rooms | None = None) -> App:  # fmt: skip
    """The Bolt App for `runtime.settings`, with every room's listeners attached.

    `on_workspace_change` is called after an install or uninstall (the in-process
    scheduler re-syncs its jobs then rather than at its next periodic sync).
    `listener_executor` runs listeners after the ack (tests pass one they can drain).
    `rooms` defaults to every room in `bot.features.ROOMS`.
    """
    settings = runtime.settings
    mode = settings.require_slack()
    changed = on_workspace_change or (lambda: None)

    def notify() -> None:  # after the change is committed: the scheduler reads it then
        on_commit(changed, key="workspace-change")

    rooms = rooms or runtime.rooms or load_rooms()
    runtime.rooms = rooms

    front = _new_app(runtime, rooms, notify, mode, listener_executor=listener_executor)
    if mode is not SlackMode.OAUTH:
        _record_single_workspace(runtime, front)
    # The inbox's processor replays stored events through apps of its own: no signature
    # to check (Heard stored them after checking), listeners run before dispatch returns.
    def replaying_app() -> App:
        return _new_app(runtime, rooms, notify, mode, listener_executor=listener_executor, replaying=True)

    processing = _EventsOnly(replaying_app)
    own_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heard-inbox") if listener_executor is None else None
    processor = InboxProcessor(runtime, _replayer(runtime, processing), submit=(listener_executor or own_pool).submit)
    runtime.inbox = processor
    runtime.event_store = events = EventStore(runtime, processor)

    def on_installer(session, workspace_id: int, user_id: str, now) -> None:
        rooms.on_install(session, workspace_id, user_id, now, runtime)

    def after_install() -> None:
        deliver_due(runtime)  # the greeting DM
        notify()  # schedules now run in the installer's time zone

    people = People()
    access = caller_access(runtime, people, on_installer=on_installer, after_install=after_install)
    context = RoomContext(runtime=runtime, rooms=rooms, people=people, access=access, notify=notify)
    intro = " ".join(text for _, text in rooms.about())
    # Unknown workspaces are dropped before anything is stored, even an event.
    front.use(workspace_guard(runtime))
    front.use(store_events(events))
    front.use(typed_interactions)  # every interaction read once, into typed fields
    register_slash_command(front, SlashDispatcher(runtime, rooms.router, access, notify=notify, intro=intro))
    for app in (front, processing):
        for room in rooms:
            if room.register:
                room.register(app, context)
        _acknowledge_unclaimed_events(app, rooms.events())
    return front


class _EventsOnly:
    """The replaying apps as the rooms register on them: one Bolt app per event type.

    They only ever dispatch stored events, so event listeners are all they get. Actions,
    views, shortcuts, commands and options need Slack's 3-second answer and stay on the
    front app. One app per type, because Bolt tries a request against each listener in
    turn and builds every listener's and matcher's arguments to do so (about a tenth of
    a millisecond of the interpreter per event when all the rooms' listeners share one
    app): a `message` is tried only against the listeners of messages.
    """

    def __init__(self, make_app: Callable[[], App]):
        self._make_app = make_app
        self._apps: dict[str, App] = {}

    def app_for(self, event_type: str) -> App | None:
        return self._apps.get(event_type)

    def event(self, event, *args, **kwargs):
        kind = event if isinstance(event, str) else event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str):
            raise TypeError(f"a replayed event listener names its event type as text, not {event!r}")
        return self._registering(kind).event(event, *args, **kwargs)

    def message(self, *args, **kwargs):
        return self._registering("message").message(*args, **kwargs)

    def _registering(self, kind: str) -> App:
        app = self._apps.get(kind)
        if app is None:
            app = self._apps[kind] = self._make_app()
        return app

    def _not_here(self, *args, **kwargs):
        return lambda listener: listener

    action = view = shortcut = command = options = block_action = view_submission = view_closed = _not_here


def _new_app(runtime: Runtime, rooms: Rooms, notify, mode: SlackMode, *, listener_executor,
             replaying: bool = False) -> App:  # fmt: skip
    settings = runtime.settings
    common = {"name": APP_NAME, "listener_executor": listener_executor, "process_before_response": replaying}
    if mode is SlackMode.OAUTH:
        return App(
            **common,
            signing_secret=settings.slack_signing_secret,
            client=runtime.client(),
            request_verification_enabled=not replaying,
            oauth_settings=OAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=sorted(bot_scopes(rooms.scopes())),
                installation_store=runtime.installation_store(),
                state_store=SQLAlchemyOAuthStateStore(OAUTH_STATE_SECONDS, runtime.engine),
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                callback_options=CallbackOptions(
                    success=_on_install(runtime, rooms, notify), failure=_on_install_failure
                ),
            ),
        )
    try:
        return App(
            **common,
            signing_secret=settings.slack_signing_secret,
            client=runtime.client(settings.slack_bot_token),
            # Socket Mode requests arrive over Slack's websocket, not signed HTTP.
            request_verification_enabled=mode is not SlackMode.SOCKET and not replaying,
            # Bolt checks the token with auth.test; the front app has, the replaying one need not.
            token_verification_enabled=not replaying,
        )
    except BoltError as exc:
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN: {exc}") from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SlackUnavailable(f"cannot reach Slack at {settings.slack_api_url}: {reason}") from None


def _replayer(runtime: Runtime, apps: _EventsOnly):
    """Run one stored event body through the middleware and listeners of its type's app;
    None when they ran, else why not (a listener raised: Bolt answers 500).

    The workspace is looked up here, as `workspace_guard` does for the front app, and
    handed to Bolt in the request's context: one middleware fewer for Bolt to run."""

    def replay(body: str) -> str | None:
        payload = json.loads(body)
        event = payload.get("event") if isinstance(payload, dict) else None
        kind = event.get("type") if isinstance(event, dict) else None
        app = apps.app_for(kind) if isinstance(kind, str) else None
        if app is None:
            log.warning("stored event not handled: no listener for events of type %r", kind)
            return None
        workspace = served(runtime, payload, extract_team_id(payload))
        if workspace is None:
            return None
        # Parsed once, here; a dict body is what Bolt takes over a socket.
        request = BoltRequest(body=payload, mode="socket_mode", context={FROM_INBOX: True, **workspace})
        response = app.dispatch(request)
        if response.status >= 500:
            return f"a listener failed (HTTP {response.status})"
        if response.status >= 400:
            log.warning("stored event not handled (HTTP %s): %s", response.status, response.body[:200])
        return None

    return replay


def _acknowledge_unclaimed_events(app: App, events: list[str]) -> None:
    """Answer 200 to subscribed events no room claimed (a message outside feedback channels).

    Bolt answers 404 to an event no listener matches; Slack then retries it and, if
    that goes on, disables the app's event subscriptions. Registered after every
    room, so it only catches what they let through.
    """

    def unclaimed() -> None:
        return None

    for event_type in sorted({name.split(".")[0] for name in events}):
        app.event(event_type)(unclaimed)


def _record_single_workspace(runtime: Runtime, app: App) -> None:
    """In single-workspace mode the token's own team is the one installed workspace.

    There is no OAuth installer to greet: the first Slack workspace admin or owner who
    uses Heard (a slash command or the App Home) is recorded as the installer, the
    workspace takes their time zone and they get the setup DM
    (`bot.roles.claim_installer`, through `bot.slack.people.caller_access`).
    """
    try:
        auth = app.client.auth_test()
    except SlackApiError as exc:
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN: {exc.response.get('error')}") from None
    info = fetch_workspace_info(
        app.client,
        team_id=auth["team_id"],
        bot_user_id=auth.get("user_id"),
        enterprise_id=auth.get("enterprise_id"),
    )
    with runtime.sessions.begin() as session:
        record_install(session, info, runtime.clock())
    log.info("serving workspace %s (%s)", info.name, info.team_id)


def _on_install(runtime: Runtime, rooms: Rooms, notify):
    def success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        client = runtime.client(installation.bot_token)
        info = fetch_workspace_info(
            client,
            team_id=installation.team_id,
            installer_user_id=installation.user_id,
            bot_user_id=installation.bot_user_id,
            enterprise_id=installation.enterprise_id,
        )
        with runtime.sessions.begin() as session:
            workspace = record_install(session, info, runtime.clock())
            if installation.user_id:
                rooms.on_install(session, workspace.id, installation.user_id, runtime.clock(), runtime)
        log.info("installed in %s (%s) by %s", info.name, info.team_id, installation.user_id)
        notify()
        deliver_due(runtime)  # the greeting DM; once per installer, a retry is the outbox's
        return args.default.success(args)

    return success


def _on_install_failure(args: FailureArgs) -> BoltResponse:
    log.warning("installation failed: %s", args.reason)
    return args.default.failure(args)


__all__ = ["EVENTS_PATH", "INSTALL_PATH", "REDIRECT_PATH", "ConfigError", "SlackUnavailable", "build_app"]
