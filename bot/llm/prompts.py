"""Prompt templates: plain text files an operator may edit, rendered with `$variables`.

A template named `digest_themes` is the file `digest_themes.txt` in the prompts directory.
Where that directory is, first match wins:

1. the `directory` argument: callers pass `Settings.heard_prompts_dir` (`HEARD_PROMPTS_DIR`);
2. `./prompts` in the working directory;
3. `prompts/` at the top of the repository (a source checkout);
4. `bot/_data/prompts` (the copy an installed wheel carries).

An explicit directory is the only place looked: an operator who points Heard at a
directory should hear about a missing file rather than silently get a default. Otherwise a
template missing from `./prompts` is looked up further down the list, so an operator can
override one template without copying them all.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import bot

__all__ = [
    "MissingPromptVariable",
    "PromptNotFound",
    "load_prompt",
    "prompt_search_path",
    "render_prompt",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


class PromptNotFound(LookupError):
    """No template file with that name in the prompts directories."""

    def __init__(self, name: str, searched: list[Path]) -> None:
        self.name = name
        self.searched = searched
        places = ", ".join(str(path) for path in searched) or "(no prompts directory exists)"
        super().__init__(f"prompt template {name!r} not found; looked for: {places}")


class MissingPromptVariable(KeyError):
    """The template uses a `$variable` the caller did not give."""

    def __init__(self, name: str, variable: str, path: Path) -> None:
        self.name = name
        self.variable = variable
        self.path = path
        super().__init__(f"prompt template {path} uses ${variable}, which was not given")

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument; show the sentence instead.
        return str(self.args[0])


def prompt_search_path(directory: str | Path | None = None) -> list[Path]:
    """The directories a template is looked up in, in order (see the module docstring)."""
    if directory:
        return [Path(directory)]
    package = Path(bot.__file__).resolve().parent
    candidates = [Path.cwd() / "prompts", package.parent / "prompts", package / "_data" / "prompts"]
    unique: list[Path] = []
    for candidate in candidates:
        if candidate.is_dir() and candidate.resolve() not in {p.resolve() for p in unique}:
            unique.append(candidate)
    return unique


def load_prompt(name: str, *, directory: str | Path | None = None) -> tuple[Path, string.Template]:
    """Find template `name` and return its path and the unrendered template."""
    if not _NAME.fullmatch(name):
        # Names come from code, but never let one walk out of the directory.
        raise ValueError(f"invalid prompt template name {name!r}")
    searched = []
    for folder in prompt_search_path(directory):
        path = folder / f"{name}.txt"
        searched.append(path)
        if path.is_file():
            return path, string.Template(path.read_text(encoding="utf-8"))
    raise PromptNotFound(name, searched)


def render_prompt(name: str, /, *, directory: str | Path | None = None, **variables: object) -> str:
    """Render template `name` with `variables`.

    Values are inserted as they are: a `$` or `${...}` inside a value (user text) is never
    read as template syntax. A variable the template uses but the caller did not give
    raises `MissingPromptVariable`; extra variables are ignored, so an operator may drop
    one from a template.
    """
    path, template = load_prompt(name, directory=directory)
    try:
        return template.substitute({key: str(value) for key, value in variables.items()})
    except KeyError as missing:
        raise MissingPromptVariable(name, str(missing.args[0]), path) from None
    except ValueError as bad:
        raise ValueError(f"prompt template {path}: {bad} (write $$ for a literal $)") from None
