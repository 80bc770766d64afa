"""Applying decision files: validation (each error case), provenance, idempotence, revisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radprm.errors import InputError, RunError
from radprm.quarantine import read_quarantine
from radprm.review import apply_decisions, build_queue, human_labels, read_reviews
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item

T0 = "2026-11-23T18:30:00.000Z"


def chain(item_id: str, labels: list[bool], reasons: list[list[str]] | None = None):
    reasons = reasons or [[] if ok else ["contradicts_report"] for ok in labels]
    steps = [
        StepRecord(
            index=k,
            text=f"step {k}",
            label=ok,
            verdict="supported" if ok else "contradicted",
            reasons=r,
            score=0.9 if ok else 0.1,
        )
        for k, (ok, r) in enumerate(zip(labels, reasons, strict=False))
    ]
    return make_item(0, item_id=item_id, steps=steps, completeness=0.9, factuality=0.9, effectiveness=0.9,
                     answer_reward=1.0, first_bad_step=next((k for k, ok in enumerate(labels) if not ok), -1))


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    path = tmp_path / "shards"
    with ShardWriter(path, card=False) as writer:
        writer.write(chain("A", [True, False, True], [[], ["negation_conflict"], []]))
        writer.write(chain("B", [True, True]))
    return path


def decision(item_id="A", step_index=0, decision="good", **kw) -> dict:
    return {"item_id": item_id, "step_index": step_index, "decision": decision, "note": "",
            "reviewer": "ana", "reviewed_at": T0, **kw}


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


BAD_LINES = [
    ("bad_json", None, "{not json"),
    ("bad_json", None, "[1, 2]"),
    ("unknown_field", "notes", decision(notes="typo")),
    ("missing_field", "decision", {"item_id": "A", "step_index": 0, "reviewer": "ana"}),
    ("unknown_item", "item_id", decision(item_id="ZZZ")),
    ("bad_step_index", "step_index", decision(step_index="1")),
    ("bad_step_index", "step_index", decision(step_index=True)),
    ("unknown_step", "step_index", decision(step_index=3)),
    ("bad_decision", "decision", decision(decision="Good")),
    ("bad_decision", "decision", decision(decision="maybe")),
    ("bad_timestamp", "reviewed_at", decision(reviewed_at="yesterday")),
    ("bad_timestamp", "reviewed_at", decision(reviewed_at="2026-11-23T18:30:00")),
    ("bad_note", "note", decision(note=5)),
    ("bad_note", "note", decision(note=0)),
    ("bad_value", "batch", decision(batch=1)),
    ("bad_reviewer", "reviewer", decision(reviewer="  ")),
    ("missing_reviewer", "reviewer", {k: v for k, v in decision().items() if k != "reviewer"}),
]


@pytest.mark.parametrize(
    ("reason", "field", "line"), BAD_LINES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(BAD_LINES)]
)
def test_apply_bad_line_is_quarantined_with_reason_and_line(shards: Path, tmp_path: Path, reason, field, line):
    path = write(tmp_path / "d.jsonl", [decision(step_index=1, decision="bad"), line])
    summary = apply_decisions(shards, [path])
    assert summary.written == 1
    records = read_quarantine(shards / "reviews" / "quarantine.jsonl")
    assert [(r.reason_code, r.field, r.source_row, r.source_path) for r in records] == [(reason, field, 2, str(path))]
    assert records[0].payload == (line if isinstance(line, str) else json.dumps(line))


@pytest.mark.parametrize(("reason", "field", "line"), BAD_LINES[2:6])
def test_apply_strict_raises_naming_file_line_field_and_writes_nothing(
    shards: Path, tmp_path: Path, reason, field, line
):
    path = write(tmp_path / "d.jsonl", [decision(), line])
    with pytest.raises(InputError) as err:
        apply_decisions(shards, [path], strict=True)
    assert str(err.value).startswith(f"{path} row 2, field '{field}': ")
    assert reason in str(err.value)
    assert read_reviews(shards) == []


def test_apply_duplicate_decision_in_one_file_is_quarantined(shards: Path, tmp_path: Path):
    path = write(tmp_path / "d.jsonl", [decision(), decision(decision="bad")])
    summary = apply_decisions(shards, [path])
    assert summary.written == 1 and read_reviews(shards)[0]["decision"] == "good"
    (record,) = summary.quarantine.records
    assert (record.reason_code, record.source_row) == ("duplicate_decision", 2)
    assert "line 1" in record.detail


def test_apply_reviewer_option_fills_missing_and_rejects_mismatch(shards: Path, tmp_path: Path):
    anon = {k: v for k, v in decision().items() if k != "reviewer"}
    path = write(tmp_path / "d.jsonl", [anon, decision(step_index=1, reviewer="bob")])
    summary = apply_decisions(shards, [path], reviewer="ana")
    assert [r["reviewer"] for r in read_reviews(shards)] == ["ana"]
    assert [r.reason_code for r in summary.quarantine.records] == ["reviewer_mismatch"]


def test_apply_records_provenance(shards: Path, tmp_path: Path):
    build_queue(shards, tmp_path / "q", sample_good=0.5, seed=0)
    path = write(tmp_path / "d.jsonl", [decision(step_index=1, decision="good", note="negation misread"),
                                        decision(item_id="B", step_index=0, decision="bad")])
    summary = apply_decisions(shards, [path])
    rows = {(r["item_id"], r["step_index"]): r for r in read_reviews(shards)}
    a1 = rows[("A", 1)]
    assert a1["reviewer"] == "ana" and a1["reviewed_at"] == T0 and a1["note"] == "negation misread"
    assert a1["source_file"] == str(path.resolve()) and a1["source_line"] == 1
    assert a1["source_sha256"] == summary.files[0].sha256 and len(a1["source_sha256"]) == 64
    assert a1["validator_label"] is False and a1["validator_reasons"] == ["negation_conflict"]
    assert a1["kind"] == "flagged" and rows[("B", 0)]["kind"] == "calibration"
    assert a1["queue_id"].startswith("q") and a1["batch"] == "batch-001"
    assert summary.part is not None and summary.part.parent == shards / "reviews"
    assert not list((shards / "reviews").glob(".*.tmp")), "temporary files must be renamed away"


def test_apply_same_file_twice_is_idempotent(shards: Path, tmp_path: Path):
    path = write(tmp_path / "d.jsonl", [decision(), decision(step_index=1, decision="bad")])
    first = apply_decisions(shards, [path])
    copy = write(tmp_path / "copy.jsonl", [decision(), decision(step_index=1, decision="bad")])
    second = apply_decisions(shards, [path, copy])
    assert first.written == 2 and second.written == 0 and second.part is None
    assert [f.status for f in second.files] == ["already_applied", "already_applied"]
    assert len(read_reviews(shards)) == 2
    assert len(list((shards / "reviews").glob("part-*.parquet"))) == 1


def test_apply_same_file_twice_in_one_call_counts_once(shards: Path, tmp_path: Path):
    path = write(tmp_path / "d.jsonl", [decision()])
    summary = apply_decisions(shards, [path, path])
    assert [f.status for f in summary.files] == ["applied", "duplicate_file"] and summary.written == 1


def test_apply_later_download_skips_unchanged_and_appends_revisions(shards: Path, tmp_path: Path):
    apply_decisions(shards, [write(tmp_path / "d1.jsonl", [decision(), decision(step_index=1, decision="bad")])])
    later = "2026-11-23T19:00:00.000Z"
    summary = apply_decisions(shards, [write(tmp_path / "d2.jsonl", [
        decision(),  # unchanged
        decision(step_index=1, decision="good", reviewed_at=later),  # changed mind
        decision(step_index=2, decision="good", reviewed_at=later),  # new
    ])])
    assert (summary.written, summary.files[0].unchanged) == (2, 1)
    assert len(read_reviews(shards)) == 4
    assert human_labels(shards) == {("A", 0): True, ("A", 1): True, ("A", 2): True}


def test_apply_stale_decision_is_quarantined(shards: Path, tmp_path: Path):
    apply_decisions(
        shards, [write(tmp_path / "d1.jsonl", [decision(decision="bad", reviewed_at="2026-11-23T19:00:00Z")])]
    )
    with pytest.raises(RunError) as err:  # its only line is quarantined: the run fails, as in the CLI
        apply_decisions(shards, [write(tmp_path / "d2.jsonl", [decision(decision="good")])])
    assert [r.reason_code for r in err.value.summary.quarantine.records] == ["stale_decision"]
    assert human_labels(shards) == {("A", 0): False}


def test_apply_normalises_timestamps_to_utc(shards: Path, tmp_path: Path):
    apply_decisions(shards, [write(tmp_path / "d.jsonl", [decision(reviewed_at="2026-11-23T20:30:00+02:00")])])
    assert read_reviews(shards)[0]["reviewed_at"] == "2026-11-23T18:30:00.000Z"


def test_apply_missing_reviewed_at_uses_apply_time(shards: Path, tmp_path: Path):
    line = {k: v for k, v in decision().items() if k != "reviewed_at"}
    apply_decisions(shards, [write(tmp_path / "d.jsonl", [line])])
    row = read_reviews(shards)[0]
    assert row["reviewed_at"] == row["applied_at"]


def test_apply_empty_file_is_input_error(shards: Path, tmp_path: Path):
    path = write(tmp_path / "empty.jsonl", ["", "  "])
    with pytest.raises(InputError, match="no decisions in file") as err:
        apply_decisions(shards, [path])
    assert err.value.path == str(path)


def test_apply_missing_file_is_input_error(shards: Path, tmp_path: Path):
    with pytest.raises(InputError, match="decisions file not found"):
        apply_decisions(shards, [tmp_path / "nope.jsonl"])


def test_apply_all_lines_quarantined_raises_with_the_summary(shards: Path, tmp_path: Path):
    with pytest.raises(RunError, match="every decision line was quarantined") as err:
        apply_decisions(shards, [write(tmp_path / "d.jsonl", [decision(item_id="X"), decision(item_id="Y")])])
    summary = err.value.summary
    assert summary.all_quarantined and summary.written == 0
    assert summary.quarantine.counts == {"unknown_item": 2}
    assert f"first: unknown_item at {tmp_path / 'd.jsonl'} row 1, field 'item_id'" in str(err.value)


def test_human_labels_majority_ignores_unsure_and_ties(shards: Path, tmp_path: Path):
    write(tmp_path / "d.jsonl", [
        decision(step_index=0, decision="bad"), decision(step_index=0, decision="bad", reviewer="bob"),
        decision(step_index=0, decision="good", reviewer="cy"),
        decision(step_index=1, decision="good"), decision(step_index=1, decision="bad", reviewer="bob"),
        decision(step_index=2, decision="unsure"), decision(step_index=2, decision="good", reviewer="bob"),
    ])
    apply_decisions(shards, [tmp_path / "d.jsonl"])
    assert human_labels(shards) == {("A", 0): False, ("A", 2): True}


def test_apply_non_utf8_file_is_input_error(shards: Path, tmp_path: Path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(decision(note="x")).encode()[:-3] + b"\xe9\"}\n")
    with pytest.raises(InputError, match="not UTF-8") as err:
        apply_decisions(shards, [path])
    assert err.value.path == str(path)


def test_apply_two_downloads_in_one_call_keep_one_row_per_unchanged_decision(shards: Path, tmp_path: Path):
    first = write(tmp_path / "d1.jsonl", [decision()])
    second = write(tmp_path / "d2.jsonl", [decision(), decision(step_index=1, reviewed_at="2026-11-23T19:00:00Z")])
    summary = apply_decisions(shards, [first, second])
    assert [(f.written, f.unchanged) for f in summary.files] == [(1, 0), (1, 1)]
    assert len(read_reviews(shards)) == 2


def test_read_reviews_rejects_a_foreign_part(shards: Path, tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from radprm.errors import ShardError

    (shards / "reviews").mkdir()
    pq.write_table(pa.table({"item_id": ["A"]}), shards / "reviews" / "part-x.parquet")
    with pytest.raises(ShardError, match="schema version") as err:
        read_reviews(shards)
    assert err.value.path.endswith("part-x.parquet")
