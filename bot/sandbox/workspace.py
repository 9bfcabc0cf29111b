"""Seed data for the fake Slack: who is in a workspace, its channels and what was said.

A `SeedWorkspace` is immutable; `FakeSlack` copies it into its own mutable state, so one
seed can start many servers (one per test) without leaking changes between them.

`demo_workspace(now)` is the workspace `heard demo` and most sandbox tests run against:
Acme Robotics, a small company with a busy `#customer-feedback` channel. Message times
are relative to `now`, so "feedback from three days ago" stays three days old whatever
the date; pass the clock your test froze.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# The scopes Heard's manifest asks for. `chat:write.public` is deliberately absent: without
# it real Slack answers `not_in_channel` when a bot posts to a public channel it has not
# joined, and the fake does the same (add the scope to a seed to lift that rule).
DEFAULT_BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "commands",
    "emoji:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:write",
    "reactions:read",
    "reactions:write",
    "team:read",
    "usergroups:read",
    "users:read",
    "users:read.email",
)


@dataclass(frozen=True)
class SeedUser:
    """A member of a workspace (a person, a bot user, or Slackbot)."""

    id: str
    name: str
    real_name: str
    tz: str = "Europe/Berlin"
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None
    title: str = ""
    # For bot users: the bot id (B…) their messages carry.
    bot_id: str | None = None


@dataclass(frozen=True)
class SeedChannel:
    """A channel. `is_member` says whether the workspace's bot (Heard) is in it.

    `members` lists the people in it; None means every active person of the workspace
    for a public channel and just the admins and owners for a private one.
    """

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_member: bool = False
    is_general: bool = False
    purpose: str = ""
    topic: str = ""
    members: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SeedMessage:
    """A message already in a channel when the fake starts.

    `ts` is Slack's message timestamp (`"1700000000.000100"`), also its id within the
    channel. `reactions` maps an emoji name to the users who reacted with it.
    """

    channel: str
    user: str | None
    text: str
    ts: str
    thread_ts: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    reactions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedUsergroup:
    """A user group (`@support`); `users` are member ids."""

    id: str
    handle: str
    users: tuple[str, ...]
    name: str = ""
    description: str = ""


@dataclass(frozen=True)
class SeedWorkspace:
    """A whole workspace with Heard installed in it (its bot token works from the start).

    `installer_user_id` is who installed Heard (returned by `oauth.v2.access`);
    None means the primary owner.
    """

    team_id: str
    name: str
    domain: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    app_id: str
    enterprise_id: str | None = None
    users: tuple[SeedUser, ...] = ()
    channels: tuple[SeedChannel, ...] = ()
    messages: tuple[SeedMessage, ...] = ()
    usergroups: tuple[SeedUsergroup, ...] = ()
    custom_emoji: Mapping[str, str] = field(default_factory=dict)  # name -> image URL or "alias:name"
    bot_scopes: tuple[str, ...] = DEFAULT_BOT_SCOPES
    installer_user_id: str | None = None
    email_domain: str = ""

    def user_named(self, name: str) -> SeedUser:
        """The user whose handle (`name`) or first name (case-insensitive) is `name`."""
        wanted = name.lower().lstrip("@")
        for user in self.users:
            if user.name.lower() == wanted or user.real_name.split()[0].lower() == wanted:
                return user
        raise KeyError(f"no user named {name!r} in {self.team_id}")

    def channel_named(self, name: str) -> SeedChannel:
        """The channel called `name` (with or without the leading `#`)."""
        wanted = name.lstrip("#")
        for channel in self.channels:
            if channel.name == wanted:
                return channel
        raise KeyError(f"no channel named {name!r} in {self.team_id}")

    @property
    def installer(self) -> str:
        """Who installed Heard: `installer_user_id`, else the primary owner."""
        if self.installer_user_id:
            return self.installer_user_id
        for user in self.users:
            if user.is_primary_owner:
                return user.id
        raise ValueError(f"{self.team_id} has no primary owner and no installer_user_id")


def slack_ts(moment: datetime, sequence: int = 0) -> str:
    """Slack's `ts` for a moment: epoch seconds, a dot, six digits (microseconds here)."""
    micros = int(moment.timestamp()) * 1_000_000 + sequence
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


# -- Acme Robotics ---------------------------------------------------------------------

ACME_TEAM_ID = "T0ACME001"
ACME_BOT_USER_ID = "U0HEARDBOT"
HEARD_APP_ID = "A0HEARD"


def demo_workspace(now: datetime) -> SeedWorkspace:
    """Acme Robotics: six people, two other bots, five channels and a week of feedback.

    Traps on purpose (real workspaces have them): a Zendesk bot that posts into
    `#customer-feedback`, a channel-join message, a deactivated former employee, Slackbot,
    an archived channel and a private channel.
    """
    now = _aware(now)

    def ago(**delta: float) -> str:
        return slack_ts(now - timedelta(**delta))

    maya = SeedUser(
        "U0MAYA0001",
        "maya",
        "Maya Okafor",
        is_admin=True,
        is_owner=True,
        is_primary_owner=True,
        email="maya@acme-robotics.example",
        title="CEO",
    )
    jonas = SeedUser(
        "U0JONAS002",
        "jonas",
        "Jonas Weber",
        is_admin=True,
        email="jonas@acme-robotics.example",
        title="Head of Operations",
    )
    priya = SeedUser(
        "U0PRIYA003",
        "priya",
        "Priya Raman",
        tz="Europe/London",
        email="priya@acme-robotics.example",
        title="Support Lead",
    )
    tomas = SeedUser(
        "U0TOMAS004",
        "tomas",
        "Tomás Alvarez",
        tz="Europe/Madrid",
        email="tomas@acme-robotics.example",
        title="Product Manager",
    )
    lena = SeedUser(
        "U0LENA0005",
        "lena",
        "Lena Fischer",
        email="lena@acme-robotics.example",
        title="Firmware Engineer",
    )
    sam = SeedUser(
        "U0SAM00006",
        "sam",
        "Sam Chen",
        tz="America/New_York",
        email="sam@acme-robotics.example",
        title="Backend Engineer",
    )
    former = SeedUser(
        "U0FORMER07",
        "olek",
        "Olek Nowak",
        deleted=True,
        email="olek@acme-robotics.example",
    )
    heard = SeedUser(ACME_BOT_USER_ID, "heard", "Heard", is_bot=True, bot_id="B0HEARD001")
    zendesk = SeedUser("U0ZENDESK1", "zendesk", "Zendesk", is_bot=True, bot_id="B0ZENDESK1")
    slackbot = SeedUser("USLACKBOT", "slackbot", "Slackbot", tz="America/Los_Angeles")
    people = (maya, jonas, priya, tomas, lena, sam)

    feedback = "C0FEEDBACK"
    channels = (
        SeedChannel(
            feedback,
            "customer-feedback",
            is_member=True,
            purpose="Anything a customer told you, in their words.",
        ),
        SeedChannel("C0GENERAL1", "general", is_member=True, is_general=True),
        SeedChannel(
            "C0STORIES1",
            "customer-stories",
            is_member=True,
            purpose="One real customer story a week.",
        ),
        SeedChannel("C0PRODUCT1", "product", is_member=False),
        SeedChannel(
            "C0LEADERS1",
            "leadership",
            is_private=True,
            is_member=True,
            members=(maya.id, jonas.id, tomas.id),
        ),
        SeedChannel("C0OLDARCH1", "old-archive", is_archived=True),
    )

    complaint_ts = ago(days=5, hours=2)
    dock_ts = ago(days=4, hours=1)
    messages = (
        SeedMessage(
            feedback,
            lena.id,
            "<@U0LENA0005> has joined the channel",
            ago(days=6, hours=5),
            subtype="channel_join",
        ),
        SeedMessage(
            feedback,
            priya.id,
            "Call with Northwind Logistics: their pickers lose about 10 minutes every shift "
            "because the AR-2 arm needs a full recalibration after each battery swap.",
            ago(days=6),
        ),
        SeedMessage(
            feedback,
            sam.id,
            "Customer at Brightline Foods says the export to CSV drops the timezone, so "
            "their night-shift report shows the wrong day. They noticed after a failed audit.",
            complaint_ts,
        ),
        SeedMessage(
            feedback,
            priya.id,
            "Thanks Sam, I've opened SUP-2231 and told them we're looking at it.",
            ago(days=5, hours=1),
            thread_ts=complaint_ts,
        ),
        SeedMessage(
            feedback,
            tomas.id,
            "From the Helios onboarding: they love the new docking station, but the status "
            "LED is invisible in bright warehouses. Three operators mentioned it unprompted.",
            dock_ts,
            reactions={"eyes": (maya.id,)},
        ),
        SeedMessage(
            feedback,
            None,
            'New ticket #48213 from Contoso: "Robot stops at aisle 7 every morning"',
            ago(days=3, hours=6),
            subtype="bot_message",
            bot_id=zendesk.bot_id,
        ),
        SeedMessage(
            feedback,
            lena.id,
            "Heard at the trade fair: two prospects asked whether the fleet dashboard works "
            "offline. Their sites have no Wi-Fi in the cold store.",
            ago(days=3),
        ),
        SeedMessage(
            feedback,
            jonas.id,
            "Email from Fabrikam's ops director: invoices arrive as PDF only and their "
            "accounting system needs e-invoices (XRechnung). They'll switch vendors at renewal "
            "if this isn't solved.",
            ago(days=2, hours=4),
        ),
        SeedMessage(
            feedback,
            priya.id,
            "Support chat: a customer couldn't find where to download firmware 4.2 — the link "
            "in the release email 404s.",
            ago(hours=30),
        ),
        SeedMessage(
            feedback,
            sam.id,
            "Northwind again: the mobile app logs them out every time they switch warehouses. "
            "Their shift leads now share one account, which worries their security team.",
            ago(hours=3),
        ),
        SeedMessage(
            "C0GENERAL1",
            maya.id,
            "Reminder: all-hands on Thursday, bring one thing a customer said this month.",
            ago(days=1, hours=2),
        ),
    )

    support = SeedUsergroup(
        "S0SUPPORT1",
        "support",
        (priya.id, sam.id),
        name="Support",
        description="First line for customer questions",
    )

    return SeedWorkspace(
        team_id=ACME_TEAM_ID,
        name="Acme Robotics",
        domain="acme-robotics",
        bot_token=f"xoxb-fake-{ACME_TEAM_ID}",
        bot_user_id=ACME_BOT_USER_ID,
        bot_id="B0HEARD001",
        app_id=HEARD_APP_ID,
        users=(*people, former, heard, zendesk, slackbot),
        channels=channels,
        messages=messages,
        usergroups=(support,),
        custom_emoji={"acme-ack": "https://emoji.slack-edge.com/T0ACME001/acme-ack.png", "shipit": "alias:squirrel"},
        email_domain="acme-robotics.example",
    )


def second_workspace(now: datetime) -> SeedWorkspace:
    """Globex: a second, smaller workspace with Heard installed, for isolation tests.

    Its channel, user and message ids never collide with Acme's.
    """
    now = _aware(now)
    hank = SeedUser(
        "U0HANK0001",
        "hank",
        "Hank Scorpio",
        tz="America/Chicago",
        is_admin=True,
        is_owner=True,
        is_primary_owner=True,
        email="hank@globex.example",
    )
    frank = SeedUser("U0FRANK002", "frank", "Frank Grimes", tz="America/Chicago")
    bot = SeedUser("U0GLXHEARD", "heard", "Heard", is_bot=True, bot_id="B0GLXHEARD")
    feedback = "C0GLXFEED1"
    return SeedWorkspace(
        team_id="T0GLOBEX2",
        name="Globex Corporation",
        domain="globex",
        bot_token="xoxb-fake-T0GLOBEX2",
        bot_user_id=bot.id,
        bot_id="B0GLXHEARD",
        app_id=HEARD_APP_ID,
        users=(hank, frank, bot),
        channels=(
            SeedChannel(feedback, "customer-feedback", is_member=True),
            SeedChannel("C0GLXGENRL", "general", is_member=True, is_general=True),
        ),
        messages=(
            SeedMessage(
                feedback,
                frank.id,
                "A customer in Springfield says the hammock delivery tracker never updates.",
                slack_ts(now - timedelta(days=2)),
            ),
            SeedMessage(
                feedback,
                hank.id,
                "Cypress Creek site wants the quarterly report in Spanish as well.",
                slack_ts(now - timedelta(hours=20)),
            ),
        ),
        usergroups=(SeedUsergroup("S0GLXOPS01", "ops", (hank.id,), name="Ops"),),
        email_domain="globex.example",
    )


def _aware(now: datetime) -> datetime:
    # A naive datetime is taken as UTC, the way everything in Heard is stored.
    return now if now.tzinfo else now.replace(tzinfo=UTC)
