"""`radprm eval calibrate`: count how often each kind of bad label was right on labelled sets, and write the
abstention table the validator reads (`radprm.validators.abstention`).

Each set is a pair: PRED, the step table `radprm validate` wrote for a natural set's chains, and EXPECTED, the
set's labels (the natural layout of `radprm eval steps`). Steps the table itself made `unsure` (note
`low_precision_fault`) count as the rules' decided bad labels, so a set validated with any table calibrates
the same as one validated with ``--abstention none``.

Counting on sets the rules were tuned on flatters them: their bad labels there are right more often than
on text nobody has read. Calibrate on predictions made *before* the rules were tuned on a set (cold), and
read the leave-one-set-out figures the report prints: each set judged by a table counted on the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.evaluation.steps import SPLITS, detect_layout, natural_rows, pct, read_preds
from radprm.run import write_text_atomic
from radprm.validators.abstention import (
    LOW_PRECISION,
    AbstentionTable,
    FlagRow,
    MaskedFigures,
    calibrate,
    masked_figures,
)
from radprm.validators.steps import cites_report, step_flag_kinds

DEFAULT_THRESHOLD = 0.75  # the packaged table's (chosen by leaving one set out)
DEFAULT_PRIOR_STRENGTH = 10.0


def set_name(expected: str | Path) -> str:
    """A labelled set's name: the folder of its EXPECTED file (or the file's stem)."""
    expected = Path(expected)
    return expected.parent.name or expected.stem


def unique_set_name(expected: str | Path, taken: Collection[str]) -> str:
    """`set_name`, numbered when a set of that name was already given ("w9", then "w9-2")."""
    name = set_name(expected)
    return f"{name}-{len(taken) + 1}" if name in taken else name


def flag_rows(pred: str | Path, expected: str | Path, *, split: str = "all", name: str | None = None) -> list[FlagRow]:
    """The scored steps of one labelled set as calibration reads them.

    Raises:
        InputError: EXPECTED is not a natural set, an unknown split, or no scored row of the split has a
            prediction (the files do not belong together).
    """
    pred, expected = Path(pred), Path(expected)
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}", field="split", hint="choose from " + ", ".join(SPLITS))
    if detect_layout(expected) != "natural":
        raise InputError("calibration needs a natural set (good, kind, scored, split)", path=expected,
                         field="good", hint="templated sets say nothing about how often a label is right")
    preds = read_preds(pred, unique=True)
    name = name or set_name(expected)
    expected_rows = list(natural_rows(expected))
    # every step of a chain (scored or not), as validated: does the chain cite the report anywhere
    chain_steps: dict[str, list[str]] = {}
    for e in expected_rows:
        p = preds.get(e.key)
        chain_steps.setdefault(e.key[0], []).append((p.step if p is not None else "") or e.step)
    citing = {chain_id: cites_report(steps) for chain_id, steps in chain_steps.items()}
    rows = []
    for e in expected_rows:
        if not e.scored or (split != "all" and e.split != split):
            continue
        p = preds.get(e.key)
        if p is None:
            continue
        abstained = LOW_PRECISION in p.reasons
        decided = not p.label and (p.verdict != "unsure" or abstained)
        kinds = step_flag_kinds(p.reasons, p.step or e.step, citing[e.key[0]]) if decided else None
        rows.append(FlagRow(name, kinds, not e.good, unsure=p.verdict == "unsure" and not abstained))
    if not rows:
        raise InputError(f"no scored step of split {split!r} has a prediction (joined on chain_id + step_index)",
                         path=expected, hint=f"check that {pred} was made by validating this set's chains")
    return rows


@dataclass
class CalibrationReport:
    """The table, and what it does to each set in sample and with that set left out."""

    table: AbstentionTable
    in_sample: dict[str, MaskedFigures] = field(default_factory=dict)
    left_out: dict[str, MaskedFigures] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.table.version, "threshold": self.table.threshold,
            "prior_strength": self.table.prior_strength,
            "abstained_kinds": [{"kind": k, "decided": f, "right": r, "estimate": round(e, 4)}
                                for k, f, r, e in self.table.abstaining_kinds()],
            "in_sample": {"pooled": MaskedFigures.pooled(self.in_sample.values()).as_dict(),
                          **{k: v.as_dict() for k, v in self.in_sample.items()}},
            "leave_one_set_out": ({"pooled": MaskedFigures.pooled(self.left_out.values()).as_dict(),
                                   **{k: v.as_dict() for k, v in self.left_out.items()}} if self.left_out else None),
        }

    def render(self) -> str:
        def line(name: str, f: MaskedFigures) -> str:
            d = f.as_dict()
            return (f"  {name:<14} {d['scored']:>6}  {pct(d['precision_before']):>7}"
                    f" at {pct(d['coverage_before']):>6}  ->  {pct(d['precision_after']):>7}"
                    f" at {pct(d['coverage_after']):>6}"
                    f"  abstained {d['abstained']} ({d['abstained_truly_bad']} truly bad)")

        t = self.table
        lines = [f"abstention table {t.version}: threshold {t.threshold}, prior strength {t.prior_strength}, "
                 f"{len(t.counts)} kinds from {sum(s.flagged for s in t.sets)} decided bad labels of "
                 f"{len(t.sets)} set(s)",
                 "precision of decided bad labels at coverage, without -> with the table:"]
        for title, figures in (("in sample (flatters the table)", self.in_sample),
                               ("each set left out (the honest figure)", self.left_out)):
            if not figures:
                continue
            lines.append(title + ":")
            lines += [line(k, v) for k, v in figures.items()]
            lines.append(line("pooled", MaskedFigures.pooled(figures.values())))
        if not self.left_out:
            lines.append("(one set: no leave-one-set-out figures; calibrate on two or more sets)")
        below = t.abstaining_kinds()
        lines.append(f"kinds abstained on (estimated precision < {t.threshold}; decided bad labels, right, estimate):")
        lines += [f"  {kind:<45} {flagged:>5} {right:>5}  {estimate:.3f}" for kind, flagged, right, estimate in below]
        if not below:
            lines.append("  none")
        return "\n".join(lines)


def calibrate_sets(
    pairs: Sequence[tuple[str | Path, str | Path]],
    out: str | Path | None = None,
    *,
    split: str = "all",
    threshold: float = DEFAULT_THRESHOLD,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    version: str,
    description: str = "",
) -> CalibrationReport:
    """Build the abstention table from (PRED, EXPECTED) pairs and write it to `out` (JSON) when given.

    Raises:
        InputError: no pair, two sets of the same name, or a bad pair (see `flag_rows`).
    """
    if not pairs:
        raise InputError("no labelled set given", field="pred", hint="give --pred PRED --expected EXPECTED pairs")
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold {threshold} is not between 0 and 1", field="threshold")
    sets: dict[str, list[FlagRow]] = {}
    for pred, expected in pairs:
        name = unique_set_name(expected, sets)
        sets[name] = flag_rows(pred, expected, split=split, name=name)
    rows = [r for rs in sets.values() for r in rs]
    settings = {"threshold": threshold, "prior_strength": prior_strength, "version": version}
    table = calibrate(rows, description=description, **settings)
    report = CalibrationReport(table)
    for name, rs in sets.items():
        report.in_sample[name] = masked_figures(rs, table)
        if len(sets) > 1:
            others = calibrate([r for r in rows if r.set != name], **settings)
            report.left_out[name] = masked_figures(rs, others)
    if out is not None:
        text = json.dumps(table.model_dump(exclude={"sha256"}), indent=1)
        # one line per count: "kind": [flagged, right]
        text = re.sub(r"\[\s*(\d+),\s*(\d+)\s*\]", r"[\1, \2]", text)
        write_text_atomic(Path(out), text + "\n")
    return report


__all__ = [
    "DEFAULT_PRIOR_STRENGTH", "DEFAULT_THRESHOLD", "CalibrationReport", "calibrate_sets", "flag_rows", "set_name",
    "unique_set_name",
]
