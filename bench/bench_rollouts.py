"""Rollout step labels on the natural-chain dev set: mc_label against gold, and the cost per item at several N.

    .venv/bin/python bench/bench_rollouts.py --limit 30 --n 4 8 --cost-items 8

1. The first `--limit` chains of the `tune` split of ../shared/data/natural-chains/chains.jsonl are validated
   (`radprm validate` API: the report-grounded labels) and written as a shard directory (items with question,
   options, reference answer and validated steps; never committed: it holds IU report-derived text).
2. `radprm label rollouts` (API) labels them with the local server at each N (`--n`); the first N labels all
   `--limit` items, the others `--cost-items` items (cost only).
3. Bad-label precision and recall against the two-annotator gold (scored steps only) for the rollout labels, the
   report-grounded labels and their `agree` / `any-bad` fusions; cost per item (requests, tokens, seconds) per N.

Everything goes to `--out-dir` (results.json); the table is printed as Markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def build_shards(chains: list[dict], reports: Path, out_dir: Path) -> Path:
    """Validate the chains and write them as shard items (schema v2, no rollout labels yet)."""
    import pyarrow.parquet as pq

    from radprm import __version__
    from radprm.schemas.records import Evidence, Item, StepRecord
    from radprm.shards.writer import ShardWriter
    from radprm.validators.batch import validate_file

    subset = out_dir / "chains.jsonl"
    subset.write_text("".join(json.dumps(c) + "\n" for c in chains))
    validate_file(subset, reports, out_dir / "steps.parquet", progress=False)
    by_chain: dict[str, list[dict]] = defaultdict(list)
    for row in pq.read_table(out_dir / "steps.parquet").to_pylist():
        by_chain[row["chain_id"]].append(row)
    shards = out_dir / "shards"
    with ShardWriter(shards, card=False) as writer:
        for c in chains:
            rows = sorted(by_chain[c["chain_id"]], key=lambda r: r["step_index"])
            options = c["options"]
            task = ("single" if options == ["yes", "no"] else "binary" if set(options) == {"normal", "abnormal"}
                    else "multi_label")
            steps = [StepRecord(index=r["step_index"], text=r["step"], label=r["label"], verdict=r["verdict"],
                                reasons=r["reasons"], evidence=[Evidence(**e) for e in r["evidence"]],
                                score=r["score"]) for r in rows]
            first_bad = next((s.index for s in steps if not s.label and s.verdict != "unsure"), -1)
            writer.write(Item(item_id=c["chain_id"], report_id=c["report_id"], task=task, question=c["question"],
                              options=options, answer=c["answer"], steps=steps, first_bad_step=first_bad,
                              model="natural-chains", radprm_version=__version__,
                              created_at="2026-11-28T00:00:00Z", report_text=""))
    return shards


def prf(pairs: list[tuple[bool | None, bool]]) -> dict[str, float | int | None]:
    """Precision / recall / F1 of bad labels: pairs of (predicted good?, gold good); None predictions abstain."""
    decided = [(p, g) for p, g in pairs if p is not None]
    tp = sum(1 for p, g in decided if not p and not g)
    fp = sum(1 for p, g in decided if not p and g)
    fn = sum(1 for p, g in pairs if not g and p is not False)
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    f1 = 2 * prec * rec / (prec + rec) if prec and rec else None
    return {"steps": len(pairs), "decided": len(decided), "flagged": tp + fp, "gold_bad": tp + fn,
            "precision": prec, "recall": rec, "f1": f1}


def evaluate(shards: Path, expected: Path) -> dict[str, dict]:
    from radprm.exports.labels import fuse
    from radprm.shards import read_items

    gold = {}
    for line in expected.read_text().splitlines():
        row = json.loads(line)
        if row["scored"]:
            gold[(row["chain_id"], row["step_index"])] = bool(row["good"])
    pairs: dict[str, list] = defaultdict(list)
    for item in read_items(shards):
        for s in item.steps:
            g = gold.get((item.item_id, s.index))
            if g is None:
                continue
            report = None if s.verdict == "unsure" else s.label
            for source in ("rollout", "report", "agree", "any-bad"):
                pairs[source].append((fuse(report, s.mc_label, source), g))
    return {source: prf(p) for source, p in pairs.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", type=Path, default=SHARED / "data/natural-chains/chains.jsonl")
    ap.add_argument("--expected", type=Path, default=SHARED / "data/natural-chains/expected.jsonl")
    ap.add_argument("--reports", type=Path, default=SHARED / "data/iu-xray/indiana_reports.csv")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--n", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--cost-items", type=int, default=8)
    ap.add_argument("--search", default="linear")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out-dir", type=Path, default=ROOT / "runs" / "bench-rollouts")
    args = ap.parse_args(argv)

    from radprm.miners.rollouts import label_rollouts

    args.out_dir.mkdir(parents=True, exist_ok=True)
    chains = [c for c in map(json.loads, args.chains.read_text().splitlines()) if c["split"] == args.split]
    chains = chains[: args.limit]
    shards = args.out_dir / "shards"
    if not shards.exists():
        build_shards(chains, args.reports, args.out_dir)
    results: dict = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "chains": len(chains),
                     "split": args.split, "search": args.search, "max_tokens": args.max_tokens, "runs": {}}
    for k, n in enumerate(args.n):
        run_dir = args.out_dir / f"n{n}-{args.search}"
        items = None if k == 0 else args.cost_items
        t0 = time.perf_counter()
        summary = label_rollouts(shards, run_dir=run_dir, resume=(run_dir / "job.json").exists(), n=n,
                                 search=args.search, max_items=items, max_tokens=args.max_tokens,
                                 concurrency=args.concurrency, timeout=900, announce=print)
        entry = {"n": n, "items": summary.items_this_session, "per_item": summary.per_item(),
                 "wall_s": round(time.perf_counter() - t0, 1), "labels": dict(summary.labels),
                 "rollout_errors": dict(summary.rollout_errors), "budget": summary.budget.as_dict()}
        if k == 0:
            entry["quality"] = evaluate(run_dir / "shards", args.expected)
        results["runs"][str(n)] = entry
        (args.out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(entry, indent=2))
    print(render(results))
    return 0


def render(results: dict) -> str:
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["| N | items | requests / item | prompt tokens / item | completion tokens / item | seconds / item |",
             "|---|---|---|---|---|---|"]
    for entry in results["runs"].values():
        p = entry["per_item"]
        lines.append(f"| {entry['n']} | {entry['items']} | {p['requests']} | {p['prompt_tokens']} | "
                     f"{p['completion_tokens']} | {p['seconds']} |")
    first = next(iter(results["runs"].values()))
    if "quality" in first:
        lines += ["", f"bad-label quality on {results['chains']} {results['split']} chains (N={first['n']}):", "",
                  "| labels | scored steps | decided | flagged bad | gold bad | precision | recall | F1 |",
                  "|---|---|---|---|---|---|---|---|"]
        for source, q in first["quality"].items():
            lines.append(f"| {source} | {q['steps']} | {q['decided']} | {q['flagged']} | {q['gold_bad']} | "
                         f"{fmt(q['precision'])} | {fmt(q['recall'])} | {fmt(q['f1'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
