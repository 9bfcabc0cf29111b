"""`heard feedback import FILE.csv`: feedback from other tools, streamed in batches.

The file has a header naming the columns `text, author, created_at, source, url` (any
order; other columns are ignored). Each row becomes one item said at `created_at`.
A bad row (empty text, a date that is not one, bytes that are not UTF-8, a wrong number
of fields) is reported with its line number and skipped; the rest is imported. A row's
identity is a hash of its five values, so importing the same file again adds nothing,
and a row whose `url` is the Slack permalink of a message Heard already tracks is that
item, not a second one.

The file is read as a stream and inserted 1,000 rows at a time with ON CONFLICT DO
NOTHING, so 100,000 rows need neither much memory nor one long transaction.

A team Heard is not installed in yet is recorded as a workspace awaiting installation,
so a company can load its history before it connects Slack (`import_target`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
BATCH_SIZE = 1000
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


@dataclass(frozen=True)
class Row:
    line: int
    values: dict  # FeedbackItem column values, without the workspace


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


def read_rows(binary, *, now: datetime) -> Iterator[Row | BadRow]:
    """Rows of a feedback CSV, each a `Row` or a `BadRow`; CsvHeaderError if the header
    is not usable. Never loads the file whole."""
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
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(start, f"not valid CSV ({exc})")
            continue
        if not fields or fields == [""]:
            continue  # a blank line
        yield _row(start, fields, index, len(header), now)


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


def _row(line: int, fields: list[str], index: dict[str, int], width: int, now: datetime) -> Row | BadRow:
    if len(fields) != width:
        return BadRow(line, f"has {len(fields)} fields, the header has {width}")
    if any(_NOT_UTF8.search(value) for value in fields):
        return BadRow(line, "is not valid UTF-8; save the file as CSV UTF-8")
    text, author, created, origin, url = (fields[index[c]].replace("\x00", "") for c in COLUMNS)
    text = service.clean_text(text)
    if not text.strip():
        return BadRow(line, "text is empty")
    try:
        said_at = parse_created_at(created, now)
    except ValueError as exc:
        return BadRow(line, str(exc))
    url = url.strip()
    if url and (len(url) > MAX_URL or not markup.is_link_url(url)):
        return BadRow(line, "url must be an http(s) address")
    author = service.clean_text(author).strip()
    user = _author_id(author)
    channel_id = message_ts = None
    permalink = _PERMALINK.match(url) if url else None
    if permalink and markup.is_conversation_id(permalink.group(1)):
        channel_id, message_ts = permalink.group(1), f"{permalink.group(2)}.{permalink.group(3)}"
    key = hashlib.sha256(
        "\x1f".join((text, author, said_at.isoformat(), origin.strip(), url)).encode("utf-8")
    ).hexdigest()
    return Row(line, {
        "text": text, "source": Source.IMPORT,
        "reporter_user_id": user,
        "reporter_name": None if user else service.fit(author, service.MAX_NAME),
        "origin": service.fit(origin, service.MAX_ORIGIN), "permalink": url or None,
        "channel_id": channel_id, "message_ts": message_ts, "import_key": key,
        "said_at": said_at, "stored_at": now, "status": ItemStatus.OPEN,
    })  # fmt: skip


def _author_id(author: str) -> str | None:
    """The user id when the author column names a Slack user: `U0123`, `@U0123` or
    `<@U0123|maya>`. Anything else is a name."""
    bare = author.removeprefix("@")
    return markup.user_id(author) or (bare if markup.is_user_id(bare) else None)


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
    if moment > now + timedelta(days=1):
        raise ValueError(f"created_at {value[:40]!r} is in the future")
    return moment


def import_file(
    sessions: sessionmaker[Session], workspace_id: int, path: Path, *, now: datetime,
    progress: Callable[[int], None] = lambda done: None,
) -> ImportReport:  # fmt: skip
    """Import `path` into the workspace; `progress(bytes_read)` is called as it goes.
    Raises CsvHeaderError (nothing imported) when the header is wrong."""
    report = ImportReport(ignored_columns=check_header(path))
    before = _count(sessions, workspace_id)
    good = 0
    with path.open("rb") as handle:
        counting = _CountingReader(handle)
        batch: list[dict] = []
        for row in read_rows(io.BufferedReader(counting), now=now):
            report.rows += 1
            if isinstance(row, BadRow):
                report.add_bad(row)
                continue
            good += 1
            batch.append({**row.values, "workspace_id": workspace_id})
            if len(batch) >= BATCH_SIZE:
                _insert(sessions, batch)
                batch = []
                progress(counting.count)
        if batch:
            _insert(sessions, batch)
        progress(counting.count)
    report.imported = _count(sessions, workspace_id) - before
    report.known = good - report.imported
    with sessions.begin() as session:
        config = load_config(session, workspace_id)
        service.apply_ignore_rule(session, workspace_id, config.ignore_after, now=now)
    return report


def _insert(sessions: sessionmaker[Session], batch: list[dict]) -> None:
    # No RETURNING: with it psycopg re-parses a 14,000-parameter statement per batch,
    # more than twice as slow; the report counts the workspace's items before and after.
    with sessions.begin() as session:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(FeedbackItem.__table__).on_conflict_do_nothing(), batch)


def _count(sessions: sessionmaker[Session], workspace_id: int) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(FeedbackItem).where(FeedbackItem.workspace_id == workspace_id)
        )
