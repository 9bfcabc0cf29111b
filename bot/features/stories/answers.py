"""The shape of the LLM's answer when it drafts a story (`drafts.py`), as a pydantic model.

Its own module, imported when a draft is asked for: pydantic costs about 0.1 s of CPU to
import, which a server's start would otherwise pay before it answers /healthz.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.features.stories.service import LIMITS


class DraftAnswer(BaseModel):
    title: str = Field(min_length=1, max_length=LIMITS["title"])
    customer: str = Field(min_length=1, max_length=LIMITS["customer"])
    what_happened: str = Field(min_length=1, max_length=LIMITS["what_happened"])
    learned: str = Field(min_length=1, max_length=LIMITS["learned"])
