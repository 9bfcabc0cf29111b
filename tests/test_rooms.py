"""The room contract's cross-room parts: buttons one room adds to another's cards, and
messages a room owns (whose reactions and replies other rooms leave alone)."""

import pytest

from bot.features import load_rooms
from bot.rooms import CardButton, ManifestPart, Room, RoomConflict, Rooms

TURN = CardButton("cards", "Turn it", "turn_it", states=("done",))


def test_a_card_button_goes_to_the_room_it_names_only():
    rooms = Rooms.of([
        Room("cards"),
        Room("helper", card_buttons=(TURN,), manifest=ManifestPart(callbacks=("turn_it",))),
        Room("other"),
    ])  # fmt: skip
    assert rooms.card_buttons("cards") == (TURN,)
    assert rooms.card_buttons("other") == () and rooms.card_buttons("helper") == ()
    assert TURN.shows_for("done") and not TURN.shows_for("open")
    assert CardButton("cards", "Any", "any").shows_for("open")


def test_a_card_button_its_room_does_not_listen_to_refuses_to_start():
    with pytest.raises(RoomConflict, match="the helper room's card button 'turn_it' is not among its callbacks"):
        Rooms.of([Room("cards"), Room("helper", card_buttons=(TURN,))])


def test_the_owner_of_a_message_is_the_room_that_says_so():
    asked = []

    def mine(session, workspace_id, channel, ts):
        asked.append((workspace_id, channel, ts))
        return ts == "1.000001"

    rooms = Rooms.of([Room("plain"), Room("poster", owns_message=mine)])
    assert rooms.message_owner(None, 7, "C1", "1.000001") == "poster"
    assert rooms.message_owner(None, 7, "C1", "2.000002") is None
    assert asked == [(7, "C1", "1.000001"), (7, "C1", "2.000002")]


def test_heards_rooms_turn_resolved_feedback_into_stories():
    rooms = load_rooms()
    [button] = [b for b in rooms.card_buttons("feedback") if b.action_id == "story_from_feedback"]
    assert (button.label, button.states) == ("Turn into a story", ("resolved",))
    assert "stories" in [room.name for room in rooms if room.owns_message]
