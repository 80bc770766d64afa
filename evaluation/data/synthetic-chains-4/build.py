"""Merge writer9/writer10 chains with the blind second annotator's labels into the natural-chains layout.

Writes chains.jsonl, expected.jsonl (with each chain's `style`) and reports.jsonl beside this file
(`radprm.evaluation.natural_sets` says what they hold). The split is by writer: writer9 is `tune` (the
rule author tuned on it), writer10 is `test` (held out: never read by the rule author).
Run: .venv/bin/python evaluation/data/synthetic-chains-4/build.py
"""

from pathlib import Path

from radprm.evaluation.natural_sets import build_split_by_writer

HERE = Path(__file__).parent
WRITERS = {"writer9": ("annotator_b_labels_w9.jsonl", "tune"), "writer10": ("annotator_b_labels_w10.jsonl", "test")}


def main() -> None:
    print(build_split_by_writer(HERE, WRITERS))


if __name__ == "__main__":
    main()
