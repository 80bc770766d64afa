"""Benchmark: the `split_leakage` QA check (patients in two splits, near-duplicate report texts across
splits) on N reports built from the real IU report texts, against all-pairs scoring.

Reports cycle over the 3,851 IU texts (read by path from ../shared), each copy with a small edit
(a number and a word changed) so that most texts are distinct but near-identical to their siblings,
as templated normal reports are. Patients and splits come from the patient-hash split (0.9/0.05/0.05).
All-pairs is timed on a sample and extrapolated by the number of pairs (n^2/2).

    .venv/bin/python bench/bench_leakage.py --sizes 10000 100000 --all-pairs-sample 2000

Prints one JSON line per size and a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IU = ROOT.parent / "shared" / "data" / "iu-xray" / "indiana_reports.csv"


def load_texts() -> list[str]:
    """FINDINGS + IMPRESSION text of every IU report with some text."""
    with IU.open(newline="", encoding="utf-8") as fh:
        rows = [(r["findings"] or "") + " " + (r["impression"] or "") for r in csv.DictReader(fh)]
    return [t.strip() for t in rows if t.strip()]


def make_rows(n: int, texts: list[str], seed: int = 0) -> list[tuple[str, str, str, str]]:
    """(report_id, patient_id, split, text) for n made-up reports derived from the IU texts."""
    from radprm.miners.splits import hash_split, parse_ratios

    rng = random.Random(seed)
    ratios = parse_ratios("0.9,0.05,0.05")
    rows = []
    for k in range(n):
        base = texts[k % len(texts)]
        words = base.split()
        if words:
            words[rng.randrange(len(words))] = rng.choice(["mild", "small", "stable", "left", "right"])
        patient = f"P{k // 2}"  # two reports per patient
        rows.append((f"R{k}", patient, hash_split(patient, ratios), " ".join(words) + f" {k % 97}"))
    return rows


def all_pairs(rows: list[tuple[str, str, str, str]], threshold: float) -> tuple[float, set[tuple[str, str]]]:
    """Seconds to score every pair of `rows` with rapidfuzz (the baseline), and the cross-split pairs found."""
    from rapidfuzz import fuzz, process

    from radprm.qa.checks import normalise_report

    texts = [normalise_report(r[3]) for r in rows]
    t0 = time.perf_counter()
    matrix = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=threshold, workers=1)
    secs = time.perf_counter() - t0
    found = set()
    for i, j in zip(*matrix.nonzero(), strict=True):
        if i < j and rows[i][2] != rows[j][2]:
            a, b = sorted((rows[i][0], rows[j][0]))
            found.add((a, b))
    return secs, found


def main() -> None:
    """Run the sizes and print JSON lines plus a Markdown table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--threshold", type=float, default=95)
    ap.add_argument("--all-pairs-sample", type=int, default=2000)
    args = ap.parse_args()
    from radprm.qa.checks import split_leakage_rows

    texts = load_texts()
    results = []
    sample = make_rows(args.all_pairs_sample, texts)
    sample_s, truth = all_pairs(sample, args.threshold)
    blocked = {(r[1], r[2]) for r in split_leakage_rows(sample, threshold=args.threshold) if r[0] == "text"}
    recall = len(truth & blocked) / len(truth) if truth else 1.0
    leaked = {r for pair in truth for r in pair}
    reported = {r for pair in blocked for r in pair}
    report_recall = len(leaked & reported) / len(leaked) if leaked else 1.0
    for n in args.sizes:
        rows = make_rows(n, texts)
        t0 = time.perf_counter()
        found = split_leakage_rows(rows, threshold=args.threshold)
        secs = time.perf_counter() - t0
        extrapolated = sample_s * (n / args.all_pairs_sample) ** 2
        res = {"reports": n, "seconds": round(secs, 2),
               "patients_in_two_splits": sum(r[0] == "patient" for r in found),
               "text_pairs": sum(r[0] == "text" for r in found),
               "all_pairs_seconds_extrapolated": round(extrapolated, 1),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
        results.append(res)
        print(json.dumps(res), flush=True)
    print(f"\nall-pairs sample: {args.all_pairs_sample} reports in {sample_s:.2f}s; cross-split pairs at or above "
          f"{args.threshold:g}: {len(truth)}, found by blocking: {len(truth & blocked)} (recall {recall:.3f}), "
          f"blocking pairs not in all-pairs: {len(blocked - truth)}; reports in a leaking pair: {len(leaked)}, "
          f"reported by blocking: {len(leaked & reported)} (recall {report_recall:.3f})\n")
    print("| reports | split_leakage s | patients in two splits | text pairs | all-pairs s (extrapolated) "
          "| peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['reports']:,} | {r['seconds']} | {r['patients_in_two_splits']} | {r['text_pairs']:,} | "
              f"{r['all_pairs_seconds_extrapolated']:,} | {r['peak_rss_mb']} |")


if __name__ == "__main__":
    main()
