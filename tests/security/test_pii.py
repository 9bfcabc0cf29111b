"""PII never reaches the LLM (issue 20): e-mails, phones, card numbers, IBANs and Slack
user ids planted in 1,000 feedback items, then every scheduled job of every room run with
an OpenAI key (the fake OpenAI server): no request the server received holds any of them.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import Workspace
from bot.features.feedback.kinds import Source
from bot.features.feedback.models import FeedbackItem
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due
from tests.features.stories.room import MONDAY, STORIES, Stories
from tests.people import ACME, MAYA, PRIYA

PLANTED = {
    "email": ["maya.schmidt@acme-robotics.example", "j.o'neil+billing@globex.example.co.uk"],
    "phone": ["+49 30 1234 5678", "(415) 555-0100", "+1-212-555-0199"],
    "card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
    "iban": ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"],
    "user": [f"<@{MAYA}|maya>", f"<@{PRIYA}>"],
}
MUST_NOT_LEAVE = [
    "maya.schmidt", "acme-robotics.example", "o'neil+billing", "1234 5678", "555-0100", "555-0199",
    "4111 1111", "5500-0000", "378282246310005", "3704 0044", "GB82WEST", MAYA, PRIYA,
]  # fmt: skip


def planted_text(i: int) -> str:
    """Every kind in every item, so whichever items a job sends, each kind is tried."""
    values = [found[i % len(found)] for found in PLANTED.values()]
    return f"Customer {i}: the export is slow, reach me at " + ", ".join(values) + f" about order {1000 + i}"


@pytest.fixture
def heard(workspace, heard_server, fake_slack, llm_config):
    workspace(admins=1)
    room = Stories(heard_server(openai_api_key=llm_config.api_key, openai_base_url=llm_config.base_url,
                                heard_openai_model=llm_config.model), fake_slack)  # fmt: skip
    room.at(MONDAY)
    room.set_channel(STORIES)
    with room.runtime.sessions.begin() as session:
        acme = session.scalar(select(Workspace).where(Workspace.team_id == ACME))
        session.add_all([
            FeedbackItem(workspace_id=acme.id, text=planted_text(i), source=Source.COMMAND,
                         reporter_user_id=PRIYA, customer="Northwind Logistics",
                         said_at=MONDAY - timedelta(hours=1 + i % 150), stored_at=MONDAY - timedelta(hours=1))
            for i in range(1000)
        ])  # fmt: skip
    return room


def test_planted_pii_in_1000_items_never_reaches_the_llm(heard, fake_openai):
    registry = heard.runtime.rooms.registry
    for job in sorted(spec.name for spec in registry):
        run_job(heard.runtime, registry, job, ACME, trigger="manual")
        deliver_due(heard.runtime)
    heard.heard.listeners.drain()

    assert fake_openai.requests, "no job asked the LLM: the test would prove nothing"
    sent = json.dumps([request["json"] for request in fake_openai.requests], ensure_ascii=False)
    assert "Customer" in sent  # the feedback itself did go
    leaked = [value for value in MUST_NOT_LEAVE if value in sent]
    assert leaked == [], leaked
