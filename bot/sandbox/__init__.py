"""A Slack that runs on this machine: seed workspaces, a fake Web API, and signed requests.

Used by the sandbox tests and by `heard demo`, which runs Heard with no Slack account.
"""

from bot.sandbox.fake_slack import (
    RESPONSE_URL_METHOD,
    UPLOAD_METHOD,
    FakeSlack,
    RecordedCall,
    message_block_errors,
    view_errors,
)
from bot.sandbox.signing import Response, SlackRequestSender
from bot.sandbox.workspace import (
    SeedChannel,
    SeedMessage,
    SeedUser,
    SeedUsergroup,
    SeedWorkspace,
    demo_workspace,
    second_workspace,
)

__all__ = [
    "RESPONSE_URL_METHOD",
    "UPLOAD_METHOD",
    "FakeSlack",
    "RecordedCall",
    "Response",
    "SeedChannel",
    "SeedMessage",
    "SeedUser",
    "SeedUsergroup",
    "SeedWorkspace",
    "SlackRequestSender",
    "demo_workspace",
    "message_block_errors",
    "second_workspace",
    "view_errors",
]
