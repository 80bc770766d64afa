"""Benchmark: cost of the PHI guard (`radprm mine --phi flag`) as a share of findings extraction.

Reads the IU reports once into memory, then in the same process and interleaved rounds times

1. findings extraction: `FindingsExtractor.extract_many` over every report (batch 32, as the mining
   job's producer calls it), with its sentence cache cleared before each round (cold, as in a job),
2. the PHI guard in ``flag`` mode with the default ``patterns`` engine: `JobPrivacy.screen` on every
   report (scan, record hits; what the job adds per report), and
3. the ``ner`` engine (spaCy NER through Presidio's AnalyzerEngine) on the first `--ner-limit`
   reports, scaled to the whole set, to show what NER would cost.

The best round of each is kept; ratios are within this run. Prints one JSON object.

    .venv/bin/python bench/bench_phi.py --reports ../shared/data/iu-xray/indiana_reports.csv --rounds 3
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from radprm.phi import PhiGuard
from radprm.phi.privacy import JobPrivacy
from radprm.quarantine import QuarantineSink
from radprm.readers import read_reports
from radprm.validators.findings import FindingsExtractor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=Path, default=Path("../shared/data/iu-xray/indiana_reports.csv"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ner-limit", type=int, default=500, help="reports scanned by the ner engine per round")
    args = ap.parse_args()

    reports = list(read_reports(args.reports, quarantine=QuarantineSink()))
    extractor = FindingsExtractor()
    privacy = JobPrivacy("flag", "patterns")
    ner = PhiGuard("ner")
    # warm-up: build pipelines and recognizers outside the timed rounds
    list(extractor.extract_many(reports[:32], batch_size=32))
    privacy.screen(reports[0], QuarantineSink())
    ner.scan(reports[0].text)

    best = {"extract_s": float("inf"), "phi_patterns_s": float("inf"), "phi_ner_s": float("inf")}
    hits = {"patterns_reports_with_phi": 0, "ner_reports_with_phi_in_sample": 0}
    for _ in range(args.rounds):
        extractor.clear_cache()
        t0 = time.perf_counter()
        n = sum(1 for _ in extractor.extract_many(iter(reports), batch_size=32))
        best["extract_s"] = min(best["extract_s"], time.perf_counter() - t0)
        assert n == len(reports)

        privacy.counts.clear()
        sink = QuarantineSink()
        t0 = time.perf_counter()
        for r in reports:
            privacy.screen(r, sink)
        best["phi_patterns_s"] = min(best["phi_patterns_s"], time.perf_counter() - t0)
        hits["patterns_reports_with_phi"] = privacy.counts["reports_with_phi"]

        sample = reports[: args.ner_limit]
        t0 = time.perf_counter()
        found = sum(1 for r in sample if ner.scan(r.text))
        best["phi_ner_s"] = min(best["phi_ner_s"], (time.perf_counter() - t0) * len(reports) / len(sample))
        hits["ner_reports_with_phi_in_sample"] = found

    out = {
        "reports": len(reports),
        "rounds": args.rounds,
        **{k: round(v, 3) for k, v in best.items()},
        "phi_patterns_share_of_extraction": round(best["phi_patterns_s"] / best["extract_s"], 4),
        "phi_ner_share_of_extraction": round(best["phi_ner_s"] / best["extract_s"], 3),
        "ner_sample": min(args.ner_limit, len(reports)),
        **hits,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
