"""Export shards in a PRM800K-like layout: per item, steps each with one rated completion (-1 / 0 / +1).

Rating of a step (after the first-bad-step convention):
  -1  the step is labelled bad (contradicted or unsupported by the report);
   0  the step is good and its verdict is `neutral` (glue: restating the question, planning);
  +1  the step is good and supported by the report (or forced good: `unsure="good"`);
  null the validator could not decide (verdict `unsure`) and `unsure="mask"` (the default).
Like PRM800K, `finish_reason` is `found_error` when some step is rated -1, else `solution`, and
`chosen_completion` is null on a -1 step (the labeller would not continue from it), 0 otherwise.
`image_path` lists the study's images (frontal first; paths only). The prompt (question and options,
after the report for report-style chains) goes in `question.problem`; the reference answer, joined with
", ", in `question.ground_truth_answer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from radprm.exports.common import (
    ExportSummary,
    items_with_steps,
    label_item,
    run_export,
)
from radprm.exports.trl import build_prompt
from radprm.schemas.records import StepRecord

LABELER = "radprm-validator"


def rating(step: StepRecord, label: bool | None) -> int | None:
    """PRM800K rating of a step given its (possibly convention-adjusted) label; None (masked) rates null.

    Verdicts: supported -> +1; neutral -> 0; contradicted / unsupported -> -1 (their label is False);
    unsure -> null when masked, else by its forced label (+1 or -1).
    """
    if label is None:
        return None
    if not label:
        return -1
    return 0 if step.verdict == "neutral" else 1


def prm800k_rows(
    items: Any, summary: ExportSummary, *, after_first_bad: str = "keep", include_report: bool | None = None,
    unsure: str = "mask", soft: bool = False,
) -> Iterator[dict[str, Any]]:
    """Turn items into PRM800K-like rows, counting into `summary`."""
    for item in items_with_steps(items, summary, stage="export_prm800k"):
        texts, labels, kept = label_item(item, summary, after_first_bad=after_first_bad, unsure=unsure)
        ratings = [rating(s, lab) for s, lab in zip(kept, labels, strict=True)]
        extra = [{"mc_score": s.mc_score} if soft else {} for s in kept]
        yield {
            "item_id": item.item_id,
            "image_path": list(item.image_paths),
            "split": item.split,
            "labeler": LABELER,
            "timestamp": item.created_at,
            "generation": None,
            "is_quality_control_question": False,
            "is_initial_screening_question": False,
            "question": {
                "problem": build_prompt(item, include_report=include_report),
                "ground_truth_answer": ", ".join(item.answer),
            },
            "label": {
                "steps": [
                    {
                        "completions": [{"text": t, "rating": r, "flagged": False, **x}],
                        "human_completion": None,
                        "chosen_completion": None if r == -1 else 0,
                    }
                    for t, r, x in zip(texts, ratings, extra, strict=True)
                ],
                "total_time": 0,
                "finish_reason": "found_error" if -1 in ratings else "solution",
            },
        }


def export_prm800k(
    directory: str | Path,
    out: str | Path,
    *,
    after_first_bad: str = "keep",
    unsure: str = "mask",
    include_report: bool | None = None,
    progress: bool = False,
    use_reviews: bool = False,
    strict: bool = False,
    labels: str = "report",
    soft: bool = False,
    split: str | None = None,
    report_mentions: str = "drop",
) -> ExportSummary:
    """Export a shard directory as PRM800K-like JSON lines.

    Args:
        directory: shard directory.
        out: output `.jsonl` file.
        after_first_bad: keep / drop / bad (see `exports.common.AFTER_FIRST_BAD`).
        unsure: steps with verdict `unsure`: mask (rating null), good or bad (force the label).
        include_report: put the report text in `question.problem`; None (default): for report-style items only.
        progress: show a progress bar with ETA on stderr.
        use_reviews: human review labels override the validator's where annotators resolved a step.
        strict: fail when any item was quarantined.
        labels: label source: report, rollout, agree, any-bad or judge (`radprm.exports.labels`); a masked
            step is rated null.
        soft: add each step's rollout soft label `mc_score` to its completion.
        split: only this split's items (`exports.common.export_per_split`: one file per split).
        report_mentions: drop (default) or keep image-style chains that cite the report.

    Returns:
        An `ExportSummary`.

    Raises:
        InputError: bad output suffix, unknown convention, unsure policy or label source.
        ShardError: the directory is not a readable shard directory.
    """
    return run_export(
        directory, out, format="prm800k", after_first_bad=after_first_bad, unsure=unsure, progress=progress,
        use_reviews=use_reviews, strict=strict, labels=labels, split=split, report_mentions=report_mentions,
        rows=lambda items, summary: prm800k_rows(
            items, summary, after_first_bad=after_first_bad, include_report=include_report, unsure=unsure, soft=soft
        ),
        options={"include_report": include_report, "soft": soft},
    )
