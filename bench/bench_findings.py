"""Benchmark the findings extractor: throughput, memory, and NegEx assertion accuracy.

    .venv/bin/python bench/bench_findings.py                      # all 3,851 IU reports, 10x stream
    .venv/bin/python bench/bench_findings.py --repeat 0 --negex   # skip the stream, add NegEx accuracy

Measures, in one process:
1. spaCy tokenisation alone (blank English `nlp.pipe`) over every report text: the floor;
2. `FindingsExtractor.extract_many` over the same texts (reports/s, ratio to tokenisation);
3. peak RSS after 1, and RSS sampled while streaming the reports `--repeat` times end to end
   (generated lazily, never held in a list): it must stay flat;
4. optionally, assertion accuracy on the NegEx dev sentences (Affirmed vs Negated).

Reading the CSV is not timed. Results go to stdout as a small table (copy into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RADPRM_SHARED", ROOT.parent / "shared"))


def rss_mb() -> float:
    """Current resident set size in MiB (from /proc/self/statm)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_speed(reports: list, batch_size: int) -> dict[str, float]:
    """Time tokenisation alone and the full extractor on the same texts."""
    import spacy

    from radprm.validators.findings import FindingsExtractor

    texts = [r.text for r in reports]
    tok = spacy.blank("en")
    t0, c0 = time.perf_counter(), time.process_time()
    n_tokens = sum(len(doc) for doc in tok.pipe(texts, batch_size=batch_size))
    t_tok, c_tok = time.perf_counter() - t0, time.process_time() - c0

    t0 = time.perf_counter()
    ex = FindingsExtractor()
    t_build = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    mentions = sum(len(f) for _, f in ex.extract_many(reports, batch_size=batch_size))
    t_ex, c_ex = time.perf_counter() - t0, time.process_time() - c0
    return {
        "reports": len(reports),
        "tokens": n_tokens,
        "mentions": mentions,
        "build_s": t_build,
        "tokenise_s": t_tok,
        "extract_s": t_ex,
        "tokenise_rps": len(reports) / t_tok,
        "extract_rps": len(reports) / t_ex,
        "ratio": t_ex / t_tok,
        "tokenise_cpu_s": c_tok,
        "extract_cpu_s": c_ex,
        "extract_cpu_rps": len(reports) / c_ex,
        "cpu_ratio": c_ex / c_tok,
        "peak_rss_mb": peak_rss_mb(),
    }


def bench_stream(reports: list, repeat: int, batch_size: int) -> dict[str, float]:
    """Stream the reports `repeat` times (lazily) and sample RSS along the way."""
    from radprm.validators.findings import default_extractor

    ex = default_extractor()

    def many() -> Iterator:
        for k in range(repeat):
            for r in reports:
                yield r.model_copy(update={"report_id": f"{r.report_id}#{k}"})

    samples: list[tuple[int, float]] = []
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for n, _ in enumerate(ex.extract_many(many(), batch_size=batch_size), 1):
        if n % len(reports) == 0:
            samples.append((n, rss_mb()))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    first, last = samples[0][1], samples[-1][1]
    return {
        "reports": n,
        "seconds": elapsed,
        "rps": n / elapsed,
        "cpu_rps": n / cpu,
        "rss_after_1x_mb": first,
        "rss_after_last_mb": last,
        "rss_max_mb": max(s for _, s in samples),
        "rss_growth_mb": last - first,
    }


def bench_negex(path: Path) -> dict[str, float]:
    """Assertion accuracy (Affirmed vs Negated) of the ConText rules on the NegEx dev sentences."""
    from radprm.validators.findings import default_extractor

    ex = default_extractor()
    counts: Counter[tuple[str, str]] = Counter()
    missing = 0
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            sentence, target = row["sentence"], row["target"].strip()
            i = sentence.lower().find(target.lower())
            if i < 0:
                missing += 1
                continue
            pred = "Negated" if ex.assertion_of(sentence, i, i + len(target)) == "negative" else "Affirmed"
            counts[(row["assertion"], pred)] += 1
    n = sum(counts.values())
    tp, fp, fn = counts[("Negated", "Negated")], counts[("Affirmed", "Negated")], counts[("Negated", "Affirmed")]
    return {
        "sentences": n,
        "target_not_found": missing,
        "accuracy": (counts[("Affirmed", "Affirmed")] + tp) / n,
        "negated_precision": tp / (tp + fp),
        "negated_recall": tp / (tp + fn),
        "negated_f1": 2 * tp / (2 * tp + fp + fn),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=SHARED / "data/iu-xray/indiana_reports.csv")
    parser.add_argument("--repeat", type=int, default=10, help="stream the reports this many times (0: skip)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--negex", nargs="?", const=SHARED / "data/negex/negex_annotations_dev.tsv", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.reports.exists():
        print(f"needs {args.reports} (the shared data folder beside the repo)", file=sys.stderr)
        return 2

    from radprm.readers import read_reports

    reports = list(read_reports(args.reports))
    load = os.getloadavg()[0]
    print(f"reports read: {len(reports)} from {args.reports}; load average {load:.1f} on {os.cpu_count()} CPUs")
    speed = bench_speed(reports, args.batch_size)
    print(
        f"tokenise only : {speed['tokenise_s']:.2f}s  {speed['tokenise_rps']:.0f} reports/s ({speed['tokens']} tokens)\n"
        f"extract       : {speed['extract_s']:.2f}s  {speed['extract_rps']:.0f} reports/s "
        f"({speed['mentions']} mentions; {speed['ratio']:.1f}x tokenisation; pipeline build {speed['build_s']:.2f}s)\n"
        f"CPU time      : tokenise {speed['tokenise_cpu_s']:.2f}s, extract {speed['extract_cpu_s']:.2f}s "
        f"= {speed['extract_cpu_rps']:.0f} reports per CPU-second ({speed['cpu_ratio']:.1f}x tokenisation)\n"
        f"peak RSS      : {speed['peak_rss_mb']:.0f} MiB"
    )
    if args.repeat:
        stream = bench_stream(reports, args.repeat, args.batch_size)
        print(
            f"stream x{args.repeat}    : {stream['reports']} reports in {stream['seconds']:.1f}s ({stream['rps']:.0f} reports/s, "
            f"{stream['cpu_rps']:.0f} per CPU-second); "
            f"RSS after 1x {stream['rss_after_1x_mb']:.0f} MiB, after {args.repeat}x {stream['rss_after_last_mb']:.0f} MiB, "
            f"max {stream['rss_max_mb']:.0f} MiB (growth {stream['rss_growth_mb']:+.0f} MiB)"
        )
    if args.negex:
        neg = bench_negex(args.negex)
        print(
            f"NegEx dev     : {neg['sentences']} sentences ({neg['target_not_found']} targets not found verbatim); "
            f"accuracy {neg['accuracy']:.3f}; Negated P {neg['negated_precision']:.3f} R {neg['negated_recall']:.3f} "
            f"F1 {neg['negated_f1']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
