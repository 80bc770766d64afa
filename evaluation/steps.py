"""Score step predictions against expected labels, in one of two layouts (detected from EXPECTED's columns).

PRED is the step table of `radprm validate` (chain_id, step_index, label, verdict, reasons, ...).

*Templated* EXPECTED has chain_id, step_index, expected_label and optionally `operator` (the corruption;
empty or 'faithful' for faithful steps), `expected_reason` and `phrasing` (e.g. verbatim / paraphrase /
glue). The output of `radprm perturb` and the evaluation set of `radprm.evaluation.stepset` are both
templated EXPECTED files; the figures are detection per corruption type and false flags on faithful steps.

*Natural* EXPECTED has chain_id, step_index, `good` (bool), `kind` (writer's code: a bad kind such as
negation, or a good kind such as restate), `scored` (both annotators agree) and `split` (tune / test),
the layout of the natural-chains sets. The figures are recall per bad kind, false-flag rate per good
kind, precision and F1 of bad labels, first-bad-step accuracy per chain and abstention (verdict
`unsure`), every rate with a 95 % Wilson score interval and its n. Only scored rows count.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, NamedTuple

from radprm.errors import InputError
from radprm.tables import cell_bool, read_table

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
            lines.append(f"{op:<22}{r.n:>7}{r.hits:>10}{pct(r.rate):>8}{pct(rm.rate):>11}")
        lines.append(f"{'faithful (false flags)':<22}{self.false_flags.n:>7}{self.false_flags.hits:>10}"
                     f"{pct(self.false_flags.rate):>8}")
        for ph, r in sorted(self.false_flags_by_phrasing.items()):
            lines.append(f"  {ph:<20}{r.n:>7}{r.hits:>10}{pct(r.rate):>8}")
        if self.false_flag_reasons:
            reasons = self.false_flag_reasons.most_common()
            lines.append("false-flag reasons: " + ", ".join(f"{k}={v}" for k, v in reasons))
        if self.missing:
            lines.append(f"missing predictions: {self.missing} expected rows have no predicted step")
        return "\n".join(lines)


def pct(rate: float | None) -> str:
    """A rate as a percentage with one decimal ("-" when there is none)."""
    return "-" if rate is None else f"{100 * rate:.1f}%"


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


def _eval_templated(pred: Path, expected: Path) -> StepEval:
    """Templated EXPECTED (expected_label, operator): detection per operator, false flags on faithful steps."""
    preds = read_preds(pred, unique=False)
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
        label, reasons, verdict, _ = preds[key]
        op = str(row.get("operator") or "").strip()
        want = cell_bool(row["expected_label"], expected, n, "expected_label")
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


# ---------------------------------------------------------------------------------------------------------
# Natural sets: good/bad per step written and labelled by people (natural-chains layout).

BAD_KINDS = ("hallucination", "negation", "laterality", "severity", "location", "overstated", "dismissed",
             "temporal", "number", "wrong_answer")
GOOD_KINDS = ("plan", "restate", "inference", "unmentioned_absent", "answer")
SPLITS = ("tune", "test", "all")
TEMPLATED_COLUMNS = ("chain_id", "step_index", "expected_label")
NATURAL_COLUMNS = ("chain_id", "step_index", "good", "kind", "scored", "split")
UNSURE = "unsure"
Z95 = NormalDist().inv_cdf(0.975)


def _small_n_note(rates: dict[str, Rate]) -> str:
    ns = [r.n for r in rates.values() if r.n]
    span = f" (bad kinds: n = {min(ns)} to {max(ns)} steps each)" if ns else ""
    return (f"per-kind counts are small{span}: their intervals are wide, do not over-read differences "
            "between kinds; the 'all' rows are the figures to quote")


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of hits / n (95 % by default); None when n is 0.

    centre = (p + z²/2n) / (1 + z²/n), half-width = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²).
    """
    if n <= 0:
        return None
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate_ci(r: Rate) -> dict[str, Any]:
    ci = wilson(r.hits, r.n)
    return {**r.as_dict(), "ci95": None if ci is None else [round(ci[0], 4), round(ci[1], 4)]}


def _ci_text(r: Rate) -> str:
    ci = wilson(r.hits, r.n)
    return "" if ci is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


@dataclass
class NaturalStepEval:
    """Figures for a natural EXPECTED set: per-kind recall and false flags, precision, F1, first bad step,
    abstention; and what was left out (unscored rows, rows of other splits, missing predictions).

    In every `Rate`, `hits` counts the event named by the figure: a detected bad step (recall), a good
    step labelled bad (false flags), a truly bad step among those labelled bad (precision), a truly good
    step among those labelled good (good accuracy), a step not `unsure` (coverage), a chain whose
    predicted first bad step is the expected one (first bad step).
    """

    expected: str = ""
    split: str = "all"
    rows: int = 0
    other_split: int = 0
    unscored: int = 0
    missing: int = 0
    missing_scored: int = 0
    missing_examples: list[str] = field(default_factory=list)
    extra: int = 0
    recall: dict[str, Rate] = field(default_factory=lambda: {k: Rate() for k in BAD_KINDS})
    recall_all: Rate = field(default_factory=Rate)
    false_flags: dict[str, Rate] = field(default_factory=lambda: {k: Rate() for k in GOOD_KINDS})
    false_flags_all: Rate = field(default_factory=Rate)
    precision: Rate = field(default_factory=Rate)
    good_accuracy: Rate = field(default_factory=Rate)
    coverage: Rate = field(default_factory=Rate)
    precision_masked: Rate = field(default_factory=Rate)
    good_accuracy_masked: Rate = field(default_factory=Rate)
    unsure_truth: Counter[str] = field(default_factory=Counter)
    first_bad: Rate = field(default_factory=Rate)
    chains: int = 0
    chains_unscored: int = 0
    chains_missing: int = 0
    false_flag_reasons: Counter[str] = field(default_factory=Counter)
    missed_verdicts: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def scored(self) -> int:
        """Scored rows of the split that have a prediction (the steps every figure is computed on)."""
        return self.recall_all.n + self.false_flags_all.n

    @property
    def confusion(self) -> dict[str, int]:
        """Bad is the positive class: tp = bad labelled bad, fp = good labelled bad, fn, tn."""
        tp, fp = self.recall_all.hits, self.false_flags_all.hits
        return {"tp": tp, "fp": fp, "fn": self.recall_all.n - tp, "tn": self.false_flags_all.n - fp}

    @property
    def f1(self) -> float | None:
        """F1 of the bad class, 2·tp / (2·tp + fp + fn); None when there is nothing to score."""
        c = self.confusion
        denom = 2 * c["tp"] + c["fp"] + c["fn"]
        return 2 * c["tp"] / denom if denom else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every figure (rates with n, hits and a 95 % Wilson interval `ci95`)."""
        return {
            "layout": "natural",
            "expected": self.expected,
            "split": self.split,
            "rows": {"in_split": self.rows, "scored_with_prediction": self.scored, "unscored": self.unscored,
                     "other_splits": self.other_split, "missing_predictions": self.missing,
                     "missing_scored": self.missing_scored, "missing_examples": self.missing_examples,
                     "unmatched_predictions": self.extra},
            "recall": {"by_kind": {k: _rate_ci(v) for k, v in self.recall.items()}, "all": _rate_ci(self.recall_all)},
            "false_flags": {"by_kind": {k: _rate_ci(v) for k, v in self.false_flags.items()},
                            "all": _rate_ci(self.false_flags_all)},
            "precision_bad": _rate_ci(self.precision),
            "accuracy_good": _rate_ci(self.good_accuracy),
            "f1_bad": None if self.f1 is None else round(self.f1, 4),
            "confusion": self.confusion,
            "first_bad_step": {**_rate_ci(self.first_bad), "chains_used": self.first_bad.n, "chains": self.chains,
                               "chains_with_unscored_step": self.chains_unscored,
                               "chains_with_missing_prediction": self.chains_missing},
            "abstention": {"unsure": sum(self.unsure_truth.values()), "unsure_truly_bad": self.unsure_truth["bad"],
                           "unsure_truly_good": self.unsure_truth["good"], "coverage": _rate_ci(self.coverage),
                           "precision_bad": {"unmasked": _rate_ci(self.precision),
                                             "unsure_masked": _rate_ci(self.precision_masked)},
                           "accuracy_good": {"unmasked": _rate_ci(self.good_accuracy),
                                             "unsure_masked": _rate_ci(self.good_accuracy_masked)}},
            "false_flag_reasons": dict(self.false_flag_reasons.most_common()),
            "missed_verdicts": {k: dict(v.most_common()) for k, v in sorted(self.missed_verdicts.items())},
            "note": _small_n_note(self.recall),
        }

    def render(self) -> str:
        """A plain-text report for the terminal."""
        head = f"{'':<24}{'n':>6}{'hits':>6}{'rate':>8}  95% CI (Wilson, %)"

        def line(name: str, r: Rate) -> str:
            return f"{name:<24}{r.n:>6}{r.hits:>6}{pct(r.rate):>8}  {_ci_text(r)}".rstrip()

        lines = [f"natural set {self.expected}, split {self.split}: {self.scored} scored steps with a prediction",
                 f"rows in split {self.rows} = {self.scored} scored with a prediction + {self.unscored} unscored "
                 f"(annotators disagree or ambiguous; not counted) + {self.missing} missing predictions "
                 f"({self.missing_scored} of them scored)",
                 f"rows of other splits {self.other_split}; predictions matching no expected row {self.extra}"]
        if self.missing_examples:
            lines.append("missing: " + ", ".join(self.missing_examples)
                         + (" ..." if self.missing > len(self.missing_examples) else ""))
        lines += ["", "recall of bad steps" + head[len("recall of bad steps"):]]
        lines += [line("  " + k, v) for k, v in self.recall.items()]
        lines += [line("  all bad", self.recall_all), "",
                  "false flags on good steps" + head[len("false flags on good steps"):]]
        lines += [line("  " + k, v) for k, v in self.false_flags.items()]
        lines += [line("  all good", self.false_flags_all), "", head,
                  line("precision of bad labels", self.precision),
                  line("accuracy of good labels", self.good_accuracy)]
        c = self.confusion
        f1 = "-" if self.f1 is None else f"{self.f1:.3f}"
        lines.append(f"F1 (bad class) {f1}  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']}, tn {c['tn']}; "
                     "not a proportion, so no Wilson interval: see recall and precision)")
        lines += ["", line("first bad step (chain)", self.first_bad),
                  f"  chains used {self.first_bad.n} of {self.chains} (left out: {self.chains_unscored} with an "
                  f"unscored step, {self.chains_missing} with a missing prediction); -1 = no bad step"]
        u = self.unsure_truth
        lines += ["", f"abstention: {sum(u.values())} steps 'unsure' ({u['bad']} truly bad, {u['good']} truly good)",
                  line("coverage (not unsure)", self.coverage),
                  line("precision of bad labels", self.precision),
                  line("  unsure masked", self.precision_masked),
                  line("accuracy of good labels", self.good_accuracy),
                  line("  unsure masked", self.good_accuracy_masked)]
        if self.false_flag_reasons:
            reasons = self.false_flag_reasons.most_common()
            lines.append("false-flag reasons: " + ", ".join(f"{k}={v}" for k, v in reasons))
        lines += ["", f"note: {_small_n_note(self.recall)}."]
        return "\n".join(lines)


def detect_layout(expected: str | Path) -> str:
    """'templated' or 'natural', from the columns of EXPECTED's first row.

    Raises:
        InputError: EXPECTED is empty, or has neither `expected_label` nor the natural columns (the error
            names the file and the columns each layout misses).
    """
    expected = Path(expected)
    first = next(iter(read_table(expected)), None)
    if first is None:
        raise InputError("no rows", path=expected, hint="EXPECTED needs one row per step")
    columns = set(first)
    if "expected_label" in columns:
        return "templated"
    missing_natural = [c for c in NATURAL_COLUMNS if c not in columns]
    if not missing_natural:
        return "natural"
    raise InputError(
        "missing column, and the natural-set column(s) " + ", ".join(f"'{c}'" for c in missing_natural)
        + " are missing too: EXPECTED matches neither layout", path=expected, row=1, field="expected_label",
        hint="templated: " + ", ".join(TEMPLATED_COLUMNS) + "; natural: " + ", ".join(NATURAL_COLUMNS))


class Predicted(NamedTuple):
    """One step of PRED (the step table of `radprm validate`)."""

    label: bool
    reasons: list[str]
    verdict: str
    step: str


def read_preds(pred: Path, *, unique: bool) -> dict[tuple[str, int], Predicted]:
    """PRED's steps by (chain_id, step_index).

    Raises:
        InputError: no `label` column, a missing or bad key, or (with `unique`) a step twice.
    """
    preds: dict[tuple[str, int], Predicted] = {}
    for n, row in enumerate(read_table(pred), start=1):
        if "label" not in row:
            raise InputError("missing column", path=pred, row=n, field="label",
                             hint="PRED is the step table of radprm validate")
        key = _key(row, pred, n)
        if unique and key in preds:
            raise InputError(f"duplicate step {key[0]}/{key[1]}", path=pred, row=n, field="step_index",
                             hint="PRED has one row per chain_id + step_index")
        preds[key] = Predicted(cell_bool(row["label"], pred, n, "label"), _as_list(row.get("reasons")),
                               str(row.get("verdict") or ""), str(row.get("step") or ""))
    return preds


class ExpectedStep(NamedTuple):
    """One row of a natural EXPECTED file."""

    key: tuple[str, int]
    good: bool
    scored: bool
    kind: str
    split: str
    step: str


def natural_rows(expected: Path, splits_seen: Counter[str] | None = None) -> Iterator[ExpectedStep]:
    """The rows of a natural EXPECTED file, checked (`splits_seen` counts every row's split).

    Raises:
        InputError: a missing column, key or kind, a duplicate step, a bad boolean (file, row, field).
    """
    seen: set[tuple[str, int]] = set()
    for n, row in enumerate(read_table(expected), start=1):
        for name in NATURAL_COLUMNS:
            if name not in row:
                raise InputError("missing column", path=expected, row=n, field=name,
                                 hint="natural EXPECTED rows have " + ", ".join(NATURAL_COLUMNS))
        key = _key(row, expected, n)
        if key in seen:
            raise InputError(f"duplicate step {key[0]}/{key[1]}", path=expected, row=n, field="step_index")
        seen.add(key)
        good = cell_bool(row["good"], expected, n, "good")
        scored = cell_bool(row["scored"], expected, n, "scored")
        kind = str(row["kind"] or "").strip()
        if not kind:
            raise InputError("empty kind", path=expected, row=n, field="kind")
        row_split = str(row["split"] or "").strip()
        if splits_seen is not None:
            splits_seen[row_split] += 1
        yield ExpectedStep(key, good, scored, kind, row_split, str(row.get("step") or ""))


def _eval_natural(pred: Path, expected: Path, split: str) -> NaturalStepEval:
    preds = read_preds(pred, unique=True)
    result = NaturalStepEval(expected=str(expected), split=split)
    seen: set[tuple[str, int]] = set()
    splits_seen: Counter[str] = Counter()
    # chain_id -> [(step_index, good, scored, predicted label or None when missing)]
    chains: dict[str, list[tuple[int, bool, bool, bool | None]]] = defaultdict(list)
    missed: dict[str, Counter[str]] = defaultdict(Counter)
    for key, good, scored, kind, row_split, _ in natural_rows(expected, splits_seen):
        seen.add(key)
        if split != "all" and row_split != split:
            result.other_split += 1
            continue
        result.rows += 1
        predicted = preds.get(key)
        chains[key[0]].append((key[1], good, scored, None if predicted is None else predicted[0]))
        if predicted is None:
            result.missing += 1
            result.missing_scored += scored
            if len(result.missing_examples) < 5:
                result.missing_examples.append(f"{key[0]}/{key[1]}")
            continue
        if not scored:
            result.unscored += 1
            continue
        label, reasons, verdict, _ = predicted
        flagged, unsure = not label, verdict == UNSURE
        if good:
            ff = result.false_flags.setdefault(kind, Rate())
            for r in (ff, result.false_flags_all):
                r.n += 1
                r.hits += flagged
            if flagged:
                result.false_flag_reasons.update(reasons)
        else:
            rc = result.recall.setdefault(kind, Rate())
            for r in (rc, result.recall_all):
                r.n += 1
                r.hits += flagged
            if not flagged:
                missed[kind][verdict or "?"] += 1
        label_rates = (result.precision, result.precision_masked) if flagged else \
            (result.good_accuracy, result.good_accuracy_masked)
        truly = (not good) if flagged else good
        label_rates[0].n += 1
        label_rates[0].hits += truly
        if not unsure:
            label_rates[1].n += 1
            label_rates[1].hits += truly
        result.coverage.n += 1
        result.coverage.hits += not unsure
        if unsure:
            result.unsure_truth["good" if good else "bad"] += 1
    if result.rows == 0:
        found = ", ".join(f"{k or '(empty)'}={v}" for k, v in sorted(splits_seen.items()))
        raise InputError(f"no row in split {split!r}", path=expected, field="split",
                         hint=f"splits in the file: {found}")
    if result.scored == 0:
        raise InputError("no scored expected row has a prediction (joined on chain_id + step_index)", path=expected,
                         hint=f"check that {pred} was made by validating the chains of {expected}")
    for steps in chains.values():
        result.chains += 1
        if not all(scored for _, _, scored, _ in steps):
            result.chains_unscored += 1
            continue
        if any(label is None for *_, label in steps):
            result.chains_missing += 1
            continue
        want = min((i for i, good, _, _ in steps if not good), default=-1)
        got = min((i for i, _, _, label in steps if label is False), default=-1)
        result.first_bad.n += 1
        result.first_bad.hits += want == got
    result.extra = len(preds.keys() - seen)
    result.missed_verdicts = dict(missed)
    return result


def eval_steps(pred: str | Path, expected: str | Path, *, split: str = "all") -> StepEval | NaturalStepEval:
    """Compare predicted step labels with expected ones; the layout of EXPECTED picks the figures.

    Args:
        pred: step table from `radprm validate` (.parquet, .jsonl or .csv).
        expected: templated expectations (perturb output or an evaluation-set expected file: column
            `expected_label`) or a natural set (columns `good`, `kind`, `scored`, `split`).
        split: natural sets only: `tune`, `test` or `all` (rows whose `split` column matches).

    Returns:
        StepEval (templated: detection per operator, false flags on faithful steps) or NaturalStepEval
        (natural: recall / false flags per kind, precision, F1, first bad step, abstention, with
        Wilson intervals).

    Raises:
        InputError: missing file or column, neither layout, unknown split (or a split with a templated
            set), duplicate steps in a natural set, or no expected row with a prediction.
    """
    pred, expected = Path(pred), Path(expected)
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}", field="split", hint="choose from " + ", ".join(SPLITS))
    layout = detect_layout(expected)
    if layout == "templated":
        if split != "all":
            raise InputError(f"split {split!r} needs a natural set, but this EXPECTED is templated (no split column)",
                             path=expected, field="split", hint="leave the split at 'all' for templated sets")
        return _eval_templated(pred, expected)
    return _eval_natural(pred, expected, split)

def write_json(result: StepEval | NaturalStepEval, path: str | Path) -> None:
    """Write the evaluation figures as JSON."""
    Path(path).write_text(json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8")


__all__ = ["BAD_KINDS", "GOOD_KINDS", "SPLITS", "ExpectedStep", "NaturalStepEval", "Predicted", "Rate", "StepEval",
           "detect_layout", "eval_steps", "natural_rows", "pct", "read_preds", "wilson", "write_json"]
