"""`radprm mine --engine local` vs `--engine ray` items/s with an instant fake server (radprm's own cost).

Usage (from the repo root):

    .venv/bin/python bench/bench_engines.py --reports 600

Both engines mine the same made-up reports (tests/ray_support.py; no IU text) against the in-process fake
OpenAI server (answers instantly), each in a new run folder and cache. The Ray engine starts a local Ray
with `--num-cpus` CPUs (default: the machine's); its wall time includes starting Ray and its actors
(medspaCy loaded in each), which is reported separately from the steady part by a second, warm run on the
same Ray. Also reported: CPU seconds per item of the stages, measured in-process on the local engine's
parts (findings + questions, step validation).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

FINDINGS = [
    "The heart is enlarged.", "Heart size is normal.", "There is a small right pleural effusion.",
    "No pleural effusion.", "No pneumothorax.", "There is a small left apical pneumothorax.",
    "Patchy opacity in the left lower lobe.", "The lungs are clear.", "Mild pulmonary edema.",
    "Degenerative changes of the thoracic spine.", "Atelectasis at the right base.", "No focal consolidation.",
    "Calcified granuloma in the right upper lobe.", "Hyperinflated lungs.", "Mediastinal contours are normal.",
]


def reports_file(path: Path, n: int) -> Path:
    import csv

    rng = random.Random(0)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "findings", "impression"])
        for i in range(n):
            w.writerow([f"b{i:05d}", " ".join(rng.sample(FINDINGS, 4)), rng.choice(FINDINGS)])
    return path


def stage_cpu(reports: Path, n: int) -> dict[str, float]:
    """CPU seconds per item of findings+questions and of step validation (process time, in-process)."""
    from radprm.miners.chains import ChainOutcome
    from radprm.miners.config import MineConfig
    from radprm.miners.items import ItemBuilder
    from radprm.readers import read_reports
    from radprm.validators.findings import FindingsExtractor
    from radprm.validators.steps import StepValidator

    ex = FindingsExtractor()
    val = StepValidator(extractor=ex)
    cfg = MineConfig(model="smollm2", base_url="http://x/v1", tasks=["single", "binary"])
    builder = ItemBuilder(cfg, val, [], ["p@v1:x"], "run", None, ex.rules_version)
    reps = list(read_reports(reports, limit=n))
    t0 = time.process_time()
    works = [w for r, f in ex.extract_many(reps, batch_size=32) for w in builder.plan(r, f)]
    plan_s = time.process_time() - t0
    t0 = time.process_time()
    for w in works:  # a chain that restates the report's sentences (validation does real work)
        steps = [s.strip() + "." for s in w.report.text.split(".") if s.strip()][:4] or ["Normal."]
        builder.build(w, ChainOutcome(ok=True, steps=steps, model_answer=w.question.options[:1]))
    val_s = time.process_time() - t0
    return {"items": len(works), "findings_questions_cpu_ms_per_item": round(1000 * plan_s / len(works), 2),
            "validation_cpu_ms_per_item": round(1000 * val_s / len(works), 2)}


def main() -> None:
    from fakes.openai_server import FakeOpenAIServer

    from radprm.miners.job import mine

    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=600)
    ap.add_argument("--num-cpus", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="radprm-bench-engines-"))
    reports = reports_file(work / "reports.csv", args.reports)
    opts = dict(model="smollm2", tasks=["single", "binary"], questions_per_report=2, max_tokens=200,
                concurrency=args.concurrency, seed=1)
    rows = []
    with FakeOpenAIServer() as server:
        for name, engine, folder in (("local", "local", "local"), ("ray (cold: starts Ray + actors)", "ray", "ray1"),
                                     ("ray (warm Ray, new actors)", "ray", "ray2")):
            t0 = time.perf_counter()
            s = mine(reports, run_dir=work / folder, base_url=server.base_url, engine=engine, **opts)
            wall = time.perf_counter() - t0
            row = {"engine": name, "items": s.items_written, "wall_s": round(wall, 1),
                   "items_per_s": round(s.items_written / wall, 2), "requests": s.metrics.requests}
            rows.append(row)
            print(json.dumps(row), flush=True)
    import ray

    if ray.is_initialized():
        ray.shutdown()
    cpu = stage_cpu(reports, min(args.reports, 200))
    print(json.dumps(cpu))
    out = {"reports": args.reports, "rows": rows, "stage_cpu": cpu,
           "ray_cold_over_local": round(rows[1]["items_per_s"] / rows[0]["items_per_s"], 3),
           "ray_warm_over_local": round(rows[2]["items_per_s"] / rows[0]["items_per_s"], 3)}
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
