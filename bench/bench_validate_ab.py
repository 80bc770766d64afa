"""Benchmark: the step validator of another git revision against this one, in one process, on the same texts.

`bench_validate.py` times one validator against extraction; on a shared machine two runs minutes apart
see different loads, so a before/after comparison across runs mostly measures the load. This script
loads the validator of `--base-rev` (exported with `git archive` into a temporary folder, its package
renamed `radprm_base`) beside the working tree's, shares one loaded `FindingsExtractor` between them and
alternates, round by round: extraction (cold), validation by one side (cold), extraction (cold),
validation by the other (cold). It reports CPU time (`time.process_time`) per phase, each side's
validation/extraction ratio (median of the per-round ratios: each validation against the extraction
just before it), the median of the per-round speedups (base / new, both timed back to back) and
checks that both sides give every step the same label, verdict, reasons and score. Prints one JSON
object.

    .venv/bin/python bench/bench_validate_ab.py --base-rev main --reports ../shared/data/iu-xray/indiana_reports.csv
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench_validate import build_chains

from radprm.readers import read_reports
from radprm.validators.findings import FindingsExtractor
from radprm.validators.steps import StepValidator

ROOT = Path(__file__).resolve().parents[1]


def export_base(rev: str, folder: Path) -> None:
    """The package at `rev`, importable as `radprm_base` from `folder`."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    target = folder / "radprm_base"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(target, filter="data")
    for path in target.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        renamed = re.sub(r"\bradprm(?=[.\s\"'])", "radprm_base", text)
        if renamed != text:
            path.write_text(renamed, encoding="utf-8")


def main() -> None:
    """Run the comparison and print the figures as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-rev", default="main", help="git revision to compare with (default: main)")
    ap.add_argument("--reports", type=Path, default=ROOT.parent / "shared/data/iu-xray/indiana_reports.csv")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="radprm-ab-")
    export_base(args.base_rev, Path(tmp.name))
    sys.path.insert(0, tmp.name)
    from radprm_base.schemas.records import Chain as BaseChain
    from radprm_base.schemas.records import Report as BaseReport
    from radprm_base.validators.steps import StepValidator as BaseValidator

    reports = list(read_reports(args.reports, limit=args.limit))
    chains = build_chains(reports)
    by_id = {r.report_id: r for r in reports}
    sides = {
        "base": (BaseValidator, [BaseChain(**c.model_dump()) for c in chains],
                 {k: BaseReport(**r.model_dump()) for k, r in by_id.items()}),
        "new": (StepValidator, chains, by_id),
    }
    extractor = FindingsExtractor()
    extractor.extract_text("Warm up: no pneumothorax.")

    def extract() -> float:
        extractor.clear_cache()
        cpu = time.process_time()
        for c in chains:
            extractor.extract_report(by_id[c.report_id])
            for s in c.steps:
                extractor.extract_text(s)
        return time.process_time() - cpu

    def validate(side: str) -> tuple[float, list[tuple]]:
        cls, side_chains, side_reports = sides[side]
        validator = cls(extractor)  # the extractor is duck-typed: both sides call the same methods
        validator.clear_caches()
        extractor.clear_cache()
        cpu = time.process_time()
        rows = [
            (s.label, s.verdict, tuple(s.reasons), s.score)
            for c in side_chains
            for s in validator.validate(c, side_reports[c.report_id]).steps
        ]
        return time.process_time() - cpu, rows

    validate("base")  # warm-up: imports and lazily compiled patterns
    validate("new")
    runs: dict[str, list[tuple[float, float]]] = {"base": [], "new": []}
    labels: dict[str, list[tuple]] = {}
    for r in range(args.rounds):
        for side in ("base", "new") if r % 2 == 0 else ("new", "base"):
            ext = extract()
            val, labels[side] = validate(side)
            runs[side].append((ext, val))
    out: dict = {"base_rev": args.base_rev, "reports": len(reports), "steps": sum(len(c.steps) for c in chains),
                 "rounds": args.rounds, "labels_identical": labels["base"] == labels["new"]}
    for side, rows in runs.items():
        out[side] = {
            "extract_cpu_s_best": round(min(e for e, _ in rows), 3),
            "validate_cpu_s_best": round(min(v for _, v in rows), 3),
            "validate_cpu_s": [round(v, 3) for _, v in rows],
            "validate_to_extract_cpu_ratio_median": round(statistics.median(e / v for e, v in rows), 3),
        }
    out["validate_speedup_cpu_best"] = round(out["base"]["validate_cpu_s_best"] / out["new"]["validate_cpu_s_best"], 2)
    # each round times both sides back to back: the median of the per-round speedups is steadier than the ratio
    # of two bests when the machine's load changes from round to round
    out["validate_speedup_cpu_paired_median"] = round(
        statistics.median(b / n for (_, b), (_, n) in zip(runs["base"], runs["new"], strict=True)), 3
    )
    print(json.dumps(out, indent=2))
    tmp.cleanup()


if __name__ == "__main__":
    main()
