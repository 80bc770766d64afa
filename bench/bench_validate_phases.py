"""Benchmark: where a cold validation pass spends its CPU time, phase by phase, without a profiler.

cProfile inflates the validator's many small calls five to ten times and so misplaces its cost; this script
wraps only a dozen phase-level functions with a CPU clock (`time.process_time`, a few microseconds per call)
and runs the `bench_validate.py` workload (same chains, same cold caches). Each phase's time is inclusive
(a phase called inside another is counted in both); "rest" is the pass minus the top-level phases. Best of
`--rounds` passes (by total). Prints one JSON object.

    .venv/bin/python bench/bench_validate_phases.py --reports ../shared/data/iu-xray/indiana_reports.csv --limit 300
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import time
from pathlib import Path

from bench_validate import build_chains

from radprm.readers import read_reports
from radprm.validators import steps
from radprm.validators.findings import FindingsExtractor
from radprm.validators.steps import StepValidator

# (owner, attribute, phase name); the first five are the top-level phases of a pass (they do not nest)
TOP = [
    ("extractor", "extract_report", "report: extraction"),
    ("validator", "report_claims", "report: claims (incl. extraction)"),
    ("validator", "report_sentences", "report: sentences read as facts"),
    ("validator", "_validate_step", "steps (all per-step work)"),
]
INNER = [
    ("extractor", "extract_text", "step: extraction"),
    ("validator", "step_claims", "step: claims (incl. extraction)"),
    ("validator", "step_facts", "step: clauses read as facts"),
    ("steps", "compare", "step: open-vocabulary compare"),
    ("steps", "edited_copy", "step: edited-copy check"),
    ("steps", "judge_claim", "step: judging claims"),
    ("steps", "numbers_in", "step: numbers"),
    ("steps", "split_clauses", "clause splitting (cached per text)"),
    ("steps", "claim_from_finding", "claims built from findings"),
]


def main() -> None:
    """Run the pass and print the phases as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--reports", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/iu-xray/indiana_reports.csv"
    )
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    reports = list(read_reports(args.reports, limit=args.limit))
    chains = build_chains(reports)
    by_id = {r.report_id: r for r in reports}
    extractor = FindingsExtractor()
    extractor.extract_text("Warm up: no pneumothorax.")
    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    clock = time.process_time
    owners = {"extractor": extractor, "validator": StepValidator, "steps": steps}

    def timed(func, name):  # noqa: ANN001, ANN202
        @functools.wraps(func)
        def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
            t = clock()
            try:
                return func(*a, **k)
            finally:
                spent[name] += clock() - t
                calls[name] += 1

        return wrapper

    for owner, attr, name in TOP + INNER:
        obj = owners[owner]
        setattr(obj, attr, timed(getattr(obj, attr), name))

    def one_pass() -> float:
        validator = StepValidator(extractor)
        validator.clear_caches()
        extractor.clear_cache()
        spent.clear()
        calls.clear()
        t = clock()
        for c in chains:
            validator.validate(c, by_id[c.report_id])
        return clock() - t

    one_pass()  # warm-up: imports and lazily compiled patterns
    best = None
    for _ in range(args.rounds):
        total = one_pass()
        if best is None or total < best[0]:
            best = (total, dict(spent), dict(calls))
    total, phases, counts = best
    top = sum(phases.get(name, 0.0) for _, _, name in TOP if name != "report: extraction")
    out = {
        "reports": len(reports),
        "steps": sum(len(c.steps) for c in chains),
        "pass_cpu_s": round(total, 3),
        "phases_cpu_s": {
            name: {"cpu_s": round(phases.get(name, 0.0), 3), "calls": counts.get(name, 0)} for _, _, name in TOP + INNER
        },
        "rest_cpu_s": round(total - top, 3),
        "rounds": args.rounds,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
