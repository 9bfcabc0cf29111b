"""The fake Slack's faults and limits, which the outbox's tests lean on: message metadata
read back only when asked for, a post taken and then answered with a 5xx or no answer,
random faults at set rates, and a per-minute limit."""

from http.client import RemoteDisconnected
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.people import GENERAL

KEY = {"event_type": "heard_outbox", "event_payload": {"key": "k1"}}


@pytest.fixture
def client(fake_slack, acme):
    return WebClient(token=acme.bot_token, base_url=fake_slack.url, timeout=5, retry_handlers=[])


def test_history_returns_metadata_only_when_asked_for(client):
    client.chat_postMessage(channel=GENERAL, text="hello", metadata=KEY)
    [plain] = client.conversations_history(channel=GENERAL, limit=1)["messages"]
    [full] = client.conversations_history(channel=GENERAL, limit=1, include_all_metadata=True)["messages"]
    assert "metadata" not in plain and full["metadata"] == KEY


def test_a_post_taken_then_answered_500_is_in_the_channel(client, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=500, after_accepting=True)
    with pytest.raises(SlackApiError) as failed:
        client.chat_postMessage(channel=GENERAL, text="taken")
    assert failed.value.response.status_code == 500
    assert fake_slack.messages(GENERAL)[-1]["text"] == "taken"


def test_a_post_taken_then_dropped_gets_no_answer(client, fake_slack):
    fake_slack.inject_fault("chat.postMessage", status=500, drop=True)
    with pytest.raises((RemoteDisconnected, ConnectionError, URLError)):
        client.chat_postMessage(channel=GENERAL, text="taken, unanswered")
    assert fake_slack.messages(GENERAL)[-1]["text"] == "taken, unanswered"
    assert client.chat_postMessage(channel=GENERAL, text="next")["ok"]  # the next call is answered


def test_chaos_answers_its_share_of_calls_with_faults(client, fake_slack):
    fake_slack.chaos(["chat.postMessage"], ratelimited=0.5, seed=3)
    outcomes = []
    for number in range(40):
        try:
            client.chat_postMessage(channel=GENERAL, text=f"m{number}")
            outcomes.append("ok")
        except SlackApiError as error:
            outcomes.append(error.response.status_code)
    assert 10 < outcomes.count(429) < 30 and outcomes.count("ok") + outcomes.count(429) == 40
    fake_slack.chaos([])
    assert client.chat_postMessage(channel=GENERAL, text="calm")["ok"]


def test_a_rate_limit_answers_429_with_retry_after_past_its_budget(client, fake_slack):
    fake_slack.limit_rate("chat.postMessage", 3)
    for number in range(3):
        client.chat_postMessage(channel=GENERAL, text=f"m{number}")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel=GENERAL, text="one too many")
    assert limited.value.response.status_code == 429
    assert 1 <= int(limited.value.response.headers["Retry-After"]) <= 60
    assert fake_slack.rate_limited == 1
    assert client.conversations_history(channel=GENERAL, limit=1)["ok"]  # other methods are not limited
