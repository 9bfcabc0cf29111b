"""`heard … --help` as a person reads it in an 80-column terminal: whole words, real
placeholders, and examples that can be pasted and run."""

import re

import pytest

from tests.cli.run import heard

GROUPS = [(), ("jobs",), ("db",), ("feedback",)]
COMMANDS = [
    ("run",),
    ("clock",),
    ("jobs", "list"),
    ("jobs", "run"),
    ("manifest",),
    ("db", "upgrade"),
    ("demo",),
    ("export",),
    ("feedback", "import"),
]
EVERY = GROUPS + COMMANDS


def help_text(command: tuple[str, ...], tmp_path, columns: int = 80) -> str:
    result = heard(*command, "--help", cwd=tmp_path, COLUMNS=str(columns))
    assert result.returncode == 0, result.stderr
    return result.stdout


def name(command: tuple[str, ...]) -> str:
    return " ".join(command) or "heard"


def unwrapped_help(command: tuple[str, ...]) -> str:
    """The same help rendered in this process on a terminal too wide to wrap anything."""
    import typer.main

    from bot.cli import app

    wide = {"terminal_width": 10_000, "max_content_width": 10_000}
    cli = typer.main.get_command(app)
    ctx = cli.make_context("heard", [], resilient_parsing=True, **wide)
    for word in command:
        cli = cli.get_command(ctx, word)
        ctx = cli.make_context(word, [], parent=ctx, resilient_parsing=True, **wide)
    return cli.get_help(ctx)


@pytest.mark.parametrize("command", EVERY, ids=name)
def test_help_wraps_between_words_at_80_columns(tmp_path, command):
    at_80 = help_text(command, tmp_path, 80)
    assert max(len(line) for line in at_80.splitlines()) <= 80, at_80
    # Wrapping moves only the spaces between words: a word cut in two (Click's wrapper
    # breaks `--no-scheduler` after its hyphens) or a summary cut short with "..." in a
    # list of commands would read differently.
    assert at_80.split() == unwrapped_help(command).split()


@pytest.mark.parametrize("command", EVERY, ids=name)
def test_help_shows_placeholders_not_python_types(tmp_path, command):
    text = help_text(command, tmp_path)
    assert not re.search(r"<(str|path|int|bool)>|\{\w+\}", text), text
    assert text.startswith(f"Usage: heard {' '.join(command)}".rstrip() + " ")


@pytest.mark.parametrize(
    "command, placeholders",
    [
        (("jobs", "run"), ["Usage: heard jobs run [OPTIONS] JOB\n", "\n  JOB ", "--team TEAM"]),
        (("jobs", "list"), ["--team TEAM"]),
        (("feedback", "import"), ["Usage: heard feedback import [OPTIONS] FILE\n", "\n  FILE ", "--team TEAM"]),
        (("export",), ["--out DIR", "--team TEAM"]),
        (("manifest",), ["--format json|yaml", "--url URL"]),
    ],
    ids=lambda value: name(value) if isinstance(value, tuple) else "",
)  # fmt: skip
def test_help_names_each_value_by_what_it_is(tmp_path, command, placeholders):
    text = help_text(command, tmp_path)
    for placeholder in placeholders:
        assert placeholder in text


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != ("demo",)], ids=name)
def test_examples_stand_on_their_own_lines(tmp_path, command):
    lines = help_text(command, tmp_path).splitlines()
    assert "  Example:" in lines, "\n".join(lines)
    example = lines[lines.index("  Example:") + 1]
    assert example.startswith("    ") and f"heard {' '.join(command)}" in example


def test_examples_name_jobs_that_exist(tmp_path):
    from bot.features import load_rooms

    registered = {spec.name for spec in load_rooms().registry}
    named = set()
    for command in EVERY:
        named |= set(re.findall(r"heard jobs run ([\w-]+)", help_text(command, tmp_path)))
    assert named, "no help shows `heard jobs run JOB`"
    assert named <= registered
