"""The digest service on the database: exact counts for a seeded week against the week
before, themes partitioning the ignored backlog, related decisions and the untouched
line, rising themes, weekly counts, the trend, and the renderers over the same digest."""

import json
from datetime import timedelta

import pytest

from bot.features.digest import formats, service, views
from tests.features.digest.seed import END, decided, said
from tests.features.feedback.helpers import pings, texts

H, D = timedelta(hours=1), timedelta(days=1)
INV = ["Invoice PDF export is missing the totals", "Invoice PDF export missing totals again",
       "The invoice PDF export lost its totals"]  # fmt: skip
LOG = ["Mobile app crashes at login", "Mobile app crash at login screen", "The mobile app crashed at login"]


@pytest.fixture
def acme(make_workspace):
    return make_workspace("T0ACME001", name="Acme Robotics", domain="acme")


def build(session, workspace_id, end=END):
    return service.build_digest(session, workspace_id, end=end)


def test_a_seeded_week_counts_exactly_against_the_week_before(session, acme):
    w = acme.id
    start, previous_start = END - 7 * D, END - 14 * D
    # This week: five said; two acknowledged (after 2 h and 6 h: median 4.0), two ignored
    # (older than 72 h at the end), one still open (said yesterday).
    said(session, w, "a", start + 1 * H, acked_after=2 * H)
    said(session, w, "b", start + 2 * D, acked_after=6 * H)
    said(session, w, "c", start + 1 * D)
    said(session, w, "d", start + 3 * D)
    said(session, w, "e", END - 1 * D)
    # The week before: three said, one acknowledged after 10 h; two still ignored; and one
    # said then that was ignored at that week's end but acknowledged this week.
    said(session, w, "f", previous_start + 1 * D, acked_after=10 * H)
    said(session, w, "g", previous_start + 1 * D + 1 * H)
    said(session, w, "h", previous_start + 2 * D)
    said(session, w, "late", previous_start + 1 * D + 2 * H, acked_after=11 * D)
    # Older: one still ignored, one resolved, one said after the period (not counted).
    said(session, w, "old", END - 40 * D)
    said(session, w, "done", END - 30 * D, resolved_after=1 * D)
    said(session, w, "future", END + 1 * H)
    session.commit()

    digest = build(session, w)
    assert digest.period.start == start and digest.period.end == END
    assert digest.counts == service.Counts(received=5, acknowledged=2, ignored=5, median_ack_hours=4.0)
    # At the week before's end: g, h, late and old were unacknowledged past 72 h.
    assert digest.previous == service.Counts(received=4, acknowledged=2, ignored=4, median_ack_hours=137.0)
    assert [item.text for item in digest.ignored] == ["old", "g", "h", "c", "d"]  # oldest first
    document = formats.as_dict(digest)
    assert document["counts"] == {"received": 5, "acknowledged": 2, "ignored": 5, "median_ack_hours": 4.0,
                                  "previous": {"received": 4, "acknowledged": 2, "ignored": 4,
                                               "median_ack_hours": 137.0}}  # fmt: skip
    assert [w["received"] for w in document["trend"]][-2:] == [4, 5]


def test_themes_partition_the_ignored_items_exactly(session, acme):
    texts_ = INV + LOG + ["Please add dark mode", "Dark mode for the dashboard please", "😀😀", "https://x.example/a",
                          "Kundenservice antwortet nicht", "El envío llegó tarde", "配送が遅い"]  # fmt: skip
    for n in range(60):
        said(session, acme.id, texts_[n % len(texts_)] + ("" if n < len(texts_) else f" #{n}"), END - (4 + n % 40) * D)
    session.commit()
    digest = build(session, acme.id)
    ids = [i for theme in digest.themes for i in theme.item_ids]
    assert len(ids) == len(set(ids)) == 60
    assert set(ids) == {item.id for item in digest.ignored}
    assert [t.count for t in digest.themes] == sorted((t.count for t in digest.themes), reverse=True)
    document = json.loads(formats.render_json(digest))
    assert sorted(i for t in document["themes"] for i in t["item_ids"]) == sorted(i["id"] for i in document["ignored"])
    assert all(isinstance(i, str) for t in document["themes"] for i in t["item_ids"])


def test_one_item_and_no_items_give_a_correct_digest(session, acme):
    empty = build(session, acme.id)
    assert empty.themes == () and empty.everything_acknowledged
    _, blocks = views.render_blocks(empty)
    assert views.EVERYTHING_ACKNOWLEDGED in texts({"blocks": blocks})
    said(session, acme.id, "Only one thing: the scanner beeps too loud", END - 5 * D)
    session.commit()
    one = build(session, acme.id)
    [theme] = one.themes
    assert theme.item_ids == (one.ignored[0].id,) and len(theme.quotes) == 1 and not one.everything_acknowledged


def seed_two_topics(session, w):
    """Invoices: one a week for seven weeks, then four in the last; logins: two every week."""
    items = {"inv": [], "log": []}
    for week in range(8):
        week_start = END - (8 - week) * 7 * D
        for n in range(4 if week == 7 else 1):
            items["inv"].append(said(session, w, INV[n % 3], week_start + (1 + n % 3) * D + n * H))
        for n in range(2):
            items["log"].append(said(session, w, LOG[(week + n) % 3], week_start + 2 * D + n * H))
    return items


def theme_of(digest, item):
    return next(theme for theme in digest.themes if str(item.id) in theme.item_ids)


def test_a_theme_spiking_in_the_last_week_is_rising_and_a_steady_one_is_not(session, acme):
    items = seed_two_topics(session, acme.id)
    session.commit()
    digest = build(session, acme.id)
    invoices, logins = theme_of(digest, items["inv"][0]), theme_of(digest, items["log"][0])
    assert invoices is not logins and len(digest.themes) == 2
    assert invoices.weekly == (1, 1, 1, 1, 1, 1, 1, 4) and invoices.rising
    assert logins.weekly == (2,) * 8 and not logins.rising
    assert digest.rising == [invoices]
    _, blocks = views.render_blocks(digest)
    shown = texts({"blocks": blocks})
    assert shown.count(views.RISING) == 1
    assert "[rising]" in views.render_text(digest)
    assert formats.render_html(digest).count('class="rising"') == 1


@pytest.mark.parametrize(("weekly", "rising"), [
    ((1, 1, 1, 1, 1, 1, 1, 4), True), ((2,) * 8, False), ((0,) * 7 + (1,), True), ((0,) * 8, False),
    # mean 13/7 = 1.857, population sd 0.990: the bar is 3.84
    ((1, 3, 1, 3, 1, 3, 1, 3), False), ((1, 3, 1, 3, 1, 3, 1, 4), True), ((5, 0, 0, 0, 0, 0, 0, 2), False),
])  # fmt: skip
def test_the_spike_rule(weekly, rising):
    assert service.is_rising(weekly) is rising


def test_weekly_counts_by_the_week_said_oldest_first():
    times = [END - 1 * D, END - 6 * D, END - 8 * D, END - 55 * D, END - 57 * D, END]
    assert service.weekly_of(times, END) == (1, 0, 0, 0, 0, 0, 1, 2)


def test_decisions_linking_similar_feedback_connect_the_dots_and_an_untouched_theme_says_so(session, acme):
    w = acme.id
    items = seed_two_topics(session, w)
    fixed = said(session, w, "Invoice PDF export is missing the totals for Contoso", END - 20 * D, acked_after=H)
    parking = said(session, w, "The office parking garage is full every morning", END - 20 * D, acked_after=H)
    old_login = said(session, w, "Mobile app crashes at login for Fabrikam", END - 130 * D, acked_after=H)
    billing = decided(session, w, "Billing", "Totals are computed before the PDF is rendered", END - 10 * D, [fixed])
    decided(session, w, "Facilities", "Ten more parking spaces", END - 5 * D, [parking])
    decided(session, w, "Support", "Login crashes go to mobile on-call", END - 120 * D, [old_login])
    session.commit()

    digest = build(session, w)
    invoices, logins = theme_of(digest, items["inv"][0]), theme_of(digest, items["log"][0])
    assert [(d.id, d.department, d.title, d.impact) for d in invoices.related_decisions] == [
        (str(billing.id), "Billing", "Totals are computed before the PDF is rendered", "helped")]
    assert logins.related_decisions == ()  # the Support decision is 120 days old; parking resembles nothing
    ids = {i for theme in digest.themes for i in theme.item_ids}
    assert str(fixed.id) not in ids and str(parking.id) not in ids  # linked feedback only helped place themes

    text = views.render_text(digest)
    assert "Billing decided “Totals are computed before the PDF is rendered”" in text
    assert text.count(views.UNTOUCHED) == 1
    _, blocks = views.render_blocks(digest)
    assert texts({"blocks": blocks}).count(views.UNTOUCHED) == 1
    related = formats.as_dict(digest)["themes"]
    assert {tuple(d["id"] for d in t["related_decisions"]) for t in related} == {(str(billing.id),), ()}
    assert next(t for t in related if t["related_decisions"])["related_decisions"][0]["logged_at"] == \
        (END - 10 * D).isoformat().replace("+00:00", "Z")


def test_user_text_is_escaped_in_slack_and_html_and_quotes_link_to_their_message(session, acme):
    hostile = "<!channel> <@U0MAYA0001> ping & <script>alert(1)</script> *bold*"
    for n in range(3):
        said(session, acme.id, f"{hostile} {n}", END - (5 + n) * D, channel="C0FEEDBACK", ts=f"179000000{n}.000100")
    session.commit()
    digest = build(session, acme.id)
    _, blocks = views.render_blocks(digest)
    assert pings(texts({"blocks": blocks})) == []
    quote = digest.themes[0].quotes[0]
    assert quote.permalink.startswith("https://acme.slack.com/archives/C0FEEDBACK/p179000000")
    page = formats.render_html(digest)
    assert "<script>" not in page and "&lt;script&gt;" in page and "https://acme.slack.com/archives/" in page


def test_the_slack_blocks_are_valid_block_kit_and_stay_within_fifty(session, acme):
    from bot.sandbox.fake_slack import message_block_errors

    for n in range(300):
        said(session, acme.id, f"{INV[n % 3]} {'xyz'[n % 3]}" if n % 2 else f"{LOG[n % 3]} {n % 7}", END - (4 + n % 50) * D)
    session.commit()
    digest = build(session, acme.id)
    _, blocks = views.render_blocks(digest)
    assert len(blocks) <= 50 and message_block_errors(blocks) == []
    _, preview = views.preview_reply(digest, "/heard")
    assert len(preview) <= 50 and message_block_errors(preview) == []
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == views.OLDEST_SHOWN
    assert [e["action_id"] for e in actions[0]["elements"]][:3] == [views.ACKNOWLEDGE_ACTION, views.RESOLVE_ACTION,
                                                                    views.ASSIGN_ACTION]  # fmt: skip


def test_a_themes_summary_names_only_what_its_own_items_say():
    # The engine names a theme from every member, linked feedback included; the digest
    # keeps the backlog's part, so its terms must be said by the backlog's own items.
    texts = ["The AR-2 arm needs a full recalibration after each battery swap.",
             "Two prospects asked whether the fleet dashboard works offline."]  # fmt: skip
    assert service.said_terms(("needs", "recalibration"), texts) == ()
    assert service.said_terms(("battery", "offline"), [*texts, "Battery swaps take too long offline."]) == (
        "battery", "offline")
    assert service.said_terms(("needs",), texts[:1]) == ("needs",)  # one item: said once is enough


def test_an_excerpt_is_one_line_of_printable_text_cut_with_an_ellipsis():
    assert service.excerpt("Export\x00drops the\x1b[31m zone\r\n\tagain\x85") == "Export drops the [31m zone again"
    assert service.excerpt("word " * 100, limit=12) == "word word w…"
    assert service.excerpt(None) == ""
