"""The stories room's part of `heard demo`: a story submitted, approved, posted once, two
reactions and a shared reflection counted."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text

from bot.features.stories import views
from bot.features.stories.queries import story_engagement
from bot.slack.outbox import deliver_due

STORIES_CHANNEL = "customer-stories"
STORY = {
    views.TITLE: "The night shift that stopped losing parcels",
    views.CUSTOMER: "Northwind Logistics",
    views.HAPPENED: "Northwind's night shift lost about one parcel a week. Their lead told us the dock "
                    "alerts only showed on the office dashboard, which nobody watches at 3 a.m.",
    views.LEARNED: "Alerts belong where the work happens: on the floor tablets, not on a dashboard.",
}


def _note(demo, text: str) -> None:
    demo.console.print(Text(text, style="dim"))


def _submit(demo, user_id: str, view: dict, values: dict) -> None:
    payload = demo.sender.view_submission_payload(team_id=demo.team_id, user_id=user_id, view=view, values=values)
    assert demo.sender.interaction(payload).status == 200
    demo.listeners.drain()


def _press(demo, user_id: str, channel: str, message: dict, action_id: str, value: str) -> None:
    payload = demo.sender.block_actions_payload(
        team_id=demo.team_id, user_id=user_id, channel_id=channel, message=message,
        action={"action_id": action_id, "block_id": "demo", "type": "button", "value": value},
    )  # fmt: skip
    assert demo.sender.interaction(payload).status == 200
    demo.listeners.drain()


def _heard(demo, channel: str) -> list[dict]:
    return [m for m in demo.slack.messages(channel) if m.get("user") == demo.acme.bot_user_id]


def weekly_story(demo) -> None:
    from bot.scheduler.runner import run_job

    maya, sam, lena, jonas = (demo.user(name) for name in ("maya", "sam", "lena", "jonas"))
    channel = demo.acme.channel_named(STORIES_CHANNEL).id
    demo.step("A customer story", f"{sam.real_name} shares a story with /heard story add; "
                                  f"{maya.real_name}, an admin, approves it; the weekly-story job posts it.")  # fmt: skip
    demo.command("story add", user=sam.id)
    modal = demo.slack.opened_views()[-1]
    values = {name: {name: {"type": "plain_text_input", "value": value}} for name, value in STORY.items()}
    _submit(demo, sam.id, modal, values)
    review = _heard(demo, maya.id)[-1]
    demo.console.print(f"{maya.real_name} gets the story to review (nothing is posted unreviewed):")
    demo.show_message(review)
    story_id = next(e["value"] for b in review["blocks"] if b["type"] == "actions" for e in b["elements"])
    _press(demo, maya.id, maya.id, review, views.APPROVE_ACTION, story_id)

    registry = demo.runtime.rooms.registry
    outcome = run_job(demo.runtime, registry, "weekly-story", demo.team_id, trigger="manual")
    deliver_due(demo.runtime)
    demo.console.print(f"weekly-story: {outcome.status} — {outcome.detail}")
    post = _heard(demo, channel)[-1]
    demo.show_message(post)
    _note(demo, "Sam is credited; had Sam ticked \"Post without naming me\", the post would say \"Shared anonymously\".")
    again = run_job(demo.runtime, registry, "weekly-story", demo.team_id, trigger="manual")
    deliver_due(demo.runtime)
    posts = [m for m in _heard(demo, channel) if m.get("thread_ts") in (None, m["ts"])]
    demo.console.print(f"Run again the same week: {again.status} — {again.detail}; "
                       f"{len(posts)} story post(s) in #{STORIES_CHANNEL}.")  # fmt: skip

    for person, emoji in ((lena, "heart"), (jonas, "truck")):
        demo.slack.react_as(person.id, channel, post["ts"], emoji)
        demo.event({"type": "reaction_added", "user": person.id, "reaction": emoji,
                    "item": {"type": "message", "channel": channel, "ts": post["ts"]}})  # fmt: skip
    post_id = next(e["value"] for b in post["blocks"] if b["type"] == "actions" for e in b["elements"])
    _press(demo, lena.id, channel, post, views.REFLECT_ACTION, post_id)
    reflect = demo.slack.opened_views()[-1]
    _submit(demo, lena.id, reflect, {
        views.REFLECTION: {views.REFLECTION: {"type": "plain_text_input",
                                              "value": "Check where our own alerts land before we ship them."}},
        views.SHARE: {views.SHARE: {"type": "checkboxes", "selected_options": [
            {"value": "yes", "text": {"type": "plain_text", "text": "Share in the story's thread"}}]}},
    })  # fmt: skip
    demo.console.print(f"{lena.real_name} and {jonas.real_name} react; {lena.real_name} reflects and shares it "
                       "in the thread:")  # fmt: skip
    demo.show_message(_heard(demo, channel)[-1])
    now = demo.runtime.clock()
    with demo.runtime.sessions.begin() as session:
        from bot.workspaces import find

        counted = story_engagement(session, find(session, demo.team_id).id, now - timedelta(days=7), now + timedelta(days=1))
    demo.console.print(f"Story engagement this week: {counted['posted']} posted, {counted['reactions']} reactions, "
                       f"{counted['replies']} replies, {counted['reflections']} reflection, "
                       f"{counted['people']} people.")  # fmt: skip


DEMO_STEPS = (weekly_story,)
