"""Mining job throughput: pipeline overhead (fake server), cache replay, no-op resume, or a real server.

Usage (from the repo root):

    .venv/bin/python bench/bench_mine.py --reports 500               # fake server, no model latency
    .venv/bin/python bench/bench_mine.py --reports 20 --base-url http://127.0.0.1:PORT/v1 --max-tokens 256

With the fake server (tests/fakes/openai_server.py, answers instantly) the numbers are radprm's own
cost per item: findings extraction, question building, three calls through the client, step
validation, ledger and shard writes. Three runs are timed: a fresh job, a second job sharing the request
cache (every call a cache hit: what rebuilding after a crash costs), and a no-op `--resume` of the first.
With `--base-url`, one fresh job against that server is timed and its token throughput reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IU = ROOT.parent / "shared" / "data" / "iu-xray" / "indiana_reports.csv"
sys.path.insert(0, str(ROOT / "tests"))


def _job(base_url: str, run_dir: Path, args: argparse.Namespace, **kw):
    from radprm.miners.job import mine

    t0 = time.perf_counter()
    summary = mine(IU, run_dir=run_dir, base_url=base_url, model=args.model, tasks=args.tasks.split(","),
                   questions_per_report=args.questions_per_report, limit=args.reports, max_tokens=args.max_tokens,
                   concurrency=args.concurrency, timeout=600, **kw)
    return summary, time.perf_counter() - t0


def _row(name: str, summary, wall: float) -> dict:
    m = summary.metrics.as_dict()
    return {
        "run": name, "wall_s": round(wall, 2), "items": summary.items_this_session,
        "items_per_s": round(summary.items_this_session / wall, 2) if wall else None,
        "requests": m["requests"], "cache_hits": m["cache_hits"],
        "completion_tokens": m["completion_tokens"],
        "completion_tok_per_s": round(m["completion_tokens"] / wall, 1) if wall else None,
        "request_p50_s": m["request_latency_s"]["p50"], "request_p90_s": m["request_latency_s"]["p90"],
        "quarantined": summary.quarantined,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reports", type=int, default=200)
    p.add_argument("--questions-per-report", type=int, default=2)
    p.add_argument("--tasks", default="single,binary,multi_label,temporal")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--base-url", default=None, help="a real server; default: the in-process fake server")
    p.add_argument("--model", default="smollm2")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.base_url:
            summary, wall = _job(args.base_url, tmp / "run", args)
            rows.append(_row("real server, fresh job", summary, wall))
        else:
            from fakes.openai_server import FakeOpenAIServer

            with FakeOpenAIServer() as server:
                cache = tmp / "cache.sqlite"
                summary, wall = _job(server.base_url, tmp / "a", args, cache=cache)
                rows.append(_row("fresh job", summary, wall))
                summary, wall = _job(server.base_url, tmp / "b", args, cache=cache)
                rows.append(_row("new job, all answers cached", summary, wall))
                summary, wall = _job(server.base_url, tmp / "a", args, cache=cache, resume=True)
                rows.append(_row("no-op --resume", summary, wall))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        print(json.dumps(row))
    print(json.dumps({"peak_rss_mib": round(peak, 1)}))


if __name__ == "__main__":
    main()
