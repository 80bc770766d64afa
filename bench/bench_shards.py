"""Benchmark: write + verify + QA (SQL pack, Great Expectations) over N items built from real IU reports.

Items are synthetic (no LLM): each real report text gets questions with extracted-looking steps that
quote its sentences (`radprm.shards.testing.item_from_report`), cycling over the 3,851 reports. Each
size runs in a fresh subprocess so that its peak RSS is its own.

    .venv/bin/python bench/bench_shards.py --sizes 25000 100000

Prints one JSON line per size and a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "iu-xray"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_reports() -> list[tuple[str, str, str, list[str]]]:
    """(uid, findings, impression, image files) of every IU report."""
    images: dict[str, list[str]] = defaultdict(list)
    with (SHARED / "indiana_projections.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            images[row["uid"]].append(row["filename"])
    reports = []
    with (SHARED / "indiana_reports.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):  # MeSH / Problems are never read
            reports.append((row["uid"], row["findings"], row["impression"], images.get(row["uid"], [])))
    return reports


def run_one(n: int, work: Path) -> dict:
    """Write, verify, QA and export `n` items in `work`; return timings and peak RSS."""
    from radprm.qa.checks import run_checks
    from radprm.qa.expectations import run_expectations
    from radprm.shards import ShardWriter, verify
    from radprm.shards.testing import item_from_report

    reports = load_reports()
    build_seconds = 0.0

    def items():
        nonlocal build_seconds
        for i in range(n):
            t = time.perf_counter()
            uid, findings, impression, images = reports[i % len(reports)]
            item = item_from_report(uid, findings, impression, index=i, image_paths=images)
            build_seconds += time.perf_counter() - t
            yield item

    out = work / f"shards-{n}"
    result: dict = {"items": n}
    t0 = time.perf_counter()
    with ShardWriter(out, max_rows=25_000, card=False) as writer:
        writer.write_many(items())
    write_seconds = time.perf_counter() - t0 - build_seconds
    result.update(
        build_s=round(build_seconds, 1),
        write_s=round(write_seconds, 1),
        write_rows_per_s=round(n / write_seconds),
        shards=len(writer.stats.shards),
        bytes=sum(c.bytes for c in writer.stats.shards),
        rss_after_write_mb=round(peak_rss_mb()),
    )
    t = time.perf_counter()
    report = verify(out)
    assert report.ok, report.problems[:3]
    result["verify_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    checks = run_checks(out)
    result["qa_sql_s"] = round(time.perf_counter() - t, 1)
    result["qa_check_seconds"] = {c.check.name: round(c.seconds, 2) for c in checks}
    result["rss_after_qa_sql_mb"] = round(peak_rss_mb())
    t = time.perf_counter()
    gx = run_expectations(out)
    assert gx.success, [str(f) for f in gx.failures]
    result["gx_s"] = round(time.perf_counter() - t, 1)
    result["steps"] = gx.rows["steps"]
    result["qa_rows_per_s"] = round(n / (result["qa_sql_s"] + result["gx_s"]))
    from radprm.exports import export_trl

    t = time.perf_counter()
    summary = export_trl(out, work / f"trl-{n}.parquet", max_length=1024)
    result["export_trl_s"] = round(time.perf_counter() - t, 1)
    result["export_trl_truncated_labels"] = summary.extra["truncated_labels"]
    result["peak_rss_mb"] = round(peak_rss_mb())
    return result


def main() -> None:
    """Run each size in a fresh subprocess and print JSON lines plus a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help="Folder for the shards (default: a temp dir, removed).")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"needs the IU X-ray reports at {SHARED}")
    if args.one:
        work = args.work or Path(tempfile.mkdtemp(prefix="radprm-bench-"))
        try:
            print(json.dumps(run_one(args.one, work)))
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        return
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n)] + (["--work", str(args.work)] if args.work else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(
        "\n| items | steps | shards | MiB on disk | write rows/s | write peak RSS MiB | verify s | QA SQL s | GE s | "
        "QA rows/s | export trl s | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['items']:,} | {r['steps']:,} | {r['shards']} | {r['bytes'] / 2**20:.0f} | "
            f"{r['write_rows_per_s']:,} | "
            f"{r['rss_after_write_mb']} | {r['verify_s']} | {r['qa_sql_s']} | {r['gx_s']} | {r['qa_rows_per_s']:,} | "
            f"{r['export_trl_s']} | {r['peak_rss_mb']:,} |"
        )


if __name__ == "__main__":
    main()
