"""Reader throughput and peak memory at 1x and 10x the IU collection, per input format.

Usage (from the repo root):

    .venv/bin/python bench/bench_readers.py                      # iu, csv_text, jsonl, parquet, text_dir at 1x and 10x
    .venv/bin/python bench/bench_readers.py --scales 1 --formats iu,parquet

Inputs are generated in a temporary folder from ../shared/data/iu-xray/indiana_reports.csv (ids made
unique per copy) and deleted afterwards. Each measurement runs in a fresh Python process, so its peak
RSS is the reader's own (Python, pandas/pyarrow imports and spaCy when the sectionizer runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IU = ROOT.parent / "shared" / "data" / "iu-xray" / "indiana_reports.csv"
FORMATS = ("iu", "csv_text", "jsonl", "parquet", "text_dir", "write_parquet")


def _iu_rows() -> list[dict[str, str]]:
    with IU.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _report_text(row: dict[str, str]) -> str:
    parts = []
    if row["indication"]:
        parts.append(f"INDICATION: {row['indication']}")
    if row["findings"]:
        parts.append(f"FINDINGS: {row['findings']}")
    if row["impression"]:
        parts.append(f"IMPRESSION: {row['impression']}")
    return "\n".join(parts)


def make_inputs(folder: Path, scale: int, formats: list[str]) -> dict[str, Path]:
    """Write the benchmark inputs for one scale; returns format -> path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _iu_rows()
    copies = [{**row, "uid": f"{row['uid']}-{k}"} for k in range(scale) for row in rows]
    paths: dict[str, Path] = {}
    if "iu" in formats or "write_parquet" in formats:
        paths["iu"] = folder / f"iu_{scale}x.csv"
        with paths["iu"].open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(copies)
        paths["write_parquet"] = paths["iu"]
    if "csv_text" in formats:
        paths["csv_text"] = folder / f"text_{scale}x.csv"
        with paths["csv_text"].open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["report_id", "report"])
            writer.writerows([r["uid"], _report_text(r)] for r in copies)
    if "jsonl" in formats:
        paths["jsonl"] = folder / f"reports_{scale}x.jsonl"
        with paths["jsonl"].open("w", encoding="utf-8") as fh:
            for r in copies:
                fh.write(json.dumps({"report_id": r["uid"], "findings": r["findings"], "impression": r["impression"],
                                     "indication": r["indication"], "comparison": r["comparison"]}) + "\n")
    if "parquet" in formats:
        paths["parquet"] = folder / f"reports_{scale}x.parquet"
        table = pa.table({name: [r[name] for r in copies] for name in
                          ("uid", "findings", "impression", "indication", "comparison")})
        pq.write_table(table.rename_columns(["report_id", "findings", "impression", "indication", "comparison"]),
                       paths["parquet"])
    if "text_dir" in formats:
        paths["text_dir"] = folder / f"txt_{scale}x"
        paths["text_dir"].mkdir()
        for r in copies:
            (paths["text_dir"] / f"{r['uid']}.txt").write_text(_report_text(r), encoding="utf-8")
    return paths


def _peak_rss_mib() -> float:
    # VmHWM belongs to this process image; ru_maxrss would carry the forking parent's peak over exec
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(fmt: str, path: str) -> None:
    """Read (or read and write) one input completely and print a JSON result line."""
    from radprm.readers import read_reports

    start = time.perf_counter()
    if fmt == "write_parquet":
        from radprm.schemas.arrow import REPORT_SCHEMA
        from radprm.tables import write_table

        stream = read_reports(path)
        with tempfile.TemporaryDirectory() as tmp:
            n = write_table((r.model_dump() for r in stream), Path(tmp) / "out.parquet", schema=REPORT_SCHEMA)
    else:
        stream = read_reports(path, format="text" if fmt == "text_dir" else None)
        n = sum(1 for _ in stream)
    seconds = time.perf_counter() - start
    rss_mib = _peak_rss_mib()
    print(json.dumps({"reports": n, "read": stream.stats.read, "seconds": seconds, "peak_rss_mib": rss_mib}))


def main() -> None:
    """Run the benchmark matrix and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--worker", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    if not IU.exists():
        sys.exit(f"needs {IU}")
    formats = args.formats.split(",")
    print("| input | scale | rows | reports kept | seconds | reports/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            folder = Path(tmp) / f"x{scale}"
            folder.mkdir()
            paths = make_inputs(folder, scale, formats)
            for fmt in formats:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", fmt, str(paths[fmt])],
                    check=True, capture_output=True, text=True,
                ).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print(f"| {fmt} | {scale}x | {r['read']} | {r['reports']} | {r['seconds']:.2f} | "
                      f"{r['reports'] / r['seconds']:,.0f} | {r['peak_rss_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
