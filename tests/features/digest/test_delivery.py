"""The leadership-digest job against the fake Slack: each leader's DM and the digest
channel once per period (retries, re-runs, a failed run retried, two concurrent runs),
the chart uploaded with files.getUploadURLExternal + files.completeUploadExternal, a
leader who left skipped with the admins told once, the empty week; the digest's buttons;
`/heard digest now`; `heard digest preview`."""

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bot.cli import app
from bot.db.models import JobRun, OutboxMessage, Workspace
from bot.features import load_rooms
from bot.features.digest import delivery, views
from bot.features.digest.models import DigestAssignment, DigestDelivery
from bot.features.feedback.models import FeedbackItem
from bot.runtime import Runtime
from bot.sandbox.fake_slack import UPLOAD_METHOD
from bot.scheduler.runner import run_job
from bot.settings import ConfigError
from bot.slack.outbox import deliver_due
from bot.workspace_settings import DIGEST_CHANNEL, change_setting
from tests.features.digest.seed import END, said
from tests.features.feedback.helpers import pings, texts
from tests.people import ACME, FEEDBACK, FORMER, GENERAL, HEARD, JONAS, LEADERS, MAYA, PRIYA, SAM

D, H = timedelta(days=1), timedelta(hours=1)
NEXT_WEEK = END + 7 * D


class Room:
    def __init__(self, heard, slack, workspace_id):
        self.heard, self.slack, self.workspace_id = heard, slack, workspace_id

    @property
    def runtime(self):
        return self.heard.runtime

    def at(self, moment):
        self.runtime.clock = lambda: moment

    def run(self, trigger="schedule", runtime=None):
        outcome = run_job(runtime or self.runtime, load_rooms().registry, "leadership-digest", ACME, trigger=trigger)
        self.deliver()
        return outcome

    def deliver(self):
        """Send what is queued, the clock moving on a few seconds at a time as the
        outbox's pacing and Slack's Retry-After ask."""
        for _ in range(30):
            deliver_due(self.runtime)
            with self.runtime.sessions() as session:
                if not session.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "pending").limit(1)):
                    return
            self.at(self.runtime.clock() + timedelta(seconds=2))

    def digests(self, conversation):
        return [m for m in self.slack.messages(conversation)
                if m.get("user") == HEARD and "Leadership digest" in texts(m)]  # fmt: skip

    def seed(self, *items):
        with self.runtime.sessions.begin() as session:
            made = [said(session, self.workspace_id, text, at, channel=FEEDBACK, ts=f"17950000{n:02d}.000100")
                    for n, (text, at) in enumerate(items)]  # fmt: skip
            return [item.id for item in made]

    def interact(self, payload):
        response = self.heard.sender.interaction(payload)
        assert response.status == 200, response.text
        self.heard.listeners.drain()
        return response

    def press(self, action_id, value, *, user, channel):
        payload = self.heard.sender.block_actions_payload(
            team_id=ACME, user_id=user, channel_id=channel, message={"ts": "1795999999.000100", "text": "digest"},
            action={"action_id": action_id, "block_id": f"digest_item_{value}", "type": "button", "value": str(value)},
        )  # fmt: skip
        self.interact(payload)
        return self.slack.responses(payload["response_url"])

    def rows(self, model):
        with self.runtime.sessions() as session:
            return list(session.scalars(select(model)))


@pytest.fixture
def room(workspace, heard_server, fake_slack):
    built = workspace(admins=[PRIYA], leaders=[MAYA, JONAS, FORMER], feedback_channels=[FEEDBACK],
                      departments={"Support": GENERAL})  # fmt: skip
    heard = heard_server()
    with heard.runtime.sessions.begin() as session:
        change_setting(session, built.id, DIGEST_CHANNEL, LEADERS, by=PRIYA, now=END, action="channel digest")
    room = Room(heard, fake_slack, built.id)
    room.at(END)
    limiter = getattr(heard.runtime, "limiter", None)
    if limiter is not None:  # the outbox paces calls: on the test's clock, not the wall's
        heard.runtime.limiter = type(limiter)(clock=lambda: heard.runtime.clock().timestamp(), sleep=lambda _: None)
    return room


def feedback_week(room):
    return room.seed(
        ("Invoice PDF export is missing the totals", END - 5 * D),
        ("Invoice PDF export missing totals again", END - 4 * D),
        ("The mobile app crashes at login", END - 6 * D),
    )


def test_each_leader_and_the_digest_channel_get_the_digest_once_with_its_chart(room):
    feedback_week(room)
    outcome = room.run()
    assert outcome.status == "succeeded", outcome.detail
    assert outcome.detail == "digest queued for 3 recipient(s); 1 leader(s) who left skipped"
    for conversation in (MAYA, JONAS, LEADERS):
        [digest] = room.digests(conversation)
        shown = texts(digest)
        assert "Ignored backlog: 3" in shown and "Invoice PDF export" in shown
        assert pings(shown) == []
    assert room.digests(FORMER) == []
    # The chart: uploaded (URL, bytes), then shared in each DM and the channel; never files.upload.
    assert len(room.slack.calls_to("files.getUploadURLExternal", ok=True)) == 3
    assert len(room.slack.calls_to(UPLOAD_METHOD, ok=True)) == 3
    completed = room.slack.calls_to("files.completeUploadExternal", ok=True)
    assert len(completed) == 3 and room.slack.calls_to("files.upload") == []
    for conversation in (MAYA, JONAS, LEADERS):  # the digest, then its chart
        digest, chart = [m for m in room.slack.messages(conversation) if m.get("user") == HEARD]
        assert "Leadership digest" in texts(digest) and chart["files"][0]["title"].startswith("Customer feedback")
    files = room.slack.files()
    assert len(files) == 3 and all(f["content"].startswith(b"\x89PNG\r\n\x1a\n") for f in files)
    assert sorted(len(f["ims"]) for f in files) == [0, 1, 1] and sum(LEADERS in f["groups"] for f in files) == 1
    assert {r.recipient for r in room.rows(DigestDelivery)} == {MAYA, JONAS, LEADERS}


def test_retries_reruns_a_failed_run_and_two_concurrent_runs_send_each_digest_once(room):
    feedback_week(room)
    room.slack.inject_fault("chat.postMessage", status=429, retry_after=1, times=2)
    room.run()  # delivers, retrying after Slack's Retry-After
    assert room.run(trigger="manual").detail == "already ran for 2026-W48"
    with room.runtime.sessions.begin() as session:  # as if the run had failed after queueing
        session.execute(update(JobRun).values(status="failed"))
    assert room.run(trigger="manual").detail == (
        "digest queued for 0 recipient(s); 3 already had this period's; 1 leader(s) who left skipped")
    for conversation in (MAYA, JONAS, LEADERS):
        assert len(room.digests(conversation)) == 1

    room.at(NEXT_WEEK)
    second = Runtime.from_settings(room.runtime.settings, clock=lambda: NEXT_WEEK)  # another process
    start, outcomes = threading.Barrier(2), []

    def run(runtime):
        start.wait()
        outcomes.append(run_job(runtime, load_rooms().registry, "leadership-digest", ACME, trigger="manual"))

    threads = [threading.Thread(target=run, args=(r,)) for r in (room.runtime, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    second.engine.dispose()
    room.deliver()
    assert sorted(o.status for o in outcomes) == ["skipped", "succeeded"]
    for conversation in (MAYA, JONAS, LEADERS):
        assert len(room.digests(conversation)) == 2  # one a week
    keys = [m.idempotency_key for m in room.rows(OutboxMessage) if m.idempotency_key.startswith(("digest:", "digest-chart:"))]
    assert len(keys) == len(set(keys)) == 12  # a digest and a chart per recipient and week
    assert len(room.slack.calls_to("files.completeUploadExternal", ok=True)) == 6


def test_a_leader_who_left_is_skipped_and_the_admins_are_told_once(room):
    room.run()
    room.at(NEXT_WEEK)
    room.run()
    told = [m for m in room.slack.messages(PRIYA) if "no longer in this workspace" in texts(m)]
    assert len(told) == 1 and f"<@{FORMER}>" in texts(told[0])
    assert room.digests(FORMER) == [] and len(room.digests(MAYA)) == 2


def test_an_empty_week_gets_the_short_everything_was_acknowledged_digest(room):
    [item] = room.seed(("Scanner beeps too loud", END - 5 * D))
    with room.runtime.sessions.begin() as session:
        session.execute(update(FeedbackItem).where(FeedbackItem.id == item)
                        .values(status="acknowledged", acknowledged_at=END - 4 * D, acknowledged_by=PRIYA))  # fmt: skip
    room.run()
    [digest] = room.digests(MAYA)
    assert views.EVERYTHING_ACKNOWLEDGED in texts(digest) and "Themes of ignored feedback" not in texts(digest)
    assert "Received: 1" in texts(digest) and "Acknowledged: 1" in texts(digest)


def test_acknowledge_on_a_digest_counts_and_closes_the_loop(room):
    [item, *_] = feedback_week(room)
    room.run()
    [digest] = room.digests(JONAS)
    buttons = [e for b in digest["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {views.ACKNOWLEDGE_ACTION, views.RESOLVE_ACTION, views.ASSIGN_ACTION,
                                                 views.OPEN_ACTION}  # fmt: skip
    opener = next(b for b in buttons if b["action_id"] == views.OPEN_ACTION)
    assert opener["url"].startswith("https://acme-robotics.slack.com/archives/C0FEEDBACK/p")
    answers = room.press(views.ACKNOWLEDGE_ACTION, item, user=JONAS, channel=JONAS)
    assert answers[-1]["text"].startswith("Acknowledged.")
    with room.runtime.sessions() as session:
        stored = session.get(FeedbackItem, item)
        assert (stored.status, stored.acknowledged_by) == ("acknowledged", JONAS)
    assert any("acknowledged the customer feedback you shared" in texts(m) for m in room.slack.messages(SAM))
    again = room.press(views.ACKNOWLEDGE_ACTION, item, user=JONAS, channel=JONAS)
    assert again[-1]["text"] == "You had already acknowledged it."
    unknown = room.press(views.ACKNOWLEDGE_ACTION, "999999", user=JONAS, channel=JONAS)
    assert "does not exist" in unknown[-1]["text"]


def test_resolve_on_a_digest_closes_the_item_for_anyone_and_tells_the_reporter_once(room):
    [item, *_] = feedback_week(room)
    room.run()
    before = len(room.slack.opened_views())
    # Anyone may resolve, as with the card's own Resolve: Jonas is a leader, not an admin.
    room.press(views.RESOLVE_ACTION, item, user=JONAS, channel=JONAS)
    [modal] = room.slack.opened_views()[before:]
    assert modal["callback_id"] == views.RESOLVE_MODAL and "Invoice PDF export" in texts(modal)
    values = {views.RESOLUTION_INPUT: {views.RESOLUTION_INPUT: {"type": "plain_text_input",
                                                                "value": "Totals are back in 4.2"}}}  # fmt: skip
    answer = room.interact(room.heard.sender.view_submission_payload(team_id=ACME, user_id=JONAS, view=modal,
                                                                     values=values)).json()  # fmt: skip
    assert answer["response_action"] == "update" and "Resolved." in json.dumps(answer["view"])
    with room.runtime.sessions() as session:
        stored = session.get(FeedbackItem, int(item))
        assert (stored.status, stored.resolved_by, stored.resolution_note) == ("resolved", JONAS,
                                                                             "Totals are back in 4.2")  # fmt: skip
        assert stored.acknowledged_by == JONAS
    again = room.interact(room.heard.sender.view_submission_payload(team_id=ACME, user_id=MAYA, view=modal,
                                                                    values=values)).json()  # fmt: skip
    assert again["response_action"] == "errors" and "already resolved" in json.dumps(again["errors"])
    room.deliver()
    assert len([m for m in room.slack.messages(SAM) if "resolved" in texts(m)]) == 1
    pressed_again = room.press(views.RESOLVE_ACTION, item, user=MAYA, channel=MAYA)
    assert pressed_again[-1]["text"] == "That feedback was already resolved."

    # A forged button value and a forged modal: nothing opens, nothing is resolved.
    other = next(row for row in room.rows(FeedbackItem) if row.id != int(item))
    opened = len(room.slack.opened_views())
    forged_press = room.press(views.RESOLVE_ACTION, "99999999999999999999", user=SAM, channel=SAM)
    assert "does not exist" in forged_press[-1]["text"] and len(room.slack.opened_views()) == opened
    forged = {**modal, "private_metadata": json.dumps({"item": str(other.id)})}
    refused = room.interact(room.heard.sender.view_submission_payload(team_id=ACME, user_id=SAM, view=forged,
                                                                      values=values)).json()  # fmt: skip
    assert refused["response_action"] == "errors"
    with room.runtime.sessions() as session:
        assert session.get(FeedbackItem, other.id).resolved_at is None


def test_assign_to_department_records_who_and_where_and_posts_in_its_channel(room):
    [item, *_] = feedback_week(room)
    before = len(room.slack.opened_views())
    room.press(views.ASSIGN_ACTION, item, user=MAYA, channel=LEADERS)
    [modal] = room.slack.opened_views()[before:]
    assert modal["callback_id"] == views.ASSIGN_MODAL
    values = {views.DEPARTMENT_INPUT: {views.DEPARTMENT_INPUT: {"type": "static_select",
                                                                "selected_option": {"value": "Support"}}}}
    for _ in range(2):  # submitted twice: one assignment, one post
        answer = room.interact(room.heard.sender.view_submission_payload(team_id=ACME, user_id=MAYA, view=modal,
                                                                         values=values)).json()  # fmt: skip
    assert answer["response_action"] == "update"
    [row] = room.rows(DigestAssignment)
    assert (row.feedback_id, row.department, row.assigned_by, row.channel_id) == (item, "Support", MAYA, LEADERS)
    room.deliver()
    posted = [m for m in room.slack.messages(GENERAL) if "asked *Support* to look at" in texts(m)]
    assert len(posted) == 1 and "Invoice PDF export" in texts(posted[0])
    assert [e["action_id"] for b in posted[0]["blocks"] if b["type"] == "actions" for e in b["elements"]][:2] == [
        views.ACKNOWLEDGE_ACTION, views.RESOLVE_ACTION]  # fmt: skip

    forged = {**modal, "private_metadata": json.dumps({"item": str(item), "where": GENERAL})}
    with room.runtime.sessions() as session:
        [exported] = list(delivery.ASSIGNMENTS_EXPORT.rows(session, {room.workspace_id: ACME}))
    assert exported[:4] == (item, ACME, "Support", MAYA) and exported[5] == LEADERS
    refused = room.interact(room.heard.sender.view_submission_payload(team_id=ACME, user_id=SAM, view=forged,
                                                                      values=values)).json()  # fmt: skip
    assert refused["response_action"] == "errors" and len(room.rows(DigestAssignment)) == 1


def test_digest_now_previews_to_the_caller_only(room):
    feedback_week(room)
    url = room.slack.response_url(ACME)
    response = room.heard.sender.command("digest now", team_id=ACME, user_id=PRIYA, channel_id=GENERAL,
                                         response_url=url)  # fmt: skip
    room.heard.listeners.drain()
    reply = room.slack.slash_reply(response, url)
    assert reply["response_type"] == "ephemeral" and "Preview, only you can see this" in texts(reply)
    assert "Invoice PDF export" in texts(reply)
    assert not [b for b in reply["blocks"] if b["type"] == "actions"]
    assert room.rows(OutboxMessage) == [] and room.rows(DigestDelivery) == []
    assert room.digests(MAYA) == []


def run_preview(db_url, tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return CliRunner().invoke(app, ["digest", "preview", *args])


def test_heard_digest_preview_in_json_text_and_html(room, db_url, tmp_path, monkeypatch):
    feedback_week(room)
    result = run_preview(db_url, tmp_path, monkeypatch, "--team", ACME, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert list(document)[:9] == ["team_id", "period", "counts", "themes", "ignored", "departments", "stories",
                                  "engine", "fallback_reason"]  # fmt: skip
    assert document["team_id"] == ACME and document["counts"]["ignored"] == 3
    assert {"label", "summary", "count", "item_ids", "quotes", "related_decisions", "weekly", "rising"} <= set(
        document["themes"][0])
    text = run_preview(db_url, tmp_path, monkeypatch)  # the only workspace, as text
    assert text.exit_code == 0 and "Leadership digest · Acme Robotics" in text.output
    out = tmp_path / "digest.html"
    html = run_preview(db_url, tmp_path, monkeypatch, "--format", "html", "--out", str(out))
    assert html.exit_code == 0 and str(out) in html.output.replace("\n", "")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    unknown = run_preview(db_url, tmp_path, monkeypatch, "--team", "T0NOPE")
    assert isinstance(unknown.exception, ConfigError)
    with room.runtime.sessions() as session:
        assert session.scalar(select(Workspace.team_id)) == ACME
    assert room.rows(OutboxMessage) == []


def test_the_preview_builds_with_the_cycle_collector_off_and_turns_it_back_on(room, db_url, tmp_path, monkeypatch):
    # A one-shot command: no full collections over 100,000 new objects (benchmarks/digest.py),
    # and the collector back on afterwards, also when the command fails.
    import gc

    from bot.features.digest import service

    feedback_week(room)
    real_build, seen = service.build_digest, []

    def build(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_build(*args, **kwargs)

    monkeypatch.setattr(service, "build_digest", build)
    assert run_preview(db_url, tmp_path, monkeypatch, "--format", "json").exit_code == 0
    assert seen == [False] and gc.isenabled()
    unknown = run_preview(db_url, tmp_path, monkeypatch, "--team", "T0NOPE")
    assert isinstance(unknown.exception, ConfigError) and gc.isenabled()
