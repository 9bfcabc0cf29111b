"""Door 4: `heard feedback import FILE.csv`, through the service and as a person runs it."""

import csv
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import create_db_engine, session_factory
from bot.db.models import Workspace
from bot.features.feedback.importer import (
    CsvHeaderError,
    ImportTarget,
    NoTeam,
    import_file,
    import_target,
)
from bot.features.feedback.models import FeedbackItem
from bot.workspaces import mark_uninstalled
from tests.people import ACME, FEEDBACK, GLOBEX, JONAS, PRIYA, SAM

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
HEADER = ["text", "author", "created_at", "source", "url"]


def write(path: Path, rows, header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def many(n: int, start=datetime(2026, 1, 1, tzinfo=UTC)):
    for i in range(n):
        yield [f"Customer {i}: the export is slow", SAM if i % 2 else f"Agent {i % 7}",
               (start + timedelta(minutes=i)).isoformat(), "email", f"https://support.example/t/{i}"]  # fmt: skip


def count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(FeedbackItem))


def test_rows_become_items_said_when_the_csv_says(sessions, acme_id, tmp_path):
    path = write(tmp_path / "f.csv", [
        ["Invoices are PDF only", JONAS, "2026-11-20T14:30:00Z", "email", ""],
        ["Wants SSO", "Dana from Support", "2026-11-24", "zendesk", "https://acme.zendesk.example/t/1"],
    ])  # fmt: skip
    report = import_file(sessions, acme_id, path, now=NOW)
    assert (report.rows, report.imported, report.known, report.bad_count) == (2, 2, 0, 0)
    with sessions() as session:
        first, second = session.scalars(select(FeedbackItem).order_by(FeedbackItem.id))
    assert (first.source, first.reporter_user_id, first.origin) == ("import", JONAS, "email")
    assert first.said_at == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    assert first.status == "ignored"  # said five days before the import, nobody acknowledged it
    assert (second.reporter_user_id, second.reporter_name) == (None, "Dana from Support")
    assert second.permalink == "https://acme.zendesk.example/t/1" and second.status == "open"


def test_ten_thousand_rows_import_in_batches_and_reimport_adds_nothing(sessions, acme_id, tmp_path):
    path = write(tmp_path / "big.csv", many(10_000))
    seen = []
    report = import_file(sessions, acme_id, path, now=NOW, progress=seen.append)
    assert (report.imported, report.bad_count, count(sessions)) == (10_000, 0, 10_000)
    assert len(seen) >= 10 and seen == sorted(seen) and seen[-1] == path.stat().st_size
    again = import_file(sessions, acme_id, path, now=NOW)
    assert (again.imported, again.known, count(sessions)) == (0, 10_000, 10_000)


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_imported(sessions, acme_id, tmp_path):
    path = tmp_path / "mixed.csv"
    lines = [
        b"text,author,created_at,source,url\n",
        b"Good one,U0SAM00006,2026-11-20,email,\n",                        # line 2
        b",U0SAM00006,2026-11-20,email,\n",                                # 3: empty text
        b"Bad date,U0SAM00006,yesterday,email,\n",                         # 4
        b"Impossible date,U0SAM00006,2026-02-30,email,\n",                 # 5
        b"Too few,U0SAM00006\n",                                           # 6
        b"Caf\xe9 in Latin-1,U0SAM00006,2026-11-20,email,\n",              # 7: not UTF-8
        b'"A quoted\nmultiline text",U0SAM00006,2026-11-21,phone,\n',      # 8-9: fine
        b"Future,U0SAM00006,2030-01-01,email,\n",                          # 10
        b"Bad url,U0SAM00006,2026-11-20,email,javascript:alert(1)\n",     # 11
        b"\n",                                                             # 12: blank, skipped silently
        b"Last good,Someone,2026-11-22T08:00:00+01:00,chat,\n",           # 13
        b"Before year 1 in UTC,Ana,0001-01-01T00:00:00+01:00,email,\n",     # 14
        b"After 9999 in UTC,Ana,9999-12-31T23:59:59-05:00,email,\n",       # 15
        b"After the overflows,Ana,2026-11-23,email,\n",                    # 16
    ]  # fmt: skip
    path.write_bytes(b"".join(lines))
    report = import_file(sessions, acme_id, path, now=NOW)
    assert [(b.line, b.reason.split(" ")[0]) for b in report.bad] == [
        (3, "text"), (4, "created_at"), (5, "created_at"), (6, "has"), (7, "is"), (10, "created_at"), (11, "url"),
        (14, "created_at"), (15, "created_at"),
    ]
    assert "not valid UTF-8" in str(report.bad[4]) and "in the future" in str(report.bad[5])
    assert "is not a date" in str(report.bad[7]) and "is not a date" in str(report.bad[8])
    assert report.imported == 4 and count(sessions) == 4
    with sessions() as session:
        assert "A quoted\nmultiline text" in session.scalars(select(FeedbackItem.text)).all()


@pytest.mark.parametrize(("content", "says"), [
    (b"", "empty"),
    (b"message,who,when\nhi,maya,2026-11-20\n", "missing text, author, created_at, source, url"),
    (b"text,author,created_at,source\nhi,maya,2026-11-20,email\n", "missing url"),
    (b"\xff\xfe\x00t\x00e\x00x\x00t\x00\n", "not UTF-8"),
])  # fmt: skip
def test_a_wrong_header_imports_nothing(sessions, acme_id, tmp_path, content, says):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CsvHeaderError, match=says):
        import_file(sessions, acme_id, path, now=NOW)
    assert count(sessions) == 0


def test_header_in_any_order_with_a_bom_and_extra_columns(sessions, acme_id, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffURL,Source,Text,Created_At,Author,Priority\n,email,Hello,2026-11-20,Sam,high\n".encode())
    report = import_file(sessions, acme_id, path, now=NOW)
    assert (report.imported, report.ignored_columns) == (1, ("priority",))


def test_huge_text_and_nul_bytes(sessions, acme_id, tmp_path):
    huge = "x" * 1_000_000
    path = write(tmp_path / "huge.csv", [[huge, "Sam", "2026-11-20", "email", ""],
                                         ["nul\x00here", "S\x00am", "2026-11-20\x00", "em\x00ail", "https://x.example/\x00a"]])
    assert import_file(sessions, acme_id, path, now=NOW).imported == 2
    with sessions() as session:
        texts = session.scalars(select(FeedbackItem.text).order_by(FeedbackItem.id)).all()
    assert texts == [huge, "nulhere"]


def test_a_row_whose_url_is_a_tracked_slack_message_is_that_item(sessions, acme_id, tmp_path):
    from bot.db.models import Workspace
    from bot.features.feedback import service

    with sessions.begin() as session:
        workspace = session.get(Workspace, acme_id)
        service.capture(session, workspace, service.Said(
            text="Customer wants SSO", said_at=NOW - timedelta(hours=1), source="channel",
            reporter_user_id=SAM, channel_id=FEEDBACK, message_ts="1795600000.000100"), now=NOW)  # fmt: skip
    path = write(tmp_path / "f.csv", [["Customer wants SSO", "Sam", "2026-11-25", "slack",
                                       "https://acme.slack.com/archives/C0FEEDBACK/p1795600000000100"]])  # fmt: skip
    report = import_file(sessions, acme_id, path, now=NOW)
    assert (report.imported, report.known, count(sessions)) == (0, 1, 1)


def test_imports_are_per_workspace(sessions, acme_id, make_workspace, tmp_path):
    globex = make_workspace(GLOBEX).id
    path = write(tmp_path / "f.csv", many(5))
    import_file(sessions, acme_id, path, now=NOW)
    assert import_file(sessions, globex, path, now=NOW).imported == 5


# -- as a person runs it ----------------------------------------------------------------------


def heard_process(*args, cwd, database_url) -> subprocess.CompletedProcess:
    """`heard ARGS` in a process of its own, as a person runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "HEARD_"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "bot", *args], check=False, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


@pytest.fixture
def heard(monkeypatch, capsys):
    """`heard(*args, cwd=, database_url=)`: the CLI's entry point (`bot.cli.main`) in this
    process, with the same environment and working directory as `heard_process`; an
    interpreter start per call was most of these tests' time."""
    from bot.cli import main

    def run(*args, cwd, database_url) -> subprocess.CompletedProcess:
        for name in [k for k in os.environ if k.startswith(("SLACK_", "DATABASE_URL", "HEARD_"))]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else (exit.code is not None)
        else:
            status = 0
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["heard", *args], status, out, err)

    return run


def test_heard_feedback_import_shows_progress_and_a_summary(db_url, acme_id, tmp_path):
    # Three batches of rows: the bar moves (the 10,000-row case is the service's test above).
    path = write(tmp_path / "export.csv", [*many(2_500), ["", "Sam", "2026-11-20", "email", ""]])
    first = heard_process("feedback", "import", str(path), cwd=tmp_path, database_url=db_url)
    assert first.returncode == 0, first.stderr
    assert "Importing" in first.stderr and "100%" in first.stderr  # the progress bar
    assert "skipped line 2502: text is empty" in first.stdout
    assert "Imported 2500 new item(s) into T0ACME001; 0 already known; 1 bad row(s) skipped." in first.stdout
    again = heard_process("feedback", "import", str(path), "--team", ACME, cwd=tmp_path, database_url=db_url)
    assert "Imported 0 new item(s) into T0ACME001; 2500 already known" in again.stdout


@pytest.mark.parametrize(("name", "says"), [
    ("missing.csv", "missing.csv is not a file"),
    ("bad.csv", "the header must name the columns"),
])  # fmt: skip
def test_a_missing_file_or_a_wrong_header_is_one_line_before_any_work(heard, tmp_path, name, says):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    result = heard("feedback", "import", name, cwd=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("heard: ") and says in line


def stored(db_url) -> dict[str, tuple[Workspace, list[str]]]:
    """Each workspace in the database by team id, with the texts of its feedback."""
    engine = create_db_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return {
                workspace.team_id: (workspace, sorted(session.scalars(
                    select(FeedbackItem.text).where(FeedbackItem.workspace_id == workspace.id))))
                for workspace in session.scalars(select(Workspace))
            }  # fmt: skip
    finally:
        engine.dispose()


def test_import_into_a_team_heard_is_not_installed_in_records_it_awaiting_installation(heard, db_url, tmp_path):
    path = write(tmp_path / "history.csv", [
        ["Invoices are PDF only", PRIYA, "2026-11-20T14:30:00Z", "email", ""],
        ["Wants SSO", "Dana from Support", "2026-11-24", "zendesk", ""],
    ])  # fmt: skip
    result = heard("feedback", "import", str(path), "--team", ACME, cwd=tmp_path, database_url=db_url)
    assert result.returncode == 0, result.stderr
    note, summary = result.stdout.strip().splitlines()
    assert note == (
        "Heard is not installed in T0ACME001 yet: recorded it as a workspace awaiting installation; "
        "its feedback will be there when Heard is installed."
    )
    assert summary.startswith("Imported 2 new item(s) into T0ACME001")
    workspace, items = stored(db_url)[ACME]
    assert workspace.awaiting_install and not workspace.active and items == ["Invoices are PDF only", "Wants SSO"]
    again = heard("feedback", "import", str(path), "--team", ACME, cwd=tmp_path, database_url=db_url)
    assert again.stdout.splitlines()[0] == (
        "T0ACME001 is awaiting installation; its feedback will be there when Heard is installed."
    )
    assert "Imported 0 new item(s) into T0ACME001; 2 already known" in again.stdout
    assert stored(db_url)[ACME][0].id == workspace.id  # the same record, not a second one


def test_installing_heard_in_an_awaiting_team_keeps_its_imported_feedback(heard, db_url, heard_server, fake_slack,
                                                                           tmp_path):  # fmt: skip
    path = write(tmp_path / "history.csv", [["Invoices are PDF only", PRIYA, "2026-11-20T14:30:00Z", "email", ""]])
    assert heard("feedback", "import", str(path), "--team", ACME, cwd=tmp_path,
                 database_url=db_url).returncode == 0  # fmt: skip
    awaiting, _ = stored(db_url)[ACME]

    server = heard_server()  # single-workspace start: Heard is installed in T0ACME001
    installed, items = stored(db_url)[ACME]
    assert (installed.id, installed.name, items) == (awaiting.id, "Acme Robotics", ["Invoices are PDF only"])
    assert installed.active and installed.installed_at is not None

    # Served now: Priya opens the Home tab and sees the feedback imported before the install.
    response = server.sender.event({"type": "app_home_opened", "user": PRIYA, "channel": "D0PRIYA", "tab": "home"},
                                   team_id=ACME)  # fmt: skip
    assert response.status == 200
    server.listeners.drain()
    assert "Invoices are PDF only" in str(fake_slack.published_home(PRIYA))


@pytest.mark.parametrize("team", ["acme", "t0acme001", "T0ACME001\nT0EVIL", "<!channel>", "T" + "0" * 40])
def test_a_team_that_is_not_a_slack_team_id_is_one_line_and_records_nothing(heard, db_url, tmp_path, team):
    result = heard("feedback", "import", str(write(tmp_path / "f.csv", many(1))), "--team", team,
                   cwd=tmp_path, database_url=db_url)  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("heard: --team ") and "is not a Slack team id; they look like T0123ABCD" in line
    assert stored(db_url) == {}


def test_without_team_and_no_installed_workspace_says_to_pass_team(heard, db_url, tmp_path):
    result = heard("feedback", "import", str(write(tmp_path / "f.csv", many(1))), cwd=tmp_path, database_url=db_url)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line == ("heard: no workspace is installed yet; pass --team with its Slack team id "
                    "(like T0123ABCD) to import before Heard is installed there")  # fmt: skip


def test_import_target_by_workspace_state(sessions, make_workspace, acme_id):
    make_workspace("T0GONE001")
    make_workspace("T0LATER01", installed_at=None)
    with sessions.begin() as session:
        mark_uninstalled(session, "T0GONE001", NOW)
    with sessions.begin() as session:  # one installed workspace, one uninstalled, one awaiting
        assert import_target(session, None) == import_target(session, ACME)
        assert import_target(session, ACME) == ImportTarget(acme_id, ACME, None)
        assert "Heard was uninstalled from T0GONE001" in import_target(session, "T0GONE001").note
        assert "T0LATER01 is awaiting installation" in import_target(session, "T0LATER01").note
    make_workspace(GLOBEX)
    with sessions.begin() as session, pytest.raises(NoTeam, match=r"pick one with --team \(T0ACME001, T0GLOBEX2\)"):
        import_target(session, None)


def test_with_several_workspaces_the_team_must_be_named(heard, db_url, acme_id, make_workspace, tmp_path):
    make_workspace(GLOBEX)
    result = heard("feedback", "import", str(write(tmp_path / "f.csv", many(1))), cwd=tmp_path, database_url=db_url)
    assert result.returncode == 2 and "--team (T0ACME001, T0GLOBEX2)" in result.stderr


def test_a_line_the_csv_module_refuses_mid_chunk_is_reported_and_the_rows_around_it_imported(sessions, acme_id,
                                                                                            tmp_path, monkeypatch):  # fmt: skip
    # Rows are read CHUNK_ROWS at a time: a line csv refuses (here a field over the size
    # limit) in the middle of a chunk is one bad row with its line number; the rows of the
    # chunk before it and every row after it are imported.
    from bot.features.feedback import importer

    monkeypatch.setattr(importer, "MAX_FIELD", 200)
    rows = [[f"Row {i}", "Ana", "2026-11-20T10:00:00Z", "email", ""] for i in range(1200)]
    rows[700][0] = "x" * 300  # line 702
    report = import_file(sessions, acme_id, write(tmp_path / "f.csv", rows), now=NOW)
    assert [(bad.line, bad.reason.split(" (")[0]) for bad in report.bad] == [(702, "not valid CSV")]
    assert (report.rows, report.imported, count(sessions)) == (1200, 1199, 1199)


def test_values_longer_than_their_column_are_bad_rows_not_cut(sessions, acme_id, tmp_path):
    # Cut, an author or a source would lose its end without a word (and its export would
    # not be the row imported); a url over 2,000 characters says so rather than "not an address".
    path = write(tmp_path / "long.csv", [
        ["Fine", "a" * 255, "2026-11-20", "s" * 64, "https://x.example/" + "u" * 1982],
        ["Long author", "a" * 256, "2026-11-20", "email", ""],                   # line 3
        ["Long source", "Ana", "2026-11-20", "s" * 65, ""],                      # 4
        ["Long url", "Ana", "2026-11-20", "email", "https://x.example/" + "u" * 1983],  # 5
        ["Not a url", "Ana", "2026-11-20", "email", "ftp://x.example/"],         # 6
    ])  # fmt: skip
    report = import_file(sessions, acme_id, path, now=NOW)
    assert [str(bad) for bad in report.bad] == [
        "line 3: author is longer than 255 characters", "line 4: source is longer than 64 characters",
        "line 5: url is longer than 2000 characters", "line 6: url must be an http(s) address",
    ]  # fmt: skip
    with sessions() as session:
        [item] = session.scalars(select(FeedbackItem))
    assert (len(item.reporter_name), len(item.origin), len(item.permalink)) == (255, 64, 2000)


def test_an_unclosed_quote_is_one_bad_row_saying_where_it_opened(sessions, acme_id, tmp_path):
    # The csv module reads a quote never closed to the end of the file as one field and
    # says nothing: the rows after it would vanish under a "has 1 fields".
    path = tmp_path / "quote.csv"
    path.write_bytes(b"text,author,created_at,source,url\n"
                     b"good,al,2026-11-20,email,\n"
                     b'"two\nlines",al,2026-11-20,email,\n'        # 3-4: a quote that closes
                     b'next,al,2026-11-20,"email,\n'              # 5: one that does not
                     b"after,al,2026-11-21,email,\n"
                     b"last,al,2026-11-22,email,\n")  # fmt: skip
    report = import_file(sessions, acme_id, path, now=NOW)
    assert [str(bad) for bad in report.bad] == [(
        "line 5: the quote opened on line 5 is never closed, so lines 5-7 (the rest of the file) were read as "
        "one field and not imported; close the quote and import the file again")]  # fmt: skip
    assert (report.rows, report.imported) == (3, 2)
    # A file that ends without a line break, or with a quote opened on its last character, loses nothing.
    for ending, text in ((b"end,al,2026-11-20,email,", "end"), (b'end,al,2026-11-20,email,"', "end")):
        path.write_bytes(b"text,author,created_at,source,url\n" + ending)
        assert import_file(sessions, acme_id, path, now=NOW).bad == []
    with sessions() as session:
        assert sorted(session.scalars(select(FeedbackItem.text))) == ["end", "good", "two\nlines"]


@pytest.mark.parametrize("header", ["text,text,author,created_at,source,url", "text,author,created_at,source,URL,url "])
def test_a_header_naming_a_column_twice_imports_nothing(sessions, acme_id, tmp_path, header):
    path = tmp_path / "twice.csv"
    path.write_text(f"{header}\na,b,al,2026-11-20,email,\n")
    with pytest.raises(CsvHeaderError, match="names the column (text|url) twice"):
        import_file(sessions, acme_id, path, now=NOW)
    assert count(sessions) == 0
    # columns Heard does not read may repeat (a spreadsheet's blank ones): they are ignored
    path.write_text("text,,author,created_at,source,url,\na,,al,2026-11-20,email,,\n")
    assert import_file(sessions, acme_id, path, now=NOW).imported == 1


def test_epoch_seconds_are_ascii_digits_only(sessions, acme_id, tmp_path):
    path = write(tmp_path / "epoch.csv", [["wide", "al", "１７９５６０００００", "email", ""],
                                          ["plain", "al", "1795600000", "email", ""]])  # fmt: skip
    report = import_file(sessions, acme_id, path, now=NOW)
    assert [bad.line for bad in report.bad] == [2] and "is not a date" in report.bad[0].reason
    assert report.imported == 1


def test_an_author_written_as_a_mention_is_that_slack_user(sessions, acme_id, tmp_path):
    # `<@U…>`, `<@U…|name>`, `@U…` and `U…` name one person: stored as the id, as Slack's
    # own feedback is, so forget and the digest find them. The key keeps what the file says.
    path = write(tmp_path / "people.csv", [[f"said {i}", author, "2026-11-20", "", ""] for i, author in
                                          enumerate([f"<@{SAM}>", f"<@{SAM}|sam>", f"@{SAM}", SAM, "<@nobody>"])])
    assert import_file(sessions, acme_id, path, now=NOW).imported == 5
    with sessions() as session:
        people = session.execute(select(FeedbackItem.reporter_user_id, FeedbackItem.reporter_name)
                                 .order_by(FeedbackItem.text)).all()  # fmt: skip
    assert people == [(SAM, None)] * 4 + [(None, "<@nobody>")]
