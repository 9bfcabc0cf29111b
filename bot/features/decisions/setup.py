"""The decisions room's lines of `/heard config` and how its setting reads in the audit log."""

from __future__ import annotations

from bot.features.decisions.config import nudge_via
from bot.features.decisions.kinds import NudgeVia
from bot.rooms import SetupRequest
from bot.slack.blocks import escape


def settings(request: SetupRequest) -> list[str]:
    via = nudge_via(request.session, request.workspace_id)
    where = "by DM to their user group" if via == NudgeVia.DM else "in their channel"
    return [(f"*Decision logs*\nSilent departments are nudged {where} "
            f"(`{escape(request.command)} decision-nudges channel|dm`)")]  # fmt: skip


AUDIT_FORMATS = {"decision-nudges": lambda value: escape(str(value)) if value is not None else "channel"}
