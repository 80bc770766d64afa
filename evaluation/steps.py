"""Score step predictions against expected labels: detection per corruption type, false flags on faithful steps.

PRED is the step table of `radprm validate` (chain_id, step_index, label, reasons, ...). EXPECTED has
chain_id, step_index, expected_label and optionally `operator` (the corruption; empty or 'faithful'
for faithful steps), `expected_reason` and `phrasing` (e.g. verbatim / paraphrase / glue). The output
of `radprm perturb` and the evaluation set of `radprm.evaluation.stepset` are both EXPECTED files.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.tables import read_table

FAITHFUL = ("", "faithful", "none")


@dataclass
class Rate:
    """A count of hits among n, with the rate (None when n is 0)."""

    n: int = 0
    hits: int = 0

    @property
    def rate(self) -> float | None:
        """hits / n."""
        return self.hits / self.n if self.n else None

    def as_dict(self) -> dict[str, Any]:
        """n, hits and rate rounded to 4 places."""
        return {"n": self.n, "hits": self.hits, "rate": None if self.rate is None else round(self.rate, 4)}


@dataclass
class StepEval:
    """Detection rate per operator, reason agreement, false-flag rate on faithful steps, missing rows."""

    detection: dict[str, Rate] = field(default_factory=dict)
    reason_match: dict[str, Rate] = field(default_factory=dict)
    false_flags: Rate = field(default_factory=Rate)
    false_flags_by_phrasing: dict[str, Rate] = field(default_factory=dict)
    false_flag_reasons: Counter[str] = field(default_factory=Counter)
    missed_reasons: dict[str, Counter[str]] = field(default_factory=dict)
    missing: int = 0
    extra: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every figure."""
        return {
            "detection": {k: v.as_dict() for k, v in sorted(self.detection.items())},
            "reason_match": {k: v.as_dict() for k, v in sorted(self.reason_match.items())},
            "false_flags": self.false_flags.as_dict(),
            "false_flags_by_phrasing": {k: v.as_dict() for k, v in sorted(self.false_flags_by_phrasing.items())},
            "false_flag_reasons": dict(self.false_flag_reasons.most_common()),
            "missed_verdicts": {k: dict(v.most_common()) for k, v in sorted(self.missed_reasons.items())},
            "missing_predictions": self.missing,
            "unmatched_predictions": self.extra,
        }

    def render(self) -> str:
        """A plain-text table for the terminal."""
        lines = [f"{'operator':<22}{'n':>7}{'detected':>10}{'rate':>8}{'reason ok':>11}"]
        for op, r in sorted(self.detection.items()):
            rm = self.reason_match.get(op, Rate())
            lines.append(f"{op:<22}{r.n:>7}{r.hits:>10}{_pct(r.rate):>8}{_pct(rm.rate):>11}")
        lines.append(f"{'faithful (false flags)':<22}{self.false_flags.n:>7}{self.false_flags.hits:>10}"
                     f"{_pct(self.false_flags.rate):>8}")
        for ph, r in sorted(self.false_flags_by_phrasing.items()):
            lines.append(f"  {ph:<20}{r.n:>7}{r.hits:>10}{_pct(r.rate):>8}")
        if self.false_flag_reasons:
            lines.append("false-flag reasons: " + ", ".join(f"{k}={v}" for k, v in self.false_flag_reasons.most_common()))
        if self.missing:
            lines.append(f"missing predictions: {self.missing} expected rows have no predicted step")
        return "\n".join(lines)


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def _as_bool(value: Any, path: Path, row: int, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InputError(f"expected a boolean, got {value!r:.40}", path=path, row=row, field=name)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value]
    return [str(v) for v in value]


def _key(row: dict[str, Any], path: Path, n: int) -> tuple[str, int]:
    for name in ("chain_id", "step_index"):
        if row.get(name) is None:
            raise InputError("missing value", path=path, row=n, field=name,
                             hint="PRED and EXPECTED are joined on chain_id + step_index")
    try:
        return str(row["chain_id"]), int(row["step_index"])
    except (TypeError, ValueError):
        raise InputError(f"not an integer: {row['step_index']!r}", path=path, row=n, field="step_index") from None


def eval_steps(pred: str | Path, expected: str | Path) -> StepEval:
    """Compare predicted step labels with expected ones.

    Args:
        pred: step table from `radprm validate` (.parquet, .jsonl or .csv).
        expected: expected labels (perturb output or an evaluation-set expected file).

    Returns:
        StepEval with detection per operator and false flags on faithful steps.

    Raises:
        InputError: missing file/column, or no expected row with a prediction.
    """
    pred, expected = Path(pred), Path(expected)
    preds: dict[tuple[str, int], tuple[bool, list[str], str]] = {}
    for n, row in enumerate(read_table(pred), start=1):
        if "label" not in row:
            raise InputError("missing column", path=pred, row=n, field="label", hint="PRED is the step table of radprm validate")
        preds[_key(row, pred, n)] = (_as_bool(row["label"], pred, n, "label"), _as_list(row.get("reasons")),
                                     str(row.get("verdict") or ""))
    result = StepEval()
    missed: dict[str, Counter[str]] = defaultdict(Counter)
    matched = 0
    for n, row in enumerate(read_table(expected), start=1):
        if "expected_label" not in row:
            raise InputError("missing column", path=expected, row=n, field="expected_label")
        key = _key(row, expected, n)
        if key not in preds:
            result.missing += 1
            continue
        matched += 1
        label, reasons, verdict = preds[key]
        op = str(row.get("operator") or "").strip()
        want = _as_bool(row["expected_label"], expected, n, "expected_label")
        if op.lower() in FAITHFUL and want:
            result.false_flags.n += 1
            phrasing = str(row.get("phrasing") or "all")
            bucket = result.false_flags_by_phrasing.setdefault(phrasing, Rate())
            bucket.n += 1
            if not label:
                result.false_flags.hits += 1
                bucket.hits += 1
                result.false_flag_reasons.update(reasons)
            continue
        name = op or "bad"
        det = result.detection.setdefault(name, Rate())
        det.n += 1
        if label == want:
            det.hits += 1
        else:
            missed[name][verdict or "?"] += 1
        expected_reason = row.get("expected_reason")
        if expected_reason:
            rm = result.reason_match.setdefault(name, Rate())
            rm.n += 1
            rm.hits += expected_reason in reasons
    result.missed_reasons = dict(missed)
    result.extra = len(preds) - matched
    if matched == 0:
        raise InputError("no expected row has a prediction (joined on chain_id + step_index)", path=expected,
                         hint=f"check that {pred} was made by validating the chains of {expected}")
    return result


def write_json(result: StepEval, path: str | Path) -> None:
    """Write the evaluation figures as JSON."""
    Path(path).write_text(json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8")


__all__ = ["Rate", "StepEval", "eval_steps", "write_json"]
