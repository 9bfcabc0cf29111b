"""The story bank: `/heard story add` (admins and others), review by admins, bad input in
the modal, a double click, and `/heard story list`."""

from bot.features.stories import views
from tests.features.feedback.helpers import pings, texts
from tests.features.stories.room import STORY
from tests.people import LENA, PRIYA, SAM


def test_an_admins_story_goes_straight_into_the_bank(stories):
    answer = stories.add_story(user=PRIYA)
    assert answer["response_action"] == "update" and "in the bank" in texts(answer["view"])
    [story] = stories.stories()
    assert (story.state, story.submitted_by, story.reviewed_by) == ("approved", PRIYA, PRIYA)
    assert (story.title, story.customer) == (STORY["title"], STORY["customer"])
    assert stories.dms(PRIYA) == []  # nothing to review


def test_someone_elses_story_waits_and_each_admin_gets_approve_edit_discard(stories):
    answer = stories.add_story(user=SAM, anonymous=True)
    assert "waiting for an admin" in texts(answer["view"])
    [story] = stories.stories()
    assert (story.state, story.anonymous) == ("pending", True)
    [review] = stories.dms(PRIYA)
    assert STORY["title"] in texts(review)
    buttons = [e["action_id"] for b in review["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [views.APPROVE_ACTION, views.EDIT_ACTION, views.DISCARD_ACTION]


def test_approving_puts_the_story_in_the_bank_once(stories):
    stories.add_story(user=SAM)
    [story] = stories.stories()
    [reply] = stories.press(views.APPROVE_ACTION, story.id, user=PRIYA, channel=PRIYA)
    assert "Approved" in reply["text"]
    assert stories.stories()[0].state == "approved"
    [again] = stories.press(views.DISCARD_ACTION, story.id, user=PRIYA, channel=PRIYA)[-1:]
    assert "already approved" in again["text"]
    assert stories.stories()[0].state == "approved"


def test_only_admins_review(stories):
    stories.add_story(user=SAM)
    [story] = stories.stories()
    [reply] = stories.press(views.APPROVE_ACTION, story.id, user=LENA, channel=LENA)
    assert "Only Heard admins" in reply["text"]
    assert stories.stories()[0].state == "pending"


def test_edit_opens_the_story_prefilled_and_saving_approves_it(stories):
    stories.add_story(user=SAM)
    [story] = stories.stories()
    before = len(stories.slack.opened_views())
    stories.press(views.EDIT_ACTION, story.id, user=PRIYA, channel=PRIYA)
    modal = stories.slack.opened_views()[before]
    assert STORY["what_happened"] in str(modal["blocks"])
    answer = stories.submit(modal, user=PRIYA, title="Parcels found at night")
    assert answer["response_action"] == "update"
    [story] = stories.stories()
    assert (story.title, story.state, story.reviewed_by, story.submitted_by) == (
        "Parcels found at night", "approved", PRIYA, SAM)


def test_discarded_stories_are_never_posted(stories):
    stories.add_story(user=SAM)
    [story] = stories.stories()
    stories.press(views.DISCARD_ACTION, story.id, user=PRIYA, channel=PRIYA)
    assert stories.stories()[0].state == "discarded"
    stories.run_weekly()
    assert stories.posted() == []


def test_empty_and_oversize_fields_are_errors_in_the_modal_and_nothing_is_stored(stories):
    modal = stories.open_story_form(SAM)
    answer = stories.submit(modal, user=SAM, title="   ", learned="x" * 1501, link="javascript:alert(1)")
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {views.TITLE, views.LEARNED, views.LINK}
    assert "empty" in answer["errors"][views.TITLE] and "1500" in answer["errors"][views.LEARNED]
    assert stories.stories() == [] and stories.dms(PRIYA) == []


def test_a_double_click_on_submit_is_one_story(stories):
    modal = stories.open_story_form(SAM)
    stories.submit(modal, user=SAM)
    answer = stories.submit(modal, user=SAM)
    assert answer["view"]["title"]["text"] == "Already submitted"
    assert len(stories.stories()) == 1
    assert len(stories.dms(PRIYA)) == 1


def test_mentions_in_a_story_never_ping_in_the_review_dm(stories):
    stories.add_story(user=SAM, title="<!channel> look", what_happened="Ask <@U0MAYA0001> and <!subteam^S0SUPPORT1>")
    [review] = stories.dms(PRIYA)
    assert set(pings(texts(review))) == {f"@{SAM}"}  # the submitter, named by Heard itself
    assert "&lt;!channel&gt;" in texts(review) and "&lt;@U0MAYA0001&gt;" in texts(review)


def test_story_list_shows_each_story_and_its_state_to_admins_only(stories):
    stories.add_story(user=PRIYA)
    stories.add_story(user=SAM, title="A pending one")
    listing = stories.command("story list", user=PRIYA)["text"]
    assert STORY["title"] in listing and "approved, not posted yet" in listing
    assert "A pending one" in listing and "waiting for approval" in listing
    refused = stories.command("story list", user=SAM)["text"]
    assert "Only Heard admins" in refused and "A pending one" not in refused
