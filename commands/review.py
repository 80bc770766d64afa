"""`radprm review queue|apply|status`: annotator review of flagged chains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import JsonOpt, ShardDirArg, StrictOpt, app, command
from radprm.review import apply_decisions, build_queue, review_status

review_app = typer.Typer(help="Annotator review of flagged chains: queue, apply decisions, status.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")


@command(review_app, "queue")
def queue(
    shard_dir: ShardDirArg,
    out: Annotated[
        Path, typer.Option("--out", metavar="QUEUE_DIR", help="Queue folder to write batch-NNN.jsonl/.html into.")
    ],
    flagged_only: Annotated[
        bool, typer.Option("--flagged-only", help="No calibration sample of unflagged chains.")
    ] = False,
    sample_good: Annotated[
        float, typer.Option("--sample-good", help="Share of the queue made of unflagged chains.")
    ] = 0.1,
    reasons: Annotated[
        str, typer.Option("--reasons", help="Comma-separated reason codes; only chains with them.")
    ] = "",
    limit: Annotated[int | None, typer.Option("--limit", help="At most N items in the queue.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the calibration sample.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Items per batch page.")] = 50,
    min_score: Annotated[float, typer.Option("--min-score", help="Chain scores below this flag a chain.")] = 0.5,
    include_reviewed: Annotated[bool, typer.Option("--include-reviewed", help="Also queue reviewed items.")] = False,
    include_queued: Annotated[bool, typer.Option("--include-queued", help="Also queue items in other queues.")] = False,
    blind: Annotated[
        bool, typer.Option("--blind", help="Hide validator labels, reasons and evidence in the page.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing queue in --out.")] = False,
    strict: StrictOpt = False,
) -> None:
    """Select flagged chains (plus a hidden calibration sample) and write review batch pages."""
    summary = build_queue(
        shard_dir, out, flagged_only=flagged_only, sample_good=sample_good,
        reasons=[r.strip() for r in reasons.split(",") if r.strip()], limit=limit, seed=seed,
        batch_size=batch_size, min_score=min_score, include_reviewed=include_reviewed,
        include_queued=include_queued, blind=blind, force=force, progress=True, strict=strict,
    )
    typer.echo(summary.render())


@command(review_app, "apply")
def apply(
    shard_dir: ShardDirArg,
    decisions: Annotated[
        list[Path],
        typer.Argument(metavar="DECISIONS", help="decisions-batch-NNN.jsonl files downloaded from the page."),
    ],
    reviewer: Annotated[str | None, typer.Option("--reviewer", help="Reviewer for lines that name none.")] = None,
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Validate decision files and append them with reviewer provenance to the reviews/ table.

    With --strict the first unusable line is an error (file, line, field) and nothing is written.
    """
    summary = apply_decisions(shard_dir, decisions, reviewer=reviewer, strict=strict)
    typer.echo(json.dumps(summary.as_dict(), indent=1) if json_out else summary.render())


@command(review_app, "status")
def status(
    shard_dir: ShardDirArg,
    top: Annotated[int, typer.Option("--top", help="How many disagreement reasons to list.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Show how many items are queued and reviewed, disagreements and their top reasons."""
    result = review_status(shard_dir, top=top)
    typer.echo(json.dumps(result.as_dict(), indent=1) if json_out else result.render())
