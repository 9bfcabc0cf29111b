"""Administration rules: the workspace lifecycle, who may configure Heard, and every
configuration change an admin can make (the `/heard` grammar and the App Home modals
both call these functions; there is no second implementation).

Functions take a session, ids, values and `now`, and return values or raise
:class:`AdminError` (one line for the admin). Every change is written to the audit
log in the same transaction: who, when, what, old -> new.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.orm import Session

from bot.db.models import (
    AuditEntry,
    Department,
    Workspace,
    WorkspaceRole,
    WorkspaceSetting,
)
from bot.roles import Role, added_admins, people_with_role
from bot.rooms import ForgetRequest, Forgotten, Rooms
from bot.runtime import Runtime
from bot.scheduler.cadence import Cadence, CadenceError, parse_cadence
from bot.scheduler.catalog import JobCatalog
from bot.slack.inbox import forget_mentions as forget_events
from bot.slack.outbox import forget_mentions, forget_recipient
from bot.workspace_settings import (
    DIGEST_CHANNEL,
    SCHEDULE,
    STORIES_CHANNEL,
    WorkspaceConfig,
    change_setting,
    load_config,
    recent_audit,
    record_audit,
)
from bot.workspaces import hold_configuration, mark_uninstalled

log = logging.getLogger(__name__)

ROLES = tuple(Role)
CHANNEL_KINDS = {"stories": STORIES_CHANNEL, "digest": DIGEST_CHANNEL}
DEPARTMENT_NAME_MAX = 80
# Letters (any script), digits, spaces and a little punctuation: enough for
# "Customer Success" or "R&D (EU)", nothing Slack would read as markup or a mention.
_DEPARTMENT_NAME = re.compile(r"^\w[\w &.,'()/+-]*$")
FORGOTTEN = "forgotten"  # what a forgotten person's id becomes in the audit log


class AdminError(Exception):
    """A change Heard refuses; the message is one line for the admin, with no pings."""


# -- lifecycle -----------------------------------------------------------------------------


def uninstall_workspace(runtime: Runtime, *, team_id: str, enterprise_id: str | None) -> bool:
    """Delete the workspace's stored tokens and mark it uninstalled; its data stays.

    Returns True when a known workspace was uninstalled. Scheduled jobs stop because
    the scheduler plans only for installed workspaces. The tokens go in the same
    transaction (the store's own `delete_all` would open a second connection, which on
    SQLite waits for the unit of work the uninstall event runs in).
    """
    store = runtime.installation_store()
    with runtime.sessions.begin() as session:
        if store is not None:
            for table in (store.bots, store.installations):  # what store.delete_all deletes
                session.execute(table.delete().where(
                    table.c.client_id == store.client_id, table.c.enterprise_id == enterprise_id,
                    table.c.team_id == team_id,
                ))  # fmt: skip
        workspace = mark_uninstalled(session, team_id, runtime.clock())
    log.info("uninstalled from %s; stored tokens deleted", team_id)
    return workspace is not None


# -- roles: added admins and digest leaders ------------------------------------------------


def add_role(session: Session, workspace_id: int, role: str, user_id: str, *, by: str | None, now: datetime) -> bool:
    """Give `user_id` the role; False (and no audit entry) when they already had it.

    The audit entry records the whole list before and after, so `/heard config`
    reads "leaders: @a → @a, @b". Two changes at once (the same command sent twice, two
    admins) take turns, so the second reads the list the first left: "already" for the
    same person, both in the list for two people (:func:`hold_configuration`).
    """
    _check_role(role)
    hold_configuration(session, workspace_id)
    before = people_with_role(session, workspace_id, role)
    if user_id in before:
        return False
    session.add(WorkspaceRole(workspace_id=workspace_id, user_id=user_id, role=role, added_by=by, added_at=now))
    session.flush()
    record_audit(session, workspace_id, actor=by, action=f"{role} add", old=before,
                 new=[*before, user_id], now=now)  # fmt: skip
    return True


def remove_role(session: Session, workspace_id: int, role: str, user_id: str, *, by: str | None, now: datetime) -> bool:
    """Take the role away; False when they did not have it."""
    _check_role(role)
    hold_configuration(session, workspace_id)
    before = people_with_role(session, workspace_id, role)
    if user_id not in before:
        return False
    session.execute(
        delete(WorkspaceRole).where(
            WorkspaceRole.workspace_id == workspace_id, WorkspaceRole.role == role,
            WorkspaceRole.user_id == user_id,
        )
    )
    record_audit(session, workspace_id, actor=by, action=f"{role} remove", old=before,
                 new=[u for u in before if u != user_id], now=now)  # fmt: skip
    return True


def set_role_members(
    session: Session, workspace_id: int, role: str, wanted: list[str], *, by: str | None, now: datetime
) -> tuple[list[str], list[str]]:
    """Make the role's members exactly `wanted` (the App Home's people picker), one
    add/remove at a time so each lands in the audit log. Returns (added, removed)."""
    hold_configuration(session, workspace_id)
    current = people_with_role(session, workspace_id, role)
    added = [u for u in dict.fromkeys(wanted) if u not in current]
    removed = [u for u in current if u not in wanted]
    for user_id in removed:
        remove_role(session, workspace_id, role, user_id, by=by, now=now)
    for user_id in added:
        add_role(session, workspace_id, role, user_id, by=by, now=now)
    return added, removed


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")


# -- channels --------------------------------------------------------------------------------


def set_channel(
    session: Session, workspace_id: int, kind: str, channel_id: str | None, *, by: str | None, now: datetime
) -> str | None:
    """Set where the weekly story (`stories`) or the leadership digest (`digest`) goes;
    None turns it off. The caller has checked Heard can post there. Returns the old one
    (the channel itself when it was already set, by this call's twin sent at the same
    moment too: the two take turns, :func:`hold_configuration`)."""
    key = CHANNEL_KINDS[kind]
    hold_configuration(session, workspace_id)
    current = load_config(session, workspace_id)
    old = current.stories_channel if kind == "stories" else current.digest_channel
    if old == channel_id:
        return old
    change_setting(session, workspace_id, key, channel_id, by=by, now=now, action=f"channel {kind}")
    return old


# -- departments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentInfo:
    name: str
    channel_id: str
    usergroup_id: str | None

    def as_audit(self) -> dict:
        return {"name": self.name, "channel": self.channel_id, "usergroup": self.usergroup_id}


def clean_department_name(text: str) -> str:
    """The department's name with spaces tidied; AdminError says what is wrong with it."""
    name = " ".join(text.split())
    if not name:
        raise AdminError("The department needs a name.")
    if len(name) > DEPARTMENT_NAME_MAX:
        raise AdminError(f"A department name has at most {DEPARTMENT_NAME_MAX} characters.")
    if not _DEPARTMENT_NAME.match(name):
        raise AdminError(
            "A department name uses letters, digits, spaces and & . , ' ( ) / + - only."
        )
    return name


def list_departments(session: Session, workspace_id: int) -> list[DepartmentInfo]:
    rows = session.scalars(
        select(Department).where(Department.workspace_id == workspace_id).order_by(func.lower(Department.name))
    )
    return [DepartmentInfo(d.name, d.channel_id, d.usergroup_id) for d in rows]


def _find_department(session: Session, workspace_id: int, name: str) -> Department | None:
    return session.scalar(
        select(Department).where(
            Department.workspace_id == workspace_id, func.lower(Department.name) == name.lower()
        )
    )


def add_department(
    session: Session, workspace_id: int, name: str, channel_id: str, usergroup_id: str | None,
    *, by: str | None, now: datetime,
) -> DepartmentInfo:  # fmt: skip
    """Add a department with its channel (where its decision prompts go) and optional
    user group. Names are unique per workspace, ignoring case."""
    name = clean_department_name(name)
    existing = _find_department(session, workspace_id, name)
    if existing is not None:
        raise AdminError(f"There is already a department called {existing.name}; remove it first to change it.")
    session.add(Department(workspace_id=workspace_id, name=name, channel_id=channel_id,
                           usergroup_id=usergroup_id, created_at=now))  # fmt: skip
    session.flush()
    info = DepartmentInfo(name, channel_id, usergroup_id)
    record_audit(session, workspace_id, actor=by, action="department add", old=None, new=info.as_audit(), now=now)
    return info


def remove_department(session: Session, workspace_id: int, name: str, *, by: str | None, now: datetime) -> DepartmentInfo:
    """Remove a department; its logged decisions stay, without a department."""
    found = _find_department(session, workspace_id, " ".join(name.split()))
    if found is None:
        names = ", ".join(d.name for d in list_departments(session, workspace_id))
        known = f" Departments: {names}." if names else " There are no departments yet."
        raise AdminError(f"There is no department called {name}.{known}")
    info = DepartmentInfo(found.name, found.channel_id, found.usergroup_id)
    session.delete(found)
    session.flush()
    record_audit(session, workspace_id, actor=by, action="department remove", old=info.as_audit(), new=None, now=now)
    return info


# -- schedules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRow:
    job: str
    cadence: Cadence | None  # None: no default and no override
    custom: bool
    registered: bool


def schedule_rows(session: Session, workspace_id: int, catalog: JobCatalog) -> list[ScheduleRow]:
    """Each job with the cadence in force for this workspace (its override, else the default)."""
    overrides = load_config(session, workspace_id).schedules
    rows = []
    for job in catalog.names:
        cadence, custom = catalog.defaults.get(job), False
        if job in overrides:
            try:
                cadence, custom = parse_cadence(overrides[job]), True
            except CadenceError:
                pass  # the scheduler ignores an invalid override the same way
        rows.append(ScheduleRow(job, cadence, custom, job in catalog.registered))
    return rows


def check_schedule(job: str, text: str, catalog: JobCatalog) -> Cadence:
    """The cadence `text` means for `job`; AdminError says what is wrong."""
    if job not in catalog.names:
        known = ", ".join(catalog.names) or "none yet"
        raise AdminError(f"There is no job called {job}. Jobs: {known}.")
    try:
        return parse_cadence(text)
    except CadenceError as exc:
        raise AdminError(f"That is not a schedule: {exc}.") from None


def set_schedule(
    session: Session, workspace_id: int, job: str, text: str, *, catalog: JobCatalog,
    by: str | None, now: datetime,
) -> Cadence:  # fmt: skip
    """Override `job`'s cadence for this workspace ("mon 10:00", "daily 17:00", "off"),
    read in the workspace's time zone. The running scheduler picks it up at its next
    sync (immediately in this process, within a minute in a separate `heard clock`)."""
    cadence = check_schedule(job, text, catalog)
    change_setting(session, workspace_id, SCHEDULE.format(job=job), str(cadence), by=by, now=now,
                   action=f"schedule {job}")  # fmt: skip
    return cadence


# -- pause -------------------------------------------------------------------------------------


def set_paused(session: Session, workspace_id: int, paused: bool, *, by: str | None, now: datetime) -> bool:
    """Stop (or restart) every scheduled post of the workspace; False when nothing changed."""
    workspace = session.get(Workspace, workspace_id)
    if workspace.paused == paused:
        return False
    workspace.paused = paused
    session.flush()
    record_audit(session, workspace_id, actor=by, action="pause" if paused else "resume",
                 old=not paused, new=paused, now=now)  # fmt: skip
    return True


# -- forget ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForgetReport:
    """What `/heard forget` did: a line per kind of record, in room order."""

    lines: tuple[Forgotten, ...] = ()
    installer_cleared: bool = False

    @property
    def total(self) -> int:
        return sum(line.count for line in self.lines)

    def as_audit(self) -> dict:
        counts: dict = {line.key: line.count for line in self.lines if line.count}
        if self.installer_cleared:
            counts["installer_cleared"] = True
        return counts


def forget_person(
    session: Session, workspace_id: int, user_id: str, *, rooms: Rooms, by: str | None, now: datetime
) -> ForgetReport:
    """Delete one person's personal data in this workspace, and only this workspace.

    Each room forgets what it holds (`Room.forget`: feedback they reported stays but no
    longer names them, …); the core then removes their Heard roles, deletes Heard's
    queued or failed DMs to them and blanks the contents of DMs already sent (the row
    stays so the same DM is never sent twice), and makes settings they changed and
    audit entries that name them say "forgotten".

    The audit log records that an admin ran forget and the counts, not whom.
    """
    stand_in = f"X{secrets.token_hex(6).upper()}"  # not a Slack id: never rendered as a mention

    def run(statement) -> int:
        return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0

    lines = rooms.forget(ForgetRequest(session, workspace_id, user_id, stand_in))
    lines += [
        Forgotten("roles_removed", run(
            delete(WorkspaceRole).where(WorkspaceRole.workspace_id == workspace_id, WorkspaceRole.user_id == user_id)
        ), "Heard role", "Heard roles", "removed"),
        Forgotten("messages_deleted", forget_recipient(session, workspace_id, user_id),
                  "DM record", "DM records", "deleted"),
        Forgotten("settings_anonymised", run(
            update(WorkspaceSetting)
            .where(WorkspaceSetting.workspace_id == workspace_id, WorkspaceSetting.updated_by == user_id)
            .values(updated_by=None)
        ), "setting", "settings", "anonymised"),
        Forgotten("audit_anonymised", _forget_in_audit(session, workspace_id, user_id),
                  "audit entry", "audit entries", "anonymised"),
        Forgotten("sent_messages_blanked", forget_mentions(session, workspace_id, user_id),
                  "sent message naming them", "sent messages naming them", "blanked"),
        Forgotten("events_blanked", forget_events(session, _team_of(session, workspace_id), user_id),
                  "stored Slack event", "stored Slack events", "blanked"),
    ]  # fmt: skip
    installer_cleared = bool(
        run(update(Workspace).where(Workspace.id == workspace_id, Workspace.installer_user_id == user_id)
            .values(installer_user_id=None))
    )  # fmt: skip
    session.expire_all()
    report = ForgetReport(tuple(lines), installer_cleared)
    record_audit(session, workspace_id, actor=by, action="forget", old=None, new=report.as_audit(), now=now)
    return report


def _team_of(session: Session, workspace_id: int) -> str:
    return session.scalar(select(Workspace.team_id).where(Workspace.id == workspace_id)) or ""


def _forget_in_audit(session: Session, workspace_id: int, user_id: str) -> int:
    def scrub(value):
        if value == user_id:
            return FORGOTTEN
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        return value

    changed = 0
    rows = session.scalars(
        select(AuditEntry).where(
            AuditEntry.workspace_id == workspace_id,
            (AuditEntry.actor_user_id == user_id)
            | cast(AuditEntry.old_value, String).contains(user_id)
            | cast(AuditEntry.new_value, String).contains(user_id),
        )
    )
    for entry in rows:
        old, new = scrub(entry.old_value), scrub(entry.new_value)
        actor = FORGOTTEN if entry.actor_user_id == user_id else entry.actor_user_id
        if (old, new, actor) != (entry.old_value, entry.new_value, entry.actor_user_id):
            entry.old_value, entry.new_value, entry.actor_user_id = old, new, actor
            changed += 1
    session.flush()
    return changed


# -- reading the configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSnapshot:
    """Everything `/heard config` and the admin's App Home show."""

    team_id: str
    workspace_name: str
    time_zone: str
    paused: bool
    installer: str | None
    config: WorkspaceConfig
    departments: list[DepartmentInfo]
    leaders: list[str]
    admins: list[str]  # added with /heard admin add
    schedules: list[ScheduleRow]
    audit: list[AuditEntry]


def config_snapshot(session: Session, workspace_id: int, catalog: JobCatalog, *, audit_entries: int = 5) -> ConfigSnapshot:
    workspace = session.get(Workspace, workspace_id)
    return ConfigSnapshot(
        team_id=workspace.team_id,
        workspace_name=workspace.name,
        time_zone=workspace.time_zone,
        paused=workspace.paused,
        installer=workspace.installer_user_id,
        config=load_config(session, workspace_id),
        departments=list_departments(session, workspace_id),
        leaders=people_with_role(session, workspace_id, "leader"),
        admins=added_admins(session, workspace_id),
        schedules=schedule_rows(session, workspace_id, catalog),
        audit=recent_audit(session, workspace_id, limit=audit_entries),
    )
