"""Theme labels and summaries written by an LLM, with the offline wording as the fallback.

`label_themes(themes, texts, llm=..., offline=...)` is the one call the digest makes. The
theme engine (`themes.py`) has already grouped the items; the LLM only names and
summarises the groups, so it never decides which item belongs where and a failing LLM
costs the digest its nicer wording, never its themes or counts.

What is sent (prompt `prompts/digest_themes.txt`, through `bot.llm`):

- Each theme as an id (`T1`, `T2`, ... in the order given), its size, its keywords (found
  on the items with their personal data taken out, `themes.py`, and redacted once more
  here) and a few typical items: the engine's representatives first, then items spread evenly over
  the theme. Items are taken round-robin (every theme's first, then every theme's second,
  ...) until the prompt reaches its token budget (`TOKEN_BUDGET`, 12,000 by default), so
  the prompt stays that size whether the digest holds ten items or a million. Tokens are
  counted locally with a deliberately high estimate (`estimate_tokens`), with no
  tokenizer to download.
- Every item is redacted (`bot.llm.redact`: e-mails, phones, Luhn-valid cards, IBANs,
  Slack users, channels and user groups) *before* it is cut to `ITEM_CHARS`, so a cut
  never leaves half an address behind; it sits on one line of its own inside the fenced
  data section, so feedback can neither close the fence nor pose as a theme heading. The
  system prompt says the fenced text is data, never instructions.
- The theme of items with no words (only emoji, links or numbers) is not sent: it keeps
  its offline wording.

What comes back is checked: a structured answer (pydantic schema) naming every theme sent
exactly once and no other, each label at most `LABEL_WORDS` words and `LABEL_CHARS`
characters, each summary at most `SUMMARY_CHARS`. A slow, failing, refused or invalid
answer is asked again up to `ATTEMPTS` times in all (timeouts, HTTP 429 and 5xx are also
retried inside `bot.llm`, `LLMConfig.max_retries`), all within `DEADLINE_SECONDS`: each
request gets what is left of it as its deadline, which a server answering slowly or not
at all cannot stretch (`bot.llm.deadline`). Then every theme keeps its offline wording
and `fallback_reason` says why ("timeout" when the deadline came first).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.features.digest.themes import NO_WORDS_LABEL, Theme
from bot.llm import LLM, LLMConfig
from bot.llm.client import DATA_RULE, fence_data
from bot.llm.prompts import MissingPromptVariable, PromptNotFound, render_prompt
from bot.llm.redact import redact
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.features.digest.answers import Answer

__all__ = [
    "LabelledThemes",
    "ThemeLabel",
    "estimate_tokens",
    "label_themes",
    "llm_from_settings",
    "offline_labels",
    "theme_prompt",
]

log = logging.getLogger(__name__)

TOKEN_BUDGET = 12_000
ITEMS_PER_THEME = 8
ITEM_CHARS = 300
LABEL_WORDS = 8
LABEL_CHARS = 60
SUMMARY_CHARS = 400
ATTEMPTS = 2
DEADLINE_SECONDS = 90.0
# The client `llm_from_settings` builds: the longest wait for one read, and the retries
# of timeouts, 429s and 5xx inside one attempt (`bot.llm.client`).
TIMEOUT_SECONDS = 20.0
REQUEST_RETRIES = 1
PROMPT = "digest_themes"

# Asked of the model in the prompt; the checks above leave it some slack.
_PROMPT_LABEL_WORDS = 6
_PROMPT_SUMMARY_CHARS = 280
# Not worth asking again: the model said no, or there is nothing to ask.
_FINAL_REASONS = frozenset({"no OPENAI_API_KEY", "refused", "content filter"})
_WHITESPACE = re.compile(r"\s+")
_ASCII_PUNCTUATION = (
    bytes(range(33, 48)) + bytes(range(58, 65)) + bytes(range(91, 97)) + bytes(range(123, 127))
)


@dataclass(frozen=True)
class ThemeLabel:
    """A theme's short label and its two-sentence summary."""

    label: str
    summary: str


@dataclass(frozen=True)
class LabelledThemes:
    """Every theme's wording, keyed by theme id (`T1` is the first theme given).

    `engine` is "llm" when the LLM's answer was used (the no-words theme, never sent,
    keeps its offline wording even then) and "offline" otherwise, with `fallback_reason`
    saying why when a key was set or the LLM was tried ("no OPENAI_API_KEY", "timeout",
    "invalid JSON (2 attempts)", "unknown theme ids", ...). Never data from the items.
    """

    labels: dict[str, ThemeLabel]
    engine: Literal["llm", "offline"]
    fallback_reason: str | None = None

    def in_order(self) -> list[ThemeLabel]:
        """The wordings in the order the themes were given."""
        return [self.labels[theme_id(n)] for n in range(len(self.labels))]


def theme_id(position: int) -> str:
    """The id of the theme at `position` (0-based) in the sequence given: T1, T2, ..."""
    return f"T{position + 1}"


def llm_from_settings(settings: Settings) -> LLM:
    """The LLM client `label_themes` uses when given settings rather than a client."""
    return LLM(LLMConfig(api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                         model=settings.heard_openai_model, timeout_seconds=TIMEOUT_SECONDS,
                         max_retries=REQUEST_RETRIES, deadline_seconds=DEADLINE_SECONDS))  # fmt: skip


def label_themes(
    themes: Sequence[Theme],
    texts: Mapping[str, str],
    *,
    llm: LLM | None = None,
    settings: Settings | None = None,
    offline: Sequence[ThemeLabel | tuple[str, str]] | None = None,
    token_budget: int = TOKEN_BUDGET,
    attempts: int = ATTEMPTS,
    deadline_seconds: float = DEADLINE_SECONDS,
    prompts_dir: str | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> LabelledThemes:
    """Label and summarise `themes` with the LLM, or fall back to the offline wording.

    `texts` maps item ids to their text (at least the items of `themes`; a missing one
    is skipped). `llm` is the client to use, else one is built from `settings`
    (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `HEARD_OPENAI_MODEL`); with neither, or no key,
    nothing is sent. `offline` is each theme's fallback wording in the same order
    (default: `offline_labels`; ValueError when it does not match `themes` one to one,
    a caller's mistake). `prompts_dir` defaults to `HEARD_PROMPTS_DIR` from
    `settings`. Never raises for LLM trouble, nor for a missing or broken prompt template
    (that falls back too, with the template's error as the reason); see the module doc.
    """
    fallback = _offline(themes, texts, offline)
    if not themes:
        return LabelledThemes({}, "offline", None)
    if llm is None:
        llm = llm_from_settings(settings) if settings is not None else None
    if llm is None or not llm.enabled:
        return LabelledThemes(fallback, "offline", "no OPENAI_API_KEY")

    if prompts_dir is None and settings is not None:
        prompts_dir = settings.heard_prompts_dir
    try:
        prompt = theme_prompt(themes, texts, token_budget=token_budget, prompts_dir=prompts_dir)
    except (PromptNotFound, MissingPromptVariable, ValueError) as error:
        # The whole error (paths looked in, the variable) goes to the log; the reason,
        # which a digest may show, stays short.
        log.warning("Prompt template %s unusable: %s", PROMPT, error)
        if isinstance(error, PromptNotFound):
            return _fallback(fallback, f"prompt template {PROMPT} not found")
        return _fallback(fallback, f"prompt template {PROMPT} invalid")
    if not prompt.theme_ids:
        return LabelledThemes(fallback, "offline", None)  # only the no-words theme
    if prompt.tokens > token_budget:
        return _fallback(fallback, "too many themes for the token budget")

    # Imported here: the answer's schema is pydantic's, which a server's start does without.
    from bot.features.digest.answers import Answer

    # Each attempt gets what is left of the deadline, so the LLM client ends it there
    # however slowly the server answers.
    started = monotonic()
    left = deadline_seconds
    reason = "not tried"
    tries = 0
    for tries in range(1, max(1, attempts) + 1):
        result = llm.structured(system=prompt.system, user_data=prompt.user_data, schema=Answer,
                                deadline_seconds=left)  # fmt: skip
        if result.value is not None:
            checked = _check(result.value, prompt.theme_ids)
            if isinstance(checked, dict):
                return LabelledThemes({**fallback, **checked}, "llm", None)
            reason = checked
            log.warning("LLM theme labels not used: %s", reason)
        else:
            reason = result.fallback_reason or "no answer"
        left = deadline_seconds - (monotonic() - started)
        if reason in _FINAL_REASONS or left <= 0:
            break
    return _fallback(fallback, reason if tries == 1 else f"{reason} ({tries} attempts)")


def _fallback(fallback: dict[str, ThemeLabel], reason: str) -> LabelledThemes:
    log.warning("Digest themes labelled offline: %s", reason)
    return LabelledThemes(fallback, "offline", reason)


def offline_labels(themes: Sequence[Theme], texts: Mapping[str, str]) -> list[ThemeLabel]:
    """Heard's own wording: the engine's label, and a summary from the keywords and a
    typical item ("12 items mention export, csv and excel. For example: “...”")."""
    labels = []
    for theme in themes:
        count = theme.count
        noun = "item mentions" if count == 1 else "items mention"
        if theme.terms:
            first = f"{count} {noun} {_and_list(theme.terms)}."
        elif theme.label == NO_WORDS_LABEL:
            first = f"{count} {'item holds' if count == 1 else 'items hold'} no words."
        else:
            first = f"{count} {'item' if count == 1 else 'items'} with no common keyword."
        example = next(
            (_clean(texts[i], 140) for i in theme.representative_ids if texts.get(i)), ""
        )
        second = f" For example: “{example}”" if example and theme.label != NO_WORDS_LABEL else ""
        labels.append(ThemeLabel(theme.label, first + second))
    return labels


def _offline(themes, texts, offline) -> dict[str, ThemeLabel]:
    if offline is None:
        offline = offline_labels(themes, texts)
    if len(offline) != len(themes):
        raise ValueError("offline wordings must match the themes one to one")
    return {
        theme_id(n): wording if isinstance(wording, ThemeLabel) else ThemeLabel(*wording)
        for n, wording in enumerate(offline)
    }


def _and_list(terms: Sequence[str]) -> str:
    return terms[0] if len(terms) == 1 else f"{', '.join(terms[:-1])} and {terms[-1]}"


# -- the prompt ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemePrompt:
    """What `label_themes` sends: the system prompt, the data, the themes in it, and the
    estimated size of the whole request in tokens (system, data and answer schema)."""

    system: str
    user_data: str
    theme_ids: tuple[str, ...]
    items_sent: int
    tokens: int


def estimate_tokens(text: str) -> int:
    """A high estimate of `text`'s size in tokens, with no tokenizer to download.

    ASCII letters, digits and spaces count a token per 3 characters (OpenAI's tokenizers
    average about 4 for English prose), ASCII punctuation a token each, anything else a
    token per 2 bytes of UTF-8 (about one per CJK character, two per emoji). Checked
    against o200k_base, gpt-4o-mini's tokenizer: on the 665 messages of the theme
    corpora the estimate was never below the true count (median 1.7 times it), and the
    labelling prompt of feedback.csv came out 1.6 times its true size. Random letters
    can still take more (nearly a token per 2 characters); items are cut at `ITEM_CHARS`,
    so no item can take much.
    """
    ascii_text = text.encode("ascii", "ignore")
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - len(ascii_text)
    punctuation = len(ascii_text) - len(ascii_text.translate(None, _ASCII_PUNCTUATION))
    return math.ceil((len(ascii_text) - punctuation) / 3 + punctuation + other_bytes / 2)


def theme_prompt(
    themes: Sequence[Theme], texts: Mapping[str, str], *, token_budget: int = TOKEN_BUDGET,
    items_per_theme: int = ITEMS_PER_THEME, prompts_dir: str | None = None,
) -> ThemePrompt:  # fmt: skip
    """The request for `themes`, as large as `token_budget` allows (see the module doc)."""
    sent = [n for n, theme in enumerate(themes) if theme.label != NO_WORDS_LABEL]
    system = render_prompt(
        PROMPT, directory=prompts_dir, theme_count=len(sent),
        label_words=_PROMPT_LABEL_WORDS, summary_chars=_PROMPT_SUMMARY_CHARS,
    )  # fmt: skip
    from bot.features.digest.answers import Answer  # pydantic: see label_themes

    schema = json.dumps(Answer.model_json_schema())
    # The system prompt with the data rule the client adds, the schema, the fence, and
    # a margin for the chat format's own tokens.
    used = estimate_tokens(f"{system}\n\n{DATA_RULE}") + estimate_tokens(schema)
    used += estimate_tokens(fence_data("")) + 50

    headers = {n: _header(n, themes[n]) for n in sent}
    used += sum(estimate_tokens(header) + 1 for header in headers.values())
    chosen: dict[int, list[str]] = {n: [] for n in sent}
    candidates = {n: _candidates(themes[n], texts, items_per_theme) for n in sent}
    for round_ in range(items_per_theme):
        for n in sent:
            if round_ < len(candidates[n]):
                line = f"- {candidates[n][round_]}"
                cost = estimate_tokens(line) + 1
                if used + cost <= token_budget:
                    chosen[n].append(line)
                    used += cost
    blocks = ["\n".join([headers[n], *chosen[n]]) for n in sent]
    return ThemePrompt(system, "\n\n".join(blocks), tuple(theme_id(n) for n in sent),
                       sum(len(lines) for lines in chosen.values()), used)  # fmt: skip


def _header(position: int, theme: Theme) -> str:
    keywords = ", ".join(_clean(term, 40) for term in theme.terms) or "none"
    count = theme.count
    return f"## Theme {theme_id(position)}: {count} item{'s' if count != 1 else ''}; keywords: {keywords}"


def _candidates(theme: Theme, texts: Mapping[str, str], wanted: int) -> list[str]:
    """Up to `wanted` distinct cleaned texts: the representatives, then items spread
    evenly over the theme (so a big theme is not seen through its first few items)."""
    ids = list(theme.representative_ids)
    representatives = set(ids)
    rest = [i for i in theme.item_ids if i not in representatives]
    if rest:
        step = max(1, len(rest) // wanted)
        ids += rest[::step][: wanted * 2]
    chosen: list[str] = []
    for item_id in ids:
        text = texts.get(item_id)
        cleaned = _clean(text, ITEM_CHARS) if text else ""
        if cleaned and cleaned not in chosen:
            chosen.append(cleaned)
            if len(chosen) == wanted:
                break
    return chosen


def _clean(text: str, limit: int) -> str:
    """Redacted first, then on one line and at most `limit` characters."""
    flat = _WHITESPACE.sub(" ", redact(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# -- checking the answer ---------------------------------------------------------------------


def _check(answer: Answer, expected: tuple[str, ...]) -> dict[str, ThemeLabel] | str:
    """The answer's wordings by theme id, or the reason it cannot be used."""
    ids = [theme.theme_id.strip() for theme in answer.themes]
    if set(ids) - set(expected):
        return "unknown theme ids"
    if len(ids) != len(set(ids)):
        return "a theme answered twice"
    if set(expected) - set(ids):
        return "themes missing from the answer"
    labels: dict[str, ThemeLabel] = {}
    for theme, key in zip(answer.themes, ids, strict=True):
        label = _WHITESPACE.sub(" ", theme.label).strip()
        summary = _WHITESPACE.sub(" ", theme.summary).strip()
        if not label or not summary:
            return "empty label or summary"
        if len(label) > LABEL_CHARS or len(label.split()) > LABEL_WORDS:
            return "label too long"
        if len(summary) > SUMMARY_CHARS:
            return "summary too long"
        labels[key] = ThemeLabel(label, summary)
    return labels
