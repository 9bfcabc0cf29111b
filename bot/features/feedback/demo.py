"""The feedback room's part of `heard demo`: feedback arriving, one item acknowledged,
one ignored, and the reporter told."""

from __future__ import annotations

from datetime import timedelta

from rich.padding import Padding
from rich.text import Text
from sqlalchemy import func, select

from bot.features.feedback.config import DEFAULT_IGNORE_AFTER
from bot.features.feedback.kinds import ItemStatus
from bot.features.feedback.models import FeedbackItem
from bot.slack.outbox import deliver_due

FEEDBACK_CHANNEL = "customer-feedback"


def _heard_messages(demo, channel: str) -> list[dict]:
    return [m for m in demo.slack.messages(channel) if m.get("user") == demo.acme.bot_user_id]


def _note(demo, text: str, *, indent: int = 0) -> None:
    demo.console.print(Padding(Text(text, style="dim"), (0, 0, 0, indent)))


def _counts(demo) -> dict[str, int]:
    """Feedback items by status."""
    with demo.runtime.sessions() as session:
        return dict(session.execute(select(FeedbackItem.status, func.count()).group_by(FeedbackItem.status)).all())


def _status_counts(demo) -> str:
    counts = _counts(demo)
    listed = ", ".join(f"{counts[s]} {s}" for s in ItemStatus if counts.get(s))
    return f"{listed} ({sum(counts.values())} in all)"


def _hours(demo) -> int:
    return int(DEFAULT_IGNORE_AFTER.total_seconds() // 3600)


def feedback_channel(demo) -> None:
    maya = demo.user("maya")
    channel = demo.acme.channel_named(FEEDBACK_CHANNEL)
    demo.step("A feedback channel", f"{maya.real_name} tells Heard to track #{channel.name}.")
    dms_before = len(demo.slack.messages(maya.id))
    demo.show_reply(demo.command(f"feedback-channel add <#{channel.id}|{channel.name}>", user=maya.id))
    demo.console.print(f"Once it has read the channel, Heard tells {maya.real_name} what it found, by DM:")
    demo.show_messages(maya.id, since=dms_before)
    _note(demo, "People's posts became items; the Zendesk bot's ticket and Lena's join did not. "
                "Priya's reply and Maya's :eyes: already acknowledged two of them.")
    demo.console.print(f"Feedback items now: {_status_counts(demo)}")
    _note(demo, f"open: nobody has acknowledged it yet and it was said less than {_hours(demo)} hours "
                "ago · acknowledged: someone other than the reporter replied, reacted :eyes: or "
                f"pressed Acknowledge · ignored: nobody acknowledged it within {_hours(demo)} hours")  # fmt: skip


def feedback_arrives(demo) -> None:
    lena, priya = demo.user("lena"), demo.user("priya")
    channel = demo.acme.channel_named(FEEDBACK_CHANNEL).id
    demo.step("Feedback arrives", f"{lena.real_name} posts what a customer said; "
                                  f"{priya.real_name} logs a phone call with /heard feedback.")
    posted = demo.slack.post_as(lena.id, channel, "Onboarding call with Tailspin: they want the "
                                "dock status in the mobile app, not only on the dashboard.")
    demo.event({"type": "message", "channel": channel, "user": lena.id, "text": posted["text"],
                "ts": posted["ts"], "channel_type": "channel"})  # fmt: skip
    demo.console.print(f"{lena.real_name} in #{FEEDBACK_CHANNEL}: {posted['text']}", markup=False, highlight=False)
    before = len(_heard_messages(demo, channel))
    demo.show_reply(demo.command(
        'feedback Globex says the monthly usage report double-counts robots that were '
        'offline <!channel> customer:"Globex" source:phone', user=priya.id,
    ))  # fmt: skip
    for message in _heard_messages(demo, channel)[before:]:
        demo.show_message(message)
    _note(demo, "Heard posted a card for the call (it has no Slack message of its own); "
                "Lena's post gets no Heard reply, which would look like an answer. "
                "The <!channel> Priya typed is shown, not sent: nobody is pinged.")
    demo.lena_ts = posted["ts"]


def one_acknowledged(demo) -> None:
    jonas, lena = demo.user("jonas"), demo.user("lena")
    channel = demo.acme.channel_named(FEEDBACK_CHANNEL).id
    demo.step("Acknowledged, and the reporter told", f"{jonas.real_name} reacts :eyes: to Lena's post.")
    demo.slack.react_as(jonas.id, channel, demo.lena_ts, "eyes")
    demo.event({"type": "reaction_added", "user": jonas.id, "reaction": "eyes", "item_user": lena.id,
                "item": {"type": "message", "channel": channel, "ts": demo.lena_ts}})  # fmt: skip
    demo.console.print(f"{lena.real_name} gets a DM from Heard:")
    demo.show_messages(lena.id)


def one_ignored(demo) -> None:
    channel = demo.acme.channel_named(FEEDBACK_CHANNEL).id
    later = demo.runtime.clock() + DEFAULT_IGNORE_AFTER + timedelta(hours=1)
    demo.step("Ignored", f"{_hours(demo)} hours pass and nobody answers Priya's call note. "
                         "The hourly feedback-sweep runs.")  # fmt: skip
    from bot.scheduler.runner import run_job

    registry = demo.runtime.rooms.registry
    original = demo.runtime.clock
    demo.runtime.clock = lambda: later
    try:
        before = len(_heard_messages(demo, channel))
        was_open = _counts(demo).get(ItemStatus.OPEN, 0)
        outcome = run_job(demo.runtime, registry, "feedback-sweep", demo.team_id)
        deliver_due(demo.runtime)
        demo.console.print(f"feedback-sweep: {outcome.status} — {outcome.detail}")
        _explain_sweep(demo, later, was_open)
        reminders = [m for m in _heard_messages(demo, channel)[before:] if m.get("thread_ts")]
        cards = {m["ts"] for m in _heard_messages(demo, channel) if m.get("thread_ts") in (None, m["ts"])}
        on_card = [m for m in reminders if m["thread_ts"] in cards]
        if on_card:
            demo.console.print("One of them, in the thread of the card Heard posted for Priya's call:")
            demo.show_message(on_card[-1])
        _note(demo, "Each ignored item gets this nudge once, ever: the next sweep posts none again.")
        again = run_job(demo.runtime, registry, "feedback-sweep", demo.team_id, trigger="manual")
        demo.console.print(f"Run again in the same hour: {again.status} — {again.detail}")
        _note(demo, "A job runs once per workspace and period (here, the hour), however often it is started.")
        demo.console.print(f"Feedback items now: {_status_counts(demo)}")
        loop_closed(demo, channel)
    finally:
        demo.runtime.clock = original


def _explain_sweep(demo, swept_at, was_open: int) -> None:
    """What the sweep's two numbers count, from what it changed."""
    with demo.runtime.sessions() as session:
        newly = session.scalar(select(func.count()).where(FeedbackItem.ignored_at == swept_at))
        reminded = session.scalar(select(func.count()).where(FeedbackItem.reminded_at == swept_at))
        reminded_newly = session.scalar(select(func.count()).where(
            FeedbackItem.reminded_at == swept_at, FeedbackItem.ignored_at == swept_at))  # fmt: skip
    hours = _hours(demo)
    which = f"all {was_open}" if newly == was_open else f"{newly} of the {was_open}"
    _note(demo, f"{newly} newly ignored: {which} item(s) that were still open, each said more "
                f"than {hours} hours before this run with nobody acknowledging it.", indent=2)  # fmt: skip
    earlier = reminded - reminded_newly
    which = f"the {reminded_newly} just ignored"
    if earlier:
        which += f" and {earlier} already ignored before this sweep but never reminded"
    _note(demo, f"{reminded} reminder(s): one in the thread of each ignored item that has a thread: {which}.",
          indent=2)  # fmt: skip


def loop_closed(demo, channel: str) -> None:
    tomas, priya = demo.user("tomas"), demo.user("priya")
    card = next(m for m in _heard_messages(demo, channel) if m.get("thread_ts") in (None, m["ts"]))
    demo.step("Closing the loop", f"{tomas.real_name} answers in the card's thread; "
                                  f"{priya.real_name} hears about it.")  # fmt: skip
    reply = demo.slack.post_as(tomas.id, channel, "Reproduced it, fix is in review.", thread_ts=card["ts"])
    demo.event({"type": "message", "channel": channel, "user": tomas.id, "text": reply["text"],
                "ts": reply["ts"], "thread_ts": card["ts"], "channel_type": "channel"})  # fmt: skip
    demo.show_messages(priya.id)
    demo.console.print(f"{priya.real_name} types /heard me:")
    demo.show_reply(demo.command("me", user=priya.id))


DEMO_STEPS = (feedback_channel, feedback_arrives, one_acknowledged, one_ignored)
