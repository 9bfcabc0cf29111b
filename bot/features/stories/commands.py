"""The stories room's `/heard` forms: `story add` (anyone), `story now` and `story list`
(admins). Each parses its words, calls the service and returns the ephemeral reply."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.db.models import Workspace
from bot.features.stories import service, views
from bot.features.stories.channel import channel_problem
from bot.scheduler.registry import period_key
from bot.slack.blocks import channel_link, escape
from bot.slack.commands import Command, CommandFailed, CommandReply, CommandRequest, UsageError
from bot.slack.outbox import deliver_due
from bot.workspace_settings import load_config

log = logging.getLogger(__name__)


def story_add_command(request: CommandRequest) -> CommandReply:
    if request.words:
        raise UsageError("`story add` opens a form; type the story there.")
    if not request.trigger_id:
        raise CommandFailed("Slack did not send what Heard needs to open the form; try again.")
    try:
        request.client.views_open(trigger_id=request.trigger_id, view=views.story_modal(None, {}))
    except (SlackApiError, OSError) as exc:  # an expired trigger (three seconds) or Slack unreachable
        log.info("could not open the story modal: %s", exc)
        raise CommandFailed("Slack would not open the story form in time; please try again.") from None
    return CommandReply("Opening the story form…")


def story_now_command(request: CommandRequest) -> CommandReply:
    """Post the next story now, as this week's post (the weekly job then posts nothing).
    When this week's post is unconfirmed, look for it again instead; `again` posts anew."""
    if request.words not in ([], ["again"]):
        raise UsageError("`story now` takes no arguments but `again` (post even though Heard could not "
                         "confirm this week's post).")  # fmt: skip
    again = request.words == ["again"]
    runtime, now, command = request.runtime, request.runtime.clock(), request.command
    with runtime.sessions.begin() as session:
        workspace = session.get(Workspace, request.workspace_id)
        week = period_key("week", now, workspace.time_zone)
        channel = load_config(session, workspace.id).stories_channel
        outcome = service.post_week(
            session, workspace, week=week, channel=channel, now=now, requested_by=request.user_id,
            check_channel=lambda c: channel_problem(request.client, c), command=command, tell=False, again=again,
        )  # fmt: skip
        story_title = outcome.story.title if outcome.story else None
        post_id = outcome.post.id if outcome.post else None
        looking = outcome.kind == "already" and service.recheck_post(session, workspace, outcome.post, now=now)
    if looking:
        return _looked_again(request, post_id, week)
    if outcome.kind == "already":
        if outcome.post.status == service.PostStatus.UNCONFIRMED:
            return CommandReply(f"Heard is already looking for this week's story ({week}) in "
                                f"{channel_link(outcome.post.channel_id)}; it posts it only if it is missing.")  # fmt: skip
        if outcome.post.status == service.PostStatus.QUEUED:  # `again` while Heard looks for it, say
            return CommandReply(f"This week's story ({week}) is on its way to {channel_link(outcome.post.channel_id)}, "
                                "not posted yet: Heard sends it shortly (one it could not confirm, only once the "
                                "channel's history shows it is missing), so nothing more was queued.")  # fmt: skip
        return CommandReply(f"This week's story ({week}) is already posted; the next one goes out next week.")
    if outcome.kind == "empty":
        raise CommandFailed(f"There is no approved story to post. Add one with `{command} story add`, "
                            f"or approve one waiting in `{command} story list`.")  # fmt: skip
    if outcome.kind == "channel":
        text, _ = views.channel_problem(outcome.problem, channel, command)
        raise CommandFailed(text.replace("This week's customer story was not posted", "Nothing was posted"))
    deliver_due(runtime)
    with runtime.sessions.begin() as session:
        workspace = session.get(Workspace, request.workspace_id)
        service.settle_posts(session, workspace, now=runtime.clock(), command=command)
        post = session.get(service.StoryPost, post_id)
        status, error, where = post.status, post.error, post.channel_id
    title = escape(story_title)
    if status == service.PostStatus.FAILED:
        text, _ = views.channel_problem(error, where, command)
        raise CommandFailed(text.replace("This week's customer story was not posted", f"*{title}* was not posted"))
    if status == service.PostStatus.POSTED:
        return CommandReply(f"Posted *{title}* in {channel_link(where)} as this week's story ({week}).")
    return CommandReply(f"*{title}* is queued for {channel_link(where)} as this week's story ({week}); "
                        "Slack asked Heard to wait, it goes out shortly.")  # fmt: skip


def _looked_again(request: CommandRequest, post_id: int, week: str) -> CommandReply:
    """What looking again for an unconfirmed post found: it, its absence (posted now), or still nothing."""
    runtime = request.runtime
    deliver_due(runtime)
    with runtime.sessions.begin() as session:
        workspace = session.get(Workspace, request.workspace_id)
        service.settle_posts(session, workspace, now=runtime.clock(), command=request.command)
        post = session.get(service.StoryPost, post_id)
        status, error, where = post.status, post.error, channel_link(post.channel_id)
    if status == service.PostStatus.POSTED:
        return CommandReply(f"This week's story ({week}) is in {where}: Heard found it there, or posted it now "
                            "that it could check it was missing.")  # fmt: skip
    if status == service.PostStatus.FAILED:
        text, _ = views.channel_problem(error, post.channel_id, request.command)
        raise CommandFailed(text)
    reason = f" ({escape(error)})" if error else ""
    return CommandReply(f"Heard still cannot read {where}'s history{reason} to check whether this week's story "
                        f"({week}) is there, so it posted nothing. It keeps looking and posts it only if it is "
                        f"missing. If you see it is not there, `{request.command} story now again` posts it.")  # fmt: skip


def story_list_command(request: CommandRequest) -> CommandReply:
    if request.words:
        raise UsageError("`story list` takes no arguments.")
    with request.runtime.sessions.begin() as session:
        workspace = session.get(Workspace, request.workspace_id)
        service.settle_posts(session, workspace, now=request.runtime.clock(), command=request.command)
        text = views.bank_list(service.bank(session, workspace.id), request.command)
    return CommandReply(text)


COMMANDS = (
    Command("story add", "story add", "share a customer story (admins approve it before it is posted)",
            story_add_command),
    Command("story now", "story now [again]", "post the next customer story now, as this week's story "
            "(`again`: even though Heard could not confirm this week's post)", story_now_command, admin_only=True),
    Command("story list", "story list", "the story bank and each story's state", story_list_command,
            admin_only=True),
)  # fmt: skip
