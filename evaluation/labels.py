"""Score report-level label predictions against gold labels: per-label and micro / macro P, R, F1.

Only the positive class counts (value 1): a predicted 1 on a gold 1 is a true positive; -1 (uncertain),
0 and empty are all "not positive". Rows are joined on the report id (`report_id`, or `uid` / `id`
in either file); ids present on one side only are reported, not scored.

Definitions (per label, then pooled for micro):
    precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2tp / (2tp + fp + fn).
A ratio with a zero denominator is undefined (None) and shown as "-"; macro averages are taken over
the labels where the measure is defined, so a label with no gold and no predicted positives neither
helps nor hurts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.tables import read_table

ID_COLUMNS = ("report_id", "uid", "id")


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
    missing_in_pred: list[str] = field(default_factory=list)
    missing_in_gold: list[str] = field(default_factory=list)
    pred_path: str = ""
    gold_path: str = ""

    @property
    def micro(self) -> LabelScore:
        """Counts pooled over labels."""
        pooled = LabelScore("micro")
        for s in self.labels:
            pooled.tp += s.tp
            pooled.fp += s.fp
            pooled.fn += s.fn
        return pooled

    @property
    def macro(self) -> dict[str, float | None]:
        """Unweighted mean of each defined per-label measure."""
        return {
            "precision": _mean(s.precision for s in self.labels),
            "recall": _mean(s.recall for s in self.labels),
            "f1": _mean(s.f1 for s in self.labels),
        }

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
        }

    def render(self) -> str:
        """A plain-text table: one line per label, then micro and macro, then the join report."""

        def fmt(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        width = max([len(s.label) for s in self.labels] + [5])
        lines = [f"{'label':<{width}}  {'tp':>5} {'fp':>5} {'fn':>5} {'support':>7}  {'P':>5}  {'R':>5}  {'F1':>5}"]
        for s in [*self.labels, self.micro]:
            lines.append(
                f"{s.label:<{width}}  {s.tp:>5} {s.fp:>5} {s.fn:>5} {s.support:>7}  {fmt(s.precision):>5}  {fmt(s.recall):>5}  {fmt(s.f1):>5}"
            )
        m = self.macro
        lines.append(f"{'macro':<{width}}  {'':>5} {'':>5} {'':>5} {'':>7}  {fmt(m['precision']):>5}  {fmt(m['recall']):>5}  {fmt(m['f1']):>5}")
        lines.append(f"scored reports: {self.n_scored}")
        for name, ids in (("missing in predictions", self.missing_in_pred), ("missing in gold", self.missing_in_gold)):
            if ids:
                sample = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                lines.append(f"{name}: {len(ids)} ({sample})")
            else:
                lines.append(f"{name}: 0")
        return "\n".join(lines)


def _positive(value: Any, path: str, row: int, label: str) -> bool:
    """True for 1 (as int, float or text); False for 0, -1, empty, None; InputError otherwise."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        if text == "" or text.lower() in ("nan", "none", "null"):
            return False
        try:
            number = float(text)
        except ValueError:
            raise InputError(f"label value {text!r} is not 1, 0, -1 or empty", path=path, row=row, field=label) from None
    if number not in (1.0, 0.0, -1.0) and number == number:  # NaN (number != number) means empty
        raise InputError(f"label value {value!r} is not 1, 0, -1 or empty", path=path, row=row, field=label)
    return number == 1.0


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
        if not report_id:
            raise InputError("empty report id", path=path_s, row=i, field=id_col)
        if report_id in rows:
            raise InputError(f"duplicate report id '{report_id}'", path=path_s, row=i, field=id_col)
        row["__row__"] = i
        rows[report_id] = row
    if id_col is None:
        raise InputError("no rows", path=path_s, hint="the label table is empty")
    labels = [c for c in columns if c not in ID_COLUMNS]
    return id_col, labels, rows


def evaluate_labels(pred: str | Path, gold: str | Path, *, labels: Sequence[str] | None = None) -> LabelEvaluation:
    """Compare predicted and gold label tables on the positive class.

    Args:
        pred: predictions, e.g. the output of `radprm findings` (report_id + one column per label).
        gold: gold labels (report_id or uid + label columns; extra columns such as `normal` are ignored
            unless named in `labels`).
        labels: labels to score; default: every label column present in both files, in pred order.

    Returns:
        A LabelEvaluation (render() for a table, as_dict() for JSON).

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
                    raise InputError(f"label '{label}' not in {name}", path=str(path), field=label, hint="columns: " + ", ".join(have))
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
    shared = [rid for rid in pred_rows if rid in gold_rows]
    for rid in shared:
        p_row, g_row = pred_rows[rid], gold_rows[rid]
        for label in chosen:
            p = _positive(p_row.get(label), str(pred), p_row["__row__"], label)
            g = _positive(g_row.get(label), str(gold), g_row["__row__"], label)
            s = scores[label]
            if p and g:
                s.tp += 1
            elif p:
                s.fp += 1
            elif g:
                s.fn += 1
    return LabelEvaluation(
        labels=list(scores.values()),
        n_scored=len(shared),
        missing_in_pred=[rid for rid in gold_rows if rid not in pred_rows],
        missing_in_gold=[rid for rid in pred_rows if rid not in gold_rows],
        pred_path=str(pred),
        gold_path=str(gold),
    )
