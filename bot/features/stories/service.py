"""Customer story rules: the bank, review, the week's post, reflections and engagement.

- **The bank.** A story submitted by a Heard admin is approved at once; anyone else's
  waits for an admin (pending), who approves, edits or discards it. Every admin gets the
  review message once per story. A modal submitted twice (a double click) is one story:
  the view's id is its `submit_key`, unique per workspace.
- **The week's post.** One per workspace and ISO week (in the workspace's zone), whoever
  asks: the `weekly-story` job, a second process, a retry or `/heard story now`. The
  `story_posts` row, unique per (workspace, week), decides; the outbox sends it once.
  Slack refusing the post (an archived channel, Heard removed from it) frees the week
  again and the story stays in the bank; the admins are told once. A post Heard could
  not confirm (Slack answered it with an error and the channel's history could not be
  read to check) is *unconfirmed*, not refused: it may be in the channel, so it keeps
  the week and the admins are told to look; `/heard story now` then looks for it again
  (posting it only if it is missing), and `/heard story now again` posts it regardless.
  A week taken again retires its last try's queued call, so nothing (`heard outbox
  retry` included) sends both.
- **Rotation.** The story posted fewest times comes next (so none repeats before the
  bank is exhausted); among those, the least recently posted, then the oldest, skipping
  ahead to one whose customer or segment differs from last week's when there is one.
- **Engagement.** Reactions and thread replies by people on a post are rows, removed
  when the reaction is removed or the reply deleted; reflections are rows too.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Workspace
from bot.features.stories import views
from bot.features.stories.models import Reflection, Story, StoryEngagement, StoryPost
from bot.roles import known_admins
from bot.slack.outbox import UNSETTLED, enqueue, outcomes, recheck, retire

log = logging.getLogger(__name__)

# Slack's limits for plain-text inputs are 3000 characters; ours are what a post can show.
LIMITS = {"title": 150, "customer": 255, "what_happened": 2500, "learned": 1500, "link": 500}
REQUIRED = ("title", "customer", "what_happened", "learned")
MAX_REFLECTION = 2000
LABELS = {"title": "Title", "customer": "Customer or segment", "what_happened": "What happened",
          "learned": "What we learned", "link": "Link"}  # fmt: skip


class StoryError(Exception):
    """A story request that cannot be done; the message is one line for a person."""


class UnknownStory(StoryError):
    pass


class AlreadyReviewed(StoryError):
    pass


class StoryInvalid(StoryError):
    """Fields a modal must show errors for: {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class State:
    PENDING = "pending"
    APPROVED = "approved"
    DISCARDED = "discarded"


class PostStatus:
    QUEUED = "queued"
    POSTED = "posted"
    FAILED = "failed"  # Slack refused it: the week is free again
    UNCONFIRMED = "unconfirmed"  # perhaps posted, perhaps not (see the module docstring): the week stays taken


@dataclass(frozen=True)
class StoryDraft:
    """What a person typed in the story modal, before it is checked."""

    title: str = ""
    customer: str = ""
    what_happened: str = ""
    learned: str = ""
    link: str = ""
    anonymous: bool = False


@dataclass(frozen=True)
class Submitted:
    story: Story
    created: bool


def check_draft(draft: StoryDraft) -> StoryDraft:
    """The draft, trimmed, or StoryInvalid naming each empty or oversize field."""
    cleaned = {name: clean_text(getattr(draft, name)).strip() for name in LIMITS}
    errors = {}
    for name, value in cleaned.items():
        if name in REQUIRED and not value:
            errors[name] = f"{LABELS[name]} can't be empty."
        elif len(value) > LIMITS[name]:
            errors[name] = f"{LABELS[name]} is {len(value)} characters; the most is {LIMITS[name]}."
    link = cleaned["link"]
    if link and "link" not in errors and not link.startswith(("https://", "http://")):
        errors["link"] = "A link starts with https:// (or http://)."
    if errors:
        raise StoryInvalid(errors)
    return StoryDraft(**cleaned, anonymous=bool(draft.anonymous))


# -- the bank ------------------------------------------------------------------------------------


def submit_story(
    session: Session, workspace: Workspace, draft: StoryDraft, *, user_id: str | None, is_admin: bool,
    submit_key: str | None, now: datetime, source: str = "command", feedback_item_id: int | None = None,
) -> Submitted:  # fmt: skip
    """Put a story in the bank: approved when an admin submits it, else pending with a
    review message to every admin. The same `submit_key` twice is one story."""
    draft = check_draft(draft)
    if submit_key:
        existing = _by_submit_key(session, workspace.id, submit_key)
        if existing is not None:
            return Submitted(existing, False)
    story = Story(
        workspace_id=workspace.id, title=draft.title, customer=draft.customer,
        what_happened=draft.what_happened, learned=draft.learned, link=draft.link or None,
        anonymous=draft.anonymous, submitted_by=user_id, source=source,
        feedback_item_id=feedback_item_id, submit_key=submit_key, created_at=now,
        state=State.APPROVED if is_admin else State.PENDING,
    )  # fmt: skip
    if is_admin:
        story.reviewed_at, story.reviewed_by = now, user_id
    try:
        with session.begin_nested():
            session.add(story)
    except IntegrityError:  # the other click's transaction stored it meanwhile
        existing = _by_submit_key(session, workspace.id, submit_key) if submit_key else None
        if existing is None:
            raise
        return Submitted(existing, False)
    if not is_admin:
        ask_for_review(session, workspace, story, now=now)
    return Submitted(story, True)


def _by_submit_key(session: Session, workspace_id: int, key: str) -> Story | None:
    return session.scalar(select(Story).where(Story.workspace_id == workspace_id, Story.submit_key == key))


def ask_for_review(session: Session, workspace: Workspace, story: Story, *, now: datetime) -> int:
    """DM every admin the story with Approve / Edit / Discard, once per story and admin.
    Returns how many were queued."""
    text, blocks = views.review_message(story)
    queued = 0
    for admin in known_admins(session, workspace.id):
        _, created = enqueue(
            session, workspace_id=workspace.id, key=f"story-review:{workspace.team_id}:{story.id}:{admin}",
            method="chat.postMessage",
            payload={"channel": admin, "text": text, "blocks": blocks, "unfurl_links": False},
            now=now,
        )  # fmt: skip
        queued += created
    return queued


def find_story(session: Session, workspace_id: int, story_id) -> Story:
    try:
        number = int(story_id)
    except (TypeError, ValueError):
        raise UnknownStory("That story does not exist.") from None
    story = session.get(Story, number)
    if story is None or story.workspace_id != workspace_id:
        raise UnknownStory("That story does not exist (it may have been deleted).")
    return story


def review(session: Session, workspace_id: int, story_id, *, approve: bool, user_id: str, now: datetime) -> Story:
    """Approve or discard a pending story, once: the second admin to press learns who did.
    The conditional update makes two presses at once one review."""
    story = find_story(session, workspace_id, story_id)
    done = session.execute(
        update(Story).where(Story.id == story.id, Story.state == State.PENDING)
        .values(state=State.APPROVED if approve else State.DISCARDED, reviewed_at=now, reviewed_by=user_id)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    session.refresh(story)
    if not done:
        raise AlreadyReviewed(views.already_reviewed(story))
    return story


def edit_story(session: Session, workspace_id: int, story_id, draft: StoryDraft, *, user_id: str,
               now: datetime) -> Story:  # fmt: skip
    """An admin's edit of a story: the new wording, and the story approved (editing is how
    an admin makes a draft fit to post)."""
    draft = check_draft(draft)
    story = find_story(session, workspace_id, story_id)
    if story.state == State.DISCARDED:
        raise AlreadyReviewed(views.already_reviewed(story))
    story.title, story.customer, story.what_happened = draft.title, draft.customer, draft.what_happened
    story.learned, story.link, story.anonymous = draft.learned, draft.link or None, draft.anonymous
    if story.state == State.PENDING:
        story.state, story.reviewed_at, story.reviewed_by = State.APPROVED, now, user_id
    session.flush()
    return story


@dataclass(frozen=True)
class BankEntry:
    story: Story
    posts: int
    last_posted: datetime | None


def bank(session: Session, workspace_id: int) -> list[BankEntry]:
    """Every story not discarded, oldest first, with how often and when it was last posted."""
    stories = session.scalars(
        select(Story).where(Story.workspace_id == workspace_id, Story.state != State.DISCARDED)
        .order_by(Story.created_at, Story.id)
    ).all()  # fmt: skip
    posted = {
        story_id: (count, last)
        for story_id, count, last in session.execute(
            select(StoryPost.story_id, func.count(), func.max(StoryPost.posted_at))
            .where(StoryPost.workspace_id == workspace_id, StoryPost.status != PostStatus.FAILED)
            .group_by(StoryPost.story_id)
        )
    }
    return [BankEntry(story, *posted.get(story.id, (0, None))) for story in stories]


def next_story(session: Session, workspace_id: int) -> Story | None:
    """The next approved story to post (see the module docstring's rotation)."""
    approved = [entry for entry in bank(session, workspace_id) if entry.story.state == State.APPROVED]
    if not approved:
        return None
    fewest = min(entry.posts for entry in approved)
    last_turn = dict(session.execute(
        select(StoryPost.story_id, func.max(StoryPost.queued_at))
        .where(StoryPost.workspace_id == workspace_id, StoryPost.status != PostStatus.FAILED)
        .group_by(StoryPost.story_id)
    ).all())  # fmt: skip
    # Least recently posted first (never posted before all), then the oldest.
    candidates = sorted((entry.story for entry in approved if entry.posts == fewest),
                        key=lambda story: (last_turn.get(story.id) or datetime.min.replace(tzinfo=UTC),
                                           story.created_at, story.id))  # fmt: skip
    last = latest_post(session, workspace_id)
    if last is not None:
        previous = session.get(Story, last.story_id)
        segment = _segment(previous.customer) if previous else None
        different = [story for story in candidates if _segment(story.customer) != segment]
        if different:
            return different[0]
    return candidates[0]


def _segment(customer: str | None) -> str:
    return " ".join((customer or "").lower().split())


# -- the week's post ---------------------------------------------------------------------------------


@dataclass
class WeekOutcome:
    """What asking for the week's post did. `kind`: posted (queued now), already (this
    week's post exists), empty (no approved story), channel (no usable channel)."""

    kind: str
    post: StoryPost | None = None
    story: Story | None = None
    problem: str | None = None
    told: list[str] = field(default_factory=list)  # admins DMed now

    def __str__(self) -> str:
        if self.kind == "posted":
            return f"story {self.story.id} queued for {self.post.week}"
        if self.kind == "already":
            return f"{self.post.week} already has its story ({self.post.status})"
        if self.kind == "empty":
            return f"no approved story; {len(self.told)} admin(s) asked for one"
        return f"stories channel unusable ({self.problem}); {len(self.told)} admin(s) told"


def post_key(workspace: Workspace, post: StoryPost) -> str:
    return f"story:{workspace.team_id}:{post.week}:{post.attempt}"


def post_week(
    session: Session, workspace: Workspace, *, week: str, channel: str | None,
    check_channel: Callable[[str], str | None], now: datetime, requested_by: str | None = None,
    command: str = "/heard", tell: bool = True, again: bool = False,
) -> WeekOutcome:  # fmt: skip
    """Queue this week's story in `channel`, unless the week has its post already
    (`again`: unless that post is merely unconfirmed, which an admin who looked and did
    not find it may replace).

    `check_channel(channel)` says why the channel can't take a post (None: it can); it is
    asked only when there is something to post. With no channel, an unusable one, or no
    approved story, nothing is posted (the story stays in the bank for the next run) and,
    with `tell`, the admins are told once per week.
    """
    settle_posts(session, workspace, now=now, command=command)
    existing = session.scalar(select(StoryPost).where(StoryPost.workspace_id == workspace.id, StoryPost.week == week))
    retaken = (PostStatus.FAILED, PostStatus.UNCONFIRMED) if again else (PostStatus.FAILED,)
    if existing is not None and existing.status not in retaken:
        return WeekOutcome("already", existing)
    # Posted again, an unconfirmed post is the same story (if it is still in the bank).
    same = session.get(Story, existing.story_id) if existing is not None and existing.status == PostStatus.UNCONFIRMED else None
    story = same if same is not None and same.state == State.APPROVED else next_story(session, workspace.id)
    if story is None:
        told = tell_admins(session, workspace, key=f"stories-empty:{workspace.team_id}:{week}",
                           message=views.empty_bank(command), now=now) if tell else []  # fmt: skip
        return WeekOutcome("empty", told=told)
    problem = "not set" if channel is None else check_channel(channel)
    if problem is not None:
        told = tell_admins(session, workspace, key=f"stories-channel:{workspace.team_id}:{week}",
                           message=views.channel_problem(problem, channel, command), now=now) if tell else []  # fmt: skip
        return WeekOutcome("channel", problem=problem, told=told)
    if existing is not None:  # Slack refused last try (or `again`): take the week again, under a new key
        # The last try's row goes for good, or `heard outbox retry` would post it too. One
        # being sent, or sent meanwhile, may be in the channel: the week is not free then.
        if not retire(session, post_key(workspace, existing)):
            return WeekOutcome("already", existing)
        taken = session.execute(
            update(StoryPost)
            .where(StoryPost.id == existing.id, StoryPost.status == existing.status,
                   StoryPost.attempt == existing.attempt)
            .values(status=PostStatus.QUEUED, attempt=existing.attempt + 1, story_id=story.id, channel_id=channel,
                    queued_at=now, error=None, message_ts=None, posted_at=None, requested_by=requested_by)
            .execution_options(synchronize_session=False)
        ).rowcount  # fmt: skip
        session.refresh(existing)
        if not taken:
            return WeekOutcome("already", existing)
        post = existing
    else:
        post = StoryPost(workspace_id=workspace.id, week=week, story_id=story.id, attempt=1,
                         status=PostStatus.QUEUED, channel_id=channel, queued_at=now,
                         requested_by=requested_by)  # fmt: skip
        try:
            with session.begin_nested():
                session.add(post)
        except IntegrityError:  # another process took the week meanwhile
            winner = session.scalar(
                select(StoryPost).where(StoryPost.workspace_id == workspace.id, StoryPost.week == week)
            )
            return WeekOutcome("already", winner)
    text, blocks = views.story_post(story, post.id)
    enqueue(
        session, workspace_id=workspace.id, key=post_key(workspace, post), method="chat.postMessage",
        payload={"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False},
        now=now, room_tells_admins=True,
    )  # fmt: skip
    return WeekOutcome("posted", post, story)


def week_has_post(session: Session, workspace_id: int, week: str) -> bool:
    """The week's post is queued or posted (a failed one frees the week)."""
    return session.scalar(
        select(StoryPost.id).where(StoryPost.workspace_id == workspace_id, StoryPost.week == week,
                                   StoryPost.status != PostStatus.FAILED)
    ) is not None  # fmt: skip


def draft_waiting(session: Session, workspace_id: int) -> Story | None:
    """The oldest machine-written draft still waiting for an admin, if any."""
    return session.scalar(
        select(Story).where(Story.workspace_id == workspace_id, Story.source == "draft", Story.state == State.PENDING)
        .order_by(Story.created_at, Story.id).limit(1)
    )  # fmt: skip


def tell_admins(session: Session, workspace: Workspace, *, key: str, message: tuple[str, list[dict]],
                now: datetime) -> list[str]:  # fmt: skip
    """DM every admin once under `key` (one key per admin); returns who was told now."""
    text, blocks = message
    told = []
    for admin in known_admins(session, workspace.id):
        _, created = enqueue(
            session, workspace_id=workspace.id, key=f"{key}:{admin}", method="chat.postMessage",
            payload={"channel": admin, "text": text, "blocks": blocks}, now=now,
        )  # fmt: skip
        if created:
            told.append(admin)
    return told


def settle_posts(session: Session, workspace: Workspace, *, now: datetime, command: str = "/heard") -> int:
    """Take what Slack answered for queued posts from the outbox: posted (with its ts);
    failed, which frees the week and tells the admins once; or unconfirmed, which keeps
    the week (it may be in the channel) and tells the admins once to look. An unconfirmed
    or failed post sent later (`heard outbox retry`, after an admin mended the channel)
    becomes posted: a failed one left failed would hold its week for good (its row sent,
    `post_week` cannot take the week again) while its reflections are refused. Returns
    how many changed."""
    queued = session.scalars(
        select(StoryPost).where(StoryPost.workspace_id == workspace.id,
                                StoryPost.status.in_((PostStatus.QUEUED, PostStatus.UNCONFIRMED, PostStatus.FAILED)))
    ).all()  # fmt: skip
    if not queued:
        return 0
    keys = {post_key(workspace, post): post for post in queued}
    changed = 0
    for key, outcome in outcomes(session, keys).items():
        post, result, error = keys[key], outcome.result, outcome.error
        if outcome.delivered and result and result.get("ts"):
            post.status, post.message_ts, post.posted_at = PostStatus.POSTED, result["ts"], outcome.sent_at
            post.channel_id = result.get("channel") or post.channel_id
            # Reflections shared before Heard knew where the post landed go to its thread now.
            for reflection in session.scalars(select(Reflection).where(Reflection.post_id == post.id,
                                                                       Reflection.shared.is_(True))):  # fmt: skip
                share_reflection(session, workspace, post, reflection, now=now)
        elif post.status == PostStatus.FAILED:
            continue  # told already; only a later delivery changes it
        elif outcome.unconfirmed:
            if post.status == PostStatus.UNCONFIRMED:
                continue
            detail = (error or "").removeprefix(UNSETTLED).split(";", 1)[0].strip()
            post.status, post.error = PostStatus.UNCONFIRMED, _stored_reason(detail)
            tell_admins(session, workspace, key=f"stories-unconfirmed:{workspace.team_id}:{post.week}:{post.attempt}",
                        message=views.post_unconfirmed(detail, post.channel_id, command), now=now)  # fmt: skip
        else:
            post.status, post.error = PostStatus.FAILED, _stored_reason(error or "failed")
            tell_admins(session, workspace, key=f"stories-undelivered:{workspace.team_id}:{post.week}:{post.attempt}",
                        message=views.channel_problem(error or "failed", post.channel_id, command), now=now)  # fmt: skip
        changed += 1
    session.flush()
    return changed


def recheck_post(session: Session, workspace: Workspace, post: StoryPost, *, now: datetime) -> bool:
    """Look again for a post Heard could not confirm: queued again, the outbox reads the
    channel's history and posts it only if it is not there. False when `post` is not
    unconfirmed (another admin's look is already under way)."""
    if post.status != PostStatus.UNCONFIRMED or not recheck(session, [post_key(workspace, post)], now=now):
        return False
    post.status, post.error = PostStatus.QUEUED, None
    session.flush()
    return True


def _stored_reason(error: str) -> str:
    """`error` as `story_posts.error` holds it (64 characters): cut between words, never inside one."""
    if len(error) <= 64:
        return error
    return error[:63].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def latest_post(session: Session, workspace_id: int) -> StoryPost | None:
    return session.scalar(
        select(StoryPost).where(StoryPost.workspace_id == workspace_id, StoryPost.status != PostStatus.FAILED)
        .order_by(StoryPost.queued_at.desc(), StoryPost.id.desc()).limit(1)
    )  # fmt: skip


def post_at(session: Session, workspace: Workspace, channel: str, ts: str, *, now: datetime) -> StoryPost | None:
    """The story post that is message `ts` in `channel` (settling sent posts first)."""
    query = select(StoryPost).where(StoryPost.workspace_id == workspace.id, StoryPost.channel_id == channel,
                                    StoryPost.message_ts == ts)  # fmt: skip
    found = session.scalar(query)
    if found is None and settle_posts(session, workspace, now=now):
        found = session.scalar(query)
    return found


def is_story_message(session: Session, workspace_id: int, channel: str, ts: str) -> bool:
    """Message `ts` in `channel` is a story post: one whose ts Heard recorded, or a queued
    or unconfirmed one Slack already took (its answer is in the outbox, found since by
    history or `heard outbox retry`; `settle_posts` has not read it yet). Reads only, so an event listener's matcher may ask (the room's `owns_message`:
    reactions and replies on a story post are the stories room's even in a channel that is
    also a feedback channel)."""
    known = select(StoryPost.id).where(StoryPost.workspace_id == workspace_id, StoryPost.channel_id == channel,
                                       StoryPost.message_ts == ts).limit(1)  # fmt: skip
    if session.scalar(known) is not None:
        return True
    queued = session.scalars(select(StoryPost).where(
        StoryPost.workspace_id == workspace_id, StoryPost.channel_id == channel,
        StoryPost.status.in_((PostStatus.QUEUED, PostStatus.UNCONFIRMED)),
    )).all()  # fmt: skip
    workspace = session.get(Workspace, workspace_id) if queued else None
    if workspace is None:
        return False
    answers = outcomes(session, [post_key(workspace, post) for post in queued]).values()
    return any(isinstance(answer.result, dict) and answer.result.get("ts") == ts for answer in answers)


def find_post(session: Session, workspace_id: int, post_id) -> StoryPost:
    try:
        post = session.get(StoryPost, int(post_id))
    except (TypeError, ValueError):
        post = None
    if post is None or post.workspace_id != workspace_id or post.status == PostStatus.FAILED:
        raise UnknownStory("That story post does not exist any more.")
    return post


# -- reflections and engagement ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reflected:
    reflection: Reflection
    created: bool


def reflect(
    session: Session, workspace: Workspace, post: StoryPost, *, user_id: str, text: str, shared: bool,
    submit_key: str | None, now: datetime,
) -> Reflected:  # fmt: skip
    """Store a reflection (one per submitted modal); a shared one is posted, escaped, in
    the story's thread, once.

    The modal's view id is the `submit_key` that makes a double click one reflection.
    Slack names every modal it sends; a submission without a usable id could not be told
    from anyone else's (stored under the same empty key, the next person's would be taken
    for it: dropped, and thanked), so it is refused in the modal instead.
    """
    if not submit_key:
        raise StoryInvalid({"reflection": "Slack did not say which window this came from, so it was not saved. "
                                          "Close it and press Reflect again."})  # fmt: skip
    text = clean_text(text).strip()
    if not text:
        raise StoryInvalid({"reflection": "Write what you would change, or close the window."})
    if len(text) > MAX_REFLECTION:
        raise StoryInvalid({"reflection": f"That is {len(text)} characters; the most is {MAX_REFLECTION}."})
    existing = session.scalar(select(Reflection).where(Reflection.post_id == post.id, Reflection.submit_key == submit_key))
    if existing is not None:
        return Reflected(existing, False)
    reflection = Reflection(post_id=post.id, user_id=user_id, text=text, shared=shared, submit_key=submit_key,
                            created_at=now)  # fmt: skip
    try:
        with session.begin_nested():
            session.add(reflection)
    except IntegrityError:
        existing = session.scalar(select(Reflection).where(Reflection.post_id == post.id,
                                                           Reflection.submit_key == submit_key))  # fmt: skip
        return Reflected(existing, False)
    if shared:
        share_reflection(session, workspace, post, reflection, now=now)
    return Reflected(reflection, True)


def share_reflection(session: Session, workspace: Workspace, post: StoryPost, reflection: Reflection, *,
                     now: datetime) -> bool:  # fmt: skip
    """Queue a shared reflection in the story's thread (once the post's ts is known)."""
    if post.message_ts is None:
        settle_posts(session, workspace, now=now)
    if post.message_ts is None:
        return False
    text, blocks = views.shared_reflection(reflection)
    _, created = enqueue(
        session, workspace_id=workspace.id, key=f"reflection:{workspace.team_id}:{reflection.id}",
        method="chat.postMessage",
        payload={"channel": post.channel_id, "thread_ts": post.message_ts, "text": text, "blocks": blocks,
                 "unfurl_links": False, "unfurl_media": False},
        now=now,
    )  # fmt: skip
    return created


def engage(session: Session, workspace: Workspace, post: StoryPost, *, kind: str, user_id: str, ref: str,
           now: datetime) -> bool:  # fmt: skip
    """Count a person's reaction or reply on a post, once; Heard's own never count."""
    if user_id == workspace.bot_user_id:
        return False
    try:
        with session.begin_nested():
            session.add(StoryEngagement(post_id=post.id, kind=kind, user_id=user_id, ref=ref[:64], created_at=now))
    except IntegrityError:
        return False
    return True


def withdraw(session: Session, post: StoryPost, *, kind: str, user_id: str, ref: str) -> bool:
    """A removed reaction no longer counts."""
    return bool(session.execute(
        delete(StoryEngagement).where(StoryEngagement.post_id == post.id, StoryEngagement.kind == kind,
                                      StoryEngagement.user_id == user_id, StoryEngagement.ref == ref[:64])
    ).rowcount)  # fmt: skip


def withdraw_reply(session: Session, workspace_id: int, channel: str, reply_ts: str) -> bool:
    """A deleted reply no longer counts, whichever post it was under."""
    posts = select(StoryPost.id).where(StoryPost.workspace_id == workspace_id, StoryPost.channel_id == channel)
    return bool(session.execute(
        delete(StoryEngagement).where(StoryEngagement.post_id.in_(posts), StoryEngagement.kind == "reply",
                                      StoryEngagement.ref == reply_ts)
        .execution_options(synchronize_session=False)
    ).rowcount)  # fmt: skip


@dataclass(frozen=True)
class Engagement:
    """How people engaged with one or more posts."""

    posted: int = 0
    reactions: int = 0
    replies: int = 0
    reflections: int = 0
    people: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"posted": self.posted, "reactions": self.reactions, "replies": self.replies,
                "reflections": self.reflections, "people": self.people}  # fmt: skip


def engagement_of(session: Session, post_ids: list[int]) -> Engagement:
    """Reactions, replies, reflections and distinct people over `post_ids`."""
    if not post_ids:
        return Engagement()
    acts = session.execute(
        select(StoryEngagement.kind, StoryEngagement.user_id).where(StoryEngagement.post_id.in_(post_ids))
    ).all()
    reflections = session.execute(select(Reflection.user_id).where(Reflection.post_id.in_(post_ids))).all()
    counts = Counter(kind for kind, _ in acts)
    people = {user for _, user in acts} | {user for (user,) in reflections}
    return Engagement(len(post_ids), counts["reaction"], counts["reply"], len(reflections), len(people))


def posts_between(session: Session, workspace_id: int, start: datetime, end: datetime) -> list[StoryPost]:
    """Posts Slack accepted with `start <= posted_at < end`, oldest first."""
    return list(session.scalars(
        select(StoryPost).where(StoryPost.workspace_id == workspace_id, StoryPost.status == PostStatus.POSTED,
                                StoryPost.posted_at >= start, StoryPost.posted_at < end)
        .order_by(StoryPost.posted_at, StoryPost.id)
    ))  # fmt: skip


# -- helpers ---------------------------------------------------------------------------------------


def clean_text(text: str | None) -> str:
    """Text as stored: NULs dropped and lone surrogates replaced (PostgreSQL refuses both)."""
    text = (text or "").replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text
