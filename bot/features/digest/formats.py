"""The digest for machines (JSON) and for a browser (one self-contained HTML file).

Both are pure functions of a `Digest`. The JSON keys follow SPEC.md and are stable (more
may be added, none renamed; README "The digest JSON" lists them). The HTML carries its
style inline and the trend chart as a `data:` URI, and a Content-Security-Policy that
forbids loading anything else, so opening it makes no request.
"""

from __future__ import annotations

import base64
import html
import json
from datetime import datetime
from typing import Any

from bot.features.digest import views
from bot.features.digest.service import Counts, Digest, excerpt

SCHEMA_VERSION = 1


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _counts(counts: Counts) -> dict[str, Any]:
    return {"received": counts.received, "acknowledged": counts.acknowledged, "ignored": counts.ignored,
            "median_ack_hours": counts.median_ack_hours}  # fmt: skip


def as_dict(digest: Digest) -> dict[str, Any]:
    """The digest's JSON document as a dict, keys in a fixed order."""
    return {
        "team_id": digest.team_id,
        "period": {"start": _iso(digest.period.start), "end": _iso(digest.period.end)},
        "counts": _counts(digest.counts) | {"previous": _counts(digest.previous)},
        "themes": [
            {
                "label": theme.label,
                "summary": theme.summary,
                "count": theme.count,
                "item_ids": list(theme.item_ids),
                "quotes": [{"item_id": q.item_id, "excerpt": q.excerpt, "permalink": q.permalink} for q in theme.quotes],
                "related_decisions": [
                    {"id": d.id, "department": d.department, "title": d.title, "impact": d.impact,
                     "logged_at": _iso(d.logged_at)}
                    for d in theme.related_decisions
                ],
                "weekly": list(theme.weekly),
                "rising": theme.rising,
            }
            for theme in digest.themes
        ],
        "ignored": [
            {"id": item.id, "excerpt": excerpt(item.text), "reporter": item.reporter,
             "created_at": _iso(item.said_at), "permalink": item.permalink}
            for item in digest.ignored
        ],
        "departments": [
            {"name": d.name, "prompted": d.prompted, "logged": d.logged,
             "impact": {name: d.impact.get(name, 0) for name in views.IMPACT_ORDER}}
            for d in digest.departments
        ],
        "stories": {key: digest.stories.get(key, 0) for key in ("posted", "reactions", "replies", "reflections", "people")},
        "engine": digest.engine,
        "fallback_reason": digest.fallback_reason,
        # Added by Heard beyond SPEC.md's list (README "The digest JSON").
        "trend": [{"week_start": _iso(w.start), "received": w.received, "ignored": w.ignored} for w in digest.trend],
        "everything_acknowledged": digest.everything_acknowledged,
        "ignore_after_hours": digest.ignore_after_hours,
        "generated_at": _iso(digest.generated_at),
        "schema_version": SCHEMA_VERSION,
    }


def render_json(digest: Digest) -> str:
    """One line of JSON (`jq .` pretty-prints it): the C encoder, twice as fast as an
    indented one on a 100,000-item backlog."""
    return json.dumps(as_dict(digest), ensure_ascii=False) + "\n"


# -- HTML --------------------------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light; }
body { font: 16px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d1c1d; background: #f8f8f8; margin: 0; }
main { max-width: 860px; margin: 0 auto; padding: 32px 24px 64px; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 12px; border-bottom: 1px solid #ddd; }
.muted { color: #616061; font-size: 14px; }
.counts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 20px 0; }
.count { border: 1px solid #ddd; border-radius: 8px; padding: 12px; }
.count b { display: block; font-size: 26px; }
.theme { border: 1px solid #ddd; border-radius: 8px; padding: 16px; margin: 0 0 16px; }
.theme h3 { margin: 0 0 6px; font-size: 18px; }
.rising { background: #fdecea; color: #a4262c; border-radius: 4px; padding: 1px 6px; font-size: 13px; }
blockquote { margin: 8px 0; padding: 4px 12px; border-left: 4px solid #ccc; color: #333; }
.dots { background: #f4f7fb; border-radius: 6px; padding: 8px 12px; margin-top: 8px; font-size: 15px; }
.weekly { font-family: ui-monospace, Menlo, monospace; font-size: 13px; color: #616061; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eee; }
img.chart { max-width: 100%; height: auto; border: 1px solid #eee; }
a { color: #1264a3; }
"""


# Nothing but inline style and data: images may load: opening the file makes no request.
_CSP = ('<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _a(url: str | None, label: str) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return ""
    return f' <a href="{_e(url)}" rel="noreferrer noopener">{_e(label)}</a>'


def render_html(digest: Digest, chart_png: bytes | None = None) -> str:
    """One self-contained page: the whole digest, every theme and quote, the chart inline."""
    title = f"Leadership digest · {digest.workspace_name} · {views.period_line(digest)}"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        _CSP,
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><main>",
        (f"<h1>Leadership digest</h1><p class=\"muted\">{_e(digest.workspace_name)} · "
         f"{_e(views.period_line(digest))} · generated {_e(_iso(digest.generated_at))}</p>"),
    ]  # fmt: skip
    parts.append('<section class="counts" id="counts">')
    for label, line in zip(("Received", "Acknowledged", "Ignored backlog", "Median hours to acknowledge"),
                           views.counts_lines(digest.counts, digest.previous), strict=True):  # fmt: skip
        value, _, rest = line.partition(": ")[2].partition(" (")
        parts.append(f'<div class="count">{_e(label)}<b>{_e(value)}</b>'
                     f'<span class="muted">{_e("(" + rest) if rest else ""}</span></div>')  # fmt: skip
    parts.append("</section>")
    if chart_png:
        data = base64.b64encode(chart_png).decode("ascii")
        parts.append('<h2>Received vs ignored, last 12 weeks</h2>'
                     f'<img class="chart" id="trend" alt="Feedback received and ignored per week, last 12 weeks" '
                     f'src="data:image/png;base64,{data}">')  # fmt: skip

    if digest.everything_acknowledged:
        parts.append(f'<p id="everything-acknowledged">✅ {_e(views.EVERYTHING_ACKNOWLEDGED)}</p>')
    else:
        parts.append(f'<h2 id="themes">Themes of ignored feedback ({len(digest.themes)})</h2>')
        for number, theme in enumerate(digest.themes, start=1):
            rising = ' <span class="rising">rising</span>' if theme.rising else ""
            parts.append(f'<article class="theme"><h3>{number}. {_e(theme.label)}{rising}</h3>'
                         f'<p class="muted">{theme.count} item{"s" if theme.count != 1 else ""}</p>'
                         f"<p>{_e(theme.summary)}</p>")  # fmt: skip
            for quote in theme.quotes:
                parts.append(f'<blockquote class="quote">{_e(quote.excerpt)}{_a(quote.permalink, "open in Slack")}</blockquote>')
            if theme.related_decisions:
                lines = "".join(f"<li><b>{_e(d.department)}</b> decided “{_e(d.title)}” ({_e(d.impact)}, "
                                f"{_e(views.day(d.logged_at, digest.time_zone))})</li>" for d in theme.related_decisions)  # fmt: skip
                parts.append(f'<div class="dots"><b>Connect the dots</b><ul>{lines}</ul></div>')
            else:
                parts.append(f'<div class="dots"><b>Connect the dots</b> · {_e(views.UNTOUCHED)}</div>')
            parts.append(f'<p class="weekly">Last 8 weeks, oldest first: {" ".join(map(str, theme.weekly))}</p></article>')
        parts.append(f"<h2>Oldest ignored feedback ({digest.counts.ignored} in all)</h2><table>")
        parts.append("<tr><th>Said</th><th>Feedback</th></tr>")
        for item in digest.ignored[:20]:
            parts.append(f"<tr><td>{_e(views.day(item.said_at, digest.time_zone))}</td><td>{_e(excerpt(item.text, 300))}"
                         f"{_a(item.permalink, 'open')}</td></tr>")  # fmt: skip
        parts.append("</table>")

    parts.append("<h2>Decision logs by department</h2><table><tr><th>Department</th><th>Prompted</th>"
                 "<th>Logged</th><th>Impact</th></tr>")  # fmt: skip
    for d in digest.departments:
        parts.append(f"<tr><td>{_e(d.name)}</td><td>{d.prompted}</td><td>{d.logged}</td>"
                     f"<td>{_e(views.impact_mix(d.impact))}</td></tr>")  # fmt: skip
    if not digest.departments:
        parts.append('<tr><td colspan="4" class="muted">No departments yet.</td></tr>')
    parts.append("</table>")
    parts.append(f"<h2>Customer stories</h2><p>{_e(views.stories_line(digest.stories))}</p>")
    engine = views.engine_line(digest)
    parts.append(f'<p class="muted">Ignored = unacknowledged for {digest.ignore_after_hours:g} hours or more. '
                 f"{_e(engine)}.</p>")  # fmt: skip
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
