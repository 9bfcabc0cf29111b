"""A draft story from recent customer feedback, for a week whose bank is empty.

The `story-draft` job writes it on the day before the week's post (so the admins have a
day to review it); `weekly-story` writes it when it finds the bank empty and no draft
was written (the key `draft:WEEK` keeps it to one per week either way).

Written by the LLM (prompt `prompts/story_draft.txt`, the feedback redacted and fenced by
`bot.llm`) or, without a key or when the LLM fails, times out or answers outside the
schema, by an offline template that quotes the item. A draft is a pending story: it goes
to the admins with Approve / Edit / Discard and is never posted unreviewed.

When a key is set and the LLM was not used, the job's line in the ledger (`heard jobs
list`, the run's log line) says why, as the digest's footer does ("written offline: the
LLM was not used: HTTP 500"); without a key, offline is the plan and goes unsaid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
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


def draft_key(week: str) -> str:
    return f"draft:{week}"


@dataclass(frozen=True)
class Drafted:
    """The week's draft story; `created` False when an earlier run wrote it. `fallback_reason`
    says why the LLM did not write it when it was asked (a key is set), else None."""

    story: Story
    created: bool
    fallback_reason: str | None = None

    def how(self) -> str:
        """How it was written, for a job's line: "" or " (written offline: the LLM ...)"."""
        return f" (written offline: the LLM was not used: {self.fallback_reason})" if self.fallback_reason else ""


def draft_from_feedback(session: Session, workspace: Workspace, llm: LLM, *, week: str,
                        now: datetime) -> Drafted | None:  # fmt: skip
    """Draft one story for `week` from the last 30 days' feedback and send it for review;
    once per week (a rerun finds the week's draft, without asking the LLM again). None
    when there is no feedback."""
    existing = session.scalar(select(Story).where(Story.workspace_id == workspace.id,
                                                  Story.submit_key == draft_key(week)))  # fmt: skip
    if existing is not None:
        return Drafted(existing, False)
    items = feedback.search(session, workspace.id, since=now - RECENT, limit=50)
    if not items:
        return None
    item = min(items, key=lambda found: (PREFERRED.index(found.status) if found.status in PREFERRED else 9))
    draft = offline_draft(item.text, item.customer)
    # Imported here: the answer's schema is pydantic's, which a server's start does without.
    from bot.features.stories.answers import DraftAnswer

    answer = llm.structured(system=render_prompt("story_draft"),
                            user_data=f"Customer: {item.customer or 'not named'}\nFeedback: {item.text}",
                            schema=DraftAnswer)  # fmt: skip
    # Without a key offline is the plan, not a fallback worth a word.
    reason = answer.fallback_reason if llm.enabled else None
    if answer.value is not None:
        draft = service.StoryDraft(**answer.value.model_dump())
    try:
        submitted = service.submit_story(
            session, workspace, draft, user_id=None, is_admin=False, submit_key=draft_key(week), now=now,
            source="draft", feedback_item_id=int(item.id),
        )  # fmt: skip
    except service.StoryInvalid:  # an answer that fits the schema but not the modal's rules
        reason = "the answer broke the story form's rules"
        submitted = service.submit_story(
            session, workspace, offline_draft(item.text, item.customer), user_id=None, is_admin=False,
            submit_key=draft_key(week), now=now, source="draft", feedback_item_id=int(item.id),
        )  # fmt: skip
    return Drafted(submitted.story, submitted.created, reason)


def prepare_week(session: Session, workspace: Workspace, llm: LLM, *, week: str, now: datetime) -> str:
    """The day before `week`'s post: with no approved story in the bank, draft one from
    recent feedback for the admins to review (once per week; not while an earlier draft
    still waits for them). Returns what it did, in a line for the job ledger."""
    if service.week_has_post(session, workspace.id, week):
        return f"{week} already has its story"
    if service.next_story(session, workspace.id) is not None:
        return f"the bank has an approved story for {week}; no draft needed"
    waiting = service.draft_waiting(session, workspace.id)
    if waiting is not None and waiting.submit_key != draft_key(week):
        return f"no approved story for {week}; draft {waiting.id} still waits for review"
    drafted = draft_from_feedback(session, workspace, llm, week=week, now=now)
    if drafted is None:
        return f"no approved story for {week} and no recent feedback to draft one from"
    if not drafted.created:
        return f"no approved story for {week}; its draft ({drafted.story.id}) was sent for review already"
    return f"no approved story for {week}; draft {drafted.story.id} from recent feedback sent for review{drafted.how()}"
