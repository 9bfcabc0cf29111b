"""`decision-prompts` and `decision-nudges`: one prompt per department and period whatever
retries, manual runs or concurrent runs do; a nudge only for departments silent since
their prompt, once, in the channel or by DM; nothing in a paused workspace."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.db.models import JobRun, Workspace
from bot.features.admin.service import remove_department, set_paused
from bot.features.decisions import service
from bot.runtime import Runtime
from bot.scheduler.ledger import RunStatus
from tests.features.decisions.room import PRODUCT, SUPPORT, TUESDAY
from tests.features.feedback.helpers import pings, texts
from tests.people import ACME, GENERAL, LEADERS, MAYA, PRIYA, SAM, TOMAS

THURSDAY = TUESDAY + timedelta(days=2, hours=4)  # the default nudge time, same week
NEXT_TUESDAY = TUESDAY + timedelta(days=7)


@pytest.fixture
def room(decisions):
    decisions.at(TUESDAY)
    return decisions


def prompt_posts(room, channel: str) -> list[dict]:
    return [m for m in room.heard_posts(channel) if "Decision log for" in texts(m)]


def nudge_posts(room, channel: str) -> list[dict]:
    return [m for m in room.heard_posts(channel) if "has not logged a decision" in texts(m)]


def log_decision(room, user: str, department: str, channel: str) -> None:
    answer = room.submit(room.open_modal(user=user, channel=channel), user=user, department=department)
    assert answer["response_action"] == "update", answer


# -- prompts -----------------------------------------------------------------------------------------


def test_each_department_is_prompted_in_its_channel_with_a_button(room):
    outcome = room.run("decision-prompts")
    assert outcome.status == "succeeded" and "2 department(s) prompted" in outcome.detail
    [support] = prompt_posts(room, GENERAL)
    [product] = prompt_posts(room, LEADERS)
    assert "Support" in texts(support) and "Product" in texts(product)
    button = support["blocks"][1]["elements"][0]
    assert (button["action_id"], button["value"]) == ("decision_log", SUPPORT)
    assert pings(texts(support)) == []
    assert sorted(room.prompts()) == [(PRODUCT, "2026-W48"), (SUPPORT, "2026-W48")]


def test_retries_and_manual_runs_in_the_period_prompt_nobody_twice(room):
    room.run("decision-prompts")
    for moment, trigger in ((TUESDAY, "schedule"), (TUESDAY + timedelta(hours=1), "manual"),
                            (TUESDAY + timedelta(days=4), "manual")):  # fmt: skip
        room.at(moment)
        assert room.run("decision-prompts", trigger=trigger).status == "skipped"
    assert len(prompt_posts(room, GENERAL)) == 1 and len(prompt_posts(room, LEADERS)) == 1


def test_a_run_taken_over_after_a_failure_does_not_prompt_again(room):
    room.run("decision-prompts")
    with room.runtime.sessions.begin() as session:  # as if the run had crashed after its posts were queued
        session.execute(update(JobRun).where(JobRun.job == "decision-prompts").values(status=RunStatus.FAILED))
    outcome = room.run("decision-prompts", trigger="manual")
    assert outcome.status == "succeeded" and "0 department(s) prompted, 2 already prompted" in outcome.detail
    assert len(prompt_posts(room, GENERAL)) == 1 and len(prompt_posts(room, LEADERS)) == 1


def test_two_concurrent_job_runs_prompt_each_department_once(room):
    second = Runtime.from_settings(room.runtime.settings, clock=lambda: TUESDAY)  # another process
    start = threading.Barrier(2)
    outcomes = []

    def run(runtime):
        start.wait()
        from bot.features import load_rooms
        from bot.scheduler.runner import run_job

        outcomes.append(run_job(runtime, load_rooms().registry, "decision-prompts", ACME, trigger="manual"))

    threads = [threading.Thread(target=run, args=(runtime,)) for runtime in (room.runtime, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    second.engine.dispose()
    room.run("decision-prompts")  # delivers what was queued
    assert sorted(o.status for o in outcomes) == ["skipped", "succeeded"]
    assert len(prompt_posts(room, GENERAL)) == 1 and len(prompt_posts(room, LEADERS)) == 1


def test_two_concurrent_prompt_rounds_past_the_ledger_still_prompt_once(room):
    """The ledger is not the only guard: two transactions that both get past it (a stale
    claim taken over while the first still runs) insert one prompt row per department."""
    runtimes = [room.runtime, Runtime.from_settings(room.runtime.settings, clock=lambda: TUESDAY)]
    start = threading.Barrier(2)
    reports, errors = [], []

    def prompt(runtime):
        try:
            with runtime.sessions.begin() as session:
                workspace = session.get(Workspace, room.workspace_id)
                start.wait()
                reports.append(service.send_prompts(session, workspace, "2026-W48", command="/heard", now=TUESDAY))
        except Exception as exc:  # noqa: BLE001 - a thread's failure is shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=prompt, args=(runtime,)) for runtime in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    runtimes[1].engine.dispose()
    assert errors == []
    # Whichever transaction inserts a department's row prompts it; the other skips it.
    assert sorted(name for r in reports for name in r.prompted) == [PRODUCT, SUPPORT]
    assert sorted(name for r in reports for name in r.already) == [PRODUCT, SUPPORT]
    assert len(room.prompts()) == 2
    assert len(room.outbox("decision-prompt:")) == 2


def test_a_new_period_prompts_again(room):
    room.run("decision-prompts")
    room.at(NEXT_TUESDAY)
    room.run("decision-prompts")
    assert len(prompt_posts(room, GENERAL)) == 2
    assert sorted(room.prompts()) == [(PRODUCT, "2026-W48"), (PRODUCT, "2026-W49"),
                                      (SUPPORT, "2026-W48"), (SUPPORT, "2026-W49")]  # fmt: skip


def test_a_paused_workspace_gets_no_prompts_or_nudges(room):
    with room.runtime.sessions.begin() as session:
        set_paused(session, room.workspace_id, True, by=MAYA, now=TUESDAY)
    assert room.run("decision-prompts").status == "skipped"
    room.at(THURSDAY)
    assert room.run("decision-nudges").status == "skipped"
    assert room.heard_posts(GENERAL) == [] and room.heard_posts(LEADERS) == [] and room.prompts() == []


# -- nudges ------------------------------------------------------------------------------------------


def test_only_a_department_silent_since_its_prompt_is_nudged_once(room):
    room.run("decision-prompts")
    room.at(TUESDAY + timedelta(days=1))
    log_decision(room, PRIYA, SUPPORT, GENERAL)
    room.at(THURSDAY)
    outcome = room.run("decision-nudges")
    assert "1 silent department(s) nudged" in outcome.detail
    assert nudge_posts(room, GENERAL) == []
    [nudge] = nudge_posts(room, LEADERS)
    assert "Product" in texts(nudge) and nudge["blocks"][1]["elements"][0]["value"] == PRODUCT
    assert pings(texts(nudge)) == []
    room.at(THURSDAY + timedelta(hours=3))
    assert room.run("decision-nudges", trigger="manual").status == "skipped"
    with room.runtime.sessions.begin() as session:
        session.execute(update(JobRun).where(JobRun.job == "decision-nudges").values(status=RunStatus.FAILED))
    assert "1 already nudged" in room.run("decision-nudges", trigger="manual").detail
    assert len(nudge_posts(room, LEADERS)) == 1
    assert room.nudges() == [(PRODUCT, "2026-W48", "channel")]


def test_two_concurrent_nudge_rounds_nudge_each_silent_department_once(room):
    room.run("decision-prompts")
    runtimes = [room.runtime, Runtime.from_settings(room.runtime.settings, clock=lambda: THURSDAY)]
    start = threading.Barrier(2)
    reports, errors = [], []

    def nudge(runtime):
        try:
            with runtime.sessions.begin() as session:
                workspace = session.get(Workspace, room.workspace_id)
                start.wait()
                reports.append(service.send_nudges(session, workspace, "2026-W48", command="/heard", now=THURSDAY,
                                                   members=lambda group: None))  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - a thread's failure is shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=nudge, args=(runtime,)) for runtime in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    runtimes[1].engine.dispose()
    assert errors == []
    assert sorted(name for r in reports for name in r.in_channel) == [PRODUCT, SUPPORT]
    assert sorted(name for r in reports for name in r.already) == [PRODUCT, SUPPORT]
    assert len(room.nudges()) == 2 and len(room.outbox("decision-nudge:")) == 2


def test_a_decision_before_the_prompt_does_not_count(room):
    room.at(TUESDAY - timedelta(days=1))
    log_decision(room, PRIYA, SUPPORT, GENERAL)
    room.at(TUESDAY)
    room.run("decision-prompts")
    room.at(THURSDAY)
    room.run("decision-nudges")
    assert len(nudge_posts(room, GENERAL)) == 1 and len(nudge_posts(room, LEADERS)) == 1


def test_no_prompt_this_period_means_no_nudge(room):
    room.run("decision-prompts")
    room.at(NEXT_TUESDAY + timedelta(days=2))  # the next week, its prompt turned off
    outcome = room.run("decision-nudges")
    assert "0 silent department(s) nudged" in outcome.detail and room.nudges() == []


def test_a_department_removed_after_its_prompt_is_not_nudged(room):
    room.run("decision-prompts")
    with room.runtime.sessions.begin() as session:
        remove_department(session, room.workspace_id, PRODUCT, by=MAYA, now=TUESDAY)
    room.at(THURSDAY)
    room.run("decision-nudges")
    assert nudge_posts(room, LEADERS) == [] and len(nudge_posts(room, GENERAL)) == 1


def test_dm_nudges_go_to_the_user_groups_members_and_only_once(room):
    reply = room.command("decision-nudges dm", user=MAYA)
    assert "by DM to their user group's members" in reply["text"]
    room.run("decision-prompts")
    room.at(THURSDAY)
    outcome = room.run("decision-nudges")
    assert "2 silent department(s) nudged, 2 DM(s)" in outcome.detail
    for member in (PRIYA, SAM):
        [dm] = room.dms(member)
        assert "You are in Support" in texts(dm) and pings(texts(dm)) == []
    assert room.dms(TOMAS) == [] and nudge_posts(room, GENERAL) == []
    assert len(nudge_posts(room, LEADERS)) == 1  # Product has no user group: its channel
    room.at(THURSDAY + timedelta(hours=1))
    room.run("decision-nudges", trigger="manual")
    assert len(room.dms(PRIYA)) == 1
    assert sorted(room.nudges()) == [(PRODUCT, "2026-W48", "channel"), (SUPPORT, "2026-W48", "dm")]


def test_the_nudge_setting_is_for_admins_and_checks_its_word(room):
    assert "Only Heard admins" in room.command("decision-nudges dm", user=SAM)["text"]
    assert "is not `channel` or `dm`" in room.command("decision-nudges email", user=MAYA)["text"]
    assert "nudged in their channel now" in room.command("decision-nudges", user=MAYA)["text"]
    room.command("decision-nudges dm", user=MAYA)
    assert "nudged by DM" in texts(room.command("config", user=MAYA))
