"""`radprm label rollouts`: Monte-Carlo step labels (Math-Shepherd / OmegaPRM) for the items of a shard directory.

The options are the CLI fields of `radprm.miners.rollouts.RolloutConfig`, declared once there.
"""

from __future__ import annotations

import typer

from radprm.commands._app import ShardSetArg, command, label_app
from radprm.commands._job_options import ResumeOpt, config_options, interrupt_hint, run_dir_option
from radprm.miners.rollouts import RolloutConfig

RolloutRunDirOpt = run_dir_option("Job folder: job.json, ledger, cache, shards/ (labelled items), quarantine/.")


@command(label_app, "rollouts")
@config_options(RolloutConfig)
def rollouts(
    shards: ShardSetArg,
    run_dir: RolloutRunDirOpt,
    resume: ResumeOpt = False,
    options: dict | None = None,
) -> None:
    """Label each step by rolling out N continuations from its prefix without the report (mc_score, mc_label)."""
    from radprm.miners.rollouts import label_rollouts

    with interrupt_hint(run_dir):
        summary = label_rollouts(shards, run_dir=run_dir, resume=resume, progress=True,
                                 announce=lambda line: typer.echo(line, err=True), **(options or {}))
    typer.echo(summary.render())
