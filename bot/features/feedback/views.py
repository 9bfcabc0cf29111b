"""Block Kit for customer feedback: pure functions from items and values to blocks.

Every piece of user text (the feedback, customer, origin, notes) goes through
`escape`/`excerpt`; people are mentioned only by ids Heard holds itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.features.feedback.kinds import AckKind, ItemStatus, Source
from bot.slack.blocks import (
    actions,
    button,
    channel_link,
    context,
    divider,
    escape,
    excerpt,
    header,
    mention,
    section,
    to_dicts,
)
from bot.slack.markup import is_link_url, is_user_id

if TYPE_CHECKING:
    from bot.features.feedback.models import FeedbackItem
    from bot.features.feedback.service import MyFeedback
    from bot.rooms import CardButton

ACKNOWLEDGE_ACTION = "feedback_acknowledge"
RESOLVE_ACTION = "feedback_resolve"
LOG_MODAL = "feedback_log"
LOG_SHORTCUT = "log_feedback"  # the message shortcut "Log as customer feedback"
RESOLVE_MODAL = "feedback_resolve_note"
CUSTOMER_INPUT, ORIGIN_INPUT, NOTE_INPUT = "customer", "origin", "note"
RESOLUTION_INPUT = "resolution"

STATUS_LABELS = {
    ItemStatus.OPEN: ":hourglass_flowing_sand: open",
    ItemStatus.ACKNOWLEDGED: ":eyes: acknowledged",
    ItemStatus.IGNORED: ":warning: ignored",
    ItemStatus.RESOLVED: ":white_check_mark: resolved",
}
DOOR_LABELS = {
    Source.CHANNEL: "posted in a feedback channel",
    Source.SHORTCUT: "logged from a message",
    Source.COMMAND: "logged with /heard feedback",
    Source.IMPORT: "imported",
}


def person(user_id: str | None) -> str:
    """A mention of someone Heard has the id of, else a neutral word."""
    return mention(user_id) if is_user_id(user_id) else "someone"


def reporter(item: FeedbackItem) -> str:
    if is_user_id(item.reporter_user_id):
        return mention(item.reporter_user_id)
    return escape(item.reporter_name) if item.reporter_name else "someone"


def link(url: str | None, label: str) -> str:
    """A mrkdwn link to an http(s) URL; anything else (or a URL that could break out of
    the link syntax) is dropped, and the label is shown alone."""
    if not is_link_url(url):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label)}>"


def duration(span: timedelta) -> str:
    """`72 hours`, `3 days`, `90 minutes`: how Heard names an ignore-after span."""
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0 and seconds > 86400 * 3:  # up to 72 hours, people count hours
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "1 hour" if hours == 1 else f"{hours} hours"
    minutes = seconds // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def day(moment: datetime) -> str:
    """The day something was said (UTC): `25 Nov 2026`."""
    return f"{moment.day} {moment:%b %Y}"


def quote(text: str, limit: int = 600) -> str:
    return "> " + excerpt(text, limit)


def _details(item: FeedbackItem) -> list[str]:
    details = []
    if item.customer:
        details.append(f"customer: *{escape(item.customer)}*")
    if item.origin:
        details.append(f"from: {escape(item.origin)}")
    return details


def card(item: FeedbackItem, extra: Sequence[CardButton] = ()) -> tuple[list[dict], str]:
    """Heard's confirmation card in the feedback channel, with Acknowledge / Resolve and
    the buttons other rooms add to cards in the item's state (`extra`, `bot.rooms`)."""
    who = reporter(item)
    logged_by = (
        f" (logged by {person(item.logged_by_user_id)})"
        if item.logged_by_user_id and item.logged_by_user_id != item.reporter_user_id
        else ""
    )
    title = f":speech_balloon: *Customer feedback* from {who}{logged_by}"
    blocks = [section(title), section(quote(item.text, 1500))]
    notes = _details(item)
    if item.permalink or (item.channel_id and item.message_ts and item.source == Source.SHORTCUT):
        notes.append(link(item.permalink, "original message") if item.permalink else "from a message")
    if item.note:
        notes.append(f"note: {excerpt(item.note, 300)}")
    notes.append(f"said {day(item.said_at)}")
    blocks.append(context(" · ".join(notes)))
    blocks += status_blocks(item, extra=extra)
    text = f"Customer feedback from {who}: {excerpt(item.text, 200)}"
    return to_dicts(blocks), text


def status_blocks(item: FeedbackItem, *, buttons: bool = True, extra: Sequence[CardButton] = ()) -> list:
    """The status line, and the buttons while there is something left to do, then those
    of `extra` (other rooms' card buttons) that show in the item's state."""
    blocks = []
    elements = []
    if item.status == ItemStatus.RESOLVED:
        line = f"{STATUS_LABELS[ItemStatus.RESOLVED]} by {person(item.resolved_by)}"
        if item.resolution_note:
            line += f": {excerpt(item.resolution_note, 300)}"
        blocks.append(context(line))
    else:
        if item.status == ItemStatus.ACKNOWLEDGED:
            blocks.append(context(f"{STATUS_LABELS[ItemStatus.ACKNOWLEDGED]} by {person(item.acknowledged_by)}"))
        if item.status != ItemStatus.ACKNOWLEDGED:
            elements.append(button("Acknowledge", ACKNOWLEDGE_ACTION, value=str(item.id), style="primary"))
        elements.append(button("Resolve…", RESOLVE_ACTION, value=str(item.id)))
    elements += [button(other.label, other.action_id, value=str(item.id))
                 for other in extra if other.shows_for(str(item.status))]  # fmt: skip
    if buttons and elements:
        blocks.append(actions(*elements[:25], block_id=f"feedback_actions_{item.id}"))
    return blocks


def reminder(item: FeedbackItem, ignore_after: timedelta, ack_emoji: tuple[str, ...]) -> tuple[str, list[dict]]:
    """The once-only, gentle nudge in the item's thread: no mentions, no broadcast."""
    emoji = f" or a :{ack_emoji[0]}: reaction" if ack_emoji else ""
    text = (
        f"Nobody has acknowledged this customer feedback in {duration(ignore_after)}. "
        f"A reply here{emoji} lets the person who shared it know it was seen."
    )
    blocks = [section(f":wave: {text}")] + status_blocks(item)
    return text, to_dicts(blocks)


LOOP_VERBS = {
    AckKind.REPLY: "replied to",
    AckKind.REACTION: "reacted to",
    AckKind.DECISION: "linked a decision to",
    AckKind.BUTTON: "acknowledged",
}


def loop_message(item: FeedbackItem, what: ItemStatus, *, actor: str, kind: AckKind, url: str | None) -> tuple[str, list[dict]]:
    """The close-the-loop DM to the reporter: who acted, on what, and where to see it."""
    who = person(actor)
    if what == ItemStatus.RESOLVED:
        headline = f":white_check_mark: {who} resolved the customer feedback you shared."
    else:
        headline = f":eyes: {who} {LOOP_VERBS.get(kind, 'acknowledged')} the customer feedback you shared."
    blocks = [section(headline), section(quote(item.text, 500))]
    if what == ItemStatus.RESOLVED and item.resolution_note:
        blocks.append(section(f"*Resolution note:* {excerpt(item.resolution_note, 1000)}"))
    if url:
        blocks.append(context(link(url, "Open in Slack")))
    return headline.split(" ", 1)[1], to_dicts(blocks)


def item_line(item: FeedbackItem, workspace_link: str | None) -> str:
    """One item in a list: status, when, excerpt, link."""
    where = f" · {link(workspace_link, 'view in Slack')}" if workspace_link else ""
    return f"{STATUS_LABELS.get(item.status, item.status)} · {day(item.said_at)}{where}\n{quote(item.text, 200)}"


def my_feedback(mine: MyFeedback, links: dict[int, str | None], command: str) -> str:
    """`/heard me`: the person's own feedback and where each item stands."""
    if not mine.total:
        return (
            "You have no customer feedback in Heard yet. Post it in a feedback channel, use "
            f"*Log as customer feedback* on a message, or `{escape(command)} feedback TEXT`."
        )
    summary = ", ".join(f"{n} {status}" for status, n in mine.counts.items() if n)
    lines = [f"*Your customer feedback:* {summary}."]
    lines += [item_line(item, links.get(item.id)) for item in mine.items]
    if mine.total > len(mine.items):
        lines.append(f"_Showing the newest {len(mine.items)} of {mine.total}._")
    return "\n".join(lines)


def home_section(mine: MyFeedback, links: dict[int, str | None], command: str) -> list[dict]:
    """The App Home part everyone sees: their own feedback and its status."""
    blocks = [divider(), header("Your customer feedback")]
    if not mine.total:
        blocks.append(section(
            "Nothing yet. When a customer tells you something, post it in a feedback channel, "
            f"use *Log as customer feedback* on a message, or type `{escape(command)} feedback TEXT`. "
            "Heard tells you when someone acknowledges it."
        ))  # fmt: skip
        return to_dicts(blocks)
    summary = ", ".join(f"{n} {status}" for status, n in mine.counts.items() if n)
    blocks.append(context(summary))
    blocks += [section(item_line(item, links.get(item.id))) for item in mine.items]
    if mine.total > len(mine.items):
        blocks.append(context(f"`{escape(command)} me` lists them too."))
    return to_dicts(blocks)


def logged_reply(item: FeedbackItem, card_channel: str | None, command: str) -> str:
    """The ephemeral answer to `/heard feedback`."""
    if card_channel:
        where = f"I posted it in {channel_link(card_channel)} so the team sees it"
    else:
        where = (
            "No feedback channel is set up, so only the digest will show it "
            f"(an admin can add one with `{escape(command)} feedback-channel add #channel`)"
        )
    return f"Logged as customer feedback. {where}; I'll tell you when someone acknowledges it."


# -- modals ------------------------------------------------------------------------------------


def _input(block_id: str, label: str, *, placeholder: str, max_length: int, multiline: bool = False,
           initial: str | None = None) -> InputBlock:  # fmt: skip
    return InputBlock(
        block_id=block_id, label=label, optional=True,
        element=PlainTextInputElement(
            action_id=block_id, placeholder=placeholder, max_length=max_length,
            multiline=multiline, initial_value=initial or None,
        ),
    )  # fmt: skip


def log_modal(text: str, author: str | None, metadata: str, card_channel: str | None) -> dict:
    """The shortcut's modal: what is being logged, and three optional details. `metadata`
    is what the submission brings back, sealed (`bot.slack.sealed`)."""
    by = f" by {person(author)}" if author else ""
    where = (
        f"Heard will post it in {channel_link(card_channel)} so the team can acknowledge it."
        if card_channel else "Heard will track it until someone acknowledges it."
    )  # fmt: skip
    blocks = [
        section(f"*Message{by}*\n{quote(text, 600) if text.strip() else '_(no text)_'}"),
        _input(CUSTOMER_INPUT, "Customer or account", placeholder="e.g. Northwind Logistics", max_length=255),
        _input(ORIGIN_INPUT, "Where the customer said it", placeholder="call, email, meeting, chat…", max_length=64),
        _input(NOTE_INPUT, "Note", placeholder="Anything the team should know", max_length=2000, multiline=True),
        context(where),
    ]  # fmt: skip
    return View(
        type="modal", callback_id=LOG_MODAL, title="Log feedback", submit="Log",
        close="Cancel", blocks=blocks, private_metadata=metadata,
    ).to_dict()  # fmt: skip


def info_modal(title: str, message: str, item: FeedbackItem | None = None,
               extra: Sequence[CardButton] = ()) -> dict:  # fmt: skip
    """A modal that only informs (the shortcut's answer when there is nothing to log)."""
    blocks = [section(message)]
    if item is not None:
        blocks.append(section(quote(item.text, 600)))
        blocks.append(context(f"{STATUS_LABELS.get(item.status, item.status)} · said {day(item.said_at)}"))
        blocks += status_blocks(item, extra=extra)
    return View(type="modal", title=title[:24], close="Close", blocks=blocks).to_dict()


def resolve_modal(item: FeedbackItem, metadata: dict) -> dict:
    blocks = [
        section(f"Resolve this customer feedback from {reporter(item)}?\n{quote(item.text, 600)}"),
        _input(RESOLUTION_INPUT, "Resolution note", placeholder="What was done (the reporter sees this)",
               max_length=2000, multiline=True),
    ]  # fmt: skip
    return View(
        type="modal", callback_id=RESOLVE_MODAL, title="Resolve feedback", submit="Resolve",
        close="Cancel", blocks=blocks, private_metadata=json.dumps(metadata),
    ).to_dict()  # fmt: skip
