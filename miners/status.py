"""`job_status()`: where a mining job stands, read from its run folder without changing anything.

Items by state, open quarantine by stage and reason (what a re-drive could still fix), resolved records,
and the re-drive history, from `job.json`, the ledger (opened read-only) and the shard manifest. This is
what `radprm status RUN_DIR` prints.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError, ShardError
from radprm.miners.config import REDRIVE_REASONS, shards_location
from radprm.miners.ledger import citation_counts, read_redrives
from radprm.miners.summary import render_citations
from radprm.shards.location import locate

JOB_FILE = "job.json"
LEDGER_FILE = "ledger.sqlite"


@dataclass
class JobStatus:
    """A mining job's state: items, open and resolved quarantine, re-drive history."""

    run_dir: Path
    run_id: str | None
    created_at: str | None
    radprm_version: str | None
    schema_version: str | None
    identity: dict[str, Any]
    items: dict[str, int]
    open_quarantine: dict[str, int]
    resolved: dict[str, int]
    redrives: list[dict[str, Any]] = field(default_factory=list)
    cites_report: dict[str, Any] = field(default_factory=dict)  # image style: policy and items per citation state

    @property
    def open_total(self) -> int:
        """Open quarantine records (all stages)."""
        return sum(self.open_quarantine.values())

    @property
    def redrivable(self) -> dict[str, int]:
        """Open mine-stage records that `--retry-quarantined` can ask again, by reason."""
        return {k.split("/", 1)[1]: v for k, v in self.open_quarantine.items()
                if k.startswith("mine/") and k.split("/", 1)[1] in REDRIVE_REASONS}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (`radprm status --json`)."""
        return {
            "run_dir": str(self.run_dir), "run_id": self.run_id, "created_at": self.created_at,
            "radprm_version": self.radprm_version, "schema_version": self.schema_version,
            "identity": self.identity, "items": self.items, "open_quarantine": self.open_quarantine,
            "open_total": self.open_total, "redrivable": self.redrivable, "resolved": self.resolved,
            "redrives": self.redrives, "cites_report": self.cites_report,
        }

    def render(self) -> str:
        """Human summary."""
        items = self.items
        lines = [
            f"run           {self.run_id} ({self.run_dir}), created {self.created_at}, radprm "
            f"{self.radprm_version}, shard schema {self.schema_version or '-'}",
            f"items         {items.get('written', 0)} written, {items.get('quarantined', 0)} quarantined, "
            f"{items.get('pending', 0) + items.get('answered', 0)} pending of {sum(items.values())} planned",
            f"quarantine    {self.open_total} open"
            + (f", {sum(self.resolved.values())} resolved ("
               + ", ".join(f"{k} {v}" for k, v in sorted(self.resolved.items())) + ")" if self.resolved else ""),
        ]
        for key, n in self.open_quarantine.items():
            lines.append(f"  {key:<32} {n:>6}")
        if self.cites_report:
            lines.append(render_citations(self.cites_report))
        if self.redrivable:
            reasons = ",".join(self.redrivable)
            lines.append(f"re-drivable   {sum(self.redrivable.values())}: radprm mine ... --run-dir {self.run_dir}"
                         f" --resume --retry-quarantined --reasons {reasons}")
        if not self.redrives:
            lines.append("re-drives     none")
        for r in self.redrives:
            opts = r.get("options") or {}
            changed = ", ".join(f"{k.removesuffix('_was')} {v} -> {opts.get(k.removesuffix('_was'))}"
                                for k, v in opts.items() if k.endswith("_was"))
            state = (f"{r['resolved']} resolved, {r['still_open']} still open, {r['not_found']} not found"
                     if r.get("finished_at") else "interrupted (resume the re-drive to finish it)")
            lines.append(f"re-drive #{r['redrive_id']:<3} {r['started_at']} {','.join(r['reasons'])}: "
                         f"{r['selected']} selected, {state}" + (f"; {changed}" if changed else ""))
        return "\n".join(lines)


def job_status(run_dir: str | Path) -> JobStatus:
    """Read a mining job's state from its run folder (read-only: nothing in the folder changes).

    Args:
        run_dir: the job folder (`radprm mine --run-dir`).

    Returns:
        A `JobStatus`.

    Raises:
        InputError: the folder holds no mining job (no job.json) or its ledger cannot be read.
    """
    run_dir = Path(run_dir)
    job_path = run_dir / JOB_FILE
    if not job_path.is_file():
        raise InputError("not a mining job folder: no job.json", path=run_dir, field="run_dir",
                         hint="pass the --run-dir of a `radprm mine` job")
    try:
        job = json.loads(job_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"job.json is not JSON: {exc}", path=job_path) from None
    schema_version = None
    loc = locate(shards_location(run_dir, job.get("identity", {}).get("shards")))
    manifest = loc.file("manifest.json")
    try:
        if loc.is_file(manifest):
            schema_version = json.loads(loc.read_text(manifest)).get("schema_version")
    except (ValueError, ShardError):  # not JSON, or a remote set that cannot be read
        schema_version = "unreadable"
    items: dict[str, int] = {}
    open_q: dict[str, int] = {}
    resolved: dict[str, int] = {}
    redrives: list[dict[str, Any]] = []
    cites: dict[str, Any] = {}
    ledger = run_dir / LEDGER_FILE
    if ledger.is_file():
        try:
            db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=10)
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the ledger: {exc}", path=ledger) from None
        try:
            items = dict(db.execute("SELECT status, COUNT(*) FROM items GROUP BY 1").fetchall())
            columns = {row[1] for row in db.execute("PRAGMA table_info(quarantine)")}
            where = " WHERE resolved_at IS NULL" if "resolved_at" in columns else ""
            open_q = dict(db.execute(f"SELECT stage || '/' || reason, COUNT(*) FROM quarantine{where}"
                                     " GROUP BY 1 ORDER BY 2 DESC, 1").fetchall())
            if "resolved_at" in columns:  # ledgers of schema 2 (re-drive)
                resolved = dict(db.execute("SELECT resolution, COUNT(*) FROM quarantine"
                                           " WHERE resolved_at IS NOT NULL GROUP BY 1").fetchall())
                redrives = read_redrives(db)
            if job.get("identity", {}).get("style", "report") == "image":
                cites = {"policy": job["identity"].get("cites_report", "keep"), **citation_counts(db)}
        except sqlite3.Error as exc:
            raise InputError(f"not a usable job ledger: {exc}", path=ledger) from None
        finally:
            db.close()
    return JobStatus(
        run_dir=run_dir, run_id=job.get("run_id"), created_at=job.get("created_at"),
        radprm_version=job.get("radprm_version"), schema_version=schema_version, identity=job.get("identity", {}),
        items=items, open_quarantine=open_q, resolved=resolved, redrives=redrives, cites_report=cites,
    )
