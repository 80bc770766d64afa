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


Unsure = Literal["mask", "good", "bad"]
UNSURE = ("mask", "good", "bad")
"""Steps the validator could not decide (verdict `unsure`; their `label` is only the rules' lean).
mask: no label (each format says how: TRL cuts the chain before the step, PRM800K rates it null,
ChestX-Reasoner writes `null`); good / bad: force the label."""


ReportMentions = Literal["drop", "keep"]
REPORT_MENTIONS = ("drop", "keep")
"""Image-style chains with a step citing the report ("the report states", "not mentioned"): drop
(quarantined as `cites_report`, so an image-style export holds none) or keep (counted in the summary).
Report-style chains cite the report by design and are never dropped."""

ALL_SPLITS = "all"
"""`split="all"`: one output per split (`export_per_split`)."""


def check_report_mentions(value: str) -> None:
    """Raise InputError for an unknown report-mention policy."""
    if value not in REPORT_MENTIONS:
        raise InputError(f"unknown value '{value}' (drop, keep)", field="report_mentions",
                         hint="check --report-mentions")


def include_report_for(item: Item, include_report: bool | None) -> bool:
    """Whether an item's prompt carries the report: as asked, else by style (image-style chains are for
    models that see the image, never the report; report-style and pre-style items keep it)."""
    if include_report is not None:
        return include_report
    return item.style != "image"


def check_after_first_bad(value: str) -> None:
    """Raise InputError for an unknown first-bad-step convention."""
    if value not in AFTER_FIRST_BAD:
        raise InputError(f"unknown value '{value}' (keep, drop, bad)", field="after_first_bad")


def check_unsure(value: str) -> None:
    """Raise InputError for an unknown unsure-step policy."""
    if value not in UNSURE:
        raise InputError(f"unknown value '{value}' (mask, good, bad)", field="unsure", hint="check --unsure")


def unsure_labels(
    item: Item, unsure: str, reviewed: set[tuple[str, int]] | frozenset[tuple[str, int]] = frozenset()
) -> list[bool | None]:
    """Each step's label under the unsure policy: None (mask) or forced for `unsure` steps.

    A step in `reviewed` (`(item_id, step index)`, labelled by annotators) is decided, whatever its verdict.
    """
    forced = None if unsure == "mask" else unsure == "good"
    return [
        forced if s.verdict == "unsure" and (item.item_id, s.index) not in reviewed else s.label for s in item.steps
    ]


def apply_first_bad(
    steps: list[StepRecord], after_first_bad: str, *, labels: list[bool | None] | None = None
) -> tuple[list[str], list[bool | None], list[StepRecord]]:
    """Apply the first-bad-step convention; return step texts, labels and the kept step records.

    The first bad step is the first whose label is False (what `first_bad_step` stores). `labels`
    replaces the steps' own labels (see `unsure_labels`); a None label (masked) is never the first bad
    step, and after the first bad step `bad` sets it False like any other.
    """
    labels = [s.label for s in steps] if labels is None else list(labels)
    first_bad = next((k for k, lab in enumerate(labels) if lab is False), -1)
    end = len(steps) if after_first_bad != "drop" or first_bad < 0 else first_bad + 1
    kept, labels = steps[:end], labels[:end]
    if after_first_bad == "bad" and first_bad >= 0:
        labels = [lab if k <= first_bad else False for k, lab in enumerate(labels)]
    return [s.text for s in kept], labels, kept


def label_item(
    item: Item, summary: ExportSummary, *, after_first_bad: str, unsure: str = "mask", cut_at_unsure: bool = False,
    labelled: bool = True,
) -> tuple[list[str], list[bool | None], list[StepRecord]] | None:
    """Label an item's steps for an export (unsure policy, then first-bad-step convention), counting into `summary`.

    Args:
        item: the item (with at least one step).
        summary: counts items, steps, convention effects and unsure steps.
        after_first_bad: keep / drop / bad.
        unsure: mask / good / bad (see `UNSURE`).
        cut_at_unsure: for formats without a "no label" value (TRL): with `mask`, end the chain before its
            first masked step; a chain whose first step is masked is skipped (None returned) and counted.
        labelled: the format writes labels (False: the unsure steps are not counted as masked or forced).

    Returns:
        Step texts, labels and kept step records; None when the item is skipped.
    """
    base = unsure_labels(item, unsure, summary.reviewed)
    if summary.labels != "report":
        from radprm.exports.labels import fused_labels

        base = fused_labels(item, base, summary.labels, summary.judge)
    texts, labels, kept = apply_first_bad(item.steps, after_first_bad, labels=base)
    summary.steps_dropped += len(item.steps) - len(texts)
    if cut_at_unsure and None in labels:
        cut = labels.index(None)
        summary.unsure_cut += len(labels) - cut
        texts, labels, kept = texts[:cut], labels[:cut], kept[:cut]
        if not texts:
            summary.unsure_skipped += 1
            return None
    summary.items += 1
    summary.steps += len(texts)
    summary.labels_changed += sum(1 for before, after in zip(base, labels, strict=False) if before != after)
    # a masked step is the validator's abstention (verdict unsure, --unsure mask) or, with --labels other than
    # report, a step the label sources do not settle
    unsure_mask = [lab is None and s.verdict == "unsure" and unsure == "mask"
                   for s, lab in zip(kept, labels, strict=True)]
    if labelled:
        summary.fusion_masked += sum(1 for lab, u in zip(labels, unsure_mask, strict=True) if lab is None and not u)
    if labelled and unsure == "mask":
        summary.unsure_masked += sum(unsure_mask)
    elif labelled:
        summary.unsure_forced += sum(
            1 for s in kept if s.verdict == "unsure" and (item.item_id, s.index) not in summary.reviewed
        )
    return texts, labels, kept


@dataclass
class ExportSummary:
    """Counts of an export run."""

    format: str
    out: Path
    items: int = 0
    steps: int = 0
    labels_changed: int = 0
    steps_dropped: int = 0
    unsure: str = "mask"
    unsure_masked: int = 0
    unsure_forced: int = 0
    unsure_cut: int = 0
    unsure_skipped: int = 0
    labels: str = "report"
    fusion_masked: int = 0
    judge: dict[tuple[str, int], bool] = field(default_factory=dict, repr=False)
    meta_path: Path | None = None
    split: str | None = None
    other_split: int = 0
    cites_report_kept: int = 0
    reviewed: set[tuple[str, int]] = field(default_factory=set, repr=False)
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
        unsure = self.render_unsure()
        if unsure:
            lines.append(unsure)
        if self.labels != "report":
            lines.append(f"labels (--labels {self.labels}): {self.fusion_masked} labels masked where the sources "
                         "disagree or one is missing")
        if self.split is not None:
            lines.append(f"split {self.split}: {self.other_split} items of other splits left out")
        if self.cites_report_kept:
            lines.append(f"WARNING: {self.cites_report_kept} image-style chains cite the report "
                         "(--report-mentions keep)")
        lines.append(self.quarantine.render())
        if self.meta_path is not None:
            lines.append(f"metadata: {self.meta_path}")
        lines += self.notes
        return "\n".join(lines)


    def render_unsure(self) -> str | None:
        """The line saying what `--unsure` did to undecided steps, or None when it did nothing."""
        if self.unsure != "mask":
            return f"unsure steps (--unsure {self.unsure}): {self.unsure_forced} labelled {self.unsure}" \
                if self.unsure_forced else None
        parts = []
        if self.unsure_masked:
            parts.append(f"{self.unsure_masked} labels masked (null)")
        if self.unsure_cut:
            parts.append(f"{self.unsure_cut} steps cut at the first unsure step")
        if self.unsure_skipped:
            parts.append(f"{self.unsure_skipped} chains skipped (first step unsure)")
        if not parts:
            return None
        return f"unsure steps (--unsure mask): {', '.join(parts)}; --unsure good|bad labels them instead"


META_SUFFIX = ".meta.json"
"""Export metadata file: `<out>` + this suffix."""


def meta_path_for(out: str | Path) -> Path:
    """The metadata file beside an export: `<out>.meta.json`."""
    out = Path(out)
    return out.with_name(out.name + META_SUFFIX)


def write_meta(summary: ExportSummary, directory: str | Path, *, after_first_bad: str, use_reviews: bool,
               options: dict[str, Any]) -> Path:
    """Write `<out>.meta.json`: source shards, label source and rule, unsure and first-bad conventions,
    the format's options and the counts, so a training run can say exactly what it trained on."""
    from datetime import UTC, datetime

    from radprm import __version__
    from radprm.exports.labels import describe
    from radprm.shards.location import is_uri
    from radprm.shards.manifest import load_manifest

    manifest = load_manifest(directory)
    source = directory if is_uri(directory) else str(Path(directory).resolve())
    meta = {
        "format": summary.format, "out": str(summary.out), "source": source,
        "source_schema_version": manifest.schema_version, "source_rows": manifest.rows,
        **describe(summary.labels), "unsure": summary.unsure, "after_first_bad": after_first_bad,
        "use_reviews": use_reviews, **options,
        "counts": {"items": summary.items, "steps": summary.steps, "labels_changed": summary.labels_changed,
                   "steps_dropped": summary.steps_dropped, "unsure_masked": summary.unsure_masked,
                   "unsure_forced": summary.unsure_forced, "unsure_cut": summary.unsure_cut,
                   "unsure_skipped": summary.unsure_skipped, "fusion_masked": summary.fusion_masked,
                   "other_split": summary.other_split, "cites_report_kept": summary.cites_report_kept,
                   "quarantined": dict(summary.quarantine.counts), **summary.extra},
        "radprm_version": __version__, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    path = meta_path_for(summary.out)
    run.write_text_atomic(path, json.dumps(meta, indent=2, default=str) + "\n")
    return path


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
                item_id=item.item_id,
                report_id=item.report_id,
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
    unsure: str = "mask",
    use_reviews: bool = False,
    suffixes: tuple[str, ...] = (".jsonl",),
    write: Callable[[Path, Iterable[dict[str, Any]]], Any] | None = None,
    strict: bool = False,
    labels: str = "report",
    options: dict[str, Any] | None = None,
    split: str | None = None,
    report_mentions: str = "drop",
) -> ExportSummary:
    """Run an export: check options, stream items through `rows`, write atomically, quarantine.

    Args:
        directory: shard directory.
        out: output file, with one of `suffixes`.
        format: export name, recorded in the summary and shown on the progress bar.
        rows: turns items into output rows; it quarantines unusable items into the summary's sink.
        after_first_bad: keep / drop / bad (checked here; `rows` applies it).
        unsure: mask / good / bad for steps with verdict `unsure` (checked and recorded here; `rows`
            applies it through `label_item`).
        progress: show a progress bar with ETA on stderr.
        use_reviews: let human review labels override the validator's (see `export_items`).
        suffixes: accepted output suffixes.
        write: `write(out, rows)` writing atomically; default `write_jsonl_atomic`.
        strict: fail when any item was quarantined.
        labels: label source(s), see `radprm.exports.labels` (checked against the shards before anything
            is written).
        options: the format's own options, recorded in the metadata file.
        split: export only the items of this split (None: every item; see `export_per_split` for one
            file per split).
        report_mentions: drop / keep image-style chains citing the report (see `REPORT_MENTIONS`).

    Returns:
        An `ExportSummary`. The choices and counts go to `<out>.meta.json` (`meta_path_for`).

    Raises:
        InputError: unknown label source, or shards without the labels it needs.
        RunError: no row was exported (every item quarantined, or no item at all); with `strict`,
            any item quarantined. The output is written first.
    """
    from radprm.exports.labels import check_sources

    check_after_first_bad(after_first_bad)
    check_unsure(unsure)
    check_report_mentions(report_mentions)
    if split == ALL_SPLITS:
        raise InputError("split 'all' writes one file per split", field="split", hint="use export_per_split")
    judge = check_sources(directory, labels)
    out, qpath = run.output_paths(out, suffixes=suffixes)
    summary = ExportSummary(format=format, out=out, unsure=unsure, quarantine=QuarantineSink(qpath), labels=labels,
                            judge=judge or {}, split=split)
    with summary.quarantine:
        items = export_items(directory, summary, label=f"export {format}", progress=progress, use_reviews=use_reviews)
        items = training_items(items, summary, split=split, report_mentions=report_mentions, stage=f"export_{format}")
        (write or write_jsonl_atomic)(out, rows(items, summary))
    summary.meta_path = write_meta(summary, directory, after_first_bad=after_first_bad, use_reviews=use_reviews,
                                   options={"split": split, "report_mentions": report_mentions, **(options or {})})
    nothing = f"no rows exported to {out}"
    if summary.unsure_skipped:
        nothing += f"; {summary.render_unsure()}"
    return run.finish(summary, produced=summary.items, quarantine=summary.quarantine, strict=strict, noun="item",
                      empty=nothing, failed=nothing)


def training_items(
    items: Iterable[Item], summary: ExportSummary, *, split: str | None, report_mentions: str, stage: str
) -> Iterator[Item]:
    """Items of the wanted split; image-style chains citing the report quarantined (`cites_report`) or counted."""
    from radprm.miners.styles import CITES_REPORT
    from radprm.miners.styles import report_mentions as mentions_in

    for item in items:
        if split is not None and item.split != split:
            summary.other_split += 1
            continue
        if item.style == "image":
            cited = [(s.index, found) for s in item.steps if (found := mentions_in(s.text))]
            if cited and report_mentions == "drop":
                index, found = cited[0]
                summary.quarantine.add(
                    stage=stage, reason_code=CITES_REPORT, record_id=item.item_id, field="steps",
                    detail=f"image-style chain cites the report in {len(cited)} step(s), first step {index} "
                    f"({', '.join(found)}); --report-mentions keep exports it anyway",
                )
                continue
            summary.cites_report_kept += bool(cited)
        yield item


def split_names(directory: str | Path) -> list[str]:
    """The splits present in a shard directory, sorted (items without a split are not listed).

    Raises:
        ShardError: not a readable shard directory.
    """
    from radprm.shards import connect

    con = connect(directory)
    try:
        rows = con.execute("SELECT DISTINCT split FROM items WHERE split IS NOT NULL ORDER BY 1").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def split_out(out: str | Path, split: str) -> Path:
    """Output path of one split: `prm.jsonl` -> `prm.train.jsonl`."""
    out = Path(out)
    return out.with_name(f"{out.stem}.{split}{out.suffix}")


def export_per_split(export: Callable[..., ExportSummary], directory: str | Path, out: str | Path,
                     **options: Any) -> list[ExportSummary]:
    """Run an export once per split of the shards, into `<stem>.<split><suffix>` files.

    Args:
        export: `export_trl`, `export_prm800k` or `export_chestx_reasoner`.
        directory: shard directory.
        out: output path; each split's file is named from it (`split_out`).
        **options: the export's options (not `split`).

    Returns:
        One summary per split, in split order.

    Raises:
        InputError: the items carry no split (shards written before splits existed).
    """
    names = split_names(directory)
    if not names:
        raise InputError("no item carries a split (shards written before radprm had splits?)", path=directory,
                         field="split", hint="export without --split")
    return [export(directory, split_out(out, name), split=name, **options) for name in names]


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
                summary.reviewed.add((item.item_id, step.index))  # decided by people, even if `unsure`
                changed += human != step.label
                step = step.model_copy(update={"label": human})
            steps.append(step)
        yield item.model_copy(update={"steps": steps}) if touched else item
    summary.extra["human_labels"], summary.extra["human_label_changes"] = used, changed
    summary.notes.append(f"human review labels: {used} steps ({changed} differ from the validator)")
