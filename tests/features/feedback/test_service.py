"""The feedback rules on their own: a session, a frozen clock, no Slack."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db.models import OutboxMessage, Workspace
from bot.features.feedback import service
from bot.features.feedback.models import Acknowledgement, FeedbackItem
from bot.features.feedback.service import Said
from tests.people import ACME, FEEDBACK, GENERAL, GLOBEX, HEARD, JONAS, PRIYA, SAM

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def workspace(session, make_workspace):
    made = make_workspace(ACME, bot_user_id=HEARD, domain="acme")
    return session.get(Workspace, made.id)


def said(text="Customer wants SSO", *, ts="1795600000.000100", hours_ago=1, **fields) -> Said:
    values = {"text": text, "said_at": NOW - timedelta(hours=hours_ago), "source": "channel",
                  "reporter_user_id": SAM, "channel_id": FEEDBACK, "message_ts": ts}  # fmt: skip
    return Said(**values | fields)


def new_item(session, workspace, **fields) -> FeedbackItem:
    item = service.capture(session, workspace, said(**fields), now=NOW).item
    session.flush()
    return item


def keys(session) -> list[str]:
    return list(session.scalars(select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id)))


def test_capture_is_once_per_message(session, workspace):
    first = service.capture(session, workspace, said(), now=NOW)
    again = service.capture(session, workspace, said(text="edited?"), now=NOW)
    assert (first.created, again.created, again.item.id) == (True, False, first.item.id)
    assert session.scalar(select(FeedbackItem.text)) == "Customer wants SSO"


def test_capture_refuses_empty_text(session, workspace):
    for text in ("", "   ", "\x00\x00"):
        with pytest.raises(service.EmptyFeedback):
            service.capture(session, workspace, said(text=text), now=NOW)


def test_capture_keeps_long_fields_within_their_columns_and_drops_nul(session, workspace):
    item = new_item(session, workspace, text="a\x00b" + "c" * 100_000, customer="C" * 1000, origin="o" * 500,
                    reporter_name="n" * 300)  # fmt: skip
    assert item.text.startswith("abc") and len(item.text) == 100_002
    assert (len(item.customer), len(item.origin), len(item.reporter_name)) == (255, 64, 255)


def test_feedback_said_in_the_future_is_said_now(session, workspace):
    assert new_item(session, workspace, hours_ago=-5).said_at == NOW


def test_an_item_older_than_ignore_after_is_ignored_from_the_start(session, workspace):
    item = new_item(session, workspace, hours_ago=80)
    assert (item.status, item.ignored_at) == ("ignored", NOW)


def test_acknowledgement_rules(session, workspace):
    item = new_item(session, workspace)
    assert service.acknowledge(session, workspace, item, kind="reaction", user_id=SAM, ref="eyes", now=NOW).reason.startswith("the reporter")
    assert service.acknowledge(session, workspace, item, kind="reply", user_id=HEARD, ref="1.1", now=NOW).reason == "Heard's own action"
    assert item.status == "open"
    first = service.acknowledge(session, workspace, item, kind="decision", user_id=JONAS, ref="42", now=NOW)
    assert (first.counted, first.newly_acknowledged, item.status, item.acknowledged_by) == (True, True, "acknowledged", JONAS)
    again = service.acknowledge(session, workspace, item, kind="decision", user_id=JONAS, ref="42", now=NOW)
    assert (again.counted, again.reason) == (False, "already recorded")
    assert keys(session) == [f"loop:T0ACME001:{item.id}:acknowledged"]


def test_acknowledged_at_and_by_follow_the_earliest_standing_acknowledgement(session, workspace):
    item = new_item(session, workspace)
    service.acknowledge(session, workspace, item, kind="reaction", user_id=JONAS, ref="eyes", now=NOW)
    service.acknowledge(session, workspace, item, kind="reply", user_id=PRIYA, ref="2.2", now=NOW + timedelta(hours=1))
    assert (item.acknowledged_by, item.acknowledged_at) == (JONAS, NOW)
    service.withdraw_acknowledgement(session, workspace, item, kind="reaction", user_id=JONAS, ref="eyes", now=NOW)
    assert (item.acknowledged_by, item.acknowledged_at) == (PRIYA, NOW + timedelta(hours=1))
    service.withdraw_acknowledgement(session, workspace, item, kind="reply", user_id=PRIYA, ref="2.2", now=NOW)
    assert (item.status, item.acknowledged_by, item.acknowledged_at) == ("open", None, None)


def test_unacknowledged_past_the_threshold_goes_back_to_ignored(session, workspace):
    item = new_item(session, workspace, hours_ago=10)
    service.acknowledge(session, workspace, item, kind="reaction", user_id=JONAS, ref="eyes", now=NOW)
    later = NOW + timedelta(hours=100)
    service.withdraw_acknowledgement(session, workspace, item, kind="reaction", user_id=JONAS, ref="eyes", now=later)
    assert (item.status, item.ignored_at) == ("ignored", later)


def test_resolving_acknowledges_and_tells_the_reporter_once(session, workspace):
    item = new_item(session, workspace)
    service.resolve(session, workspace, item, user_id=JONAS, note="  Fixed in 4.3 ", now=NOW)
    assert (item.status, item.resolved_by, item.resolution_note, item.acknowledged_by) == ("resolved", JONAS, "Fixed in 4.3", JONAS)
    with pytest.raises(service.AlreadyResolved):
        service.resolve(session, workspace, item, user_id=PRIYA, note=None, now=NOW)
    service.acknowledge(session, workspace, item, kind="reaction", user_id=PRIYA, ref="eyes", now=NOW)
    assert item.status == "resolved"
    assert keys(session) == [f"loop:T0ACME001:{item.id}:resolved"]


def test_the_close_the_loop_dm_names_who_acted_and_escapes_the_text(session, workspace):
    item = new_item(session, workspace, text="They said <!channel> & <@U0MAYA0001> is slow")
    service.acknowledge(session, workspace, item, kind="reply", user_id=PRIYA, ref="3.3", now=NOW)
    payload = session.scalar(select(OutboxMessage.payload))
    shown = payload["text"] + str(payload["blocks"])
    assert payload["channel"] == SAM and "<@U0PRIYA003>" in shown
    assert "<!channel>" not in shown and "<@U0MAYA0001>" not in shown and "&lt;!channel&gt;" in shown
    assert "https://acme.slack.com/archives/C0FEEDBACK/p1795600000000100" in shown


def test_no_dm_without_a_slack_reporter(session, workspace):
    item = new_item(session, workspace, reporter_user_id=None, reporter_name="Zendesk export", source="import",
                    channel_id=None, message_ts=None, import_key="k1")  # fmt: skip
    service.acknowledge(session, workspace, item, kind="button", user_id=JONAS, ref="acknowledge", now=NOW)
    assert item.status == "acknowledged" and keys(session) == []


def test_apply_ignore_rule_both_ways(session, workspace):
    old = new_item(session, workspace, ts="1.000001", hours_ago=100)
    young = new_item(session, workspace, ts="1.000002", hours_ago=10)
    acked = new_item(session, workspace, ts="1.000003", hours_ago=100)
    service.acknowledge(session, workspace, acked, kind="reaction", user_id=JONAS, ref="eyes", now=NOW)
    session.flush()
    assert service.apply_ignore_rule(session, workspace.id, timedelta(hours=5), now=NOW) == (1, 0)
    assert [session.get(FeedbackItem, i.id).status for i in (old, young, acked)] == ["ignored", "ignored", "acknowledged"]
    assert service.apply_ignore_rule(session, workspace.id, timedelta(days=30), now=NOW) == (0, 2)


def test_sweep_reminds_each_item_once_and_only_where_it_has_a_thread(session, workspace):
    from bot.features.feedback.config import FEEDBACK_CHANNELS
    from bot.workspace_settings import change_setting

    change_setting(session, workspace.id, FEEDBACK_CHANNELS, [FEEDBACK], by=None, now=NOW, action="t")
    channel = new_item(session, workspace, ts="1.000001", hours_ago=100)
    new_item(session, workspace, source="import", channel_id=None, message_ts=None, import_key="k", hours_ago=100)
    elsewhere = new_item(session, workspace, ts="1.000003", channel_id=GENERAL, source="shortcut", hours_ago=100)
    first = service.sweep(session, workspace, now=NOW)
    second = service.sweep(session, workspace, now=NOW + timedelta(hours=1))
    assert (first.reminded, second.reminded) == ([channel.id], [])
    assert elsewhere.status == "ignored"
    assert keys(session) == [f"remind:T0ACME001:{channel.id}"]


def test_a_deleted_message_takes_its_acknowledgements(session, workspace):
    item = new_item(session, workspace)
    service.acknowledge(session, workspace, item, kind="reaction", user_id=JONAS, ref="eyes", now=NOW)
    assert service.forget_message(session, workspace.id, FEEDBACK, item.message_ts)
    assert session.scalar(select(Acknowledgement)) is None and session.scalar(select(FeedbackItem)) is None


def test_items_of_another_workspace_are_not_found(session, workspace, make_workspace):
    other = session.get(Workspace, make_workspace(GLOBEX).id)
    theirs = new_item(session, other)
    with pytest.raises(service.UnknownItem):
        service.find_item(session, workspace.id, theirs.id)
    assert service.item_at(session, workspace.id, FEEDBACK, theirs.message_ts) is None


@pytest.mark.parametrize("forged", ["9" * 40, str(2**63), "-1", "0", "1e3", " 7", None])
def test_a_forged_item_id_is_unknown_not_an_error(session, workspace, forged):
    with pytest.raises(service.UnknownItem):  # not OverflowError from SQLite for 40 digits
        service.find_item(session, workspace.id, forged)


def test_my_feedback_counts_and_lists_newest_first(session, workspace):
    for n in range(12):
        new_item(session, workspace, ts=f"1.{n:06d}", hours_ago=12 - n, text=f"item {n}")
    new_item(session, workspace, ts="2.000001", reporter_user_id=PRIYA, text="Priya's")
    mine = service.feedback_of(session, workspace.id, SAM)
    assert mine.total == 12 and mine.counts["open"] == 12 and len(mine.items) == 10
    assert mine.items[0].text == "item 11"


def test_lone_surrogates_from_a_json_payload_are_stored_safely(session, workspace):
    item = new_item(session, workspace, text="broken \ud800 emoji", customer="\udfff Acme")
    session.commit()
    session.expire_all()
    assert session.get(FeedbackItem, item.id).text == "broken ? emoji"
