"""Benchmark: peak RSS (VmHWM) and rows/s of `ShardWriter` from 10k to 1M items; ids off the Python heap.

Items are synthetic (`radprm.shards.testing.make_items`, no model): a pool of 1,000 distinct items is
built once and each written item is a copy with a fresh `item_id`, so the time measured is the writer's
(validation-free `Item` -> row, Parquet, id index), not the factory's. Each size runs in a fresh
process, so its peak RSS is its own. After writing, the same process re-opens the directory as a
resumed writer (the index is rebuilt from the shards) and writes the first 1,000 items again, which must
all be skipped as duplicates.

`--id-set python` swaps the on-disk `IdIndex` for a plain Python set (what the writer held before issue
15), to show in the same run what the index saves.

    .venv/bin/python bench/bench_writer_memory.py --sizes 10000 100000 1000000 --id-set both

Prints one JSON line per run and a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POOL = 1_000


def vm_hwm_mb() -> float:
    """Peak resident set size of this process (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class PySet(set):
    """The writer's id set before issue 15: a Python set with the `IdIndex` methods the writer calls."""

    def add(self, item_id: str) -> bool:  # type: ignore[override]
        if item_id in self:
            return False
        super().add(item_id)
        return True

    def add_new(self, ids: list[str]) -> list[str]:
        clash = sorted(self.intersection(ids))
        if not clash:
            self.update(ids)
        return clash

    def discard_many(self, ids: list[str]) -> None:
        self.difference_update(ids)

    def close(self) -> None:
        pass


def run_one(n: int, work: Path, id_set: str) -> dict:
    """Write `n` items into `work`, re-open it and re-write 1,000 of them; return timings and peak RSS."""
    import radprm.shards.writer as writer_mod
    from radprm.shards import ShardWriter, verify
    from radprm.shards.testing import make_items, stable_id

    if id_set == "python":
        writer_mod.IdIndex = PySet  # type: ignore[misc,assignment]
    pool = make_items(POOL)
    rss_start = vm_hwm_mb()

    def items(count: int):
        for i in range(count):
            yield pool[i % POOL].model_copy(update={"item_id": stable_id("bench", i)})

    t0 = time.perf_counter()
    with ShardWriter(work, card=False) as writer:
        written = writer.write_many(items(n))
        shards = len(writer.stats.shards) + (1 if writer._shard_rows or writer._buffer else 0)
    write_s = time.perf_counter() - t0
    rss_write = vm_hwm_mb()
    t1 = time.perf_counter()
    with ShardWriter(work, card=False) as writer:
        reopen_s = time.perf_counter() - t1
        again = writer.write_many(items(POOL))
        skipped = writer.stats.duplicates_skipped
    rss_resume = vm_hwm_mb()
    ok = verify(work, check_sha=False).ok  # last: verify keeps a dict of every id (not part of the writer)
    return dict(
        items=n, id_set=id_set, written=written, shards=shards, write_s=round(write_s, 2),
        rows_per_s=round(n / write_s), reopen_s=round(reopen_s, 2), rewritten=again, duplicates_skipped=skipped,
        peak_rss_mb_after_setup=round(rss_start, 1), peak_rss_mb_write=round(rss_write, 1),
        peak_rss_mb_resume=round(rss_resume, 1), verify_ok=ok, loadavg=os.getloadavg()[0],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--id-set", choices=["index", "python", "both"], default="index")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_one(args.child, args.work, args.id_set)))
        return
    kinds = ["index", "python"] if args.id_set == "both" else [args.id_set]
    results = []
    for n in args.sizes:
        for kind in kinds:
            work = Path(tempfile.mkdtemp(prefix="radprm-bench-wmem-"))
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(n), "--work", str(work / "shards"), "--id-set", kind],
                    check=True, capture_output=True, text=True,
                ).stdout
            finally:
                shutil.rmtree(work, ignore_errors=True)
            result = json.loads(out.strip().splitlines()[-1])
            print(json.dumps(result), flush=True)
            results.append(result)
    print()
    print("| items | id set | rows/s | peak RSS MiB (write / + resume) | re-open s | shards | verify | load avg |")
    print("|---:|---|---:|---:|---:|---:|---|---:|")
    for r in results:
        print(f"| {r['items']:,} | {r['id_set']} | {r['rows_per_s']:,} | {r['peak_rss_mb_write']} / "
              f"{r['peak_rss_mb_resume']} | {r['reopen_s']} | {r['shards']} | "
              f"{'ok' if r['verify_ok'] else 'FAIL'} | {r['loadavg']:.2f} |")


if __name__ == "__main__":
    main()
