"""Block Kit for customer stories: pure functions from stories and values to blocks.

Every piece of user text (a story's fields, a reflection) goes through `escape`; people
are mentioned only by ids Heard holds itself.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks import (
    actions,
    button,
    channel_link,
    context,
    divider,
    escape,
    excerpt,
    header,
    mention,
    section,
    to_dicts,
    truncate,
)
from bot.slack.markup import is_conversation_id, is_link_url, is_user_id

if TYPE_CHECKING:
    from bot.features.stories.models import Reflection, Story
    from bot.features.stories.service import BankEntry, Engagement

ADD_MODAL = "story_add"  # also the admins' Edit, with the story's id in its metadata
REFLECT_MODAL = "story_reflection"
REFLECT_ACTION = "story_reflect"
APPROVE_ACTION = "story_approve"
EDIT_ACTION = "story_edit"
DISCARD_ACTION = "story_discard"
FROM_FEEDBACK_ACTION = "story_from_feedback"  # "Turn into a story" on resolved feedback's card
FROM_FEEDBACK_LABEL = "Turn into a story"

# Block ids of the story modal are the story's field names (the service's errors name them).
TITLE, CUSTOMER, HAPPENED, LEARNED, LINK, ANONYMOUS = (
    "title", "customer", "what_happened", "learned", "link", "anonymous")  # fmt: skip
REFLECTION, SHARE = "reflection", "share"
REFLECT_QUESTION = "What would you change in your work because of this story?"
STATE_LABELS = {"pending": "waiting for approval", "approved": "approved", "discarded": "discarded"}


def person(user_id: str | None) -> str:
    return mention(user_id) if is_user_id(user_id) else "someone"


def _text_input(block_id: str, label: str, *, max_length: int, optional: bool = False, multiline: bool = False,
                placeholder: str | None = None, initial: str | None = None) -> InputBlock:  # fmt: skip
    return InputBlock(
        block_id=block_id, label=label, optional=optional,
        element=PlainTextInputElement(action_id=block_id, max_length=max_length, multiline=multiline,
                                      placeholder=placeholder, initial_value=initial or None),
    )  # fmt: skip


def _checkbox(block_id: str, label: str, text: str, *, checked: bool) -> InputBlock:
    option = Option(value="yes", text=text)
    return InputBlock(
        block_id=block_id, label=label, optional=True,
        element=CheckboxesElement(action_id=block_id, options=[option], initial_options=[option] if checked else None),
    )  # fmt: skip


def story_modal(fields: dict | None, metadata: dict, *, editing: bool = False) -> dict:
    """The story modal: title, customer or segment, what happened, what we learned, an
    optional link and "post without naming me". `fields` prefills it (an edit, feedback)."""
    from bot.features.stories.service import LIMITS

    fields = fields or {}
    blocks = [
        _text_input(TITLE, "Title", max_length=LIMITS["title"], initial=fields.get("title"),
                    placeholder="e.g. The night shift that stopped losing parcels"),
        _text_input(CUSTOMER, "Customer or segment", max_length=LIMITS["customer"], initial=fields.get("customer"),
                    placeholder="e.g. Northwind Logistics, or mid-size warehouses"),
        _text_input(HAPPENED, "What happened", max_length=LIMITS["what_happened"], multiline=True,
                    initial=fields.get("what_happened")),
        _text_input(LEARNED, "What we learned", max_length=LIMITS["learned"], multiline=True,
                    initial=fields.get("learned")),
        _text_input(LINK, "Link", max_length=LIMITS["link"], optional=True, initial=fields.get("link"),
                    placeholder="https://… (a call note, a ticket)"),
        _checkbox(ANONYMOUS, "Credit", "Post without naming me", checked=bool(fields.get("anonymous"))),
    ]  # fmt: skip
    if not editing:
        blocks.append(context("Stories from Heard admins go straight into the bank; others wait for an admin. "
                              "Each week Heard posts one story to the stories channel."))  # fmt: skip
    return View(
        type="modal", callback_id=ADD_MODAL, title="Edit story" if editing else "Customer story",
        submit="Save and approve" if editing else "Submit", close="Cancel", blocks=blocks,
        private_metadata=json.dumps(metadata),
    ).to_dict()  # fmt: skip


def feedback_fields(text: str, customer: str | None, link: str | None) -> dict:
    """The story modal's fields prefilled from a feedback item: its words as what happened,
    its customer, its link; the submitter writes what we learned. Plain text inputs show
    text as typed, so nothing here is escaped; each field is cut to the modal's limit."""
    from bot.features.stories.service import LIMITS

    who = " ".join((customer or "").split())
    return {
        TITLE: truncate(f"What {who or 'a customer'} told us", LIMITS["title"]),
        CUSTOMER: truncate(who, LIMITS["customer"]),
        HAPPENED: truncate(text.strip(), LIMITS["what_happened"]),
        LINK: link if is_link_url(link) and len(link) <= LIMITS["link"] else "",
    }


def info_modal(title: str, message: str) -> dict:
    return View(type="modal", title=truncate(title, 24), close="Close", blocks=[section(message)]).to_dict()


def submitted(story: Story, *, created: bool, is_admin: bool) -> tuple[str, str]:
    """The modal's answer to a submitted story: (title, message)."""
    if not created:
        return "Already submitted", f"Heard already has *{escape(story.title)}*; it was stored once."
    if is_admin:
        return "Story saved", f"*{escape(story.title)}* is in the bank; it will be posted in its turn."
    return "Thanks!", (f"*{escape(story.title)}* is waiting for an admin's approval. "
                       "Heard posts one story a week.")  # fmt: skip


def _credit(story: Story) -> str:
    if story.anonymous or not is_user_id(story.submitted_by):
        return "Shared anonymously" if story.anonymous else "From Heard's story bank"
    return f"Shared by {mention(story.submitted_by)}"


def _story_blocks(story: Story) -> list:
    blocks = [
        section(f"*{escape(story.title)}*"),
        section(escape(story.what_happened)),
        section(f"*What we learned*\n{escape(story.learned)}"),
    ]
    details = [f"Customer: {escape(story.customer)}", _credit(story)]
    if is_link_url(story.link):
        details.append(f"<{story.link.replace('&', '&amp;').replace('|', '%7C')}|More>")
    blocks.append(context(" · ".join(details)))
    return blocks


def story_post(story: Story, post_id: int) -> tuple[str, list[dict]]:
    """This week's story, with the Reflect button."""
    blocks = [
        *_story_blocks(story),
        actions(button("Reflect", REFLECT_ACTION, value=str(post_id), style="primary"), block_id=f"story_{post_id}"),
        context("React, reply in the thread, or press Reflect: what would you change because of this story?"),
    ]  # fmt: skip
    return f"This week's customer story: {excerpt(story.title, 150)}", to_dicts(blocks)


def review_message(story: Story) -> tuple[str, list[dict]]:
    """The admins' DM: a story waiting for approval, with Approve / Edit / Discard."""
    where = "a draft Heard wrote from recent feedback" if story.source == "draft" else \
        f"submitted by {person(story.submitted_by)}" + (" (asks not to be named)" if story.anonymous else "")
    value = str(story.id)
    blocks = [
        section(f"A customer story is waiting for approval ({where}). Nothing is posted until an admin approves it."),
        divider(),
        *_story_blocks(story),
        actions(button("Approve", APPROVE_ACTION, value=value, style="primary"),
                button("Edit", EDIT_ACTION, value=value),
                button("Discard", DISCARD_ACTION, value=value, style="danger"),
                block_id=f"story_review_{story.id}"),
    ]  # fmt: skip
    return f"A customer story is waiting for approval: {excerpt(story.title, 150)}", to_dicts(blocks)


def already_reviewed(story: Story) -> str:
    verb = {"approved": "approved", "discarded": "discarded"}.get(story.state, story.state)
    return f"*{escape(story.title)}* was already {verb} by {person(story.reviewed_by)}."


def reviewed(story: Story) -> str:
    if story.state == "approved":
        return f"Approved *{escape(story.title)}*: it is in the bank and will be posted in its turn."
    return f"Discarded *{escape(story.title)}*."


PROBLEMS = {
    "not set": "no stories channel is set",
    "is_archived": "the stories channel {channel} is archived",
    "archived": "the stories channel {channel} is archived",
    "not_in_channel": "Heard is not in the stories channel {channel}",
    "channel_not_found": "Heard can't see the stories channel {channel} (deleted, or private without Heard)",
}


def channel_problem(problem: str, channel: str | None, command: str = "/heard") -> tuple[str, list[dict]]:
    """The admins' DM when the week's story could not be posted."""
    where = channel_link(channel) if channel and is_conversation_id(channel) else "the channel"
    reason = PROBLEMS.get(problem, f"Slack refused the post ({escape(problem)})").format(channel=where)
    text = (f"This week's customer story was not posted: {reason}. The story stays in the bank. "
            f"Pick a channel with `{command} channel stories #channel`, then post it with `{command} story now`.")  # fmt: skip
    return text, to_dicts([section(text)])


def post_unconfirmed(detail: str, channel: str | None, command: str = "/heard") -> tuple[str, list[dict]]:
    """The admins' DM when Heard could not tell whether the week's story was posted: not
    "not posted" (it may well be there), but where to look and what to do if it is missing."""
    where = channel_link(channel) if channel and is_conversation_id(channel) else "the stories channel"
    text = (f"Heard could not confirm that this week's customer story was posted in {where}: Slack answered "
            f"the post with an error, and Heard could not read the channel's history to check "
            f"({escape(detail) or 'no answer'}). So that it does not appear twice, it was not posted again. "
            f"Look in {where}: if the story is there, nothing more is needed. If it is not, "
            f"`{command} story now` looks for it again and posts it only if it is still missing, and "
            f"`{command} story now again` posts it without looking.")  # fmt: skip
    return text, to_dicts([section(text)])


def empty_bank(command: str = "/heard") -> tuple[str, list[dict]]:
    text = (f"There is no approved customer story for this week's post, so Heard posted nothing. "
            f"Add one with `{command} story add` (or approve one waiting for you, such as a draft Heard "
            f"wrote from recent feedback) and post it with `{command} story now`.")  # fmt: skip
    return text, to_dicts([section(text)])


def reflect_modal(story: Story, post_id: int) -> dict:
    blocks = [
        section(f"*{escape(story.title)}*\n{excerpt(story.what_happened, 500)}"),
        _text_input(REFLECTION, REFLECT_QUESTION, max_length=2000, multiline=True),
        _checkbox(SHARE, "Share", "Share in the story's thread", checked=False),
    ]
    return View(
        type="modal", callback_id=REFLECT_MODAL, title="Reflect", submit="Save", close="Cancel", blocks=blocks,
        private_metadata=json.dumps({"post": post_id}),
    ).to_dict()  # fmt: skip


def reflected(shared: bool) -> str:
    if shared:
        return "Thanks for reflecting. Your answer is shared in the story's thread."
    return "Thanks for reflecting. Your answer is counted; only you and Heard's exports see it."


def shared_reflection(reflection: Reflection) -> tuple[str, list[dict]]:
    text = f"{person(reflection.user_id)} would change: {escape(reflection.text)}"
    return truncate(text, 3000), to_dicts([section(text)])


def engagement_line(counts: Engagement) -> str:
    return (f"{counts.reactions} reaction(s) · {counts.replies} reply(ies) · {counts.reflections} reflection(s) · "
            f"{counts.people} people")  # fmt: skip


def bank_list(entries: list[BankEntry], command: str) -> str:
    """`/heard story list`: every story not discarded, with its state."""
    if not entries:
        return f"The story bank is empty. Add one with `{command} story add`."
    lines = [f"*Story bank* ({len(entries)})"]
    for entry in entries:
        story = entry.story
        state = STATE_LABELS.get(story.state, story.state)
        if story.state == "approved":
            state = f"posted {entry.posts}×, last {entry.last_posted:%d %b %Y}" if entry.posts and entry.last_posted \
                else ("queued" if entry.posts else "approved, not posted yet")
        source = " · draft from feedback" if story.source == "draft" else ""
        lines.append(f"• #{story.id} *{escape(truncate(story.title, 80))}* ({escape(truncate(story.customer, 40))})"
                     f" — {state}{source}")  # fmt: skip
    return "\n".join(lines)


def home_section(story: Story | None, counts: Engagement | None, entries: list[BankEntry] | None,
                 command: str) -> list[dict]:  # fmt: skip
    """App Home: the latest story and its engagement; the bank's state for admins."""
    blocks = [header("Customer stories")]
    if story is None:
        blocks.append(section(f"No story has been posted yet. Share one with `{command} story add`."))
    else:
        blocks.append(section(f"*Latest story: {escape(story.title)}*\n{excerpt(story.what_happened, 300)}"))
        blocks.append(context(engagement_line(counts)))
    if entries is not None:
        waiting = sum(1 for e in entries if e.story.state == "pending")
        ready = sum(1 for e in entries if e.story.state == "approved" and not e.posts)
        blocks.append(context(f"Bank: {len(entries)} stories · {ready} approved and not posted yet · "
                              f"{waiting} waiting for approval · `{command} story list`"))  # fmt: skip
    return to_dicts(blocks)
