"""Benchmark `review queue` and `review apply` on synthetic shards (time and peak memory).

Usage:
    .venv/bin/python bench/bench_review.py --items 50000 --decisions 5000

Builds a shard folder of `--items` realistic items (radprm.shards.testing.make_items) in a temp dir,
then times build_queue (default options, batch size 50) and apply_decisions of one decisions file
with `--decisions` lines. Peak RSS is read from the OS after each phase (ru_maxrss, so it only grows).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from radprm.review import apply_decisions, build_queue
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item


def rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Build synthetic shards, then time queue and apply."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--decisions", type=int, default=5_000)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shards, queue = Path(tmp) / "shards", Path(tmp) / "queue"
        t = time.perf_counter()
        with ShardWriter(shards, card=False) as writer:
            for i in range(args.items):
                writer.write(make_item(i))
        print(f"write {args.items} items: {time.perf_counter() - t:.1f}s (rss {rss_mib():.0f} MiB)")

        t = time.perf_counter()
        summary = build_queue(shards, queue, limit=args.limit)
        dt = time.perf_counter() - t
        print(f"queue: {summary.total} items in {len(summary.batches)} batches, {dt:.1f}s "
              f"({args.items / dt:,.0f} items/s read), peak rss {rss_mib():.0f} MiB")

        lines = []
        for path in summary.batches:
            for line in path.read_text().splitlines():
                rec = json.loads(line)
                for step in rec["steps"]:
                    lines.append({"item_id": rec["item_id"], "step_index": step["index"],
                                  "decision": "bad" if len(lines) % 3 == 0 else "good", "reviewer": "bench",
                                  "reviewed_at": "2026-11-23T18:00:00Z"})
                    if len(lines) >= args.decisions:
                        break
                if len(lines) >= args.decisions:
                    break
            if len(lines) >= args.decisions:
                break
        decisions = Path(tmp) / "decisions.jsonl"
        decisions.write_text("".join(json.dumps(d) + "\n" for d in lines))
        t = time.perf_counter()
        result = apply_decisions(shards, [decisions])
        dt = time.perf_counter() - t
        print(f"apply: {result.written} decisions over {args.items} items, {dt:.1f}s, peak rss {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
