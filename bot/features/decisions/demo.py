"""The decisions room's part of `heard demo`: both departments prompted, Support logs a
decision that links a piece of ignored feedback (acknowledged now, its reporter told),
and Product, silent, is nudged."""

from __future__ import annotations

from rich.text import Text

from bot.features.admin import queries as admin
from bot.features.decisions import views
from bot.features.decisions.kinds import Field
from bot.features.feedback import queries as feedback
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due

DECIDED = ("Until billing supports e-invoices, Support sends Fabrikam's invoices as XRechnung by hand "
           "every month.")  # fmt: skip


def _note(demo, text: str) -> None:
    demo.console.print(Text(text, style="dim"))


def _heard_in(demo, channel: str, since: int) -> list[dict]:
    return [m for m in demo.slack.messages(channel)[since:] if m.get("user") == demo.acme.bot_user_id]


def _run(demo, job: str) -> None:
    outcome = run_job(demo.runtime, demo.runtime.rooms.registry, job, demo.team_id)
    deliver_due(demo.runtime)
    demo.console.print(f"{job}: {outcome.status} — {outcome.detail}")


def decisions(demo) -> None:
    with demo.runtime.sessions() as session:
        workspace_id = _workspace_id(demo, session)
        departments = admin.departments(session, workspace_id)
    if len(departments) < 2:
        return
    support = next((d for d in departments if d.usergroup_id), departments[0])
    silent = next(d for d in departments if d is not support)
    priya, jonas = demo.user("priya"), demo.user("jonas")
    demo.step("Decision prompts", f"The weekly decision-prompts job asks {len(departments)} departments, "
                                  "each in its channel, to log a decision.")  # fmt: skip
    before = {d.channel_id: len(demo.slack.messages(d.channel_id)) for d in departments}
    _run(demo, "decision-prompts")
    for department in departments:
        for message in _heard_in(demo, department.channel_id, before[department.channel_id]):
            demo.show_message(message)
    _run(demo, "decision-prompts")
    _note(demo, "Run again in the same week: no second prompt (one per department and period).")

    demo.step("A decision that links ignored feedback",
              f"{priya.real_name} ({support.name}) presses Log a decision and links the Fabrikam e-invoice "
              "feedback nobody had acknowledged.")  # fmt: skip
    prompt = next(m for m in _heard_in(demo, support.channel_id, 0) if m.get("blocks"))
    demo.sender.interaction(demo.sender.block_actions_payload(
        team_id=demo.team_id, user_id=priya.id, channel_id=support.channel_id, message=prompt,
        action={"action_id": views.LOG_ACTION, "block_id": "decision_prompt", "type": "button",
                "value": support.name},
    ))  # fmt: skip
    demo.listeners.drain()
    modal = demo.slack.opened_views()[-1]
    chosen = (next(b for b in modal["blocks"] if b.get("block_id") == Field.DEPARTMENT)
              ["element"].get("initial_option") or {}).get("value")  # fmt: skip
    demo.console.print(f"The modal opens with the department preselected: {chosen}.")
    options = demo.sender.interaction({
        "type": "block_suggestion", "user": {"id": priya.id, "name": priya.name, "team_id": demo.team_id},
        "team": {"id": demo.team_id, "domain": demo.acme.domain}, "api_app_id": demo.acme.app_id,
        "action_id": views.LINKS_ACTION, "block_id": Field.LINKS, "value": "fabrikam",
        "container": {"type": "view", "view_id": modal["id"]}, "view": modal,
    }).json()["options"]  # fmt: skip
    demo.console.print(f'Searching "fabrikam" in the linked-feedback picker finds: {options[0]["text"]["text"]}')
    item_id = options[0]["value"]
    with demo.runtime.sessions() as session:
        was = feedback.by_ids(session, workspace_id, [item_id])[0].status
    values = {
        Field.DEPARTMENT: {Field.DEPARTMENT: {"type": "static_select",
                                              "selected_option": {"value": support.name}}},
        Field.DECIDED: {Field.DECIDED: {"type": "plain_text_input", "value": DECIDED}},
        Field.IMPACT: {Field.IMPACT: {"type": "radio_buttons", "selected_option": {"value": "helped"}}},
        Field.AFFECTED: {Field.AFFECTED: {"type": "plain_text_input", "value": "Fabrikam's accounting team"}},
        Field.EVIDENCE: {Field.EVIDENCE: {"type": "plain_text_input", "value": "Their ops director's email"}},
        Field.LINKS: {views.LINKS_ACTION: {"type": "multi_external_select",
                                           "selected_options": [options[0]]}},
    }  # fmt: skip
    before_summary = len(demo.slack.messages(support.channel_id))
    dms_before = len(demo.slack.messages(jonas.id))
    submitted = demo.sender.view_submission_payload(team_id=demo.team_id, user_id=priya.id, view=modal,
                                                    values=values)  # fmt: skip
    submitted["user"]["name"] = priya.name  # Slack sends the person's handle
    demo.sender.interaction(submitted)
    demo.listeners.drain()
    deliver_due(demo.runtime)
    demo.console.print(f"The summary Heard posts in {support.name}'s channel:")
    for message in _heard_in(demo, support.channel_id, before_summary):
        demo.show_message(message)
    with demo.runtime.sessions() as session:
        now = feedback.by_ids(session, workspace_id, [item_id])[0].status
    demo.console.print(f"The linked feedback went from {was} to {now}; {jonas.real_name}, who shared it, gets a DM:")
    demo.show_messages(jonas.id, since=dms_before)

    demo.step("A silent department is nudged", f"{silent.name} logged nothing since its prompt; "
                                               "the decision-nudges job reminds it, once.")  # fmt: skip
    before = {d.channel_id: len(demo.slack.messages(d.channel_id)) for d in departments}
    _run(demo, "decision-nudges")
    for department in departments:
        for message in _heard_in(demo, department.channel_id, before[department.channel_id]):
            demo.show_message(message)
    _note(demo, f"{support.name} logged, so it gets no nudge. An admin can have nudges sent by DM to a "
                "department's user group instead: /heard decision-nudges dm.")  # fmt: skip


def _workspace_id(demo, session) -> int:
    from bot.workspaces import find

    return find(session, demo.team_id).id


DEMO_STEPS = (decisions,)
