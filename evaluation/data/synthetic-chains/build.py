"""Merge the writers' chains with the blind second annotator's labels into the natural-chains layout.

Writes chains.jsonl (chain_id, report_id, question, options, answer, steps, split) and expected.jsonl
(chain_id, step_index, step, good, kind, kind_b, scored, split) beside this file; reports.jsonl gathers
the writers' made-up reports with a `text` field (FINDINGS / IMPRESSION). A step is scored when both
labels agree on good/bad and the annotator did not call it ambiguous. The split is fixed by report id
(sha256, ~60 % tune / 40 % test). Run: python evaluation/data/synthetic-chains/build.py
"""

import hashlib
import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
WRITERS = ("writer1", "writer2", "writer3", "writer4")
# blind second annotations: one file per annotation round
LABEL_FILES = ("annotator_b_labels.jsonl", "annotator_b_labels_w34.jsonl")


def split_of(report_id: str) -> str:
    return "tune" if int(hashlib.sha256(report_id.encode()).hexdigest(), 16) % 10 < 6 else "test"


def main() -> None:
    b = {(r["chain_id"], r["step_index"]): r for name in LABEL_FILES for r in map(json.loads, (HERE / name).open())}
    chains_out, expected_out, reports_out = [], [], []
    agree = Counter()
    for w in WRITERS:
        for rep in map(json.loads, (HERE / w / "reports.jsonl").open()):
            parts = [f"{k.upper()}: {rep[k]}" for k in ("findings", "impression") if rep.get(k)]
            reports_out.append({**rep, "split": split_of(rep["report_id"]), "text": "\n".join(parts)})
        for ch in map(json.loads, (HERE / w / "chains.jsonl").open()):
            split = split_of(ch["report_id"])
            labels = ch.pop("labels")
            chains_out.append({**ch, "split": split})
            for i, (step, la) in enumerate(zip(ch["steps"], labels, strict=True)):
                lb = b[(ch["chain_id"], i)]
                scored = la["good"] == lb["good"] and not lb.get("ambiguous")
                agree[(split, scored)] += 1
                expected_out.append({"chain_id": ch["chain_id"], "step_index": i, "step": step, "good": la["good"],
                                     "kind": la["kind"], "kind_b": lb["kind"], "scored": scored, "split": split})
    for name, rows in (("chains", chains_out), ("expected", expected_out), ("reports", reports_out)):
        with (HERE / f"{name}.jsonl").open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    print({f"{k[0]} scored={k[1]}": v for k, v in sorted(agree.items())})


if __name__ == "__main__":
    main()
