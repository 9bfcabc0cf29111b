import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.markup import Markup, parse
from bot.slack.requests import channel_id, command_words, user_id, usergroup_id


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", []),
        ("   ", []),
        ("help", ["help"]),
        ('schedule weekly-story "mon 10:00"', ["schedule", "weekly-story", "mon 10:00"]),
        ("schedule x “tue 09:00”", ["schedule", "x", "tue 09:00"]),
        ("leader add <@U0123|maya smith>", ["leader", "add", "<@U0123|maya smith>"]),
        ("a\x00b", ["ab"]),
        ('unbalanced "quote', ["unbalanced", '"quote']),
        ("leader add <@U0123|maya>,<@U0456>", ["leader", "add", "<@U0123|maya>", ",", "<@U0456>"]),
    ],
)
def test_command_words(text, words):
    assert command_words(text) == words


@given(st.text(max_size=300))
def test_command_words_never_raise(text):
    words = command_words(text)
    assert isinstance(words, list) and not any("\x00" in word for word in words)


@given(st.lists(st.sampled_from(["add", '"mon', '10:00"', "<@U0MAYA0001|maya smith>", "<!here>", "x<#C0FEEDBACK>y",
                                 "<", ">", "'", "“a b”", "<!subteam^S0SUPPORT1|@support>"]), max_size=8))  # fmt: skip
def test_every_mention_is_a_word_of_its_own(parts):
    text = " ".join(parts)
    words = command_words(text)
    for piece in parse(text):
        if isinstance(piece, Markup):
            assert piece.raw in words


def test_mentions():
    assert user_id("<@U0MAYA0001|maya>") == "U0MAYA0001"
    assert user_id("<@W0ENT0001>") == "W0ENT0001"
    assert channel_id("<#C0FEEDBACK|customer-feedback>") == "C0FEEDBACK"
    assert usergroup_id("<!subteam^S0SUPPORT1|@support>") == "S0SUPPORT1"


@pytest.mark.parametrize("word", ["<!channel>", "<!here>", "<!everyone>", "<!subteam^S1|@x>",
                                  "@maya", "U0MAYA0001", "<#C0123>", "<@u0lower>", ""])  # fmt: skip
def test_non_user_mentions_are_not_users(word):
    assert user_id(word) is None


def test_non_channels_are_not_channels():
    assert channel_id("<@U0MAYA0001>") is None
    assert channel_id("#general") is None
