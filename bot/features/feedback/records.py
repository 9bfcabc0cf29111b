"""What the feedback room holds about people, and what it exports: its `/heard forget`
and `heard export` parts (see `bot.rooms`)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.features.feedback.models import Acknowledgement, FeedbackItem
from bot.rooms import ExportFile, ForgetRequest, Forgotten

FEEDBACK_COLUMNS = ("id", "team_id", "text", "reporter", "created_at", "source", "channel", "ts",
                    "permalink", "status", "acknowledged_at", "acknowledged_by")  # fmt: skip
# Columns that name someone other than the reporter (who is handled apart).
PERSON_COLUMNS = ("acknowledged_by", "resolved_by", "logged_by_user_id")
# Columns of words people wrote, which may mention someone: `<@U0123>`, `<@U0123|maya>`, U0123.
TEXT_COLUMNS = ("text", "note", "resolution_note", "customer", "reporter_name", "origin")
BATCH = 500


def forget(request: ForgetRequest) -> list[Forgotten]:
    """Feedback a person reported stays (it is the customer's words) but no longer names
    them, nor do items they acknowledged, resolved or logged, nor the words of any item
    (`ForgetRequest.forget_mentions`). Their acknowledgements get the stand-in id, so an
    item they acknowledged stays acknowledged."""
    session, workspace_id, user_id = request.session, request.workspace_id, request.user_id

    def run(statement) -> int:
        return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0

    reported = run(
        update(FeedbackItem)
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.reporter_user_id == user_id)
        .values(reporter_user_id=None, reporter_name=None)
    )
    for name in PERSON_COLUMNS:
        column = getattr(FeedbackItem, name)
        run(update(FeedbackItem).where(FeedbackItem.workspace_id == workspace_id, column == user_id)
            .values({name: None}))  # fmt: skip
    in_workspace = select(FeedbackItem.id).where(FeedbackItem.workspace_id == workspace_id)
    acknowledged = run(
        update(Acknowledgement)
        .where(Acknowledgement.feedback_item_id.in_(in_workspace), Acknowledgement.user_id == user_id)
        .values(user_id=request.stand_in)
    )
    return [
        Forgotten("feedback_anonymised", reported, "feedback item", "feedback items", "anonymised"),
        Forgotten("feedback_mentions_anonymised",
                  request.forget_mentions(FeedbackItem, TEXT_COLUMNS, FeedbackItem.workspace_id == workspace_id),
                  "feedback item mentioning them", "feedback items mentioning them", "anonymised"),
        Forgotten("acknowledgements_anonymised", acknowledged, "acknowledgement", "acknowledgements", "anonymised"),
    ]  # fmt: skip


def _feedback_rows(session: Session, team_of: dict[int, str]) -> Iterator[tuple]:
    rows = session.scalars(
        select(FeedbackItem).where(FeedbackItem.workspace_id.in_(list(team_of)))
        .order_by(FeedbackItem.workspace_id, FeedbackItem.said_at, FeedbackItem.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for item in rows:
        # `source` says where the customer said it (phone, email: the CSV import's column)
        # when known, else how Heard heard of it (channel, shortcut, command, import), so
        # the file imports back with the same meaning (`heard feedback import` reads its
        # column names and knows its rows: `importer._exported_keys`).
        yield (item.id, team_of[item.workspace_id], item.text, item.reporter_user_id or item.reporter_name,
               item.said_at, item.origin or item.source, item.channel_id, item.message_ts, item.permalink,
               item.status, item.acknowledged_at, item.acknowledged_by)  # fmt: skip


FEEDBACK_EXPORT = ExportFile("feedback.csv", FEEDBACK_COLUMNS, _feedback_rows)
