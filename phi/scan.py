"""`scan_reports`: the API behind `radprm phi scan` — PHI hits per report, before anything is mined.

Writes one JSON line per report with at least one hit (``report_id``, ``source_row``, ``hits`` with
entity, field-free offsets into `Report.text` and score; the matched text only with ``show_text``,
since the output would otherwise copy the PHI it found) and returns counts per entity type.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm import run
from radprm.phi.guard import PhiGuard
from radprm.quarantine import QuarantineSink


@dataclass
class PhiScanSummary:
    """What `scan_reports` found: reports read, reports with hits, hits per entity, timing."""

    input: Path
    out: Path | None
    engine: str
    rules_version: str
    reports: int = 0
    reports_with_hits: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    reports_by_entity: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    quarantine: QuarantineSink | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"input": str(self.input), "out": str(self.out) if self.out else None, "engine": self.engine,
                "rules_version": self.rules_version, "reports": self.reports,
                "reports_with_hits": self.reports_with_hits, "hits": dict(self.hits),
                "reports_by_entity": dict(self.reports_by_entity), "seconds": round(self.seconds, 3)}

    def render(self) -> str:
        """Human summary."""
        lines = [f"scanned {self.reports} reports for PHI ({self.rules_version}) in {self.seconds:.1f}s: "
                 f"{self.reports_with_hits} with hits" + (f" -> {self.out}" if self.out else "")]
        for entity, n in sorted(self.hits.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {entity:<8} {n:>6} hits in {self.reports_by_entity[entity]} reports")
        if self.quarantine is not None:
            lines.append(run.describe_quarantine(self.quarantine))
        return "\n".join(lines)


def scan_reports(
    input: str | Path,
    *,
    out: str | Path | None = None,
    engine: str = "patterns",
    show_text: bool = False,
    quarantine: str | Path | None = None,
    guard: PhiGuard | None = None,
    **reader: Any,
) -> PhiScanSummary:
    """Scan every report of `input` for PHI.

    Args:
        input: Reports file or folder (any format `read_reports` takes).
        out: JSONL of reports with hits (None: counts only).
        engine: ``patterns`` or ``ner`` (see `PhiGuard`).
        show_text: Put the matched text in `out` (it then holds PHI: keep it private).
        quarantine: Quarantine file for unreadable rows (default beside `out`).
        guard: A ready PhiGuard (overrides `engine`).
        **reader: Reader options (`id_col`, `text_col`, `limit`, ...).

    Returns:
        A `PhiScanSummary`.

    Raises:
        InputError: missing or unreadable input, bad reader options, unknown engine.
    """
    from radprm.readers import read_reports

    guard = guard or PhiGuard(engine)
    qpath = None
    if out is not None:
        out, qpath = run.output_paths(out, quarantine=quarantine, suffixes=(".jsonl",))
    sink = QuarantineSink(qpath) if qpath is not None else QuarantineSink()
    summary = PhiScanSummary(Path(input), Path(out) if out else None, guard.engine, guard.version, quarantine=sink)
    t0 = time.perf_counter()
    lines: list[str] = []
    for report in read_reports(input, quarantine=sink, **reader):
        summary.reports += 1
        hits = guard.scan(report.text)
        if not hits:
            continue
        summary.reports_with_hits += 1
        summary.hits.update(h.entity for h in hits)
        summary.reports_by_entity.update({h.entity for h in hits})
        rows = [h.as_dict() | ({"text": report.text[h.start:h.end]} if show_text else {}) for h in hits]
        lines.append(json.dumps({"report_id": report.report_id, "source_row": report.source_row, "hits": rows}))
    summary.seconds = time.perf_counter() - t0
    if out is not None:
        run.write_text_atomic(out, "".join(line + "\n" for line in lines))
    sink.close() if hasattr(sink, "close") else None
    return summary
