"""Block Kit for decision logs: pure functions from decisions and values to blocks.

Every piece of user text (department names, what was decided, who is affected, the
evidence, feedback excerpts) goes through `escape`/`excerpt`; nothing Heard posts about a
decision mentions a person or a group, so a summary in a department channel pings nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    ExternalDataMultiSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.features.decisions.kinds import Field, Impact
from bot.slack.blocks import (
    actions,
    button,
    context,
    divider,
    escape,
    excerpt,
    header,
    section,
    to_dicts,
    truncate,
)

if TYPE_CHECKING:
    from bot.features.decisions.models import Decision

LOG_ACTION = "decision_log"  # the prompt's "Log a decision" button
LOG_MODAL = "decision_log_modal"
LINKS_ACTION = "decision_links"  # the linked-feedback picker's options request

MAX_DECIDED = 3000
MAX_AFFECTED = 500
MAX_EVIDENCE = 3000
MAX_LINKS = 10
MAX_DEPARTMENT_OPTIONS = 100  # Slack's limit for a static select
OPTION_TEXT_LIMIT = 75  # Slack's limit for an option's plain text
OPTION_VALUE_LIMIT = 150

IMPACT_LABELS = {
    Impact.HELPED: ":large_green_circle: helped customers",
    Impact.HURT: ":red_circle: hurt customers",
    Impact.MIXED: ":large_yellow_circle: mixed",
    Impact.UNKNOWN: ":white_circle: unknown yet",
    Impact.NONE: ":heavy_minus_sign: no customer impact",
}
IMPACT_CHOICES = {
    Impact.HELPED: "Helped customers",
    Impact.HURT: "Hurt customers",
    Impact.MIXED: "Mixed",
    Impact.UNKNOWN: "Unknown yet",
    Impact.NONE: "No customer impact",
}


def day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


# -- posts -------------------------------------------------------------------------------------


def prompt(department: str, command: str) -> tuple[str, list[dict]]:
    """The scheduled ask in a department's channel, with its "Log a decision" button."""
    name = escape(department)
    text = f"Decision log for {name}: what did you decide lately, and how did it affect customers?"
    blocks = [
        section(f":memo: *Decision log for {name}*\nWhat did {name} decide lately, and how did it "
                "affect customers? Log it, and link the customer feedback that informed it."),
        actions(button("Log a decision", LOG_ACTION, value=department, style="primary"),
                block_id="decision_prompt"),
        context(f"Or type `{escape(command)} decision` anywhere."),
    ]  # fmt: skip
    return text, to_dicts(blocks)


def nudge(department: str, command: str, *, direct: bool) -> tuple[str, list[dict]]:
    """The once-a-period reminder to a department that has logged nothing since its prompt."""
    name = escape(department)
    where = f"You are in {name}: " if direct else ""
    text = f"{where}{name} has not logged a decision since this period's prompt."
    blocks = [
        section(f":hourglass_flowing_sand: {text} One decision, and how it affected customers, "
                "is enough; link the feedback that informed it if there was some."),
        actions(button("Log a decision", LOG_ACTION, value=department, style="primary"),
                block_id="decision_nudge"),
        context(f"Or type `{escape(command)} decision` anywhere."),
    ]  # fmt: skip
    return text, to_dicts(blocks)


def summary(decision: Decision, linked: int, author_name: str | None) -> tuple[str, list[dict]]:
    """The compact post in the department's channel once a decision is logged. The author
    is named in plain text, not mentioned: a summary pings nobody."""
    name = escape(decision.department)
    by = f" by {excerpt(author_name, 80)}" if author_name else ""
    text = f"{name} logged a decision{by}: {excerpt(decision.decided, 200)}"
    notes = [IMPACT_LABELS.get(Impact(decision.impact), escape(decision.impact))]
    if decision.affected:
        notes.append(f"affects: {excerpt(decision.affected, 200)}")
    if linked:
        notes.append(f"linked {linked} piece{'s' if linked != 1 else ''} of customer feedback")
    blocks = [
        section(f":memo: *{name}* logged a decision{by}\n> {excerpt(decision.decided, 700)}"),
        context(" · ".join(notes)),
    ]
    return text, to_dicts(blocks)


# -- the modal ---------------------------------------------------------------------------------


def _text_input(field: Field, label: str, *, placeholder: str, max_length: int, multiline: bool = False,
                optional: bool = False) -> InputBlock:  # fmt: skip
    return InputBlock(
        block_id=field, label=label, optional=optional,
        element=PlainTextInputElement(action_id=field, placeholder=placeholder, max_length=max_length,
                                      multiline=multiline),
    )  # fmt: skip


def department_option(name: str) -> Option:
    return Option(value=name, label=truncate(name, OPTION_TEXT_LIMIT))


def decision_modal(departments: Sequence[str], selected: str | None, metadata: str) -> dict:
    """The decision log: department (preselected when Heard can tell), what was decided,
    the customer impact, who is affected, the evidence, and the feedback that informed it."""
    options = [department_option(name) for name in departments[:MAX_DEPARTMENT_OPTIONS]]
    initial = next((o for o, name in zip(options, departments, strict=False) if name == selected), None)
    blocks = [
        InputBlock(
            block_id=Field.DEPARTMENT, label="Department",
            element=StaticSelectElement(action_id=Field.DEPARTMENT, placeholder="Which department decided",
                                        options=options, initial_option=initial),
        ),
        _text_input(Field.DECIDED, "What was decided", placeholder="e.g. We stop shipping the AR-2 without "
                    "the quick-calibration kit", max_length=MAX_DECIDED, multiline=True),
        InputBlock(
            block_id=Field.IMPACT, label="How it affects customers",
            element=RadioButtonsElement(action_id=Field.IMPACT, options=[
                Option(value=impact.value, label=label) for impact, label in IMPACT_CHOICES.items()
            ]),
        ),
        _text_input(Field.AFFECTED, "Who is affected", placeholder="Which customers, segments or accounts",
                    max_length=MAX_AFFECTED, optional=True),
        _text_input(Field.EVIDENCE, "Evidence", placeholder="What you based it on: numbers, calls, tickets",
                    max_length=MAX_EVIDENCE, multiline=True, optional=True),
        InputBlock(
            block_id=Field.LINKS, label="Customer feedback that informed it", optional=True,
            hint="Search what customers said, by text or customer. Linking acknowledges the feedback "
                 "and tells the person who shared it.",
            element=ExternalDataMultiSelectElement(action_id=LINKS_ACTION, placeholder="Search feedback",
                                                   min_query_length=0, max_selected_items=MAX_LINKS),
        ),
    ]  # fmt: skip
    return View(
        type="modal", callback_id=LOG_MODAL, title="Log a decision", submit="Log", close="Cancel",
        blocks=blocks, private_metadata=metadata,
    ).to_dict()  # fmt: skip


def info_modal(title: str, message: str) -> dict:
    return View(type="modal", title=title[:24], close="Close", blocks=[section(message)]).to_dict()


def no_departments_modal(command: str) -> dict:
    return info_modal("No departments yet", "Decisions are logged per department, and this workspace has "
                      f"none yet. An admin adds one with `{escape(command)} department add NAME #channel "
                      "[@usergroup]`.")  # fmt: skip


def logged_modal(decision: Decision, linked: int, *, again: bool = False) -> dict:
    """What the modal turns into once the decision is stored."""
    where = " and posted a summary in its channel" if decision.channel_id else ""
    feedback = (f" The linked feedback ({linked} piece{'s' if linked != 1 else ''}) counts as acknowledged "
                "now, and whoever shared it is told." if linked else "")  # fmt: skip
    head = "This decision was already logged." if again else f"Logged for {escape(decision.department)}{where}."
    return info_modal("Decision logged", f":white_check_mark: {head}{feedback}\n> {excerpt(decision.decided, 500)}")


def feedback_option(item) -> dict:
    """One item in the linked-feedback picker: `#id customer: text`, flattened, escaped
    and within Slack's 75 characters."""
    customer = f"{item.customer}: " if item.customer else ""
    plain = " ".join(f"#{item.id} {customer}{item.text}".split())
    budget = OPTION_TEXT_LIMIT
    label = escape(truncate(plain, budget))
    while len(label) > OPTION_TEXT_LIMIT:  # escaping lengthened it (&amp;, &lt;): cut more
        budget -= len(label) - OPTION_TEXT_LIMIT
        label = escape(truncate(plain, budget))
    return {"text": {"type": "plain_text", "text": label or f"#{item.id}", "emoji": False},
            "value": str(item.id)[:OPTION_VALUE_LIMIT]}  # fmt: skip


# -- App Home ------------------------------------------------------------------------------------


def home_section(decisions: Sequence[Decision], departments: Sequence[str], command: str) -> list[dict]:
    """Everyone's App Home: their department's recent decisions."""
    blocks = [divider(), header("Your department's recent decisions")]
    if not departments:
        blocks.append(section("You are not in a department's user group or channel yet, so there is no "
                              f"department's log to show. Anyone can log a decision with "
                              f"`{escape(command)} decision`."))  # fmt: skip
        return to_dicts(blocks)
    names = ", ".join(escape(name) for name in departments)
    if not decisions:
        blocks.append(section(f"{names} logged no decisions yet. Log one with `{escape(command)} decision`."))
        return to_dicts(blocks)
    blocks.append(context(f"Decisions of {names}"))
    for decision in decisions:
        blocks.append(section(
            f"*{escape(decision.department)}* · {day(decision.logged_at)} · "
            f"{IMPACT_LABELS.get(Impact(decision.impact), escape(decision.impact))}\n"
            f"> {excerpt(decision.decided, 300)}"
        ))  # fmt: skip
    return to_dicts(blocks)
