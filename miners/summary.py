"""`MineSummary`: the end-of-job numbers, printed by `radprm mine` and written to `summary.json`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radprm.miners.ledger import ANSWERED, PENDING, WRITTEN, Ledger
from radprm.miners.metrics import ClientMetrics

SUMMARY_FILE = "summary.json"


@dataclass
class MineSummary:
    """End-of-job numbers: items, quarantine by reason, tokens, latency, retries, where the output is."""

    run_dir: Path
    run_id: str
    shards_dir: Path | str  # a local folder or a pyarrow URI (`--out`)
    quarantine_path: Path
    reports: int
    items_planned: int
    items_written: int
    items_pending: int
    quarantined: dict[str, int]
    items_this_session: int
    rebuilt_from_cache: int
    metrics: ClientMetrics
    cache: dict[str, int]
    elapsed_s: float
    resumed: bool
    resolved: dict[str, int] | None = None
    redrive: dict[str, Any] | None = None
    excluded: int = 0
    data: dict[str, Any] | None = None
    cites_report: dict[str, Any] | None = None  # image style: policy, re-asks this session, job counts by state

    @classmethod
    def from_ledger(
        cls, ledger: Ledger, *, run_dir: Path, written_now: int, rebuilt: int, **fields: Any
    ) -> MineSummary:
        """The summary of a job from its ledger's counts plus this session's numbers (`shards_dir` among
        `fields`: a local folder or a URI)."""
        counts = ledger.counts()
        return cls(
            run_dir=run_dir, reports=ledger.n_reports(),
            items_planned=sum(counts.values()), items_written=counts[WRITTEN],
            items_pending=counts[PENDING] + counts[ANSWERED], quarantined=ledger.quarantine_counts(),
            resolved=ledger.resolved_counts(), items_this_session=written_now, rebuilt_from_cache=rebuilt, **fields,
        )

    @property
    def quarantined_total(self) -> int:
        """Open quarantine records of the job (reader, questions and mining stages; resolved ones not counted)."""
        return sum(self.quarantined.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "run_dir": str(self.run_dir), "run_id": self.run_id, "shards_dir": str(self.shards_dir),
            "quarantine_path": str(self.quarantine_path), "reports": self.reports,
            "items_planned": self.items_planned, "items_written": self.items_written,
            "items_pending": self.items_pending, "quarantined": self.quarantined,
            "quarantined_total": self.quarantined_total, "items_this_session": self.items_this_session,
            "rebuilt_from_cache": self.rebuilt_from_cache, "client": self.metrics.as_dict(), "cache": self.cache,
            "elapsed_s": round(self.elapsed_s, 3), "resumed": self.resumed, "resolved": self.resolved or {},
            "redrive": self.redrive, "excluded_this_session": self.excluded, "data": self.data or {},
            "cites_report": self.cites_report,
        }

    def render(self) -> str:
        """Human summary: items, quarantine by reason, tokens, latency, retries, where the output is."""
        q = ", ".join(f"{k} {v}" for k, v in self.quarantined.items()) or "none"
        lines = [
            f"reports       {self.reports}",
            f"items         {self.items_written} written of {self.items_planned} planned"
            f" ({self.items_this_session} this session, {self.rebuilt_from_cache} rebuilt from cache,"
            f" {self.items_pending} pending)",
            f"quarantined   {self.quarantined_total} open ({q})"
            + (f"; resolved {', '.join(f'{k} {v}' for k, v in self.resolved.items())}" if self.resolved else ""),
            *([render_redrive(self.redrive)] if self.redrive is not None else []),
            *([f"excluded      {self.excluded} reports this session (--exclude-reports)"] if self.excluded else []),
            *(["data          " + ", ".join(f"{k} {v}" for k, v in self.data.items())] if self.data else []),
            *([render_citations(self.cites_report)] if self.cites_report else []),
            self.metrics.render(),
            f"elapsed       {self.elapsed_s:.1f}s",
            f"shards        {self.shards_dir}",
            f"quarantine    {self.quarantine_path}",
            f"summary       {self.run_dir / SUMMARY_FILE}",
        ]
        return "\n".join(lines)



def render_redrive(redrive: dict[str, Any]) -> str:
    """One line for a re-drive session: what it selected, resolved and left open, with which options."""
    if not redrive.get("selected"):
        return f"re-drive      nothing to re-ask (no open quarantine with reason {', '.join(redrive['reasons'])})"
    options = redrive.get("options") or {}
    changed = ", ".join(f"{k.removesuffix('_was')} {v} -> {options[k.removesuffix('_was')]}"
                        for k, v in options.items() if k.endswith("_was"))
    return (f"re-drive      #{redrive.get('redrive_id')}: {redrive['selected']} selected"
            f" ({', '.join(redrive['reasons'])}), {redrive.get('resolved') or 0} resolved,"
            f" {redrive.get('still_open') or 0} still open, {redrive.get('not_found') or 0} not found"
            + (f"; {changed}" if changed else ""))


def render_citations(counts: dict[str, Any]) -> str:
    """One line: image-style chains that cited the report, by what the check did (job totals)."""
    reasked = counts.get("fixed", 0) + counts.get("quarantined", 0) + counts.get("reask_failed", 0)
    line = (f"cites report  --cites-report {counts.get('policy', '?')}: {reasked} re-asked"
            + (f" ({counts['reasked_this_session']} this session)" if "reasked_this_session" in counts else "")
            + f", {counts.get('fixed', 0)} fixed by the re-ask, {counts.get('quarantined', 0)} quarantined"
            f" (cites_report), {counts.get('kept', 0)} written citing it (keep)")
    return line + (f", {counts['reask_failed']} re-ask failed" if counts.get("reask_failed") else "")
