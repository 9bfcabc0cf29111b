import pytest

from bot.slack.channels import ChannelUnusable, ensure_postable


def test_public_channel_is_joined(slack_client, fake_slack):
    info = ensure_postable(slack_client, "C0PRODUCT1")
    assert (info.name, info.is_private) == ("product", False)
    assert fake_slack.calls_to("conversations.join", ok=True)


def test_member_channel_needs_no_join(slack_client, fake_slack):
    assert ensure_postable(slack_client, "C0GENERAL1").name == "general"
    assert fake_slack.calls_to("conversations.join") == []


@pytest.mark.parametrize(
    ("channel", "complaint"),
    [("C0OLDARCH1", "archived"), ("C0NOPE0001", "can't see"), ("C0GLXFEED1", "can't see")],
)
def test_unusable_channels_say_why(slack_client, channel, complaint):
    with pytest.raises(ChannelUnusable, match=complaint):
        ensure_postable(slack_client, channel)
