"""`radprm review queue|apply|status` through CliRunner, checked through the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.review import read_reviews, review_status
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item

runner = CliRunner()


def chain(item_id: str, labels: list[bool]):
    steps = [StepRecord(index=k, text=f"step {k}", label=ok, verdict="supported" if ok else "contradicted",
                        reasons=[] if ok else ["negation_conflict"], score=0.5) for k, ok in enumerate(labels)]
    return make_item(0, item_id=item_id, steps=steps, completeness=0.9, factuality=0.9, effectiveness=0.9,
                     answer_reward=1.0)


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    path = tmp_path / "shards"
    with ShardWriter(path, card=False) as writer:
        for i in range(6):
            writer.write(chain(f"F{i}", [True, False]))
        for i in range(10):
            writer.write(chain(f"G{i}", [True, True]))
    return path


def test_cli_review_queue_apply_status(shards: Path, tmp_path: Path):
    q = tmp_path / "q"
    result = runner.invoke(app, ["review", "queue", str(shards), "--out", str(q), "--sample-good", "0.25",
                                 "--seed", "3", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "6 flagged + 2 calibration" in result.output
    assert sorted(p.name for p in q.glob("batch-*.html")) == ["batch-001.html", "batch-002.html"]

    records = [json.loads(line) for line in (q / "batch-001.jsonl").read_text().splitlines()]
    decisions = tmp_path / "decisions-batch-001.jsonl"
    decisions.write_text("".join(
        json.dumps({"item_id": r["item_id"], "step_index": s["index"], "decision": "good",
                    "reviewed_at": "2026-11-23T18:30:00Z"}) + "\n"
        for r in records for s in r["steps"]
    ))
    result = runner.invoke(app, ["review", "apply", str(shards), str(decisions), "--reviewer", "ana"])
    assert result.exit_code == 0, result.output
    assert "8 decisions written" in result.output and "agreement validator vs human" in result.output
    assert {r["reviewer"] for r in read_reviews(shards)} == {"ana"} and len(read_reviews(shards)) == 8

    again = runner.invoke(app, ["review", "apply", str(shards), str(decisions), "--reviewer", "ana"])
    assert again.exit_code == 0 and "already applied" in again.output and len(read_reviews(shards)) == 8

    result = runner.invoke(app, ["review", "status", str(shards), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["queued_items"] == 8 and data["reviewed_items"] == 4 and data["decisions"] == 8
    assert data["disagreements"] == review_status(shards).disagreements > 0
    assert data["top_reasons"][0][0] == "negation_conflict"


def test_cli_review_apply_without_reviewer_quarantines_and_fails(shards: Path, tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"item_id": "F0", "step_index": 0, "decision": "good"}) + "\n")
    result = runner.invoke(app, ["review", "apply", str(shards), str(path)])
    assert result.exit_code == 1
    assert "missing_reviewer=1" in result.output
    assert "Error: every decision line was quarantined" in result.output


def test_cli_review_apply_strict_error_names_file_line_field(shards: Path, tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"item_id": "F0", "step_index": 0, "decision": "good", "reviewer": "ana"}) + "\n"
        + json.dumps({"item_id": "F0", "step_index": 7, "decision": "good", "reviewer": "ana"}) + "\n"
    )
    result = runner.invoke(app, ["review", "apply", str(shards), str(path), "--strict"])
    assert result.exit_code == 1
    assert f"Error: {path} row 2, field 'step_index': item 'F0' has no step 7" in result.output
    assert "Traceback" not in result.output
    assert read_reviews(shards) == []


def test_cli_review_apply_json_output(shards: Path, tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"item_id": "F0", "step_index": 1, "decision": "good", "reviewer": "ana"}) + "\n"
                    + json.dumps({"item_id": "nope", "step_index": 1, "decision": "good", "reviewer": "ana"}) + "\n")
    result = runner.invoke(app, ["review", "apply", str(shards), str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["written"] == 1 and data["quarantined"] == {"unknown_item": 1}
    assert data["agreement"]["overall"]["validator_bad_human_good"] == 1


def test_cli_review_queue_missing_dir_is_one_error_line(tmp_path: Path):
    result = runner.invoke(app, ["review", "queue", str(tmp_path / "nope"), "--out", str(tmp_path / "q")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {tmp_path / 'nope'}: shard folder not found "
                                                  "(pass the folder the mine step wrote)"]


def test_cli_review_queue_existing_queue_needs_force(shards: Path, tmp_path: Path):
    args = ["review", "queue", str(shards), "--out", str(tmp_path / "q"), "--flagged-only"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "already holds a review queue (use a new folder or --force)" in result.output
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


@pytest.mark.parametrize("command", ["queue", "status"])
def test_cli_review_on_folder_without_shards_is_one_error_line(tmp_path: Path, command):
    folder = tmp_path / "not-shards"
    folder.mkdir()
    extra = ["--out", str(tmp_path / "q")] if command == "queue" else []
    result = runner.invoke(app, ["review", command, str(folder), *extra])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {folder}") and "manifest" in result.output
    assert not (tmp_path / "q").exists(), "a failed queue must not leave an empty folder behind"
