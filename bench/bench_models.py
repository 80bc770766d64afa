"""Compare served models on the same mining job: answer reward, quarantine share, validator flag rate, cost.

Reads finished `radprm mine` run folders (same reports, tasks and options; one per model) and prints one
JSON object plus a Markdown table. `--show N` prints N chains per run (item id, report id, question,
steps with their labels) for a hand read on the terminal; report text is never written to a file.
A run folder made by bench/run_models.sh also has bench.json (exit code, wall seconds, load average,
the server's token counters), which fills the cost columns when the job stopped before its summary.

    bash bench/run_models.sh runs/models smollm2=URL_OF_SMOLLM2 gemma3-270m=URL_OF_GEMMA
    .venv/bin/python bench/bench_models.py runs/models/smollm2 runs/models/gemma3-270m [--show 10]

`--write-exclude FILE` writes the report ids to keep out of such a job (`radprm mine --exclude-reports`):
the natural-chain evaluation reports and every IU report without a dev gold label, so that `--limit 50`
takes the first 50 reports of the IU dev split that no evaluation set uses.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from radprm.shards.reader import query

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_exclude(path: Path) -> int:
    """Write the report ids a model comparison leaves out (see the module doc); returns their count."""
    import csv

    iu = [r["uid"] for r in csv.DictReader(open(SHARED / "iu-xray" / "indiana_reports.csv", newline=""))]
    dev = {r["uid"] for r in csv.DictReader(open(SHARED / "labels" / "openi_chestxray14_dev.csv", newline=""))}
    evaluation = {str(json.loads(line)["report_id"])
                  for line in open(SHARED / "natural-chains" / "chains.jsonl") if line.strip()}
    out = sorted(evaluation | {u for u in iu if u not in dev}, key=lambda u: (len(u), u))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(u + "\n" for u in out))
    return len(out)


def run_figures(run_dir: Path) -> dict:
    """Figures of one mining run folder."""
    # summary.json is written when the job ends; a stopped job's figures come from its shards and ledger
    sfile = run_dir / "summary.json"
    summary = json.loads(sfile.read_text()) if sfile.is_file() else {}
    bfile = run_dir / "bench.json"
    bench = json.loads(bfile.read_text()) if bfile.is_file() else {}
    server = bench.get("server", {})
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
    # flagged steps (bad or unsure) by validator reason code; a step may carry several reasons
    _, flag_reasons = query(shards, """
        SELECT r, count(*) FROM (SELECT unnest(s.reasons) AS r FROM (SELECT unnest(steps) AS s FROM items)
                                 WHERE NOT s.label OR s.verdict = 'unsure') GROUP BY 1 ORDER BY 2 DESC""")
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
        "run": str(run_dir), "model": model or bench.get("model"), "exit_code": bench.get("exit_code"),
        "error": bench.get("error"), "load_min": bench.get("load_min"), "load_max": bench.get("load_max"),
        "items_planned": planned, "items_written": n,
        "quarantined_items": mined_q, "quarantine_share": round(mined_q / planned, 4) if planned else None,
        "quarantine_reasons": dict(q.most_common()), "answer_reward_mean": None if reward is None else round(reward, 4),
        "steps_per_chain": None if mean_steps is None else round(mean_steps, 2), "steps": steps,
        "flag_rate": round(bad / steps, 4) if steps else None,
        "unsure_rate": round(unsure / steps, 4) if steps else None,
        "chains_with_a_bad_step": with_bad, "verdicts": dict(verdicts), "flag_reasons": dict(flag_reasons),
        "requests": client.get("requests") or _int(sum(v for k, v in server.items()
                                                        if k.startswith("request_success_total:")) or None),
        "prompt_tokens": client.get("prompt_tokens") or _int(server.get("prompt_tokens_total")),
        "completion_tokens": client.get("completion_tokens") or _int(server.get("generation_tokens_total")),
        "server_finish_reasons": {k.split(":", 1)[1]: int(v) for k, v in server.items()
                                  if k.startswith("request_success_total:") and v},
        "elapsed_s": summary.get("elapsed_s") or bench.get("wall_s"),
    }


def _int(x: float | None) -> int | None:
    return None if x is None else int(x)


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
    ap.add_argument("runs", nargs="*", type=Path)
    ap.add_argument("--show", type=int, default=0, help="print this many chains per run (terminal only)")
    ap.add_argument("--write-exclude", type=Path, help="write the report ids to leave out (see above) and stop")
    args = ap.parse_args()
    if args.write_exclude:
        print(f"{write_exclude(args.write_exclude)} report ids -> {args.write_exclude}")
        return
    if not args.runs:
        ap.error("give one or more run folders")
    figures = [run_figures(r) for r in args.runs]
    print(json.dumps(figures, indent=2))
    print("\n| model | items written / planned | answer reward (mean) | quarantined items (reasons) | "
          "steps per chain | validator flag rate (bad) | unsure rate | flag reasons | requests | prompt / "
          "completion tokens | seconds (load) |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for f in figures:
        reasons = ", ".join(f"{k} {v}" for k, v in f["quarantine_reasons"].items()) or "-"
        flags = ", ".join(f"{k} {v}" for k, v in f["flag_reasons"].items()) or "-"
        load = f" (load {f['load_min']}-{f['load_max']})" if f.get("load_max") is not None else ""
        print(f"| {f['model']} | {f['items_written']} / {f['items_planned']} | {f['answer_reward_mean']} | "
              f"{f['quarantined_items']} ({f['quarantine_share']}; {reasons}) | {f['steps_per_chain']} | "
              f"{f['flag_rate']} | {f['unsure_rate']} | {flags} | {f['requests']} | {f['prompt_tokens']} / "
              f"{f['completion_tokens']} | {f['elapsed_s']}{load} |")
        if f.get("exit_code"):
            print(f"|  | exit {f['exit_code']}: {f['error']} |")
    for r in args.runs:
        if args.show:
            show(r, args.show)


if __name__ == "__main__":
    main()
