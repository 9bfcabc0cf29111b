"""`heard digest preview [--team T] [--format text|json|html] [--out FILE]`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

digest_cli = typer.Typer(help="The leadership digest: preview it as it would be sent now.", no_args_is_help=True)


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"


@digest_cli.command("preview")
def preview(
    team: Annotated[
        str | None,
        typer.Option("--team", metavar="TEAM", help="The workspace's team id (T…): needed when there are several."),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", help="text for people, json for machines, html for a browser."),
    ] = Format.TEXT,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Write to FILE instead of standard output."),
    ] = None,
):
    """Render the leadership digest as it would be sent now, without sending it.

    The period is the seven days ending now. json follows SPEC.md's keys (README "The
    digest JSON"); html is one self-contained file, its chart embedded, that makes no
    request when opened. Nothing is posted and nothing is recorded. With
    OPENAI_API_KEY set, the LLM writes the themes' labels and summaries (Heard's
    offline wording when it fails); the footer and json's engine and fallback_reason
    say which.

    \b
    Examples:
      heard digest preview
      heard digest preview --team T0123ABCD --format html --out digest.html
      heard digest preview --format json | jq '.themes[] | {label, count, rising}'
    """
    from bot.cli import output, runtime_for_cli
    from bot.errors import Failure
    from bot.features.digest import service, views
    from bot.features.digest.formats import render_html, render_json
    from bot.settings import ConfigError, load_settings
    from bot.workspaces import find

    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name")
    runtime = runtime_for_cli(load_settings())
    now = runtime.clock()
    with _collector_off():
        with runtime.sessions() as session:
            workspace = find(session, team) if team else _only_workspace(session)
            if workspace is None:
                raise ConfigError(f"no workspace has team id {team!r}")
            digest = service.build_digest(session, workspace.id, end=now, settings=runtime.settings)
        if format is Format.JSON:
            rendered = render_json(digest)
        elif format is Format.HTML:
            from bot.features.digest.chart import trend_png

            rendered = render_html(digest, trend_png(digest.trend))
        else:
            rendered = views.render_text(digest)
    if out is None:
        typer.echo(rendered, nl=False)
        return
    try:
        out.write_text(rendered, encoding="utf-8")
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    output().print(f"Wrote the {format} digest of {digest.team_id} to {out}")


@contextmanager
def _collector_off() -> Iterator[None]:
    """Python's cycle collector off while this one command builds and renders the digest.

    A backlog of 100,000 items is a few hundred thousand new objects (rows, summaries,
    the JSON's dicts) in no cycle; each time the survivors grew by a quarter, the
    collector walked every object in the process again, scikit-learn's and SciPy's
    modules included: 0.55 s of a 5.5 s preview in seven full collections. A command
    that ends at once has no use for them (the importer does the same while it reads)."""
    import gc

    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _only_workspace(session):
    from sqlalchemy import select

    from bot.db.models import Workspace
    from bot.settings import ConfigError

    workspaces = list(session.scalars(select(Workspace).order_by(Workspace.team_id).limit(3)))
    if not workspaces:
        raise ConfigError("no workspace yet: install Heard in Slack or run `heard demo`")
    if len(workspaces) > 1:
        raise ConfigError("several workspaces: say which with --team T…")
    return workspaces[0]


def register_cli(app: typer.Typer) -> None:
    app.add_typer(digest_cli, name="digest")
