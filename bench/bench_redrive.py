"""Ledger cost of re-drive bookkeeping on a large job (no LLM): is resolving quarantine records on commit,
selecting the items to re-drive and `radprm status` cheap next to what a job already does?

Builds a ledger of `--items` items (4 per report), quarantines `--quarantined-share` of them (mine /
truncated, with their JSONL records), then times, in one run:

* a shard commit's `mark_written` of `--batch` items that were never quarantined (what every commit
  costs) against the same number of re-driven items (their records are resolved in the same
  transaction): the ratio is the overhead of resolution;
* `open_quarantined_items` (the re-drive selection, over every open record);
* `LedgerQuarantine.reconcile` rewriting the quarantine JSONL with the resolutions;
* `job_status` (read-only, what `radprm status` prints).

Usage:
    .venv/bin/python bench/bench_redrive.py --items 100000 --quarantined-share 0.1 --batch 5000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from radprm.miners.ledger import Ledger, LedgerQuarantine
from radprm.miners.status import job_status
from radprm.schemas.records import QuarantineRecord


def build(run_dir: Path, n_items: int, share: float) -> tuple[Ledger, LedgerQuarantine, list[str], list[str]]:
    ledger = Ledger(run_dir / "ledger.sqlite")
    sink = LedgerQuarantine(ledger, run_dir / "quarantine" / "quarantine.jsonl", run_id="bench")
    ids = [f"c1:{i:032x}" for i in range(n_items)]
    for r in range(0, n_items, 4):
        ledger.plan_report(f"r{r // 4}", [(ids[k], f"q{k % 2}", k % 2) for k in range(r, min(r + 4, n_items))])
    step = max(1, round(1 / share))
    quarantined = ids[::step]
    for k, item_id in enumerate(quarantined):
        sink.add(QuarantineRecord(record_id=item_id, item_id=item_id, chain_id=item_id, report_id=f"r{k}",
                                  stage="mine", reason_code="truncated", detail="plan@v1: truncated",
                                  payload='{"steps": ["cut'), item_id=item_id)
    clean = [i for i in ids if i not in set(quarantined)]
    (run_dir / "job.json").write_text(json.dumps({"run_id": "bench", "identity": {}}))
    return ledger, sink, clean, quarantined


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--quarantined-share", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows: dict[str, list[float]] = {"commit_clean": [], "commit_redriven": [], "select": [], "reconcile": [],
                                    "status": []}
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp)
            ledger, sink, clean, quarantined = build(run_dir, args.items, args.quarantined_share)
            batch = min(args.batch, len(quarantined))
            rows["select"].append(timed(ledger.open_quarantined_items, ["truncated"]))
            # alternate the order of the two commits between repeats to cancel drift
            pairs = [("commit_clean", clean[:batch]), ("commit_redriven", quarantined[:batch])]
            for name, ids in pairs if rep % 2 == 0 else reversed(pairs):
                rows[name].append(timed(ledger.mark_written, ids, "shard-00001.parquet"))
            rows["reconcile"].append(timed(sink.reconcile))
            rows["status"].append(timed(job_status, run_dir))
            assert ledger.resolved_counts() == {"written": batch}
            sink.close()
            ledger.close()
    med = {k: statistics.median(v) for k, v in rows.items()}
    n_q = len(range(0, args.items, max(1, round(1 / args.quarantined_share))))
    print(f"items {args.items}, quarantined {n_q}, commit batch {batch}, repeats {args.repeats} (medians)")
    print(f"mark_written, never-quarantined items   {med['commit_clean'] * 1000:8.1f} ms")
    print(f"mark_written, re-driven items (resolve) {med['commit_redriven'] * 1000:8.1f} ms"
          f"   ratio {med['commit_redriven'] / med['commit_clean']:.2f}")
    print(f"open_quarantined_items (selection)      {med['select'] * 1000:8.1f} ms")
    print(f"reconcile (JSONL rewrite)               {med['reconcile'] * 1000:8.1f} ms")
    print(f"job_status (radprm status)              {med['status'] * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
