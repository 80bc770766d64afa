"""radprm.review: annotator review of flagged chains, file-based and offline.

`build_queue` selects flagged chains plus a hidden calibration sample and writes review batches
(JSONL + a self-contained HTML page); `apply_decisions` validates the decisions reviewers download
and appends them with provenance to `<shard_dir>/reviews/`; `review_status` and `compute_agreement`
report progress and validator-vs-human agreement; `human_labels` gives trainers the resolved labels.
"""

from radprm.review.agreement import Agreement, Confusion, cohen_kappa, compute_agreement, latest_decisions
from radprm.review.apply import ApplySummary, apply_decisions
from radprm.review.labels import human_labels
from radprm.review.queue import QueueSummary, build_queue
from radprm.review.status import ReviewStatus, review_status
from radprm.review.store import read_reviews

__all__ = [
    "Agreement",
    "ApplySummary",
    "Confusion",
    "QueueSummary",
    "ReviewStatus",
    "apply_decisions",
    "build_queue",
    "cohen_kappa",
    "compute_agreement",
    "human_labels",
    "latest_decisions",
    "read_reviews",
    "review_status",
]
