"""The digest room's part of `heard demo`, its last step: the leadership-digest job runs,
and the demo shows the DM a leader receives (with its chart) and writes the digest's
HTML next to the demo database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from rich.text import Text

from bot.features.admin import queries as admin
from bot.features.digest import service
from bot.features.digest.chart import trend_png
from bot.features.digest.formats import render_html
from bot.scheduler.runner import run_job
from bot.slack.outbox import deliver_due

HTML_NAME = "heard-digest.html"


def leadership_digest(demo) -> None:
    with demo.runtime.sessions() as session:
        from bot.workspaces import find

        workspace = find(session, demo.team_id)
        leaders = admin.leaders(session, workspace.id)
    if not leaders:
        return
    leader = leaders[0]
    name = next((u.real_name for u in demo.acme.users if u.id == leader), leader)
    demo.step("The leadership digest", f"The weekly leadership-digest job DMs each leader and posts in the "
                                       f"digest channel. This is what {name} receives:")  # fmt: skip
    before = len(demo.slack.messages(leader))
    # An hour on: what the earlier steps did at the demo's frozen instant is inside the period.
    original = demo.runtime.clock
    later = original() + timedelta(hours=1)
    demo.runtime.clock = lambda: later
    try:
        _send_and_show(demo, workspace.id, leader, before)
    finally:
        demo.runtime.clock = original


def _send_and_show(demo, workspace_id: int, leader: str, before: int) -> None:
    outcome = run_job(demo.runtime, demo.runtime.rooms.registry, "leadership-digest", demo.team_id)
    deliver_due(demo.runtime)
    sent_at = demo.runtime.clock()
    demo.runtime.clock = lambda: sent_at + timedelta(minutes=1)  # the chart follows its digest
    deliver_due(demo.runtime)
    demo.console.print(f"leadership-digest: {outcome.status} — {outcome.detail}")
    demo.show_messages(leader, since=before)
    shared = [f for f in demo.slack.files() if f.get("ims") or f.get("channels") or f.get("groups")]
    if shared:
        demo.console.print(f"The trend chart follows it ({shared[-1]['name']}, {shared[-1]['size']:,} bytes): "
                           "uploaded with files.getUploadURLExternal, shared by files.completeUploadExternal.")
    again = run_job(demo.runtime, demo.runtime.rooms.registry, "leadership-digest", demo.team_id, trigger="manual")
    demo.console.print(Text(f"Run again this week: {again.status} ({again.detail}); no leader gets it twice.",
                            style="dim"))  # fmt: skip

    with demo.runtime.sessions() as session:
        digest = service.build_digest(session, workspace_id, end=demo.runtime.clock(),
                                      settings=demo.runtime.settings)
    path = html_path(demo.runtime)
    path.write_text(render_html(digest, trend_png(digest.trend)), encoding="utf-8")
    demo.console.print(f"The same digest as one self-contained web page: [bold]{path}[/] "
                       "(open it in a browser; it makes no request).")  # fmt: skip


def html_path(runtime) -> Path:
    """Beside the demo's SQLite database."""
    database = runtime.engine.url.database
    return Path(database).with_name(HTML_NAME) if database else Path(HTML_NAME)


DEMO_STEPS = (leadership_digest,)
