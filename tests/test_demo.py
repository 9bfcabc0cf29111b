import csv
import io
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from bot.demo import explore_commands, heard_invocation, run_demo

STATUSES = ("open", "acknowledged", "ignored", "resolved")


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    database = tmp_path_factory.mktemp("demo") / "heard-demo.db"
    run_demo(console, now=datetime(2026, 11, 25, 9, tzinfo=UTC), database=database)
    return out.getvalue()


def step(output: str, title: str) -> str:
    """The printed text of the demo step called `title`."""
    start = re.search(rf"^\d+\. {re.escape(title)} ", output, re.MULTILINE)
    assert start, f"no step {title!r}"
    following = re.search(r"^\d+\. ", output[start.end():], re.MULTILINE)
    return output[start.start(): start.end() + following.start()] if following else output[start.start():]


def test_demo_installs_and_serves(demo_output):
    assert "Recorded workspace Acme Robotics (T0ACME001)" in demo_output
    assert "HTTP 401" in demo_output
    assert "Delivered twice, handled 1 time(s)." in demo_output
    assert "heard manifest --url" in demo_output
    assert " 0 rejected" in demo_output  # every call passed the fake Slack's checks


def test_demo_shows_an_admin_setting_heard_up(demo_output):
    assert "The workspace takes her time zone (Europe/Berlin)" in demo_output
    assert "Only Heard admins can use pause. Ask @maya, @tomas" in demo_output
    assert "#old-archive is archived; pick another channel. Usage: /heard channel stories|digest" in demo_output
    assert "How Heard works" in demo_output and "Setup (admins)" in demo_output
    assert "1 step left to set Heard up." in demo_output
    assert "Custom for weekly-story" in demo_output


def test_demo_shows_feedback_acknowledged_ignored_and_the_loop_closed(demo_output):
    assert "is now a feedback channel" in demo_output
    assert "Backfilled #customer-feedback: 7 feedback item(s) from the last 30 days, 2 of them already acknowledged." in demo_output
    assert "Customer feedback from @priya" in demo_output
    assert ":eyes: @jonas reacted to the customer feedback you shared." in demo_output
    assert "feedback-sweep: succeeded — 5 newly ignored, 6 reminder(s) queued" in demo_output
    assert "Nobody has acknowledged this customer feedback in 72 hours" in demo_output
    assert "Run again in the same hour: skipped" in demo_output
    assert "@tomas replied to the customer feedback you shared." in demo_output
    assert "Your customer feedback: 1 acknowledged, 2 ignored." in demo_output


def test_demo_shows_departments_prompted_one_logging_and_one_nudged(demo_output):
    prompts = step(demo_output, "Decision prompts")
    assert "decision-prompts: succeeded — 2 department(s) prompted" in prompts
    assert "Decision log for Product" in prompts and "Decision log for Support" in prompts
    assert "decision-prompts: skipped — already ran for" in prompts
    logged = " ".join(step(demo_output, "A decision that links ignored feedback").split())
    assert "The modal opens with the department preselected: Support." in logged
    assert "Support logged a decision by priya" in logged
    assert "The linked feedback went from ignored to acknowledged" in logged
    assert "@priya linked a decision to the customer feedback you shared." in logged
    nudged = step(demo_output, "A silent department is nudged")
    assert "decision-nudges: succeeded — 1 silent department(s) nudged" in nudged
    assert "Product has not logged a decision" in nudged and "Support has not" not in nudged


def test_demo_shows_a_story_submitted_approved_posted_once_and_engaged_with(demo_output):
    story = " ".join(step(demo_output, "A customer story").split())
    assert "A customer story is waiting for approval (submitted by @sam)" in story
    assert "weekly-story: succeeded — story 1 queued for" in story
    assert "Shared by @sam" in story and "[ Reflect ]" in story
    assert "Run again the same week: skipped — already ran for" in story
    assert "1 story post(s) in #customer-stories" in story
    assert "@lena would change: Check where our own alerts land" in story
    assert "Story engagement this week: 1 posted, 2 reactions, 0 replies, 1 reflection, 2 people." in story


def test_what_heard_posts_never_pings(demo_output):
    posted = [line for line in demo_output.splitlines() if line.startswith("│")]
    assert any("@\u2060channel" in line for line in posted)  # Priya's @channel, defused
    for line in posted:
        assert "@channel" not in line and "@here" not in line, line
        # Slack shows an escaped <!channel> as text; the renderer decodes it for reading.
        assert "<!channel>" not in line or "Unknown command <!channel>" in line, line


def test_demo_explains_the_sweep_s_counts(demo_output):
    sweep = " ".join(step(demo_output, "Ignored").split())
    assert "5 newly ignored: all 5 item(s) that were still open, each said more than 72 hours before this run" in sweep
    assert ("6 reminder(s): one in the thread of each ignored item that has a thread: the 5 just ignored and 1 "
            "already ignored before this sweep but never reminded.") in sweep  # fmt: skip
    assert "Feedback items now: 3 acknowledged, 6 ignored (9 in all)" in sweep
    channel = " ".join(step(demo_output, "A feedback channel").split())
    assert "Feedback items now: 4 open, 2 acknowledged, 1 ignored (7 in all)" in channel
    assert "open: nobody has acknowledged it yet and it was said less than 72 hours ago" in channel


def test_heard_me_shows_one_status_per_item(demo_output):
    me = step(demo_output, "Closing the loop").split("types /heard me:")[1]
    item_lines = [line for line in me.splitlines() if " · " in line and "2026" in line]
    assert len(item_lines) == 3
    for line in item_lines:
        assert len([word for word in re.findall(r"[a-z]+", line) if word in STATUSES]) == 1, line


def test_demo_shows_the_week_ahead_with_the_schedule_changed_in_setup(demo_output):
    assert 'Maya Okafor: /heard schedule weekly-story "tue 09:30"' in step(demo_output, "Setting Heard up")
    week = step(demo_output, "The coming week")
    story = [line.split() for line in week.splitlines() if re.match(r"[A-Z][a-z]{2} \d\d [A-Z][a-z]{2} +weekly-story ", line)]
    assert [row[:6] for row in story] == [["Tue", "01", "Dec", "weekly-story", "09:30", "(custom)"]]
    assert "at (Europe/Berlin)" in week  # Maya's time zone, taken when she became the installer
    assert "weekly-story runs tue 09:30, set with /heard schedule (default: mon 10:00)." in week
    assert "Mon 30 Nov  feedback-sweep" in week


def test_demo_shows_the_digest_a_leader_receives_and_writes_its_page(demo_output, tmp_path_factory):
    digest = " ".join(step(demo_output, "The leadership digest").split())
    assert "leadership-digest: succeeded — digest queued for 2 recipient(s)" in digest
    assert "Leadership digest ·" in digest and "Themes of ignored feedback" in digest
    assert "[ Acknowledge ] [ Resolve… ] [ Assign to department… ] [ Open thread ]" in digest
    assert "The trend chart follows it" in digest
    assert "Run again this week: skipped" in digest
    written = re.search(r"web page: (\S+heard-digest\.html)", digest).group(1)
    assert Path(written).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_demo_ends_with_commands_that_read_its_database(demo_output):
    explore = step(demo_output, "Explore what the demo stored")
    assert demo_output.rstrip().endswith(explore.rstrip())  # the last thing printed
    commands = [line.strip() for line in explore.splitlines() if line.startswith("  DATABASE_URL=")]
    assert [c.split(" ", 2)[2] for c in commands] == ["jobs list", "export --out heard-export --team T0ACME001",
                                                      "digest preview --team T0ACME001"]


def test_the_invocation_printed_is_the_one_that_works_here(tmp_path, monkeypatch):
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").touch()
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(tmp_path)
    assert heard_invocation() == f"{bin_dir / 'python'} -m bot"  # no heard script: python -m bot
    (bin_dir / "heard").touch(mode=0o755)
    assert heard_invocation() == ".venv/bin/heard"  # `make demo`, from the repo root
    monkeypatch.chdir(tmp_path / ".venv")
    assert heard_invocation() == "bin/heard"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert heard_invocation() == str(bin_dir / "heard")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")  # an activated venv
    assert heard_invocation() == "heard"
    assert explore_commands(Path("heard-demo.db"), "T0ACME001")[0] == "DATABASE_URL=sqlite:///heard-demo.db heard jobs list"


def test_heard_demo_keeps_its_database_and_the_printed_commands_work(tmp_path, tmp_path_factory):
    # HOME elsewhere: libraries may keep files there (onnxruntime, with heard[embeddings],
    # writes ~/.cache/Microsoft/DeveloperTools when imported); the demo's folder is the test.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path_factory.mktemp("home"))}

    def demo():
        result = subprocess.run([sys.executable, "-m", "bot", "demo"], cwd=tmp_path, capture_output=True,
                                text=True, timeout=120, env=env)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Summary" in result.stdout
        return [line.strip() for line in result.stdout.splitlines() if line.startswith("  DATABASE_URL=")]

    jobs, export, digest = demo()
    # The database kept, the digest's page beside it, and nothing else.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heard-demo.db", "heard-digest.html"]
    listed = subprocess.run(jobs, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "feedback-sweep" in listed.stdout and "T0ACME001" in listed.stdout
    exported = subprocess.run(export, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "heard-export" / "feedback.csv").open(encoding="utf-8") as handle:
        first = list(csv.DictReader(handle))
    assert len(first) == 9 and {row["team_id"] for row in first} == {"T0ACME001"}
    previewed = subprocess.run(digest, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert previewed.returncode == 0, previewed.stderr
    assert "Leadership digest · Acme Robotics" in previewed.stdout

    demo()  # replaces the database: the same nine items, not eighteen
    subprocess.run(export, shell=True, cwd=tmp_path, check=True, capture_output=True, timeout=60, env=env)
    with (tmp_path / "heard-export" / "feedback.csv").open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 9


def test_a_demo_database_that_cannot_be_replaced_is_one_line(tmp_path):
    (tmp_path / "heard-demo.db").mkdir()
    result = subprocess.run([sys.executable, "-m", "bot", "demo"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("heard: cannot replace the demo database heard-demo.db")
