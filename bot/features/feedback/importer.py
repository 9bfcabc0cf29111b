"""`heard feedback import FILE.csv`: feedback from other tools, streamed in batches.

The file has a header naming the columns `text, author, created_at, source, url` (any
order; other columns are ignored). Each row becomes one item said at `created_at`.
A bad row (empty text, a date that is not one, bytes that are not UTF-8, a wrong number
of fields) is reported with its line number and skipped; the rest is imported. A row's
identity is a hash of its five values, so importing the same file again adds nothing,
and a row whose `url` is the Slack permalink of a message Heard already tracks is that
item, not a second one.

The file is read as a stream and inserted `BATCH_SIZE` rows at a time, one
transaction each (`_BulkInsert`: multi-row INSERTs on SQLite, COPY on PostgreSQL, no
ORM objects, times handed over as UTC text), by a writer thread while the next rows are
read, so 100,000 rows need neither much memory nor one long transaction, and the
database's work overlaps the reading. The workspace's import keys are read once before
the first row, so a row imported before is counted as known without being sent to the
database: a re-import only reads and checks the file. Rows that are plain ASCII (most
exports) skip the Unicode clean-up; times written the common way (`2026-11-20T14:30:00Z`,
no zone, `2026-11-20`) are read without building an aware datetime.

A team Heard is not installed in yet is recorded as a workspace awaiting installation,
so a company can load its history before it connects Slack (`import_target`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import queue
import re
import sqlite3
import threading
from binascii import b2a_base64
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple, Self

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.unit import in_unit
from bot.features.feedback import service
from bot.features.feedback.config import load_config
from bot.features.feedback.kinds import ItemStatus, Source
from bot.features.feedback.models import FeedbackItem
from bot.slack import markup
from bot.workspaces import active_workspaces, find, record_awaiting_install

COLUMNS = ("text", "author", "created_at", "source", "url")
BATCH_SIZE = 5000  # rows per transaction: a write lock of tens of milliseconds on SQLite
PROGRESS_ROWS = 1000  # rows read between two updates of the progress bar
SQLITE_CACHE_KB = 64 * 1024  # SQLite's page cache while importing (its default is 2 MB)
MAX_FIELD = 16 * 1024 * 1024  # "keep huge texts": far above any real message, below memory trouble
MAX_URL = 2000
MAX_REPORTED = 1000  # bad rows kept for the report; the rest are only counted
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_PERMALINK = re.compile(r"^https://[^/]+\.slack\.com/archives/([^/]+)/p(\d{10})(\d{6})(?:[?#].*)?$")
_EPOCH = re.compile(r"^\d{9,10}(\.\d{1,6})?$")


class CsvHeaderError(ValueError):
    """The file's first line is not the header Heard needs; the message says what is."""


class NoTeam(ValueError):
    """Which workspace to import into is not clear; the message says what to pass."""


@dataclass(frozen=True)
class ImportTarget:
    workspace_id: int
    team_id: str
    note: str | None = None  # one line for the person importing, when the team is not installed


def import_target(session: Session, team_id: str | None) -> ImportTarget:
    """The workspace to import into. Without a team id, the one installed workspace. A
    team Heard has never seen is recorded as awaiting installation, so its history can
    be loaded before Slack is connected; installing Heard there later keeps it."""
    if team_id is None:
        installed = active_workspaces(session)
        if len(installed) == 1:
            return ImportTarget(installed[0].id, installed[0].team_id)
        if not installed:
            raise NoTeam("no workspace is installed yet; pass --team with its Slack team id "
                         "(like T0123ABCD) to import before Heard is installed there")  # fmt: skip
        teams = ", ".join(w.team_id for w in installed)
        raise NoTeam(f"several workspaces are installed; pick one with --team ({teams})")
    if not markup.is_team_id(team_id):
        shown = team_id[:40].encode("unicode_escape").decode()
        raise NoTeam(f"--team {shown!r} is not a Slack team id; they look like T0123ABCD")
    workspace = find(session, team_id)
    if workspace is None:
        workspace = record_awaiting_install(session, team_id)
        return ImportTarget(workspace.id, team_id, (
            f"Heard is not installed in {team_id} yet: recorded it as a workspace awaiting "
            "installation; its feedback will be there when Heard is installed."
        ))  # fmt: skip
    if workspace.awaiting_install:
        note = f"{team_id} is awaiting installation; its feedback will be there when Heard is installed."
    elif not workspace.active:
        note = f"Heard was uninstalled from {team_id}; its feedback will be there if Heard is reinstalled."
    else:
        note = None
    return ImportTarget(workspace.id, team_id, note)


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0  # data rows read (good and bad)
    imported: int = 0
    known: int = 0  # already in Heard (re-import, or a message Heard tracks)
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0
    ignored_columns: tuple[str, ...] = ()

    def add_bad(self, bad: BadRow) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append(bad)


class Row(NamedTuple):
    line: int
    values: tuple  # the item's `ROW_COLUMNS`, in that order (said_at as `stored_time` text)


class Known(NamedTuple):
    """A good row whose import key the workspace already holds: imported before."""

    line: int


# What `read_rows` gives for a good row, in this order; the workspace, the door, the
# moment of the import and the status are the same for a whole batch and added on insert.
ROW_COLUMNS = ("text", "reporter_user_id", "reporter_name", "origin", "permalink", "channel_id", "message_ts",
               "import_key", "said_at")  # fmt: skip
_KEY, _SAID = ROW_COLUMNS.index("import_key"), ROW_COLUMNS.index("said_at")


def import_key(text: str, author: str, said_iso: str, origin: str, url: str) -> str:
    """A row's identity: the second it was said in UTC (`2026-11-20T14:30:00`), then the
    SHA-256 of its five values in base64 (43 characters, 62 in all). Keys that start with
    their time go into the unique index in the file's order, at its end, where random
    keys rewrote most of the index's pages in every batch. Migration 0012 turned the
    earlier keys (the same hash in hex) into these, and can turn them back."""
    digest = hashlib.sha256(f"{text}\x1f{author}\x1f{said_iso}\x1f{origin}\x1f{url}".encode()).digest()
    return said_iso[:19] + b2a_base64(digest, newline=False)[:43].decode()


def stored_time(moment: datetime) -> str:
    """An aware moment as the text `read_rows` gives for it: UTC, `2026-11-20 14:30:00.000000`,
    what SQLite stores for it (and PostgreSQL reads as UTC). Texts of this one width
    compare as the moments do."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class _CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read, for the progress bar."""

    def __init__(self, raw):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        read = self.raw.readinto(buffer)
        self.count += read or 0
        return read


class _Scanned(io.RawIOBase):
    """A binary stream that remembers whether every byte read so far (after a UTF-8 BOM)
    was ASCII and not NUL: one C-speed look at each chunk, which spares most files the
    per-row checks for bytes that are not UTF-8 and for NULs."""

    def __init__(self, raw):
        self.raw = raw
        self.plain = True
        self._first = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        read = self.raw.readinto(buffer)
        if read and self.plain:
            chunk = bytes(memoryview(buffer)[:read])
            if self._first and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            self._first = False
            self.plain = chunk.isascii() and b"\x00" not in chunk
        return read


def read_rows(binary, *, now: datetime, known: Container[str] = frozenset()) -> Iterator[Row | Known | BadRow]:
    """Rows of a feedback CSV, each a `Row` or a `BadRow` (or `Known`, when its import key
    is in `known`: it was imported, so it was good); CsvHeaderError if the header is not
    usable. Never loads the file whole."""
    scanned = _Scanned(binary)
    text = io.TextIOWrapper(io.BufferedReader(scanned), encoding="utf-8-sig", errors="surrogateescape", newline="")
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvHeaderError("the file is empty; it needs a header: " + ", ".join(COLUMNS)) from None
    except csv.Error as exc:
        raise CsvHeaderError(f"line 1 is not a CSV header ({exc})") from None
    index = _header_index(header)
    check = _row_checker(itemgetter(*(index[column] for column in COLUMNS)), len(header), now, known, scanned)
    start = reader.line_num + 1
    while True:
        try:
            for fields in reader:  # the loop is only left for an error in the file
                if fields and fields != [""]:  # else a blank line
                    yield check(start, fields)
                start = reader.line_num + 1
            return
        except csv.Error as exc:
            yield BadRow(start, f"not valid CSV ({exc})")
            start = reader.line_num + 1


def _header_index(header: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    if any(_NOT_UTF8.search(name) for name in names):
        raise CsvHeaderError("the file is not UTF-8; save it as CSV UTF-8 and try again")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        found = ", ".join(n[:30] for n in names[:8]) or "nothing"
        raise CsvHeaderError(
            f"the header must name the columns {', '.join(COLUMNS)}; "
            f"missing {', '.join(missing)} (line 1 has: {found})"
        )
    return {column: names.index(column) for column in COLUMNS}


def check_header(path: Path) -> tuple[str, ...]:
    """Raise CsvHeaderError unless the file starts with a usable header; returns the
    header's columns Heard does not use (reported, not an error)."""
    with path.open("rb") as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
        csv.field_size_limit(MAX_FIELD)
        try:
            header = next(csv.reader(text))
        except StopIteration:
            raise CsvHeaderError("the file is empty; it needs a header: " + ", ".join(COLUMNS)) from None
        except csv.Error as exc:
            raise CsvHeaderError(f"line 1 is not a CSV header ({exc})") from None
    _header_index(header)
    return tuple(n for n in (name.strip().lower() for name in header) if n and n not in COLUMNS)


def _row_checker(pick: Callable, width: int, now: datetime, known: Container[str],
                 scanned: _Scanned | None = None) -> Callable[[int, list[str]], Row | Known | BadRow]:  # fmt: skip
    """`check(line, fields)` for one data row; `pick` takes its `COLUMNS` out of the
    fields, in that order. What a file holds the same for every row (the clock's limit
    for the future, the lookups) is settled here once. While `scanned` has seen nothing
    but ASCII without NUL, a row (read from those bytes) needs no UTF-8 or NUL check."""
    latest = stored_time(now + _FUTURE)
    clean, link_url, max_name, max_origin = service.clean_text, markup.is_link_url, service.MAX_NAME, service.MAX_ORIGIN
    plain_utc, sha256 = _PLAIN_UTC.fullmatch, hashlib.sha256

    def check(line: int, fields: list[str]) -> Row | Known | BadRow:
        if len(fields) != width:
            return BadRow(line, f"has {len(fields)} fields, the header has {width}")
        text, author, created, origin, url = pick(fields)
        plain = scanned is not None and scanned.plain
        if not plain:
            joined = "".join(fields)
            plain = joined.isascii()  # no surrogates to find and nothing to re-encode
            if not plain and _NOT_UTF8.search(joined):
                return BadRow(line, "is not valid UTF-8; save the file as CSV UTF-8")
            if "\x00" in joined:
                text, author, created, origin, url = (v.replace("\x00", "") for v in (text, author, created, origin, url))
            if not plain:
                text, author = clean(text), clean(author)
        if not text or text.isspace():
            return BadRow(line, "text is empty")
        created = created.strip()
        said_at = None  # the fast path settles it once the row is known to be new
        try:
            if plain_utc(created) is not None and _is_time(created):  # `_said_at`'s fast path, inline
                said_iso = f"{created[:10]}T{created[11:19]}+00:00"
            else:
                said_at, said_iso = _said_at(created, now, latest)
        except ValueError as exc:
            return BadRow(line, str(exc))
        url, author, origin = url.strip(), author.strip(), origin.strip()
        # `import_key`, inline: one call less per row
        digest = sha256(f"{text}\x1f{author}\x1f{said_iso}\x1f{origin}\x1f{url}".encode()).digest()
        key = said_iso[:19] + b2a_base64(digest, newline=False)[:43].decode()
        if key in known:
            return Known(line)  # imported before, so not in the future then, nor now
        if said_at is None:
            said_at = f"{created[:10]} {created[11:19]}.000000"
            if said_at > latest:
                return BadRow(line, f"created_at {created[:40]!r} is in the future")
        if url and (len(url) > MAX_URL or not link_url(url)):
            return BadRow(line, "url must be an http(s) address")
        user = _author_id(author)
        channel_id = message_ts = None
        permalink = _PERMALINK.match(url) if "slack.com/archives/" in url else None
        if permalink and markup.is_conversation_id(permalink.group(1)):
            channel_id, message_ts = permalink.group(1), f"{permalink.group(2)}.{permalink.group(3)}"
        if not plain:
            origin = clean(origin).strip()
        return Row(line, (text, user, None if user else (author[:max_name] or None), origin[:max_origin] or None,
                          url or None, channel_id, message_ts, key, said_at))  # fmt: skip

    return check


def _author_id(author: str) -> str | None:
    """The user id when the author column names a Slack user: `U0123`, `@U0123` or
    `<@U0123|maya>`. Anything else is a name."""
    if author[:1] not in ("<", "@", "U", "W"):
        return None  # the common case, a name: no markup to read
    bare = author.removeprefix("@")
    return markup.user_id(author) or (bare if markup.is_user_id(bare) else None)


def _is_time(value: str) -> bool:
    """Whether `value` (shaped like a time) is one: not 2026-02-30, not 25:00."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _said_at(value: str, now: datetime, latest: str | None = None) -> tuple[str, str]:
    """`parse_created_at` as (`stored_time` of the moment, the moment's `isoformat()`, part
    of the import key), with a fast path that reads both off the text of the common
    export, `2026-11-20T14:30:00` (or with a space) in UTC (`Z`, `+00:00`) or with no
    zone, and `2026-11-20`. `latest` is `stored_time(now + 1 day)`, settled by the caller
    once per file."""
    value = value.strip()
    size = len(value)
    if size == 10 or 19 <= size <= 25:
        shape = _PLAIN_DATE.fullmatch(value) if size == 10 else _PLAIN_UTC.fullmatch(value)
        if shape is not None and _is_time(value):  # else the general path says what is wrong
            day, time = value[:10], (value[11:19] if size > 10 else "00:00:00")
            stored = f"{day} {time}.000000"
            if stored > (latest or stored_time(now + _FUTURE)):
                raise ValueError(f"created_at {value[:40]!r} is in the future")
            return stored, f"{day}T{time}+00:00"
    moment = parse_created_at(value, now)
    return stored_time(moment), moment.isoformat()


_PLAIN_DATE = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)
_PLAIN_UTC = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:Z|\+00:00)?", re.ASCII)
_FUTURE = timedelta(days=1)  # a clock a little ahead is not the future


def parse_created_at(value: str, now: datetime) -> datetime:
    """ISO 8601 (`2026-11-20`, `2026-11-20T14:30:00Z`, `2026-11-20 14:30+01:00`) or epoch
    seconds; a time without a zone is UTC. Dates in the future are refused."""
    value = (value or "").strip()
    if not value:
        raise ValueError("created_at is empty")
    try:
        if _EPOCH.match(value):
            moment = datetime.fromtimestamp(float(value), UTC)
        else:
            moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        shown = value[:40].encode("unicode_escape").decode()
        raise ValueError(
            f"created_at {shown!r} is not a date; use ISO 8601 like 2026-11-20T14:30:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment > now + _FUTURE:
        raise ValueError(f"created_at {value[:40]!r} is in the future")
    return moment


def import_file(
    sessions: sessionmaker[Session], workspace_id: int, path: Path, *, now: datetime,
    progress: Callable[[int], None] = lambda done: None,
) -> ImportReport:  # fmt: skip
    """Import `path` into the workspace; `progress(bytes_read)` is called as it goes.
    Raises CsvHeaderError (nothing imported) when the header is wrong."""
    report = ImportReport(ignored_columns=check_header(path))
    with sessions() as session:
        # Rows said before the ignore-after window are stored ignored, as the sweep would
        # leave them: no UPDATE of every imported row afterwards.
        threshold = stored_time(now - load_config(session, workspace_id).ignore_after)
    before = _count(sessions, workspace_id)
    known = _import_keys(sessions, workspace_id)  # grows as rows are read: a repeated row is known too
    rows, bad, good = 0, report.add_bad, 0
    with path.open("rb") as handle, _BulkInsert(sessions, workspace_id, now, background=True) as insert:
        is_open, is_ignored = (ItemStatus.OPEN.value, None), (ItemStatus.IGNORED.value, insert.now)
        counting = _CountingReader(handle)
        for row in read_rows(io.BufferedReader(counting), now=now, known=known):
            rows += 1
            if not rows % PROGRESS_ROWS:
                progress(counting.count)
            kind = type(row)
            if kind is BadRow:
                bad(row)
                continue
            good += 1
            if kind is Known:
                continue  # imported before (or earlier in this file): nothing to send
            values = row.values
            known.add(values[_KEY])
            insert.add(values + (is_ignored if values[_SAID] < threshold else is_open))
        insert.close()
        progress(counting.count)
    report.rows = rows
    report.imported = _count(sessions, workspace_id) - before if insert.sent else 0
    report.known = good - report.imported
    if insert.sent:
        with sessions.begin() as session:
            config = load_config(session, workspace_id)
            service.apply_ignore_rule(session, workspace_id, config.ignore_after, now=now)
    return report


# The columns `_BulkInsert` writes: the same for the whole import, then a row's values, then its status.
INSERT_COLUMNS = ("workspace_id", "source", "stored_at", *ROW_COLUMNS, "status", "ignored_at")
_SQLITE_ROWS = 2500  # rows per INSERT on SQLite, 11 values each (fewer where SQLite allows fewer than 32,766)
QUEUED_BATCHES = 2  # batches read ahead of the writer thread (memory: 2 x BATCH_SIZE rows)


class _BulkInsert:
    """Rows into feedback_items, `BATCH_SIZE` to a transaction, each batch committed on its
    own (an import stopped halfway keeps the batches sent, and running it again adds the
    rest).

    SQLite: `INSERT … VALUES (…), (…), … ON CONFLICT DO NOTHING`, `_SQLITE_ROWS` rows to a
    statement, the values bound as they are (the times already SQLite's text): one call
    into SQLite for thousands of rows, where the driver's executemany made one per row.
    PostgreSQL: `COPY` straight into feedback_items; when a row of the batch names a Slack
    message (its url is a permalink, which may be an item already) or the COPY meets a
    unique key (another import of the same file at the same time), the batch goes
    through a temporary table and `INSERT … SELECT … ON CONFLICT DO NOTHING` instead.
    No RETURNING: the report counts the workspace's items before and after.

    With `background`, a thread of its own writes the batches while the caller reads the
    next rows: SQLite runs a statement and PostgreSQL answers without holding Python's
    lock, so the database's work and the reading overlap on two cores. At most
    `QUEUED_BATCHES` wait for it. A failed write stops the import: the next `add` or
    `close` raises it, and the batches still queued are dropped (none was committed).
    Inside a unit of work (`bot.db.unit`), whose session belongs to its thread, the
    batches are written in the caller's thread.
    """

    def __init__(self, sessions: sessionmaker[Session], workspace_id: int, now: datetime, *,
                 background: bool = False):  # fmt: skip
        self.sessions = sessions
        self.now = stored_time(now)
        self.batch_start = (workspace_id, Source.IMPORT.value, self.now)
        self.rows: list[tuple] = []
        self.sent = 0
        self._failed: BaseException | None = None
        self._queue: queue.Queue[list[tuple] | None] | None = None
        self._thread: threading.Thread | None = None
        if background and not in_unit():
            self._queue = queue.Queue(QUEUED_BATCHES)
            self._thread = threading.Thread(target=self._write_queued, name="heard-import-writer", daemon=True)
            self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, error, _tb) -> None:
        if error is None:
            self.close()
        else:
            self._stop(drop=True)

    def add(self, values: tuple) -> None:
        """Queue a row (its `INSERT_COLUMNS` after the first three); a full batch is sent."""
        self.rows.append(values)
        if len(self.rows) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        """Send the rows queued so far (to the writer thread, when there is one)."""
        if self._failed is not None:
            raise self._failed
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        if self._queue is None:
            self._write(rows)
        else:
            self._queue.put(rows)

    def close(self) -> None:
        """Send what is left and wait until every batch is committed; raises a failed write."""
        self.flush()
        self._stop(drop=False)
        if self._failed is not None:
            raise self._failed

    def _stop(self, *, drop: bool) -> None:
        if self._thread is None:
            return
        if drop:
            self._failed = self._failed or _Stopped()
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def _write_queued(self) -> None:
        while (rows := self._queue.get()) is not None:
            if self._failed is None:  # after a failure, only emptied
                try:
                    self._write(rows)
                except BaseException as failed:  # noqa: BLE001 - raised in the caller's thread
                    self._failed = failed

    def _write(self, rows: list[tuple]) -> None:
        with self.sessions.begin() as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                _copy_in(connection.connection.driver_connection, self.batch_start, rows)
            else:
                self._insert_sqlite(connection, rows)
        self.sent += len(rows)

    def _insert_sqlite(self, connection, rows: list[tuple]) -> None:
        connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
        driver = connection.connection.driver_connection
        each = len(INSERT_COLUMNS) - len(self.batch_start)  # values bound per row
        size = max(1, min(_SQLITE_ROWS, (driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 3) // each))
        for start in range(0, len(rows), size):
            part = rows[start:start + size]
            connection.exec_driver_sql(_sqlite_insert(len(part)), (*self.batch_start, *chain.from_iterable(part)))


class _Stopped(Exception):
    """The import stopped before its last batch (an error while reading, Ctrl-C)."""


@cache
def _sqlite_insert(count: int) -> str:
    """The INSERT of `count` rows: ?1-?3 are the import's, the rest each row's, in order."""
    each = "(?1, ?2, ?3, " + ", ".join("?" * (len(INSERT_COLUMNS) - 3)) + ")"
    return (f"INSERT INTO feedback_items ({', '.join(INSERT_COLUMNS)}) VALUES "
            + ", ".join([each] * count) + " ON CONFLICT DO NOTHING")  # fmt: skip


_IMPORT_LOCK = 0x4846  # the advisory lock class of feedback imports (the key's first half)


def _copy_in(driver, batch_start: tuple, rows: list[tuple]) -> None:
    """PostgreSQL: the batch by COPY, in the caller's transaction (see `_BulkInsert`)."""
    from psycopg.errors import UniqueViolation

    listed = ", ".join(INSERT_COLUMNS)
    cursor = driver.cursor()
    cursor.execute("SET LOCAL TimeZone = 'UTC'")  # the times are UTC text (`stored_time`)
    # One batch at a time per workspace: two imports meeting the same rows in different
    # orders would each wait on the other's unique keys (a deadlock PostgreSQL ends by
    # failing one). The lock is the transaction's, released by its commit.
    cursor.execute("SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", (_IMPORT_LOCK, batch_start[0]))
    channel = ROW_COLUMNS.index("channel_id")
    if not any(row[channel] for row in rows):
        cursor.execute("SAVEPOINT heard_import")
        try:
            with cursor.copy(f"COPY feedback_items ({listed}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*batch_start, *row))
        except UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT heard_import")
        else:
            cursor.execute("RELEASE SAVEPOINT heard_import")
            return
    cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS heard_import (LIKE feedback_items INCLUDING DEFAULTS) "
                   "ON COMMIT DELETE ROWS")  # fmt: skip
    with cursor.copy(f"COPY heard_import ({listed}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((*batch_start, *row))
    cursor.execute(f"INSERT INTO feedback_items ({listed}) SELECT {listed} FROM heard_import "
                   "ON CONFLICT DO NOTHING")  # fmt: skip


def _import_keys(sessions: sessionmaker[Session], workspace_id: int) -> set[str]:
    """Every import key the workspace holds: one query, read by the driver (no ORM, no
    result rows), so a re-import sends nothing."""
    with sessions() as session:
        cursor = session.connection().exec_driver_sql(
            "SELECT import_key FROM feedback_items WHERE workspace_id = "
            f"{int(workspace_id)} AND import_key IS NOT NULL"
        )
        return set(map(itemgetter(0), cursor.cursor.fetchall()))


def _count(sessions: sessionmaker[Session], workspace_id: int) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(FeedbackItem).where(FeedbackItem.workspace_id == workspace_id)
        )
