"""`rehydrate`: join report text back into shards mined with `--store-report-text no`.

The shards keep report ids, evidence offsets and quoted sentences as ``[[report:S-E]]``; the user's own
licensed copy of the reports supplies the text. Each item's `report_sha256` must match the copy's text,
so offsets land where they did when the item was mined. Items whose report is missing from the copy,
or whose text differs, are written unchanged and listed in the quarantine file (`report_missing`,
`report_changed`): nothing is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm import run
from radprm.errors import InputError
from radprm.phi.privacy import expand_quotes, report_sha256
from radprm.quarantine import QuarantineSink
from radprm.schemas.records import Item, Report


@dataclass
class RehydrateSummary:
    """What `rehydrate` did."""

    out: Path
    items: int = 0
    rehydrated: int = 0
    quarantine: QuarantineSink = field(default_factory=QuarantineSink)
    seconds: float = 0.0

    def render(self) -> str:
        """Human summary."""
        return (f"rehydrated {self.rehydrated} of {self.items} items -> {self.out} in {self.seconds:.1f}s\n"
                + run.describe_quarantine(self.quarantine))


def rehydrate_item(item: Item, report: Report) -> Item:
    """`item` with the report's text, section texts, evidence text and quoted sentences filled in."""
    text = report.text
    steps = []
    for step in item.steps:
        evidence = [e.model_copy(update={"text": text[e.start:e.end]}) for e in step.evidence]
        steps.append(step.model_copy(update={"text": expand_quotes(step.text, text), "evidence": evidence}))
    return item.model_copy(update={
        "report_text": text, "findings_text": report.findings, "impression_text": report.impression,
        "plan": expand_quotes(item.plan, text) if item.plan else item.plan, "steps": steps,
    })


def rehydrate(
    directory: str | Path, *, reports: str | Path, out: str | Path, quarantine: str | Path | None = None,
    **reader: Any,
) -> RehydrateSummary:
    """Write a copy of a shard directory with report text joined back from `reports`.

    Args:
        directory: Shards mined with `--store-report-text no`.
        reports: The user's copy of the reports (any format `read_reports` takes).
        out: New shard directory (must not exist or be empty).
        quarantine: Quarantine JSONL (default `<out>/rehydrate.quarantine.jsonl`).
        **reader: Reader options for `reports`.

    Returns:
        A `RehydrateSummary`.

    Raises:
        InputError: `out` is `directory` or already holds shards; unreadable reports.
        ShardError: `directory` is not a readable shard directory.
    """
    from radprm.readers import read_reports
    from radprm.shards.location import require_local_shards
    from radprm.shards.manifest import load_manifest
    from radprm.shards.reader import read_items
    from radprm.shards.writer import ShardWriter

    require_local_shards(directory)
    require_local_shards(out)
    t0 = time.perf_counter()
    directory, out = Path(directory), Path(out)
    if out.resolve() == directory.resolve():
        raise InputError("--out must be a new directory, not the shards being rehydrated", path=out, field="out")
    if (out / "manifest.json").exists():
        raise InputError("output directory already holds shards", path=out, field="out", hint="choose a new --out")
    manifest = load_manifest(directory)
    wanted = {item.report_id for item in read_items(directory)}
    texts: dict[str, Report] = {}
    read_sink = QuarantineSink()
    for report in read_reports(reports, quarantine=read_sink, **reader):
        if report.report_id in wanted:
            texts[report.report_id] = report
    out.mkdir(parents=True, exist_ok=True)
    summary = RehydrateSummary(out=out, quarantine=QuarantineSink(
        Path(quarantine) if quarantine else out / "rehydrate.quarantine.jsonl"))
    meta = {**manifest.run_meta, "rehydrated_from": str(directory.resolve()), "rehydrated_with": str(reports)}
    privacy = dict(meta.get("privacy") or {})
    if privacy:
        meta["privacy"] = {**privacy, "store_report_text": True, "rehydrated": True}
    writer = ShardWriter(out, run_meta=meta)
    try:
        for item in read_items(directory):
            summary.items += 1
            report = texts.get(item.report_id)
            reason = None
            if report is None:
                reason, detail = "report_missing", "the report id is not in --reports"
            elif item.report_sha256 and report_sha256(report.text) != item.report_sha256:
                reason, detail = "report_changed", "the report text in --reports differs from the one mined"
            if reason is None:
                item = rehydrate_item(item, report)
                summary.rehydrated += 1
            else:
                summary.quarantine.add(record_id=item.item_id, stage="rehydrate", reason_code=reason,
                                       source_path=str(reports), field="report_id",
                                       detail=f"{item.report_id}: {detail}")
            writer.write(item)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    summary.quarantine.close()
    summary.seconds = time.perf_counter() - t0
    return summary
