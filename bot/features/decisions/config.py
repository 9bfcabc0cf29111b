"""The decisions room's one setting: how a silent department is nudged."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.features.decisions.kinds import NudgeVia
from bot.workspace_settings import setting_values

NUDGE_VIA = "decision_nudges"  # "channel" | "dm"


def nudge_via(session: Session, workspace_id: int) -> NudgeVia:
    """Where silent departments are nudged; the department's channel unless an admin chose DMs."""
    value = setting_values(session, workspace_id, (NUDGE_VIA,)).get(NUDGE_VIA)
    return NudgeVia.DM if value == NudgeVia.DM else NudgeVia.CHANNEL
