"""Benchmark: PRM quality by training label source, scored on the natural-chain test split.

Trains one PRM per training set with the same model, steps and seed (`radprm.training.train_prm`, TRL
PRMTrainer) and scores each on the natural-chain dev set's **test** split with its gold step labels
(`radprm.training.eval_prm`). No training set holds a test-split report (they are excluded by id).

Training sets (each a TRL stepwise file, the `radprm export trl` layout):
- `report`       natural *tune* chains labelled by the report-grounded step validator (`radprm validate` table)
- `gold`         the same chains with the annotators' gold labels (upper bound for these chains)
- `perturb-only` a perturbation stepset (`radprm eval stepset --split tune`): faithful steps + corruptions,
                 labels by construction (negatives are perturbations only, never natural errors)
- `NAME=FILE`    any further TRL file, e.g. `rollout=runs/x/prm_trl_rollout.jsonl` or
                 `agree=runs/x/prm_trl_agree.jsonl` from `radprm export trl --labels ...` (issue 14 part A)

With `--rollouts SHARDS` (the shards `radprm label rollouts` wrote for natural tune chains, e.g. from
`bench/bench_rollouts.py`'s shard builder), three more sets over exactly the chains in those shards, each
with the report prompt the other sets have (the rollout shards carry no report text, so they are not
exported with `radprm export trl`; the labels are fused with the exporter's own rule, `radprm.exports.labels.fuse`):
- `report@rollouts`  the step validator's labels on those chains only (like for like with the two below)
- `rollout`          `mc_label` (Math-Shepherd hard label; a step that was not labelled is masked)
- `agree`            the validator's label where it equals `mc_label`, masked elsewhere
and the bad-label precision / recall of `mc_label` (and the fusions) against the gold *tune* labels.

Prints one JSON object and a Markdown table.

    .venv/bin/python bench/bench_prm.py --validated runs/prm/nat_validated.parquet --stepset runs/prm/stepset \
        --rollouts runs/prm/rollouts/n4/shards --model tiny --steps 60 --batch-size 8 --out runs/bench-prm-tiny

(BENCHMARKS.md, "PRM trained on radprm labels", has the commands that build the inputs.)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from radprm.training import eval_prm, step_labels, train_prm, trl_from_chains

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ROLLOUT_SETS = ("report@rollouts", "rollout", "agree")
"""Sets built from `--rollouts` shards: fusion source per set name (`report@rollouts` is the `report` source)."""


def rollout_label_tables(shards: Path, out: Path, gold: dict[tuple[str, int], bool | None]) -> tuple[dict, dict]:
    """Write one step-label table per ROLLOUT_SETS name (the `radprm validate` layout) from labelled shards.

    A masked step is written with verdict `unsure` (read back as no label). Returns the table paths by set
    name and the bad-label quality of each source against `gold` (scored steps of the chains in the shards).
    """
    from bench_rollouts import prf

    from radprm.exports.labels import fuse
    from radprm.shards import read_items

    rows: dict[str, list[dict]] = {name: [] for name in ROLLOUT_SETS}
    pairs: dict[str, list] = {source: [] for source in ("rollout", "report", "agree", "any-bad")}
    for item in read_items(shards):
        for s in item.steps:
            report = None if s.verdict == "unsure" else s.label
            for name in ROLLOUT_SETS:
                label = fuse(report, s.mc_label, name.partition("@")[0])
                rows[name].append({"chain_id": item.item_id, "step_index": s.index, "label": bool(label),
                                   "verdict": "unsure" if label is None else name})
            g = gold.get((item.item_id, s.index))
            if g is not None:
                for source in pairs:
                    pairs[source].append((fuse(report, s.mc_label, source), g))
    if not rows["rollout"]:
        raise SystemExit(f"{shards}: no labelled items")
    paths = {}
    for name, table in rows.items():
        paths[name] = out / f"labels_{name.replace('@', '_')}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in table))
    return paths, {source: prf(p) for source, p in pairs.items()}


def main() -> None:
    """Build the training sets, train and score one PRM per set, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--natural", type=Path, default=SHARED / "data" / "natural-chains")
    ap.add_argument("--reports", type=Path, default=SHARED / "data" / "iu-xray" / "indiana_reports.csv")
    ap.add_argument("--validated", type=Path, default=None,
                    help="`radprm validate` table of the natural chains (sets report, gold)")
    ap.add_argument("--stepset", type=Path, default=None,
                    help="`radprm eval stepset --split tune` folder (set perturb-only)")
    ap.add_argument("--rollouts", type=Path, default=None,
                    help="labelled shards of natural tune chains (`radprm label rollouts`): adds sets "
                         + ", ".join(ROLLOUT_SETS))
    ap.add_argument("--extra", action="append", default=[], help="NAME=TRL_FILE, e.g. rollout=..., agree=...")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-prm"))
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--freeze-layers", type=int, default=0)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--max-length", type=int, default=768)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="comma-separated subset of the set names")
    args = ap.parse_args()

    chains, expected = args.natural / "chains.jsonl", args.natural / "expected.jsonl"
    test_chains = {c for c, _ in step_labels(expected, split="test")}
    test_reports = {json.loads(line)["report_id"] for line in chains.read_text().splitlines()
                    if json.loads(line)["chain_id"] in test_chains}
    args.out.mkdir(parents=True, exist_ok=True)
    sets: dict[str, tuple[Path, dict]] = {}
    base = []
    if args.validated:
        base += [("report", args.validated, chains), ("gold", expected, chains)]
    if args.stepset:
        base.append(("perturb-only", args.stepset / "expected.jsonl", args.stepset / "chains.jsonl"))
    for name, labels, src in base:
        path = args.out / f"train_{name}.jsonl"
        counts = trl_from_chains(src, labels, path, reports=args.reports, exclude_reports=test_reports)
        sets[name] = (path, counts)
    quality = None
    if args.rollouts:
        tune_gold = step_labels(expected, split="tune")
        tables, quality = rollout_label_tables(args.rollouts, args.out, tune_gold)
        print(json.dumps({"rollout_label_quality": quality}), flush=True)
        for name, table in tables.items():
            path = args.out / f"train_{name.replace('@', '_')}.jsonl"
            counts = trl_from_chains(chains, table, path, reports=args.reports, exclude_reports=test_reports)
            sets[name] = (path, counts)
    for spec in args.extra:
        name, _, file = spec.partition("=")
        sets[name] = (Path(file), {})
    if args.only:
        keep = set(args.only.split(","))
        sets = {k: v for k, v in sets.items() if k in keep}

    results = []
    for name, (path, counts) in sets.items():
        t0 = time.perf_counter()
        ckpt = args.out / f"prm_{name}"
        summary = train_prm(path, ckpt, model=args.model, steps=args.steps, batch_size=args.batch_size,
                            learning_rate=args.lr, max_length=args.max_length, seed=args.seed,
                            freeze_layers=args.freeze_layers, overwrite=True, logging_steps=5)
        r = eval_prm(ckpt, chains, gold=expected, reports=args.reports, split="test", max_length=args.max_length)
        results.append({"set": name, "train": counts or {"file": str(path)}, "train_chains": summary.chains,
                        "train_labels": summary.step_labels, "loss_start": summary.loss_start,
                        "loss_end": summary.loss_end, "train_s": summary.seconds, **r.as_dict(),
                        "total_s": round(time.perf_counter() - t0, 1)})
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"model": args.model, "freeze_layers": args.freeze_layers, "steps": args.steps,
                      "batch_size": args.batch_size, "seed": args.seed, "rollout_label_quality": quality,
                      "results": results}, indent=2))
    print("\n| training labels | chains (good/bad steps) | loss start -> end | AUROC | accuracy | bad F1 | "
          "first-error F1 |\n|---|---|---|---|---|---|---|")
    for x in results:
        lab = x["train_labels"]
        f = x["first_error"]
        print(f"| {x['set']} | {x['train_chains']} ({lab['good']}/{lab['bad']}) | {x['loss_start']:.3f} -> "
              f"{x['loss_end']:.3f} | {x['auroc']} | {x['accuracy']} | {x['f1_bad']} | {f['f1']} |")
    if quality:
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print("\n| labels vs gold (tune, scored steps) | steps | decided | flagged bad | gold bad | precision | recall "
              "| F1 |\n|---|---|---|---|---|---|---|---|")
        for source, q in quality.items():
            print(f"| {source} | {q['steps']} | {q['decided']} | {q['flagged']} | {q['gold_bad']} | "
                  f"{fmt(q['precision'])} | {fmt(q['recall'])} | {fmt(q['f1'])} |")


if __name__ == "__main__":
    main()
