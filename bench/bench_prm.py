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

Prints one JSON object and a Markdown table.

    .venv/bin/python bench/bench_prm.py --validated runs/prm/nat_validated.parquet --stepset runs/prm/stepset \
        --model ~/.cache/radprm/models/smollm2-135m-instruct --freeze-layers 26 --steps 60 --batch-size 4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from radprm.training import eval_prm, step_labels, train_prm, trl_from_chains

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    """Build the training sets, train and score one PRM per set, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--natural", type=Path, default=SHARED / "data" / "natural-chains")
    ap.add_argument("--reports", type=Path, default=SHARED / "data" / "iu-xray" / "indiana_reports.csv")
    ap.add_argument("--validated", type=Path, required=True, help="`radprm validate` table of the natural chains")
    ap.add_argument("--stepset", type=Path, required=True, help="`radprm eval stepset --split tune` folder")
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
    for name, labels, src in (("report", args.validated, chains), ("gold", expected, chains),
                              ("perturb-only", args.stepset / "expected.jsonl", args.stepset / "chains.jsonl")):
        path = args.out / f"train_{name}.jsonl"
        counts = trl_from_chains(src, labels, path, reports=args.reports, exclude_reports=test_reports)
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
                      "batch_size": args.batch_size, "seed": args.seed, "results": results}, indent=2))
    print("\n| training labels | chains (good/bad steps) | loss start -> end | AUROC | accuracy | bad F1 | "
          "first-error F1 |\n|---|---|---|---|---|---|---|")
    for x in results:
        lab = x["train_labels"]
        f = x["first_error"]
        print(f"| {x['set']} | {x['train_chains']} ({lab['good']}/{lab['bad']}) | {x['loss_start']:.3f} -> "
              f"{x['loss_end']:.3f} | {x['auroc']} | {x['accuracy']} | {x['f1_bad']} | {f['f1']} |")


if __name__ == "__main__":
    main()
