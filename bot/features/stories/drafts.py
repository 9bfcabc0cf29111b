"""A draft story from recent customer feedback, for a week whose bank is empty.

Written by the LLM (prompt `prompts/story_draft.txt`, the feedback redacted and fenced by
`bot.llm`) or, without a key or when the LLM fails, times out or answers outside the
schema, by an offline template that quotes the item. A draft is a pending story: it goes
to the admins with Approve / Edit / Discard and is never posted unreviewed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.feedback import queries as feedback
from bot.features.stories import service
from bot.features.stories.models import Story
from bot.llm import LLM, LLMConfig
from bot.llm.prompts import render_prompt
from bot.settings import Settings

RECENT = timedelta(days=30)
# Feedback someone acted on makes a story with an ending; ignored feedback is the digest's.
PREFERRED = ("resolved", "acknowledged", "open", "ignored")


class DraftAnswer(BaseModel):
    title: str = Field(min_length=1, max_length=service.LIMITS["title"])
    customer: str = Field(min_length=1, max_length=service.LIMITS["customer"])
    what_happened: str = Field(min_length=1, max_length=service.LIMITS["what_happened"])
    learned: str = Field(min_length=1, max_length=service.LIMITS["learned"])


def llm_for(settings: Settings) -> LLM:
    return LLM(LLMConfig(api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                         model=settings.heard_openai_model))  # fmt: skip


def offline_draft(text: str, customer: str | None) -> service.StoryDraft:
    """The template: the feedback quoted, and what an admin should fill in."""
    who = customer or "A customer"
    quoted = " ".join(text.split())
    limit = service.LIMITS["what_happened"] - len(who) - 20
    if len(quoted) > limit:
        quoted = quoted[: limit - 1] + "…"
    return service.StoryDraft(
        title=f"What {who} told us"[: service.LIMITS["title"]], customer=who[: service.LIMITS["customer"]],
        what_happened=f"{who} told us: “{quoted}”",
        learned="(Draft from feedback: an admin writes what we learned before approving.)",
    )  # fmt: skip


def draft_from_feedback(session: Session, workspace: Workspace, llm: LLM, *, week: str, now: datetime) -> Story | None:
    """Draft one story for `week` from the last 30 days' feedback and send it for review;
    once per week (a rerun finds the week's draft). None when there is no feedback."""
    items = feedback.search(session, workspace.id, since=now - RECENT, limit=50)
    if not items:
        return None
    item = min(items, key=lambda found: (PREFERRED.index(found.status) if found.status in PREFERRED else 9))
    draft = offline_draft(item.text, item.customer)
    answer = llm.structured(system=render_prompt("story_draft"),
                            user_data=f"Customer: {item.customer or 'not named'}\nFeedback: {item.text}",
                            schema=DraftAnswer)  # fmt: skip
    if answer.value is not None:
        draft = service.StoryDraft(**answer.value.model_dump())
    try:
        submitted = service.submit_story(
            session, workspace, draft, user_id=None, is_admin=False, submit_key=f"draft:{week}", now=now,
            source="draft", feedback_item_id=int(item.id),
        )  # fmt: skip
    except service.StoryInvalid:  # an answer that fits the schema but not the modal's rules
        submitted = service.submit_story(
            session, workspace, offline_draft(item.text, item.customer), user_id=None, is_admin=False,
            submit_key=f"draft:{week}", now=now, source="draft", feedback_item_id=int(item.id),
        )  # fmt: skip
    return submitted.story
