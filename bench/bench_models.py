"""Compare served models on the same mining job: answer reward, quarantine share, validator flag rate, cost.

Reads finished `radprm mine` run folders (same reports, tasks and options; one per model) and prints one
JSON object plus a Markdown table. `--show N` prints N chains per run (item id, report id, question,
steps with their labels) for a hand read on the terminal; report text is never written to a file.

    for m in smollm2 gemma3-270m; do
      radprm mine ../shared/data/iu-xray/indiana_reports.csv --run-dir runs/models/$m --limit 50 \
          --tasks single,multi_label,binary --questions-per-report 1 --max-tokens 256 --concurrency 8 \
          --timeout 300 --model $m --base-url URL_OF_$m
    done
    .venv/bin/python bench/bench_models.py runs/models/smollm2 runs/models/gemma3-270m
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from radprm.shards.reader import query


def run_figures(run_dir: Path) -> dict:
    """Figures of one mining run folder."""
    # summary.json is written when the job ends; a stopped job's figures come from its shards and ledger
    sfile = run_dir / "summary.json"
    summary = json.loads(sfile.read_text()) if sfile.is_file() else {}
    shards = run_dir / "shards"
    cols, rows = query(shards, """
        SELECT count(*), avg(answer_reward), avg(len(steps)),
               sum(len(list_filter(steps, lambda s: NOT s.label))), sum(len(steps)),
               sum(len(list_filter(steps, lambda s: s.verdict = 'unsure'))),
               sum(CASE WHEN first_bad_step >= 0 THEN 1 ELSE 0 END), any_value(model)
        FROM items""")
    n, reward, mean_steps, bad, steps, unsure, with_bad, model = rows[0]
    _, verdicts = query(shards, "SELECT s.verdict, count(*) FROM (SELECT unnest(steps) AS s FROM items) "
                                "GROUP BY 1 ORDER BY 2 DESC")
    q = Counter()
    qfile = run_dir / "quarantine" / "quarantine.jsonl"
    if qfile.is_file():
        for line in qfile.read_text().splitlines():
            rec = json.loads(line)
            q[f"{rec['stage']}/{rec['reason_code']}"] += 1
    mined_q = sum(v for k, v in q.items() if not k.startswith("read/"))  # read/* is the input, not the model
    planned = summary.get("items_planned") or n + mined_q
    client = summary.get("client", {})
    return {
        "run": str(run_dir), "model": model, "items_planned": planned, "items_written": n,
        "quarantined_items": mined_q, "quarantine_share": round(mined_q / planned, 4) if planned else None,
        "quarantine_reasons": dict(q.most_common()), "answer_reward_mean": None if reward is None else round(reward, 4),
        "steps_per_chain": None if mean_steps is None else round(mean_steps, 2), "steps": steps,
        "flag_rate": round(bad / steps, 4) if steps else None,
        "unsure_rate": round(unsure / steps, 4) if steps else None,
        "chains_with_a_bad_step": with_bad, "verdicts": dict(verdicts),
        "requests": client.get("requests"), "prompt_tokens": client.get("prompt_tokens"),
        "completion_tokens": client.get("completion_tokens"), "elapsed_s": summary.get("elapsed_s"),
    }


def show(run_dir: Path, n: int) -> None:
    """Print n chains of a run to the terminal (for a hand read; nothing is written)."""
    _, rows = query(run_dir / "shards", f"SELECT item_id, report_id, question, options, model_answer, answer, "
                                        f"answer_reward, steps FROM items ORDER BY item_id LIMIT {int(n)}")
    for item_id, report_id, question, options, model_answer, answer, reward, steps in rows:
        print(f"\n--- {run_dir.name} {item_id} (report {report_id}) reward={reward}")
        print(f"Q: {question} options={options} gold={answer} model={model_answer}")
        for s in steps:
            print(f"  [{'good' if s['label'] else 'BAD '} {s['verdict']}] {s['text']}")


def main() -> None:
    """Print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--show", type=int, default=0, help="print this many chains per run (terminal only)")
    args = ap.parse_args()
    figures = [run_figures(r) for r in args.runs]
    print(json.dumps(figures, indent=2))
    print("\n| model | items written / planned | answer reward (mean) | quarantined items | steps per chain | "
          "validator flag rate | unsure rate | completion tokens | seconds |\n|---|---|---|---|---|---|---|---|---|")
    for f in figures:
        print(f"| {f['model']} | {f['items_written']} / {f['items_planned']} | {f['answer_reward_mean']} | "
              f"{f['quarantined_items']} ({f['quarantine_share']}) | {f['steps_per_chain']} | {f['flag_rate']} | "
              f"{f['unsure_rate']} | {f['completion_tokens']} | {f['elapsed_s']} |")
    for r in args.runs:
        if args.show:
            show(r, args.show)


if __name__ == "__main__":
    main()
