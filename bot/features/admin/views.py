"""Block Kit for administration: pure functions from values to blocks and text.

User text (department names, whatever an admin typed) goes through `escape`; Heard
adds mentions only of ids it holds. Replies and the App Home may name a user group
(`<!subteam^S…>`): Slack shows its handle and never notifies anyone from an
ephemeral reply or a view.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.features.admin.service import ConfigSnapshot, DepartmentInfo, ForgetReport, ScheduleRow
from bot.rooms import AuditFormats, ChecklistItem
from bot.slack.blocks import (
    button,
    channel_link,
    context,
    divider,
    escape,
    header,
    mention,
    section,
    to_dicts,
    truncate,
)
from bot.slack.markup import is_channel_id, is_user_id, is_usergroup_id

# Ids Heard stored itself; anything else in an audit value is shown as escaped text.
STORED_ID = 9  # Slack's ids are 9 or more characters; a shorter word in a value is text


def _stored(is_id, value: object) -> bool:
    """`value` is an id of that kind that Heard stored, not a word someone typed."""
    return is_id(value) and len(value) >= STORED_ID

MODAL_ACTION = "admin_open"  # buttons on the App Home: admin_open:<setting>
MODAL_CALLBACK = "admin_modal"  # modal callback ids: admin_modal:<setting>


def how_heard_works(workspace_name: str, about: list[tuple[str, str]], command: str) -> list[dict]:
    """The part of the App Home everyone sees: what Heard is and how it works (`about`:
    each room's own words, so the Home describes what is installed, nothing more)."""
    blocks = [
        header("Heard"),
        section(f"Heard keeps *{escape(workspace_name)}* close to its customers."),
        divider(),
        section("*How Heard works*"),
    ]
    for title, text in about:
        blocks.append(section(f"*{title}*\n{text}"))
    blocks += [divider(), context(f"Type `{escape(command)} help` to see what you can do.")]
    return to_dicts(blocks)


# -- values -------------------------------------------------------------------------------------


def local_time(moment: datetime, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime("%a %d %b %H:%M")


def people(user_ids: list[str], *, none: str = "nobody") -> str:
    return ", ".join(mention(u) for u in user_ids) or none


def channel_or(channel_id: str | None, none: str) -> str:
    return channel_link(channel_id) if channel_id else none


def usergroup(usergroup_id: str | None) -> str:
    return f"<!subteam^{usergroup_id}>" if usergroup_id and _stored(is_usergroup_id, usergroup_id) else ""


def department_line(department: DepartmentInfo) -> str:
    group = usergroup(department.usergroup_id)
    return f"*{escape(department.name)}* — {channel_link(department.channel_id)}" + (
        f", {group}" if group else ""
    )


def audit_value(action: str, value, formats: AuditFormats | None = None) -> str:
    """An old or new value of an audit entry, for people. `formats` are the rooms' own
    readings of their settings' values, by action prefix (`ignore-after` → "3 days")."""
    if value is None:
        return "default" if action.startswith("schedule") else "none"
    if isinstance(value, bool):
        if action in ("pause", "resume"):
            return "paused" if value else "running"
        return "on" if value else "off"
    own = next((read for prefix, read in (formats or {}).items() if action.startswith(prefix)), None)
    if own is not None and isinstance(value, int | float | str):
        return own(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if _stored(is_channel_id, value):
            return channel_link(value)
        if _stored(is_user_id, value):
            return mention(value)
        if _stored(is_usergroup_id, value):
            return usergroup(value)
        return escape(truncate(value, 80))
    if isinstance(value, list):
        return ", ".join(audit_value(action, v, formats) for v in value) or "none"
    if isinstance(value, dict):
        if action.startswith("department") and "name" in value:
            return department_line(
                DepartmentInfo(str(value["name"]), str(value.get("channel") or ""), value.get("usergroup"))
            ) if _stored(is_channel_id, str(value.get("channel") or "")) else escape(str(value["name"]))
        return ", ".join(f"{escape(str(k))} {audit_value(action, v, formats)}" for k, v in value.items())
    return escape(truncate(str(value), 80))


def audit_line(entry, time_zone: str, formats: AuditFormats | None = None) -> str:
    actor = entry.actor_user_id
    who = mention(actor) if actor and _stored(is_user_id, actor) else (escape(actor) if actor else "Heard")
    when = local_time(entry.at, time_zone)
    action = escape(entry.action)
    if entry.action == "forget":
        counts = entry.new_value or {}
        held = sum(v for v in counts.values() if isinstance(v, int) and not isinstance(v, bool))
        return f"{when} · {who}: `forget` a person ({held} record{'s' if held != 1 else ''})"
    return (
        f"{when} · {who}: `{action}` {audit_value(entry.action, entry.old_value, formats)} → "
        f"{audit_value(entry.action, entry.new_value, formats)}"
    )


def schedule_line(row: ScheduleRow, time_zone: str, now: datetime) -> str:
    if row.cadence is None:
        return f"• `{escape(row.job)}` not scheduled"
    note = " (custom)" if row.custom else ""
    trigger = row.cadence.trigger(time_zone)
    upcoming = trigger.get_next_fire_time(None, now) if trigger else None
    when = f" — next {local_time(upcoming, time_zone)}" if upcoming and row.registered else ""
    waiting = "" if row.registered else " — arrives with its feature"
    return f"• `{escape(row.job)}` {row.cadence}{note}{when}{waiting}"


# -- /heard config and friends --------------------------------------------------------------------


def config_blocks(snapshot: ConfigSnapshot, settings: list[str], command: str, now: datetime,
                  formats: AuditFormats | None = None) -> list[dict]:  # fmt: skip
    """Every setting of the workspace (the core's, then each room's `settings`), then the
    last few changes."""
    blocks = [header("Heard settings"), *settings_sections(snapshot, settings, now)]
    if snapshot.audit:
        lines = [audit_line(entry, snapshot.time_zone, formats) for entry in snapshot.audit]
        blocks += [section("*Last changes*\n" + "\n".join(lines))]
    else:
        blocks += [context("No changes yet.")]
    blocks += [context(f"Change a setting with `{escape(command)} help`, or on Heard's Home tab.")]
    return to_dicts(blocks)


def settings_sections(snapshot: ConfigSnapshot, settings: list[str], now: datetime) -> list:
    config = snapshot.config
    state = "*paused*: no scheduled posts until `resume`" if snapshot.paused else "*running*"
    installer = f" · installed by {mention(snapshot.installer)}" if snapshot.installer else ""
    admins = [snapshot.installer] if snapshot.installer else []
    admins += [a for a in snapshot.admins if a not in admins]
    departments = "\n".join(f"• {department_line(d)}" for d in snapshot.departments) or "none yet"
    schedules = "\n".join(schedule_line(row, snapshot.time_zone, now) for row in snapshot.schedules)
    return [
        section(f"*{escape(snapshot.workspace_name)}* · Heard is {state} · time zone "
                f"{escape(snapshot.time_zone)}{installer}"),
        section("*Channels*\n"
                f"Stories: {channel_or(config.stories_channel, 'none yet')}\n"
                f"Digest: {channel_or(config.digest_channel, 'none (leaders get it by DM)')}"),
        *(section(markdown) for markdown in settings),
        section("*People*\n"
                f"Admins: {people(admins, none='no one added')}, and every workspace admin and owner\n"
                f"Leaders: {people(snapshot.leaders, none='none yet')}"),
        section(f"*Departments*\n{departments}"),
        section(f"*Schedules* (in {escape(snapshot.time_zone)})\n{schedules or 'no jobs yet'}"),
    ]  # fmt: skip


def departments_text(departments: list[DepartmentInfo], command: str) -> str:
    if not departments:
        return f"No departments yet. Add one: `{command} department add NAME #channel [@usergroup]`"
    return "*Departments*\n" + "\n".join(f"• {department_line(d)}" for d in departments)


def schedules_text(rows: list[ScheduleRow], time_zone: str, now: datetime, paused: bool, command: str) -> str:
    if not rows:
        return "No jobs are registered yet."
    lines = [f"*Schedules* (times in {escape(time_zone)})"]
    lines += [schedule_line(row, time_zone, now) for row in rows]
    if paused:
        lines.append(f"Heard is paused: nothing is posted until `{command} resume`.")
    lines.append(f'Change one: `{command} schedule JOB "mon 10:00"` or `{command} schedule JOB off`')
    return "\n".join(lines)


def forget_text(user_id: str, report: ForgetReport) -> str:
    done = [str(line) for line in report.lines if line.count]
    if report.installer_cleared:
        done.append("no longer recorded as the installer")
    summary = "; ".join(done) if done else "Heard held no personal data about them"
    return f"Forgot {mention(user_id)}: {summary}."


# -- setup checklist (greeting DM and App Home) -----------------------------------------------------


def setup_action(key: str) -> str:
    """The action id of the App Home button that opens a setting's modal."""
    return f"{MODAL_ACTION}:{key}"


def setting_callback(key: str) -> str:
    """The callback id of a setting's modal."""
    return f"{MODAL_CALLBACK}:{key}"


SETTING_NAMES = {
    "stories_channel": "the stories channel", "digest_channel": "the digest channel",
    "leaders": "the leaders", "admins": "the Heard admins", "departments": "the new department",
    "schedules": "the schedule",
}  # fmt: skip


def setting_refused(key: str, reason: str) -> str:
    """The DM when a setup modal could not be saved once Slack was asked (after the ack)."""
    return f"I couldn't save {SETTING_NAMES.get(key, 'that setting')}: {escape(reason)} Nothing was changed."


def stories_channel_detail(channel: str | None, command: str) -> str:
    if channel:
        return channel_link(channel)
    return f"Where the weekly customer story goes: `{command} channel stories #channel`"


def departments_detail(departments: list[DepartmentInfo], command: str) -> str:
    if departments:
        return truncate(", ".join(escape(d.name) for d in departments), 500)
    return f"Who logs decisions: `{command} department add NAME #channel [@usergroup]`"


def leaders_detail(leaders: list[str], command: str) -> str:
    if leaders:
        return f"The weekly digest goes to {people(leaders)}"
    return f"Who gets the weekly digest: `{command} leader add @person`"


def digest_channel_detail(channel: str | None, command: str) -> str:
    if channel:
        return f"The digest is also posted in {channel_link(channel)}"
    return f"Optional: leaders get the digest by DM; `{command} channel digest #channel` posts it too"


def schedules_detail(rows: list[ScheduleRow], command: str) -> str:
    custom = [row.job for row in rows if row.custom]
    if custom:
        return f"Custom for {escape(', '.join(custom))}; see `{command} schedule`"
    return f"The defaults; see `{command} schedule`"


def checklist_items(snapshot: ConfigSnapshot, command: str) -> list[ChecklistItem]:
    """The admin room's steps of the setup checklist (the greeting DM and the App Home).

    Stories need a channel, decision prompts need departments, the digest needs
    leaders. The digest channel is optional (leaders get the digest by DM) and the
    schedules have defaults.
    """
    config = snapshot.config
    return [
        ChecklistItem("stories_channel", "Stories channel", bool(config.stories_channel),
                      stories_channel_detail(config.stories_channel, command), rank=20,
                      button="Choose channel", action_id=setup_action("stories_channel")),
        ChecklistItem("departments", "Departments", bool(snapshot.departments),
                      departments_detail(snapshot.departments, command), rank=30,
                      button="Add a department", action_id=setup_action("departments")),
        ChecklistItem("leaders", "Leaders", bool(snapshot.leaders), leaders_detail(snapshot.leaders, command),
                      rank=40, button="Choose leaders", action_id=setup_action("leaders")),
        ChecklistItem("digest_channel", "Digest channel", bool(config.digest_channel),
                      digest_channel_detail(config.digest_channel, command), rank=50, optional=True,
                      button="Choose channel", action_id=setup_action("digest_channel")),
        ChecklistItem("schedules", "Schedules", True, schedules_detail(snapshot.schedules, command),
                      rank=90, optional=True, button="Change a schedule",
                      action_id=setup_action("schedules")),
    ]  # fmt: skip


def checklist_mark(item: ChecklistItem) -> str:
    # Unicode rather than :emoji_names:, so the mark reads the same in a terminal (`heard demo`).
    if item.done:
        return "✅"
    return "➖" if item.optional else "⬜"


def checklist_blocks(items: list[ChecklistItem], *, buttons: bool) -> list:
    """One section per item, each with its button when `buttons` (the App Home)."""
    blocks = []
    for item in items:
        accessory = None
        if buttons and item.action_id and item.button:
            accessory = button(item.button, item.action_id, value=item.key)
        text = f"{checklist_mark(item)} *{item.title}*\n{item.detail}"
        blocks.append(section(text, block_id=f"setup:{item.key}", accessory=accessory))
    return blocks


def admin_home(snapshot: ConfigSnapshot, items: list[ChecklistItem], settings: list[str], now: datetime,
               formats: AuditFormats | None = None) -> list[dict]:  # fmt: skip
    """What admins see on the App Home: the setup checklist with buttons, then the settings."""
    missing = [i for i in items if not i.done and not i.optional]
    steps = f"{len(missing)} step{'s' if len(missing) != 1 else ''}"
    status = "Heard is set up." if not missing else f"{steps} left to set Heard up."
    blocks = [
        divider(),
        header("Setup (admins)"),
        context(status + " Only Heard admins see this part."),
        *checklist_blocks(items, buttons=True),
        section("*Admins*\nWorkspace admins and owners and the installer"
                + (f", plus {people(snapshot.admins)}." if snapshot.admins else ". Add anyone else here."),
                block_id="setup:admins",
                accessory=button("Choose admins", setup_action("admins"), value="admins")),
        divider(),
        header("Settings"),
        *settings_sections(snapshot, settings, now),
    ]  # fmt: skip
    if snapshot.audit:
        lines = [audit_line(entry, snapshot.time_zone, formats) for entry in snapshot.audit[:3]]
        blocks.append(context("*Last changes*\n" + "\n".join(lines)))
    return to_dicts(blocks)


def greeting(user_id: str, snapshot: ConfigSnapshot, items: list[ChecklistItem], about: list[tuple[str, str]],
             command: str) -> tuple[str, list[dict]]:  # fmt: skip
    """The DM to whoever installed Heard: thanks, and the setup checklist."""
    text = f"Thanks for adding Heard to {escape(snapshot.workspace_name)}! Here is how to set it up."
    blocks = [
        section(f"Hi {mention(user_id)}! Thanks for adding Heard to *{escape(snapshot.workspace_name)}*. "
                "Heard keeps your company close to its customers"
                + (f": {', '.join(title.lower() for title, _ in about)}." if about else ".")),
        section("*Set it up*"),
        *checklist_blocks(items, buttons=False),
        context(f"Open Heard's *Home* tab for buttons, or type `{escape(command)} help`. "
                f"Schedules run in {escape(snapshot.time_zone)}."),
    ]  # fmt: skip
    return text, to_dicts(blocks)


# -- modals for the common settings ----------------------------------------------------------------


def _modal(setting: str, title: str, blocks: list, *, submit: str = "Save") -> dict:
    return View(
        type="modal", callback_id=setting_callback(setting),
        title=PlainTextObject(text=title), submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"), blocks=blocks,
    ).to_dict()  # fmt: skip


def _channel_input(label: str, current: str | None, *, optional: bool = False, hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id="channel",
        label=PlainTextObject(text=label),
        optional=optional,
        hint=PlainTextObject(text=hint) if hint else None,
        element=ConversationSelectElement(
            action_id="pick",
            placeholder=PlainTextObject(text="Pick a channel"),
            initial_conversation=current,
            filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True,
                                      exclude_external_shared_channels=True),
        ),
    )


def channel_modal(kind: str, current: str | None) -> dict:
    if kind == "stories":
        return _modal("stories_channel", "Stories channel", [
            section("Heard posts one real customer story a week in this channel."),
            _channel_input("Channel", current, hint="For a private channel, /invite @Heard there first."),
        ])  # fmt: skip
    return _modal("digest_channel", "Digest channel", [
        section("Leaders always get the weekly digest by DM. Pick a channel to post it there "
                "too, or leave it empty for DMs only."),
        _channel_input("Channel", current, optional=True,
                       hint="For a private channel, /invite @Heard there first."),
    ])  # fmt: skip


def people_modal(role: str, current: list[str]) -> dict:
    if role == "leader":
        title, intro, label = "Leaders", "Leaders get the weekly leadership digest.", "Leaders"
    else:
        title, label = "Heard admins", "Added admins"
        intro = ("Workspace admins and owners and the installer are always Heard admins. "
                 "Add anyone else who should configure Heard.")  # fmt: skip
    return _modal("leaders" if role == "leader" else "admins", title, [
        section(intro),
        InputBlock(
            block_id="people", label=PlainTextObject(text=label), optional=True,
            element=UserMultiSelectElement(
                action_id="pick", placeholder=PlainTextObject(text="Pick people"),
                initial_users=current or None,
            ),
        ),
    ])


def department_modal(usergroups: list[tuple[str, str]]) -> dict:
    """Add a department; `usergroups` are (id, handle) pairs for the optional group."""
    blocks = [
        section("Each department is asked, on a schedule, to log a decision and how it affected customers."),
        InputBlock(
            block_id="name", label=PlainTextObject(text="Name"),
            element=PlainTextInputElement(action_id="value", max_length=80,
                                          placeholder=PlainTextObject(text="Customer Success")),
        ),
        _channel_input("Its channel", None, hint="Decision prompts are posted here."),
    ]
    if usergroups:
        blocks.append(InputBlock(
            block_id="usergroup", label=PlainTextObject(text="Its user group"), optional=True,
            element=StaticSelectElement(
                action_id="pick", placeholder=PlainTextObject(text="Pick a group"),
                options=[Option(value=gid, text=PlainTextObject(text=truncate(f"@{handle}", 75)))
                         for gid, handle in usergroups[:100]],
            ),
        ))  # fmt: skip
    return _modal("departments", "Add a department", blocks, submit="Add")


def schedule_modal(rows: list[ScheduleRow], time_zone: str) -> dict:
    options = [
        Option(value=row.job, text=PlainTextObject(text=truncate(f"{row.job} ({row.cadence or 'not scheduled'})", 75)))
        for row in rows[:100]
    ]
    return _modal("schedules", "Change a schedule", [
        section(f"Times are 24-hour, in {escape(time_zone)}."),
        InputBlock(block_id="job", label=PlainTextObject(text="Job"),
                   element=StaticSelectElement(action_id="pick", options=options,
                                               placeholder=PlainTextObject(text="Pick a job"))),
        InputBlock(block_id="when", label=PlainTextObject(text="When"),
                   hint=PlainTextObject(text='"mon 10:00", "mon-fri 09:30", "daily 17:00", "hourly" or "off"'),
                   element=PlainTextInputElement(action_id="value", max_length=60,
                                                 placeholder=PlainTextObject(text="mon 10:00"))),
    ])  # fmt: skip
