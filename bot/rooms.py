"""The room contract: everything a feature room adds to Heard, in one declaration.

A room is a package in `bot/features/` named in `bot.features.ROOMS`. Its `room.py`
exposes `ROOM = Room(...)`; nothing outside its folder (and that one line in ROOMS)
names it. What it may declare, each optional:

- `about`: what it does, in a sentence or two per part, for "How Heard works".
- `register(app, context)`: its Bolt listeners (events, actions, views, shortcuts).
  Listeners stay thin: ack, parse, call the room's service, let the outbox send.
  It is called twice: with the front Bolt app, and with the inbox's replayer
  (`bot.slack.replay`), which keeps only event listeners and runs them on stored
  events; those take their arguments from `body`, `event`, `context` and `client`.
- `commands`: its `/heard` forms (:class:`bot.slack.commands.Command`); the shared
  router parses, checks who may run each form, acks and replies for every room.
- `jobs`: its recurring jobs (:class:`bot.scheduler.registry.JobSpec`).
- `home_sections`: functions from :class:`HomeContext` to App Home blocks.
- `checklist`: its items of the admins' setup checklist (:class:`ChecklistItem`).
- `settings`: its sections of `/heard config` and the admins' App Home, and
  `audit_formats`: how its settings' values read in the audit log.
- `manifest`: the scopes, events, shortcuts and callback ids it needs (:class:`ManifestPart`).
- `forget`: what `/heard forget @person` deletes or anonymises of its data.
- `exports`: the CSV files it adds to `heard export` (:class:`ExportFile`).
- `digest_sections`: its sections of the leadership digest (:class:`DigestSection`).
- `on_install`: work when a workspace gets its installer (the setup greeting).
- `demo_steps`: a function returning the functions `step(demo)` that `heard demo` runs,
  in room order; it imports the room's demo when called, so a server never does.
- `card_buttons`: buttons it adds to another room's item cards (:class:`CardButton`).
  The other room renders them as data, without naming the room that declared them.
- `owns_message(session, workspace_id, channel, ts)`: True for a message this room
  posted and follows (reactions and thread replies on it are this room's). Another
  room's event listeners leave events on such a message alone, so two rooms can share
  a channel (a stories channel that is also a feedback channel).

Its command-line additions live in `bot/features/<room>/cli.py` (`register_cli(app)`),
apart from `room.py`, so `heard --help` never imports Bolt or SQLAlchemy.

A room reads another room only through that room's `queries.py`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.scheduler.registry import JobRegistry, JobSpec
from bot.slack.commands import Command, CommandRouter, DuplicateCommand
from bot.slack.manifest import build_manifest

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient
    from sqlalchemy.orm import Session

    from bot.db.models import Workspace
    from bot.runtime import Runtime
    from bot.slack.commands import Access
    from bot.slack.people import People


@dataclass(frozen=True)
class Shortcut:
    """A global or message shortcut, as the manifest declares it."""

    name: str
    callback_id: str
    description: str
    type: str = "message"

    def as_manifest(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "callback_id": self.callback_id,
                "description": self.description}  # fmt: skip


@dataclass(frozen=True)
class ManifestPart:
    """What a room needs from Slack. `scopes` maps each bot scope to why it is asked for;
    `callbacks` lists the action, view and shortcut callback ids the room listens to (two
    rooms claiming one id fail at start-up)."""

    scopes: dict[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    shortcuts: tuple[Shortcut, ...] = ()
    callbacks: tuple[str, ...] = ()


@dataclass
class HomeContext:
    """What a room's App Home section gets to build its blocks."""

    session: Session
    workspace: Workspace
    user_id: str
    is_admin: bool
    command: str
    runtime: Runtime
    now: datetime


@dataclass(frozen=True)
class ChecklistItem:
    """One step of the admins' setup checklist (the greeting DM and the App Home).

    `detail` is mrkdwn the room wrote (user text escaped). With `action_id`, the App Home
    shows a button labelled `button`; the room that declared the item listens to it.
    `rank` orders items across rooms (smaller first).
    """

    key: str
    title: str
    done: bool
    detail: str
    rank: int = 100
    optional: bool = False
    button: str | None = None
    action_id: str | None = None


@dataclass(frozen=True)
class SetupRequest:
    """What a room gets to say how it is set up (checklist items, `/heard config` lines)."""

    session: Session
    workspace_id: int
    command: str
    runtime: Runtime


MENTIONED = "[user]"  # what a forgotten person's mention becomes: the LLM redaction's word for one


@dataclass(frozen=True)
class ForgetRequest:
    """`/heard forget @person` in one workspace. `stand_in` replaces the person's id where
    a count must survive (reactions, acknowledgements); it is not a Slack id."""

    session: Session
    workspace_id: int
    user_id: str
    stand_in: str

    def forget_mentions(self, model: type, columns: tuple[str, ...], *where: Any) -> int:
        """Replace every mention of the person in `columns` (words people wrote) of the rows
        of `model` that match `where` with `MENTIONED`: `<@U0123>` and `<@U0123|maya>` whole
        (the label is their name), and the bare id as a word of its own (`U0123`, `@U0123`,
        not inside `XU0123`). The rest of the words stay. Returns how many rows changed. A
        name typed as text ("Jane Doe", a CSV's author) cannot be told from anyone else's
        and stays."""
        from sqlalchemy import or_, select, update  # here: the room contract imports no SQLAlchemy

        person = re.escape(self.user_id)
        mention = re.compile(rf"<@{person}(?:\|[^<>]*)?>|(?<![A-Za-z0-9])@?{person}(?![A-Za-z0-9])")
        attributes = [getattr(model, name) for name in columns]
        rows = self.session.execute(
            select(model.id, *attributes)
            .where(*where, or_(*(attribute.contains(self.user_id) for attribute in attributes)))
        ).all()  # fmt: skip
        changed = 0
        for row_id, *values in rows:
            forgotten = {}
            for name, attribute, value in zip(columns, attributes, values, strict=True):
                if value is not None and (new := mention.sub(MENTIONED, value)) != value:
                    # never longer than the column: a bare id of 3 characters becomes 6
                    forgotten[name] = new[:attribute.type.length] if attribute.type.length else new
            if forgotten:
                self.session.execute(update(model).where(model.id == row_id).values(forgotten)
                                     .execution_options(synchronize_session=False))  # fmt: skip
                changed += 1
        return changed


@dataclass(frozen=True)
class Forgotten:
    """One line of the forget report: `count` of `what` (singular, plural), `how`."""

    key: str
    count: int
    one: str
    many: str
    how: str  # "anonymised", "deleted", "removed"

    def __str__(self) -> str:
        return f"{self.count} {self.one if self.count == 1 else self.many} {self.how}"


AuditFormats = dict[str, Callable[[Any], str]]
"""How a room's settings read in the audit log: action prefix -> one stored value as mrkdwn."""

ExportRows = Callable[["Session", dict[int, str]], Iterator[tuple]]
"""Rows of one CSV file for the workspaces in `team_of` (workspace id -> team id)."""


# What a spreadsheet runs as a formula when a cell starts with it: `heard export` puts an
# apostrophe before such text (`bot.features.admin.export.cell`), and `heard feedback
# import` takes it off an export again; one class, so the two stay each other's inverse.
FORMULA_START = "[=+\\-@\t\r]"


@dataclass(frozen=True)
class ExportFile:
    name: str  # "feedback.csv"
    columns: tuple[str, ...]
    rows: ExportRows


@dataclass(frozen=True)
class DigestSection:
    """A room's part of the leadership digest. The digest room defines what `build`
    receives and returns; the contract only carries it, in room order."""

    key: str
    build: Callable[..., Any]


@dataclass(frozen=True)
class CardButton:
    """A button one room adds to another room's item cards (e.g. "Turn into a story" on
    resolved feedback). `room` names the room whose cards show it; `states` the item
    states it shows in (that room's words; empty: every state). The card sets the
    button's value to the item's id; the declaring room listens to `action_id` (one of
    its manifest callbacks) and reads the item through the other room's `queries.py`."""

    room: str
    label: str
    action_id: str
    states: tuple[str, ...] = ()

    def shows_for(self, state: str) -> bool:
        return not self.states or state in self.states


@dataclass(frozen=True)
class Room:
    name: str
    about: tuple[tuple[str, str], ...] = ()  # (title, one or two sentences): "How Heard works"
    register: Callable[[App, RoomContext], None] | None = None
    commands: tuple[Command, ...] = ()
    jobs: tuple[JobSpec, ...] = ()
    home_sections: tuple[Callable[[HomeContext], list[dict]], ...] = ()
    checklist: Callable[[SetupRequest], list[ChecklistItem]] | None = None
    settings: Callable[[SetupRequest], list[str]] | None = None
    audit_formats: AuditFormats = field(default_factory=dict)
    manifest: ManifestPart = ManifestPart()
    forget: Callable[[ForgetRequest], list[Forgotten]] | None = None
    exports: tuple[ExportFile, ...] = ()
    digest_sections: tuple[DigestSection, ...] = ()
    on_install: Callable[[Session, int, str, datetime, Runtime], None] | None = None
    demo_steps: Callable[[], tuple[Callable[[Any], None], ...]] | None = None
    card_buttons: tuple[CardButton, ...] = ()
    owns_message: Callable[[Session, int, str, str], bool] | None = None


class RoomConflict(Exception):
    """Two rooms declared the same thing (a `/heard` form, a job, a callback id, a file),
    or a room declared a card button it does not listen to; Heard refuses to start, with
    one line naming the rooms."""


@dataclass(frozen=True)
class Rooms:
    """Every room of this Heard, checked once: nothing is declared by two rooms."""

    rooms: tuple[Room, ...]
    router: CommandRouter
    registry: JobRegistry

    @classmethod
    def of(cls, rooms: Iterable[Room]) -> Rooms:
        rooms = tuple(rooms)
        try:
            router = CommandRouter((room.name, command) for room in rooms for command in room.commands)
        except DuplicateCommand as exc:
            raise RoomConflict(str(exc)) from None
        _unique(rooms, "job", lambda room: (job.name for job in room.jobs))
        _unique(rooms, "callback id", lambda room: room.manifest.callbacks)
        _unique(rooms, "export file", lambda room: (f.name for f in room.exports))
        for room in rooms:
            for card_button in room.card_buttons:
                if card_button.action_id not in room.manifest.callbacks:
                    raise RoomConflict(f"the {room.name} room's card button {card_button.action_id!r} is not "
                                       "among its callbacks")  # fmt: skip
        registry = JobRegistry.of(job for room in rooms for job in room.jobs)
        return cls(rooms, router, registry)

    def __iter__(self) -> Iterator[Room]:
        return iter(self.rooms)

    # -- what the core collects from every room ------------------------------------------------

    def about(self) -> list[tuple[str, str]]:
        """What Heard does today, room by room: the App Home's "How Heard works"."""
        return [line for room in self.rooms for line in room.about]

    def home_sections(self) -> list[Callable[[HomeContext], list[dict]]]:
        return [section for room in self.rooms for section in room.home_sections]

    def checklist(self, request: SetupRequest) -> list[ChecklistItem]:
        items = [item for room in self.rooms if room.checklist for item in room.checklist(request)]
        return sorted(items, key=lambda item: item.rank)

    def audit_formats(self) -> AuditFormats:
        return {prefix: read for room in self.rooms for prefix, read in room.audit_formats.items()}

    def settings(self, request: SetupRequest) -> list[str]:
        """Each room's sections of `/heard config` and the admins' App Home (mrkdwn)."""
        return [text for room in self.rooms if room.settings for text in room.settings(request)]

    def forget(self, request: ForgetRequest) -> list[Forgotten]:
        return [line for room in self.rooms if room.forget for line in room.forget(request)]

    def exports(self) -> list[ExportFile]:
        return [file for room in self.rooms for file in room.exports]

    def digest_sections(self) -> list[DigestSection]:
        return [section for room in self.rooms for section in room.digest_sections]

    def on_install(self, session: Session, workspace_id: int, installer: str, now: datetime,
                   runtime: Runtime) -> None:  # fmt: skip
        for room in self.rooms:
            if room.on_install:
                room.on_install(session, workspace_id, installer, now, runtime)

    def scopes(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for room in self.rooms:
            for scope, why in room.manifest.scopes.items():
                found.setdefault(scope, why)
        return found

    def events(self) -> list[str]:
        return sorted({event for room in self.rooms for event in room.manifest.events})

    def shortcuts(self) -> list[Shortcut]:
        return [shortcut for room in self.rooms for shortcut in room.manifest.shortcuts]

    def manifest(self, *, command: str = "/heard", request_url: str | None = None) -> dict[str, Any]:
        """The Slack app manifest for these rooms (`heard manifest`)."""
        forms = ["help", *(c.usage for c in self.router if not c.admin_only)]
        if any(c.admin_only for c in self.router):
            forms.append("config (admins)")
        return build_manifest(
            scopes=self.scopes(), events=self.events(), usage_hint=" | ".join(forms)[:1000],
            about=" ".join(text for _, text in self.about()),
            shortcuts=[shortcut.as_manifest() for shortcut in self.shortcuts()],
            command=command, request_url=request_url,
        )  # fmt: skip

    def demo_steps(self) -> list[Callable[[Any], None]]:
        return [step for room in self.rooms if room.demo_steps for step in room.demo_steps()]

    def card_buttons(self, room: str) -> tuple[CardButton, ...]:
        """The buttons other rooms add to `room`'s item cards, in room order."""
        return tuple(button for other in self.rooms if other.name != room
                     for button in other.card_buttons if button.room == room)  # fmt: skip

    def message_owner(self, session: Session, workspace_id: int, channel: str, ts: str) -> str | None:
        """The room that posted message `ts` in `channel` and follows it, if one does."""
        for room in self.rooms:
            if room.owns_message and room.owns_message(session, workspace_id, channel, ts):
                return room.name
        return None


def _unique(rooms: tuple[Room, ...], what: str, names: Callable[[Room], Iterable[str]]) -> None:
    owner: dict[str, str] = {}
    for room in rooms:
        for name in names(room):
            if name in owner:
                raise RoomConflict(f"{what} {name!r} is declared by both the {owner[name]} and the {room.name} rooms")
            owner[name] = room.name


HOME_BLOCKS = 100  # Slack's limit for a Home tab


@dataclass
class RoomContext:
    """What the core hands a room when it registers its listeners."""

    runtime: Runtime
    rooms: Rooms
    people: People
    access: Access  # who is calling: their workspace, and whether they are a Heard admin
    notify: Callable[[], None]  # the in-process scheduler re-reads its plan

    def publish_home(self, client: WebClient, team_id: str, user_id: str) -> None:
        """Compose `user_id`'s App Home from every room's sections and publish it.

        Any room calls this after a change its Home shows (a setup modal saved)."""
        from slack_sdk.errors import SlackApiError
        from slack_sdk.models.views import View

        from bot.workspaces import find_active

        caller = self.access(client, team_id, user_id)
        if caller.workspace_id is None:
            return
        with self.runtime.sessions() as session:
            workspace = find_active(session, team_id)
            if workspace is None:
                return
            home = HomeContext(session=session, workspace=workspace, user_id=user_id, is_admin=caller.is_admin,
                               command=self.runtime.settings.heard_slash_command, runtime=self.runtime,
                               now=self.runtime.clock())  # fmt: skip
            blocks = [block for section in self.rooms.home_sections() for block in section(home)]
        try:
            client.views_publish(user_id=user_id, view=View(type="home", blocks=blocks[:HOME_BLOCKS]).to_dict())
        except SlackApiError as exc:  # not someone Slack knows here (any more): a log line, not a traceback
            log.info("could not publish the App Home of %s: %s", user_id, exc.response.get("error"))
        for work in caller.after:
            work()
