"""Benchmark: steps validated per second, as a ratio to findings extraction alone on the same texts.

Builds chains from real IU X-ray reports (each report sentence is a step, plus two glue steps made
unique per report), then in the same process times

1. extraction alone: `FindingsExtractor.extract_text` on every step and `extract_report` on every
   report (the texts the validator must read), and
2. validation: `StepValidator.validate` on every chain (extraction + alignment + scoring),

sharing one loaded extractor but with a fresh validator per round, so the validator's step cache is
empty (steps are unique, so it never hits). Rounds are interleaved; the best of each is kept.
Prints one JSON object.

    .venv/bin/python bench/bench_validate.py --reports ../shared/data/iu-xray/indiana_reports.csv --limit 300
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path

from radprm.readers import read_reports
from radprm.schemas.records import Chain
from radprm.validators.findings import FindingsExtractor
from radprm.validators.steps import StepValidator

_SENT = re.compile(r"(?<=[.?!])\s+")


def build_chains(reports: list) -> list[Chain]:
    """One chain per report: its sentences between two glue steps, all unique."""
    seen: set[str] = set()
    chains = []
    for r in reports:
        # unique per report, without digits (a digit would be an ungrounded number) or medical words ("chf")
        tag = "q" + "".join(chr(107 + int(d)) if d.isdigit() else d for d in r.report_id)
        steps = [f"First we read report {tag} from the top."]
        for part in (r.findings, r.impression):
            for s in _SENT.split(part or ""):
                if s.strip() and s not in seen:
                    seen.add(s)
                    steps.append(s)
        steps.append(f"In report {tag} we then look at the pleural spaces.")
        chains.append(Chain(chain_id=r.report_id, report_id=r.report_id, steps=steps))
    return chains


def main() -> None:
    """Run the benchmark and print the figures as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--reports", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/iu-xray/indiana_reports.csv"
    )
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    reports = [r for r in read_reports(args.reports, limit=args.limit)]
    chains = build_chains(reports)
    by_id = {r.report_id: r for r in reports}
    n_steps = sum(len(c.steps) for c in chains)

    t0 = time.perf_counter()
    extractor = FindingsExtractor()
    load_s = time.perf_counter() - t0
    extractor.extract_text("Warm up: no pneumothorax.")

    def cold() -> None:
        # the extractor caches per-sentence work: start every timed phase cold, or one phase would be
        # timing the other's cache hits
        if hasattr(extractor, "clear_cache"):
            extractor.clear_cache()

    def extract_all() -> tuple[float, float]:
        cold()
        t, cpu = time.perf_counter(), time.process_time()
        for c in chains:
            extractor.extract_report(by_id[c.report_id])
            for s in c.steps:
                extractor.extract_text(s)
        return time.perf_counter() - t, time.process_time() - cpu

    def validate_all() -> tuple[float, float, int]:
        validator = StepValidator(extractor)  # shares the pipeline, not the validator's step cache
        validator.clear_caches()  # and nothing the previous round read
        cold()
        t, cpu = time.perf_counter(), time.process_time()
        bad = sum(not s.label for c in chains for s in validator.validate(c, by_id[c.report_id]).steps)
        return time.perf_counter() - t, time.process_time() - cpu, bad

    # interleaved rounds, best of each: the machine is shared, so single timings are noisy. CPU time
    # (process time) is reported beside wall time: other processes on the machine stretch the wall time of
    # either phase, much less its CPU time
    extract_times, validate_times, extract_cpu, validate_cpu = [], [], [], []
    for _ in range(args.rounds):
        seconds, cpu = extract_all()
        extract_times.append(seconds)
        extract_cpu.append(cpu)
        seconds, cpu, bad = validate_all()
        validate_times.append(seconds)
        validate_cpu.append(cpu)
    extract_s, validate_s = min(extract_times), min(validate_times)

    out = {
        "reports": len(reports),
        "chains": len(chains),
        "steps": n_steps,
        "extractor_load_s": round(load_s, 2),
        "extract_only_s": round(extract_s, 2),
        "extract_only_steps_per_s": round(n_steps / extract_s, 1),
        "validate_s": round(validate_s, 2),
        "validate_steps_per_s": round(n_steps / validate_s, 1),
        "validate_to_extract_ratio": round((n_steps / validate_s) / (n_steps / extract_s), 3),
        "extract_only_cpu_s": round(min(extract_cpu), 3),
        "validate_cpu_s": round(min(validate_cpu), 3),
        "validate_to_extract_cpu_ratio": round(min(extract_cpu) / min(validate_cpu), 3),
        "steps_labelled_bad": bad,
        "rounds": args.rounds,
        "extract_times_s": [round(t, 2) for t in extract_times],
        "validate_times_s": [round(t, 2) for t in validate_times],
        "extract_cpu_s": [round(t, 3) for t in extract_cpu],
        "validate_cpu_times_s": [round(t, 3) for t in validate_cpu],
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
