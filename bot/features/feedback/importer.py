"""`heard feedback import FILE.csv`: feedback from other tools, streamed in batches.

The file has a header naming the columns `text, author, created_at, source, url` (any
order, each once; other columns are ignored). Each row becomes one item said at
`created_at`. A bad row (empty text, a date that is not one, bytes that are not UTF-8, a
wrong number of fields, a value longer than its column, a quote never closed) is
reported with its line number and skipped; the rest is imported. A row's identity is a
hash of its five values, so importing the same file again adds nothing, and a row whose
`url` is the Slack permalink of a message Heard already tracks is that item, not a
second one. The `feedback.csv` of `heard export` is read too (`_header_index`), and
adds nothing to the workspace it came from (`_exported_keys`).

The file is read as a stream, `CHUNK_ROWS` rows at a time, each rule asked of a whole
column in a few calls into C (`_ChunkChecker`; a row the quick rules do not clear goes
through the row-by-row check, `_row_checker`, with the same answer), and inserted
`BATCH_SIZE` rows at a time, one transaction each (`_BulkInsert`: multi-row INSERTs on
SQLite, COPY on PostgreSQL, no ORM objects, times handed over as UTC text), by a writer
thread (two on PostgreSQL, one import at a time per workspace: `_import_lock`) while
the next rows are read, so 100,000 rows need neither much memory nor one long
transaction, and the database's work overlaps the reading (`_importing` sets the
interpreter for that). The workspace's import keys are read once before the first row,
so a row imported before is counted as known without being sent to the database: a
re-import only reads the file and makes each row's key.

A team Heard is not installed in yet is recorded as a workspace awaiting installation,
so a company can load its history before it connects Slack (`import_target`).
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import queue
import re
import sqlite3
import sys
import threading
from binascii import b2a_base64
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import chain, islice, repeat
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import NamedTuple, Self

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.unit import in_unit
from bot.features.feedback import service
from bot.features.feedback.config import load_config
from bot.features.feedback.kinds import ItemStatus, Source
from bot.features.feedback.models import FeedbackItem
from bot.rooms import FORMULA_START
from bot.slack import markup
from bot.workspaces import active_workspaces, find, record_awaiting_install

COLUMNS = ("text", "author", "created_at", "source", "url")
BATCH_SIZE = 5000  # rows per transaction: a write lock of tens of milliseconds on SQLite
PROGRESS_ROWS = 1000  # rows read between two updates of the progress bar
CHUNK_ROWS = 500  # rows read, then checked a column at a time (`_ChunkChecker`)
SQLITE_CACHE_KB = 64 * 1024  # SQLite's page cache while importing (its default is 2 MB)
MAX_FIELD = 16 * 1024 * 1024  # "keep huge texts": far above any real message, below memory trouble
MAX_URL = 2000
MAX_REPORTED = 1000  # bad rows kept for the report; the rest are only counted
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_PERMALINK = re.compile(r"^https://[^/]+\.slack\.com/archives/([^/]+)/p(\d{10})(\d{6})(?:[?#].*)?$", re.ASCII)
_EPOCH = re.compile(r"^\d{9,10}(\.\d{1,6})?$", re.ASCII)  # not １２３４５６７８９０


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


# What `_row_checker` gives for a good row, in this order; the workspace, the door, the
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
    """An aware moment as the text `read_chunks` gives for it: UTC, `2026-11-20 14:30:00.000000`,
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


@dataclass
class Chunk:
    """What `read_chunks` gives for up to `CHUNK_ROWS` data rows of the file, in its order."""

    rows: list[tuple]  # the new good rows, each its `INSERT_COLUMNS` after the import's three
    read: int = 0  # data rows read: good and bad, blank lines not counted
    known: int = 0  # good rows whose import key the workspace holds, or an earlier row of the file
    bad: list[BadRow] = field(default_factory=list)


def read_chunks(binary, *, now: datetime, known: set[str], ignore_before: str | None = None) -> Iterator[Chunk]:
    """The rows of a feedback CSV, `CHUNK_ROWS` at a time; CsvHeaderError if the header is
    not usable. Never loads the file whole. `known` holds the workspace's import keys and
    gets each new row's key, so a row repeated later in the file is known too. A row said
    before `ignore_before` (a `stored_time` text) is given as ignored, the others as open."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
    csv.field_size_limit(MAX_FIELD)
    # The file, then `_END`: the csv module ends a quoted field that is never closed at the
    # end of the file without a word, so the rest of the file would be one field of the last row.
    reader = csv.reader(chain(text, (_END,)))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise CsvHeaderError(f"line 1 is not a CSV header ({exc})") from None
    if header == [_END_MARK]:
        raise CsvHeaderError("the file is empty; it needs a header: " + ", ".join(COLUMNS))
    index, export = _header_index(header)
    used = sorted(index.values())
    check = _ChunkChecker(index, len(header), now, known, ignore_before)
    start, more = reader.line_num + 1, True
    while more:
        chunk, ends, failed = [], [], None
        add, end = chunk.append, ends.append
        try:
            for fields in islice(reader, CHUNK_ROWS):
                add(fields)
                end(reader.line_num)  # the row's last line: the next one starts after it
        except csv.Error as exc:
            failed = exc
        more = failed is not None or len(chunk) == CHUNK_ROWS
        unclosed = None
        if chunk and chunk[-1] and chunk[-1][-1].endswith(_END_MARK):  # the end of the file
            unclosed = _at_end(chunk, ends, start, reader.line_num - 1)
        if export:  # the columns read only: an export has twelve, the import reads five
            for fields in chunk:
                for i in used:
                    if i < len(fields):
                        fields[i] = _unescaped(fields[i])
        result = check(chunk, start, ends) if chunk else Chunk([])
        if unclosed is not None:
            result.read += 1
            result.bad.append(unclosed)
        if ends:
            start = ends[-1] + 1
        if failed is not None:
            result.read += 1
            result.bad.append(BadRow(start, f"not valid CSV ({failed})"))
            start = reader.line_num + 1
        if result.read or more:
            yield result


_END_MARK = "\x00heard: end of file\x00"  # no CSV file Heard reads holds this
_END = '"' + _END_MARK  # read as a row of its own, or as the end of a quoted field never closed
# A cell `heard export` kept a spreadsheet from running as a formula (`export.cell`): an
# apostrophe put before what a formula starts with, or before apostrophes and then that.
_ESCAPED = re.compile("'+" + FORMULA_START)
# `heard export` names two of the columns the way Heard's other exports do.
EXPORT_NAMES = {"author": "reporter", "url": "permalink"}


def _at_end(chunk: list[list[str]], ends: list[int], start: int, last_line: int) -> BadRow | None:
    """Take `_END` off the file's last rows in `chunk`: the row it makes when the file ends
    as CSV should, or the end of a quoted field that swallowed the rest of the file. That
    row is not imported: it is given back as a bad row saying where the quote opened.
    A quote opened at the very end of the file, with nothing after it, swallowed nothing."""
    fields = chunk[-1]
    if fields == [_END_MARK]:
        del chunk[-1], ends[-1]
        return None
    if fields[-1] == _END_MARK:
        fields[-1] = ""
        return None
    del chunk[-1], ends[-1]
    first = ends[-1] + 1 if ends else start
    opened = first + sum(map(_line_breaks, fields[:-1]))
    return BadRow(first, f"the quote opened on line {opened} is never closed, so lines {opened}-{last_line} "
                         "(the rest of the file) were read as one field and not imported; close the quote "
                         "and import the file again")  # fmt: skip


def _line_breaks(value: str) -> int:
    return value.count("\n") + value.count("\r") - value.count("\r\n")


def _unescaped(value: str) -> str:
    return value[1:] if value[:1] == "'" and _ESCAPED.match(value) else value


def _header_index(header: list[str]) -> tuple[dict[str, int], bool]:
    """Where each of `COLUMNS` is, and whether the file is a `heard export` (its `feedback.csv`
    names the author `reporter` and the url `permalink`; its cells lose the apostrophe
    that kept them from being formulas). A file that also says `author` or `url` is not one."""
    names = [name.strip().lower() for name in header]
    if any(_NOT_UTF8.search(name) for name in names):
        raise CsvHeaderError("the file is not UTF-8; save it as CSV UTF-8 and try again")
    export = not set(EXPORT_NAMES).intersection(names) and set(EXPORT_NAMES.values()).issubset(names)
    named = {column: EXPORT_NAMES.get(column, column) if export else column for column in COLUMNS}
    missing = [c for c in COLUMNS if named[c] not in names]
    if missing:
        found = ", ".join(n[:30] for n in names[:8]) or "nothing"
        raise CsvHeaderError(
            f"the header must name the columns {', '.join(COLUMNS)}; "
            f"missing {', '.join(missing)} (line 1 has: {found})"
        )
    twice = [named[c] for c in COLUMNS if names.count(named[c]) > 1]
    if twice:
        raise CsvHeaderError(f"the header names the column {twice[0]} twice; which one holds it is not clear: "
                             "keep one and import again")  # fmt: skip
    return {column: names.index(named[column]) for column in COLUMNS}, export


def _read_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
        csv.field_size_limit(MAX_FIELD)
        try:
            return next(csv.reader(text))
        except StopIteration:
            raise CsvHeaderError("the file is empty; it needs a header: " + ", ".join(COLUMNS)) from None
        except csv.Error as exc:
            raise CsvHeaderError(f"line 1 is not a CSV header ({exc})") from None


def check_header(path: Path) -> tuple[str, ...]:
    """Raise CsvHeaderError unless the file starts with a usable header; returns the
    header's columns Heard does not use (reported, not an error)."""
    return _ignored_columns(_read_header(path))


def _ignored_columns(header: list[str], index: dict[str, int] | None = None) -> tuple[str, ...]:
    used = set((index or _header_index(header)[0]).values())
    return tuple(n for i, n in enumerate(name.strip().lower() for name in header) if n and i not in used)


def _row_checker(pick: Callable, width: int, now: datetime,
                 known: Container[str]) -> Callable[[int, list[str]], Row | Known | BadRow]:  # fmt: skip
    """`check(line, fields)` for one data row, every rule in order: what `_ChunkChecker`
    does for a row it cannot take the quick way. `pick` takes the row's `COLUMNS` out of
    the fields, in that order. What a file holds the same for every row (the clock's
    limit for the future, the lookups) is settled here once."""
    latest = stored_time(now + _FUTURE)
    clean, link_url, max_name, max_origin = service.clean_text, markup.is_link_url, service.MAX_NAME, service.MAX_ORIGIN
    plain_utc, sha256 = _PLAIN_UTC.fullmatch, hashlib.sha256

    def check(line: int, fields: list[str]) -> Row | Known | BadRow:
        if len(fields) != width:
            return BadRow(line, f"has {len(fields)} fields, the header has {width}")
        text, author, created, origin, url = pick(fields)
        joined = "".join(fields)
        plain = joined.isascii()  # no surrogates to find and nothing to re-encode
        if not plain or "\x00" in joined:
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
        if url and len(url) > MAX_URL:
            return BadRow(line, f"url is longer than {MAX_URL} characters")
        if url and not link_url(url):
            return BadRow(line, "url must be an http(s) address")
        user = _author_id(author)
        # Cut, a value would lose its end silently and differ from what the file says.
        if user is None and len(author) > max_name:
            return BadRow(line, f"author is longer than {max_name} characters")
        if len(origin) > max_origin:
            return BadRow(line, f"source is longer than {max_origin} characters")
        channel_id = message_ts = None
        permalink = _PERMALINK.match(url) if "slack.com/archives/" in url else None
        if permalink and markup.is_conversation_id(permalink.group(1)):
            channel_id, message_ts = permalink.group(1), f"{permalink.group(2)}.{permalink.group(3)}"
        if not plain:
            origin = clean(origin).strip()
        return Row(line, (text, user, None if user else (author or None), origin or None, url or None, channel_id,
                          message_ts, key, said_at))  # fmt: skip

    return check


class _ChunkChecker:
    """`check(rows, first_line, ends)`: a `Chunk` of data rows (`ends[i]` is the last line of
    `rows[i]`), what `_row_checker` gives row by row, a column at a time.

    Each rule is asked of a whole column in one call into C (`map`, `set`, `str.join`,
    `in`) where the per-row check makes a Python call for each row: reading 100,000 rows
    takes 0.32 s of CPU, the csv module's 0.08 s included, where it took 0.47 s. A row that the quick rules do not clear (a wrong number of fields, bytes
    that are not UTF-8, a NUL, an empty text, a time not written the common way, a date in
    the future, a url that is not a plain http(s) address or is a Slack permalink, an
    author or a source longer than its column) goes
    through `_row_checker` in its turn, so every row gets the same answer either way
    (tests/features/feedback/test_import_bulk.py compares them). The quick way reads
    times of the common exports (`2026-11-20T14:30:00`, with a space, up to six digits of
    a second, `Z` or `+00:00`, and `2026-11-20`) off the text; each day is checked once
    per file (not 2026-02-30)."""

    def __init__(self, index: dict[str, int], width: int, now: datetime, known: set[str],
                 ignore_before: str | None):  # fmt: skip
        self.pick = itemgetter(*(index[column] for column in COLUMNS))
        self.width, self.known, self.ignore_before = width, known, ignore_before
        self.latest = stored_time(now + _FUTURE)
        self.one = _row_checker(self.pick, width, now, known)
        self.days: set[str] = set()  # days seen in the file that are days
        self.open, self.ignored = (ItemStatus.OPEN.value, None), (ItemStatus.IGNORED.value, stored_time(now))
        dummy = [""] * width  # stands in for a row of the wrong width while columns are read
        dummy[index["text"]], dummy[index["created_at"]] = "-", "2000-01-01"
        self.dummy = dummy

    def __call__(self, rows: list[list[str]], first_line: int, ends: list[int]) -> Chunk:
        count, known, width = len(rows), self.known, self.width
        slow: set[int] = set()  # rows for `_row_checker`: what is worked out for them here is not used
        if set(map(len, rows)) != {width}:  # a blank line, or a row of the wrong width
            slow.update(i for i, fields in enumerate(rows) if len(fields) != width)
        joined = "".join(chain.from_iterable(rows))
        if "\x00" in joined or (not joined.isascii() and _NOT_UTF8.search(joined)):
            slow.update(i for i, fields in enumerate(rows) if "\x00" in (one := "".join(fields)) or _NOT_UTF8.search(one))
        full = [self.dummy if i in slow else fields for i, fields in enumerate(rows)] if slow else rows
        texts, authors, created, origins, urls = self.pick(list(zip(*full)))
        if "" in texts or any(map(str.isspace, texts)):
            slow.update(i for i, text in enumerate(texts) if not text or text.isspace())
        created = tuple(map(str.strip, created))
        lines = "\n".join(created)
        if lines.count("\n") != count - 1 or _QUICK_TIMES(lines + "\n") is None:
            slow.update(i for i, value in enumerate(created) if _QUICK_TIME(value) is None)
        days = tuple(map(_DAY, created))
        if not self.days.issuperset(days):  # each day of the file is checked once: not 2026-02-30
            for day in set(days).difference(self.days):
                if _is_day(day):
                    self.days.add(day)
                else:
                    slow.update(i for i, value in enumerate(days) if value == day)
        times = tuple(map(_TIME, created))
        if "" in times:  # a day alone: its midnight, UTC
            times = tuple(time or "00:00:00" for time in times)
        micros = None  # each row's microseconds, when a time has a fraction of a second
        if "." in lines:
            micros = tuple(value[20:].removesuffix("Z").removesuffix("+00:00").ljust(6, "0") if value[19:20] == "."
                           else "000000" for value in created)  # fmt: skip
            said_isos = [f"{day}T{time}+00:00" if micro == "000000" else f"{day}T{time}.{micro}+00:00"
                         for day, time, micro in zip(days, times, micros)]  # as `isoformat()` gives them
        elif set(map(len, created)) == {25} and set(map(_T_AND_ZONE, created)) == {("T", "+00:00")}:
            said_isos = created  # already `isoformat()` in UTC, as Python writes it
        else:
            said_isos = [f"{day}T{time}+00:00" for day, time in zip(days, times)]
        authors, origins, urls = tuple(map(str.strip, authors)), tuple(map(str.strip, origins)), tuple(map(str.strip, urls))
        # `import_key` of each row in a few calls: the digests, each with a zero byte after it
        # (33 bytes: 44 characters of base64, the first 43 those of the digest alone), in one
        # string of base64
        digests = map(_DIGEST, map(hashlib.sha256, map(str.encode, map("\x1f".join, zip(texts, authors, said_isos,
                                                                                         origins, urls)))))  # fmt: skip
        hashes = b2a_base64(b"\x00".join(digests) + b"\x00", newline=False).decode()
        keys = [f"{iso[:19]}{hashes[at:at + 43]}" for iso, at in zip(said_isos, range(0, 44 * count, 44))]
        if not slow and all(map(known.__contains__, keys)):  # a re-import: nothing else to check
            return Chunk([], count, count)
        if micros is None:
            said_ats = [f"{day} {time}.000000" for day, time in zip(days, times)]
        else:
            said_ats = [f"{day} {time}.{micro}" for day, time, micro in zip(days, times, micros)]
        if max(said_ats) > self.latest:
            slow.update(i for i, said in enumerate(said_ats) if said > self.latest)
        if not _plain_urls(urls):
            slow.update(i for i, url in enumerate(urls) if url and (len(url) > MAX_URL or not markup.is_link_url(url)
                                                                    or "slack.com/archives/" in url))  # fmt: skip
        names, users = authors, repeat(None)
        if not set(map(_FIRST, authors)).isdisjoint("<@UW"):  # some may be Slack user ids
            users = [_author_id(author) for author in authors]
            names = [None if user else author for author, user in zip(authors, users)]
        if max(map(len, authors)) > service.MAX_NAME:  # never a user id: too long for one
            slow.update(i for i, author in enumerate(authors) if len(author) > service.MAX_NAME)
        if max(map(len, origins)) > service.MAX_ORIGIN:
            slow.update(i for i, origin in enumerate(origins) if len(origin) > service.MAX_ORIGIN)
        if "" in names:
            names = [name or None for name in names]
        if "" in origins:
            origins = [origin or None for origin in origins]
        if "" in urls:
            urls = [url or None for url in urls]
        statuses, ignored_ats = repeat(self.open[0]), repeat(None)
        if self.ignore_before is not None and min(said_ats) < self.ignore_before:
            if max(said_ats) < self.ignore_before:
                statuses, ignored_ats = repeat(self.ignored[0]), repeat(self.ignored[1])
            else:
                statuses, ignored_ats = zip(*(self.ignored if said < self.ignore_before else self.open
                                              for said in said_ats))  # fmt: skip
        made = list(zip(texts, users, names, origins, urls, repeat(None), repeat(None), keys, said_ats, statuses,
                        ignored_ats))  # fmt: skip
        if not slow and len(set(keys)) == count and not any(map(known.__contains__, keys)):  # all new
            known.update(keys)
            return Chunk(made, count)
        return self._in_order(rows, first_line, ends, slow, keys, made)

    def _in_order(self, rows, first_line, ends, slow, keys, made) -> Chunk:
        """The chunk row by row, when some rows need `_row_checker` or some are known:
        the answers in the file's order, each row's key known before the next is read."""
        known, result = self.known, Chunk([])
        for i, fields in enumerate(rows):
            if i in slow:
                if not fields or fields == [""]:
                    continue  # a blank line
                row = self.one(ends[i - 1] + 1 if i else first_line, fields)
                kind = type(row)
                if kind is BadRow:
                    result.bad.append(row)
                elif kind is Known:
                    result.known += 1
                else:
                    values = row.values
                    known.add(values[_KEY])
                    status = self.open
                    if self.ignore_before is not None and values[_SAID] < self.ignore_before:
                        status = self.ignored
                    result.rows.append(values + status)
            elif keys[i] in known:
                result.known += 1
            else:
                known.add(keys[i])
                result.rows.append(made[i])
            result.read += 1
        return result


_QUICK = r"\d{4}-\d\d-\d\d(?:[T ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|\+00:00)?)?"  # but 2026-02-30
_QUICK_TIME = re.compile(_QUICK, re.ASCII).fullmatch
_QUICK_TIMES = re.compile(f"(?:{_QUICK}\n)*", re.ASCII).fullmatch  # a column of them, one a line
_DAY, _TIME, _FIRST = itemgetter(slice(0, 10)), itemgetter(slice(11, 19)), itemgetter(slice(0, 1))
_T_AND_ZONE = itemgetter(slice(10, 11), slice(19, None))  # ("T", "+00:00") in a time of 25 characters
_HEAD, _DIGEST = itemgetter(slice(0, 8)), methodcaller("digest")


def _is_day(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _plain_urls(urls: tuple[str, ...]) -> bool:
    """Whether every url is empty or an http(s) address `markup.is_link_url` takes, in ASCII
    and no Slack permalink: a few calls for the whole column instead of a regex a row."""
    joined = "~".join(urls)
    if not (joined.isascii() and joined.isprintable()) or "slack.com/archives/" in joined:
        return False  # printable ASCII: no whitespace but the space, looked for next
    if " " in joined or "<" in joined or ">" in joined or "|" in joined or max(map(len, urls)) > MAX_URL:
        return False
    heads = set(map(_HEAD, urls)).difference(("", "https://"))
    return all(head.startswith("http://") and len(head) == 8 for head in heads) and "https://" not in urls


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
        # In the try: 0001-01-01T00:00+01:00 and 9999-12-31T23:59-05:00 are outside the
        # years a datetime holds once in UTC (OverflowError).
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        shown = value[:40].encode("unicode_escape").decode()
        raise ValueError(
            f"created_at {shown!r} is not a date; use ISO 8601 like 2026-11-20T14:30:00Z"
        ) from None
    if moment > now + _FUTURE:
        raise ValueError(f"created_at {value[:40]!r} is in the future")
    return moment


def import_file(
    sessions: sessionmaker[Session], workspace_id: int, path: Path, *, now: datetime,
    progress: Callable[[int], None] = lambda done: None, waiting: Callable[[], None] = lambda: None,
) -> ImportReport:  # fmt: skip
    """Import `path` into the workspace; `progress(bytes_read)` is called as it goes, and
    `waiting()` once if another import into the workspace must end first (PostgreSQL).
    Raises CsvHeaderError (nothing imported) when the header is wrong."""
    header = _read_header(path)
    index, export = _header_index(header)
    report = ImportReport(ignored_columns=_ignored_columns(header, index))
    with _import_lock(sessions, workspace_id, waiting) as locked:
        with sessions() as session:
            # Rows said before the ignore-after window are stored ignored, as the sweep would
            # leave them: no UPDATE of every imported row afterwards.
            ignore_before = stored_time(now - load_config(session, workspace_id).ignore_after)
        known = _import_keys(sessions, workspace_id)  # grows as rows are read: a repeated row is known too
        if export:
            known |= _exported_keys(sessions, workspace_id)
        rows = good = shown = 0
        writers = POSTGRESQL_WRITERS if locked else 1
        with _importing(), path.open("rb") as handle, \
                _BulkInsert(sessions, workspace_id, now, background=True, writers=writers, locked=locked) as insert:
            counting = _CountingReader(handle)
            for chunk in read_chunks(io.BufferedReader(counting), now=now, known=known, ignore_before=ignore_before):
                rows += chunk.read
                good += chunk.read - len(chunk.bad)
                for bad in chunk.bad:
                    report.add_bad(bad)
                if chunk.rows:
                    insert.extend(chunk.rows)
                if rows - shown >= PROGRESS_ROWS:
                    shown = rows
                    progress(counting.count)
            insert.close()
            progress(counting.count)
        report.rows = rows
        # What this import's batches stored: not the workspace's count after less before,
        # which on SQLite, where two imports may run at once, counted the other's rows too.
        report.imported = insert.inserted
        report.known = good - report.imported
    if insert.sent:
        with sessions.begin() as session:
            config = load_config(session, workspace_id)
            service.apply_ignore_rule(session, workspace_id, config.ignore_after, now=now)
    return report


@contextmanager
def _import_lock(sessions: sessionmaker[Session], workspace_id: int,
                 waiting: Callable[[], None] = lambda: None) -> Iterator[bool]:  # fmt: skip
    """PostgreSQL: one import at a time per workspace, from before it reads the workspace's
    keys to its count after the last batch (True: held). Another import says it is
    `waiting()` and waits for it, then finds its rows known. Held by a connection of its own, out of the pool, whose close
    ends the lock (even when the process is killed, with the connection). So the import's
    batches need no lock of their own and `POSTGRESQL_WRITERS` threads send them at once,
    each to a server process of its own. SQLite, with one writer at a time anyway, and a
    unit of work (`bot.db.unit`), whose session is its own, get no lock (False)."""
    if in_unit():
        yield False
        return
    with sessions() as session:
        engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        yield False
        return
    connection = engine.connect()
    connection.detach()  # closed, not given back to the pool: its session's lock goes with it
    try:
        key = f"{_IMPORT_LOCK}, {int(workspace_id)}"
        if not connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar():
            waiting()
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
        connection.commit()  # a session's lock: no transaction kept open meanwhile
        yield True
    finally:
        connection.close()


@contextmanager
def _importing() -> Iterator[None]:
    """The interpreter set for reading a file beside the writer thread, then as it was
    (the first import of the process to start sets it, the last to end puts it back):

    - Python's cycle collector off: it ran every 700 new containers (each row's list of
      fields, each new row's tuple) and walked the young ones again, a fifth of the
      reading's time, for nothing: rows are tuples of strings, in no cycle;
    - the switch interval at `SWITCH_INTERVAL`: the writer gives Python's lock up at every
      call into the database (SQLite's statement, PostgreSQL's answer) and, the reader
      holding the lock, got it back only when the interval (5 ms) ran out, four to six
      times a batch: longer than SQLite's work on the batch.
    """
    with _IMPORTING_LOCK:
        if not _imports_running:
            _saved[:] = [gc.isenabled(), sys.getswitchinterval()]
            gc.disable()
            sys.setswitchinterval(min(_saved[1], SWITCH_INTERVAL))
        _imports_running.append(None)
    try:
        yield
    finally:
        with _IMPORTING_LOCK:
            _imports_running.pop()
            if not _imports_running:
                if _saved[0]:
                    gc.enable()
                sys.setswitchinterval(_saved[1])


_IMPORTING_LOCK = threading.Lock()
_imports_running: list[None] = []  # one entry per import under way in this process
_saved: list = []  # what `_importing` found: the collector on or off, the switch interval


# The columns `_BulkInsert` writes: the same for the whole import, then a row's values, then its status.
INSERT_COLUMNS = ("workspace_id", "source", "stored_at", *ROW_COLUMNS, "status", "ignored_at")
_SQLITE_ROWS = 2500  # rows per INSERT on SQLite, 11 values each (fewer where SQLite allows fewer than 32,766)
QUEUED_BATCHES = 2  # batches read ahead of the writer thread (memory: 2 x BATCH_SIZE rows)
POSTGRESQL_WRITERS = 2  # writer threads, each with a server process of its own (`_import_lock`)
SWITCH_INTERVAL = 0.0005  # seconds: how soon the writer thread gets Python's lock back (`_importing`)


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
    Outside a unit of work a batch commits without waiting for PostgreSQL's log to reach
    the disk, and `close` ends on one commit that waits for all of them (a crash before
    it loses batches the report never counted; running the import again adds them).
    No RETURNING: the report counts the workspace's items before and after.

    With `background`, `writers` threads of their own write the batches while the caller
    reads the next rows: SQLite runs a statement and PostgreSQL answers without holding
    Python's lock, so the database's work and the reading overlap on two cores; several
    writers (PostgreSQL, `locked`: the caller holds `_import_lock`) each have a server
    process of their own. At most `QUEUED_BATCHES` wait for them. A failed write stops the
    import: no batch starts after it, the next `extend` or `close` raises it, and the
    batches still queued are dropped (none was committed).
    Inside a unit of work (`bot.db.unit`), whose session belongs to its thread, the
    batches are written in the caller's thread.
    """

    def __init__(self, sessions: sessionmaker[Session], workspace_id: int, now: datetime, *,
                 background: bool = False, writers: int = 1, locked: bool = False):  # fmt: skip
        self.sessions = sessions
        self.now = stored_time(now)
        self.batch_start = (workspace_id, Source.IMPORT.value, self.now)
        self.locked = locked  # the caller holds `_import_lock`: batches need no lock of their own
        self.rows: list[tuple] = []
        self.sent = 0
        self.inserted = 0  # of the rows sent, those the database stored (not already there)
        self._sent_lock = threading.Lock()
        self._failed: BaseException | None = None
        self._tuned: set[int] = set()  # SQLite connections given the import's page cache
        # PostgreSQL: each batch commits without waiting for the disk, `close` once for
        # all; not inside a unit of work, whose commit is its own
        self._quick_commits, self._not_flushed = not in_unit(), False
        self._queue: queue.Queue[list[tuple] | None] | None = None
        self._threads: list[threading.Thread] = []
        if background and not in_unit():
            self._queue = queue.Queue(QUEUED_BATCHES + writers - 1)
            self._threads = [threading.Thread(target=self._write_queued, name=f"heard-import-writer-{number}",
                                              daemon=True) for number in range(writers)]  # fmt: skip
            for thread in self._threads:
                thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, error, _tb) -> None:
        if error is None:
            self.close()
        else:
            self._stop(drop=True)

    def extend(self, rows: list[tuple]) -> None:
        """Queue rows (each its `INSERT_COLUMNS` after the first three); each full batch is sent."""
        self.rows.extend(rows)
        while len(self.rows) >= BATCH_SIZE:
            rest, self.rows = self.rows[BATCH_SIZE:], self.rows[:BATCH_SIZE]
            self.flush()
            self.rows = rest

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
        """Send what is left and wait until every batch is committed (on disk); raises a
        failed write."""
        self.flush()
        self._stop(drop=False)
        if self._failed is not None:
            raise self._failed
        if self._not_flushed:
            # PostgreSQL wrote the batches' commits to its log without waiting for the
            # disk; a transaction with an id of its own commits the usual way, which
            # waits for the log up to its commit, so for every batch's as well.
            with self.sessions.begin() as session:
                session.connection().exec_driver_sql("SELECT txid_current()")
            self._not_flushed = False

    def _stop(self, *, drop: bool) -> None:
        if not self._threads:
            return
        if drop:
            self._failed = self._failed or _Stopped()
        for _thread in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []

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
                quick = self._quick_commits
                inserted = _copy_in(connection.connection.driver_connection, self.batch_start, rows,
                                    quick_commit=quick, locked=self.locked)  # fmt: skip
                self._not_flushed = self._not_flushed or quick
            else:
                inserted = self._insert_sqlite(connection, rows)
        with self._sent_lock:  # several writer threads on PostgreSQL
            self.sent += len(rows)
            self.inserted += inserted

    def _insert_sqlite(self, connection, rows: list[tuple]) -> int:
        """The rows stored (a row whose key another import stored meanwhile is not)."""
        driver = connection.connection.driver_connection
        if id(driver) not in self._tuned:  # once per connection: each statement gives Python's lock up
            connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
            self._tuned.add(id(driver))
        each = len(INSERT_COLUMNS) - len(self.batch_start)  # values bound per row
        size = max(1, min(_SQLITE_ROWS, (driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 3) // each))
        inserted = 0
        for start in range(0, len(rows), size):
            part = rows[start:start + size]
            done = connection.exec_driver_sql(_sqlite_insert(len(part)), (*self.batch_start, *chain.from_iterable(part)))
            inserted += done.rowcount  # SQLite's changes(): not the rows ON CONFLICT passed over
        return inserted


class _Stopped(Exception):
    """The import stopped before its last batch (an error while reading, Ctrl-C)."""


@cache
def _sqlite_insert(count: int) -> str:
    """The INSERT of `count` rows: ?1-?3 are the import's, the rest each row's, in order."""
    each = "(?1, ?2, ?3, " + ", ".join("?" * (len(INSERT_COLUMNS) - 3)) + ")"
    return (f"INSERT INTO feedback_items ({', '.join(INSERT_COLUMNS)}) VALUES "
            + ", ".join([each] * count) + " ON CONFLICT DO NOTHING")  # fmt: skip


_IMPORT_LOCK = 0x4846  # the advisory lock class of feedback imports (the key's first half)


def _copy_in(driver, batch_start: tuple, rows: list[tuple], *, quick_commit: bool = False,
             locked: bool = False) -> int:  # fmt: skip
    """PostgreSQL: the batch by COPY, in the caller's transaction (see `_BulkInsert`); with
    `quick_commit`, its commit does not wait for the disk. Returns the rows stored. Two round trips besides the
    transaction's own: what the writer thread waits for, Python's lock given up each time."""
    from psycopg.errors import UniqueViolation

    listed = ", ".join(INSERT_COLUMNS)
    cursor = driver.cursor()
    channel = ROW_COLUMNS.index("channel_id")
    direct = not any(row[channel] for row in rows)
    # In one round trip: the times are UTC text (`stored_time`); one batch at a time per
    # workspace, unless the import holds `_import_lock` (`locked`): two imports meeting the
    # same rows in different orders would each wait on the other's unique keys (a deadlock
    # PostgreSQL ends by failing one). Within one import, only rows naming Slack messages
    # can meet (the same message twice in the file): such batches take turns. The locks
    # are the transaction's, released by its commit.
    if not locked:
        lock = f"; SELECT pg_advisory_xact_lock({_IMPORT_LOCK}, {int(batch_start[0])})"
    elif not direct:
        lock = f"; SELECT pg_advisory_xact_lock({_IMPORT_LOCK + 1}, {int(batch_start[0])})"
    else:
        lock = ""
    cursor.execute(
        "SET LOCAL TimeZone = 'UTC'"
        + ("; SET LOCAL synchronous_commit = off" if quick_commit else "")
        + lock
        + ("; SAVEPOINT heard_import" if direct else "")
    )  # fmt: skip
    if direct:
        try:
            with cursor.copy(f"COPY feedback_items ({listed}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*batch_start, *row))
        except UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT heard_import")
        else:
            return len(rows)  # the savepoint ends with the transaction
    cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS heard_import (LIKE feedback_items INCLUDING DEFAULTS) "
                   "ON COMMIT DELETE ROWS")  # fmt: skip
    with cursor.copy(f"COPY heard_import ({listed}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((*batch_start, *row))
    cursor.execute(f"INSERT INTO feedback_items ({listed}) SELECT {listed} FROM heard_import "
                   "ON CONFLICT DO NOTHING")  # fmt: skip
    return cursor.rowcount


def _exported_keys(sessions: sessionmaker[Session], workspace_id: int) -> set[str]:
    """The key each of the workspace's items gets when its row of `heard export`'s
    feedback.csv is imported, so an export imported back adds none of them. That is not
    always the key the item was imported with: the export writes what is stored (`U0123`
    for an author written `<@U0123|maya>`, the door, `import`, for an empty source), and
    items from Slack have none. The values as `records._feedback_rows` writes them and
    `_row_checker` reads them (stripped; the text as it is)."""
    with sessions() as session:
        rows = session.execute(select(
            FeedbackItem.text, FeedbackItem.reporter_user_id, FeedbackItem.reporter_name, FeedbackItem.said_at,
            FeedbackItem.origin, FeedbackItem.source, FeedbackItem.permalink,
        ).where(FeedbackItem.workspace_id == workspace_id).execution_options(yield_per=BATCH_SIZE))  # fmt: skip
        return {import_key(text, (user or name or "").strip(), said.isoformat(), (origin or source).strip(),
                           (permalink or "").strip())
                for text, user, name, said, origin, source, permalink in rows}  # fmt: skip


def _import_keys(sessions: sessionmaker[Session], workspace_id: int) -> set[str]:
    """Every import key the workspace holds: one query, read by the driver (no ORM, no
    result rows), so a re-import sends nothing."""
    with sessions() as session:
        cursor = session.connection().exec_driver_sql(
            "SELECT import_key FROM feedback_items WHERE workspace_id = "
            f"{int(workspace_id)} AND import_key IS NOT NULL"
        )
        return set(map(itemgetter(0), cursor.cursor.fetchall()))

