"""Applies Heard's Alembic migrations, which ship inside the package.

`upgrade` first asks the database for its revision with one query and compares it with
the head read from the migration files' `revision`/`down_revision` lines: a database
already at the head (every restart but the first after an upgrade) is left alone
without importing Alembic, whose templates (Mako, Pygments) would otherwise stay in the
memory of every `heard run` for good.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$""", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolates %, which URL-encoded passwords and options contain.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Bring the schema to `revision`; returns the revisions applied (empty when current)."""
    if revision == "head" and _at_head(engine):
        return []
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    before = current_revision(engine)
    script = ScriptDirectory.from_config(config)
    if before is not None and before not in {rev.revision for rev in script.walk_revisions()}:
        raise UnknownRevision(
            f"the database is at revision {before}, which this version of Heard does not have: a newer "
            "Heard upgraded it; run that version (or restore the backup taken before the upgrade)"
        )
    with migrating(engine) as connection:
        # Read again under the migration's lock: another process (a `heard run` starting
        # beside `heard db upgrade`) may have applied these revisions while this one waited.
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    after = current_revision(engine)
    if before == after:
        return []
    applied = [rev.revision for rev in script.iterate_revisions(after, before)]
    return list(reversed(applied))


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for Alembic to migrate on, committed at the end.

    On SQLite, foreign keys are not enforced meanwhile, as SQLite's own procedure for
    changing a table says: a migration recreates a table to change it and drops the old
    one, which with enforcement on first deletes it row by row, and ON DELETE CASCADE
    takes the rows of the tables that refer to it along. Every key is checked before the
    commit, and enforcement is on again for whoever uses the connection next (SQLite
    ignores the pragma inside a transaction: it is set between transactions).

    On SQLite the transaction is opened with an explicit BEGIN: the sqlite3 driver starts
    one only at the first INSERT/UPDATE/DELETE, so a migration's CREATE TABLE before it
    (Alembic's `_alembic_tmp_` copy of a table) committed on its own, and a migration that
    failed or was killed left that table behind and every later upgrade failing on it.
    SQLite's DDL is transactional, so with the BEGIN a migration changes all or nothing.
    BEGIN IMMEDIATE also takes the database's write lock; on PostgreSQL a transaction's
    advisory lock does the same for migrations, so two processes upgrading at once (a
    `heard run` starting beside `heard db upgrade`) take turns, and the second finds the
    revisions applied."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if sqlite:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                else:  # one migrating process at a time, also when none changes a table yet
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK}, 0)")
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all() if sqlite else []
                if broken:
                    tables = ", ".join(sorted({f"{row[0]} -> {row[2]}" for row in broken}))
                    raise MigrationBrokeKeys(f"the migration left rows referring to rows that do not exist ({tables}), "
                                             "so nothing was changed; `PRAGMA foreign_key_check` in sqlite3 lists them")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


_MIGRATION_LOCK = 0x484D  # PostgreSQL's advisory lock class of migrations (imports take 0x4846-0x4847)


class UnknownRevision(Exception):
    """The database was migrated by a newer Heard (a deploy rolled back): this one cannot
    tell what its schema holds, so it changes nothing and says so in one line."""


class MigrationBrokeKeys(Exception):
    """A migration on SQLite left a foreign key pointing at nothing; nothing was committed."""


def _at_head(engine: Engine) -> bool:
    """True when the database is at the one head the migration files name (no Alembic)."""
    head = _file_head()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:  # no table yet: a new database
        return False
    return found == [head]


def _file_head() -> str | None:
    """The head revision by the files' own lines, or None when that is not one plain string
    (a merge, a branch, a file this reading does not understand: Alembic decides then)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        revision, parent = fields.get("revision", ""), fields.get("down_revision", "")
        if not re.fullmatch(r"""(['"])[\w.-]+\1""", revision):
            return None
        revisions.add(revision[1:-1])
        if re.fullmatch(r"""(['"])[\w.-]+\1""", parent):
            parents.add(parent[1:-1])
        elif parent != "None":
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
