"""Score report-level label predictions against gold labels: per-label and micro / macro P, R, F1.

The positive class (value 1) is scored first: a predicted 1 on a gold 1 is a true positive; -1
(uncertain), 0 and empty are all "not positive". The uncertain class (value -1) is scored the same way
(a predicted -1 on a gold -1 is a true positive) and shown when the gold uses -1 at all.

Gold layouts: the OpenI / radprm layout (`report_id`, `uid` or `id`, then one column per label) and
MIMIC-CXR's CheXpert / NegBio label files (`subject_id`, `study_id`, the 14 CheXpert columns with
1.0 / 0.0 / -1.0 / blank), joined on `study_id` (a leading `s` as in the file names is ignored on either
side). Rows are joined on the report id; ids present on one side only are reported, not scored.

Definitions (per label, then pooled for micro):
    precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2tp / (2tp + fp + fn).
A ratio with a zero denominator is undefined (None) and shown as "-"; macro averages are taken over
the labels where the measure is defined, so a label with no gold and no predicted positives neither
helps nor hurts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.tables import read_table

ID_COLUMNS = ("report_id", "uid", "id", "study_id")
#: Columns that are neither the id nor a label (MIMIC-CXR label files key studies by patient too).
KEY_COLUMNS = ("subject_id", "patient_id")
_STUDY_KEY = re.compile(r"^[sS](\d+)$")


@dataclass
class LabelScore:
    """Counts and scores of the positive class for one label (or pooled, for micro)."""

    label: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """Gold positives."""
        return self.tp + self.fn

    @property
    def predicted(self) -> int:
        """Predicted positives."""
        return self.tp + self.fp

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp), None when nothing was predicted positive."""
        return self.tp / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """tp / (tp + fn), None when the gold has no positive."""
        return self.tp / self.support if self.support else None

    @property
    def f1(self) -> float | None:
        """2tp / (2tp + fp + fn), None when there is neither a gold nor a predicted positive."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else None

    def as_dict(self) -> dict[str, Any]:
        """Counts and scores as a plain dict."""
        return {
            "label": self.label,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "predicted": self.predicted,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


@dataclass
class LabelEvaluation:
    """The result of `evaluate_labels`: per-label scores, micro and macro averages, join report."""

    labels: list[LabelScore]
    n_scored: int
    uncertain: list[LabelScore] = field(default_factory=list)
    gold_has_uncertain: bool = False
    missing_in_pred: list[str] = field(default_factory=list)
    missing_in_gold: list[str] = field(default_factory=list)
    pred_path: str = ""
    gold_path: str = ""

    @property
    def micro(self) -> LabelScore:
        """Positive-class counts pooled over labels."""
        return _pooled(self.labels)

    @property
    def macro(self) -> dict[str, float | None]:
        """Unweighted mean of each defined per-label measure (positive class)."""
        return _macro(self.labels)

    @property
    def uncertain_micro(self) -> LabelScore:
        """Uncertain-class (-1) counts pooled over labels."""
        return _pooled(self.uncertain)

    def as_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (the `--json` output)."""
        return {
            "pred": self.pred_path,
            "gold": self.gold_path,
            "n_scored": self.n_scored,
            "missing_in_pred": {"count": len(self.missing_in_pred), "ids": self.missing_in_pred[:50]},
            "missing_in_gold": {"count": len(self.missing_in_gold), "ids": self.missing_in_gold[:50]},
            "labels": [s.as_dict() for s in self.labels],
            "micro": self.micro.as_dict(),
            "macro": self.macro,
            "uncertain": {
                "gold_has_uncertain": self.gold_has_uncertain,
                "labels": [s.as_dict() for s in self.uncertain],
                "micro": self.uncertain_micro.as_dict(),
                "macro": _macro(self.uncertain),
            },
        }

    def render(self) -> str:
        """A plain-text table: one line per label, then micro and macro, then the join report."""

        def fmt(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        width = max([len(s.label) for s in self.labels] + [5])

        def table(scores: list[LabelScore]) -> list[str]:
            rows = [f"{'label':<{width}}  {'tp':>5} {'fp':>5} {'fn':>5} {'support':>7}  {'P':>5}  {'R':>5}  {'F1':>5}"]
            for s in [*scores, _pooled(scores)]:
                rows.append(
                    f"{s.label:<{width}}  {s.tp:>5} {s.fp:>5} {s.fn:>5} {s.support:>7}  "
                    f"{fmt(s.precision):>5}  {fmt(s.recall):>5}  {fmt(s.f1):>5}"
                )
            m = _macro(scores)
            rows.append(
                f"{'macro':<{width}}  {'':>5} {'':>5} {'':>5} {'':>7}  {fmt(m['precision']):>5}  "
                f"{fmt(m['recall']):>5}  {fmt(m['f1']):>5}"
            )
            return rows

        lines = table(self.labels)
        if self.gold_has_uncertain:
            lines += ["", "uncertain class (-1):", *table(self.uncertain)]
        lines.append(f"scored reports: {self.n_scored}")
        for name, ids in (("missing in predictions", self.missing_in_pred), ("missing in gold", self.missing_in_gold)):
            if ids:
                sample = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                lines.append(f"{name}: {len(ids)} ({sample})")
            else:
                lines.append(f"{name}: 0")
        return "\n".join(lines)


def _pooled(scores: list[LabelScore]) -> LabelScore:
    pooled = LabelScore("micro")
    for s in scores:
        pooled.tp += s.tp
        pooled.fp += s.fp
        pooled.fn += s.fn
    return pooled


def _macro(scores: list[LabelScore]) -> dict[str, float | None]:
    return {
        "precision": _mean(s.precision for s in scores),
        "recall": _mean(s.recall for s in scores),
        "f1": _mean(s.f1 for s in scores),
    }


def _positive(value: Any, path: str, row: int, label: str) -> bool:
    """True for 1 (as int, float or text); False for 0, -1, empty, None; InputError otherwise."""
    return _value(value, path, row, label) == 1


def _value(value: Any, path: str, row: int, label: str) -> int | None:
    """1, 0 or -1 (as int, float or text), None for empty; InputError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        if text == "" or text.lower() in ("nan", "none", "null"):
            return None
        try:
            number = float(text)
        except ValueError:
            raise InputError(
                f"label value {text!r} is not 1, 0, -1 or empty", path=path, row=row, field=label
            ) from None
    if number != number:  # NaN means empty
        return None
    if number not in (1.0, 0.0, -1.0):
        raise InputError(f"label value {value!r} is not 1, 0, -1 or empty", path=path, row=row, field=label)
    return int(number)


def load_label_table(path: str | Path) -> tuple[str, list[str], dict[str, dict[str, Any]]]:
    """Read a label table (csv / parquet / jsonl) keyed by report id.

    Returns:
        (id column, label columns in file order, {report id: row}).

    Raises:
        InputError: missing file, no id column, duplicate or empty id.
    """
    path_s = str(path)
    rows: dict[str, dict[str, Any]] = {}
    id_col: str | None = None
    columns: list[str] = []
    for i, row in enumerate(read_table(path), 1):
        if id_col is None:
            columns = list(row)
            id_col = next((c for c in ID_COLUMNS if c in row), None)
            if id_col is None:
                raise InputError(
                    "no report id column",
                    path=path_s,
                    field="report_id",
                    hint=f"expected one of {', '.join(ID_COLUMNS)}; found {', '.join(columns[:10])}",
                )
        raw_id = row.get(id_col)
        report_id = "" if raw_id is None else str(raw_id).strip()
        if report_id.endswith(".0") and report_id[:-2].isdigit():  # ids read back from a float column
            report_id = report_id[:-2]
        study = _STUDY_KEY.match(report_id)
        if study is not None:  # MIMIC-CXR study ids: 's50414267' (file name) is study_id 50414267
            report_id = study.group(1)
        if not report_id:
            raise InputError("empty report id", path=path_s, row=i, field=id_col)
        if report_id in rows:
            raise InputError(f"duplicate report id '{report_id}'", path=path_s, row=i, field=id_col)
        row["__row__"] = i
        rows[report_id] = row
    if id_col is None:
        raise InputError("no rows", path=path_s, hint="the label table is empty")
    labels = [c for c in columns if c not in ID_COLUMNS and c not in KEY_COLUMNS]
    return id_col, labels, rows


def evaluate_labels(pred: str | Path, gold: str | Path, *, labels: Sequence[str] | None = None) -> LabelEvaluation:
    """Compare predicted and gold label tables on the positive class.

    Args:
        pred: predictions, e.g. the output of `radprm findings` (report_id + one column per label).
        gold: gold labels: report_id / uid / id + label columns (OpenI layout; extra columns such as
            `normal` are ignored unless named in `labels`), or a MIMIC-CXR CheXpert / NegBio label file
            (`subject_id`, `study_id`, CheXpert columns with 1 / 0 / -1 / blank).
        labels: labels to score; default: every label column present in both files, in pred order.

    Returns:
        A LabelEvaluation (render() for a table, as_dict() for JSON): positive-class scores in
        `labels` / `micro` / `macro`, uncertain-class (-1) scores in `uncertain` / `uncertain_micro`.

    Raises:
        InputError: unreadable files, no shared label, a named label missing from a file, or a value
            other than 1 / 0 / -1 / empty (naming file, row and column).
    """
    _, pred_labels, pred_rows = load_label_table(pred)
    _, gold_labels, gold_rows = load_label_table(gold)
    if labels:
        for name, have, path in (("predictions", pred_labels, pred), ("gold", gold_labels, gold)):
            for label in labels:
                if label not in have:
                    raise InputError(
                        f"label '{label}' not in {name}",
                        path=str(path),
                        field=label,
                        hint="columns: " + ", ".join(have),
                    )
        chosen = list(labels)
    else:
        chosen = [c for c in pred_labels if c in gold_labels]
        if not chosen:
            raise InputError(
                "no label column shared by predictions and gold",
                path=str(pred),
                hint=f"prediction columns: {', '.join(pred_labels[:8])}; gold columns: {', '.join(gold_labels[:8])}",
            )
    scores = {label: LabelScore(label) for label in chosen}
    uncertain = {label: LabelScore(label) for label in chosen}
    gold_has_uncertain = False
    shared = [rid for rid in pred_rows if rid in gold_rows]
    for rid in shared:
        p_row, g_row = pred_rows[rid], gold_rows[rid]
        for label in chosen:
            p = _value(p_row.get(label), str(pred), p_row["__row__"], label)
            g = _value(g_row.get(label), str(gold), g_row["__row__"], label)
            gold_has_uncertain = gold_has_uncertain or g == -1
            for value, table in ((1, scores), (-1, uncertain)):
                s = table[label]
                if p == value and g == value:
                    s.tp += 1
                elif p == value:
                    s.fp += 1
                elif g == value:
                    s.fn += 1
    return LabelEvaluation(
        labels=list(scores.values()),
        n_scored=len(shared),
        uncertain=list(uncertain.values()),
        gold_has_uncertain=gold_has_uncertain,
        missing_in_pred=[rid for rid in gold_rows if rid not in pred_rows],
        missing_in_gold=[rid for rid in pred_rows if rid not in gold_rows],
        pred_path=str(pred),
        gold_path=str(gold),
    )
