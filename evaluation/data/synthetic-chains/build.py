"""Merge the writers' chains with the blind second annotator's labels into the natural-chains layout.

Writes chains.jsonl, expected.jsonl and reports.jsonl beside this file (`radprm.evaluation.natural_sets`
says what they hold). The split is fixed by report id (sha256, ~60 % tune / 40 % test).
Run: .venv/bin/python evaluation/data/synthetic-chains/build.py
"""

from pathlib import Path

from radprm.evaluation.natural_sets import build_set, hash_split, read_labels, render_agreement

HERE = Path(__file__).parent
WRITERS = ("writer1", "writer2", "writer3", "writer4")
# blind second annotations: one file per annotation round
LABEL_FILES = ("annotator_b_labels.jsonl", "annotator_b_labels_w34.jsonl")


def main() -> None:
    labels = read_labels(HERE, *LABEL_FILES)
    agree = build_set(HERE, dict.fromkeys(WRITERS, labels), lambda _writer, report_id: hash_split(report_id))
    print(render_agreement(agree))


if __name__ == "__main__":
    main()
