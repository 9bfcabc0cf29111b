"""R3: Slack answering 20% of posts with 429 and 5% with a 5xx or a dropped connection
*after* it took the post: every post of a simulated month is delivered exactly once.

A faithful fast form: a month of scheduled posts (each day a post to three channels, a
reply in a thread and DMs to people, queued under the keys jobs use) is stepped through
three hours at a time on an injected clock; at each step the periodic sender runs, as `heard
worker` does. The rate limiter runs on a virtual clock too, so waiting out a 429's
Retry-After costs no real time. The real slack_sdk client talks to the fake Slack.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import outbox
from bot.slack.ratelimit import RateLimiter
from tests.people import FEEDBACK, GENERAL, JONAS, LENA, MAYA, PRIYA, SAM, STORIES, TOMAS

START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
DAYS = 30
CHANNELS = (GENERAL, FEEDBACK, STORIES)
PEOPLE = (MAYA, JONAS, PRIYA, TOMAS, LENA, SAM)

pytestmark = pytest.mark.timeout(120)


class VirtualTime:
    """The rate limiter's clock: sleeping moves it on at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def runtime(engine, fake_slack, acme, make_workspace):
    now = {"value": START}
    settings = Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False),
                        slack_bot_token=acme.bot_token, slack_signing_secret="s", slack_api_url=fake_slack.url)  # fmt: skip
    runtime = Runtime(settings=settings, engine=engine, clock=lambda: now["value"])
    time = VirtualTime()
    runtime.limiter = RateLimiter(clock=time.clock, sleep=time.sleep)
    runtime.now, runtime.workspace = now, make_workspace(acme.team_id)
    return runtime


def queue_the_day(runtime, day: int, thread_ts: str) -> list[str]:
    keys = []
    with runtime.sessions.begin() as session:
        posts = [(f"daily:{channel}:{day}", {"channel": channel}) for channel in CHANNELS]
        posts += [(f"nudge:{person}:{day}", {"channel": person}) for person in PEOPLE]
        posts += [(f"reply:{day}", {"channel": GENERAL, "thread_ts": thread_ts})]
        for key, target in posts:
            outbox.enqueue(session, workspace_id=runtime.workspace.id, key=key, method="chat.postMessage",
                           payload={**target, "text": f"post {key}"}, now=runtime.clock())  # fmt: skip
            keys.append(key)
    return keys


def test_every_post_of_a_month_is_delivered_once_under_429s_5xx_and_dropped_connections(runtime, fake_slack, acme):
    thread = fake_slack.post_as(SAM, GENERAL, "a thread the month's replies go to", team_id=acme.team_id)
    fake_slack.chaos(["chat.postMessage"], ratelimited=0.20, after_accepting=0.05, seed=19)
    queued = []
    for day in range(DAYS):
        for hour in range(0, 24, 3):  # the sender every three hours: settling and retries are due by then
            runtime.now["value"] = START + timedelta(days=day, hours=hour)
            if hour == 9:
                queued += queue_the_day(runtime, day, thread["ts"])
            outbox.deliver_due(runtime, sweep=True)
    for _ in range(12):  # the month's last posts: retries and settling, an hour apart
        runtime.now["value"] += timedelta(hours=1)
        outbox.deliver_due(runtime, sweep=True)

    posted = Counter()
    for channel in (*CHANNELS, *PEOPLE):
        for message in fake_slack.messages(channel, team_id=acme.team_id):
            key = (message.get("metadata") or {}).get("event_payload", {}).get("key")
            if key:
                posted[key] += 1
    assert len(queued) == DAYS * (len(CHANNELS) + len(PEOPLE) + 1)
    assert sorted(posted) == sorted(queued), f"lost: {sorted(set(queued) - set(posted))}"
    assert [key for key, count in posted.items() if count > 1] == []
    assert outbox.counts(runtime) == {"sent": len(queued)}
    # The faults happened, and some posts Slack took before failing were settled from history.
    calls = fake_slack.calls
    assert sum(1 for c in calls if c.method == "chat.postMessage" and c.status == 429) > len(queued) // 10
    assert len(fake_slack.calls_to("conversations.history")) + len(fake_slack.calls_to("conversations.replies")) > 0
