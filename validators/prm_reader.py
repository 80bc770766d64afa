"""A trained PRM as a second reader of the rules' step labels (`radprm validate --prm CHECKPOINT`).

The rules read what their patterns cover; the learned second opinion (`radprm.validators.doubt`) weighs a
few dozen hand-built signals. A process reward model trained with `radprm train prm` on chains labelled by
people reads the whole chain against the whole report. On its own it is the weaker labeller: on blind IU
writer sets over reports nobody had used it catches about four bad steps in five at the rules' false-flag
rate, where the rules catch nine in ten. But it is wrong in other places than the rules, so it is used
only where it is confident and the rules are silent or undecided (`PrmPolicy`):

* the rules (and the second opinion) call the step good, the PRM's P(bad) is at least ``flag_at``: the
  step becomes `unsure` with the note `prm_suspects_fault`, label False (the PRM's lean); exports mask it;
* the step is `unsure` (abstention, second opinion) and the PRM's P(bad) is at least ``settle_bad_at``:
  it is decided bad, with the verdict of its fault code (`unsupported` without one) and the note
  `prm_settled`;
* the step is `unsure` without a fault code of the rules (the second opinion suspected a step the rules
  passed) and P(bad) is at most ``settle_good_at``: it is decided good with the note `prm_settled`. A step
  the rules found a fault in is never turned good by the PRM: on the templated stepset, where the PRM is out
  of its depth, doing so turned 801 of 2,252 negation flips (flagged by the rules, doubted by the second
  opinion) into good labels. ``overrule_at`` (0: off; `fit_policy` tries it only with ``allow_overrule``)
  allows it for P(bad) at most that value, for chains known to be like the PRM's training chains;
* the rules decided the step bad and P(bad) is below ``keep_at``: `unsure` with the note
  `prm_doubts_fault`.

The thresholds are chosen on labelled dev sets and belong to a checkpoint: `radprm_prm_policy.json` in the
checkpoint folder overrides the defaults (the policy `fit_policy` chose without overruling for a MiniLM-L6
PRM on IU writer dev sets, see validators/README.md). Every step row gets the PRM's P(bad) in `prm_p_bad`
(null for a step the token budget cut). The PRM runs in the train venv (torch), chains in batches of
``batch_chains`` per worker run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from itertools import batched
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa

from radprm.errors import InputError
from radprm.schemas.arrow import append_fields
from radprm.schemas.records import StepResult
from radprm.validators.chains_io import chain_steps, step_of_row
from radprm.validators.reasons import FAULTS, REASONS
from radprm.validators.scoring import first_bad_step
from radprm.validators.steps import VERDICT_SCORE

POLICY_FILE = "radprm_prm_policy.json"
FITTED = "fitted"  # the policy file's provenance key (sets, constraints, figures); not a threshold
SUSPECTS = "prm_suspects_fault"  # note: the rules said good, the PRM is confident the step is bad
DOUBTS = "prm_doubts_fault"  # note: the rules said bad, the PRM is confident the step is good
SETTLED = "prm_settled"  # note: an unsure step the PRM decided
PRM_FIELDS = [pa.field("prm_p_bad", pa.float64())]
HELP = ("A checkpoint of `radprm train prm` read as a second reader: where the rules are silent or unsure "
        "and the PRM is confident, the step is flagged unsure or settled (thresholds: the checkpoint's "
        f"{POLICY_FILE}, else the defaults). Needs the train venv (make train-env).")

__all__ = ["DOUBTS", "HELP", "POLICY_FILE", "PRM_FIELDS", "SETTLED", "SUSPECTS", "PolicyFit", "PrmPolicy",
           "PrmReader", "PrmSummary", "fit_policy", "fuse_prm", "make_prm_reader", "policy_figures", "step_schema"]


@dataclass(frozen=True)
class PrmPolicy:
    """When the PRM's P(bad) changes a step (module docs). Defaults: chosen on dev sets for a MiniLM-L6 PRM."""

    flag_at: float = 0.8
    settle_bad_at: float = 1.0
    settle_good_at: float = 0.02
    keep_at: float = 0.01
    overrule_at: float = 0.0  # off: an unsure step with a rules fault and P(bad) at most this is turned good

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise InputError(f"PRM policy {f.name} must be a number in [0, 1], got {value!r}", field=f.name)

    @classmethod
    def for_checkpoint(cls, checkpoint: str | Path) -> PrmPolicy:
        """The checkpoint's `radprm_prm_policy.json`, else the defaults.

        Raises:
            InputError: the file is unreadable or names an unknown threshold (one line).
        """
        path = Path(checkpoint) / POLICY_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"unreadable PRM policy ({exc})", path=path) from None
        known = {f.name for f in fields(cls)}
        if isinstance(data, dict):
            data.pop(FITTED, None)  # provenance written by `radprm eval prm-policy`
        if not isinstance(data, dict) or set(data) - known:
            extra = sorted(set(data) - known) if isinstance(data, dict) else ["not an object"]
            raise InputError(f"unknown PRM policy key(s): {', '.join(extra)}", path=path,
                             hint=", ".join(sorted(known)))
        return cls(**data)


def _fault_verdict(reasons: Iterable[str]) -> str:
    """The verdict of the step's first fault code, `unsupported` without one."""
    return next((REASONS[code].verdict for code in reasons if code in FAULTS), "unsupported")


def _decided(step: StepResult, label: bool, verdict: str, reasons: list[str]) -> StepResult:
    return step.model_copy(update={"label": label, "verdict": verdict, "score": VERDICT_SCORE[verdict],
                                   "reasons": reasons})


def fuse_prm(step: StepResult, p_bad: float | None, policy: PrmPolicy) -> StepResult:
    """The step as the PRM's P(bad) leaves it under `policy` (the step itself when nothing changes)."""
    if p_bad is None:
        return step
    if step.verdict == "unsure":
        if p_bad >= policy.settle_bad_at:
            return _decided(step, False, _fault_verdict(step.reasons), [*step.reasons, SETTLED])
        faulted = any(r in FAULTS for r in step.reasons)
        if p_bad <= (policy.overrule_at if faulted else policy.settle_good_at):
            kept = [r for r in step.reasons if r not in FAULTS]  # as the LLM judge does: no fault on a good label
            verdict = "neutral" if "no_clinical_claim" in kept else "supported"
            return _decided(step, True, verdict, [*kept, SETTLED])
        return step
    if step.label and p_bad >= policy.flag_at:
        return _decided(step, False, "unsure", [*step.reasons, SUSPECTS])
    if not step.label and p_bad < policy.keep_at:
        return _decided(step, False, "unsure", [*step.reasons, DOUBTS])
    return step


def step_schema(base: pa.Schema) -> pa.Schema:
    """`base` (a step-table schema) with `PRM_FIELDS` appended; metadata kept."""
    return append_fields(base, PRM_FIELDS)


@dataclass
class PrmSummary:
    """What the PRM reader did in a run."""

    checkpoint: str
    policy: PrmPolicy
    steps: int = 0
    scored: int = 0
    changed: Counter = field(default_factory=Counter)  # suspects / doubts / settled_bad / settled_good

    def add(self, before: StepResult, after: StepResult, p_bad: float | None) -> None:
        self.steps += 1
        self.scored += p_bad is not None
        if after is before:
            return
        if SETTLED in after.reasons:
            self.changed["settled_good" if after.label else "settled_bad"] += 1
        elif SUSPECTS in after.reasons:
            self.changed["suspects"] += 1
        elif DOUBTS in after.reasons:
            self.changed["doubts"] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "policy": asdict(self.policy), "steps": self.steps,
                "scored": self.scored, "changed": dict(self.changed)}

    def render(self) -> str:
        c = self.changed
        return (f"PRM reader {self.checkpoint}: {self.scored}/{self.steps} steps scored; flagged unsure "
                f"{c['suspects']}, doubted {c['doubts']}, unsure settled bad {c['settled_bad']} / good "
                f"{c['settled_good']}")


class PrmReader:
    """Scores a validate run's chains with a trained PRM and fuses its P(bad) into the step rows."""

    def __init__(self, checkpoint: str | Path, *, policy: PrmPolicy | None = None, python: str | Path | None = None,
                 batch_chains: int = 512, max_length: int | None = None) -> None:
        self.checkpoint = Path(checkpoint)
        self.policy = policy
        self.python = python
        self.batch_chains = batch_chains
        self.max_length = max_length
        self.summary: PrmSummary | None = None
        self.first_bad: dict[str, int] = {}

    def open(self) -> PrmReader:
        """Check the checkpoint, its policy and the train Python before any output is touched (one-line errors)."""
        from radprm.training.api import check_checkpoint, train_python

        if not self.checkpoint.is_dir():
            raise InputError("PRM checkpoint not found", path=self.checkpoint, field="prm",
                             hint="a folder saved by `radprm train prm`")
        check_checkpoint(self.checkpoint)
        self.policy = self.policy or PrmPolicy.for_checkpoint(self.checkpoint)
        self.python = train_python(self.python)
        self.summary = PrmSummary(str(self.checkpoint), self.policy)
        return self

    def _score(self, batch: Iterable[tuple[Any, Any, list[StepResult]]]) -> dict[str, list[float | None]]:
        from radprm.exports.trl import build_prompt
        from radprm.training.api import score_prompts

        rows = []
        for chain, report, _ in batch:
            item = SimpleNamespace(report_text=report.text, question=chain.question or "", options=chain.options)
            rows.append({"key": chain.chain_id, "prompt": build_prompt(item, include_report=True),
                         "completions": list(chain.steps)})
        return score_prompts(self.checkpoint, rows, python=self.python, max_length=self.max_length, echo=False)

    def read_rows(self, rows: Iterable[dict[str, Any]], contexts: dict[str, tuple[Any, Any]], *,
                  keep: bool = False) -> Iterator[dict[str, Any]]:
        """Fuse the PRM into a stream of step-table rows (a chain's steps consecutive).

        `contexts` maps chain_id -> (chain, report), filled by the producer before the chain's rows;
        entries are removed once used unless `keep` (a judge reads them next). Yields the rows with
        `prm_p_bad` and the fused label/verdict/reasons.
        """
        if self.summary is None:
            self.open()
        assert self.summary is not None and self.policy is not None
        for batch in batched(chain_steps(rows, contexts.get if keep else contexts.pop), self.batch_chains):
            scores = self._score(batch)
            for chain, _, steps in batch:
                p_good = scores.get(chain.chain_id) or []
                out = []
                for step in steps:
                    pg = p_good[step.step_index] if step.step_index < len(p_good) else None
                    p_bad = None if pg is None else 1.0 - pg
                    fused = fuse_prm(step, p_bad, self.policy)
                    self.summary.add(step, fused, p_bad)
                    out.append(fused)
                    yield {**fused.model_dump(), "prm_p_bad": p_bad}
                self.first_bad[chain.chain_id] = first_bad_step(out)

    def patch_chain_rows(self, chain_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain-table rows with `first_bad_step` recomputed from the fused labels (in place)."""
        for row in chain_rows:
            if row["chain_id"] in self.first_bad:
                row["first_bad_step"] = self.first_bad[row["chain_id"]]
        return chain_rows


def make_prm_reader(prm: str | Path | PrmReader | None, **options: Any) -> PrmReader | None:
    """The `PrmReader` for a run's `prm` option (None: no PRM)."""
    if prm is None or isinstance(prm, PrmReader):
        return prm
    return PrmReader(prm, **options)


# --- choosing the policy on labelled dev sets (`radprm eval prm-policy`) ------------------------------
GRID: dict[str, tuple[float, ...]] = {
    "flag_at": (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0),
    "settle_bad_at": (0.7, 0.8, 0.9, 1.0),
    "settle_good_at": (0.0, 0.02, 0.05, 0.1),
    "keep_at": (0.0, 0.01, 0.02, 0.05),
}
OVERRULE_GRID = (0.0, 0.01, 0.02, 0.05)


def policy_figures(steps: Iterable[tuple[StepResult, float | None, bool]], policy: PrmPolicy | None) -> dict[str, Any]:
    """Recall, false flags, precision of decided bad labels (unsure masked) and coverage of (step, P(bad),
    truly bad) triples fused under `policy` (None: the steps as they are)."""
    n = bad = hits = ff = decided = decided_bad = right_bad = 0
    for step, p_bad, truly_bad in steps:
        s = step if policy is None else fuse_prm(step, p_bad, policy)
        n += 1
        bad += truly_bad
        flagged = not s.label
        hits += truly_bad and flagged
        ff += (not truly_bad) and flagged
        if s.verdict != "unsure":
            decided += 1
            decided_bad += flagged
            right_bad += flagged and truly_bad
    good = n - bad
    return {"steps": n, "bad": bad, "recall": hits / bad if bad else None, "hits": hits,
            "false_flags": ff / good if good else None, "false_flag_steps": ff,
            "precision": right_bad / decided_bad if decided_bad else None, "coverage": decided / n if n else None}


@dataclass
class PolicyFit:
    """What `fit_policy` chose: the figures without the PRM, with the chosen policy, and the constraints."""

    base: dict[str, Any]
    chosen: dict[str, Any]
    policy: PrmPolicy
    constraints: dict[str, Any]
    candidates: int
    feasible: int
    unmatched: int = 0

    def policy_file(self) -> dict[str, Any]:
        """The checkpoint's `radprm_prm_policy.json`: the thresholds plus their provenance."""
        return {**asdict(self.policy), FITTED: {"base": self.base, "chosen": self.chosen,
                                                "constraints": self.constraints}}

    def as_dict(self) -> dict[str, Any]:
        return {"policy": asdict(self.policy), "base": self.base, "chosen": self.chosen,
                "constraints": self.constraints, "candidates": self.candidates, "feasible": self.feasible,
                "unmatched": self.unmatched}

    def render(self) -> str:
        def line(f: dict[str, Any]) -> str:
            return (f"recall {100 * (f['recall'] or 0):.1f} % ({f['hits']}/{f['bad']}), false flags "
                    f"{100 * (f['false_flags'] or 0):.2f} % ({f['false_flag_steps']}), precision of decided bad "
                    f"{100 * (f['precision'] or 0):.1f} %, coverage {100 * (f['coverage'] or 0):.1f} %")

        p = self.policy
        return "\n".join([
            f"PRM policy on {self.base['steps']} labelled steps ({self.feasible} of {self.candidates} candidates "
            f"within the constraints; {self.unmatched} scored steps without a rules row left out)",
            f"  rules       {line(self.base)}",
            f"  + PRM       {line(self.chosen)}",
            f"  policy      flag_at {p.flag_at}, settle_bad_at {p.settle_bad_at}, settle_good_at {p.settle_good_at}, "
            f"keep_at {p.keep_at}, overrule_at {p.overrule_at}",
        ])


def fit_policy(
    pairs: Iterable[tuple[str | Path, str | Path]],
    *,
    max_false_flag_rise: float = 0.01,
    max_precision_drop: float = 0.01,
    min_coverage: float = 0.9,
    allow_overrule: bool = False,
) -> PolicyFit:
    """Choose the policy with the most recall on labelled dev sets within the constraints.

    Args:
        pairs: (rules step table of `radprm validate`, scores JSONL of `radprm eval prm --scores-out` with its
            gold) per dev set; steps are matched on (chain_id, step_index), gold comes from the scores file.
        max_false_flag_rise: the false-flag rate may rise at most this much over the rules'.
        max_precision_drop: the precision of decided bad labels may fall at most this much.
        min_coverage: the share of steps not `unsure` stays at least this.
        allow_overrule: also try ``overrule_at`` (turning good an unsure step the rules found a fault in);
            only for sets known to be like the PRM's training chains (module docs).

    Ties go to fewer false flags, then the precision of decided bad labels, then coverage (settling an unsure
    step bad or leaving it unsure changes neither recall nor false flags, only precision and coverage). When
    no candidate meets the constraints the policy that changes nothing is returned (`feasible` = 0).

    Raises:
        InputError: a file is missing, a row lacks its keys, or no scored step has a rules row.
    """
    from itertools import product

    from radprm.tables import read_table

    steps: list[tuple[StepResult, float | None, bool]] = []
    unmatched = 0
    for pred, scores in pairs:
        for path in (pred, scores):
            if not Path(path).is_file():
                raise InputError("file not found", path=path)
        rules: dict[tuple[str, int], StepResult] = {}
        for n, row in enumerate(read_table(pred), 1):
            try:
                step, _ = step_of_row(row)
            except ValueError as exc:
                raise InputError(f"not a `radprm validate` step row ({exc.__class__.__name__})", path=pred,
                                 row=n) from None
            rules[(step.chain_id, step.step_index)] = step
        for n, row in enumerate(read_table(scores), 1):
            if not {"chain_id", "step_index", "p_good", "gold"} <= set(row):
                raise InputError("not a `radprm eval prm --scores-out` row", path=scores, row=n,
                                 field="chain_id, step_index, p_good, gold")
            if row["gold"] is None:
                continue
            step = rules.get((str(row["chain_id"]), int(row["step_index"])))
            if step is None:
                unmatched += 1
                continue
            p_bad = None if row["p_good"] is None else 1.0 - float(row["p_good"])
            steps.append((step, p_bad, not row["gold"]))
    if not steps:
        raise InputError("no scored step with gold has a rules row", field="pred",
                         hint="give each --pred with the --scores of the same chains")
    base = policy_figures(steps, None)
    constraints = {"max_false_flag_rise": max_false_flag_rise, "max_precision_drop": max_precision_drop,
                   "min_coverage": min_coverage, "allow_overrule": allow_overrule}
    best: tuple[tuple[float, ...], PrmPolicy, dict[str, Any]] | None = None
    candidates = feasible = 0
    grid = {**GRID, "overrule_at": OVERRULE_GRID if allow_overrule else (0.0,)}
    for values in product(*grid.values()):
        policy = PrmPolicy(**dict(zip(grid, values, strict=True)))
        candidates += 1
        f = policy_figures(steps, policy)
        if ((f["false_flags"] or 0) > (base["false_flags"] or 0) + max_false_flag_rise + 1e-12
                or (f["precision"] or 0) < (base["precision"] or 0) - max_precision_drop - 1e-12
                or (f["coverage"] or 0) < min_coverage):
            continue
        feasible += 1
        key = (f["recall"] or 0, -(f["false_flags"] or 0), f["precision"] or 0, f["coverage"] or 0)
        if best is None or key > best[0]:
            best = (key, policy, f)
    if best is None:
        unchanged = PrmPolicy(flag_at=1.0, settle_bad_at=1.0, settle_good_at=0.0, keep_at=0.0)
        return PolicyFit(base, policy_figures(steps, unchanged), unchanged, constraints, candidates, 0, unmatched)
    return PolicyFit(base, best[2], best[1], constraints, candidates, feasible, unmatched)
