import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.blocks import channel_link, escape, excerpt, mention, section, truncate

PINGS = ["<!channel>", "<!here>", "<!everyone>", "<!subteam^S0123|@support>", "<@U0123ABC>",
         "<#C0123|general>", "<https://evil.example|click>"]  # fmt: skip


@pytest.mark.parametrize("ping", PINGS)
def test_escaped_text_cannot_ping_or_link(ping):
    out = escape(f"hello {ping} world")
    assert "<" not in out and ">" not in out
    assert "&lt;" in out


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Channel"])
def test_plain_broadcast_words_are_defused(word):
    assert word not in escape(f"ping {word} now")


def test_escape_keeps_ordinary_text_readable():
    assert escape("Export is slow & the CSV > 2 GB fails") == (
        "Export is slow &amp; the CSV &gt; 2 GB fails"
    )


def test_nul_bytes_are_dropped():
    assert escape("a\x00b") == "ab"


@given(st.text())
def test_escape_never_leaves_a_control_bracket(text):
    out = escape(text)
    assert "<" not in out and ">" not in out


def test_truncate_and_excerpt():
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
    assert excerpt("a\n\n b   <!here>", 100) == "a b &lt;!here&gt;"


def test_section_respects_slack_limit():
    assert len(section("x" * 5000).text.text) == 3000


@pytest.mark.parametrize("bad", ["!channel", "U1|x", "<@U123>", "C0123ABC", "", "U0123ABCD\n", "U0123ABCD>"])
def test_mention_only_takes_plain_user_ids(bad):
    with pytest.raises(ValueError):
        mention(bad)


def test_mention_formats_an_id():
    assert mention("U0123ABCD") == "<@U0123ABCD>"


@pytest.mark.parametrize("bad", ["here", "!here", "U0123ABCD", "C0123|x", "#C0123ABC", "C0123ABC\n", "S0123ABC"])
def test_channel_link_only_takes_plain_conversation_ids(bad):
    with pytest.raises(ValueError):
        channel_link(bad)


def test_channel_link_formats_channels_and_direct_messages():
    assert channel_link("C0FEEDBACK") == "<#C0FEEDBACK>"
    assert channel_link("D0DM000001") == "<#D0DM000001>"
