"""`radprm eval doubt`: fit the learned second opinion (`radprm.validators.doubt`) on labelled sets and
report what it does with each set's folds left out.

Each set is a CHAINS file and its EXPECTED labels (the natural layout of `radprm eval steps`), over one
REPORTS file. Every chain is validated here by the rules alone (no abstention), and every step's features
are read by the validator's own `doubt_features`, so the model is fitted on exactly what it will see. Then
one L2-regularised logistic regression per side of the rules' decision (steps they labelled good, steps
they decided bad) is fitted by Newton's method (numpy; features seen in fewer than `min_count` steps of a
side are dropped).

The honest figures are the out-of-fold ones: the sets are dealt into `folds` groups, and each group is
judged by a model fitted on the others. Sets the rules were tuned on flatter the rules, not the model:
their misses are the hard ones.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.evaluation.calibrate import set_name, unique_set_name
from radprm.evaluation.steps import detect_layout, natural_rows, pct
from radprm.quarantine import QuarantineSink
from radprm.run import write_text_atomic
from radprm.schemas.records import Report
from radprm.validators.abstention import OFF, Counts, load_abstention
from radprm.validators.align import Claim
from radprm.validators.batch import load_reports
from radprm.validators.chains_io import read_chains, report_ids
from radprm.validators.doubt import SIDES, DoubtModel
from radprm.validators.steps import StepValidator

DEFAULT_L2 = 1.0  # chosen out of fold on IU writer sets 27-56 (0.3, 1, 3 and 10 tried)
DEFAULT_MIN_COUNT = 5
DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class DoubtRow:
    """One scored step: its set, the side the rules put it on, the truth, and its features."""

    set: str
    side: str | None  # "good", "bad", or None (the rules were unsure by their own reasoning)
    truly_bad: bool
    features: dict[str, float]


def doubt_rows(
    chains: str | Path, expected: str | Path, reports: Mapping[str, Report], validator: StepValidator,
    model: DoubtModel, *, name: str | None = None, claims: dict[str, list[Claim]] | None = None,
    source: str = "the reports",
) -> list[DoubtRow]:
    """Validate one labelled set with the rules and read every scored step's features.

    Args:
        reports: the reports by id (read once for all sets: `fit_doubt_sets`).
        claims: report claims by report id, filled and reused across calls (a report recurs over chains).
        source: where the reports came from, for the error message.

    Raises:
        InputError: EXPECTED is not a natural set, or no scored step of it was validated.
    """
    chains, expected = Path(chains), Path(expected)
    if detect_layout(expected) != "natural":
        raise InputError("the second opinion is fitted on natural sets (good, kind, scored, split)",
                         path=expected, field="good")
    truth = {e.key: e for e in natural_rows(expected) if e.scored}
    sink = QuarantineSink()  # problem rows are not steps to learn from; `radprm validate` reports them
    name = name or set_name(expected)
    claims = {} if claims is None else claims
    rows = []
    for row in read_chains(chains, quarantine=sink):
        chain = row.chain
        report = reports.get(chain.report_id)
        if report is None:
            continue
        if chain.report_id not in claims:
            claims[chain.report_id] = validator.report_claims(report)
        result = validator.validate_claims(chain, report, claims[chain.report_id])
        for i, (a, features) in enumerate(zip(result.analyses, validator.doubt_features(
                chain, report, result.analyses, model), strict=True)):
            e = truth.get((chain.chain_id, i))
            if e is None:
                continue
            r = a.result
            side = "good" if r.label else ("bad" if r.verdict != "unsure" else None)
            rows.append(DoubtRow(name, side, not e.good, features))
    if not rows:
        raise InputError("no scored step was validated (joined on chain_id + step_index)", path=expected,
                         hint=f"check that {chains} holds this set's chains and their reports are in {source}")
    return rows


def fit_side(rows: Sequence[DoubtRow], *, l2: float, min_count: int) -> dict[str, float]:
    """Weights of one side's logistic regression (features of at least `min_count` rows; bias unpenalised)."""
    import numpy as np

    counts = Counter(k for r in rows for k in r.features)
    names = sorted(k for k, c in counts.items() if c >= min_count or k == "bias")
    if not rows or not names:
        return {}
    index = {k: i for i, k in enumerate(names)}
    x = np.zeros((len(rows), len(names)))
    for i, r in enumerate(rows):
        for k, v in r.features.items():
            j = index.get(k)
            if j is not None:
                x[i, j] = v
    y = np.array([r.truly_bad for r in rows], dtype=float)
    penalty = np.full(len(names), l2)
    penalty[index["bias"]] = 1e-6
    w = np.zeros(len(names))
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return {k: round(float(v), 5) for k, v in zip(names, w, strict=True) if abs(v) >= 1e-5}


def fit_model(rows: Sequence[DoubtRow], spec: DoubtModel, *, l2: float, min_count: int, **update: Any) -> DoubtModel:
    """A model with `spec`'s features and thresholds and weights fitted on `rows`."""
    weights = {side: fit_side([r for r in rows if r.side == side], l2=l2, min_count=min_count) for side in SIDES}
    sets = sorted({r.set for r in rows})
    return DoubtModel.model_validate({**spec.model_dump(exclude={"sha256"}), "weights": weights, "sets": sets,
                                      **update})


@dataclass
class Figures(Counts):
    """Recall and false flags of the rules, and precision / coverage of decided labels, before -> after."""

    scored: int = 0
    bad: int = 0
    caught_before: int = 0
    caught_after: int = 0
    flagged_good_before: int = 0
    flagged_good_after: int = 0
    suspected: int = 0  # good side made unsure, label False
    suspected_truly_bad: int = 0
    doubted: int = 0  # bad side made unsure
    doubted_truly_bad: int = 0
    unsure_before: int = 0
    decided_bad_before: int = 0
    decided_bad_right_before: int = 0

    def add_row(self, row: DoubtRow, model: DoubtModel) -> None:
        self.scored += 1
        self.bad += row.truly_bad
        flagged_before = row.side != "good"
        self.unsure_before += row.side is None
        self.decided_bad_before += row.side == "bad"
        self.decided_bad_right_before += row.side == "bad" and row.truly_bad
        flagged_after = flagged_before
        if row.side == "good" and model.weights["good"] and model.p_bad("good", row.features) >= model.flag_at:
            flagged_after = True
            self.suspected += 1
            self.suspected_truly_bad += row.truly_bad
        elif row.side == "bad" and model.weights["bad"] and model.p_bad("bad", row.features) < model.keep_at:
            self.doubted += 1
            self.doubted_truly_bad += row.truly_bad
        if row.truly_bad:
            self.caught_before += flagged_before
            self.caught_after += flagged_after
        else:
            self.flagged_good_before += flagged_before
            self.flagged_good_after += flagged_after

    def as_dict(self) -> dict[str, Any]:
        good = self.scored - self.bad
        kept = self.decided_bad_before - self.doubted
        kept_right = self.decided_bad_right_before - self.doubted_truly_bad
        return {
            "scored": self.scored, "bad": self.bad,
            "recall_before": _ratio(self.caught_before, self.bad), "recall_after": _ratio(self.caught_after, self.bad),
            "false_flags_before": _ratio(self.flagged_good_before, good),
            "false_flags_after": _ratio(self.flagged_good_after, good),
            "suspected": self.suspected, "suspected_truly_bad": self.suspected_truly_bad,
            "doubted": self.doubted, "doubted_truly_bad": self.doubted_truly_bad,
            "precision_before": _ratio(self.decided_bad_right_before, self.decided_bad_before),
            "precision_after": _ratio(kept_right, kept),
            "coverage_before": _ratio(self.scored - self.unsure_before, self.scored),
            "coverage_after": _ratio(self.scored - self.unsure_before - self.suspected - self.doubted, self.scored),
        }


def _ratio(hits: int, n: int) -> float | None:
    return hits / n if n else None


@dataclass
class DoubtReport:
    """The fitted model, and its figures per set in sample and out of fold."""

    model: DoubtModel
    in_sample: dict[str, Figures] = field(default_factory=dict)
    out_of_fold: dict[str, Figures] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        m = self.model
        return {
            "version": m.version, "flag_at": m.flag_at, "keep_at": m.keep_at,
            "features": {side: len(m.weights[side]) for side in SIDES},
            "in_sample": {"pooled": Figures.pooled(self.in_sample.values()).as_dict(),
                          **{k: v.as_dict() for k, v in self.in_sample.items()}},
            "out_of_fold": ({"pooled": Figures.pooled(self.out_of_fold.values()).as_dict(),
                             **{k: v.as_dict() for k, v in self.out_of_fold.items()}} if self.out_of_fold else None),
            "strongest": {side: {way: [[name, round(v, 3)] for name, v in pairs]
                                 for way, pairs in m.strongest(side).items()} for side in SIDES},
        }

    def render(self) -> str:
        def line(name: str, f: Figures) -> str:
            d = f.as_dict()
            return (f"  {name:<14} {d['scored']:>6}  recall {pct(d['recall_before']):>6} -> {pct(d['recall_after']):>6}"
                    f"  false flags {pct(d['false_flags_before']):>5} -> {pct(d['false_flags_after']):>5}"
                    f"  precision {pct(d['precision_before']):>6} -> {pct(d['precision_after']):>6}"
                    f"  coverage {pct(d['coverage_before']):>6} -> {pct(d['coverage_after']):>6}"
                    f"  suspected {d['suspected']} ({d['suspected_truly_bad']} bad)"
                    f"  doubted {d['doubted']} ({d['doubted_truly_bad']} bad)")

        m = self.model
        lines = [f"second opinion {m.version}: flag good at P(bad) >= {m.flag_at}, keep bad at P(bad) >= {m.keep_at}; "
                 f"features: good {len(m.weights['good'])}, bad {len(m.weights['bad'])}; {len(m.sets)} set(s)",
                 "rules alone -> rules + second opinion (precision of decided bad labels; coverage: not unsure):"]
        for title, figures in (("in sample (flatters the model)", self.in_sample),
                               ("out of fold (the honest figure)", self.out_of_fold)):
            if not figures:
                continue
            lines.append(title + ":")
            lines += [line(k, v) for k, v in figures.items()]
            lines.append(line("pooled", Figures.pooled(figures.values())))
        if not self.out_of_fold:
            lines.append("(fewer than two sets: no out-of-fold figures)")
        lines.append("strongest weights (feature names: validators/doubt.py), per side of the rules' decision:")
        for side in SIDES:
            for way, pairs in m.strongest(side).items():
                shown = ", ".join(f"{name} {v:+.2f}" for name, v in pairs) or "none"
                lines.append(f"  {side:<4} {way.replace('_', ' '):<11} {shown}")
        return "\n".join(lines)


def fit_doubt_sets(
    pairs: Sequence[tuple[str | Path, str | Path]],
    reports: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    *,
    spec: str | Path | None = None,
    l2: float = DEFAULT_L2,
    min_count: int = DEFAULT_MIN_COUNT,
    folds: int = DEFAULT_FOLDS,
    version: str,
    description: str = "",
    flag_at: float | None = None,
    keep_at: float | None = None,
    validator: StepValidator | None = None,
    **reader_options: Any,
) -> DoubtReport:
    """Fit the second opinion on (CHAINS, EXPECTED) pairs over REPORTS and write it to `out` when given.

    Args:
        reports: one reports file, or several (sets over IU reports and sets over made-up ones fitted together):
            every chain's report is looked up in all of them; an id two files hold is an error.
        spec: the model whose features and thresholds are kept (None: the packaged `doubt.json`).
        validator: a StepValidator to reuse; it must judge by the rules alone (abstention off).

    Raises:
        InputError: no pair, bad settings, a spec that is not a model, or a bad pair (see `doubt_rows`).
    """
    if not pairs:
        raise InputError("no labelled set given", field="chains", hint="give --chains CHAINS --expected EXPECTED pairs")
    if l2 <= 0 or min_count < 1 or folds < 2:
        raise InputError(f"need l2 > 0, min_count >= 1 and folds >= 2, got {l2}, {min_count}, {folds}", field="l2")
    base = load_abstention(spec)
    if not isinstance(base, DoubtModel):
        raise InputError("the spec is not a second-opinion model", path=str(spec), field="spec",
                         hint="give a file of `radprm eval doubt` (or nothing for the packaged one)")
    update: dict[str, Any] = {"version": version, "description": description}
    if flag_at is not None:
        update["flag_at"] = flag_at
    if keep_at is not None:
        update["keep_at"] = keep_at
    validator = validator or StepValidator(abstention=OFF)
    if validator.abstention is not None:
        raise InputError("the validator must judge by the rules alone", field="abstention", hint="abstention none")
    # the reports every set needs, read once
    wanted = set().union(*(report_ids(chains)[0] for chains, _ in pairs))
    sources = [reports] if isinstance(reports, str | Path) else list(reports)
    if not sources:
        raise InputError("no reports file given", field="reports", hint="give --reports REPORTS (repeatable)")
    by_id: dict[str, Report] = {}
    for source in sources:
        found = load_reports(source, wanted, QuarantineSink(), **reader_options)
        clash = sorted(found.keys() & by_id.keys())
        if clash:
            raise InputError(f"report id {clash[0]!r} is in more than one reports file", path=str(source),
                             field="report_id", hint="give each report once")
        by_id.update(found)
    claims: dict[str, list[Claim]] = {}
    sets: dict[str, list[DoubtRow]] = {}
    source = ", ".join(str(x) for x in sources)
    for chains, expected in pairs:
        name = unique_set_name(expected, sets)
        sets[name] = doubt_rows(chains, expected, by_id, validator, base, name=name, claims=claims, source=source)
    rows = [r for rs in sets.values() for r in rs]
    model = fit_model(rows, base, l2=l2, min_count=min_count, **update)
    report = DoubtReport(model)
    for name, rs in sets.items():
        report.in_sample[name] = _figures(rs, model)
    names = list(sets)
    if len(names) > 1:
        for k in range(min(folds, len(names))):
            held = set(names[k::folds])
            other = fit_model([r for r in rows if r.set not in held], base, l2=l2, min_count=min_count, **update)
            for name in held:
                report.out_of_fold[name] = _figures(sets[name], other)
        report.out_of_fold = {n: report.out_of_fold[n] for n in names}
    if out is not None:
        write_text_atomic(Path(out), json.dumps(model.model_dump(exclude={"sha256"}), indent=1) + "\n")
    return report


def _figures(rows: Sequence[DoubtRow], model: DoubtModel) -> Figures:
    f = Figures()
    for r in rows:
        f.add_row(r, model)
    return f


__all__ = ["DEFAULT_FOLDS", "DEFAULT_L2", "DEFAULT_MIN_COUNT", "DoubtReport", "DoubtRow", "Figures", "doubt_rows",
           "fit_doubt_sets", "fit_model", "fit_side"]
