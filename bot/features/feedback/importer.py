"""`heard feedback import FILE.csv`: feedback from other tools, streamed in batches.

The file has a header naming the columns `text, author, created_at, source, url` (any
order; other columns are ignored). Each row becomes one item said at `created_at`.
A bad row (empty text, a date that is not one, bytes that are not UTF-8, a wrong number
of fields) is reported with its line number and skipped; the rest is imported. A row's
identity is a hash of its five values, so importing the same file again adds nothing,
and a row whose `url` is the Slack permalink of a message Heard already tracks is that
item, not a second one.

The file is read as a stream and inserted `BATCH_SIZE` rows at a time, one
transaction each, with one prepared `INSERT … ON CONFLICT DO NOTHING` run by the
driver's executemany (no ORM objects, values converted once per column), so 100,000 rows
need neither much memory nor one long transaction. The workspace's import keys are read
once before the first row, so a row imported before is counted as known without being
sent to the database: a re-import only reads and checks the file. Rows that are plain
ASCII (most exports) skip the Unicode clean-up.

A team Heard is not installed in yet is recorded as a workspace awaiting installation,
so a company can load its history before it connects Slack (`import_target`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

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
    values: dict  # FeedbackItem column values, without the workspace


class Known(NamedTuple):
    """A good row whose import key the workspace already holds: imported before."""

    line: int


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


def read_rows(binary, *, now: datetime, known: Container[str] = frozenset()) -> Iterator[Row | Known | BadRow]:
    """Rows of a feedback CSV, each a `Row` or a `BadRow` (or `Known`, when its import key
    is in `known`: it was imported, so it was good); CsvHeaderError if the header is not
    usable. Never loads the file whole."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvHeaderError("the file is empty; it needs a header: " + ", ".join(COLUMNS)) from None
    except csv.Error as exc:
        raise CsvHeaderError(f"line 1 is not a CSV header ({exc})") from None
    index = _header_index(header)
    pick, width = itemgetter(*(index[column] for column in COLUMNS)), len(header)
    start = reader.line_num + 1
    while True:
        try:
            for fields in reader:  # the loop is only left for an error in the file
                if fields and fields != [""]:  # else a blank line
                    yield _row(start, fields, pick, width, now, known)
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


def _row(line: int, fields: list[str], pick: Callable, width: int, now: datetime,
         known: Container[str] = frozenset()) -> Row | Known | BadRow:  # fmt: skip
    """One data row; `pick` takes its `COLUMNS` out of the fields, in that order."""
    if len(fields) != width:
        return BadRow(line, f"has {len(fields)} fields, the header has {width}")
    text, author, created, origin, url = pick(fields)
    joined = "".join(fields)
    plain = joined.isascii()  # no surrogates to find and nothing to re-encode
    if not plain and _NOT_UTF8.search(joined):
        return BadRow(line, "is not valid UTF-8; save the file as CSV UTF-8")
    if "\x00" in joined:
        text, author, created, origin, url = (v.replace("\x00", "") for v in (text, author, created, origin, url))
    if not plain:
        text, author = service.clean_text(text), service.clean_text(author)
    if not text or text.isspace():
        return BadRow(line, "text is empty")
    try:
        said_at, said_iso = _said_at(created, now)
    except ValueError as exc:
        return BadRow(line, str(exc))
    url, author, origin = url.strip(), author.strip(), origin.strip()
    key = hashlib.sha256(f"{text}\x1f{author}\x1f{said_iso}\x1f{origin}\x1f{url}".encode()).hexdigest()
    if key in known:
        return Known(line)
    if url and (len(url) > MAX_URL or not markup.is_link_url(url)):
        return BadRow(line, "url must be an http(s) address")
    user = _author_id(author)
    channel_id = message_ts = None
    permalink = _PERMALINK.match(url) if "slack.com/archives/" in url else None
    if permalink and markup.is_conversation_id(permalink.group(1)):
        channel_id, message_ts = permalink.group(1), f"{permalink.group(2)}.{permalink.group(3)}"
    if not plain:
        origin = service.clean_text(origin).strip()
    return Row(line, {
        "text": text, "source": Source.IMPORT,
        "reporter_user_id": user,
        "reporter_name": None if user else (author[:service.MAX_NAME] or None),
        "origin": origin[:service.MAX_ORIGIN] or None, "permalink": url or None,
        "channel_id": channel_id, "message_ts": message_ts, "import_key": key,
        "said_at": said_at, "stored_at": now, "status": ItemStatus.OPEN, "ignored_at": None,
    })  # fmt: skip


def _author_id(author: str) -> str | None:
    """The user id when the author column names a Slack user: `U0123`, `@U0123` or
    `<@U0123|maya>`. Anything else is a name."""
    if author[:1] not in ("<", "@", "U", "W"):
        return None  # the common case, a name: no markup to read
    bare = author.removeprefix("@")
    return markup.user_id(author) or (bare if markup.is_user_id(bare) else None)


def _said_at(value: str, now: datetime) -> tuple[datetime, str]:
    """`parse_created_at`, and the moment's `isoformat()` (part of the import key), with
    a fast path for an ISO time in UTC or without a zone, the common export."""
    value = value.strip()
    if value[4:5] == "-":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            zone = moment.tzinfo
            if zone is None:
                moment = moment.replace(tzinfo=UTC)
            elif zone is not UTC and zone.utcoffset(moment) != _ZERO:
                moment = None  # another zone: the general path converts it
            if moment is not None:
                if moment > now + _FUTURE:
                    raise ValueError(f"created_at {value[:40]!r} is in the future")
                return moment, _utc_iso(value, moment)
    moment = parse_created_at(value, now)
    return moment, moment.isoformat()


def _utc_iso(value: str, moment: datetime) -> str:
    """`moment.isoformat()` (a UTC moment parsed from `value`), read off `value` when it is
    already written that way, `2026-11-20T14:30:00` and a UTC zone or none (an aware
    isoformat() costs more than parsing)."""
    size = len(value)
    if size in (19, 20, 25) and _PLAIN_ISO.match(value):
        if size == 19:
            return f"{value}+00:00"
        if size == 20 and value[19] == "Z":
            return f"{value[:19]}+00:00"
        if size == 25 and value.endswith("+00:00"):
            return value
    return f"{moment.replace(tzinfo=None).isoformat()}+00:00"


_PLAIN_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", re.ASCII)
_ZERO = timedelta(0)
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
        threshold = now - load_config(session, workspace_id).ignore_after
    before = _count(sessions, workspace_id)
    known = _import_keys(sessions, workspace_id)  # grows as rows are read: a repeated row is known too
    insert = _BulkInsert(sessions, workspace_id)
    good = 0
    with path.open("rb") as handle:
        counting = _CountingReader(handle)
        for row in read_rows(io.BufferedReader(counting), now=now, known=known):
            report.rows += 1
            if report.rows % PROGRESS_ROWS == 0:
                progress(counting.count)
            if isinstance(row, BadRow):
                report.add_bad(row)
                continue
            good += 1
            if isinstance(row, Known):
                continue  # imported before (or earlier in this file): nothing to send
            values = row.values
            known.add(values["import_key"])
            if values["said_at"] < threshold:
                values["status"], values["ignored_at"] = ItemStatus.IGNORED, now
            insert.add(values)
        insert.flush()
        progress(counting.count)
    report.imported = _count(sessions, workspace_id) - before if insert.sent else 0
    report.known = good - report.imported
    if insert.sent:
        with sessions.begin() as session:
            config = load_config(session, workspace_id)
            service.apply_ignore_rule(session, workspace_id, config.ignore_after, now=now)
    return report


class _BulkInsert:
    """Rows into feedback_items, `BATCH_SIZE` to a transaction, through the driver's
    executemany of one compiled `INSERT … ON CONFLICT DO NOTHING`.

    Each value goes in as SQLAlchemy would bind it: the columns' bind processors (the
    UTC datetimes' conversion, SQLite's datetime text) are looked up once and applied
    per column, not per row and key. No RETURNING: with it psycopg re-parses a
    statement per batch; the report counts the workspace's items before and after.
    """

    def __init__(self, sessions: sessionmaker[Session], workspace_id: int):
        self.sessions = sessions
        self.workspace_id = workspace_id
        self.rows: list[dict] = []
        self.sent = 0
        self._prepared: tuple | None = None

    def add(self, values: dict) -> None:
        """Queue a row; a full batch is sent."""
        self.rows.append(values)
        if len(self.rows) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        with self.sessions.begin() as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                _copy_in(connection, self.workspace_id, rows)
            else:
                self._executemany(connection, rows)
        self.sent += len(rows)

    def _executemany(self, connection, rows: list[dict]) -> None:
        sql, get, converters, positional, names = self._prepare(connection.dialect)
        if connection.dialect.name == "sqlite":  # the unique keys' indexes are random: cache them
            connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
        workspace_id = self.workspace_id
        params = []
        for row in rows:
            row["workspace_id"] = workspace_id
            values = get(row)
            if converters:
                values = list(values)
                for index, convert in converters:
                    values[index] = convert(values[index])
                values = tuple(values)
            params.append(values if positional else dict(zip(names, values, strict=True)))
        connection.exec_driver_sql(sql, params)

    def _prepare(self, dialect) -> tuple:
        if self._prepared is None:
            table = FeedbackItem.__table__
            names = ("workspace_id", *IMPORTED_COLUMNS)
            module = postgresql if dialect.name == "postgresql" else sqlite
            compiled = module.insert(table).on_conflict_do_nothing().compile(dialect=dialect, column_keys=list(names))
            order = tuple(compiled.positiontup) if dialect.positional else names
            converters = []
            for index, name in enumerate(order):
                processor = table.c[name].type._cached_bind_processor(dialect)
                if processor is not None:
                    converters.append((index, _fast(processor)))
            self._prepared = (compiled.string, itemgetter(*order), converters, dialect.positional, order)
        return self._prepared


def _fast(processor: Callable) -> Callable:
    """`processor` (a column's bind processor), remembering its last answer (every row's
    `stored_at` is one moment), and for SQLite's datetime text one isoformat call when that
    gives what the processor gives."""
    probes = (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC))

    def as_text(value):
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    convert = as_text if all(processor(p) == as_text(p) for p in probes) else processor
    last: list = [None, None]

    def remembered(value):
        if value is last[0] and value is not None:
            return last[1]
        last[0], last[1] = value, convert(value)
        return last[1]

    return remembered


def _copy_in(connection, workspace_id: int, rows: list[dict]) -> None:
    """PostgreSQL: the batch through COPY into a temporary table, then one INSERT … SELECT
    … ON CONFLICT DO NOTHING (COPY itself cannot skip conflicts), all in this transaction."""
    columns = ("workspace_id", *IMPORTED_COLUMNS)
    listed = ", ".join(columns)
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS heard_import (LIKE feedback_items INCLUDING DEFAULTS) "
                   "ON COMMIT DELETE ROWS")  # fmt: skip
    get = itemgetter(*IMPORTED_COLUMNS)
    with cursor.copy(f"COPY heard_import ({listed}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((workspace_id, *get(row)))
    cursor.execute(f"INSERT INTO feedback_items ({listed}) SELECT {listed} FROM heard_import "
                   "ON CONFLICT DO NOTHING")  # fmt: skip


# The columns an imported row sets (`_row`'s keys); every other column keeps its default.
IMPORTED_COLUMNS = ("text", "source", "reporter_user_id", "reporter_name", "origin", "permalink", "channel_id",
                    "message_ts", "import_key", "said_at", "stored_at", "status", "ignored_at")  # fmt: skip


def _import_keys(sessions: sessionmaker[Session], workspace_id: int) -> set[str]:
    """Every import key the workspace holds: one query, so a re-import sends nothing."""
    with sessions() as session:  # Core, not ORM: 100,000 strings, no objects
        return set(session.connection().execute(
            select(FeedbackItem.import_key).where(FeedbackItem.workspace_id == workspace_id,
                                                  FeedbackItem.import_key.is_not(None))
        ).scalars())  # fmt: skip


def _count(sessions: sessionmaker[Session], workspace_id: int) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(FeedbackItem).where(FeedbackItem.workspace_id == workspace_id)
        )
