"""What every export shares: the first-bad-step convention, the summary, the run (through `radprm.run`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from radprm import run
from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.schemas.records import Item, StepRecord

AfterFirstBad = Literal["keep", "drop", "bad"]
AFTER_FIRST_BAD = ("keep", "drop", "bad")
"""keep: labels as validated; drop: cut the chain after its first bad step; bad: label every later step bad."""


def check_after_first_bad(value: str) -> None:
    """Raise InputError for an unknown first-bad-step convention."""
    if value not in AFTER_FIRST_BAD:
        raise InputError(f"unknown value '{value}' (keep, drop, bad)", field="after_first_bad")


def apply_first_bad(steps: list[StepRecord], after_first_bad: str) -> tuple[list[str], list[bool], list[StepRecord]]:
    """Apply the first-bad-step convention; return step texts, labels and the kept step records.

    The first bad step is the first whose `label` is False (what `first_bad_step` stores).
    """
    first_bad = next((k for k, s in enumerate(steps) if not s.label), -1)
    kept = steps if after_first_bad != "drop" or first_bad < 0 else steps[: first_bad + 1]
    labels = [s.label for s in kept]
    if after_first_bad == "bad" and first_bad >= 0:
        labels = [lab if k <= first_bad else False for k, lab in enumerate(labels)]
    return [s.text for s in kept], labels, kept


@dataclass
class ExportSummary:
    """Counts of an export run."""

    format: str
    out: Path
    items: int = 0
    steps: int = 0
    labels_changed: int = 0
    steps_dropped: int = 0
    quarantine: QuarantineSink = field(default_factory=QuarantineSink)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """A few lines: rows written, steps, convention effects, quarantine, notes."""
        lines = [f"{self.format}: wrote {self.items} rows ({self.steps} steps) to {self.out}"]
        if self.steps_dropped or self.labels_changed:
            lines.append(
                f"first-bad-step convention: {self.steps_dropped} steps dropped, {self.labels_changed} labels set bad"
            )
        lines.append(self.quarantine.render())
        lines += self.notes
        return "\n".join(lines)


def write_jsonl_atomic(out: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write JSON lines to `out` atomically (`radprm.run.atomic_write`); returns the number of lines."""
    n = 0
    with run.atomic_write(out) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def check_out(out: str | Path, suffixes: tuple[str, ...]) -> Path:
    """The output path, checked for a supported suffix.

    Raises:
        InputError: the suffix is not one of `suffixes`.
    """
    out, _ = run.output_paths(out, suffixes=suffixes, clear_stale=False)
    return out


def items_with_steps(
    items: Iterable[Item], summary: ExportSummary, *, stage: str
) -> Iterator[Item]:
    """Yield items that have at least one step; quarantine the others (reason `no_steps`)."""
    for item in items:
        if not item.steps:
            summary.quarantine.add(
                stage=stage,
                reason_code="no_steps",
                record_id=item.item_id,
                field="steps",
                detail="chain without steps: nothing to supervise",
            )
            continue
        yield item


def run_export(
    directory: str | Path,
    out: str | Path,
    *,
    format: str,
    rows: Callable[[Iterable[Item], ExportSummary], Iterable[dict[str, Any]]],
    after_first_bad: str,
    progress: bool,
    use_reviews: bool = False,
    suffixes: tuple[str, ...] = (".jsonl",),
    write: Callable[[Path, Iterable[dict[str, Any]]], Any] | None = None,
    strict: bool = False,
) -> ExportSummary:
    """Run an export: check options, stream items through `rows`, write atomically, quarantine.

    Args:
        directory: shard directory.
        out: output file, with one of `suffixes`.
        format: export name, recorded in the summary and shown on the progress bar.
        rows: turns items into output rows; it quarantines unusable items into the summary's sink.
        after_first_bad: keep / drop / bad (checked here; `rows` applies it).
        progress: show a progress bar with ETA on stderr.
        use_reviews: let human review labels override the validator's (see `export_items`).
        suffixes: accepted output suffixes.
        write: `write(out, rows)` writing atomically; default `write_jsonl_atomic`.
        strict: fail when any item was quarantined.

    Returns:
        An `ExportSummary`.

    Raises:
        RunError: no row was exported (every item quarantined, or no item at all); with `strict`,
            any item quarantined. The output is written first.
    """
    check_after_first_bad(after_first_bad)
    out, qpath = run.output_paths(out, suffixes=suffixes)
    summary = ExportSummary(format=format, out=out, quarantine=QuarantineSink(qpath))
    with summary.quarantine:
        items = export_items(directory, summary, label=f"export {format}", progress=progress, use_reviews=use_reviews)
        (write or write_jsonl_atomic)(out, rows(items, summary))
    nothing = f"no rows exported to {out}"
    return run.finish(summary, produced=summary.items, quarantine=summary.quarantine, strict=strict, noun="item",
                      empty=nothing, failed=nothing)


def export_items(
    directory: str | Path, summary: ExportSummary, *, label: str, progress: bool, use_reviews: bool
) -> Iterator[Item]:
    """Items of a shard directory for an export, with human review labels applied when asked.

    With `use_reviews`, a step that annotators resolved (`radprm.review.human_labels`: each reviewer's
    latest decision, majority, ties and `unsure` left to the validator) takes the human label; the
    first-bad-step convention then runs on those labels. The counts go into `summary.notes`.
    """
    from radprm.shards import read_items
    from radprm.shards.manifest import load_manifest

    total = load_manifest(directory).rows if progress else None
    items = run.track(read_items(directory), label, total=total, enabled=progress)
    if not use_reviews:
        return items
    from radprm.review import human_labels

    return _with_human_labels(items, human_labels(directory), summary)


def _with_human_labels(
    items: Iterable[Item], labels: dict[tuple[str, int], bool], summary: ExportSummary
) -> Iterator[Item]:
    used = changed = 0
    for item in items:
        steps, touched = [], False
        for step in item.steps:
            human = labels.get((item.item_id, step.index))
            if human is not None:
                used, touched = used + 1, True
                changed += human != step.label
                step = step.model_copy(update={"label": human})
            steps.append(step)
        yield item.model_copy(update={"steps": steps}) if touched else item
    summary.extra["human_labels"], summary.extra["human_label_changes"] = used, changed
    summary.notes.append(f"human review labels: {used} steps ({changed} differ from the validator)")
