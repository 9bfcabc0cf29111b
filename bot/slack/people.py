"""What Slack says about people: who is a workspace admin or owner, their time zone.

Slack's answers are cached for a few minutes per workspace, so a burst of commands
costs one `users.info`, and a demotion in Slack takes effect soon after. Nothing here
writes to the database: callers decide what to record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.roles import claim_installer, known_admins
from bot.slack.commands import Access, Caller
from bot.workspaces import WorkspaceInfo, find_active, valid_time_zone

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

USERS_PAGE = 200
USERS_PAGES = 10
NAMED_ADMINS = 5  # a refusal names a few admins, not the whole of a large workspace's


@dataclass(frozen=True)
class SlackPerson:
    """What Heard needs to know about someone from `users.info`."""

    user_id: str
    is_admin: bool  # a Slack workspace admin or owner
    is_bot: bool
    deleted: bool
    time_zone: str | None


def slack_person(user: dict) -> SlackPerson:
    deleted, is_bot = bool(user.get("deleted")), bool(user.get("is_bot"))
    admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
    return SlackPerson(
        user_id=user["id"], is_admin=admin and not deleted and not is_bot, is_bot=is_bot,
        deleted=deleted, time_zone=user.get("tz"),
    )  # fmt: skip


class People:
    """A cached view of Slack's people, one per running app."""

    def __init__(self, ttl: timedelta = timedelta(minutes=5)):
        self.ttl = ttl
        self._people: dict[tuple[str, str], tuple[SlackPerson | None, datetime]] = {}
        self._admins: dict[str, tuple[list[str], datetime]] = {}
        self._lock = threading.Lock()

    def person(self, client: WebClient, team_id: str, user_id: str, now: datetime) -> SlackPerson | None:
        """Slack's record of `user_id` (cached), or None when Slack does not know them."""
        key = (team_id, user_id)
        with self._lock:
            cached = self._people.get(key)
        if cached and cached[1] > now:
            return cached[0]
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            log.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
            return None
        person = slack_person(user)
        with self._lock:
            self._people[key] = (person, now + self.ttl)
        return person

    def workspace_admins(self, client: WebClient, team_id: str, now: datetime) -> list[str]:
        """The workspace's admins and owners (owners first), from `users.list`, cached.

        Used to name whom to ask when Heard knows no admin of its own; empty when Slack
        will not list its people. A refusal names a few, so the listing stops once it has
        enough owners, or after `USERS_PAGES` pages of a very large workspace.
        """
        with self._lock:
            cached = self._admins.get(team_id)
        if cached and cached[1] > now:
            return cached[0]
        owners, admins, cursor = [], [], None
        try:
            for _ in range(USERS_PAGES):
                page = client.users_list(limit=USERS_PAGE, cursor=cursor)
                for user in page.get("members") or []:
                    person = slack_person(user)
                    if person.is_admin:
                        is_owner = user.get("is_owner") or user.get("is_primary_owner")
                        (owners if is_owner else admins).append(person.user_id)
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor or len(owners) >= NAMED_ADMINS:
                    break
        except SlackApiError as exc:
            log.warning("users.list failed: %s", exc.response.get("error"))
            return []
        found = owners + admins
        with self._lock:
            self._admins[team_id] = (found, now + self.ttl)
        return found

    def admins_to_name(self, client: WebClient, team_id: str, known: list[str], now: datetime) -> list[str]:
        """Whom a refused person should ask: Heard's own admins (the installer and those
        added), else the workspace's admins and owners."""
        return (known or self.workspace_admins(client, team_id, now))[:NAMED_ADMINS]


def caller_access(
    runtime: Runtime, people: People, *,
    on_installer: Callable[[Session, int, str, datetime], None],
    after_install: Callable[[], None],
) -> Access:  # fmt: skip
    """Who is calling, for the `/heard` router and the App Home.

    Heard's own records answer first (the installer, added admins); Slack is asked only
    when they do not settle it, and never inside an open transaction. In single-workspace
    mode there is no OAuth installer: the first Slack workspace admin or owner who uses
    Heard is recorded as its installer (`bot.roles.claim_installer`), `on_installer` runs
    in that transaction (the rooms' install work: the setup greeting) and
    `after_install` once the caller's reply is sent.
    """

    def access(client: WebClient, team_id: str, user_id: str) -> Caller:
        now = runtime.clock()
        with runtime.sessions() as session:
            workspace = find_active(session, team_id)
            if workspace is None:
                return Caller(None, False, list)
            workspace_id, installer = workspace.id, workspace.installer_user_id
            known = known_admins(session, workspace_id)
        is_admin, after = user_id in known, []
        if not is_admin or installer is None:
            person = people.person(client, team_id, user_id, now)
            slack_admin = person is not None and person.is_admin
            is_admin = is_admin or slack_admin
            if slack_admin and installer is None:
                with runtime.sessions.begin() as session:
                    claimed = claim_installer(session, workspace_id, user_id, person.time_zone, now)
                    if claimed:
                        on_installer(session, workspace_id, user_id, now)
                if claimed:
                    log.info("recorded %s as the installer of %s", user_id, team_id)
                    after.append(after_install)
        return Caller(workspace_id, is_admin, lambda: people.admins_to_name(client, team_id, known, now), after)

    return access


def fetch_workspace_info(
    client: WebClient,
    *,
    team_id: str,
    installer_user_id: str | None = None,
    bot_user_id: str | None = None,
    enterprise_id: str | None = None,
) -> WorkspaceInfo:
    """Ask Slack for the team's name and domain and the installer's time zone."""
    name, domain = team_id, None
    try:
        team = client.team_info(team=team_id)["team"]
        name, domain = team.get("name") or team_id, team.get("domain")
        enterprise_id = enterprise_id or team.get("enterprise_id")
    except SlackApiError as exc:
        log.warning("team.info failed for %s: %s", team_id, exc.response.get("error"))
    time_zone = "UTC"
    if installer_user_id:
        try:
            user = client.users_info(user=installer_user_id)["user"]
            time_zone = valid_time_zone(user.get("tz"))
        except SlackApiError as exc:
            log.warning("users.info failed for %s: %s", installer_user_id, exc.response.get("error"))
    return WorkspaceInfo(
        team_id=team_id,
        name=name,
        domain=domain,
        enterprise_id=enterprise_id,
        time_zone=time_zone,
        installer_user_id=installer_user_id,
        bot_user_id=bot_user_id,
    )
