"""Benchmark: QA report generation with charts and a run comparison over the 100k-item bench shard set.

The shard set is the one `bench_shards.py` builds (items from the real IU reports through
`radprm.shards.testing.item_from_report`, `max_rows=25_000`), written once into `--work` (reused when
it is already there). Timed in one process, one after the other: the charts alone, the comparison
alone, `qa(..., expectations=False)` without and with charts, and with `compare=`; sizes of the HTML
report and of its largest chart.

    .venv/bin/python bench/bench_qa_report.py --items 100000 --work /tmp/radprm-bench-qa

Prints one JSON line and a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_shards import SHARED, load_reports  # noqa: E402  (the same items as the shards benchmark)


def build(out: Path, n: int, start: int = 0) -> None:
    """Write `n` items from the IU reports into `out` (skipped when a complete set is there)."""
    from radprm.shards import ShardWriter
    from radprm.shards.manifest import load_manifest
    from radprm.shards.testing import item_from_report

    if (out / "manifest.json").is_file() and sum(s.rows for s in load_manifest(out).shards) == n:
        return
    shutil.rmtree(out, ignore_errors=True)
    reports = load_reports()
    with ShardWriter(out, max_rows=25_000, card=False) as writer:
        for i in range(start, start + n):
            uid, findings, impression, images = reports[i % len(reports)]
            writer.write(item_from_report(uid, findings, impression, index=i, image_paths=images))


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, round(time.perf_counter() - t, 2)


def main() -> None:
    """Build (or reuse) the shard sets, then time charts, comparison and report generation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--other-items", type=int, default=25_000, help="Items of the run compared against.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/radprm-bench-qa"))
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"needs the IU X-ray reports at {SHARED}")
    from radprm.qa import qa
    from radprm.qa.charts import build_charts
    from radprm.qa.compare import compare_runs

    main_dir, other_dir = args.work / f"shards-{args.items}", args.work / f"shards-other-{args.other_items}"
    _, build_s = timed(build, main_dir, args.items)
    build(other_dir, args.other_items, start=args.items)  # other reports' questions: a different run
    result: dict = {"items": args.items, "other_items": args.other_items, "build_s": build_s}
    _, result["vl_convert_start_s"] = timed(build_charts, other_dir, only_card=True)  # first render starts V8
    charts, result["charts_s"] = timed(build_charts, main_dir)
    result["charts"] = len(charts)
    result["bars"] = sum(c.marks for c in charts)
    result["largest_svg_kb"] = round(max(len(c.svg) for c in charts) / 1024, 1)
    _, result["compare_s"] = timed(compare_runs, main_dir, other_dir)
    _, result["qa_no_charts_s"] = timed(qa, main_dir, expectations=False, charts=False, card=False)
    _, result["qa_charts_s"] = timed(qa, main_dir, expectations=False, card=False)
    _, result["qa_charts_card_compare_s"] = timed(qa, main_dir, expectations=False, compare=other_dir)
    html = main_dir / "qa" / "report.html"
    result["html_kb"] = round(html.stat().st_size / 1024, 1)
    result["md_charts_kb"] = round(sum(p.stat().st_size for p in (main_dir / "qa" / "charts").glob("*.svg")) / 1024, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))
    print("\n| items | charts (bars) | charts s | compare s | qa no charts s | qa + charts s | qa + charts + card "
          "+ compare s | report.html KiB | largest chart KiB | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    r = result
    print(f"| {r['items']:,} | {r['charts']} ({r['bars']}) | {r['charts_s']} | {r['compare_s']} "
          f"| {r['qa_no_charts_s']} | {r['qa_charts_s']} | {r['qa_charts_card_compare_s']} | {r['html_kb']} "
          f"| {r['largest_svg_kb']} | {r['peak_rss_mb']} |")


if __name__ == "__main__":
    main()
