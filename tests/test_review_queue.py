"""Queue selection: flagged vs calibration, seeding, priority order, batches and the page data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.quarantine import read_quarantine
from radprm.review import build_queue
from radprm.review.html import render_batch
from radprm.review.queue import evidence_segments, flag_reasons, locate_evidence, priority_key
from radprm.schemas.records import Evidence, StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item

REPORT = "FINDINGS: Heart size normal. No pleural effusion.\nIMPRESSION: Normal chest."


def chain(i: int, labels: list[bool], reasons: list[list[str]] | None = None, score: float = 0.9, **kw):
    """Item `i` whose steps carry exactly `labels` (True good) and `reasons`, with all scores = score."""
    reasons = reasons or [[] if ok else ["contradicts_report"] for ok in labels]
    steps = [
        StepRecord(index=k, text=f"step {k} of item {i}", label=ok, verdict="supported" if ok else "contradicted",
                   reasons=r, evidence=[Evidence(text="Heart size normal", start=10, end=27)] if ok else [],
                   score=0.9 if ok else 0.1)
        for k, (ok, r) in enumerate(zip(labels, reasons, strict=False))
    ]
    first_bad = next((k for k, ok in enumerate(labels) if not ok), -1)
    fields = dict(steps=steps, first_bad_step=first_bad, completeness=score, factuality=score,
                  effectiveness=score, answer_reward=1.0, report_text=REPORT, item_id=f"item{i:03d}")
    fields.update(kw)
    return make_item(i, **fields)


def write_shards(path: Path, items) -> Path:
    with ShardWriter(path, card=False) as writer:
        for item in items:
            writer.write(item)
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """12 flagged chains (bad step at varying places) and 30 good ones."""
    items = [chain(i, [True] * (i % 3) + [False] + [True]) for i in range(12)]
    items += [chain(100 + i, [True, True, True]) for i in range(30)]
    return write_shards(tmp_path / "shards", items)


def read_meta(queue_dir: Path) -> dict:
    return json.loads((queue_dir / "queue.json").read_text())


def read_batch(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_flag_reasons_bad_step_and_low_scores():
    assert flag_reasons(chain(1, [True, True])) == []
    assert flag_reasons(chain(1, [True, False])) == ["bad_step"]
    low = chain(1, [True], score=0.9, factuality=0.2, answer_reward=0.0)
    assert flag_reasons(low) == ["low_factuality", "low_answer_reward"]
    assert flag_reasons(low, min_score=0.1) == ["low_answer_reward"]


def test_priority_key_orders_early_first_bad_step_then_more_reasons():
    late = chain(1, [True, True, False])
    early = chain(2, [False, True, True])
    early_more_reasons = chain(3, [False, True, True], reasons=[["negation_conflict", "laterality"], [], []])
    only_low_score = chain(4, [True, True], score=0.1)
    ordered = sorted([late, only_low_score, early, early_more_reasons], key=priority_key)
    assert [i.item_id for i in ordered] == ["item003", "item002", "item001", "item004"]


def test_queue_flagged_only_has_no_calibration(mixed: Path, tmp_path: Path):
    summary = build_queue(mixed, tmp_path / "q", flagged_only=True)
    meta = read_meta(tmp_path / "q")
    assert summary.flagged == 12 and summary.calibration == 0
    assert {e["kind"] for e in meta["items"]} == {"flagged"}


def test_queue_orders_flagged_by_priority(mixed: Path, tmp_path: Path):
    build_queue(mixed, tmp_path / "q", flagged_only=True, batch_size=100)
    records = read_batch(tmp_path / "q" / "batch-001.jsonl")
    firsts = [r["first_bad_step"] for r in records]
    assert firsts == sorted(firsts) and firsts[0] == 0 and firsts[-1] == 2
    assert [e["priority"] for e in read_meta(tmp_path / "q")["items"]] == list(range(1, 13))


def test_queue_calibration_sample_is_seeded_and_mixed_in(mixed: Path, tmp_path: Path):
    build_queue(mixed, tmp_path / "a", sample_good=0.25, seed=7)
    build_queue(mixed, tmp_path / "b", sample_good=0.25, seed=7, include_queued=True)
    build_queue(mixed, tmp_path / "c", sample_good=0.25, seed=8, include_queued=True)
    a, b, c = (read_meta(tmp_path / x)["items"] for x in "abc")
    cal = [e for e in a if e["kind"] == "calibration"]
    assert len(cal) == 4  # 12 flagged make 75% of the queue
    assert all(e["flags"] == [] and e["priority"] is None for e in cal)
    assert [(e["item_id"], e["kind"]) for e in a] == [(e["item_id"], e["kind"]) for e in b]
    assert [(e["item_id"], e["kind"]) for e in a] != [(e["item_id"], e["kind"]) for e in c]
    positions = [k for k, e in enumerate(a) if e["kind"] == "calibration"]
    assert positions != list(range(12, 16)), "calibration items must not all trail the flagged ones"


def test_queue_page_and_batch_do_not_reveal_calibration(mixed: Path, tmp_path: Path):
    build_queue(mixed, tmp_path / "q", sample_good=0.25, seed=1)
    page = (tmp_path / "q" / "batch-001.html").read_text()
    batch = (tmp_path / "q" / "batch-001.jsonl").read_text()
    for text in (page, batch):
        assert "calibration" not in text and '"kind"' not in text and "priority" not in text


def test_queue_reasons_filter_keeps_only_matching_chains(tmp_path: Path):
    items = [
        chain(1, [False], reasons=[["negation_conflict"]]),
        chain(2, [False], reasons=[["laterality_mismatch"]]),
        chain(3, [True, False], reasons=[[], ["negation_conflict", "unsupported_claim"]]),
    ]
    shards = write_shards(tmp_path / "s", items)
    summary = build_queue(shards, tmp_path / "q", reasons=["negation_conflict"], flagged_only=True)
    assert {e["item_id"] for e in read_meta(tmp_path / "q")["items"]} == {"item001", "item003"}
    assert summary.skipped_reason_filter == 1


def test_queue_limit_keeps_top_priority_and_calibration_share(mixed: Path, tmp_path: Path):
    build_queue(mixed, tmp_path / "q", limit=8, sample_good=0.25)
    entries = read_meta(tmp_path / "q")["items"]
    assert len(entries) == 8
    assert sum(e["kind"] == "calibration" for e in entries) == 2
    assert sorted(e["priority"] for e in entries if e["kind"] == "flagged") == [1, 2, 3, 4, 5, 6]


def test_queue_writes_batches_with_empty_review_fields(mixed: Path, tmp_path: Path):
    summary = build_queue(mixed, tmp_path / "q", flagged_only=True, batch_size=5)
    assert [p.name for p in summary.batches] == ["batch-001.jsonl", "batch-002.jsonl", "batch-003.jsonl"]
    assert all(p.with_suffix(".html").is_file() for p in summary.batches)
    records = read_batch(summary.batches[0])
    assert len(records) == 5 and records[0]["batch"] == "batch-001" and records[0]["position"] == 1
    step = records[0]["steps"][0]
    assert step["decision"] is None and step["note"] == ""
    assert {"label", "verdict", "reasons", "evidence", "score"} <= set(step)
    assert records[0]["report_text"] == REPORT


def test_queue_refuses_existing_queue_without_force(mixed: Path, tmp_path: Path):
    build_queue(mixed, tmp_path / "q", flagged_only=True, batch_size=5)
    with pytest.raises(InputError, match="already holds a review queue"):
        build_queue(mixed, tmp_path / "q")
    build_queue(mixed, tmp_path / "q", flagged_only=True, batch_size=50, force=True)
    assert sorted(p.name for p in (tmp_path / "q").glob("batch-*")) == ["batch-001.html", "batch-001.jsonl"]


def test_queue_skips_items_in_another_queue(mixed: Path, tmp_path: Path):
    build_queue(mixed, tmp_path / "q1", flagged_only=True, limit=5)
    summary = build_queue(mixed, tmp_path / "q2", flagged_only=True)
    assert summary.skipped_queued == 5 and summary.flagged == 7
    first = {e["item_id"] for e in read_meta(tmp_path / "q1")["items"]}
    assert first.isdisjoint(e["item_id"] for e in read_meta(tmp_path / "q2")["items"])


def test_queue_quarantines_chain_without_steps(tmp_path: Path):
    shards = write_shards(tmp_path / "s", [chain(1, [False]), make_item(2, item_id="empty", steps=[])])
    summary = build_queue(shards, tmp_path / "q")
    records = read_quarantine(tmp_path / "q" / "quarantine.jsonl")
    assert [(r.record_id, r.reason_code, r.field) for r in records] == [("empty", "no_steps", "steps")]
    assert [(r.item_id, r.chain_id, r.report_id) for r in records] == [("empty", "empty", "CXR0")]
    assert summary.total == 1


@pytest.mark.parametrize("kw", [{"sample_good": 1.0}, {"sample_good": -0.1}, {"batch_size": 0}, {"limit": 0}])
def test_queue_rejects_bad_arguments(mixed: Path, tmp_path: Path, kw):
    with pytest.raises(InputError) as err:
        build_queue(mixed, tmp_path / "q", **kw)
    assert err.value.field == next(iter(kw))


def test_queue_missing_shard_folder_is_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="shard folder not found"):
        build_queue(tmp_path / "nope", tmp_path / "q")


def test_evidence_segments_split_overlapping_spans():
    segs = evidence_segments("abcdefghij", [(2, 6, 0), (4, 8, 1)])
    assert segs == [["ab", []], ["cd", [0]], ["ef", [0, 1]], ["gh", [1]], ["ij", []]]
    assert "".join(s for s, _ in segs) == "abcdefghij"


def test_locate_evidence_falls_back_to_search_when_offsets_are_stale():
    assert locate_evidence(REPORT, "Heart size normal", 10, 27) == (10, 27)
    assert locate_evidence(REPORT, "Normal chest", 0, 12) == (REPORT.index("Normal chest"), len(REPORT) - 1)
    assert locate_evidence(REPORT, "not in the report", 0, 5) is None


def test_queue_counts_evidence_not_found(tmp_path: Path):
    item = chain(1, [True, False])
    bad_ev = item.steps[0].model_copy(update={"evidence": [Evidence(text="invented sentence", start=0, end=5)]})
    item = item.model_copy(update={"steps": [bad_ev, item.steps[1]]})
    summary = build_queue(write_shards(tmp_path / "s", [item]), tmp_path / "q")
    assert summary.evidence_unmatched == 1
    step = read_batch(tmp_path / "q" / "batch-001.jsonl")[0]["steps"][0]
    assert step["evidence"][0]["found"] is False


def _page_data(page: str) -> dict:
    start = page.index('<script id="radprm-data" type="application/json">') + len(
        '<script id="radprm-data" type="application/json">')
    return json.loads(page[start:page.index("</script>", start)])


def test_page_embeds_data_safely_against_script_injection(tmp_path: Path):
    hostile = "FINDINGS: </script><script>alert(1)</script> & <!-- x"
    shards = write_shards(tmp_path / "s", [chain(1, [False], report_text=hostile)])
    build_queue(shards, tmp_path / "q")
    page = (tmp_path / "q" / "batch-001.html").read_text()
    assert "alert(1)</script>" not in page and "<!-- x" not in page
    assert _page_data(page)["items"][0]["segments"] == [[hostile, []]]


def test_blind_page_carries_no_validator_output(tmp_path: Path):
    shards = write_shards(tmp_path / "s", [chain(1, [True, False])])
    build_queue(shards, tmp_path / "q", blind=True)
    data = _page_data((tmp_path / "q" / "batch-001.html").read_text())
    assert data["blind"] is True
    assert all(set(step) == {"index", "text"} for step in data["items"][0]["steps"])
    assert "contradicts_report" not in json.dumps(data)


def test_render_batch_page_is_self_contained():
    page = render_batch([], queue_id="q1", batch="batch-001")
    assert "<script src" not in page and "<link" not in page and "http://" not in page and "https://" not in page
    assert _page_data(page) == {"page_version": 1, "queue_id": "q1", "batch": "batch-001", "blind": False, "items": []}


def test_queue_rebuild_with_force_replaces_its_registration(mixed: Path, tmp_path: Path):
    from radprm.review import review_status

    build_queue(mixed, tmp_path / "q", flagged_only=True, limit=10)
    build_queue(mixed, tmp_path / "q", flagged_only=True, limit=3, force=True)
    status = review_status(mixed)
    assert len(status.queues) == 1 and status.queued_items == 3


def test_scan_chains_and_fetch_items_agree_with_items(mixed: Path):
    from radprm.review.items import ChainSummary, fetch_items, scan_chains

    chains = list(scan_chains(mixed))
    assert len(chains) == 42
    items = fetch_items(mixed, [chains[0].item_id, chains[5].item_id, "missing"])
    assert set(items) == {chains[0].item_id, chains[5].item_id}
    assert ChainSummary.from_item(items[chains[5].item_id]) == chains[5]


@pytest.mark.shared
def test_queue_on_real_iu_reports_highlights_or_reports_every_evidence_span(iu_reports: Path, tmp_path: Path):
    import csv

    from radprm.shards.testing import item_from_report

    with iu_reports.open(newline="", encoding="utf-8") as fh:
        rows = [row for _, row in zip(range(200), csv.DictReader(fh), strict=False)]
    items = [item_from_report(row["uid"], row["findings"], row["impression"], index=i) for i, row in enumerate(rows)]
    summary = build_queue(write_shards(tmp_path / "s", items), tmp_path / "q", sample_good=0.2, batch_size=100)
    assert summary.total > 0
    by_id = {item.item_id: item for item in items}
    expected_unmatched = 0
    for path in summary.batches:
        for record in read_batch(path):
            item = by_id[record["item_id"]]
            assert "".join(text for text, _ in record["segments"]) == item.report_text
            evidence = {s.index: [e.text for e in s.evidence] for s in item.steps}
            for text, steps in record["segments"]:
                assert all(any(text in ev for ev in evidence[i]) for i in steps)
            expected_unmatched += sum(ev.text not in item.report_text for s in item.steps for ev in s.evidence)
    assert summary.evidence_unmatched == expected_unmatched
