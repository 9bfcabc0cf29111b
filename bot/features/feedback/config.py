"""The feedback room's settings of a workspace: its feedback channels, how long feedback
may go unacknowledged, which reactions acknowledge, and whether ignored threads get a
reminder. Stored as workspace settings (`bot.workspace_settings`), changed with
`change_setting` so each change lands in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.db.unit import remember
from bot.workspace_settings import setting_values

FEEDBACK_CHANNELS = "feedback_channels"  # list of channel ids
IGNORE_AFTER = "ignore_after_seconds"  # int seconds
ACK_EMOJI = "ack_emoji"  # list of emoji names without colons
IGNORED_REMINDERS = "ignored_reminders"  # bool: remind in the thread once when ignored

DEFAULT_IGNORE_AFTER = timedelta(hours=72)
DEFAULT_ACK_EMOJI = ("eyes", "white_check_mark", "heavy_check_mark")


@dataclass(frozen=True)
class FeedbackConfig:
    feedback_channels: tuple[str, ...] = ()
    ignore_after: timedelta = DEFAULT_IGNORE_AFTER
    ack_emoji: tuple[str, ...] = DEFAULT_ACK_EMOJI
    ignored_reminders: bool = True


def load_config(session: Session, workspace_id: int) -> FeedbackConfig:
    """The workspace's feedback settings, defaults filled in (read once per batch of
    inbox events and kept for a few seconds: `bot.db.unit.remember`)."""
    return remember(("feedback-config", workspace_id), lambda: _read(session, workspace_id), across_batches=KEEP_SECONDS)


KEEP_SECONDS = 5.0


def _read(session: Session, workspace_id: int) -> FeedbackConfig:
    values = setting_values(session, workspace_id, (FEEDBACK_CHANNELS, IGNORE_AFTER, ACK_EMOJI, IGNORED_REMINDERS))
    ignore_after, ack_emoji = values.get(IGNORE_AFTER), values.get(ACK_EMOJI)
    return FeedbackConfig(
        feedback_channels=tuple(values.get(FEEDBACK_CHANNELS) or ()),
        ignore_after=timedelta(seconds=ignore_after) if ignore_after else DEFAULT_IGNORE_AFTER,
        ack_emoji=tuple(ack_emoji) if ack_emoji is not None else DEFAULT_ACK_EMOJI,
        ignored_reminders=values.get(IGNORED_REMINDERS, True) is not False,
    )
