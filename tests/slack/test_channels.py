import pytest

from bot.slack.channels import ChannelUnusable, ensure_postable
from tests.people import ARCHIVED, GENERAL, GLOBEX_FEEDBACK, NO_SUCH_CHANNEL, PRODUCT


def test_public_channel_is_joined(slack_client, fake_slack):
    info = ensure_postable(slack_client, PRODUCT)
    assert (info.name, info.is_private) == ("product", False)
    assert fake_slack.calls_to("conversations.join", ok=True)


def test_member_channel_needs_no_join(slack_client, fake_slack):
    assert ensure_postable(slack_client, GENERAL).name == "general"
    assert fake_slack.calls_to("conversations.join") == []


@pytest.mark.parametrize(
    ("channel", "complaint"),
    [(ARCHIVED, "archived"), (NO_SUCH_CHANNEL, "can't see"), (GLOBEX_FEEDBACK, "can't see")],
)
def test_unusable_channels_say_why(slack_client, channel, complaint):
    with pytest.raises(ChannelUnusable, match=complaint):
        ensure_postable(slack_client, channel)
