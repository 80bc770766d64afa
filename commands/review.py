"""`radprm review queue|apply|status`: annotator review of flagged chains."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from radprm.commands._app import app, command, fail
from radprm.review import apply_decisions, build_queue, review_status

review_app = typer.Typer(help="Annotator review of flagged chains: queue, apply decisions, status.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")

SHARD_DIR = typer.Argument(..., metavar="DIR", help="Shard folder of mined items (reviews are kept in its reviews/ folder).")
JSON_OUT = typer.Option(False, "--json", help="Print the result as JSON instead of text.")


@command(review_app, "queue")
def queue(
    shard_dir: Path = SHARD_DIR,
    out: Path = typer.Option(..., "--out", metavar="QUEUE_DIR", help="Queue folder to write batch-NNN.jsonl/.html into."),
    flagged_only: bool = typer.Option(False, "--flagged-only", help="No calibration sample of unflagged chains."),
    sample_good: float = typer.Option(0.1, "--sample-good", help="Share of the queue made of unflagged chains."),
    reasons: str = typer.Option("", "--reasons", help="Comma-separated reason codes; only chains with them."),
    limit: int | None = typer.Option(None, "--limit", help="At most N items in the queue."),
    seed: int = typer.Option(0, "--seed", help="Seed of the calibration sample."),
    batch_size: int = typer.Option(50, "--batch-size", help="Items per batch page."),
    min_score: float = typer.Option(0.5, "--min-score", help="Chain scores below this flag a chain."),
    include_reviewed: bool = typer.Option(False, "--include-reviewed", help="Also queue reviewed items."),
    include_queued: bool = typer.Option(False, "--include-queued", help="Also queue items in other queues."),
    blind: bool = typer.Option(False, "--blind", help="Hide validator labels, reasons and evidence in the page."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing queue in --out."),
) -> None:
    """Select flagged chains (plus a hidden calibration sample) and write review batch pages."""
    summary = build_queue(
        shard_dir, out, flagged_only=flagged_only, sample_good=sample_good,
        reasons=[r.strip() for r in reasons.split(",") if r.strip()], limit=limit, seed=seed,
        batch_size=batch_size, min_score=min_score, include_reviewed=include_reviewed,
        include_queued=include_queued, blind=blind, force=force, progress=True,
    )
    typer.echo(summary.render())


@command(review_app, "apply")
def apply(
    shard_dir: Path = SHARD_DIR,
    decisions: list[Path] = typer.Argument(..., metavar="DECISIONS", help="decisions-batch-NNN.jsonl files downloaded from the page."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Reviewer for lines that name none."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first unusable line; write nothing."),
    json_out: bool = JSON_OUT,
) -> None:
    """Validate decision files and append them with reviewer provenance to the reviews/ table."""
    summary = apply_decisions(shard_dir, decisions, reviewer=reviewer, strict=strict)
    typer.echo(json.dumps(summary.as_dict(), indent=1) if json_out else summary.render())
    if summary.all_quarantined:
        fail("every decision line was quarantined; see " + str(summary.quarantine.path))


@command(review_app, "status")
def status(
    shard_dir: Path = SHARD_DIR,
    top: int = typer.Option(10, "--top", help="How many disagreement reasons to list."),
    json_out: bool = JSON_OUT,
) -> None:
    """Show how many items are queued and reviewed, disagreements and their top reasons."""
    result = review_status(shard_dir, top=top)
    typer.echo(json.dumps(result.as_dict(), indent=1) if json_out else result.render())
