"""Human step labels resolved for trainers: each reviewer's latest decision, then a majority vote."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from radprm.review import store
from radprm.review.agreement import latest_decisions


def human_labels(shard_dir: str | Path) -> dict[tuple[str, int], bool]:
    """Resolved human label per reviewed step: True good, False bad.

    Each reviewer's latest decision counts once; `unsure` does not vote; a tie leaves the step out,
    so callers fall back to the validator's label there.

    Args:
        shard_dir: the shard folder holding `reviews/`.

    Returns:
        `{(item_id, step_index): label}` for steps with a clear human majority.
    """
    votes: dict[tuple[str, int], Counter[str]] = {}
    for row in latest_decisions(store.read_reviews(shard_dir)):
        if row["decision"] != "unsure":
            votes.setdefault((row["item_id"], row["step_index"]), Counter())[row["decision"]] += 1
    return {key: c["good"] > c["bad"] for key, c in votes.items() if c["good"] != c["bad"]}
