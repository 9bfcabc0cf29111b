"""feedback item ids are never reused; what referred to a deleted item goes with it

On SQLite a table's `INTEGER PRIMARY KEY` without AUTOINCREMENT gives a new row the highest
id in use plus one, so deleting the newest feedback item (its message was deleted) handed
its id to the next item: the old item's card buttons, decision links and digest
assignments then acted on someone else's feedback. `feedback_items` is recreated with
AUTOINCREMENT (SQLite's `sqlite_sequence` remembers the highest id ever given), its
sequence starting above every id a row still refers to, even a deleted item's, and above
every id the feedback room's outbox keys name (a deleted item's card may be its only trace);
PostgreSQL's sequences never hand an id out twice, so there this part does nothing.

It is the one table whose rows are deleted while their ids live on in Slack (buttons,
sealed modal metadata) and in other rooms' tables: stories, story posts and decisions are
never deleted (a discarded story keeps its row), and the ids of the rows that are
(acknowledgements, reflections, engagement, roles, deliveries, outbox and inbox rows)
appear nowhere else.

The references become foreign keys with an ON DELETE rule, so the database settles them
in the statement that deletes the item, whichever room deletes it: a decision's link to
the item and a digest assignment of it are deleted (the decision stays), a story drafted
from it keeps its words and forgets where they came from (SET NULL). Links and
assignments that already point at no item are deleted first (stories: set to NULL).

SQLite recreates a table to change it, and drops the old one on the way, which with
foreign keys enforced would cascade to the item's acknowledgements and vectors: Heard runs
its migrations with enforcement off and checks every key before committing
(`bot.db.migrate.upgrade`).

Revision ID: 0013_feedback_ids_never_reused
Revises: 0012_feedback_import_keys
Create Date: 2026-11-29 21:30:00
"""

import re

from alembic import op

revision = "0013_feedback_ids_never_reused"
down_revision = "0012_feedback_import_keys"
branch_labels = None
depends_on = None

# (table, column, rule): each column holding a feedback item's id, outside the item's room.
_REFERENCES = (
    ("decision_links", "feedback_id", "CASCADE"),
    ("digest_assignments", "feedback_id", "CASCADE"),
    ("stories", "feedback_item_id", "SET NULL"),
)

# The feedback room's outbox keys that name an item (bot.features.feedback.service): its
# card `feedback-card:T:42`, the reminder `remind:T:42`, the close-the-loop DM `loop:T:42:what`.
_OUTBOX_KEYS = ("feedback-card:%", "remind:%", "loop:%")
_ITEM_IN_KEY = re.compile(r"(?:feedback-card|remind|loop):[^:]+:(\d+)(?::|$)")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Read before the dangling references go: a deleted newest item's id survives
        # only in them, in the outbox's keys and in Slack, and must not be given out again.
        highest = bind.exec_driver_sql(
            "SELECT max(id) FROM (SELECT max(id) AS id FROM feedback_items "
            + "".join(f"UNION ALL SELECT max({column}) FROM {table} " for table, column, _ in _REFERENCES)
            + ")"
        ).scalar() or 0  # fmt: skip
        keys = bind.exec_driver_sql(
            "SELECT idempotency_key FROM outbox WHERE " + " OR ".join("idempotency_key LIKE ?" for _ in _OUTBOX_KEYS),
            _OUTBOX_KEYS,
        ).scalars()
        for key in keys:
            named = _ITEM_IN_KEY.match(key)
            if named:
                highest = max(highest, int(named.group(1)))
        with op.batch_alter_table("feedback_items", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):  # fmt: skip
            pass
        if highest:
            # The copy's inserts set the sequence to the highest id copied; raise it if need be.
            bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'feedback_items'")
            bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('feedback_items', ?)", (highest,))
    for table, column, rule in _REFERENCES:
        dangling = f"{column} IS NOT NULL AND {column} NOT IN (SELECT id FROM feedback_items)"
        if rule == "CASCADE":
            op.execute(f"DELETE FROM {table} WHERE {dangling}")
        else:
            op.execute(f"UPDATE {table} SET {column} = NULL WHERE {dangling}")
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_{column}_feedback_items"), "feedback_items", [column], ["id"], ondelete=rule
            )


def downgrade() -> None:
    for table, column, _rule in reversed(_REFERENCES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_{column}_feedback_items"), type_="foreignkey")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("feedback_items", recreate="always"):
            pass
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'feedback_items'")
