"""Merge writer11/writer12 chains with the blind second annotator's labels into the natural-chains layout.

Writes chains.jsonl, expected.jsonl (with each chain's `style`) and reports.jsonl beside this file
(`radprm.evaluation.natural_sets` says what they hold). Both writers are `tune`: this set extends the tune
data for MIMIC-CXR-style reports; synthetic-chains-4's writer10 stays the held-out test of that style.
Run: .venv/bin/python evaluation/data/synthetic-chains-5/build.py
"""

from pathlib import Path

from radprm.evaluation.natural_sets import build_split_by_writer

HERE = Path(__file__).parent
WRITERS = {"writer11": ("annotator_b_labels_w11.jsonl", "tune"), "writer12": ("annotator_b_labels_w12.jsonl", "tune")}


def main() -> None:
    print(build_split_by_writer(HERE, WRITERS))


if __name__ == "__main__":
    main()
