"""Review status: queued / reviewed counts, disagreements and their top reasons."""

from __future__ import annotations

import json
from pathlib import Path

from radprm.review import apply_decisions, build_queue, review_status
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item


def chain(item_id: str, labels: list[bool], reasons: list[list[str]]):
    steps = [StepRecord(index=k, text=f"step {k}", label=ok, verdict="supported" if ok else "contradicted",
                        reasons=r, score=0.5) for k, (ok, r) in enumerate(zip(labels, reasons, strict=False))]
    return make_item(0, item_id=item_id, steps=steps, completeness=0.9, factuality=0.9, effectiveness=0.9,
                     answer_reward=1.0)


def test_review_status_counts_and_top_disagreement_reasons(tmp_path: Path):
    shards = tmp_path / "shards"
    with ShardWriter(shards, card=False) as writer:
        writer.write(chain("A", [False, False, True], [["negation_conflict"], ["negation_conflict", "laterality"], []]))
        writer.write(chain("B", [False, True], [["unsupported_claim"], []]))
        writer.write(chain("C", [True, True], [[], []]))
    build_queue(shards, tmp_path / "q", flagged_only=True)
    lines = [
        {"item_id": "A", "step_index": 0, "decision": "good"},  # disagrees: negation_conflict
        {"item_id": "A", "step_index": 1, "decision": "good"},  # disagrees: negation_conflict, laterality
        {"item_id": "A", "step_index": 2, "decision": "bad"},  # disagrees: validator said good
        {"item_id": "B", "step_index": 0, "decision": "unsure"},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(d | {"reviewer": "ana"}) + "\n" for d in lines))
    apply_decisions(shards, [path])

    status = review_status(shards)
    assert (status.queued_items, status.queued_steps) == (2, 5)
    assert (status.reviewed_items, status.completed_items, status.reviewed_steps) == (2, 1, 4)
    assert status.decisions == 4 and status.reviewers == {"ana": 4}
    assert status.disagreements == 3
    assert status.top_reasons == [("negation_conflict", 2), ("(validator said good)", 1), ("laterality", 1)]
    assert status.queues[0]["items"] == 2 and status.queues[0]["reviewed"] == 2
    text = status.render()
    assert "disagreements with the validator: 3" in text and "negation_conflict" in text


def test_review_status_of_untouched_shards_is_empty(tmp_path: Path):
    shards = tmp_path / "shards"
    with ShardWriter(shards, card=False) as writer:
        writer.write(chain("A", [True], [[]]))
    status = review_status(shards)
    assert (status.queued_items, status.reviewed_items, status.disagreements, status.top_reasons) == (0, 0, 0, [])
