"""`radprm export trl|prm800k|chestx-reasoner`: shards to PRM training formats."""

from __future__ import annotations

from pathlib import Path

import typer
from radprm.commands._app import command, export_app, fail

SHARD_DIR = typer.Argument(..., help="Shard directory (with manifest.json).")
USE_REVIEWS = typer.Option(
    False, "--use-reviews", help="Human review labels (radprm review apply) override the validator's."
)
AFTER_FIRST_BAD = typer.Option(
    "keep",
    "--after-first-bad",
    help="Steps after the first bad step: keep (labels as validated), drop (cut the chain), bad (label them bad).",
)


@command(export_app, "trl")
def trl_cmd(
    directory: Path = SHARD_DIR,
    out: Path = typer.Option(..., "--out", help="Output file: .jsonl or .parquet."),
    max_length: int | None = typer.Option(
        None, "--max-length", help="PRMTrainer max_length: count the step labels truncation would drop."
    ),
    tokenizer: Path | None = typer.Option(
        None, "--tokenizer", help="Local tokenizer.json or model folder for exact counts (default: ~4 chars/token)."
    ),
    after_first_bad: str = AFTER_FIRST_BAD,
    include_report: bool = typer.Option(True, "--include-report/--no-report", help="Put the report in the prompt."),
    use_reviews: bool = USE_REVIEWS,
) -> None:
    """Export for TRL's PRMTrainer: prompt, completions (steps), labels (one bool per step)."""
    from radprm.exports import export_trl

    summary = export_trl(
        directory, out, max_length=max_length, tokenizer=tokenizer, after_first_bad=after_first_bad,
        include_report=include_report, progress=True, use_reviews=use_reviews,
    )
    _echo(summary)


@command(export_app, "prm800k")
def prm800k_cmd(
    directory: Path = SHARD_DIR,
    out: Path = typer.Option(..., "--out", help="Output .jsonl file."),
    after_first_bad: str = AFTER_FIRST_BAD,
    include_report: bool = typer.Option(True, "--include-report/--no-report", help="Put the report in the problem."),
    use_reviews: bool = USE_REVIEWS,
) -> None:
    """Export PRM800K-like rows: steps rated -1 (bad), 0 (neutral glue), +1 (supported)."""
    from radprm.exports import export_prm800k

    summary = export_prm800k(
        directory, out, after_first_bad=after_first_bad, include_report=include_report, progress=True,
        use_reviews=use_reviews,
    )
    _echo(summary)


@command(export_app, "chestx-reasoner")
def chestx_reasoner_cmd(
    directory: Path = SHARD_DIR,
    out: Path = typer.Option(..., "--out", help="Output .jsonl file."),
    after_first_bad: str = AFTER_FIRST_BAD,
    with_labels: bool = typer.Option(False, "--with-labels", help="Add step_labels (bools) to each row."),
    use_reviews: bool = USE_REVIEWS,
) -> None:
    """Export RadRBench / ChestX-Reasoner rows: item_id, image_path, question, answer, process."""
    from radprm.exports import export_chestx_reasoner

    summary = export_chestx_reasoner(
        directory, out, after_first_bad=after_first_bad, with_labels=with_labels, progress=True,
        use_reviews=use_reviews,
    )
    _echo(summary)


def _echo(summary) -> None:
    """Print the export summary; an export that wrote no row is an error, not a quiet success."""
    typer.echo(summary.summary())
    if summary.items == 0:
        fail(f"no rows exported to {summary.out} ({summary.quarantine.summary()})")
