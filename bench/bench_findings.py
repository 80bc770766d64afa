"""Benchmark the findings extractor against a plain spaCy labeler: throughput, memory, NegEx accuracy.

    .venv/bin/python bench/bench_findings.py                      # all 3,851 IU reports, 3 rounds, 10x stream
    .venv/bin/python bench/bench_findings.py --repeat 0 --negex   # skip the stream, add NegEx accuracy

Measures, in one process:
1. spaCy tokenisation alone (blank English `nlp.pipe`) over every report text: the floor;
2. the **plain labeler** baseline: blank English + `sentencizer` + `entity_ruler` holding the CheXpert
   mention phrases (`../shared/data/lexicons/chexpert/phrases/mention/*.txt`, matched on LOWER) +
   negspacy's `negex`; per report, a label is 1 when one of its mentions is not negated, 0 when all
   are negated;
3. radprm: `FindingsExtractor.extract_many` + `report_labels(..., "chexpert")` on the same texts;
   `--rounds` times, interleaved with the baseline (baseline, radprm, baseline, radprm, ...), each
   radprm round starting from an empty sentence cache. Printed: reports/s of both per round (wall
   and CPU) and the ratio radprm / baseline (>= 0.5 is the goal); the summary uses the median;
4. peak RSS, and RSS sampled while streaming the reports `--repeat` times end to end (generated
   lazily, never held in a list): it must stay flat from 1x to the last;
5. optionally, assertion accuracy on the NegEx dev sentences (Affirmed vs Negated).

Reading the CSV is not timed. The baseline needs negspacy (`pip install negspacy`; bench extra).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
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


# -- the plain labeler baseline -------------------------------------------------------------------
def plain_labeler(lexicon: Path):  # noqa: ANN201 - a spaCy Language
    """blank English + sentencizer + EntityRuler (CheXpert mention phrases, LOWER) + negspacy."""
    import spacy

    try:
        import negspacy.negation  # noqa: F401 - registers the "negex" factory
    except ImportError:
        raise SystemExit("the baseline needs negspacy: .venv/bin/pip install negspacy") from None
    patterns = []
    for path in sorted((lexicon / "phrases" / "mention").glob("*.txt")):
        label = path.stem.upper()
        patterns += [
            {"label": label, "pattern": p.strip()} for p in path.read_text(encoding="utf-8").splitlines() if p.strip()
        ]
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"}).add_patterns(patterns)
    nlp.add_pipe("negex", config={"ent_types": sorted({p["label"] for p in patterns})})
    return nlp


def plain_labels(nlp, texts: list[str], batch_size: int) -> tuple[int, int]:  # noqa: ANN001
    """Label every text with the plain labeler; returns (reports, mentions)."""
    n = mentions = 0
    for doc in nlp.pipe(texts, batch_size=batch_size):
        labels: dict[str, int] = {}
        for ent in doc.ents:
            value = 0 if ent._.negex else 1
            if labels.get(ent.label_, -1) < value:
                labels[ent.label_] = value
        n += 1
        mentions += len(doc.ents)
    return n, mentions


def radprm_labels(ex, reports: list, batch_size: int) -> tuple[int, int]:  # noqa: ANN001
    """Label every report with radprm (extract_many + CheXpert report labels); returns (reports, mentions)."""
    from radprm.validators.findings import report_labels

    n = mentions = 0
    for _, findings in ex.extract_many(reports, batch_size=batch_size):
        report_labels(findings, "chexpert", rules=ex.rules)
        n += 1
        mentions += len(findings)
    return n, mentions


def _timed(fn, *args) -> tuple[tuple[int, int], float, float]:  # noqa: ANN001
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def bench_versus(reports: list, rounds: int, batch_size: int, lexicon: Path) -> dict:
    """Tokenisation floor, then baseline and radprm interleaved `rounds` times on the same texts."""
    import spacy

    from radprm.validators.findings import FindingsExtractor

    texts = [r.text for r in reports]
    tok = spacy.blank("en")
    (n_tokens, _), t_tok, c_tok = _timed(lambda: (sum(len(d) for d in tok.pipe(texts, batch_size=batch_size)), 0))

    t0 = time.perf_counter()
    base = plain_labeler(lexicon)
    t_base_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    ex = FindingsExtractor()
    t_build = time.perf_counter() - t0
    plain_labels(base, texts[:50], batch_size)  # warm both (lazy imports, vocab)
    radprm_labels(ex, reports[:50], batch_size)

    rows = []
    for k in range(rounds):
        if hasattr(ex, "clear_cache"):
            ex.clear_cache()  # every radprm round starts cold
        (nb, mb), tb, cb = _timed(plain_labels, base, texts, batch_size)
        (nr, mr), tr, cr = _timed(radprm_labels, ex, reports, batch_size)
        rows.append(
            {
                "round": k + 1,
                "base_rps": nb / tb,
                "base_cpu_rps": nb / cb,
                "radprm_rps": nr / tr,
                "radprm_cpu_rps": nr / cr,
                "ratio": (nr / tr) / (nb / tb),
                "cpu_ratio": (nr / cr) / (nb / cb),
                "base_mentions": mb,
                "radprm_mentions": mr,
                "load": os.getloadavg()[0],
            }
        )
    return {
        "reports": len(texts),
        "tokens": n_tokens,
        "tokenise_s": t_tok,
        "tokenise_cpu_s": c_tok,
        "build_s": t_build,
        "base_build_s": t_base_build,
        "rows": rows,
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
    parser.add_argument(
        "--lexicon", type=Path, default=SHARED / "data/lexicons/chexpert", help="CheXpert lexicon folder (baseline)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved baseline / radprm rounds")
    parser.add_argument("--repeat", type=int, default=10, help="stream the reports this many times (0: skip)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--negex", nargs="?", const=SHARED / "data/negex/negex_annotations_dev.tsv", type=Path, default=None
    )
    args = parser.parse_args(argv)
    if not args.reports.exists():
        print(f"needs {args.reports} (the shared data folder beside the repo)", file=sys.stderr)
        return 2

    from radprm.readers import read_reports

    reports = list(read_reports(args.reports))
    load = os.getloadavg()[0]
    print(f"reports read: {len(reports)} from {args.reports}; load average {load:.1f} on {os.cpu_count()} CPUs")
    if args.rounds:
        v = bench_versus(reports, args.rounds, args.batch_size, args.lexicon)
        n = v["reports"]
        print(
            f"tokenise only : {v['tokenise_s']:.2f}s = {n / v['tokenise_s']:.0f} reports/s ({v['tokens']} tokens); "
            f"build: plain labeler {v['base_build_s']:.2f}s, radprm {v['build_s']:.2f}s"
        )
        print(
            f"{'round':>5} {'plain rps':>10} {'radprm rps':>11} {'ratio':>6}   {'plain cpu':>9} "
            f"{'radprm cpu':>10} {'ratio':>6}  {'load':>5}  mentions plain/radprm"
        )
        for r in v["rows"]:
            print(
                f"{r['round']:>5} {r['base_rps']:>10.0f} {r['radprm_rps']:>11.0f} {r['ratio']:>6.2f}   "
                f"{r['base_cpu_rps']:>9.0f} {r['radprm_cpu_rps']:>10.0f} {r['cpu_ratio']:>6.2f}  {r['load']:>5.1f}  "
                f"{r['base_mentions']}/{r['radprm_mentions']}"
            )
        med = lambda key: statistics.median(r[key] for r in v["rows"])  # noqa: E731
        print(
            f"median        : plain labeler {med('base_rps'):.0f} reports/s, radprm {med('radprm_rps'):.0f} reports/s, "
            f"ratio radprm/plain {med('ratio'):.2f} (CPU: {med('base_cpu_rps'):.0f} vs {med('radprm_cpu_rps'):.0f} "
            f"reports per CPU-second, ratio {med('cpu_ratio'):.2f}); goal >= 0.5\n"
            f"peak RSS      : {v['peak_rss_mb']:.0f} MiB"
        )
    if args.repeat:
        stream = bench_stream(reports, args.repeat, args.batch_size)
        print(
            f"stream x{args.repeat}    : {stream['reports']} reports in {stream['seconds']:.1f}s "
            f"({stream['rps']:.0f} reports/s, "
            f"{stream['cpu_rps']:.0f} per CPU-second); "
            ""
            f"RSS after 1x {stream['rss_after_1x_mb']:.0f} MiB, after {args.repeat}x "
            f"{stream['rss_after_last_mb']:.0f} MiB, "
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
