"""Builds the Bolt App: settings -> database -> Slack -> features.

One factory serves every mode: HTTP with a single bot token, multi-workspace OAuth
with installations in the database, and Socket Mode (same app, different transport).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_bolt.logger import get_bolt_logger
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.db.unit import on_commit
from bot.features import load_rooms
from bot.rooms import RoomContext, Rooms
from bot.runtime import Runtime
from bot.settings import ConfigError, SlackMode
from bot.slack.commands import SlashDispatcher, register_slash_command
from bot.slack.inbox import InboxProcessor
from bot.slack.manifest import bot_scopes
from bot.slack.middleware import EventStore, store_events, workspace_guard
from bot.slack.outbox import deliver_due
from bot.slack.people import People, caller_access, fetch_workspace_info
from bot.slack.replay import Replayer
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
    # The inbox's processor replays stored events to the rooms' event listeners itself.
    processing = Replayer(runtime, subscribed=rooms.events(), oauth=mode is SlackMode.OAUTH)
    own_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heard-inbox") if listener_executor is None else None
    processor = InboxProcessor(runtime, processing, submit=(listener_executor or own_pool).submit)
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
    _acknowledge_unclaimed_events(front, rooms.events())
    return front


def _new_app(runtime: Runtime, rooms: Rooms, notify, mode: SlackMode, *, listener_executor) -> App:
    settings = runtime.settings
    common = {"name": APP_NAME, "listener_executor": listener_executor}
    if mode is SlackMode.OAUTH:
        # Imported here: it loads SQLAlchemy's asyncio extension, which a single workspace never needs.
        from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

        return App(
            **common,
            signing_secret=settings.slack_signing_secret,
            client=runtime.client(),
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
            request_verification_enabled=mode is not SlackMode.SOCKET,
        )
    except BoltError as exc:
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN: {exc}") from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SlackUnavailable(f"cannot reach Slack at {settings.slack_api_url}: {reason}") from None


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
