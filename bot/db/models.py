"""Heard's core tables. Every row belongs to one workspace; every time is aware UTC.

Each room keeps its own tables in its `models.py`, on this module's `Base`, so one
Alembic history covers them all (`bot.features.load_models` imports them for Alembic).
Slack's OAuth installation and state tables are the ones slack-sdk's SQLAlchemy stores
read and write (OAuth mode), declared here column for column rather than built by those
stores: importing them loads SQLAlchemy's asyncio extension and slack-sdk's OAuth
modules, 30-40 ms of every start, which a single workspace never uses
(`tests/db/test_schema.py` checks that the two declarations agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware.

    SQLite has no time zones; without this a value would come back naive and
    compare wrongly with the aware clock.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


# slack-sdk's installation and OAuth state tables, in our metadata, as its
# SQLAlchemyInstallationStore.build_installations_table / build_bots_table and
# SQLAlchemyOAuthStateStore.build_oauth_states_table build them (slack-sdk 3.x).
slack_installations = Table(
    "slack_installations",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)
slack_bots = Table(
    "slack_bots",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)
slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


class Workspace(Base):
    """A Slack workspace (team), the scope of every other row.

    `installed_at` is None while the workspace awaits installation: `heard feedback
    import --team T` recorded it so a company can load its history before connecting
    Slack. Heard serves a workspace only once it is installed and not uninstalled.
    """

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    domain: Mapped[str | None] = mapped_column(String(255))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    installer_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[datetime | None]  # set by bot.workspaces.record_install
    uninstalled_at: Mapped[datetime | None]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)

    settings: Mapped[list[WorkspaceSetting]] = relationship(
        back_populates="workspace", cascade="all, delete-orphan"
    )

    @property
    def active(self) -> bool:
        return self.installed_at is not None and self.uninstalled_at is None

    @property
    def awaiting_install(self) -> bool:
        return self.installed_at is None and self.uninstalled_at is None


class WorkspaceSetting(Base):
    """One named setting of a workspace; the value is JSON (a channel id, a list, a duration)."""

    __tablename__ = "workspace_settings"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(32))

    workspace: Mapped[Workspace] = relationship(back_populates="settings")


class WorkspaceRole(Base):
    """A person Heard treats specially in a workspace: an added admin or a digest leader."""

    __tablename__ = "workspace_roles"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))  # "admin" | "leader"
    added_by: Mapped[str | None] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    channel_id: Mapped[str] = mapped_column(String(32))
    usergroup_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """The run ledger: one row per job, workspace and period makes a run happen once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "workspace_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(32))  # e.g. 2026-W48, 2026-11-25, 2026-11-25T10
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|succeeded|failed
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | manual
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A Slack call that must happen once, keyed so a retry or a second process can't repeat it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    method: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|uncertain|sent|parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))  # whose claim it is (bot.slack.outbox)
    sent_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. {"channel", "ts"}


class InboxEvent(Base):
    """An inbound Slack event, stored before Slack gets its 200 and processed after.

    The `event_id` primary key makes a retried or twice-delivered event one row; rows
    are processed in batches (`bot.slack.inbox`), retried with back-off, and parked
    after a few failures for an operator (`heard inbox list|retry`).
    """

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_status_due", "status", "not_before"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)  # the request body as Slack sent it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|processing|done|parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who changed which setting of a workspace, when, from what to what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_workspace_at", "workspace_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor_user_id: Mapped[str | None] = mapped_column(String(32))  # None: Heard or an operator
    action: Mapped[str] = mapped_column(String(64))  # e.g. "feedback-channel add"
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
