"""`radprm.evaluation.natural_sets`: the merge behind the committed synthetic chain sets' build.py."""

import json
import shutil
from pathlib import Path

from radprm.evaluation.natural_sets import build_set, hash_split, read_labels, render_agreement

SET = Path(__file__).resolve().parents[1] / "evaluation" / "data" / "synthetic-chains"
WRITERS = ("writer1", "writer2", "writer3", "writer4")
LABEL_FILES = ("annotator_b_labels.jsonl", "annotator_b_labels_w34.jsonl")


def _copy_set(tmp_path: Path) -> Path:
    folder = tmp_path / "set"
    for writer in WRITERS:
        shutil.copytree(SET / writer, folder / writer)
    for name in LABEL_FILES:
        shutil.copy(SET / name, folder / name)
    return folder


def test_build_set_reproduces_committed_synthetic_chains(tmp_path):
    folder = _copy_set(tmp_path)
    agree = build_set(folder, dict.fromkeys(WRITERS, read_labels(folder, *LABEL_FILES)),
                      lambda _writer, report_id: hash_split(report_id))
    for name in ("chains", "expected", "reports"):
        assert (folder / f"{name}.jsonl").read_bytes() == (SET / f"{name}.jsonl").read_bytes(), name
    expected = [json.loads(line) for line in (SET / "expected.jsonl").open()]
    assert sum(agree.values()) == len(expected)
    assert agree[("test", True)] == sum(1 for r in expected if r["split"] == "test" and r["scored"])
    assert render_agreement(agree).startswith("{'test scored=")


def test_build_set_step_style_and_writer_split(tmp_path):
    folder = _copy_set(tmp_path)
    labels = read_labels(folder, *LABEL_FILES)
    agree = build_set(folder, {"writer1": labels}, lambda writer, _report_id: f"split-{writer}", step_style=True)
    rows = [json.loads(line) for line in (folder / "expected.jsonl").open()]
    assert rows and all(list(r)[-1] == "style" and r["split"] == "split-writer1" for r in rows)
    assert {split for split, _scored in agree} == {"split-writer1"}
    chains = [json.loads(line) for line in (folder / "chains.jsonl").open()]
    assert chains and all("labels" not in c for c in chains)
