"""How far review has got for a shard folder: queued, reviewed, disagreements and their reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.review import store
from radprm.review.agreement import NO_REASON, Agreement, compute_agreement, latest_decisions
from radprm.review.items import check_shard_dir

MISSED = "(validator said good)"


@dataclass
class ReviewStatus:
    """Counts of queued and reviewed work, disagreements and the reason codes behind them."""

    shard_dir: Path
    queues: list[dict[str, Any]] = field(default_factory=list)
    queued_items: int = 0
    queued_steps: int = 0
    reviewed_items: int = 0
    reviewed_steps: int = 0
    completed_items: int = 0
    decisions: int = 0
    reviewers: dict[str, int] = field(default_factory=dict)
    disagreements: int = 0
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    agreement: Agreement = field(default_factory=Agreement)

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain values (for `--json`)."""
        return {
            "queued_items": self.queued_items, "queued_steps": self.queued_steps,
            "reviewed_items": self.reviewed_items, "completed_items": self.completed_items,
            "reviewed_steps": self.reviewed_steps, "decisions": self.decisions, "reviewers": self.reviewers,
            "disagreements": self.disagreements, "top_reasons": [list(pair) for pair in self.top_reasons],
            "queues": self.queues, "agreement": self.agreement.as_dict(),
        }

    def render(self) -> str:
        """Human summary printed by the CLI, agreement tables included."""
        lines = [
            f"review status of {self.shard_dir}",
            f"  queued:   {self.queued_items} items ({self.queued_steps} steps) in {len(self.queues)} queue(s)",
            f"  reviewed: {self.reviewed_items} items ({self.completed_items} fully), {self.reviewed_steps} steps, "
            f"{self.decisions} decisions",
            f"  disagreements with the validator: {self.disagreements}",
        ]
        if self.reviewers:
            lines.append("  reviewers: " + ", ".join(f"{r} ({n})" for r, n in sorted(self.reviewers.items())))
        for q in self.queues:
            lines.append(f"  queue {q['queue_id']}: {q['items']} items, {q['reviewed']} reviewed -> {q['queue_dir']}")
        if self.top_reasons:
            lines.append("  top disagreement reasons:")
            lines.extend(f"    {reason:<28} {n}" for reason, n in self.top_reasons)
        lines.append(self.agreement.render())
        return "\n".join(lines)


def review_status(shard_dir: str | Path, *, top: int = 10) -> ReviewStatus:
    """Summarise the review state of a shard folder from its `reviews/` folder.

    Args:
        shard_dir: the shard folder.
        top: how many disagreement reasons to list.

    Returns:
        A `ReviewStatus`.

    Raises:
        InputError: the folder does not exist.
        ShardError: the folder is not a shard folder.
    """
    shard_dir = Path(shard_dir)
    check_shard_dir(shard_dir)
    status = ReviewStatus(shard_dir=shard_dir)
    rows = latest_decisions(store.read_reviews(shard_dir))
    queued: dict[str, int] = {}
    per_queue = []
    for meta in store.read_queues(shard_dir):
        ids = {e["item_id"]: e.get("n_steps", 0) for e in meta.get("items", [])}
        queued.update(ids)
        per_queue.append({"queue_id": meta["queue_id"], "queue_dir": meta.get("queue_dir", ""), "ids": ids})
    status.queued_items = len(queued)
    status.queued_steps = sum(queued.values())
    reviewed_steps: dict[str, set[int]] = {}
    for row in rows:
        reviewed_steps.setdefault(row["item_id"], set()).add(row["step_index"])
    status.reviewed_items = len(reviewed_steps)
    status.reviewed_steps = sum(len(s) for s in reviewed_steps.values())
    status.completed_items = sum(1 for i, s in reviewed_steps.items() if queued.get(i) and len(s) >= queued[i])
    status.decisions = len(rows)
    status.reviewers = dict(Counter(row["reviewer"] for row in rows))
    reasons: Counter[str] = Counter()
    for row in rows:
        if row["decision"] == "unsure" or (row["decision"] == "good") == bool(row["validator_label"]):
            continue
        status.disagreements += 1
        if row["validator_label"]:
            reasons[MISSED] += 1
        else:
            reasons.update(row["validator_reasons"] or [NO_REASON])
    status.top_reasons = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    status.queues = [
        {"queue_id": q["queue_id"], "queue_dir": q["queue_dir"], "items": len(q["ids"]),
         "reviewed": sum(1 for i in q["ids"] if i in reviewed_steps)}
        for q in per_queue
    ]
    status.agreement = compute_agreement(rows)
    return status
