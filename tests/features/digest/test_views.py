"""The digest's renderers on hostile and odd text (hypothesis): Block Kit that Slack accepts
and that pings nobody, HTML that runs nothing and loads nothing, JSON that round-trips;
and the headline's wording against the week before."""

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.features.digest import formats, views
from bot.features.digest.service import (
    Counts,
    DepartmentRow,
    Digest,
    DigestPeriod,
    DigestTheme,
    Quote,
    RelatedDecision,
    TrendWeek,
)
from bot.features.feedback.kinds import ItemStatus
from bot.features.feedback.queries import FeedbackSummary
from bot.sandbox.fake_slack import message_block_errors
from tests.features.feedback.helpers import pings, texts

END = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
HOSTILE = st.one_of(
    st.text(max_size=400),
    st.sampled_from(["<!channel>", "<!here|here>", "<@U0MAYA0001>", "<!subteam^S0SUPPORT1>", "@channel", "&amp;",
                     "<script>alert(1)</script>", "</blockquote><img src=https://evil.example/x.png>", "*bold* _it_",
                     "<https://evil.example|click>", "😀" * 300, "\u202e\u0000\ud7ff", "ignore previous instructions"]),
)  # fmt: skip
URLS = st.one_of(st.none(), st.just("https://acme.slack.com/archives/C0FEEDBACK/p1795000000000100"),
                 st.just("javascript:alert(1)"), st.just("https://x.example/a>b|c"))  # fmt: skip


def digest_of(text: str, label: str, department: str, url: str | None, ids=("1", "2")) -> Digest:
    item = FeedbackSummary(ids[0], text, None, "Ada <script>", END - timedelta(days=5), ItemStatus.IGNORED, url, None)
    other = FeedbackSummary(ids[1], label, None, "U0SAM00006", END - timedelta(days=4), ItemStatus.IGNORED, url, None)
    decision = RelatedDecision("9", department, text[:255], "helped", END - timedelta(days=3))
    theme = DigestTheme(label, text, ids, (Quote(ids[0], text, url),), (decision,), (0,) * 7 + (2,), True)
    return Digest(
        team_id="T0ACME001", workspace_name=label or "Acme", period=DigestPeriod.ending(END),
        counts=Counts(2, 0, 2, None), previous=Counts(0, 0, 0, None), themes=(theme,), ignored=(item, other),
        departments=(DepartmentRow(department, 1, 1, {"helped": 1}),),
        stories={"posted": 1, "reactions": 2, "replies": 0, "reflections": 1, "people": 1},
        trend=tuple(TrendWeek(END - timedelta(days=7 * (12 - w)), w, w // 2) for w in range(12)),
        ignore_after_hours=72, generated_at=END,
    )  # fmt: skip


@given(text=HOSTILE, label=HOSTILE, department=HOSTILE, url=URLS)
def test_any_text_renders_valid_block_kit_that_pings_nobody(text, label, department, url):
    digest = digest_of(text, label, department, url)
    fallback, blocks = views.render_blocks(digest)
    assert message_block_errors(blocks) == []
    assert pings(texts({"text": fallback, "blocks": blocks})) == []
    assert "javascript:" not in json.dumps(blocks)


@given(text=HOSTILE, label=HOSTILE, department=HOSTILE, url=URLS)
def test_any_text_renders_html_that_runs_and_loads_nothing_and_json_that_round_trips(text, label, department, url):
    digest = digest_of(text, label, department, url)
    page = formats.render_html(digest, b"\x89PNG\r\n\x1a\nnot really")
    lowered = page.lower()
    assert "<script" not in lowered and "<img src=https" not in lowered and 'href="javascript' not in lowered
    assert lowered.count("<img ") == 1 and 'src="data:image/png;base64,' in page
    document = json.loads(formats.render_json(digest))
    assert document["themes"][0]["item_ids"] == ["1", "2"] and document["themes"][0]["rising"] is True
    assert document["ignored"][0]["reporter"] == "Ada <script>"  # JSON is data: plain text
    views.render_text(digest)


def test_the_headline_says_how_each_count_moved_on_the_week_before():
    lines = views.counts_lines(Counts(12, 5, 7, 3.5), Counts(10, 5, 9, None))
    assert lines == [
        "Received: 12 (+2 on the week before)",
        "Acknowledged: 5 (same as the week before)",
        "Ignored backlog: 7 (−2 on the week before)",
        "Median time to acknowledge: 3.5 h",
    ]
    assert views.counts_lines(Counts(0, 0, 0, None), Counts(1, 1, 0, 2.0))[3] == (
        "Median time to acknowledge: no acknowledgements (was 2.0 h)")


def test_days_are_shown_in_the_workspaces_time_zone():
    digest = digest_of("late call", "label", "Support", None)
    tokyo = digest.__class__(**{**digest.__dict__, "time_zone": "Asia/Tokyo",
                                "period": DigestPeriod.ending(datetime(2026, 11, 27, 20, 0, tzinfo=UTC))})  # fmt: skip
    assert views.period_line(tokyo) == "21 Nov 2026 – 28 Nov 2026"  # 05:00 on the 28th in Tokyo
    assert views.period_line(digest) == "20 Nov 2026 – 27 Nov 2026"
    assert views.day(END, "Not/AZone") == "27 Nov 2026"  # an unknown zone reads as UTC
