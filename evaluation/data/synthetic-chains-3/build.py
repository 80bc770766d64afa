"""Merge writer7/writer8 chains with the blind second annotator's labels into the natural-chains layout.

Writes chains.jsonl, expected.jsonl (with each chain's `style`) and reports.jsonl beside this file
(`radprm.evaluation.natural_sets` says what they hold). The split is by writer: writer7 is `tune` (the
rule author tuned on it), writer8 is `test` (held out: never read by the rule author).
Run: .venv/bin/python evaluation/data/synthetic-chains-3/build.py
"""

from pathlib import Path

from radprm.evaluation.natural_sets import build_set, read_labels, render_agreement

HERE = Path(__file__).parent
WRITERS = {"writer7": ("annotator_b_labels_w7.jsonl", "tune"), "writer8": ("annotator_b_labels_w8.jsonl", "test")}


def main() -> None:
    labels = {writer: read_labels(HERE, label_file) for writer, (label_file, _split) in WRITERS.items()}
    agree = build_set(HERE, labels, lambda writer, _report_id: WRITERS[writer][1], step_style=True)
    print(render_agreement(agree))


if __name__ == "__main__":
    main()
