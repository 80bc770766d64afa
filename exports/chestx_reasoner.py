"""Export shards in the RadRBench / ChestX-Reasoner release layout: item_id, image_path, question, answer, process.

`image_path` is the list of the study's image files (IU studies have one to a few views), `answer` the
reference answer joined with ", ", `process` the list of reasoning step texts. With
`with_labels=True` a `step_labels` list (bools, after the first-bad-step convention) is added, with
`null` for steps the validator could not decide (verdict `unsure`) unless `unsure` is `good` or `bad`;
with `after_first_bad="drop"` the process ends at its first bad step. Staged (CXRTrek) chains add
`step_stages`, the stage of each step of `process` (shard schema 2), and the summary counts steps per stage;
rows of reasoner chains are unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from radprm.exports.common import (
    ExportSummary,
    items_with_steps,
    label_item,
    run_export,
)


def chestx_rows(
    items: Any, summary: ExportSummary, *, after_first_bad: str = "keep", with_labels: bool = False,
    unsure: str = "mask", soft: bool = False,
) -> Iterator[dict[str, Any]]:
    """Turn items into ChestX-Reasoner rows, counting into `summary` (steps per stage in `extra`)."""
    by_stage: Counter[str] = summary.extra.setdefault("steps_by_stage", Counter())
    for item in items_with_steps(items, summary, stage="export_chestx_reasoner"):
        texts, labels, kept = label_item(
            item, summary, after_first_bad=after_first_bad, unsure=unsure, labelled=with_labels
        )
        row: dict[str, Any] = {
            "item_id": item.item_id,
            "image_path": list(item.image_paths),
            "question": item.question,
            "answer": ", ".join(item.answer),
            "process": texts,
        }
        if with_labels:
            row["step_labels"] = labels
        if any(s.stage for s in kept):
            row["step_stages"] = [s.stage for s in kept]
            by_stage.update(s.stage or "(none)" for s in kept)
        if soft:
            row["step_mc_scores"] = [s.mc_score for s in kept]
        yield row
    if by_stage:
        summary.notes.append("steps by stage: " + ", ".join(f"{k} {v}" for k, v in by_stage.most_common()))


def export_chestx_reasoner(
    directory: str | Path,
    out: str | Path,
    *,
    after_first_bad: str = "keep",
    unsure: str = "mask",
    with_labels: bool = False,
    progress: bool = False,
    use_reviews: bool = False,
    strict: bool = False,
    labels: str = "report",
    soft: bool = False,
    split: str | None = None,
    report_mentions: str = "drop",
) -> ExportSummary:
    """Export a shard directory as ChestX-Reasoner / RadRBench-style JSON lines.

    Args:
        directory: shard directory.
        out: output `.jsonl` file.
        after_first_bad: keep / drop / bad (see `exports.common.AFTER_FIRST_BAD`).
        unsure: steps with verdict `unsure`: mask (label null), good or bad (force the label).
        with_labels: add `step_labels` to each row.
        progress: show a progress bar with ETA on stderr.
        use_reviews: human review labels override the validator's where annotators resolved a step.
        strict: fail when any item was quarantined.
        labels: label source of `step_labels`: report, rollout, agree, any-bad or judge (masked: null).
        soft: add `step_mc_scores`, each step's rollout soft label.
        split: only this split's items (`exports.common.export_per_split`: one file per split).
        report_mentions: drop (default) or keep image-style chains that cite the report.

    Returns:
        An `ExportSummary`.

    Raises:
        InputError: bad output suffix, unknown convention or unsure policy.
        ShardError: the directory is not a readable shard directory.
    """
    return run_export(
        directory,
        out,
        format="chestx-reasoner",
        after_first_bad=after_first_bad,
        unsure=unsure,
        progress=progress,
        use_reviews=use_reviews,
        strict=strict,
        labels=labels,
        split=split,
        report_mentions=report_mentions,
        rows=lambda items, summary: chestx_rows(
            items, summary, after_first_bad=after_first_bad, with_labels=with_labels, unsure=unsure, soft=soft
        ),
        options={"with_labels": with_labels, "soft": soft},
    )
