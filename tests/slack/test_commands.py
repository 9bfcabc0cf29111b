"""The `/heard` router: forms of one or more words, who may run each, one dispatcher."""

import pytest

from bot.features import ROOMS, load_rooms
from bot.rooms import Room, RoomConflict, Rooms
from bot.scheduler.registry import JobSpec
from bot.slack.commands import (
    Caller,
    Command,
    CommandReply,
    CommandRouter,
    DuplicateCommand,
    SlashDispatcher,
    UsageError,
    unknown,
)


def form(name: str, *, admin_only: bool = False, usage: str | None = None) -> Command:
    def run(request):
        if request.words[:1] == ["bad"]:
            raise UsageError("That is bad.")
        return CommandReply(f"ran {name} with {request.words} / {request.text!r} admin={request.is_admin}")

    return Command(name, usage or name, f"does {name}", run, admin_only=admin_only)


STORY_ADD, STORY_NOW, STORY = form("story add"), form("story now", admin_only=True), form("story")


def test_the_longest_form_wins_and_keeps_what_follows():
    router = CommandRouter([("stories", STORY), ("stories", STORY_ADD), ("stories", STORY_NOW)])
    match = router.match(["Story", "ADD", "Northwind", "wins"])
    assert (match.command, match.words) == (STORY_ADD, ["Northwind", "wins"])
    assert router.match(["story", "list"]).command is STORY
    assert router.match(["stories"]) is None and router.match([]) is None


def test_two_rooms_declaring_one_form_fail_in_one_line_naming_both():
    with pytest.raises(DuplicateCommand) as caught:
        CommandRouter([("stories", STORY_ADD), ("decisions", form("Story  Add"))])
    assert str(caught.value) == "/heard Story  Add is declared by both the stories and the decisions rooms"
    with pytest.raises(DuplicateCommand, match="core and the stories"):
        CommandRouter([("stories", form("help"))])


def test_a_form_must_be_words_people_can_type():
    for name in ("", "story <add>", "störy", "story_add"):
        with pytest.raises(ValueError, match="lower-case words"):
            CommandRouter([("stories", form(name))])


def test_rooms_refuse_to_start_when_two_declare_the_same_thing():
    job = JobSpec("weekly-story", lambda job: None, "week", "post")
    with pytest.raises(RoomConflict, match="job 'weekly-story' is declared by both the a and the b rooms"):
        Rooms.of([Room("a", jobs=(job,)), Room("b", jobs=(job,))])
    with pytest.raises(RoomConflict, match="/heard story add is declared by both the a and the b rooms"):
        Rooms.of([Room("a", commands=(STORY_ADD,)), Room("b", commands=(STORY_ADD,))])


def test_heards_own_rooms_declare_nothing_twice():
    rooms = load_rooms()
    assert [room.name for room in rooms] == list(ROOMS)
    assert {"admin", "feedback", "decisions"} <= set(ROOMS)
    assert {c.name for c in rooms.router} >= {"config", "feedback", "feedback-channel", "me", "schedule"}


def test_unknown_text_gets_one_line_with_the_forms_it_was_near():
    router = CommandRouter([("stories", STORY_ADD), ("stories", STORY_NOW)])
    assert unknown(router, "/heard", ["story", "frob"]) == (
        "`story frob` is not a Heard command. Usage: `/heard story add | /heard story now`")
    assert unknown(router, "/heard", ["<!channel>"]) == "Unknown command `&lt;!channel&gt;`. Usage: `/heard help`"
    assert unknown(router, "/heard", []) == "Tell Heard what to do. Usage: `/heard help`"


class FakeRuntime:
    class settings:  # noqa: N801 - stands in for Settings
        heard_slash_command = "/heard"


def dispatcher(is_admin: bool, admins=("U0MAYA0001",)) -> SlashDispatcher:
    router = CommandRouter([("stories", STORY_ADD), ("stories", STORY_NOW)])
    asked = []

    def access(client, team_id, user_id):
        asked.append(user_id)
        return Caller(7, is_admin, lambda: list(admins))

    found = SlashDispatcher(FakeRuntime(), router, access, notify=lambda: None)
    found.asked = asked
    return found


def test_each_form_declares_who_may_run_it():
    member = dispatcher(is_admin=False)
    assert member.dispatch(None, team_id="T1", user_id="U1", text="story add Northwind").text.startswith("ran story add")
    refused = member.dispatch(None, team_id="T1", user_id="U1", text="story now").text
    assert refused == "Only Heard admins can use `story now`. Ask <@U0MAYA0001> or a workspace admin or owner."
    admin = dispatcher(is_admin=True)
    assert admin.dispatch(None, team_id="T1", user_id="U1", text="STORY NOW  please").text == (
        "ran story now with ['please'] / 'please' admin=True")


def test_help_lists_only_what_the_caller_may_run():
    member = dispatcher(is_admin=False).dispatch(None, team_id="T1", user_id="U1", text="help").text
    assert "`/heard story add`" in member and "story now" not in member
    admin = dispatcher(is_admin=True).dispatch(None, team_id="T1", user_id="U1", text="help").text
    assert "`/heard story now` — does story now" in admin


def test_bad_arguments_get_the_forms_usage_and_unknown_text_never_asks_slack():
    found = dispatcher(is_admin=True)
    assert found.dispatch(None, team_id="T1", user_id="U1", text="story add bad").text == (
        "That is bad. Usage: `/heard story add`")
    assert found.quick_answer("story frob") is not None and found.quick_answer("story add x") is None
    found.dispatch(None, team_id="T1", user_id="U1", text="frob")
    assert found.asked == ["U1"]  # only the well-formed command asked who the caller is
