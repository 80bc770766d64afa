"""`radprm mine`: ask the model for reasoning chains over each report's questions, validate, shard.

The job options are not written here: `mine_options` (`commands._job_options`) derives one `--option` per
CLI field of `radprm.miners.config.MineConfig` (name, type, default, help, panel, min / max), so an option
is declared once, in that class.
"""

from __future__ import annotations

import typer

from radprm.commands._app import app, command
from radprm.commands._job_options import ResumeOpt, interrupt_hint, mine_options, run_dir_option, split_limit
from radprm.commands._reader_options import InputArg, reader_options

MineRunDirOpt = run_dir_option("Job folder: job.json, ledger, cache, shards/, quarantine/.")


@command(app)
@reader_options
@mine_options
def mine(
    reports: InputArg,
    run_dir: MineRunDirOpt,
    resume: ResumeOpt = False,
    reader: dict | None = None,
    options: dict | None = None,
) -> None:
    """Mine validated reasoning chains (PRM data) for each report's questions into Parquet shards."""
    from radprm.miners.job import mine as mine_reports

    reader, limit = split_limit(reader)
    with interrupt_hint(run_dir):
        summary = mine_reports(reports, run_dir=run_dir, resume=resume, progress=True, reader=reader, limit=limit,
                               announce=lambda line: typer.echo(line, err=True), **(options or {}))
    typer.echo(summary.render())
