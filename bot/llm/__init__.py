"""Everything Heard sends to an LLM goes through here: redaction, prompt templates, the client."""

from bot.llm.client import LLM, LLMConfig, LLMResult
from bot.llm.prompts import MissingPromptVariable, PromptNotFound, load_prompt, render_prompt
from bot.llm.redact import redact

__all__ = [
    "LLM",
    "LLMConfig",
    "LLMResult",
    "MissingPromptVariable",
    "PromptNotFound",
    "load_prompt",
    "redact",
    "render_prompt",
]
