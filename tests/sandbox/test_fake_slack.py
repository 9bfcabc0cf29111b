"""The fake Slack answers the real slack_sdk WebClient the way Slack would, refusals included."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.sandbox import extract_slack_methods
from bot.sandbox.fake_slack import METHODS_FILE, RESPONSE_URL_METHOD, UPLOAD_METHOD, FakeSlack
from bot.sandbox.workspace import SeedWorkspace
from tests import people
from tests.people import (
    ACME,
    ARCHIVED,
    FEEDBACK,
    GLOBEX,
    HANK,
    HEARD,
    HEARD_BOT_ID,
    LEADERS,
    MAYA,
    PRIYA,
    PRODUCT,
    SAM,
)

SHARED_SPECS = Path(__file__).parents[2].parent / "shared" / "slack-specs"


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def section(text: str, **extra) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def slack_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return excinfo.value.response["error"]


# -- method checking -------------------------------------------------------------------------


def test_unknown_method_is_refused_with_404(fake_slack, slack_client):
    with pytest.raises(SlackApiError) as excinfo:
        slack_client.api_call("chat.shout", json={"channel": FEEDBACK, "text": "hi"})

    assert excinfo.value.response.status_code == 404
    assert slack_error(excinfo) == "unknown_method"
    assert fake_slack.calls_to("chat.shout") == []  # it never reached an implementation
    assert fake_slack.calls[-1].method == "chat.shout"


def test_known_method_the_fake_lacks_fails_loudly(fake_slack, slack_client):
    with pytest.raises(SlackApiError) as excinfo:
        slack_client.pins_list(channel=FEEDBACK)

    assert slack_error(excinfo) == "not_implemented_in_fake"
    assert fake_slack.calls_to("pins.list", ok=False)


@pytest.mark.parametrize(
    ("method", "args", "missing"),
    [
        ("chat.postMessage", {"text": "hi"}, "channel"),
        ("chat.postEphemeral", {"channel": FEEDBACK, "text": "hi"}, "user"),
        ("reactions.add", {"channel": FEEDBACK, "timestamp": "1.000001"}, "name"),
        ("views.publish", {"view": {"type": "home", "blocks": [section("x")]}}, "user_id"),
        (
            "views.open",
            {"view": {"type": "modal", "title": plain("x"), "blocks": [section("x")]}},
            "trigger_id",
        ),
    ],
)
def test_missing_required_argument_is_refused(fake_slack, slack_client, method, args, missing):
    with pytest.raises(SlackApiError) as excinfo:
        slack_client.api_call(method, json=args)

    assert slack_error(excinfo) == "invalid_arguments"
    assert excinfo.value.response["response_metadata"]["messages"] == [
        f"[ERROR] missing required field: {missing}"
    ]


def test_unknown_token_is_invalid_auth_and_missing_token_not_authed(fake_slack):
    with pytest.raises(SlackApiError) as unknown:
        WebClient(token="xoxb-nobody", base_url=fake_slack.url).auth_test()
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake_slack.url).auth_test()

    assert slack_error(unknown) == "invalid_auth"
    assert slack_error(missing) == "not_authed"
    assert fake_slack.calls_to("auth.test") == []


def test_revoked_workspace_token_is_refused(fake_slack, slack_client, acme):
    fake_slack.revoke_workspace(acme.team_id)

    with pytest.raises(SlackApiError) as excinfo:
        slack_client.auth_test()

    assert slack_error(excinfo) == "token_revoked"


def test_form_and_json_bodies_are_both_understood(fake_slack, slack_client):
    slack_client.api_call("chat.postMessage", params={"channel": FEEDBACK, "text": "as a form"})
    slack_client.api_call("chat.postMessage", json={"channel": FEEDBACK, "text": "as JSON"})

    texts = [m["text"] for m in fake_slack.messages(FEEDBACK)[-2:]]
    assert texts == ["as a form", "as JSON"]


def test_a_lone_surrogate_in_an_argument_is_answered_as_the_replacement_character(slack_client):
    # JSON can write one ("\ud800"); the answer echoes the message, and UTF-8 cannot hold it.
    answer = slack_client.api_call("chat.postMessage", json={"channel": FEEDBACK, "text": "slow \ud800"})

    assert answer["ok"] and answer["message"]["text"] == "slow \ufffd"


# -- Block Kit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([section("x" * 3001)], "cannot exceed 3000 characters"),
        ([section("ok")] * 51, "at most 50 items"),
        (
            [{"type": "actions", "elements": [{"type": "button", "action_id": "ack"}]}],
            "missing required field: text",
        ),
        (
            [section("a", block_id="same"), section("b", block_id="same")],
            "duplicate block_id 'same'",
        ),
        (
            [{"type": "header", "text": {"type": "mrkdwn", "text": "*loud*"}}],
            "must be a plain_text",
        ),
        ([section("ok", colour="red")], "unknown field 'colour'"),
        ([section("")], "must be more than 0 characters"),
        ([{"type": "carousel_of_dreams"}], "unsupported block type"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": plain("A"), "action_id": "go"},
                        {"type": "button", "text": plain("B"), "action_id": "go"},
                    ],
                }
            ],
            "duplicate action_id 'go'",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [{"type": "button", "text": plain("x" * 76), "action_id": "a"}],
                }
            ],
            "cannot exceed 75 characters",
        ),
    ],
    ids=[
        "section-3001",
        "51-blocks",
        "button-without-text",
        "duplicate-block-id",
        "mrkdwn-header",
        "unknown-field",
        "empty-text",
        "unknown-type",
        "duplicate-action-id",
        "button-76",
    ],
)
def test_invalid_blocks_are_refused_and_not_posted(fake_slack, slack_client, blocks, expected):
    before = fake_slack.messages(FEEDBACK)

    with pytest.raises(SlackApiError) as excinfo:
        slack_client.chat_postMessage(channel=FEEDBACK, text="fallback", blocks=blocks)

    assert slack_error(excinfo) == "invalid_blocks"
    errors = excinfo.value.response["errors"]
    assert any(expected in error for error in errors), errors
    assert all("[json-pointer:/blocks" in error for error in errors)
    assert fake_slack.messages(FEEDBACK) == before
    assert fake_slack.calls_to("chat.postMessage", ok=False)[0].error == "invalid_blocks"


def test_valid_blocks_are_posted_and_read_back(fake_slack, slack_client):
    blocks = [
        {"type": "header", "text": plain("This week's customer story")},
        section("*Northwind* cut recalibration time in half.", block_id="story"),
        {
            "type": "actions",
            "block_id": "reflect",
            "elements": [
                {
                    "type": "button",
                    "text": plain("What would you change?"),
                    "action_id": "reflect",
                    "value": "s1",
                }
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Shared by <@U0PRIYA003>"}]},
    ]

    posted = slack_client.chat_postMessage(channel=FEEDBACK, text="A customer story", blocks=blocks)
    history = slack_client.conversations_history(channel=FEEDBACK, limit=1)

    assert history["messages"][0]["ts"] == posted["ts"]
    assert history["messages"][0]["blocks"] == blocks
    assert history["messages"][0]["bot_id"] == HEARD_BOT_ID
    assert fake_slack.calls_to("chat.postMessage", ok=True)[0].args["blocks"] == blocks


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_message_without_text_or_blocks_is_no_text(slack_client):
    with pytest.raises(SlackApiError) as excinfo:
        slack_client.chat_postMessage(channel=FEEDBACK)

    assert slack_error(excinfo) == "no_text"


def test_message_text_over_40000_characters_is_too_long(slack_client):
    with pytest.raises(SlackApiError) as excinfo:
        slack_client.chat_postMessage(channel=FEEDBACK, text="x" * 40_001)

    assert slack_error(excinfo) == "msg_too_long"


def test_views_publish_validates_the_home_view(fake_slack, slack_client):
    with pytest.raises(SlackApiError) as too_long:
        slack_client.views_publish(
            user_id=PRIYA, view={"type": "home", "blocks": [section("x" * 3001)]}
        )
    with pytest.raises(SlackApiError) as modal_as_home:
        slack_client.views_publish(
            user_id=PRIYA, view={"type": "modal", "title": plain("Hi"), "blocks": [section("x")]}
        )
    assert slack_error(too_long) == "invalid_arguments"
    assert (
        "[json-pointer:/view/blocks/0]"
        in too_long.value.response["response_metadata"]["messages"][0]
    )
    assert slack_error(modal_as_home) == "invalid_arguments"
    assert fake_slack.published_home(PRIYA) is None

    published = slack_client.views_publish(
        user_id=PRIYA,
        view={"type": "home", "callback_id": "home", "blocks": [section("Your feedback")]},
    )
    republished = slack_client.views_publish(
        user_id=PRIYA, view={"type": "home", "blocks": [section("Updated")]}
    )

    home = fake_slack.published_home(PRIYA)
    assert home["blocks"] == [section("Updated")]
    assert republished["view"]["id"] == published["view"]["id"]  # one home view per user


def test_views_publish_refuses_a_stale_hash(slack_client):
    first = slack_client.views_publish(
        user_id=PRIYA, view={"type": "home", "blocks": [section("a")]}
    )
    slack_client.views_publish(user_id=PRIYA, view={"type": "home", "blocks": [section("b")]})

    with pytest.raises(SlackApiError) as excinfo:
        slack_client.views_publish(
            user_id=PRIYA,
            view={"type": "home", "blocks": [section("c")]},
            hash=first["view"]["hash"],
        )

    assert slack_error(excinfo) == "hash_conflict"


def test_modal_limits_are_enforced(slack_client):
    modal = {
        "type": "modal",
        "title": plain("Log a decision for your department"),  # 34 > 24 characters
        "blocks": [section("x")],
    }

    with pytest.raises(SlackApiError) as excinfo:
        slack_client.views_open(trigger_id="1.2.abcdef", view=modal)

    assert slack_error(excinfo) == "invalid_arguments"
    assert "title must be between 1 and 24 characters" in str(excinfo.value.response["errors"])


def test_views_open_needs_a_fresh_well_formed_trigger(fake_slack, slack_client):
    modal = {
        "type": "modal",
        "callback_id": "decision_log",
        "title": plain("Log a decision"),
        "submit": plain("Save"),
        "blocks": [
            {
                "type": "input",
                "block_id": "decision",
                "label": plain("What did you decide?"),
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }
    trigger = "12345.98765.0123456789abcdef0123456789abcdef"

    opened = slack_client.views_open(trigger_id=trigger, view=modal)
    with pytest.raises(SlackApiError) as reused:
        slack_client.views_open(trigger_id=trigger, view=modal)
    with pytest.raises(SlackApiError) as malformed:
        slack_client.views_open(trigger_id="not-a-trigger", view=modal)
    updated = slack_client.views_update(
        view_id=opened["view"]["id"], view={**modal, "title": plain("Decision saved")}
    )

    assert slack_error(reused) == "exchanged_trigger_id"
    assert slack_error(malformed) == "invalid_trigger_id"
    assert updated["view"]["id"] == opened["view"]["id"]
    assert [v["title"]["text"] for v in fake_slack.opened_views()] == ["Decision saved"]


# -- faults and retries -------------------------------------------------------------------------


class _RecordedSleeps:
    """Stands in for the `time` module inside slack_sdk's retry handlers: no real waiting."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_rate_limit_is_retried_after_retry_after_with_the_retry_handler(
    fake_slack, acme, monkeypatch
):
    sleeps = _RecordedSleeps()
    monkeypatch.setattr(builtin_handlers, "time", sleeps)
    client = WebClient(
        token=acme.bot_token,
        base_url=fake_slack.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake_slack.inject_fault("chat.postMessage", status=429, retry_after=7)

    response = client.chat_postMessage(channel=FEEDBACK, text="posted once")

    assert response["ok"]
    assert len(sleeps.slept) == 1 and sleeps.slept[0] >= 7  # honoured Retry-After
    statuses = [call.status for call in fake_slack.calls if call.method == "chat.postMessage"]
    assert statuses == [429, 200]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert [m["text"] for m in fake_slack.messages(FEEDBACK)].count("posted once") == 1


def test_rate_limit_without_retry_handler_raises_with_retry_after(fake_slack, slack_client):
    fake_slack.inject_fault("chat.postMessage", status=429, retry_after=30)

    with pytest.raises(SlackApiError) as excinfo:
        slack_client.chat_postMessage(channel=FEEDBACK, text="hi")

    assert excinfo.value.response.status_code == 429
    assert slack_error(excinfo) == "ratelimited"
    assert excinfo.value.response.headers["Retry-After"] == "30"
    slack_client.chat_postMessage(channel=FEEDBACK, text="the fault was used up")


def test_server_error_is_retried_with_the_server_error_handler(fake_slack, acme):
    retrying = WebClient(
        token=acme.bot_token,
        base_url=fake_slack.url,
        retry_handlers=[
            ServerErrorRetryHandler(
                max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0)
            )
        ],
    )
    plain_client = WebClient(token=acme.bot_token, base_url=fake_slack.url)
    fake_slack.inject_fault("users.info", status=500, times=2)

    assert retrying.users_info(user=PRIYA)["user"]["id"] == PRIYA

    fake_slack.inject_fault("users.info", status=503)
    with pytest.raises(SlackApiError) as excinfo:
        plain_client.users_info(user=PRIYA)
    assert excinfo.value.response.status_code == 503
    assert slack_error(excinfo) == "internal_error"


def test_fault_for_any_method_hits_the_next_call_whatever_it_is(fake_slack, slack_client):
    fake_slack.inject_fault(None, status=500)

    with pytest.raises(SlackApiError):
        slack_client.team_info()
    assert slack_client.auth_test()["ok"]


# -- conversations --------------------------------------------------------------------------------


def test_history_pages_newest_first_without_replies(fake_slack, slack_client):
    top_level = [m for m in fake_slack.messages(FEEDBACK) if m.get("thread_ts") in (None, m["ts"])]
    seen, cursor, pages = [], None, 0
    while True:
        page = slack_client.conversations_history(channel=FEEDBACK, limit=3, cursor=cursor)
        pages += 1
        seen += [m["ts"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] == bool(cursor)
        if not cursor:
            break

    assert seen == [m["ts"] for m in reversed(top_level)]
    assert pages == -(-len(top_level) // 3)


def test_history_oldest_latest_and_inclusive(fake_slack, slack_client):
    timestamps = [
        m["ts"]
        for m in fake_slack.messages(FEEDBACK)
        if "thread_ts" not in m or m["thread_ts"] == m["ts"]
    ]
    oldest, latest = timestamps[1], timestamps[4]

    exclusive = slack_client.conversations_history(channel=FEEDBACK, oldest=oldest, latest=latest)
    inclusive = slack_client.conversations_history(
        channel=FEEDBACK, oldest=oldest, latest=latest, inclusive=True
    )

    assert [m["ts"] for m in exclusive["messages"]] == timestamps[2:4][::-1]
    assert [m["ts"] for m in inclusive["messages"]] == timestamps[1:5][::-1]


def test_seeded_thread_reply_and_reaction_are_visible(slack_client):
    history = slack_client.conversations_history(channel=FEEDBACK)["messages"]
    parent = next(m for m in history if m.get("reply_count"))
    reacted = next(m for m in history if m.get("reactions"))

    replies = slack_client.conversations_replies(channel=FEEDBACK, ts=parent["ts"])["messages"]

    assert replies[0]["ts"] == parent["ts"]
    assert len(replies) == parent["reply_count"] + 1
    assert replies[1]["user"] == PRIYA
    assert reacted["reactions"] == [{"name": "eyes", "users": [MAYA], "count": 1}]


def test_channel_of_another_workspace_is_not_found(fake_slack, slack_client, globex):
    fake_slack.add_workspace(globex)
    globex_client = WebClient(token=globex.bot_token, base_url=fake_slack.url)
    globex_feedback = globex.channel_named("customer-feedback").id

    with pytest.raises(SlackApiError) as excinfo:
        slack_client.conversations_history(channel=globex_feedback)
    with pytest.raises(SlackApiError) as reverse:
        globex_client.chat_postMessage(channel=FEEDBACK, text="wrong workspace")

    assert slack_error(excinfo) == "channel_not_found"
    assert slack_error(reverse) == "channel_not_found"
    assert globex_client.auth_test()["team_id"] == GLOBEX
    assert fake_slack.calls_to("auth.test")[0].team_id == GLOBEX


def test_bot_must_join_a_public_channel_before_posting_or_reading(fake_slack, slack_client):
    with pytest.raises(SlackApiError) as posting:
        slack_client.chat_postMessage(channel=PRODUCT, text="hi")
    with pytest.raises(SlackApiError) as reading:
        slack_client.conversations_history(channel=PRODUCT)

    joined = slack_client.conversations_join(channel=PRODUCT)
    slack_client.chat_postMessage(channel=PRODUCT, text="hi")

    assert slack_error(posting) == slack_error(reading) == "not_in_channel"
    assert joined["channel"]["is_member"] is True
    assert HEARD in fake_slack.channel_members(PRODUCT)


def test_private_and_archived_channels_cannot_be_joined(slack_client):
    with pytest.raises(SlackApiError) as private:
        slack_client.conversations_join(channel=LEADERS)
    with pytest.raises(SlackApiError) as archived:
        slack_client.conversations_join(channel=ARCHIVED)
    with pytest.raises(SlackApiError) as posting_archived:
        slack_client.chat_postMessage(channel=ARCHIVED, text="hi")

    assert slack_error(private) == "method_not_supported_for_channel_type"
    assert slack_error(archived) == "is_archived"
    assert slack_error(posting_archived) == "is_archived"


def test_conversations_list_hides_private_channels_the_bot_is_not_in(slack_client):
    public = slack_client.conversations_list()["channels"]
    everything = slack_client.conversations_list(
        types="public_channel,private_channel", exclude_archived=True
    )

    assert "leadership" not in {c["name"] for c in public}
    names = {c["name"] for c in everything["channels"]}
    assert "leadership" in names and "old-archive" not in names


def test_direct_message_to_a_user_opens_a_dm(fake_slack, slack_client):
    opened = slack_client.conversations_open(users=PRIYA)
    posted = slack_client.chat_postMessage(channel=PRIYA, text="Your feedback was acknowledged")

    assert opened["channel"]["id"].startswith("D")
    assert posted["channel"] == opened["channel"]["id"]
    assert fake_slack.messages(PRIYA)[-1]["text"] == "Your feedback was acknowledged"


def test_thread_reply_updates_the_parent_summary(fake_slack, slack_client):
    parent = slack_client.chat_postMessage(channel=FEEDBACK, text="Story of the week")
    slack_client.chat_postMessage(channel=FEEDBACK, text="reply", thread_ts=parent["ts"])
    human = fake_slack.post_as(PRIYA, FEEDBACK, "I'd change the onboarding", thread_ts=parent["ts"])

    thread = fake_slack.thread(FEEDBACK, parent["ts"])

    assert thread[0]["reply_count"] == 2
    assert thread[0]["reply_users"] == [HEARD, PRIYA]
    assert thread[0]["latest_reply"] == human["ts"]


def test_posted_timestamps_are_unique_and_increasing_under_a_frozen_clock(acme):
    frozen = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
    with FakeSlack(acme, clock=lambda: frozen) as fake:
        client = WebClient(token=acme.bot_token, base_url=fake.url)
        stamps = [client.chat_postMessage(channel=FEEDBACK, text=str(i))["ts"] for i in range(3)]

    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 3


def test_update_and_delete_only_the_bots_own_messages(fake_slack, slack_client):
    someone_elses = fake_slack.messages(FEEDBACK)[1]
    own = slack_client.chat_postMessage(channel=FEEDBACK, text="draft")

    slack_client.chat_update(channel=FEEDBACK, ts=own["ts"], text="final")
    with pytest.raises(SlackApiError) as updating:
        slack_client.chat_update(channel=FEEDBACK, ts=someone_elses["ts"], text="hijack")
    with pytest.raises(SlackApiError) as deleting:
        slack_client.chat_delete(channel=FEEDBACK, ts=someone_elses["ts"])

    assert fake_slack.messages(FEEDBACK)[-1]["text"] == "final"
    assert slack_error(updating) == "cant_update_message"
    assert slack_error(deleting) == "cant_delete_message"
    slack_client.chat_delete(channel=FEEDBACK, ts=own["ts"])
    assert own["ts"] not in {m["ts"] for m in fake_slack.messages(FEEDBACK)}


def test_ephemeral_message_needs_the_user_in_the_channel(fake_slack, slack_client):
    slack_client.chat_postEphemeral(channel=FEEDBACK, user=PRIYA, text="Only you can see this")
    with pytest.raises(SlackApiError) as excinfo:
        slack_client.chat_postEphemeral(channel=LEADERS, user=PRIYA, text="secret")

    assert fake_slack.ephemeral_messages(user=PRIYA)[0]["text"] == "Only you can see this"
    assert slack_error(excinfo) == "user_not_in_channel"


def test_permalink_has_slacks_shape(fake_slack, slack_client, acme):
    message = fake_slack.messages(FEEDBACK)[1]

    permalink = slack_client.chat_getPermalink(channel=FEEDBACK, message_ts=message["ts"])[
        "permalink"
    ]

    assert (
        permalink
        == f"https://acme-robotics.slack.com/archives/{FEEDBACK}/p{message['ts'].replace('.', '')}"
    )


def test_reactions_add_get_remove(fake_slack, slack_client):
    ts = fake_slack.messages(FEEDBACK)[1]["ts"]

    slack_client.reactions_add(channel=FEEDBACK, timestamp=ts, name="eyes")
    with pytest.raises(SlackApiError) as again:
        slack_client.reactions_add(channel=FEEDBACK, timestamp=ts, name="eyes")
    got = slack_client.reactions_get(channel=FEEDBACK, timestamp=ts)
    slack_client.reactions_remove(channel=FEEDBACK, timestamp=ts, name="eyes")
    with pytest.raises(SlackApiError) as gone:
        slack_client.reactions_remove(channel=FEEDBACK, timestamp=ts, name="eyes")

    assert slack_error(again) == "already_reacted"
    assert got["message"]["reactions"] == [{"name": "eyes", "users": [HEARD], "count": 1}]
    assert slack_error(gone) == "no_reaction"
    assert fake_slack.reactions(FEEDBACK, ts) == {}


# -- users, team, groups -----------------------------------------------------------------------


@pytest.mark.parametrize("month", [1, 7], ids=["winter", "summer"])
def test_users_info_is_a_full_user_object(acme, month):
    # The offset is the zone's at the fake's "now": pinned, so a run across a DST change agrees.
    now = datetime(2026, month, 15, 12, tzinfo=UTC)
    with FakeSlack(acme, clock=now.timestamp) as fake:
        client = WebClient(token=acme.bot_token, base_url=fake.url, timeout=5)
        sam = client.users_info(user=SAM)["user"]
        maya = client.users_info(user=MAYA)["user"]
    expected_offset = now.astimezone(ZoneInfo("America/New_York")).utcoffset()

    assert sam["tz"] == "America/New_York"
    assert sam["tz_offset"] == int(expected_offset.total_seconds())
    assert sam["profile"]["email"] == "sam@acme-robotics.example"
    assert not sam["is_admin"] and not sam["is_bot"]
    assert maya["is_primary_owner"] and maya["is_owner"] and maya["is_admin"]


def test_users_list_paginates_and_includes_bots_and_deleted_users(slack_client, acme):
    members, cursor = [], None
    while True:
        page = slack_client.users_list(limit=4, cursor=cursor)
        members += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break

    assert [m["id"] for m in members] == [u.id for u in acme.users]
    assert any(m["is_bot"] for m in members) and any(m["deleted"] for m in members)


def test_the_people_module_names_who_is_in_the_seeds(acme, globex):
    users = {u.id: u for u in acme.users}
    channels = {c.id: c for c in acme.channels}

    assert (people.ACME, people.ACME_BOT_TOKEN) == (acme.team_id, acme.bot_token)
    assert (people.HEARD, people.HEARD_BOT_ID) == (acme.bot_user_id, acme.bot_id)
    assert {i: users[i].name for i in people.USER_NAMES} == people.USER_NAMES
    assert {i: channels[i].name for i in people.CHANNEL_NAMES} == people.CHANNEL_NAMES
    assert users[people.MAYA].is_primary_owner and users[people.JONAS].is_admin
    assert not any(users[i].is_admin for i in (people.PRIYA, people.TOMAS, people.LENA, people.SAM))
    assert users[people.FORMER].deleted and users[people.ZENDESK].bot_id == people.ZENDESK_BOT
    assert people.SLACKBOT in users
    assert channels[people.PRODUCT].is_member is False and channels[people.LEADERS].is_private
    assert channels[people.ARCHIVED].is_archived
    assert [g.id for g in acme.usergroups] == [people.SUPPORT_GROUP]
    assert (people.GLOBEX, people.GLOBEX_HEARD) == (globex.team_id, globex.bot_user_id)
    assert {people.HANK, people.FRANK} <= {u.id for u in globex.users}
    assert {people.GLOBEX_FEEDBACK, people.GLOBEX_GENERAL} == {c.id for c in globex.channels}
    everyone = set(users) | {c.id for c in acme.channels} | {u.id for u in globex.users}
    assert {people.NO_SUCH_CHANNEL, people.NO_SUCH_USER}.isdisjoint(everyone)


def test_team_info_and_usergroups(slack_client):
    team = slack_client.team_info()["team"]
    groups = slack_client.usergroups_list(include_users=True)["usergroups"]
    users = slack_client.usergroups_users_list(usergroup=groups[0]["id"])["users"]

    assert (team["id"], team["domain"]) == (ACME, "acme-robotics")
    assert groups[0]["handle"] == "support"
    assert users == groups[0]["users"] == [PRIYA, SAM]


# -- waiting, OAuth, files, response_url -------------------------------------------------------------


def test_wait_for_sees_a_call_made_on_another_thread(fake_slack, slack_client):
    worker = threading.Thread(
        target=slack_client.chat_postMessage,
        kwargs={"channel": FEEDBACK, "text": "from the outbox"},
    )
    worker.start()

    calls = fake_slack.wait_for(
        "chat.postMessage", lambda call: call.args.get("text") == "from the outbox"
    )
    worker.join()

    assert calls[0].ok and calls[0].team_id == ACME


def test_wait_for_times_out_with_a_listing_of_calls(fake_slack, slack_client):
    slack_client.auth_test()

    with pytest.raises(AssertionError, match=r"chat\.postMessage(.|\n)*auth\.test"):
        fake_slack.wait_for("chat.postMessage", timeout=0.05)


def test_oauth_code_is_exchanged_once_for_a_bot_installation(acme, globex):
    with FakeSlack(acme, client_id="1.2", client_secret="shh") as fake:
        code = fake.install_code(globex)
        client = WebClient(base_url=fake.url)

        with pytest.raises(SlackApiError) as wrong_secret:
            client.oauth_v2_access(client_id="1.2", client_secret="wrong", code=code)
        installation = client.oauth_v2_access(client_id="1.2", client_secret="shh", code=code)
        with pytest.raises(SlackApiError) as reused:
            client.oauth_v2_access(client_id="1.2", client_secret="shh", code=code)
        auth = WebClient(token=installation["access_token"], base_url=fake.url).auth_test()

    assert slack_error(wrong_secret) == "bad_client_secret"
    assert slack_error(reused) == "invalid_code"
    assert installation["token_type"] == "bot"
    assert installation["team"] == {"id": GLOBEX, "name": "Globex Corporation"}
    assert installation["bot_user_id"] == globex.bot_user_id
    assert installation["authed_user"] == {"id": HANK}
    assert installation["is_enterprise_install"] is False and installation["enterprise"] is None
    assert "chat:write" in installation["scope"].split(",")
    assert auth["team_id"] == GLOBEX


def test_reinstall_after_revocation_restores_the_token(fake_slack, acme):
    fake_slack.revoke_workspace(acme.team_id)
    WebClient(base_url=fake_slack.url).oauth_v2_access(
        client_id="x", client_secret="y", code=fake_slack.install_code(acme)
    )

    assert WebClient(token=acme.bot_token, base_url=fake_slack.url).auth_test()["ok"]


def test_files_upload_v2_works_end_to_end(fake_slack, slack_client):
    csv = b"theme,count\nexports,3\n"

    response = slack_client.files_upload_v2(
        channel=FEEDBACK,
        content=csv,
        filename="digest.csv",
        title="Digest",
        initial_comment="This week",
    )

    uploaded = fake_slack.files()
    assert response["file"]["id"] == uploaded[0]["id"]
    assert uploaded[0]["content"] == csv and uploaded[0]["title"] == "Digest"
    assert FEEDBACK in uploaded[0]["shares"]["public"]
    shared = fake_slack.messages(FEEDBACK)[-1]
    assert shared["text"] == "This week" and shared["files"][0]["id"] == uploaded[0]["id"]
    assert [c.method for c in fake_slack.calls] == [
        "files.getUploadURLExternal",
        UPLOAD_METHOD,
        "files.completeUploadExternal",
    ]


def test_completing_an_upload_that_never_happened_fails(slack_client):
    pending = slack_client.files_getUploadURLExternal(filename="a.txt", length=3)

    with pytest.raises(SlackApiError) as excinfo:
        slack_client.files_completeUploadExternal(
            files=[{"id": pending["file_id"]}], channel_id=FEEDBACK
        )

    assert slack_error(excinfo) == "file_not_found"


def test_response_url_accepts_five_replies(fake_slack, acme):
    import urllib.error
    import urllib.request

    url = fake_slack.response_url(acme.team_id)

    def reply(text: str) -> int:
        body = json.dumps({"text": text, "response_type": "ephemeral"}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    statuses = [reply(f"reply {n}") for n in range(6)]

    assert statuses == [200] * 5 + [404]
    calls = fake_slack.calls_to(RESPONSE_URL_METHOD)
    assert calls[0].args["text"] == "reply 0" and calls[0].team_id == acme.team_id
    assert calls[-1].error == "used_url"


# -- seed data --------------------------------------------------------------------------------------


def test_demo_workspace_feedback_is_recent_and_relative_to_now(acme: SeedWorkspace, seed_now):
    feedback = [
        m
        for m in acme.messages
        if m.channel == FEEDBACK and m.subtype is None and m.thread_ts is None
    ]
    times = [datetime.fromtimestamp(float(m.ts), UTC) for m in feedback]

    assert len(feedback) >= 7
    assert all(seed_now - timedelta(days=7) < t < seed_now for t in times)
    assert len({t.date() for t in times}) >= 4  # spread over several days
    assert acme.user_named("maya").is_primary_owner
    assert acme.channel_named("#leadership").is_private


# -- the committed method list ----------------------------------------------------------------------


@pytest.mark.skipif(
    not (SHARED_SPECS / "slack_web_openapi_v2_without_examples.json").exists(),
    reason=f"Slack's OpenAPI spec is not at {SHARED_SPECS} (only the monorepo checkout has it)",
)
def test_committed_method_list_matches_slacks_spec():
    spec = json.loads((SHARED_SPECS / "slack_web_openapi_v2_without_examples.json").read_text())
    committed = json.loads(METHODS_FILE.read_text())

    assert committed == extract_slack_methods.build(spec), (
        "slack_methods.json is stale: run python -m bot.sandbox.extract_slack_methods"
    )
    from_spec = {
        name for name, m in committed["methods"].items() if m["source"] == "slack-api-specs"
    }
    assert from_spec == {path.lstrip("/") for path in spec["paths"]}
    newer = {name for name, m in committed["methods"].items() if m["source"] == "slack_sdk"}
    assert all(hasattr(WebClient, name.replace(".", "_")) for name in newer)
    assert "MIT License" in " ".join(committed["_license"])
