"""Two `heard jobs run weekly-story` processes started together leave one post."""

import os
import subprocess
import sys

from bot.slack.outbox import deliver_due
from tests.fixtures.heard import SIGNING_SECRET
from tests.people import PRIYA


def test_two_concurrent_job_processes_post_the_week_once(stories, db_url, acme, fake_slack, tmp_path):
    stories.add_story(user=PRIYA, title="One", customer="Northwind")
    stories.add_story(user=PRIYA, title="Two", customer="Contoso")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE"))}
    env |= {"SLACK_BOT_TOKEN": acme.bot_token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.url, "DATABASE_URL": db_url}  # fmt: skip
    command = [sys.executable, "-m", "bot", "jobs", "run", "weekly-story"]
    runs = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=90)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("story 1 queued" in output for output in outputs) == 1, outputs
    assert len(stories.posted()) == 1  # each `heard jobs run` sends what it queued before it ends
    deliver_due(stories.runtime)
    assert len(stories.posted()) == 1
    assert len(stories.posts()) == 1 and len(stories.outbox("story:")) == 1
