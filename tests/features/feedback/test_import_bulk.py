"""The bulk path of `heard feedback import` (issue 20's speed work) stores exactly what the
ORM would, sends a re-import nothing, and stores old rows ignored as the sweep would."""

from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select, text

from bot.features.feedback.importer import (
    ROW_COLUMNS,
    BadRow,
    Known,
    _ChunkChecker,
    _row_checker,
    _said_at,
    import_file,
    import_key,
    parse_created_at,
    stored_time,
)
from bot.features.feedback.models import FeedbackItem
from tests.features.feedback.test_import import NOW, write
from tests.people import SAM


def statements(engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split()[0].upper())

    return seen


def test_a_reimport_sends_no_insert_and_counts_every_row_known(engine, sessions, acme_id, tmp_path):
    rows = [[f"Customer {i} says hi", "Agent", f"2026-11-2{i % 4}T10:00:00Z", "email", ""] for i in range(30)]
    path = write(tmp_path / "f.csv", [*rows, rows[0]])  # the last row repeats the first
    first = import_file(sessions, acme_id, path, now=NOW)
    assert (first.imported, first.known) == (30, 1)
    seen = statements(engine)
    again = import_file(sessions, acme_id, path, now=NOW)
    assert (again.imported, again.known, again.rows) == (0, 31, 31)
    assert "INSERT" not in seen and "COPY" not in seen and "UPDATE" not in seen, seen


def test_bulk_rows_read_back_as_the_orm_stores_them(engine, sessions, acme_id, tmp_path):
    said = datetime(2026, 11, 24, 8, 30, 15, 250, tzinfo=UTC)
    path = write(tmp_path / "f.csv", [["Bulk", f"<@{SAM}|sam>", said.isoformat(), " phone ", ""],
                                      ["Zone", "Ana", "2026-11-24T10:30:15+02:00", "", ""]])  # fmt: skip
    import_file(sessions, acme_id, path, now=NOW)
    with sessions() as session:
        bulk = session.scalar(select(FeedbackItem).where(FeedbackItem.text == "Bulk"))
        zone = session.scalar(select(FeedbackItem).where(FeedbackItem.text == "Zone"))
        assert (bulk.said_at, bulk.stored_at, bulk.reporter_user_id, bulk.origin) == (said, NOW, SAM, "phone")
        assert zone.said_at == datetime(2026, 11, 24, 8, 30, 15, tzinfo=UTC) and zone.reporter_name == "Ana"
        assert bulk.status == "open" and bulk.ignored_at is None
        # The stored value is what SQLAlchemy itself binds, so range queries compare alike.
        later = session.scalar(select(FeedbackItem.text).where(FeedbackItem.said_at > said - timedelta(microseconds=1),
                                                               FeedbackItem.said_at < said + timedelta(microseconds=1)))
        assert later == "Bulk"
        if engine.dialect.name == "sqlite":
            raw = session.execute(text("SELECT said_at FROM feedback_items WHERE text = 'Bulk'")).scalar()
            assert raw == "2026-11-24 08:30:15.000250"


def test_rows_older_than_ignore_after_are_stored_ignored(sessions, acme_id, tmp_path):
    old, recent = NOW - timedelta(days=10), NOW - timedelta(hours=2)
    path = write(tmp_path / "f.csv", [["Old one", "Ana", old.isoformat(), "", ""],
                                      ["Recent one", "Ana", recent.isoformat(), "", ""]])  # fmt: skip
    import_file(sessions, acme_id, path, now=NOW)
    with sessions() as session:
        found = dict(session.execute(select(FeedbackItem.text, FeedbackItem.status)).all())
        ignored_at = session.scalar(select(FeedbackItem.ignored_at).where(FeedbackItem.text == "Old one"))
    assert found == {"Old one": "ignored", "Recent one": "open"} and ignored_at == NOW


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2026, 11, 24)),
       form=st.sampled_from(["iso", "naive", "z", "space", "offset", "minutes", "date", "epoch", "week"]))
def test_the_import_key_s_time_is_the_one_earlier_imports_used(moment, form):
    # A row's import key hashes isoformat() of its time: the fast path must give exactly
    # what parse_created_at(...).isoformat() gave, or a re-import would add the rows again;
    # and the time it stores is the moment's.
    aware = moment.replace(tzinfo=UTC)
    value = {
        "iso": aware.isoformat(), "naive": moment.isoformat(), "z": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "space": moment.strftime("%Y-%m-%d %H:%M:%S"), "offset": aware.astimezone(timezone(timedelta(hours=2))).isoformat(),
        "minutes": moment.strftime("%Y-%m-%dT%H:%M"), "date": moment.strftime("%Y-%m-%d"),
        "epoch": str(int(aware.timestamp())), "week": moment.strftime("%G-W%V-%uT%H:%M:%S"),
    }[form]  # fmt: skip
    expected = parse_created_at(value, NOW)
    assert _said_at(value, NOW) == (stored_time(expected), expected.isoformat())


def test_rows_another_import_stored_meanwhile_are_not_stored_twice(sessions, acme_id, tmp_path, monkeypatch):
    # Two imports of one file at once: the second read the keys before the first wrote its
    # rows, so it sends them all; the unique key turns them away (PostgreSQL's COPY fails on
    # them and the batch goes through INSERT … ON CONFLICT DO NOTHING instead).
    from bot.features.feedback import importer

    path = write(tmp_path / "f.csv", [[f"Row {i}", "Ana", "2026-11-20T10:00:00Z", "", ""] for i in range(7000)])
    assert import_file(sessions, acme_id, path, now=NOW).imported == 7000
    monkeypatch.setattr(importer, "_import_keys", lambda *_: set())
    again = import_file(sessions, acme_id, path, now=NOW)
    assert (again.imported, again.known) == (0, 7000)


def test_a_failed_batch_stops_the_import_and_running_it_again_adds_the_rest(engine, sessions, acme_id, tmp_path,
                                                                              monkeypatch):  # fmt: skip
    # The batches are written by threads of their own (two on PostgreSQL): a failure reaches
    # the caller, no batch starts after it (another writer may finish the one it holds), the
    # batches committed stay, and the import is run again to finish.
    from bot.features.feedback import importer

    total = 6 * importer.BATCH_SIZE
    path = write(tmp_path / "f.csv", [[f"Row {i}", "Ana", "2026-11-20T10:00:00Z", "", ""] for i in range(total)])
    write_batch, calls = importer._BulkInsert._write, []

    def failing_second(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        write_batch(self, rows)

    monkeypatch.setattr(importer._BulkInsert, "_write", failing_second)
    with pytest.raises(RuntimeError, match="went away"):
        import_file(sessions, acme_id, path, now=NOW)
    writers = importer.POSTGRESQL_WRITERS if engine.dialect.name == "postgresql" else 1
    assert calls[:2] == [importer.BATCH_SIZE] * 2 and len(calls) <= 1 + writers  # nothing after the failure
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(FeedbackItem))
    assert stored == importer.BATCH_SIZE * (len(calls) - 1)
    monkeypatch.setattr(importer._BulkInsert, "_write", write_batch)
    again = import_file(sessions, acme_id, path, now=NOW)
    assert (again.imported, again.known) == (total - stored, stored)


def test_bytes_that_are_not_utf8_or_nul_far_into_a_plain_file_are_still_found(sessions, acme_id, tmp_path):
    # A file is looked at chunk by chunk: rows read while every byte so far was plain ASCII
    # skip the per-row checks, so what comes after the first chunks must still be caught.
    plain = b"".join(b"Row %d,Ana,2026-11-20T10:00:00Z,email,\n" % i for i in range(3000))
    path = tmp_path / "late.csv"
    path.write_bytes(b"text,author,created_at,source,url\n" + plain
                     + b"Caf\xe9 in Latin-1,Ana,2026-11-20,email,\n"  # line 3002
                     + b"nul\x00here,Ana,2026-11-20,email,\n"  # line 3003
                     + "Zoë,Ana,2026-11-20,réunion,\n".encode())  # fmt: skip
    report = import_file(sessions, acme_id, path, now=NOW)
    assert [(bad.line, bad.reason.split(" ")[0]) for bad in report.bad] == [(3002, "is")]
    assert report.imported == 3002
    with sessions() as session:
        assert session.scalar(select(func.count()).where(FeedbackItem.text.in_(["nulhere", "Zoë"]))) == 2


# Values of every kind the column-at-a-time checker must either take exactly as the
# row-by-row one does or hand to it: the quick shapes and everything next to them.
TEXTS = st.sampled_from(["Export is slow", "", "   ", "Café à Zürich", "nul\x00here", "bad \udce9 byte", "x" * 300])
AUTHORS = st.sampled_from(["Ana", " Dana from Support ", "", SAM, f"@{SAM}", f"<@{SAM}|sam>", "<@nobody>", "Uma",
                           "W", "n" * 300, "Zoë"])  # fmt: skip
TIMES = st.sampled_from(["2026-11-20T14:30:00Z", "2026-11-20 14:30:00", "2026-11-20T14:30:00+00:00", "2026-11-20",
                         " 2026-11-20T23:59:59 ", "2026-02-29", "2024-02-29", "2026-02-30T10:00:00", "2026-11-20T24:00:00",
                         "2026-11-20T14:60:00", "2026-11-20T14:30:00+02:00", "2026-11-20T14:30:00.250Z", "1795600000",
                         "2030-01-01", "2026-11-26T08:00:00Z", "0000-01-01", "yesterday", "", "2026-11-20\n2026-11-21",
                         "2026-11-20T14:30:00.000Z", "2026-11-20 14:30:00.5", "2026-11-20T14:30:00.123456+00:00",
                         "2026-11-20T14:30:00.1234567Z", "2026-11-20T14:30:00.Z", "2026-11-26T09:00:00.000001Z",
                         "2026-11-20T14:30:00.250+02:00", "１７９５６０００００", "２０２６-１１-２０"])  # fmt: skip
ORIGINS = st.sampled_from(["email", " zendesk ", "", "o" * 80, "réunion"])
URLS = st.sampled_from(["", "https://support.example/t/1", " http://x.example ", "http://e", "https://", "http://",
                        "ftp://x.example", "https://a b.example", "https://x.example/<script>", "https://x.example/|",
                        "https://ünï.example/ä", "https://x.example/\x7f", "https://" + "u" * 2000,
                        "https://acme.slack.com/archives/C0123ABCD/p1700000000123456",
                        "https://acme.slack.com/archives/nope/p1700000000123456", "javascript:alert(1)"])  # fmt: skip
ROWS = st.lists(st.one_of(
    st.tuples(TEXTS, AUTHORS, TIMES, ORIGINS, URLS).map(list),
    st.sampled_from([[], [""], ["Too few", "Ana"], ["Too", "many", "2026-11-20", "", "", "x"]]),
), min_size=1, max_size=40)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(rows=ROWS, repeat=st.integers(0, 3), seen=st.integers(0, 3))
def test_the_column_checker_gives_what_the_row_checker_gives(rows, repeat, seen):
    # The quick way (`_ChunkChecker`) must give each row exactly what `_row_checker` gives,
    # in the file's order: the same new rows (values, key, status), the same bad rows with
    # their lines and reasons, the same count of known ones, and the same keys learnt.
    rows = rows + rows[:repeat]  # rows repeated within the chunk are known after their first
    index = {"url": 0, "text": 1, "created_at": 2, "author": 3, "source": 4}  # not the columns' usual order
    rows = [[r[4], r[0], r[2], r[1], r[3]] if len(r) == 5 else r for r in rows]
    ends = [3 + i * 2 for i in range(len(rows))]  # each row two lines long, from line 2
    ignore_before = stored_time(NOW - timedelta(days=7))
    earlier: set[str] = set()  # keys of some rows imported before
    reference_check = _row_checker(itemgetter(*(index[c] for c in ("text", "author", "created_at", "source", "url"))),
                                   5, NOW, earlier)  # fmt: skip
    for i, fields in enumerate(rows[:seen]):
        found = reference_check(2 + i * 2, fields)
        if not isinstance(found, (BadRow, Known)):
            earlier.add(found.values[ROW_COLUMNS.index("import_key")])

    expected_known, expected_rows, expected_bad, expected_read = set(earlier), [], [], 0
    check = _row_checker(itemgetter(1, 3, 2, 4, 0), 5, NOW, expected_known)
    for i, fields in enumerate(rows):
        if not fields or fields == [""]:
            continue
        expected_read += 1
        found = check(2 + i * 2, fields)
        if isinstance(found, BadRow):
            expected_bad.append(found)
        elif not isinstance(found, Known):
            expected_known.add(found.values[ROW_COLUMNS.index("import_key")])
            said = found.values[ROW_COLUMNS.index("said_at")]
            expected_rows.append(found.values + (("ignored", stored_time(NOW)) if said < ignore_before else ("open", None)))

    known = set(earlier)
    chunk = _ChunkChecker(index, 5, NOW, known, ignore_before)(rows, 2, ends)
    assert chunk.rows == expected_rows
    assert chunk.bad == expected_bad
    assert (chunk.read, chunk.known) == (expected_read, expected_read - len(expected_bad) - len(expected_rows))
    assert known == expected_known


@pytest.mark.parametrize("shape", ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d",
                                   "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S.000Z", "%Y-%m-%d %H:%M:%S.%f+00:00"])
def test_a_key_made_a_column_at_a_time_is_import_key(shape):
    # The keys of a whole chunk come out of one base64 string (each digest padded with a
    # zero byte), and times of one shape are read a column at a time: each key must be
    # exactly `import_key` of its row, with the time `parse_created_at` reads.
    rows = [[f"Text {i}", f"Author {i % 3}", datetime(2026, 11, 1 + i % 20, i % 24, i % 60, i % 7, i * 997 % 1000 * 1000 * (i % 2),
                                                      tzinfo=UTC).strftime(shape), "email", ""] for i in range(50)]  # fmt: skip
    chunk = _ChunkChecker(dict(zip(("text", "author", "created_at", "source", "url"), range(5))), 5, NOW, set(),
                          None)(rows, 2, list(range(2, 52)))  # fmt: skip
    keys = [row[ROW_COLUMNS.index("import_key")] for row in chunk.rows]
    assert keys == [import_key(text, author, parse_created_at(when, NOW).isoformat(), origin, url)
                    for text, author, when, origin, url in rows]  # fmt: skip
    said = [row[ROW_COLUMNS.index("said_at")] for row in chunk.rows]
    assert said == [stored_time(parse_created_at(when, NOW)) for _, _, when, _, _ in rows]


def test_the_collector_and_switch_interval_are_set_while_reading_and_put_back_after(sessions, acme_id, tmp_path):
    # While a file is read the cycle collector is off and the writer thread gets Python's
    # lock back within SWITCH_INTERVAL; after the import (or its failure) both are as before.
    import gc
    import sys

    from bot.features.feedback import importer

    path = write(tmp_path / "f.csv", many_rows(3000))
    interval, seen = sys.getswitchinterval(), []
    import_file(sessions, acme_id, path, now=NOW,
                progress=lambda done: seen.append((gc.isenabled(), sys.getswitchinterval())))  # fmt: skip
    assert seen and all(state == (False, importer.SWITCH_INTERVAL) for state in seen)
    assert (gc.isenabled(), sys.getswitchinterval()) == (True, interval)

    def stop(_done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(sessions, acme_id, write(tmp_path / "g.csv", many_rows(3000, "Other")), now=NOW, progress=stop)
    assert (gc.isenabled(), sys.getswitchinterval()) == (True, interval)


def many_rows(n: int, text: str = "Row") -> list[list[str]]:
    return [[f"{text} {i}", "Ana", f"2026-11-{1 + i % 20:02}T10:{i % 60:02}:00Z", "email", ""] for i in range(n)]


def test_two_imports_of_the_same_rows_in_opposite_orders_at_once_store_each_row_once(engine, sessions, acme_id,
                                                                                      tmp_path):  # fmt: skip
    # Both read the workspace's keys before the other wrote, so both send every row: on
    # PostgreSQL one batch at a time per workspace (an advisory lock; without it the two
    # waited on each other's keys until PostgreSQL failed one), on SQLite one writer at a time.
    import threading

    rows = many_rows(12_000)
    forward, backward = write(tmp_path / "a.csv", rows), write(tmp_path / "b.csv", rows[::-1])
    reports, failures = [], []

    def run(path):
        try:
            reports.append(import_file(sessions, acme_id, path, now=NOW))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(path,)) for path in (forward, backward)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(FeedbackItem))
        keys = session.scalar(select(func.count(func.distinct(FeedbackItem.import_key))))
    assert stored == keys == 12_000
    assert sorted(report.imported + report.known for report in reports) == [12_000, 12_000]
    # Each counts what it stored itself: together every row once, nothing known below zero
    # (SQLite's two imports run at once; counting the workspace's rows counted both's).
    assert sum(report.imported for report in reports) == 12_000
    assert all(report.known >= 0 for report in reports)


def test_an_import_that_must_wait_for_another_says_so_once_then_imports(engine, sessions, acme_id, tmp_path):
    # PostgreSQL: one import at a time per workspace; the second is told it waits (the
    # command line prints a line) instead of sitting silent behind the first.
    import threading

    from bot.features.feedback import importer

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite imports take no workspace lock (one writer at a time anyway)")
    path = write(tmp_path / "f.csv", many_rows(10))
    waited, reports = threading.Event(), []
    with engine.connect() as other:  # the first import, as far as the lock goes
        other.exec_driver_sql(f"SELECT pg_advisory_lock({importer._IMPORT_LOCK}, {acme_id})")
        thread = threading.Thread(target=lambda: reports.append(
            import_file(sessions, acme_id, path, now=NOW, waiting=waited.set)))  # fmt: skip
        thread.start()
        assert waited.wait(10)
        assert reports == []  # still waiting
        other.exec_driver_sql(f"SELECT pg_advisory_unlock({importer._IMPORT_LOCK}, {acme_id})")
        thread.join(10)
    assert [report.imported for report in reports] == [10]
    told = []
    import_file(sessions, acme_id, path, now=NOW, waiting=lambda: told.append(1))
    assert told == []  # nobody else importing: not a word


def test_postgresql_batches_commit_without_waiting_for_the_disk_and_the_import_ends_on_a_commit_that_does(
    engine, sessions, acme_id, tmp_path, monkeypatch
):
    # Each batch's commit returns before PostgreSQL's log is on disk (SET LOCAL
    # synchronous_commit = off); the import then commits a transaction that has an id, which
    # waits for the log up to it, so the report never counts a row a crash could lose.
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's commits")
    from bot.features.feedback import importer

    sent, seen = [], []
    real_copy_in = importer._copy_in

    def copy_in(driver, batch_start, rows, **options):
        sent.append(options["quick_commit"])
        return real_copy_in(driver, batch_start, rows, **options)

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    monkeypatch.setattr(importer, "_copy_in", copy_in)
    report = import_file(sessions, acme_id, write(tmp_path / "f.csv", many_rows(7000)), now=NOW)
    assert report.imported == 7000 and sent == [True, True]
    assert seen.count("SELECT txid_current()") == 1
    with engine.connect() as connection:  # SET LOCAL: for the batch's transaction only
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_slack_messages_named_twice_in_batches_written_at_once_are_one_item_each(engine, sessions, acme_id,
                                                                                   tmp_path):  # fmt: skip
    # On PostgreSQL two threads send one import's batches at once; rows naming Slack
    # messages may meet (the same message twice in the file), so such batches take turns:
    # here 2,000 messages named in the first batch and again, in the opposite order, in
    # the second (written at the same time, they waited on each other's rows).
    from bot.features.feedback import importer

    rows, named = many_rows(3 * importer.BATCH_SIZE), 2000
    links = [f"https://acme.slack.com/archives/C0123ABCD/p{1700000000 + n}000000" for n in range(named)]
    for n, link in enumerate(links):
        rows[n][4], rows[importer.BATCH_SIZE + n][4] = link, links[named - 1 - n]
    report = import_file(sessions, acme_id, write(tmp_path / "f.csv", rows), now=NOW)
    assert (report.imported, report.known, report.bad_count) == (len(rows) - named, named, 0)
    with sessions() as session:
        counts = session.execute(select(func.count(), func.count(func.distinct(FeedbackItem.message_ts)))
                                 .where(FeedbackItem.channel_id == "C0123ABCD")).one()  # fmt: skip
    assert tuple(counts) == (named, named)
