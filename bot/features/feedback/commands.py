"""The feedback room's `/heard` subcommands: feedback, me, feedback-channel, ignore-after,
ack-emoji. Each parses its words, calls the service and returns the ephemeral reply;
the shared `/heard` router sends it and then runs `after` (slow work such as a backfill).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from bot.db.models import Workspace
from bot.features.feedback import history, service, views
from bot.features.feedback.config import (
    ACK_EMOJI,
    DEFAULT_ACK_EMOJI,
    FEEDBACK_CHANNELS,
    IGNORE_AFTER,
    load_config,
)
from bot.features.feedback.kinds import Source
from bot.slack import outbox
from bot.slack.blocks import channel_link, escape
from bot.slack.channels import ensure_postable
from bot.slack.commands import Command, CommandFailed, CommandReply, CommandRequest, UsageError
from bot.slack.emoji import custom_emoji, is_standard
from bot.slack.history import SlackReadError, error_code
from bot.slack.outbox import deliver_due
from bot.slack.requests import channel_id as mentioned_channel
from bot.workspace_settings import change_setting, edit_setting

log = logging.getLogger(__name__)

MIN_IGNORE_AFTER = timedelta(hours=1)  # the sweep runs hourly; less would be a promise it can't keep
MAX_IGNORE_AFTER = timedelta(days=90)
MAX_ACK_EMOJI = 20
_DURATION = re.compile(r"^\s*(-?\d{1,6})\s*(h|hr|hrs|hour|hours|d|day|days|w|wk|week|weeks)\s*$", re.IGNORECASE)
_EMOJI_NAME = re.compile(r"^[a-z0-9+\-][a-z0-9_+'\-]{0,99}$")
_TOKEN = re.compile(r"(?<!\S)(customer|source):(\"[^\"]*\"|“[^”]*”|\S+)", re.IGNORECASE)


# -- parsing (pure) -------------------------------------------------------------------------


class BadValue(ValueError):
    """A value a person typed that Heard can't use; the message says why."""


def parse_duration(text: str) -> timedelta:
    """`72h`, `3d`, `2 days`, `1w` -> a timedelta between 1 hour and 90 days."""
    match = _DURATION.match(text or "")
    if not match:
        raise BadValue(f"`{escape((text or '').strip()[:40])}` is not a duration; use hours or days like `72h` or `3d`.")
    amount, unit = int(match.group(1)), match.group(2).lower()[0]
    if amount <= 0:
        raise BadValue("The duration must be more than zero.")
    span = timedelta(hours=amount) if unit == "h" else timedelta(days=amount * (7 if unit == "w" else 1))
    if span < MIN_IGNORE_AFTER:
        raise BadValue("The shortest is `1h`: Heard checks for ignored feedback hourly.")
    if span > MAX_IGNORE_AFTER:
        raise BadValue("The longest is `90d`; feedback unanswered that long is ignored by any measure.")
    return span


def parse_emoji_name(text: str) -> str:
    """`:eyes:`, `eyes`, `Eyes` -> `eyes` (skin tones dropped); checks the shape only."""
    name = (text or "").strip().strip(":").lower().split("::", 1)[0]
    if not _EMOJI_NAME.match(name):
        shown = escape((text or "").strip()[:40])
        raise BadValue(f"`{shown}` is not an emoji name; write it as in Slack, e.g. `eyes` or `:eyes:`.")
    return name


def emoji_exists(client, name: str) -> bool:
    """True when `name` is a standard emoji or one of the workspace's custom emoji.

    Raises UsageError for a name Slack doesn't know; returns False when the custom
    list can't be read (an install from before Heard asked for `emoji:read`).
    """
    if is_standard(name):
        return True
    custom = custom_emoji(client)
    if custom is None:
        return False
    if name not in custom:
        raise UsageError(f"`{escape(name)}` is not an emoji in this workspace.")
    return True


@dataclass(frozen=True)
class FeedbackText:
    text: str
    customer: str | None
    origin: str | None


def parse_feedback_text(raw: str) -> FeedbackText:
    """`/heard feedback` text: the feedback, with optional `customer:NAME` and
    `source:SOURCE` tokens anywhere (quote names with spaces: `customer:"Acme Co"`)."""
    found: dict[str, str] = {}

    def take(match: re.Match) -> str:
        found[match.group(1).lower()] = match.group(2).strip('"“”').strip()
        return " "

    rest = _TOKEN.sub(take, raw or "")
    text = re.sub(r"[ \t]{2,}", " ", rest).strip()
    return FeedbackText(text, found.get("customer") or None, found.get("source") or None)


# -- subcommands ------------------------------------------------------------------------------


def feedback_command(request: CommandRequest) -> CommandReply:
    from bot.features.feedback.events import plain_text

    parsed = parse_feedback_text(plain_text(request.text))
    if not parsed.text:
        raise UsageError("Tell me what the customer said.")
    runtime = request.runtime
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        workspace = session.get(Workspace, request.workspace_id)
        said = service.Said(
            text=parsed.text, said_at=now, source=Source.COMMAND, reporter_user_id=request.user_id,
            customer=parsed.customer, origin=parsed.origin, logged_by_user_id=request.user_id,
        )  # fmt: skip
        item = service.capture(session, workspace, said, now=now).item
        buttons = runtime.rooms.card_buttons("feedback") if runtime.rooms is not None else ()  # other rooms' buttons
        card_channel = service.post_card(session, workspace, item, load_config(session, workspace.id), now=now,
                                         buttons=buttons)  # fmt: skip
    return CommandReply(
        views.logged_reply(item, card_channel, request.command),
        after=lambda: deliver_due(runtime),
    )


def me_command(request: CommandRequest) -> CommandReply:
    if request.words:
        raise UsageError("`me` takes no arguments.")
    with request.runtime.sessions() as session:
        workspace = session.get(Workspace, request.workspace_id)
        mine = service.feedback_of(session, workspace.id, request.user_id, limit=20)
        links = {item.id: service.item_link(workspace, item) for item in mine.items}
    return CommandReply(views.my_feedback(mine, links, request.command))


def feedback_channel_command(request: CommandRequest) -> CommandReply:
    if len(request.words) != 2 or request.words[0].lower() not in ("add", "remove"):
        raise UsageError("Say `add` or `remove` and the channel.")
    action, word = request.words[0].lower(), request.words[1]
    channel = mentioned_channel(word)
    if channel is None:
        raise UsageError(f"`{escape(word[:40])}` is not a channel; pick one with Slack's #-autocomplete.")
    runtime, now = request.runtime, request.runtime.clock()
    if action == "remove":

        def without(stored) -> list[str]:
            if channel not in (stored or []):
                raise CommandFailed(f"{channel_link(channel)} is not a feedback channel.")
            return [c for c in stored if c != channel]

        with runtime.sessions.begin() as session:
            edit_setting(session, request.workspace_id, FEEDBACK_CHANNELS, without,
                         by=request.user_id, now=now, action="feedback-channel remove")  # fmt: skip
        return CommandReply(
            f"{channel_link(channel)} is no longer a feedback channel. Its items stay in Heard; "
            "new messages there are not tracked."
        )
    added = add_feedback_channel(runtime, request.client, request.workspace_id, request.user_id, channel)
    return CommandReply(
        f"{channel_link(added)} is now a feedback channel. I'm reading its last "
        f"{service.BACKFILL_WINDOW.days} days and will tell you what I found.",
        after=lambda: backfill_and_report(runtime, request.client, request.workspace_id, request.user_id, added,
                                          ref=request.trigger_id),
    )


def add_feedback_channel(runtime, client, workspace_id: int, user_id: str, channel: str) -> str:
    """Track `channel` (the slash command and the setup modal both come here): Heard joins
    it if public, and refuses one it cannot read. Returns the channel's id."""
    with runtime.sessions() as session:
        current = list(load_config(session, workspace_id).feedback_channels)
    if channel in current:
        raise CommandFailed(f"{channel_link(channel)} is already a feedback channel.")
    info = ensure_postable(client, channel)  # joins a public channel; explains the rest

    def with_it(stored) -> list[str]:  # what is stored now: another change may have come meanwhile
        if info.id in (stored or []):
            raise CommandFailed(f"{channel_link(info.id)} is already a feedback channel.")
        return [*(stored or []), info.id]

    with runtime.sessions.begin() as session:
        edit_setting(session, workspace_id, FEEDBACK_CHANNELS, with_it,
                     by=user_id, now=runtime.clock(), action="feedback-channel add")  # fmt: skip
    return info.id


def backfill_and_report(runtime, client, workspace_id: int, user_id: str, channel: str, *, ref: str | None) -> None:
    """Read a new feedback channel's recent history, then tell the admin what was found
    in a DM (the slash command's reply has gone by then), through the outbox."""
    try:
        report = history.backfill(runtime.sessions, client, workspace_id, channel, now=runtime.clock())
        text = (
            f"Backfilled {channel_link(channel)}: {report.new_items} feedback item(s) from the last "
            f"{service.BACKFILL_WINDOW.days} days, {report.acknowledged} of them already acknowledged."
        )
    except SlackReadError as exc:
        log.warning("backfill of %s failed: %s", channel, error_code(exc))
        text = (
            f"I couldn't read the history of {channel_link(channel)} "
            f"({error_code(exc)}); new messages there are tracked all the same."
        )
    outbox.follow_up(runtime, workspace_id=workspace_id, user_id=user_id, text=text, ref=ref)


def ignore_after_command(request: CommandRequest) -> CommandReply:
    if not request.words:
        with request.runtime.sessions() as session:
            current = load_config(session, request.workspace_id).ignore_after
        raise UsageError(f"Feedback now counts as ignored after {views.duration(current)}; give a new duration.")
    try:
        span = parse_duration(" ".join(request.words))
    except BadValue as exc:
        raise UsageError(str(exc)) from None
    runtime, now = request.runtime, request.runtime.clock()
    with runtime.sessions.begin() as session:
        old = load_config(session, request.workspace_id).ignore_after
        change_setting(session, request.workspace_id, IGNORE_AFTER, int(span.total_seconds()),
                       by=request.user_id, now=now, action="ignore-after")  # fmt: skip
        ignored, reopened = service.apply_ignore_rule(session, request.workspace_id, span, now=now)
    changed = ""
    if ignored or reopened:
        changed = f" Right now that makes {ignored} more item(s) ignored and {reopened} open again."
    return CommandReply(
        f"Feedback now counts as ignored after {views.duration(span)} without acknowledgement "
        f"(was {views.duration(old)}).{changed}"
    )


def ack_emoji_command(request: CommandRequest) -> CommandReply:
    runtime = request.runtime
    with runtime.sessions() as session:
        current = list(load_config(session, request.workspace_id).ack_emoji)
    if not request.words:
        shown = " ".join(f":{name}:" for name in current) or "none"
        return CommandReply(f"Reactions that acknowledge feedback: {shown}")
    if len(request.words) != 2 or request.words[0].lower() not in ("add", "remove"):
        raise UsageError("Say `add` or `remove` and the emoji.")
    action = request.words[0].lower()
    try:
        name = parse_emoji_name(request.words[1])
    except BadValue as exc:
        raise UsageError(str(exc)) from None
    unverified = False
    if action == "add":
        if name in current:
            raise CommandFailed(f":{name}: already acknowledges feedback.")
        if len(current) >= MAX_ACK_EMOJI:
            raise CommandFailed(f"Heard keeps at most {MAX_ACK_EMOJI} acknowledgement emoji; remove one first.")
        unverified = not emoji_exists(request.client, name)
    elif name not in current:
        raise CommandFailed(f"`{name}` is not an acknowledgement emoji.")

    def edited(stored) -> list[str]:  # from what is stored now, not what was read above
        emoji = list(stored) if stored is not None else list(DEFAULT_ACK_EMOJI)
        if action == "remove":
            return [e for e in emoji if e != name]
        if name in emoji:
            raise CommandFailed(f":{name}: already acknowledges feedback.")
        if len(emoji) >= MAX_ACK_EMOJI:
            raise CommandFailed(f"Heard keeps at most {MAX_ACK_EMOJI} acknowledgement emoji; remove one first.")
        return [*emoji, name]

    with runtime.sessions.begin() as session:
        _, updated = edit_setting(session, request.workspace_id, ACK_EMOJI, edited, by=request.user_id,
                                  now=runtime.clock(), action=f"ack-emoji {action}")  # fmt: skip
    shown = " ".join(f":{e}:" for e in updated) or "none (only replies and buttons acknowledge now)"
    note = (
        " Reactions already counted stay counted." if action == "remove"
        else " Slack would not list this workspace's custom emoji (the app lacks `emoji:read`),"
        " so check the name is spelled as in Slack." if unverified else ""
    )  # fmt: skip
    return CommandReply(f"Reactions that acknowledge feedback: {shown}.{note}")


COMMANDS = (
    Command("feedback", "feedback TEXT [customer:NAME] [source:SOURCE]",
            "log customer feedback you heard (phone, email, meeting)", feedback_command),
    Command("me", "me", "your customer feedback and where it stands", me_command),
    Command("feedback-channel", "feedback-channel add|remove #channel",
            "track customer feedback posted in a channel (adding reads its last 30 days)",
            feedback_channel_command, admin_only=True),
    Command("ignore-after", "ignore-after DURATION",
            "how long feedback may go unacknowledged before it counts as ignored (e.g. 72h, 3d)",
            ignore_after_command, admin_only=True),
    Command("ack-emoji", "ack-emoji add|remove NAME", "reactions that count as acknowledgement",
            ack_emoji_command, admin_only=True),
)  # fmt: skip
