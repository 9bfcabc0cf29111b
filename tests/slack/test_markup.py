"""The one reader of Slack ids and `<…>` markup: mentions, broadcasts, links, plain text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack import markup
from bot.slack.blocks import channel_link, escape, mention
from bot.slack.markup import Markup, channel_id, parse, plain_text, user_id, usergroup_id

ID_TAIL = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=31)
USER_IDS = st.builds(lambda p, t: p + t, st.sampled_from("UW"), ID_TAIL)
CHANNEL_IDS = st.builds(lambda p, t: p + t, st.sampled_from("CG"), ID_TAIL)
USERGROUP_IDS = ID_TAIL.map(lambda t: "S" + t)
LABELS = st.text().filter(lambda t: not set("<>") & set(t))
MARKUP_SOUP = st.text(alphabet="<>@#!|^&;:/ltgampsubteUCSW01 ", max_size=60)
BROADCASTS = ["here", "channel", "everyone"]


@given(st.text() | MARKUP_SOUP)
def test_parse_never_raises_and_loses_nothing(text):
    pieces = parse(text)
    assert "".join(p.raw if isinstance(p, Markup) else p for p in pieces) == text


@given(st.text() | MARKUP_SOUP)
def test_readers_never_raise_and_only_return_ids(word):
    assert user_id(word) is None or markup.is_user_id(user_id(word))
    assert channel_id(word) is None or markup.is_channel_id(channel_id(word))
    assert usergroup_id(word) is None or markup.is_usergroup_id(usergroup_id(word))


@given(USER_IDS, LABELS)
def test_user_mentions_round_trip(uid, label):
    assert user_id(f"<@{uid}>") == uid
    assert user_id(f"<@{uid}|{label}>") == uid
    assert user_id(mention(uid)) == uid
    assert channel_id(f"<@{uid}>") is None and usergroup_id(f"<@{uid}>") is None


@given(CHANNEL_IDS, LABELS)
def test_channel_mentions_round_trip(cid, label):
    assert channel_id(f"<#{cid}|{label}>") == cid
    assert channel_id(channel_link(cid)) == cid
    assert user_id(f"<#{cid}>") is None


@given(USERGROUP_IDS, LABELS)
def test_usergroup_mentions_round_trip(sid, label):
    assert usergroup_id(f"<!subteam^{sid}|{label}>") == sid
    assert user_id(f"<!subteam^{sid}|{label}>") is None


@given(st.sampled_from(BROADCASTS), LABELS)
def test_broadcasts_are_never_people_channels_or_groups(name, label):
    for word in (f"<!{name}>", f"<!{name}|{label}>"):
        assert user_id(word) is None and channel_id(word) is None and usergroup_id(word) is None


@pytest.mark.parametrize("word", ["<@U0MAYA0001", "@U0MAYA0001", "U0MAYA0001", "<@u0lower>", "<@U0MAYA0001 >",
                                  "<@U1>", "<@U" + "A" * 32 + ">", "<@U0MAYA0001>x", "<@D0DM000001>", ""])  # fmt: skip
def test_near_mentions_are_not_mentions(word):
    assert user_id(word) is None


def test_a_direct_message_is_a_conversation_not_a_channel():
    assert markup.is_conversation_id("D0DM000001") and not markup.is_channel_id("D0DM000001")
    assert channel_id("<#D0DM000001>") is None


@pytest.mark.parametrize("value", ["U0MAYA0001\n", " U0MAYA0001", "U0maya0001", "U1", "U" + "A" * 32, None, 42])
def test_ids_are_exact(value):
    assert not markup.is_user_id(value)


@pytest.mark.parametrize(("url", "ok"), [
    ("https://acme.example/x?a=1&b=2", True),
    ("http://acme.example", True),
    ("https://acme.example/a|b", False),  # `|` would end the link and start its label
    ("https://acme.example/<!here>", False),
    ("https://acme.example/a b", False),
    ("https://acme.example/\n", False),
    ("javascript:alert(1)", False),
    (None, False),
])  # fmt: skip
def test_link_urls_cannot_break_out_of_a_link(url, ok):
    assert markup.is_link_url(url) is ok


@pytest.mark.parametrize(("slack", "plain"), [
    ("<@U123|maya> said", "@maya said"),
    ("<@U123> said", "@U123 said"),
    ("in <#C123|general>", "in #general"),
    ("<!subteam^S1|@support> <!here> <!channel>", "@support @here @channel"),
    ("<https://x.example|docs> and <https://y.example>", "docs (https://x.example) and https://y.example"),
    ("<mailto:a@b.example|a@b.example>", "a@b.example"),
    ("a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"),
    ("&amp;lt;", "&lt;"),
    ("<https://x.example/?a=1&amp;b=2|R&amp;D>", "R&D (https://x.example/?a=1&b=2)"),
    ("a\x00b <@U1|x\x00y>", "ab @xy"),
])  # fmt: skip
def test_plain_text_reads_as_people_do(slack, plain):
    assert plain_text(slack) == plain


@given(st.text().filter(lambda t: not set("<>&\x00") & set(t)))
def test_plain_text_leaves_ordinary_text_alone(text):
    assert plain_text(text) == text


@given(st.text() | MARKUP_SOUP)
def test_plain_text_escaped_again_cannot_ping(text):
    out = escape(plain_text(text))
    assert "<" not in out and ">" not in out
