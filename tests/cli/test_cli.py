"""The `heard` command as a person runs it: a real process, its exit status and output."""

import json

import pytest
import yaml

from tests.cli.run import heard, one_line
from tests.slack.test_manifest import check_manifest_shape


def test_help_lists_every_command(tmp_path):
    result = heard("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "clock", "jobs", "manifest", "db", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args, line",
    [
        (("frobnicate",), "heard: unknown command 'frobnicate'; see heard --help"),
        (("jbos",), "heard: unknown command 'jbos' (did you mean 'jobs'?); see heard --help"),
        (("jobs", "lst"), "heard: unknown command 'jobs lst' (did you mean 'jobs list'?); see heard jobs --help"),
        (("run", "--bogus"), "heard: no such option: --bogus; see heard run --help"),
        (("run", "--no-schedulr"), "heard: no such option: --no-schedulr (did you mean --no-scheduler?); see heard run --help"),
        (("jobs", "run"), "heard: missing argument 'JOB'; see heard jobs run --help"),
        (("jobs", "list", "--team"), "heard: option '--team' requires an argument; see heard jobs list --help"),
        (("export",), "heard: missing option '--out'; see heard export --help"),
        (("jobs", "run", "feedback-sweep", "extra"), "heard: got unexpected extra argument(s) (extra); see heard jobs run --help"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line_and_exit_2(tmp_path, args, line):
    result = heard(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result.stderr) == line
    assert result.stdout == ""


@pytest.mark.parametrize("args", [(), ("jobs",), ("db",)])
def test_a_group_alone_shows_its_help_and_exits_2(tmp_path, args):
    result = heard(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Usage: heard {' '.join(args)}".rstrip() + " [OPTIONS] COMMAND")


def test_run_without_slack_settings_says_what_to_set(tmp_path):
    result = heard("run", cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "SLACK_BOT_TOKEN" in line and "heard demo" in line


def test_malformed_setting_is_one_line_and_exit_2(tmp_path):
    result = heard("run", cwd=tmp_path, PORT="not-a-port")
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("heard: PORT")


def test_env_file_is_read_from_the_working_directory(tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=mysql://nope\n")
    result = heard("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL" in one_line(result.stderr)


def test_db_upgrade_on_a_fresh_file(tmp_path):
    first = heard("db", "upgrade", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Applied 0001" in first.stdout
    assert (tmp_path / "heard.db").exists()  # the default sqlite:///heard.db
    again = heard("db", "upgrade", cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_jobs_list_on_a_fresh_file_shows_each_job_and_its_default_schedule(tmp_path):
    from bot.features import load_rooms
    from bot.scheduler.schedules import load_default_schedules, schedules_dir

    result = heard("jobs", "list", cwd=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/j.db")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    defaults = load_default_schedules(schedules_dir())
    registered = list(load_rooms().registry)
    assert registered, "no room registers a job"
    for spec in registered:
        [row] = [line for line in lines if f" {spec.name} " in line]
        assert f" {defaults[spec.name].cadence} " in row
    [note] = [line for line in lines if "No workspace is installed" in line]
    assert note == "No workspace is installed yet: each gets these schedules when it installs Heard."


def test_jobs_list_shows_each_job_per_workspace(tmp_path):
    from datetime import UTC, datetime

    from bot.db import create_db_engine, session_factory
    from bot.db.migrate import upgrade
    from bot.db.models import Workspace

    url = f"sqlite:///{tmp_path}/j.db"
    engine = create_db_engine(url)
    upgrade(engine)
    with session_factory(engine).begin() as session:
        session.add(Workspace(team_id="T0LIST001", name="Listed", time_zone="Asia/Tokyo",
                              installed_at=datetime(2026, 11, 1, tzinfo=UTC)))  # fmt: skip
    engine.dispose()
    result = heard("jobs", "list", "--team", "T0LIST001", cwd=tmp_path, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "feedback-sweep" in result.stdout and "Asia/Tokyo" in result.stdout
    assert "never" in result.stdout  # last run


def test_jobs_run_of_an_unknown_job_exits_2(tmp_path):
    result = heard("jobs", "run", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown job 'nope'" in one_line(result.stderr)


def test_a_schedule_file_for_a_job_that_does_not_exist_is_one_line_and_exit_2(tmp_path):
    """A typo in `job` (here "weekly-stories") was dropped without a word: the real job
    kept its old schedule while the operator believed it had changed."""
    import shutil

    from bot.scheduler.schedules import schedules_dir

    folder = tmp_path / "schedules"
    shutil.copytree(schedules_dir(), folder)
    (folder / "weekly-story.toml").write_text('job = "weekly-stories"\nwhen = "tue 09:00"\n')
    result = heard("jobs", "list", cwd=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/j.db")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"heard: {folder / 'weekly-story.toml'}: there is no job named 'weekly-stories' (the jobs: ")
    assert line.endswith(", weekly-story)")
    assert result.stdout == ""


def test_an_upgrade_over_rows_that_break_a_foreign_key_is_one_line_and_changes_nothing(tmp_path):
    """SQLite migrations run with foreign keys off and check them all before committing;
    rows that already broke one (written while enforcement was off) stop the upgrade with
    a line saying where, not a traceback. Nothing means nothing: Alembic's copy of
    feedback_items once stayed behind, and the upgrade after the rows were mended failed on it."""
    import sqlite3

    from bot.db import create_db_engine
    from bot.db.migrate import current_revision, upgrade

    def schema() -> list[tuple]:
        with sqlite3.connect(tmp_path / "broken.db") as connection:
            found = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()
        connection.close()
        return found

    url = f"sqlite:///{tmp_path}/broken.db"
    engine = create_db_engine(url)
    upgrade(engine, "0012_feedback_import_keys")
    engine.dispose()
    with sqlite3.connect(tmp_path / "broken.db") as connection:  # foreign keys off, as sqlite3 opens it
        connection.execute("INSERT INTO acknowledgements (feedback_item_id, kind, user_id, ref, created_at) "
                           "VALUES (999, 'reply', 'U1', '', '2026-11-01 00:00:00')")  # fmt: skip
    connection.close()
    before = schema()
    result = heard("db", "upgrade", cwd=tmp_path, DATABASE_URL=url)
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        "heard: the migration left rows referring to rows that do not exist (acknowledgements -> feedback_items), "
        "so nothing was changed; `PRAGMA foreign_key_check` in sqlite3 lists them"
    )
    assert schema() == before
    engine = create_db_engine(url)
    assert current_revision(engine) == "0012_feedback_import_keys"
    engine.dispose()

    with sqlite3.connect(tmp_path / "broken.db") as connection:  # the operator mends the row and runs it again
        connection.execute("DELETE FROM acknowledgements WHERE feedback_item_id = 999")
    connection.close()
    result = heard("db", "upgrade", cwd=tmp_path, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr


def test_a_database_a_newer_heard_migrated_is_one_line_and_changes_nothing(tmp_path):
    """A deploy rolled back onto a database the newer version upgraded: Alembic's
    "Can't locate revision" was a traceback and gunicorn's "Worker failed to boot"."""
    import sqlite3

    from bot.db import create_db_engine
    from bot.db.migrate import upgrade

    url = f"sqlite:///{tmp_path}/newer.db"
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(tmp_path / "newer.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    connection.close()
    for args in (("db", "upgrade"), ("jobs", "list")):
        result = heard(*args, cwd=tmp_path, DATABASE_URL=url)
        assert result.returncode == 1, result.stderr
        assert one_line(result.stderr) == (
            "heard: the database is at revision 0099_from_the_future, which this version of Heard does not have: "
            "a newer Heard upgraded it; run that version (or restore the backup taken before the upgrade)"
        )
    with sqlite3.connect(tmp_path / "newer.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099_from_the_future",)]
    connection.close()


def test_unreachable_database_is_one_line_and_exit_1(tmp_path):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/heard"
    result = heard("db", "upgrade", cwd=tmp_path, DATABASE_URL=url)
    assert result.returncode == 1
    assert one_line(result.stderr).startswith("heard: cannot connect to the database")


def test_a_database_that_refuses_writes_is_one_line_and_exit_1(tmp_path):
    # A read-only file (or a lock held too long, a full disk): a fault of the moment, not a
    # traceback with the statement and its rows.
    assert heard("db", "upgrade", cwd=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/heard.db").returncode == 0
    (tmp_path / "feedback.csv").write_text("text,author,created_at,source,url\nslow export,Dana,2026-11-20,call,\n")
    url = f"sqlite:///file:{tmp_path}/heard.db?mode=ro&uri=true"
    result = heard("feedback", "import", "feedback.csv", "--team", "T0READONLY", cwd=tmp_path, DATABASE_URL=url)
    assert result.returncode == 1
    assert one_line(result.stderr) == "heard: the database refused: attempt to write a readonly database"


def test_manifest_json_and_yaml_agree(tmp_path):
    as_json = heard("manifest", cwd=tmp_path)
    as_yaml = heard("manifest", "--format", "yaml", "--url", "https://h.example", cwd=tmp_path)
    assert as_json.returncode == 0 and as_yaml.returncode == 0
    socket_manifest = json.loads(as_json.stdout)
    http_manifest = yaml.safe_load(as_yaml.stdout)
    check_manifest_shape(socket_manifest)
    check_manifest_shape(http_manifest)
    assert socket_manifest["settings"]["socket_mode_enabled"] is True
    assert http_manifest["settings"]["event_subscriptions"]["request_url"] == "https://h.example/slack/events"


def test_manifest_uses_the_configured_command(tmp_path):
    result = heard("manifest", cwd=tmp_path, HEARD_SLASH_COMMAND="/customers")
    assert json.loads(result.stdout)["features"]["slash_commands"][0]["command"] == "/customers"


@pytest.mark.parametrize("args", [("--format", "xml"), ("--url", "http://insecure.example")])
def test_manifest_bad_options_exit_2(tmp_path, args):
    result = heard("manifest", *args, cwd=tmp_path)
    assert result.returncode == 2
    one_line(result.stderr)
