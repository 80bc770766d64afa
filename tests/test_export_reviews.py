"""Exports with --use-reviews: resolved human labels override the validator's; nothing else changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.exports import export_chestx_reasoner, export_prm800k, export_trl
from radprm.review import apply_decisions
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item

T0 = "2026-11-23T18:30:00.000Z"


def chain(item_id: str, labels: list[bool]):
    steps = [StepRecord(index=k, text=f"step {k}", label=ok, verdict="supported" if ok else "contradicted",
                        reasons=[] if ok else ["negation_conflict"], score=0.9 if ok else 0.1)
             for k, ok in enumerate(labels)]
    return make_item(0, item_id=item_id, steps=steps,
                     first_bad_step=next((k for k, ok in enumerate(labels) if not ok), -1))


@pytest.fixture
def reviewed(tmp_path: Path) -> Path:
    shards = tmp_path / "shards"
    with ShardWriter(shards, card=False) as writer:
        writer.write(chain("A", [True, False, True]))
        writer.write(chain("B", [True, True]))
    decisions = [
        # the annotator overturns the validator on A/1 (bad -> good) and on B/0 (good -> bad)
        {"item_id": "A", "step_index": 1, "decision": "good"},
        {"item_id": "B", "step_index": 0, "decision": "bad"},
        # agrees on A/0; `unsure` on A/2 leaves the validator's label
        {"item_id": "A", "step_index": 0, "decision": "good"},
        {"item_id": "A", "step_index": 2, "decision": "unsure"},
    ]
    path = tmp_path / "decisions.jsonl"
    path.write_text("".join(json.dumps({**d, "note": "", "reviewer": "ana", "reviewed_at": T0}) + "\n"
                            for d in decisions))
    apply_decisions(shards, [path])
    return shards


def test_export_trl_use_reviews_overrides_validator_labels(reviewed, tmp_path):
    plain = export_trl(reviewed, tmp_path / "plain.jsonl")
    human = export_trl(reviewed, tmp_path / "human.jsonl", use_reviews=True)
    plain_rows = [json.loads(x)["labels"] for x in (tmp_path / "plain.jsonl").read_text().splitlines()]
    human_rows = [json.loads(x)["labels"] for x in (tmp_path / "human.jsonl").read_text().splitlines()]
    assert sorted(plain_rows) == sorted([[True, False, True], [True, True]])
    assert sorted(human_rows) == sorted([[True, True, True], [False, True]])
    assert "human_labels" not in plain.extra
    assert (human.extra["human_labels"], human.extra["human_label_changes"]) == (3, 2)
    assert any("3 steps (2 differ" in note for note in human.notes)


def test_export_first_bad_convention_runs_on_human_labels(reviewed, tmp_path):
    export_chestx_reasoner(reviewed, tmp_path / "c.jsonl", after_first_bad="drop", with_labels=True, use_reviews=True)
    rows = {r["item_id"]: r for r in map(json.loads, (tmp_path / "c.jsonl").read_text().splitlines())}
    assert rows["A"]["step_labels"] == [True, True, True]   # no bad step left: nothing dropped
    assert rows["B"]["step_labels"] == [False]              # cut after the human-flagged first step


def test_export_prm800k_ratings_follow_human_labels(reviewed, tmp_path):
    export_prm800k(reviewed, tmp_path / "p.jsonl", use_reviews=True)
    text = (tmp_path / "p.jsonl").read_text()
    assert text.count('"rating": -1') == 1   # only B/0, flagged by the annotator


def test_cli_export_trl_use_reviews(reviewed, tmp_path):
    out = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(app, ["export", "trl", str(reviewed), "--out", str(out), "--use-reviews"])
    assert result.exit_code == 0, result.output
    assert "human review labels: 3 steps (2 differ" in result.output
    labels = sorted(json.loads(x)["labels"] for x in out.read_text().splitlines())
    assert labels == sorted([[True, True, True], [False, True]])
