"""`radprm prompts list` and `radprm prompts show NAME[@vN]`: the versioned prompt templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import command, prompts_app
from radprm.prompts.registry import list_prompts, load_prompt

PromptsDirOpt = Annotated[
    Path | None,
    typer.Option("--prompts-dir", help="Prompt folder. Default: $RADPRM_PROMPTS_DIR, else the packaged prompts."),
]


@command(prompts_app, "list")
def list_(
    prompts_dir: PromptsDirOpt = None,
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="List every version, not only the latest.")
    ] = False,
) -> None:
    """List prompts: id, version, sha256 prefix and description."""
    templates = list_prompts(prompts_dir, all_versions=all_versions)
    width = max((len(t.id) for t in templates), default=2)
    for t in templates:
        typer.echo(f"{t.id:<{width}}  v{t.version:<3} {t.sha[:12]}  {t.description}")


@command(prompts_app)
def show(
    name: Annotated[
        str, typer.Argument(help="Prompt id, optionally with a version: plan or plan@v1.", show_default=False)
    ],
    prompts_dir: PromptsDirOpt = None,
) -> None:
    """Show one prompt template: its metadata, response schema, system and user text."""
    t = load_prompt(name, prompts_dir)
    typer.echo(f"id: {t.id}\nversion: {t.version}\nsha256: {t.sha}\nfile: {t.path}")
    typer.echo(f"description: {t.description}\nvariables: {', '.join(t.variables)}")
    typer.echo(f"response_schema: {t.response_schema}\nchanges: {t.changes}")
    typer.echo(f"--- system ---\n{t.system.rstrip()}\n--- user ---\n{t.user.rstrip()}")
