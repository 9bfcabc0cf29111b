"""The leadership digest: one `Digest` for a workspace and a period, built from what the
other rooms' `queries` modules say, and the rules of its weekly delivery.

What a digest holds, and the rule behind each part:

- **The period** is the seven days ending at `end` (the job's run, or now for a preview);
  the previous period is the seven days before it.
- **Counts**: feedback *said* in the period (received), how much of it was acknowledged,
  the median hours to the first acknowledgement; `ignored` is the backlog at the period's
  end (items unacknowledged past `ignore-after` then, whenever they were said). Each has
  the previous period's value beside it.
- **Themes** of the ignored backlog from the offline theme engine
  (`themes.find_themes`), on the stored sentence embeddings when every item has one
  (:func:`store_vectors`, run by the job), else TF-IDF: they partition the ignored items
  exactly, largest first. Labels and summaries come from one call, :func:`word_themes`:
  the LLM's with an OpenAI key, Heard's offline wording without one or when it fails
  (`engine`, `fallback_reason`).
- **Connect the dots**: the decisions logged in the last `RELATED_DAYS` days whose linked
  feedback resembles a theme. The linked items are clustered *with* the ignored ones (the
  same model assigns them to a theme) and must also be at least `RELATED_SIMILARITY`
  (cosine of word TF-IDF) from the theme's centre; a theme no decision touches says so.
- **Rising themes**: a theme's items counted by the week they were said over the last
  `WEEKS` weeks; rising when the last week is more than two standard deviations
  (population) above the mean of the weeks before (the spike rule).
- The oldest ignored items, decision-log participation and impact per department, story
  engagement for the period, and received vs ignored per week over `TREND_WEEKS` weeks.
"""

from __future__ import annotations

import logging
import statistics
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.decisions import queries as decisions
from bot.features.digest import embeddings
from bot.features.digest import labels as llm_labels
from bot.features.digest import themes as theme_engine
from bot.features.digest.models import DigestVector
from bot.features.feedback import queries as feedback
from bot.features.stories import queries as stories
from bot.llm import LLM
from bot.settings import Settings

log = logging.getLogger(__name__)

PERIOD = timedelta(days=7)
WEEKS = 8  # themes[].weekly
TREND_WEEKS = 12  # the chart
RELATED_DAYS = 90
RELATED_SIMILARITY = 0.15
QUOTES = 3
EXCERPT = 280
_LINKED = "linked:"  # ids of decisions' linked feedback while it is clustered with the backlog
# Items the leadership-digest job encodes (`store_vectors`) before building its digest, at
# most: about 8 s on one core, so a first digest over a backlog never encoded stays quick
# (its themes from TF-IDF) and each later run catches up by as many.
ENCODE_BUDGET = 1000


@dataclass(frozen=True)
class DigestPeriod:
    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime) -> DigestPeriod:
        return cls(end - PERIOD, end)

    @property
    def previous(self) -> DigestPeriod:
        return DigestPeriod(self.start - PERIOD, self.start)


@dataclass(frozen=True)
class Counts:
    received: int
    acknowledged: int
    ignored: int
    median_ack_hours: float | None


@dataclass(frozen=True)
class Quote:
    item_id: str
    excerpt: str  # plain text, cut to EXCERPT characters; renderers escape it
    permalink: str | None


@dataclass(frozen=True)
class RelatedDecision:
    id: str
    department: str
    title: str
    impact: str
    logged_at: datetime


@dataclass(frozen=True)
class DigestTheme:
    label: str
    summary: str
    item_ids: tuple[str, ...]
    quotes: tuple[Quote, ...]
    related_decisions: tuple[RelatedDecision, ...]
    weekly: tuple[int, ...]  # WEEKS counts, oldest week first
    rising: bool

    @property
    def count(self) -> int:
        return len(self.item_ids)


IgnoredItem = feedback.FeedbackSummary
"""An ignored item as the feedback room's queries give it: id, text (whole; renderers cut
and escape), reporter, said_at, permalink."""


@dataclass(frozen=True)
class DepartmentRow:
    name: str
    prompted: int
    logged: int
    impact: dict[str, int]  # helped, hurt, mixed, unknown, none


@dataclass(frozen=True)
class TrendWeek:
    start: datetime
    received: int
    ignored: int


@dataclass(frozen=True)
class Digest:
    team_id: str
    workspace_name: str
    period: DigestPeriod
    counts: Counts
    previous: Counts
    themes: tuple[DigestTheme, ...]
    ignored: tuple[IgnoredItem, ...]  # oldest first
    departments: tuple[DepartmentRow, ...]
    stories: dict[str, int]  # posted, reactions, replies, reflections, people
    trend: tuple[TrendWeek, ...]  # TREND_WEEKS weeks, oldest first
    ignore_after_hours: float
    generated_at: datetime
    engine: str = "offline"
    fallback_reason: str | None = None
    time_zone: str = "UTC"  # the workspace's: renderers show days in it

    @property
    def everything_acknowledged(self) -> bool:
        """Nothing in the backlog: the short "everything was acknowledged" digest."""
        return not self.ignored

    @property
    def rising(self) -> list[DigestTheme]:
        return [theme for theme in self.themes if theme.rising]


# -- building ------------------------------------------------------------------------------------


def build_digest(session: Session, workspace_id: int, *, end: datetime, now: datetime | None = None,
                 settings: Settings | None = None, llm: LLM | None = None) -> Digest:  # fmt: skip
    """The digest of the period ending at `end`, read through the other rooms' queries.

    With `settings` holding an OpenAI key (or an enabled `llm`, which wins; `settings`
    then only names the prompts directory), the themes' labels and summaries are the
    LLM's (:func:`word_themes`); without, Heard's offline wording.
    """
    workspace = session.get(Workspace, workspace_id)
    period = DigestPeriod.ending(end)
    backlog = feedback.ignored_at(session, workspace_id, end)
    counts = _counts(session, workspace_id, period, len(backlog))
    previous = _counts(session, workspace_id, period.previous,
                       feedback.ignored_count_at(session, workspace_id, period.previous.end))  # fmt: skip
    recent = [d for d in decisions.decisions_since(session, workspace_id, end - timedelta(days=RELATED_DAYS))
              if d.logged_at <= end]  # fmt: skip
    zone = workspace.time_zone or "UTC"
    if llm is None and settings is not None and settings.openai_api_key:
        llm = llm_labels.llm_from_settings(settings)
    themes, engine, reason = _themes(session, workspace_id, backlog, recent, end, zone, llm=llm, settings=settings)
    departments = tuple(
        DepartmentRow(p.department, p.prompted, p.logged, dict(p.impact))
        for p in decisions.participation(session, workspace_id, period.start, period.end)
    )
    return Digest(
        team_id=workspace.team_id, workspace_name=workspace.name or workspace.team_id, period=period,
        counts=counts, previous=previous, themes=themes,
        ignored=tuple(backlog),
        departments=departments,
        stories=stories.story_engagement(session, workspace_id, period.start, period.end),
        trend=_trend(session, workspace_id, end),
        ignore_after_hours=round(feedback.ignore_after(session, workspace_id).total_seconds() / 3600, 2),
        generated_at=now or end, engine=engine, fallback_reason=reason, time_zone=zone,
    )  # fmt: skip


def _counts(session: Session, workspace_id: int, period: DigestPeriod, ignored: int) -> Counts:
    said = feedback.period_counts(session, workspace_id, period.start, period.end)
    return Counts(said.received, said.acknowledged, ignored, said.median_ack_hours)


def week_edges(end: datetime, weeks: int) -> list[datetime]:
    """`weeks` + 1 edges of seven-day weeks ending at `end`, oldest first."""
    return [end - PERIOD * (weeks - i) for i in range(weeks + 1)]


def _trend(session: Session, workspace_id: int, end: datetime) -> tuple[TrendWeek, ...]:
    weeks = feedback.weekly_counts(session, workspace_id, week_edges(end, TREND_WEEKS))
    return tuple(TrendWeek(w.start, w.received, w.ignored) for w in weeks)


def is_rising(weekly: Sequence[int]) -> bool:
    """The spike rule: the last week above the earlier weeks' mean by more than two
    standard deviations (population), and above zero."""
    if len(weekly) < 2 or weekly[-1] <= 0:
        return False
    earlier = list(weekly[:-1])
    return weekly[-1] > statistics.fmean(earlier) + 2 * statistics.pstdev(earlier)


def weekly_of(said: Sequence[datetime], end: datetime, weeks: int = WEEKS) -> tuple[int, ...]:
    """How many of the times in `said` fall in each of the `weeks` weeks ending at `end`."""
    edges = week_edges(end, weeks)
    counts = [0] * weeks
    for moment in said:
        week = bisect_right(edges, moment) - 1
        if 0 <= week < weeks:
            counts[week] += 1
    return tuple(counts)


# -- themes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeWording:
    label: str
    summary: str


@dataclass(frozen=True)
class Labelling:
    """Each theme's label and two-sentence summary, and which engine wrote them."""

    wordings: list[ThemeWording]
    engine: str = "offline"
    fallback_reason: str | None = None


def word_themes(found: Sequence[theme_engine.Theme], items: dict[str, feedback.FeedbackSummary],
                zone: str = "UTC", *, llm: LLM | None = None, settings: Settings | None = None) -> Labelling:  # fmt: skip
    """The one place themes get their labels and summaries.

    Offline (engine "offline", no `fallback_reason`) without an enabled `llm`: the
    theme engine's label (its top terms) and a summary of two sentences Heard writes
    from the counts and dates. With one, the LLM labels and summarises the themes
    (`labels.label_themes`: redacted, fenced, within its token budget); when it fails,
    is slow or answers something unusable, every theme keeps the offline wording, the
    engine is "offline" and `fallback_reason` says why ("timeout", "HTTP 503 (2
    attempts)", "unknown theme ids", ...).
    """
    wordings = []
    local = _zone(zone)
    for theme in found:
        said = [items[i].said_at for i in theme.item_ids]
        oldest, newest = min(said).astimezone(local), max(said).astimezone(local)
        count = theme.count
        items_said = f"{count} ignored item{'s' if count != 1 else ''}"
        if theme.terms:
            first = f"{items_said} {'mention' if count != 1 else 'mentions'} {', '.join(theme.terms)}."
        elif count == 1:
            first = "1 ignored item on its own."
        else:
            first = f"{items_said} with no words in common."
        if oldest.date() == newest.date():
            second = f"Said on {_day(oldest)}; nobody has acknowledged {'them' if count != 1 else 'it'} yet."
        else:
            second = f"Said between {_day(oldest)} and {_day(newest)}; nobody has acknowledged them yet."
        wordings.append(ThemeWording(theme.label, f"{first} {second}"))
    if llm is None or not llm.enabled or not found:
        return Labelling(wordings)
    labelled = llm_labels.label_themes(
        found, {i: items[i].text for theme in found for i in theme.item_ids}, llm=llm, settings=settings,
        offline=[(w.label, w.summary) for w in wordings],
    )  # fmt: skip
    return Labelling([ThemeWording(w.label, w.summary) for w in labelled.in_order()], labelled.engine,
                     labelled.fallback_reason)  # fmt: skip


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def _themes(session: Session, workspace_id: int, backlog: list[feedback.FeedbackSummary],
            recent: list[decisions.DecisionSummary], end: datetime, zone: str = "UTC", *,
            llm: LLM | None = None, settings: Settings | None = None):  # fmt: skip
    """The backlog's themes, each with its quotes, related decisions and weekly counts."""
    if not backlog:
        return (), "offline", None
    items = {item.id: item for item in backlog}
    linked = _linked(session, workspace_id, recent, items)
    found = theme_engine.find_themes(
        [(item.id, item.text) for item in backlog] + [(_LINKED + i, item.text) for i, item in linked.items()],
        vectors=_stored_vectors(session, workspace_id, backlog, linked),
    )
    # The backlog's part of each theme (linked feedback only helped place it).
    kept: list[theme_engine.Theme] = []
    linked_theme: dict[str, int] = {}
    for theme in found:
        ours = tuple(i for i in theme.item_ids if not i.startswith(_LINKED))
        for i in theme.item_ids:
            if i.startswith(_LINKED) and ours:
                linked_theme[i.removeprefix(_LINKED)] = len(kept)
        if ours:
            typical = tuple(i for i in theme.representative_ids if i in items) or ours[:QUOTES]
            terms = said_terms(theme.terms, [items[i].text for i in ours])
            label = theme.label if terms == theme.terms else " · ".join(terms) or theme_engine.OTHER_LABEL
            kept.append(theme_engine.Theme(label, ours, typical, terms))
    order = sorted(range(len(kept)), key=lambda n: (-kept[n].count, kept[n].label, kept[n].item_ids[0]))
    rank = {old: new for new, old in enumerate(order)}
    kept = [kept[n] for n in order]
    linked_theme = {i: rank[n] for i, n in linked_theme.items()}

    close = _close_enough(kept, items, linked, linked_theme)
    related: list[list[RelatedDecision]] = [[] for _ in kept]
    theme_of_item = {i: n for n, theme in enumerate(kept) for i in theme.item_ids}
    for decision in sorted(recent, key=lambda d: (d.logged_at, int(d.id)), reverse=True):
        touched = {theme_of_item[i] for i in decision.feedback_ids if i in theme_of_item}
        touched |= {linked_theme[i] for i in decision.feedback_ids if i in linked_theme and close.get(i)}
        for n in sorted(touched):
            related[n].append(RelatedDecision(decision.id, decision.department, decision.title, decision.impact,
                                              decision.logged_at))  # fmt: skip

    labelling = word_themes(kept, items, zone, llm=llm, settings=settings)
    built = []
    for n, (theme, wording) in enumerate(zip(kept, labelling.wordings, strict=True)):
        weekly = weekly_of([items[i].said_at for i in theme.item_ids], end)
        quotes = tuple(Quote(i, excerpt(items[i].text), items[i].permalink) for i in theme.representative_ids[:QUOTES])
        built.append(DigestTheme(wording.label, wording.summary, theme.item_ids, quotes, tuple(related[n]),
                                 weekly, is_rising(weekly)))  # fmt: skip
    return tuple(built), labelling.engine, labelling.fallback_reason


def _linked(session: Session, workspace_id: int, recent: list[decisions.DecisionSummary],
            items: dict[str, feedback.FeedbackSummary]) -> dict[str, feedback.FeedbackSummary]:  # fmt: skip
    """The feedback recent decisions link that is not in the backlog (clustered with it)."""
    linked_ids = sorted({fid for d in recent for fid in d.feedback_ids} - items.keys(), key=int)
    return {item.id: item for item in feedback.by_ids(session, workspace_id, linked_ids)}


def _stored_vectors(session: Session, workspace_id: int, backlog: list[feedback.FeedbackSummary],
                    linked: dict[str, feedback.FeedbackSummary]) -> dict | None:  # fmt: skip
    """The sentence embeddings stored for every item the digest clusters, when the
    `heard[embeddings]` extra is installed and none is missing; else None (TF-IDF).
    Nothing is encoded here: the job encodes beforehand (`store_vectors`), so a preview
    records nothing and a digest never re-encodes."""
    if not embeddings.available():
        return None
    pairs = [(item.id, item.text) for item in backlog] + [(i, item.text) for i, item in linked.items()]
    stored = session.scalar(select(func.count()).select_from(DigestVector).where(
        DigestVector.workspace_id == workspace_id, DigestVector.model == embeddings.MODEL_ID))  # fmt: skip
    if stored < len(pairs):  # one count instead of reading 100,000 ids that have no vector
        log.info("%d vector(s) stored for %d digest items: themes from TF-IDF", stored, len(pairs))
        return None
    try:
        found = embeddings.ensure_vectors(session, workspace_id, pairs, max_encode=0)
    except Exception:  # unreadable vectors must not cost the digest its themes
        log.warning("Stored vectors unreadable; digest themes from TF-IDF", exc_info=True)
        return None
    if len(found) < len(pairs):
        log.info("%d of %d digest items have no vector yet: themes from TF-IDF", len(pairs) - len(found), len(pairs))
        return None
    return {item.id: found[item.id] for item in backlog} | {_LINKED + i: found[i] for i in linked}


def store_vectors(session: Session, workspace_id: int, *, end: datetime, budget: int | None = None) -> int:
    """Encode and store (in `session`'s transaction) the vectors still missing for the
    items a digest ending at `end` clusters, at most `budget` of them; returns how many
    were encoded. A batch outside the inbox's hot path: the leadership-digest job calls
    it before building. Vectors are stored once per item (`embeddings.ensure_vectors`),
    never encoded again unless the item's text changes. 0 without the extra. `budget`
    defaults to `ENCODE_BUDGET`."""
    budget = ENCODE_BUDGET if budget is None else budget
    if not embeddings.available() or budget <= 0:
        return 0
    backlog = feedback.ignored_at(session, workspace_id, end)
    if not backlog:
        return 0
    recent = decisions.decisions_since(session, workspace_id, end - timedelta(days=RELATED_DAYS))
    linked = _linked(session, workspace_id, [d for d in recent if d.logged_at <= end], {i.id: i for i in backlog})
    pairs = [(item.id, item.text) for item in backlog] + [(i, item.text) for i, item in linked.items()]
    counting = _CountingEncoder(embeddings.encoder())
    embeddings.ensure_vectors(session, workspace_id, pairs, using=counting, max_encode=budget)
    return counting.encoded


class _CountingEncoder:
    """An encoder that counts what it encodes (`store_vectors` reports it)."""

    def __init__(self, inner: embeddings.Encoder) -> None:
        self.inner, self.encoded = inner, 0

    def encode(self, texts):
        self.encoded += len(texts)
        return self.inner.encode(texts)


def said_terms(terms: Sequence[str], texts: Sequence[str]) -> tuple[str, ...]:
    """The label terms the backlog's own items say: each in at least two of them (all of
    them when fewer). The engine names a theme from all its members, and linked feedback
    that only helped place it may be where a term came from; a summary that says "2
    ignored items mention X" must be true of the items it counts."""
    enough = min(2, len(texts))
    counts = dict.fromkeys(terms, 0)
    wanted = {term for term in terms if counts[term] < enough}
    for text in texts:  # until every term is said enough: a theme of 50,000 is not read whole
        if not wanted:
            break
        for term in wanted & set(theme_engine.normalise(text).split()):
            counts[term] += 1
            if counts[term] >= enough:
                wanted.discard(term)
    return tuple(term for term in terms if counts[term] >= enough)


def _close_enough(kept, items, linked, linked_theme) -> dict[str, bool]:
    """Whether each linked item placed in a theme is at least RELATED_SIMILARITY (cosine
    of word TF-IDF) from that theme's centre: being nearest is not enough to be related."""
    if not linked_theme:
        return {}
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(18)
    members: dict[int, list[str]] = {}
    for n in set(linked_theme.values()):
        ids = kept[n].item_ids
        chosen = ids if len(ids) <= 200 else [ids[i] for i in sorted(rng.choice(len(ids), 200, replace=False))]
        members[n] = [theme_engine.normalise(items[i].text) for i in chosen]
    texts = [t for group in members.values() for t in group]
    linked_texts = {i: theme_engine.normalise(linked[i].text) for i in linked_theme}
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1)
    try:
        vectorizer.fit(texts + list(linked_texts.values()))
    except ValueError:  # no words at all
        return {}
    centres = {n: normalize(np.asarray(vectorizer.transform(group).mean(axis=0))) for n, group in members.items()}
    close = {}
    for i, n in linked_theme.items():
        vector = vectorizer.transform([linked_texts[i]])
        close[i] = float((vector @ centres[n].T).item()) >= RELATED_SIMILARITY
    return close


# Control characters (a NUL, an escape sequence's ESC) are spaces in an excerpt: they would
# reach a terminal raw in the text digest and a browser as U+FFFD in the HTML.
_CONTROLS = dict.fromkeys((*range(0x20), *range(0x7F, 0xA0)), " ")


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """Plain text on one line, cut to `limit` characters (renderers escape it)."""
    flat = " ".join((text or "").translate(_CONTROLS).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
