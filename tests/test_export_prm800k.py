import json

import pytest

from radprm.exports import export_prm800k
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item


def step(k, label=True, verdict="supported"):
    return StepRecord(index=k, text=f"s{k}", label=label, verdict=verdict, score=0.5)


@pytest.fixture
def shards(tmp_path):
    out = tmp_path / "s"
    steps = [
        step(0, verdict="neutral"),
        step(1),
        step(2, False, "contradicted"),
        step(3),
        step(4, False, "unsupported"),
    ]
    with ShardWriter(out, card=False) as w:
        w.write(make_item(0, steps=steps, first_bad_step=2, answer=["yes"]))
        w.write(make_item(1, steps=[step(0), step(1, verdict="neutral")], first_bad_step=-1))
    return out


def ratings(row):
    return [s["completions"][0]["rating"] for s in row["label"]["steps"]]


def test_export_prm800k_maps_labels_to_ratings(shards, tmp_path):
    summary = export_prm800k(shards, tmp_path / "p.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert ratings(rows[0]) == [0, 1, -1, 1, -1]
    assert ratings(rows[1]) == [1, 0]
    assert rows[0]["label"]["finish_reason"] == "found_error" and rows[1]["label"]["finish_reason"] == "solution"
    assert [s["chosen_completion"] for s in rows[0]["label"]["steps"]] == [0, 0, None, 0, None]
    assert rows[0]["question"]["ground_truth_answer"] == "yes" and "Question:" in rows[0]["question"]["problem"]
    assert summary.items == 2 and summary.steps == 7


def test_export_prm800k_drop_after_first_bad(shards, tmp_path):
    summary = export_prm800k(shards, tmp_path / "p.jsonl", after_first_bad="drop")
    row = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert ratings(row) == [0, 1, -1] and summary.steps_dropped == 2


def test_export_prm800k_force_bad_after_first_bad(shards, tmp_path):
    export_prm800k(shards, tmp_path / "p.jsonl", after_first_bad="bad")
    row = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert ratings(row) == [0, 1, -1, -1, -1]
