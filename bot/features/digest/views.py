"""The digest as Slack shows it (Block Kit) and as plain text: pure functions of a `Digest`.

Every piece of user text (feedback, department names, decision titles) goes through
`escape`/`excerpt`; links only to http(s) permalinks. A digest message stays within
Slack's 50 blocks: the largest `THEMES_SHOWN` themes and the `OLDEST_SHOWN` oldest items,
with a line saying how many more there are (the HTML and JSON hold them all).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import (
    ButtonElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.features.digest.service import Counts, Digest, DigestTheme
from bot.features.digest.service import excerpt as plain_excerpt
from bot.slack.blocks import (
    actions,
    button,
    context,
    divider,
    escape,
    excerpt,
    header,
    section,
    to_dicts,
)
from bot.slack.markup import is_link_url, is_user_id

ACKNOWLEDGE_ACTION = "digest_acknowledge"
ASSIGN_ACTION = "digest_assign"
OPEN_ACTION = "digest_open_thread"
ASSIGN_MODAL = "digest_assign_department"
DEPARTMENT_INPUT = "department"
RESOLVE_ACTION = "digest_resolve"
RESOLVE_MODAL = "digest_resolve_item"
RESOLUTION_INPUT = "resolution"

THEMES_SHOWN = 8
OLDEST_SHOWN = 5
QUOTE_LIMIT = 200
UNTOUCHED = "No department has logged a decision about this in 90 days."
EVERYTHING_ACKNOWLEDGED = "Everything customers said was acknowledged: nothing is waiting in the ignored backlog."
RISING = ":chart_with_upwards_trend: rising"
IMPACT_ORDER = ("helped", "hurt", "mixed", "unknown", "none")


def day(moment: datetime, zone: str = "UTC") -> str:
    """The day `moment` falls on in the workspace's time zone: `25 Nov 2026`."""
    local = moment.astimezone(_zone(zone))
    return f"{local.day} {local:%b %Y}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def period_line(digest: Digest) -> str:
    start, end = digest.period.start, digest.period.end
    return f"{day(start, digest.time_zone)} – {day(end, digest.time_zone)}"


def link(url: str | None, label: str) -> str:
    """A mrkdwn link to an http(s) URL; anything else shows the label alone."""
    if not is_link_url(url):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label)}>"


def _change(now: float | None, before: float | None, unit: str = "") -> str:
    if now is None or before is None:
        return "" if before is None else f" (was {before}{unit})"
    delta = now - before
    if delta == 0:
        return " (same as the week before)"
    sign = "+" if delta > 0 else "−"
    shown = abs(round(delta, 1)) if isinstance(delta, float) else abs(delta)
    return f" ({sign}{shown}{unit} on the week before)"


def counts_lines(counts: Counts, previous: Counts) -> list[str]:
    """The headline counts, each against the previous period."""
    median = "no acknowledgements" if counts.median_ack_hours is None else f"{counts.median_ack_hours} h"
    return [
        f"Received: {counts.received}{_change(counts.received, previous.received)}",
        f"Acknowledged: {counts.acknowledged}{_change(counts.acknowledged, previous.acknowledged)}",
        f"Ignored backlog: {counts.ignored}{_change(counts.ignored, previous.ignored)}",
        f"Median time to acknowledge: {median}"
        + _change(counts.median_ack_hours, previous.median_ack_hours, " h"),
    ]


def impact_mix(impact: dict[str, int]) -> str:
    parts = [f"{impact[name]} {name}" for name in IMPACT_ORDER if impact.get(name)]
    return ", ".join(parts) or "no decisions"


def stories_line(stories: dict[str, int]) -> str:
    if not stories.get("posted"):
        return "No customer story was posted this period."
    posted = stories["posted"]
    return (f"{_count(posted, 'story', 'stories')} posted: {_count(stories.get('reactions', 0), 'reaction')}, "
            f"{_count(stories.get('replies', 0), 'reply', 'replies')}, "
            f"{_count(stories.get('reflections', 0), 'reflection')} from {_count(stories.get('people', 0), 'person', 'people')}.")  # fmt: skip


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def fallback_text(digest: Digest) -> str:
    """The notification text (what a phone shows): the headline in one line."""
    if digest.everything_acknowledged:
        return f"Leadership digest {period_line(digest)}: everything customers said was acknowledged."
    rising = f", {len(digest.rising)} rising" if digest.rising else ""
    return (f"Leadership digest {period_line(digest)}: {digest.counts.ignored} ignored feedback item(s) "
            f"in {len(digest.themes)} theme(s){rising}.")  # fmt: skip


# -- Block Kit -------------------------------------------------------------------------------------


def render_blocks(digest: Digest, *, command: str = "/heard", buttons: bool = True) -> tuple[str, list[dict]]:
    """The digest message: (notification text, blocks). `buttons=False` for a preview
    whose buttons nobody should press from an ephemeral reply."""
    blocks = [
        header(f"Leadership digest · {period_line(digest)}"),
        context(f"{escape(digest.workspace_name)} · what customers said, and what nobody acted on"),
        section("*This week*\n" + "\n".join(counts_lines(digest.counts, digest.previous))),
    ]
    if digest.everything_acknowledged:
        blocks.append(section(f":white_check_mark: {EVERYTHING_ACKNOWLEDGED}"))
        blocks += _departments_and_stories(digest)
        blocks.append(context(_footer(digest, command)))
        return fallback_text(digest), to_dicts(blocks)

    blocks += [divider(), section(f"*Themes of ignored feedback* ({len(digest.themes)})")]
    for number, theme in enumerate(digest.themes[:THEMES_SHOWN], start=1):
        blocks += theme_blocks(number, theme, digest.time_zone)
    if len(digest.themes) > THEMES_SHOWN:
        more = digest.themes[THEMES_SHOWN:]
        blocks.append(context(f"…and {len(more)} smaller theme(s) with {sum(t.count for t in more)} item(s): "
                              "`heard digest preview --format html` shows them all."))  # fmt: skip

    blocks += [divider(), section(f"*Oldest ignored feedback* ({digest.counts.ignored} in all)")]
    for item in digest.ignored[:OLDEST_SHOWN]:
        # A CSV author's name is shown; a Slack person is not mentioned (a digest must ping nobody).
        who = f" · from {escape(item.reporter)}" if item.reporter and not is_user_id(item.reporter) else ""
        blocks.append(section(f"> {excerpt(item.text, QUOTE_LIMIT)}\n_said {day(item.said_at, digest.time_zone)}{who}_"))
        if buttons:
            blocks.append(item_actions(item.id, item.permalink))
    blocks += _departments_and_stories(digest)
    blocks.append(context(_footer(digest, command)))
    return fallback_text(digest), to_dicts(blocks)


def theme_blocks(number: int, theme: DigestTheme, zone: str = "UTC") -> list:
    rising = f" · {RISING}" if theme.rising else ""
    lines = [f"*{number}. {escape(theme.label)}* · {theme.count} item{'s' if theme.count != 1 else ''}{rising}",
             escape(theme.summary)]  # fmt: skip
    for quote in theme.quotes:
        lines.append(f"> {excerpt(quote.excerpt, QUOTE_LIMIT)} {link(quote.permalink, 'open') if quote.permalink else ''}".rstrip())
    dots = "\n".join(
        f":link: *{escape(d.department)}* decided “{excerpt(d.title, 120)}” ({d.impact}, {day(d.logged_at, zone)})"
        for d in theme.related_decisions[:3]
    ) or f":grey_question: {UNTOUCHED}"
    if len(theme.related_decisions) > 3:
        dots += f"\n…and {len(theme.related_decisions) - 3} more decision(s)"
    return [section("\n".join(lines)), context(f"*Connect the dots* · {dots}")]


def item_actions(item_id: str, permalink: str | None):
    elements = [
        button("Acknowledge", ACKNOWLEDGE_ACTION, value=item_id, style="primary"),
        button("Resolve…", RESOLVE_ACTION, value=item_id),
        button("Assign to department…", ASSIGN_ACTION, value=item_id),
    ]
    if is_link_url(permalink):
        elements.append(ButtonElement(text=PlainTextObject(text="Open thread"), action_id=OPEN_ACTION,
                                      url=permalink, value=item_id))  # fmt: skip
    return actions(*elements, block_id=f"digest_item_{item_id}")


def _departments_and_stories(digest: Digest) -> list:
    blocks = []
    if digest.departments:
        lines = [f"• *{escape(d.name)}*: {d.logged} logged of {d.prompted} prompt(s) · {impact_mix(d.impact)}"
                 for d in digest.departments[:15]]  # fmt: skip
        blocks += [divider(), section("*Decision logs by department*\n" + "\n".join(lines))]
    blocks.append(section(f"*Customer stories*\n{stories_line(digest.stories)}"))
    return blocks


def engine_line(digest: Digest) -> str:
    """Which engine wrote the themes' labels and summaries, and why the LLM was not used
    when it was tried and failed (plain text: renderers escape it)."""
    if digest.engine == "llm":
        return "Theme labels and summaries written by the LLM"
    line = "Theme labels and summaries written offline by Heard"
    if digest.fallback_reason:
        line += f" (the LLM was not used: {digest.fallback_reason})"
    return line


def _footer(digest: Digest, command: str) -> str:
    engine = escape(engine_line(digest))
    return (f"Ignored = unacknowledged for {digest.ignore_after_hours:g} hours or more · {engine} · "
            f"admins: `{escape(command)} digest now` previews it")  # fmt: skip


def preview_reply(digest: Digest, command: str) -> tuple[str, list[dict]]:
    """`/heard digest now`: the digest as leaders get it, buttons left off (a preview)."""
    text, blocks = render_blocks(digest, command=command, buttons=False)
    note = context(":eyes: Preview, only you can see this. Leaders get it by DM when the leadership-digest job runs.")
    return text, [note.to_dict(), *blocks]


# -- assigning to a department -----------------------------------------------------------------------


def assign_modal(item_text: str, departments: list[str], metadata: str) -> dict:
    """Pick the department that should look at an ignored item."""
    options = [Option(text=name[:75], value=name[:75]) for name in departments[:100]]
    blocks = [
        section(f"> {excerpt(item_text, 500)}"),
        InputBlock(block_id=DEPARTMENT_INPUT, label="Department",
                   element=StaticSelectElement(action_id=DEPARTMENT_INPUT, options=options,
                                               placeholder="Choose a department")),
        context("Heard posts it in the department's channel and records who asked."),
    ]  # fmt: skip
    return View(type="modal", callback_id=ASSIGN_MODAL, title="Assign feedback", submit="Assign",
                close="Cancel", blocks=blocks, private_metadata=metadata).to_dict()  # fmt: skip


def resolve_modal(item_text: str, metadata: str) -> dict:
    """Close an ignored item, with an optional note for the person who shared it."""
    blocks = [
        section(f"> {excerpt(item_text, 500)}"),
        InputBlock(block_id=RESOLUTION_INPUT, label="Resolution note", optional=True,
                   element=PlainTextInputElement(action_id=RESOLUTION_INPUT, multiline=True, max_length=1000,
                                                 placeholder="What was done (optional)")),
        context("Resolving it also acknowledges it; the person who shared it is told who resolved it."),
    ]  # fmt: skip
    return View(type="modal", callback_id=RESOLVE_MODAL, title="Resolve feedback", submit="Resolve",
                close="Cancel", blocks=blocks, private_metadata=metadata).to_dict()  # fmt: skip


def info_modal(title: str, message: str) -> dict:
    return View(type="modal", title=title[:24], close="Close", blocks=[section(message)]).to_dict()


def assignment_post(item_text: str, permalink: str | None, department: str, by: str, item_id: str) -> tuple[str, list[dict]]:
    """What the department's channel sees: who asked it to look at which feedback."""
    from bot.slack.blocks import mention

    headline = f":inbox_tray: {mention(by)} asked *{escape(department)}* to look at this customer feedback nobody acknowledged."
    blocks = [section(headline), section(f"> {excerpt(item_text, 1000)}")]
    elements = [button("Acknowledge", ACKNOWLEDGE_ACTION, value=item_id, style="primary"),
                button("Resolve…", RESOLVE_ACTION, value=item_id)]  # fmt: skip
    if is_link_url(permalink):
        elements.append(ButtonElement(text=PlainTextObject(text="Open thread"), action_id=OPEN_ACTION,
                                      url=permalink, value=item_id))  # fmt: skip
    blocks.append(actions(*elements, block_id=f"digest_assigned_{item_id}"))
    return f"{department}: customer feedback to look at", to_dicts(blocks)


# -- plain text ------------------------------------------------------------------------------------


def render_text(digest: Digest) -> str:
    """The whole digest as plain text (a terminal, an e-mail): every theme, the oldest items."""
    out = [f"Leadership digest · {digest.workspace_name} · {period_line(digest)}", ""]
    out += counts_lines(digest.counts, digest.previous)
    out.append("")
    if digest.everything_acknowledged:
        out.append(EVERYTHING_ACKNOWLEDGED)
    else:
        out.append(f"Themes of ignored feedback ({len(digest.themes)})")
        for number, theme in enumerate(digest.themes, start=1):
            rising = "  [rising]" if theme.rising else ""
            out.append(f"{number}. {theme.label} — {theme.count} item(s){rising}")
            out.append(f"   {theme.summary}")
            out.append(f"   weekly (oldest first): {' '.join(map(str, theme.weekly))}")
            for quote in theme.quotes:
                where = f"  <{quote.permalink}>" if quote.permalink else ""
                out.append(f"   “{plain_excerpt(quote.excerpt, QUOTE_LIMIT)}”{where}")
            if theme.related_decisions:
                for d in theme.related_decisions:
                    out.append(f"   Connect the dots: {d.department} decided “{d.title}” ({d.impact}, {day(d.logged_at, digest.time_zone)})")
            else:
                out.append(f"   Connect the dots: {UNTOUCHED}")
        out += ["", "Oldest ignored feedback"]
        for item in digest.ignored[:10]:
            out.append(f"- {day(item.said_at, digest.time_zone)}: “{plain_excerpt(item.text, QUOTE_LIMIT)}”"
                       + (f"  <{item.permalink}>" if item.permalink else ""))  # fmt: skip
        if len(digest.ignored) > 10:
            out.append(f"- …and {len(digest.ignored) - 10} more")
    out += ["", "Decision logs by department"]
    out += [f"- {d.name}: {d.logged} logged of {d.prompted} prompt(s); {impact_mix(d.impact)}"
            for d in digest.departments] or ["- no departments yet"]  # fmt: skip
    out += ["", "Customer stories", f"- {stories_line(digest.stories)}", ""]
    out.append("Received vs ignored per week (oldest first): "
               + " ".join(f"{w.received}/{w.ignored}" for w in digest.trend))  # fmt: skip
    out += ["", f"Ignored = unacknowledged for {digest.ignore_after_hours:g} hours or more. {engine_line(digest)}."]
    return "\n".join(out) + "\n"
