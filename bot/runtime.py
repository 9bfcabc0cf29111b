"""The runtime: what every part of Heard shares, built once from Settings and passed down."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, system_clock
from bot.db import create_db_engine, session_factory
from bot.settings import Settings
from bot.slack.client import make_client
from bot.slack.ratelimit import RateLimiter

if TYPE_CHECKING:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    from bot.rooms import Rooms
    from bot.slack.inbox import InboxProcessor
    from bot.slack.middleware import EventStore

log = logging.getLogger(__name__)


class NoTokenForWorkspace(Exception):
    """Heard has no bot token for the workspace (uninstalled or never installed)."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock = system_clock
    sessions: sessionmaker[Session] = field(init=False)
    # Every room of this Heard (`bot.features.load_rooms()`), set by whoever assembles
    # the app, the CLI command or the demo; the parts below the rooms reach them here.
    rooms: Rooms | None = field(default=None, init=False)
    # The processor of stored inbound events, set with the Bolt app (`bot.app.build_app`).
    inbox: InboxProcessor | None = field(default=None, init=False)
    # What stores an inbound event in the inbox before Slack's answer (set with the app too).
    event_store: EventStore | None = field(default=None, init=False)
    # Paces the outbox's calls inside Slack's rate limits, per workspace and method.
    limiter: RateLimiter = field(default_factory=RateLimiter, init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = system_clock) -> Runtime:
        return cls(settings=settings, engine=create_db_engine(settings.database_url), clock=clock)

    def installation_store(self) -> SQLAlchemyInstallationStore | None:
        """slack-sdk's installation store in Heard's database (OAuth mode only)."""
        if not self.settings.slack_client_id:
            return None
        # Imported here: it loads SQLAlchemy's asyncio extension, which a single workspace never needs.
        from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

        return SQLAlchemyInstallationStore(
            client_id=self.settings.slack_client_id, engine=self.engine, logger=log
        )

    def client(self, token: str | None = None, *, posting: bool = False) -> WebClient:
        return make_client(token, self.settings.slack_api_url, posting=posting)

    def client_for(self, team_id: str, enterprise_id: str | None = None, *, posting: bool = False) -> WebClient:
        """A WebClient with the workspace's bot token, from the environment or the store;
        `posting`: the outbox's, which retries nothing by itself (`bot.slack.client`)."""
        store = self.installation_store()
        if store is None:
            if not self.settings.slack_bot_token:
                raise NoTokenForWorkspace(f"no SLACK_BOT_TOKEN for {team_id}")
            return self.client(self.settings.slack_bot_token, posting=posting)
        bot = store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise NoTokenForWorkspace(f"no installation stored for {team_id}")
        return self.client(bot.bot_token, posting=posting)
