"""`radprm batch prepare | ingest | run`: the mining job through offline batches (`vllm run-batch`).

Each command takes the `radprm mine` options (the job is the same job: same run folder, job.json, ledger,
cache, shards) and calls one function of `radprm.miners.batch`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import app, command
from radprm.commands._job_options import mine_options, run_dir_option, split_limit
from radprm.commands._reader_options import InputArg, reader_options
from radprm.miners.config import JOB_PANEL

batch_app = typer.Typer(help="Mine through offline batches: prepare requests, run `vllm run-batch`, ingest.",
                        no_args_is_help=True)
app.add_typer(batch_app, name="batch")

RunDirOpt = run_dir_option("Job folder (the same as `radprm mine`'s; later rounds continue it).")
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Requests JSONL for the next round. Default: <run-dir>/batch/round-NNN.requests.jsonl.",
                 rich_help_panel=JOB_PANEL),
]


@command(batch_app, "prepare")
@reader_options
@mine_options
def prepare(reports: InputArg, run_dir: RunDirOpt, out: OutOpt = None, reader: dict | None = None,
            options: dict | None = None) -> None:
    """Write the next round's OpenAI batch JSONL (custom_id = request cache key) for every waiting chain."""
    from radprm.miners import batch

    reader, limit = split_limit(reader)
    rnd = batch.prepare(reports, run_dir=run_dir, out=out, reader=reader, limit=limit, **(options or {}))
    typer.echo(rnd.render())


@command(batch_app, "ingest")
@reader_options
@mine_options
def ingest(
    reports: InputArg,
    run_dir: RunDirOpt,
    results: Annotated[Path, typer.Option("--results", help="Batch results JSONL (`vllm run-batch -o`).",
                                          rich_help_panel=JOB_PANEL)],
    out: OutOpt = None,
    reader: dict | None = None,
    options: dict | None = None,
) -> None:
    """Load batch results into the cache and ledger, advance every chain, write the next round's requests."""
    from radprm.miners import batch

    reader, limit = split_limit(reader)
    rnd = batch.ingest(reports, run_dir=run_dir, results=results, out=out, reader=reader, limit=limit,
                       **(options or {}))
    typer.echo(rnd.render())


@command(batch_app, "run")
@reader_options
@mine_options
def run(
    reports: InputArg,
    run_dir: RunDirOpt,
    runner: Annotated[str, typer.Option(
        "--runner", help="Batch runner command; -i IN -o OUT --model MODEL are appended unless it uses "
        "{input} {output} {model}.", rich_help_panel=JOB_PANEL)] = "vllm run-batch",
    max_rounds: Annotated[int, typer.Option("--max-rounds", min=1, help="Most prepare -> run -> ingest rounds.",
                                            rich_help_panel=JOB_PANEL)] = 8,
    reader: dict | None = None,
    options: dict | None = None,
) -> None:
    """Loop prepare -> runner (`vllm run-batch`) -> ingest until every chain is finished."""
    from radprm.miners import batch

    reader, limit = split_limit(reader)
    rnd = batch.run_batches(reports, run_dir=run_dir, runner=runner, max_rounds=max_rounds, reader=reader,
                            limit=limit, **(options or {}))
    typer.echo(rnd.render())
