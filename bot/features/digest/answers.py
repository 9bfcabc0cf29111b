"""The shape of the LLM's answer about the digest's themes (`labels.py`), as pydantic models.

Their own module, imported when the LLM is asked: pydantic costs about 0.1 s of CPU to
import, which a server's start would otherwise pay before it answers /healthz.
"""

from __future__ import annotations

from pydantic import BaseModel


class ThemeAnswer(BaseModel):
    theme_id: str
    label: str
    summary: str


class Answer(BaseModel):
    themes: list[ThemeAnswer]
