"""`radprm label rollouts`: Monte-Carlo step labels (Math-Shepherd / OmegaPRM) for the items of a shard directory.

The options are the CLI fields of `radprm.miners.rollouts.RolloutConfig`, declared once there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import ShardDirArg, command, label_app
from radprm.commands.mine import config_options
from radprm.miners.config import JOB_PANEL
from radprm.miners.rollouts import RolloutConfig


@command(label_app, "rollouts")
@config_options(RolloutConfig)
def rollouts(
    shards: ShardDirArg,
    run_dir: Annotated[
        Path,
        typer.Option("--run-dir", help="Job folder: job.json, ledger, cache, shards/ (labelled items), quarantine/.",
                     rich_help_panel=JOB_PANEL),
    ],
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the job in --run-dir (same options); nothing answered is asked again.",
                     rich_help_panel=JOB_PANEL),
    ] = False,
    options: dict | None = None,
) -> None:
    """Label each step by rolling out N continuations from its prefix without the report (mc_score, mc_label)."""
    from radprm.miners.rollouts import label_rollouts

    try:
        summary = label_rollouts(shards, run_dir=run_dir, resume=resume, progress=True,
                                 announce=lambda line: typer.echo(line, err=True), **(options or {}))
    except KeyboardInterrupt:
        typer.echo(f"Interrupted: committed shards are kept; continue with the same command plus --resume "
                   f"(run dir {run_dir})", err=True)
        raise typer.Exit(code=130) from None
    typer.echo(summary.render())
