"""`radprm export trl|prm800k|chestx-reasoner`: shards to PRM training formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import ShardSetArg, StrictOpt, command, export_app

OutOpt = Annotated[Path, typer.Option("--out", help="Output .jsonl file.")]
UseReviewsOpt = Annotated[
    bool, typer.Option("--use-reviews", help="Human review labels (radprm review apply) override the validator's.")
]
AfterFirstBadOpt = Annotated[
    str,
    typer.Option(
        "--after-first-bad",
        help="Steps after the first bad step: keep (labels as validated), drop (cut the chain), bad (label them bad).",
    ),
]
UnsureOpt = Annotated[
    str,
    typer.Option(
        "--unsure",
        help="Steps the validator could not decide (verdict unsure): mask (no label: TRL ends the chain before the "
        "first one, PRM800K rates it null, ChestX-Reasoner writes null), good or bad (force the label).",
    ),
]
LabelsOpt = Annotated[
    str,
    typer.Option(
        "--labels",
        help="Label source: report (step validator), rollout (radprm label rollouts), agree (report label where "
        "both agree, masked elsewhere), any-bad (bad if either says bad; adds both sources' false flags), judge "
        "(LLM judge sidecar). Recorded in <out>.meta.json.",
    ),
]
SoftOpt = Annotated[bool, typer.Option("--soft", help="Add each step's rollout soft label (mc_score).")]


SplitOpt = Annotated[
    str | None,
    typer.Option("--split", help="Export only this split (train, validation, test, ...); 'all' writes one file per "
                 "split, named <out stem>.<split><suffix>."),
]
ReportMentionsOpt = Annotated[
    str,
    typer.Option("--report-mentions", help="Image-style chains with a step citing the report ('the report states', "
                 "'not mentioned'): drop (quarantined as cites_report) or keep."),
]
IncludeReportOpt = Annotated[
    bool | None,
    typer.Option("--include-report/--no-report", help="Put the report in the prompt. Default: for report-style "
                 "chains only (image-style chains are for models that see the image, never the report).",
                 show_default=False),
]


def _run(export, directory: str, out: Path, split: str | None, **options) -> None:
    """Run one export, or one per split with `--split all`, and print the summaries."""
    from radprm.exports.common import ALL_SPLITS, export_per_split

    if split == ALL_SPLITS:
        for summary in export_per_split(export, directory, out, **options):
            typer.echo(summary.render())
        return
    typer.echo(export(directory, out, split=split, **options).render())


@command(export_app, "trl")
def trl_cmd(
    directory: ShardSetArg,
    out: Annotated[Path, typer.Option("--out", help="Output file: .jsonl or .parquet.")],
    max_length: Annotated[
        int | None,
        typer.Option("--max-length", help="PRMTrainer max_length: count the step labels truncation would drop."),
    ] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            "--tokenizer", help="Local tokenizer.json or model folder for exact counts (default: ~4 chars/token)."
        ),
    ] = None,
    after_first_bad: AfterFirstBadOpt = "keep",
    unsure: UnsureOpt = "mask",
    include_report: IncludeReportOpt = None,
    use_reviews: UseReviewsOpt = False,
    split: SplitOpt = None,
    report_mentions: ReportMentionsOpt = "drop",
    strict: StrictOpt = False,
    labels: LabelsOpt = "report",
    masked: Annotated[
        str,
        typer.Option("--masked", help="Steps without a label: cut (end the chain before the first one; stock "
                     "PRMTrainer) or keep (placeholder label plus a label_mask column, False where masked)."),
    ] = "cut",
    soft: SoftOpt = False,
    truncation: Annotated[
        str,
        typer.Option("--truncation", help="Step labels past --max-length: warn (count them), cut (drop those steps "
                     "from the row) or quarantine (skip the item, reason labels_truncated)."),
    ] = "warn",
) -> None:
    """Export for TRL's PRMTrainer: prompt, completions (steps), labels (one bool per step), images (paths)."""
    from radprm.exports import export_trl

    _run(export_trl, directory, out, split, max_length=max_length, tokenizer=tokenizer,
         after_first_bad=after_first_bad, unsure=unsure, include_report=include_report, progress=True,
         use_reviews=use_reviews, strict=strict, report_mentions=report_mentions, labels=labels,
         masked=masked, soft=soft, truncation=truncation)


@command(export_app, "prm800k")
def prm800k_cmd(
    directory: ShardSetArg,
    out: OutOpt,
    after_first_bad: AfterFirstBadOpt = "keep",
    unsure: UnsureOpt = "mask",
    include_report: IncludeReportOpt = None,
    use_reviews: UseReviewsOpt = False,
    split: SplitOpt = None,
    report_mentions: ReportMentionsOpt = "drop",
    strict: StrictOpt = False,
    labels: LabelsOpt = "report",
    soft: SoftOpt = False,
) -> None:
    """Export PRM800K-like rows: steps rated -1 (bad), 0 (neutral glue), +1 (supported), null (unsure)."""
    from radprm.exports import export_prm800k

    _run(export_prm800k, directory, out, split, after_first_bad=after_first_bad, unsure=unsure,
         include_report=include_report, progress=True, use_reviews=use_reviews, strict=strict,
         report_mentions=report_mentions, labels=labels, soft=soft)


@command(export_app, "chestx-reasoner")
def chestx_reasoner_cmd(
    directory: ShardSetArg,
    out: OutOpt,
    after_first_bad: AfterFirstBadOpt = "keep",
    unsure: UnsureOpt = "mask",
    with_labels: Annotated[bool, typer.Option("--with-labels", help="Add step_labels (bools) to each row.")] = False,
    use_reviews: UseReviewsOpt = False,
    split: SplitOpt = None,
    report_mentions: ReportMentionsOpt = "drop",
    strict: StrictOpt = False,
    labels: LabelsOpt = "report",
    soft: SoftOpt = False,
) -> None:
    """Export RadRBench / ChestX-Reasoner rows: item_id, image_path, question, answer, process."""
    from radprm.exports import export_chestx_reasoner

    _run(export_chestx_reasoner, directory, out, split, after_first_bad=after_first_bad, unsure=unsure,
         with_labels=with_labels, progress=True, use_reviews=use_reviews, strict=strict,
         report_mentions=report_mentions, labels=labels, soft=soft)
