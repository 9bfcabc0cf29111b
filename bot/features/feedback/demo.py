"""The feedback room's part of `heard demo`: feedback arriving, one item acknowledged,
one ignored, and the reporter told."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from sqlalchemy import func, select

from bot.db.models import FeedbackItem
from bot.slack.outbox import deliver_due
from bot.workspace_settings import DEFAULT_IGNORE_AFTER

FEEDBACK_CHANNEL = "customer-feedback"


def _heard_messages(demo, channel: str) -> list[dict]:
    return [m for m in demo.slack.messages(channel) if m.get("user") == demo.acme.bot_user_id]


def _note(demo, text: str) -> None:
    demo.console.print(Text(text, style="dim"))


def _status_counts(demo) -> str:
    with demo.runtime.sessions() as session:
        counts = dict(session.execute(select(FeedbackItem.status, func.count()).group_by(FeedbackItem.status)).all())
    return ", ".join(f"{counts[s]} {s}" for s in ("open", "acknowledged", "ignored", "resolved") if counts.get(s))


def feedback_channel(demo) -> None:
    maya = demo.user("maya")
    channel = demo.acme.channel_named(FEEDBACK_CHANNEL)
    demo.step("A feedback channel", f"{maya.real_name} tells Heard to track #{channel.name}.")
    demo.show_reply(demo.command(f"feedback-channel add <#{channel.id}|{channel.name}>", user=maya.id))
    followups = demo.slack.ephemeral_messages(user=maya.id)
    if followups:
        demo.show_reply({"text": followups[-1]["text"], "response_type": "ephemeral"})
    _note(demo, "People's posts became items; the Zendesk bot's ticket and Lena's join did not. "
                "Priya's reply and Maya's :eyes: already acknowledged two of them.")
    demo.console.print(f"Feedback items now: {_status_counts(demo)}")


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
    demo.step("Ignored", f"{int(DEFAULT_IGNORE_AFTER.total_seconds() // 3600)} hours pass and nobody "
                         "answers Priya's call note. The hourly feedback-sweep runs.")  # fmt: skip
    from bot.scheduler.registry import default_registry
    from bot.scheduler.runner import run_job

    original = demo.runtime.clock
    demo.runtime.clock = lambda: later
    try:
        before = len(_heard_messages(demo, channel))
        outcome = run_job(demo.runtime, default_registry(), "feedback-sweep", demo.team_id)
        deliver_due(demo.runtime)
        demo.console.print(f"feedback-sweep: {outcome.status} — {outcome.detail}")
        reminders = [m for m in _heard_messages(demo, channel)[before:] if m.get("thread_ts")]
        if reminders:
            demo.show_message(reminders[-1])
        _note(demo, f"Each ignored item gets this nudge in its thread once ({len(reminders)} here); "
                    "the next sweep posts none again.")  # fmt: skip
        again = run_job(demo.runtime, default_registry(), "feedback-sweep", demo.team_id, trigger="manual")
        demo.console.print(f"Run again in the same hour: {again.status} — {again.detail}")
        demo.console.print(f"Feedback items now: {_status_counts(demo)}")
        loop_closed(demo, channel)
    finally:
        demo.runtime.clock = original


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
