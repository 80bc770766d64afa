"""`radprm mine`: ask the model for reasoning chains over each report's questions, validate, shard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from radprm.commands._app import app, command
from radprm.commands._reader_options import InputArg, reader_options
from radprm.miners.job import mine as mine_reports

_LLM = "Model server and sampling"
_JOB = "Job"


@command(app)
@reader_options
def mine(
    reports: InputArg,
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Job folder: job.json, ledger, cache, shards/, quarantine/.", rich_help_panel=_JOB)],
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="OpenAI-compatible server URL ending in /v1. Default: $RADPRM_BASE_URL, else the server `make serve` started.", rich_help_panel=_LLM)] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Served model name. Default: $RADPRM_MODEL, else the `make serve` model.", rich_help_panel=_LLM)] = None,
    mode: Annotated[str, typer.Option("--mode", help="reasoner (plan -> analysis -> refine) or staged (CXRTrek stages).", rich_help_panel=_JOB)] = "reasoner",
    tasks: Annotated[str, typer.Option("--tasks", help="Comma-separated question tasks in priority order: single, binary, multi_label, temporal.", rich_help_panel=_JOB)] = "single,binary,multi_label,temporal",
    questions_per_report: Annotated[int, typer.Option("--questions-per-report", min=1, help="Most questions per report.", rich_help_panel=_JOB)] = 2,
    rollouts: Annotated[int, typer.Option("--rollouts", min=1, help="Chains per question (rollout r samples with seed + r).", rich_help_panel=_JOB)] = 1,
    labelset: Annotated[str, typer.Option("--labelset", help="Label set the questions use: chexpert or chestxray14.", rich_help_panel=_JOB)] = "chexpert",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the job in --run-dir (same options); nothing answered is asked again.", rich_help_panel=_JOB)] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when anything was quarantined.", rich_help_panel=_JOB)] = False,
    prompts_dir: Annotated[Optional[Path], typer.Option("--prompts-dir", help="Prompt folder (<id>/v<N>.yaml). Default: $RADPRM_PROMPTS_DIR, else the packaged prompts.", rich_help_panel=_JOB)] = None,
    cache: Annotated[Optional[Path], typer.Option("--cache", help="Request cache file; share one between jobs to reuse answers. Default: <run-dir>/cache.sqlite.", rich_help_panel=_JOB)] = None,
    shard_rows: Annotated[int, typer.Option("--shard-rows", min=1, help="Rows per Parquet shard.", rich_help_panel=_JOB)] = 5000,
    commit_every: Annotated[float, typer.Option("--commit-every", min=0.0, help="Seconds between shard commits (bounds the work redone after a crash).", rich_help_panel=_JOB)] = 60.0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Chains (and requests) in flight at once.", rich_help_panel=_LLM)] = 8,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per request.", rich_help_panel=_LLM)] = 120.0,
    max_retries: Annotated[int, typer.Option("--max-retries", min=0, help="Retries of 5xx, 429, timeouts and connection errors per request.", rich_help_panel=_LLM)] = 4,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature.", rich_help_panel=_LLM)] = 0.7,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass.", rich_help_panel=_LLM)] = 0.95,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Completion budget per call.", rich_help_panel=_LLM)] = 256,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for questions and sampling.", rich_help_panel=_LLM)] = 0,
    reader: dict | None = None,
) -> None:
    """Mine validated reasoning chains (PRM data) for each report's questions into Parquet shards."""
    reader = dict(reader or {})
    limit = reader.pop("limit", None)
    try:
        summary = mine_reports(
            reports, run_dir=run_dir, base_url=base_url, model=model, mode=mode,
            tasks=[t.strip() for t in tasks.split(",") if t.strip()], questions_per_report=questions_per_report,
            limit=limit, concurrency=concurrency, timeout=timeout, max_retries=max_retries, temperature=temperature,
            top_p=top_p, max_tokens=max_tokens, seed=seed, rollouts=rollouts, resume=resume, labelset=labelset,
            reader=reader, prompts_dir=prompts_dir, cache=cache, shard_rows=shard_rows, commit_every=commit_every,
            progress=True,
        )
    except KeyboardInterrupt:
        typer.echo(f"Interrupted: committed shards are kept; continue with the same command plus --resume "
                   f"(run dir {run_dir})", err=True)
        raise typer.Exit(code=130) from None
    typer.echo(summary.render())
    if strict and summary.quarantined_total:
        typer.echo(f"Error: {summary.quarantined_total} records quarantined (--strict)", err=True)
        raise typer.Exit(code=1)
