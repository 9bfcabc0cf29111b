"""feedback import keys in time order; the card and reporter indexes only where set

An imported row's key was the SHA-256 of its five values in hex (64 characters, in no
order): each batch of an import wrote all over the unique index on (workspace_id,
import_key). Keys now start with the second the row was said, in UTC, then the same hash
in base64: `2026-11-20T14:30:00` + 43 characters. The importer makes keys this way
(`bot.features.feedback.importer.import_key`); this revision turns the keys made before
into them (from the item's said_at and the hash itself, so importing the same file again
still adds nothing) and back on downgrade (the hash is all there). Keys of any other
shape are left alone.

Most items have no card and imported ones often no reporter id: `ix_feedback_items_card`
and `ix_feedback_items_workspace_reporter` now index only the rows where the column is
set, which every query through them asks for (`= value`).

Revision ID: 0012_feedback_import_keys
Revises: 0011_digest_vectors
Create Date: 2026-11-29 16:20:00
"""

import re
from binascii import a2b_base64, b2a_base64

import sqlalchemy as sa
from alembic import op

revision = "0012_feedback_import_keys"
down_revision = "0011_digest_vectors"
branch_labels = None
depends_on = None

_HEX_KEY = re.compile(r"[0-9a-f]{64}")
_TIMED_KEY = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[A-Za-z0-9+/]{43}")
_CHUNK = 10_000  # rows read and written at a time on SQLite
_PARTIAL = {"ix_feedback_items_card": ("card_channel_id", ["workspace_id", "card_channel_id", "card_ts"]),
            "ix_feedback_items_workspace_reporter": ("reporter_user_id", ["workspace_id", "reporter_user_id"])}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE feedback_items SET import_key = "
            "to_char(said_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
            "|| substr(encode(decode(import_key, 'hex'), 'base64'), 1, 43) "
            "WHERE import_key ~ '^[0-9a-f]{64}$'"
        )
    else:
        _rewrite_keys(bind, "length(import_key) = 64", _timed)
    for name, (column, columns) in _PARTIAL.items():
        op.drop_index(name, table_name="feedback_items")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "feedback_items", columns, unique=False, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, (_column, columns) in _PARTIAL.items():
        op.drop_index(name, table_name="feedback_items")
        op.create_index(name, "feedback_items", columns, unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE feedback_items SET import_key = "
            "encode(decode(substr(import_key, 20) || '=', 'base64'), 'hex') "
            "WHERE import_key ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[A-Za-z0-9+/]{43}$'"
        )
    else:
        _rewrite_keys(bind, "length(import_key) = 62", _hex)


def _timed(said_at: str, key: str) -> str | None:
    """SQLite: a hex key as the importer now makes it; said_at is SQLite's text of the UTC
    time (`2026-11-20 14:30:00.000000`)."""
    if not _HEX_KEY.fullmatch(key):
        return None
    return f"{said_at[:10]}T{said_at[11:19]}" + b2a_base64(bytes.fromhex(key), newline=False)[:43].decode()


def _hex(_said_at: str, key: str) -> str | None:
    if not _TIMED_KEY.fullmatch(key):
        return None
    return a2b_base64(key[19:] + "=").hex()


def _rewrite_keys(bind, where: str, rewrite) -> None:
    """SQLite, which has no base64: the keys `where` selects, `rewrite` (None: leave it),
    `_CHUNK` rows at a time in the order of their ids."""
    last = 0
    while True:
        rows = bind.exec_driver_sql(
            f"SELECT id, said_at, import_key FROM feedback_items WHERE id > ? AND {where} ORDER BY id LIMIT ?",
            (last, _CHUNK),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        changed = [(new, row_id) for row_id, said_at, key in rows if (new := rewrite(said_at, key)) is not None]
        if changed:
            bind.exec_driver_sql("UPDATE feedback_items SET import_key = ? WHERE id = ?", changed)
