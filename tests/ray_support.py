"""Helpers of the Ray engine tests: made-up reports (no IU text) and the item/label view compared."""

from __future__ import annotations

import csv
from pathlib import Path

_FINDINGS = [
    "The heart is enlarged.", "Heart size is normal.", "There is a small right pleural effusion.",
    "No pleural effusion.", "No pneumothorax.", "There is a small left apical pneumothorax.",
    "Patchy opacity in the left lower lobe.", "The lungs are clear.", "Mild pulmonary edema.",
    "Degenerative changes of the thoracic spine.", "Atelectasis at the right base.", "No focal consolidation.",
]
_IMPRESSIONS = ["No acute cardiopulmonary process.", "Cardiomegaly.", "Small effusion.", "Possible pneumonia."]


def write_reports(path: Path, n: int = 50, empty: tuple[int, ...] = (7,)) -> Path:
    """`n` made-up reports (rows in `empty` have no text: quarantined by the reader)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "findings", "impression"])
        for i in range(n):
            if i in empty:
                w.writerow([f"r{i:03d}", "", ""])
                continue
            picks = [_FINDINGS[(i * k + k) % len(_FINDINGS)] for k in (1, 3, 5)]
            w.writerow([f"r{i:03d}", " ".join(dict.fromkeys(picks)), _IMPRESSIONS[i % len(_IMPRESSIONS)]])
    return path


def labels_by_item(shards: Path) -> dict[str, list[tuple[int, str]]]:
    """item_id -> [(step index, label)] of every item in a shard folder."""
    from radprm.shards.reader import read_items

    return {it.item_id: [(s.index, s.label) for s in it.steps] for it in read_items(shards)}
