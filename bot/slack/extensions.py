"""The contract between Heard's core and its feature rooms.

A feature package in `bot/features/` (listed in `bot.features.FEATURES`) provides:

- `register(app, runtime, *, notify)`: attach its Bolt listeners (events, actions,
  views, shortcuts). Listeners stay thin: ack, parse, call the feature's service.
- `JOBS`: the recurring jobs it contributes (`bot.scheduler.registry.JobSpec`).
- `SUBCOMMANDS`: its `/heard` subcommands (:class:`Subcommand`); the admin room's
  dispatcher parses the text, checks admin rights, acks and replies for all of them.
- `HOME_SECTIONS`: functions building its part of the App Home (:class:`HomeContext`
  in, Block Kit blocks out), in the order the feature lists them.
- `DEMO_STEPS`: functions `step(demo)` that `heard demo` runs in feature order
  (`bot.demo.DemoSession`), each showing what the feature posts.
- `register_cli(app)`: add its commands to the `heard` typer app. Commands build
  their runtime with `bot.cli.runtime_for_cli(load_settings())`, raise
  `bot.settings.ConfigError` for bad input (exit 2) and `bot.errors.Failure` for
  runtime failures (exit 1); both print one line.

Any of these may be empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from sqlalchemy.orm import Session

    from bot.db.models import Workspace
    from bot.runtime import Runtime


class UsageError(Exception):
    """Bad arguments: the reply is the message and the subcommand's usage, on one line."""

    def __init__(self, message: str, usage: str | None = None):
        super().__init__(message)
        self.message = message
        self.usage = usage


class CommandFailed(Exception):
    """A well-formed command that cannot be done (unknown channel, nothing to remove…)."""


@dataclass
class CommandRequest:
    """One `/heard` invocation, already tied to an installed workspace."""

    runtime: Runtime
    client: WebClient
    workspace_id: int
    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str | None
    command: str  # "/heard" (HEARD_SLASH_COMMAND)
    words: list[str]  # the words after the subcommand's name, quotes removed
    text: str  # the raw text after the subcommand's name
    is_admin: bool = False


@dataclass
class CommandReply:
    """The ephemeral answer; `after` runs once the ack has been sent (slow work)."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    after: Callable[[], None] | None = None


@dataclass(frozen=True)
class Subcommand:
    name: str  # the first word: "feedback", "feedback-channel", "me"
    usage: str  # after the command: 'feedback TEXT [customer:NAME] [source:SOURCE]'
    summary: str  # one line for `/heard help`
    run: Callable[[CommandRequest], CommandReply]
    admin_only: bool = False
    extra_usages: tuple[str, ...] = field(default=())  # further forms shown in help


@dataclass
class HomeContext:
    """What a feature's App Home section gets to build its blocks."""

    session: Session
    workspace: Workspace
    user_id: str
    is_admin: bool
    command: str
