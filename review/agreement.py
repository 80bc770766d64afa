"""Agreement between the validator's step labels and human decisions (and between humans).

"bad" is the positive class. One observation is one (item, step, reviewer) with the reviewer's
latest decision; `unsure` decisions are counted but left out of the 2x2 tables. Per reason code,
a step counts under every code the validator gave it (steps without a code count under `(none)`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

NO_REASON = "(none)"


def cohen_kappa(
    both_bad: int, validator_bad_human_good: int, validator_good_human_bad: int, both_good: int
) -> float | None:
    """Cohen's kappa of a 2x2 table; None when undefined (no data, or chance agreement is 1).

    Args:
        both_bad: validator bad, human bad.
        validator_bad_human_good: validator bad, human good.
        validator_good_human_bad: validator good, human bad.
        both_good: validator good, human good.

    Returns:
        kappa = (p_o - p_e) / (1 - p_e), or None.
    """
    n = both_bad + validator_bad_human_good + validator_good_human_bad + both_good
    if n == 0:
        return None
    p_o = (both_bad + both_good) / n
    v_bad, h_bad = both_bad + validator_bad_human_good, both_bad + validator_good_human_bad
    p_e = (v_bad * h_bad + (n - v_bad) * (n - h_bad)) / (n * n)
    if p_e == 1:
        return None
    return (p_o - p_e) / (1 - p_e)


@dataclass
class Confusion:
    """Validator-vs-human 2x2 counts (bad = positive) plus the unsure decisions left out."""

    both_bad: int = 0
    validator_bad_human_good: int = 0
    validator_good_human_bad: int = 0
    both_good: int = 0
    unsure: int = 0

    def add(self, validator_good: bool, decision: str) -> None:
        """Count one decision against the validator's label."""
        if decision == "unsure":
            self.unsure += 1
        elif validator_good:
            if decision == "good":
                self.both_good += 1
            else:
                self.validator_good_human_bad += 1
        elif decision == "bad":
            self.both_bad += 1
        else:
            self.validator_bad_human_good += 1

    @property
    def n(self) -> int:
        """Decided (good/bad) observations."""
        return self.both_bad + self.validator_bad_human_good + self.validator_good_human_bad + self.both_good

    @property
    def disagreements(self) -> int:
        """Observations where human and validator differ."""
        return self.validator_bad_human_good + self.validator_good_human_bad

    @property
    def accuracy(self) -> float | None:
        """Share of observations where the validator agrees with the human."""
        return (self.both_bad + self.both_good) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa between validator and human."""
        return cohen_kappa(self.both_bad, self.validator_bad_human_good, self.validator_good_human_bad, self.both_good)

    def as_dict(self) -> dict[str, Any]:
        """Counts and derived statistics as plain values."""
        return {
            "n": self.n, "accuracy": self.accuracy, "kappa": self.kappa, "both_bad": self.both_bad,
            "validator_bad_human_good": self.validator_bad_human_good,
            "validator_good_human_bad": self.validator_good_human_bad, "both_good": self.both_good,
            "unsure": self.unsure,
        }


@dataclass
class Agreement:
    """Validator-vs-human agreement overall and broken down, plus human-human agreement."""

    overall: Confusion = field(default_factory=Confusion)
    by_reason: dict[str, Confusion] = field(default_factory=lambda: defaultdict(Confusion))
    by_kind: dict[str, Confusion] = field(default_factory=lambda: defaultdict(Confusion))
    by_reviewer: dict[str, Confusion] = field(default_factory=lambda: defaultdict(Confusion))
    inter_annotator_pairs: int = 0
    inter_annotator_kappa: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain values (for JSON output)."""
        return {
            "overall": self.overall.as_dict(),
            "by_reason": {k: v.as_dict() for k, v in sorted(self.by_reason.items())},
            "by_kind": {k: v.as_dict() for k, v in sorted(self.by_kind.items())},
            "by_reviewer": {k: v.as_dict() for k, v in sorted(self.by_reviewer.items())},
            "inter_annotator": {"pairs": self.inter_annotator_pairs, "kappa": self.inter_annotator_kappa},
        }

    def render(self) -> str:
        """Plain-text tables: overall, confusion, per reason code, per kind, per reviewer."""
        o = self.overall
        lines = [
            f"agreement validator vs human: n={o.n} accuracy={_fmt(o.accuracy)} kappa={_fmt(o.kappa)}"
            f" (unsure: {o.unsure})",
            "  confusion          human bad  human good",
            f"  validator bad     {o.both_bad:>9}  {o.validator_bad_human_good:>10}",
            f"  validator good    {o.validator_good_human_bad:>9}  {o.both_good:>10}",
        ]
        for title, table in (("reason code", self.by_reason), ("kind", self.by_kind), ("reviewer", self.by_reviewer)):
            if not table:
                continue
            width = max(len(title), *(len(k) for k in table))
            lines.append(f"  {title:<{width}}  {'n':>5}  {'accuracy':>8}  {'kappa':>6}  {'disagree':>8}")
            for key, c in sorted(table.items(), key=lambda kv: (-kv[1].n, kv[0])):
                lines.append(
                    f"  {key:<{width}}  {c.n:>5}  {_fmt(c.accuracy):>8}  {_fmt(c.kappa):>6}  {c.disagreements:>8}"
                )
        if self.inter_annotator_pairs:
            lines.append(
                f"  human vs human: {self.inter_annotator_pairs} step pairs, kappa={_fmt(self.inter_annotator_kappa)}"
            )
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def latest_decisions(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep each reviewer's latest decision per step (by `reviewed_at`, then apply order).

    Args:
        rows: review rows as stored in `reviews/` (oldest part first).

    Returns:
        One row per (item_id, step_index, reviewer).
    """
    latest: dict[tuple[str, int, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["item_id"], row["step_index"], row["reviewer"])
        if key not in latest or row["reviewed_at"] >= latest[key]["reviewed_at"]:
            latest[key] = row
    return list(latest.values())


def compute_agreement(rows: Iterable[dict[str, Any]]) -> Agreement:
    """Agreement statistics over review rows (latest decision per reviewer and step).

    Args:
        rows: review rows with `validator_label`, `validator_reasons`, `decision`, `reviewer`, `kind`.

    Returns:
        An `Agreement`.
    """
    result = Agreement()
    per_step: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for row in latest_decisions(rows):
        good, decision = bool(row["validator_label"]), row["decision"]
        result.overall.add(good, decision)
        for reason in row.get("validator_reasons") or [NO_REASON]:
            result.by_reason[reason].add(good, decision)
        result.by_kind[row.get("kind") or "unqueued"].add(good, decision)
        result.by_reviewer[row["reviewer"]].add(good, decision)
        if decision != "unsure":
            per_step[(row["item_id"], row["step_index"])][row["reviewer"]] = decision
    # Human-human: every pair of reviewers on the same step is one observation of a pooled 2x2 table.
    table = Confusion()
    for decisions in per_step.values():
        for a, b in combinations(sorted(decisions), 2):
            table.add(decisions[a] == "good", decisions[b])
    result.inter_annotator_pairs = table.n
    result.inter_annotator_kappa = table.kappa if table.n else None
    return result
