"""Merge writer7/writer8 chains with the blind second annotator's labels into the natural-chains layout.

Writes chains.jsonl (chain_id, report_id, style, question, options, answer, steps, split) and
expected.jsonl (chain_id, step_index, step, good, kind, kind_b, scored, split, style) beside this file;
reports.jsonl gathers the writers' made-up reports with a `text` field (FINDINGS / IMPRESSION). A step is
scored when both labels agree on good/bad and the annotator did not call it ambiguous. The split is by
writer: writer7 is `tune` (the rule author tuned on it), writer8 is `test` (held out: never read by the
rule author). Run: python evaluation/data/synthetic-chains-3/build.py
"""

import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
WRITERS = {"writer7": ("annotator_b_labels_w7.jsonl", "tune"), "writer8": ("annotator_b_labels_w8.jsonl", "test")}


def main() -> None:
    chains_out, expected_out, reports_out = [], [], []
    agree = Counter()
    for writer, (label_file, split) in WRITERS.items():
        b = {(r["chain_id"], r["step_index"]): r for r in map(json.loads, (HERE / label_file).open())}
        for rep in map(json.loads, (HERE / writer / "reports.jsonl").open()):
            parts = [f"{k.upper()}: {rep[k]}" for k in ("findings", "impression") if rep.get(k)]
            reports_out.append({**rep, "split": split, "text": "\n".join(parts)})
        for ch in map(json.loads, (HERE / writer / "chains.jsonl").open()):
            labels = ch.pop("labels")
            chains_out.append({**ch, "split": split})
            for i, (step, la) in enumerate(zip(ch["steps"], labels, strict=True)):
                lb = b[(ch["chain_id"], i)]
                scored = la["good"] == lb["good"] and not lb.get("ambiguous")
                agree[(split, scored)] += 1
                expected_out.append({"chain_id": ch["chain_id"], "step_index": i, "step": step, "good": la["good"],
                                     "kind": la["kind"], "kind_b": lb["kind"], "scored": scored, "split": split,
                                     "style": ch.get("style")})
    for name, rows in (("chains", chains_out), ("expected", expected_out), ("reports", reports_out)):
        with (HERE / f"{name}.jsonl").open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    print({f"{k[0]} scored={k[1]}": v for k, v in sorted(agree.items())})


if __name__ == "__main__":
    main()
