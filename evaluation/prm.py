"""Score a trained PRM's step probabilities against gold step labels.

Pure Python (no torch): `radprm.training.api.eval_prm` runs the model in the train venv and hands the
per-step P(good) here. Bad is the positive class, as in `radprm eval steps`.

Figures:
- **AUROC** of 1 - P(good) for bad steps (threshold-free ranking quality; 0.5 = chance).
- **accuracy** of `P(good) >= threshold` against gold, and precision / recall / F1 of bad flags.
- **first-error F1** (ProcessBench, Zheng et al. 2024): per chain the PRM's first error is the first step
  with P(good) < threshold (or none). `acc_error` = share of chains with an error whose first error
  index is found exactly; `acc_correct` = share of all-good chains the PRM calls error-free; F1 is their
  harmonic mean. A chain whose first gold error is preceded by an unscored step (annotators disagreed)
  has no defined first error and is left out (counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def auroc(scores: list[float], positives: list[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tie correction); None when a class is empty."""
    pairs = sorted(zip(scores, positives, strict=True), key=lambda p: p[0])
    n_pos = sum(positives)
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = 0.0
    i = 0
    while i < len(pairs):  # average rank over ties
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + j) / 2 + 1
        rank_sum += avg_rank * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass
class ChainScores:
    """One chain: P(good) per step (None: not scored, e.g. cut by max_length) and gold (None: no gold)."""

    chain_id: str
    scores: list[float | None]
    gold: list[bool | None]


@dataclass
class PrmEval:
    """The figures of one PRM on one gold set (see the module docstring)."""

    checkpoint: str = ""
    gold_path: str = ""
    split: str = "all"
    threshold: float = 0.5
    chains: int = 0
    steps: int = 0
    bad_steps: int = 0
    auroc: float | None = None
    accuracy: float | None = None
    precision_bad: float | None = None
    recall_bad: float | None = None
    f1_bad: float | None = None
    first_error: dict[str, Any] = field(default_factory=dict)
    steps_without_gold: int = 0
    steps_without_score: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures, rates rounded to 4 places."""
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "checkpoint": self.checkpoint, "gold": self.gold_path, "split": self.split, "threshold": self.threshold,
            "chains": self.chains, "steps": self.steps, "bad_steps": self.bad_steps, "auroc": r(self.auroc),
            "accuracy": r(self.accuracy), "precision_bad": r(self.precision_bad), "recall_bad": r(self.recall_bad),
            "f1_bad": r(self.f1_bad),
            "first_error": {k: r(v) if isinstance(v, float) else v for k, v in self.first_error.items()},
            "steps_without_gold": self.steps_without_gold, "steps_without_score": self.steps_without_score,
            "seconds": round(self.seconds, 2),
        }

    def render(self) -> str:
        """Plain-text summary for the terminal."""
        def f(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.3f}"

        fe = self.first_error
        lines = [
            f"PRM {self.checkpoint} on {self.gold_path} (split {self.split}, threshold {self.threshold})",
            f"  steps scored        {self.steps} ({self.bad_steps} bad) in {self.chains} chains",
            f"  AUROC (bad)         {f(self.auroc)}",
            f"  accuracy            {f(self.accuracy)}",
            f"  bad flags P / R / F1  {f(self.precision_bad)} / {f(self.recall_bad)} / {f(self.f1_bad)}",
            f"  first-error F1      {f(fe.get('f1'))}  (acc on chains with an error {f(fe.get('acc_error'))} "
            f"n={fe.get('n_error', 0)}, on error-free chains {f(fe.get('acc_correct'))} n={fe.get('n_correct', 0)}; "
            f"{fe.get('undefined', 0)} chains without a defined first error)",
        ]
        if self.steps_without_gold or self.steps_without_score:
            lines.append(f"  left out: {self.steps_without_gold} steps without gold, "
                         f"{self.steps_without_score} steps without a score (cut by max_length)")
        lines.append(f"  {self.seconds:.1f}s")
        return "\n".join(lines)


def first_index(flags: list[bool]) -> int:
    """Index of the first True, or -1."""
    return next((i for i, b in enumerate(flags) if b), -1)


def score_chains(chains: list[ChainScores], *, threshold: float = 0.5) -> PrmEval:
    """Compute every figure of `PrmEval` from per-chain scores and gold labels."""
    result = PrmEval(threshold=threshold)
    risk: list[float] = []
    bad: list[bool] = []
    tp = fp = fn = correct = 0
    n_err = hit_err = n_ok = hit_ok = undefined = 0
    for chain in chains:
        used = False
        for s, g in zip(chain.scores, chain.gold, strict=True):
            if g is None:
                result.steps_without_gold += 1
                continue
            if s is None:
                result.steps_without_score += 1
                continue
            used = True
            risk.append(1.0 - s)
            bad.append(not g)
            flagged = s < threshold
            correct += flagged == (not g)
            tp += flagged and not g
            fp += flagged and g
            fn += (not flagged) and not g
        result.chains += used
        # first error: defined when every step up to the first gold error (or all steps) has gold and a score
        gold_bad = [g is False for g in chain.gold]
        first_gold = first_index(gold_bad)
        upto = len(chain.gold) if first_gold < 0 else first_gold + 1
        if any(g is None for g in chain.gold[:upto]) or any(s is None for s in chain.scores[:upto]):
            undefined += 1
            continue
        predicted = first_index([s is not None and s < threshold for s in chain.scores])
        if first_gold < 0:
            n_ok += 1
            hit_ok += predicted < 0
        else:
            n_err += 1
            hit_err += predicted == first_gold
    result.steps, result.bad_steps = len(bad), sum(bad)
    result.auroc = auroc(risk, bad)
    result.accuracy = correct / len(bad) if bad else None
    result.precision_bad = tp / (tp + fp) if tp + fp else None
    result.recall_bad = tp / (tp + fn) if tp + fn else None
    p, r = result.precision_bad, result.recall_bad
    result.f1_bad = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    acc_err = hit_err / n_err if n_err else None
    acc_ok = hit_ok / n_ok if n_ok else None
    f1 = 2 * acc_err * acc_ok / (acc_err + acc_ok) if acc_err and acc_ok else (
        0.0 if acc_err is not None and acc_ok is not None else None)
    result.first_error = {"f1": f1, "acc_error": acc_err, "n_error": n_err, "acc_correct": acc_ok, "n_correct": n_ok,
                          "undefined": undefined}
    return result
