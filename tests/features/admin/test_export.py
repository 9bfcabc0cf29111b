"""`heard export`: the CSV files a person (or a BI tool) gets, read back with the csv module."""

import csv
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.cli import app
from bot.db.models import AuditEntry
from bot.features.feedback.models import Acknowledgement, FeedbackItem
from bot.settings import ConfigError

SAID = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
HEADERS = {
    "digest_assignments.csv": ["feedback_id", "team_id", "department", "assigned_by", "assigned_at", "channel"],
    "feedback.csv": ["id", "team_id", "text", "reporter", "created_at", "source", "channel", "ts",
                     "permalink", "status", "acknowledged_at", "acknowledged_by"],
    "audit.csv": ["id", "team_id", "at", "actor", "action", "old_value", "new_value"],
    "decisions.csv": ["id", "team_id", "department", "author", "logged_at", "impact", "decision", "affected",
                      "evidence", "linked_feedback"],
    "decision_links.csv": ["decision_id", "team_id", "feedback_id", "linked_at"],
    "stories.csv": ["id", "team_id", "title", "customer", "what_happened", "learned", "link", "submitted_by",
                    "anonymous", "source", "state", "created_at", "reviewed_by", "times_posted", "last_posted_at"],
    "engagement.csv": ["post_id", "team_id", "story_id", "title", "week", "channel", "ts", "posted_at",
                       "reactions", "replies", "reflections", "people"],
}  # fmt: skip


@pytest.fixture
def seeded(engine, make_workspace):
    acme, globex = make_workspace("T0ACME001"), make_workspace("T0GLOBEX2")
    with Session(engine) as session, session.begin():
        item = FeedbackItem(
            workspace_id=acme.id, text='Größe "XL" fehlt,\nbitte =SUM(A1)', reporter_user_id="U0SAM00006",
            source="channel", channel_id="C0FEEDBACK", message_ts="1795600000.000100",
            permalink="https://acme.slack.com/archives/C0FEEDBACK/p1795600000000100", said_at=SAID,
            status="acknowledged", acknowledged_at=SAID.replace(hour=15), acknowledged_by="U0PRIYA003",
        )  # fmt: skip
        imported = FeedbackItem(workspace_id=acme.id, text="from the CSV", reporter_name="Ada (email)",
                                source="import", origin="email", said_at=SAID.replace(day=19))  # fmt: skip
        other = FeedbackItem(workspace_id=globex.id, text="Globex only", reporter_user_id="U0FRANK002",
                             source="channel", said_at=SAID)  # fmt: skip
        session.add_all([item, imported, other])
        session.flush()
        session.add(Acknowledgement(feedback_item_id=item.id, kind="reaction", user_id="U0PRIYA003", ref="eyes"))
        session.add(AuditEntry(workspace_id=acme.id, actor_user_id="U0MAYA0001", action="leader add",
                               old_value=[], new_value=["U0JONAS002"], at=SAID))  # fmt: skip
        ids = {"item": item.id, "imported": imported.id}
    return ids


def run_export(db_url, tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    monkeypatch.setenv("DATABASE_URL", db_url)
    return CliRunner().invoke(app, ["export", *args])


def read(path) -> tuple[list[dict], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]], rows[0]


def test_export_writes_every_file_with_its_header(db_url, tmp_path, monkeypatch, seeded):
    out = tmp_path / "export"
    result = run_export(db_url, tmp_path, monkeypatch, "--out", str(out), "--team", "T0ACME001")
    assert result.exit_code == 0, result.output
    assert f"{out / 'feedback.csv'}: 2 rows" in result.output.replace("\n", "")
    for name, header in HEADERS.items():
        _, found = read(out / name)
        assert found == header, name

    feedback, _ = read(out / "feedback.csv")
    assert [row["text"] for row in feedback] == ["from the CSV", 'Größe "XL" fehlt,\nbitte =SUM(A1)']
    assert feedback[1] == {
        "id": str(seeded["item"]), "team_id": "T0ACME001", "text": 'Größe "XL" fehlt,\nbitte =SUM(A1)',
        "reporter": "U0SAM00006", "created_at": "2026-11-20T14:30:00+00:00", "source": "channel",
        "channel": "C0FEEDBACK", "ts": "1795600000.000100",
        "permalink": "https://acme.slack.com/archives/C0FEEDBACK/p1795600000000100", "status": "acknowledged",
        "acknowledged_at": "2026-11-20T15:30:00+00:00", "acknowledged_by": "U0PRIYA003",
    }  # fmt: skip
    assert (feedback[0]["reporter"], feedback[0]["status"], feedback[0]["channel"]) == ("Ada (email)", "open", "")
    assert feedback[0]["source"] == "email"  # where the customer said it, as the import reads it

    assert sorted(p.name for p in out.iterdir()) == sorted(HEADERS)  # each room's files, nothing else
    [entry], _ = read(out / "audit.csv")
    assert (entry["actor"], entry["action"], entry["old_value"], entry["new_value"]) == (
        "U0MAYA0001", "leader add", "[]", '["U0JONAS002"]')


def test_export_without_team_covers_every_workspace(db_url, tmp_path, monkeypatch, seeded):
    result = run_export(db_url, tmp_path, monkeypatch, "--out", str(tmp_path / "all"))
    assert result.exit_code == 0, result.output
    feedback, _ = read(tmp_path / "all" / "feedback.csv")
    assert sorted(row["team_id"] for row in feedback) == ["T0ACME001", "T0ACME001", "T0GLOBEX2"]


def test_export_of_an_unknown_team_is_a_usage_error(db_url, tmp_path, monkeypatch, seeded):
    result = run_export(db_url, tmp_path, monkeypatch, "--out", str(tmp_path / "x"), "--team", "T0NOPE")
    assert isinstance(result.exception, ConfigError) and "T0NOPE" in str(result.exception)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_export_as_a_person_runs_it(db_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "HEARD_"))}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "bot", "export", *args], cwd=tmp_path, check=False,
                              env={**env, "DATABASE_URL": db_url}, capture_output=True, text=True, timeout=60)

    missing = run("--out", "out", "--team", "T0NOPE")
    assert (missing.returncode, missing.stderr.strip()) == (2, "heard: no workspace has team id 'T0NOPE'")
    (tmp_path / "file").write_text("")
    assert run("--out", "file").returncode == 2
    done = run("--out", "out")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(HEADERS)


def test_text_a_spreadsheet_would_run_starts_with_an_apostrophe(db_url, tmp_path, monkeypatch, engine, make_workspace):
    # OWASP's CSV injection: a cell starting with = + - @, a tab or a carriage return is a
    # formula to Excel, LibreOffice and Google Sheets. Heard's own times, ids and numbers stay.
    workspace = make_workspace("T0ACME001")
    texts = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\tTab first",
             "\rCR first", "'=already quoted", "-3", "plain = fine", "'plain"]  # fmt: skip
    with Session(engine) as session, session.begin():
        session.add_all([FeedbackItem(workspace_id=workspace.id, text=text, reporter_name="=cmd()", source="import",
                                      origin="@origin", said_at=SAID, acknowledged_at=SAID) for text in texts])  # fmt: skip
    result = run_export(db_url, tmp_path, monkeypatch, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    feedback, _ = read(tmp_path / "out" / "feedback.csv")
    assert [row["text"] for row in feedback] == [
        '\'=HYPERLINK("http://evil.example","x")', "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1+1)", "'\tTab first",
        "'\rCR first", "''=already quoted", "-3", "plain = fine", "'plain"]  # fmt: skip
    assert {(row["reporter"], row["source"]) for row in feedback} == {("'=cmd()", "'@origin")}
    assert {(row["created_at"], row["acknowledged_at"], row["team_id"]) for row in feedback} == {
        ("2026-11-20T14:30:00+00:00", "2026-11-20T14:30:00+00:00", "T0ACME001")}


def test_an_export_imports_back_adding_nothing_and_elsewhere_as_it_was(db_url, tmp_path, monkeypatch, engine,
                                                                       make_workspace):  # fmt: skip
    # feedback.csv is a file `heard feedback import` reads: its column names, its apostrophes
    # taken off. Into its own workspace it adds nothing, though the export writes what is
    # stored, not what the first file said (`<@U…>` as U…, an empty source as `import`),
    # and an item from Slack with no permalink was never imported; elsewhere it is the same feedback.
    from bot.db import session_factory
    from bot.features.feedback.importer import import_file

    acme, globex = make_workspace("T0ACME001"), make_workspace("T0GLOBEX2")
    sessions = session_factory(engine)
    first = tmp_path / "first.csv"
    with first.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([
            ["text", "author", "created_at", "source", "url"],
            ["=HYPERLINK(\"http://evil.example\")", "<@U0SAM00006>", "2026-11-20T10:00:00Z", "", ""],
            ["'-2+3 already quoted", "<@U0SAM00006|sam>", "2026-11-20T10:00:01.250Z", " email ", ""],
            ["\ttab, and\nlines", "@Ana", "2026-11-20", "@phone", "https://support.example/t/1"],
            ["-3", "+Bo", "1795000000", "zendesk", ""],
        ])  # fmt: skip
    assert import_file(sessions, acme.id, first, now=SAID).imported == 4
    with sessions.begin() as session:
        session.add(FeedbackItem(workspace_id=acme.id, text="From /heard feedback", reporter_user_id="U0PRIYA003",
                                 source="command", said_at=SAID))  # fmt: skip

    result = run_export(db_url, tmp_path, monkeypatch, "--out", str(tmp_path / "out"), "--team", "T0ACME001")
    assert result.exit_code == 0, result.output
    exported = tmp_path / "out" / "feedback.csv"
    again = import_file(sessions, acme.id, exported, now=SAID)
    assert (again.rows, again.imported, again.known, again.bad_count) == (5, 0, 5, 0)
    assert again.ignored_columns == ("id", "team_id", "channel", "ts", "status", "acknowledged_at", "acknowledged_by")

    assert import_file(sessions, globex.id, exported, now=SAID).imported == 5
    columns = (FeedbackItem.text, FeedbackItem.reporter_user_id, FeedbackItem.reporter_name, FeedbackItem.said_at,
               FeedbackItem.permalink)  # fmt: skip
    with sessions() as session:
        def held(workspace):
            return sorted(session.execute(select(*columns).where(FeedbackItem.workspace_id == workspace.id)).all())

        assert held(globex) == held(acme)
        assert import_file(sessions, globex.id, exported, now=SAID).imported == 0
