"""Calibrated abstention: a bad label of a kind that labelled sets found often wrong becomes `unsure`.

The rules' faults are not equally trustworthy. On natural chains written and labelled by others (each set
scored by the rules of its day before anyone read it), an `answer_mismatch` was right every time while a
lone `negation_conflict` was right about two times in three: trained on as it is, that one code would put
a wrong bad label in every third of its steps. A PRM is hurt by such label noise more than by fewer labels,
so the validator abstains where the measured precision is low.

`abstention.json` holds, for each *kind* of flagged step, how many decided bad labels of that kind the
calibration sets had and how many of them were right. A kind is read at four levels, broad to narrow
(`flag_kinds`):

1. ``*``: every flagged step;
2. the fault: its one fault code, or ``multi`` when the step has several;
3. ``<fault>/citing`` or ``<fault>/silent``: whether the step's chain cites the report anywhere ("The report
   describes ...", the phrases of `miners/report_mentions.json`), i.e. reasons from the report rather than
   from the film. Chains that read the report paraphrase it loosely and say "not mentioned, so absent"
   about things the rules misread: on the calibration sets a lone `negation_conflict` was right 56 % of the
   time in such chains and 79 % in the others;
4. ``<fault>/<citing|silent>/inference`` or ``.../statement``: the step reasons ("so", "therefore",
   "suggests", "consistent with", ...) or states.

(The step's place in the chain was tried as a level and left out: on the calibration sets a flagged first step
was nearly always a misread plan, but chains without a plan step, one-step chains and templated sets start
with a fact, and leaving one set out in turn it bought nothing.)

The precision of a new bad label is estimated level by level: each level's rate is shrunk toward the
broader level's estimate by `prior_strength` pseudo-steps (a Beta prior), so a narrow kind with few
steps stays near its parent. A step whose estimate is below `threshold` gets the verdict `unsure` (its
label stays False: the rules' lean) and the note `low_precision_fault`; exports mask it by default
(`--unsure mask`), a judge run with ``--judge undecided`` settles it.

`radprm eval calibrate` rebuilds the table from validated labelled sets and reports its precision and
coverage with each set left out in turn (the honest figure: in-sample figures flatter the table).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import Field, model_validator

from radprm.errors import RuleFileError
from radprm.rules import RuleModel, load_rule_file, read_rule_data
from radprm.validators.doubt import DOUBT_FILE, DoubtModel

ABSTENTION_FILE = "abstention.json"
# the note code an abstained step carries (radprm.validators.reasons)
LOW_PRECISION = "low_precision_fault"
# `--abstention none` turns abstention off; `table` / `model` name the packaged table / learned model
OFF = "none"
TABLE = "table"
MODEL = "model"
ALL_FLAGS = "*"
MULTI = "multi"

__all__ = [
    "ABSTENTION_FILE", "LOW_PRECISION", "MODEL", "OFF", "TABLE", "AbstentionTable", "CalibrationSet", "Counts",
    "FlagRow", "calibrate", "flag_kinds", "load_abstention", "masked_figures",
]


class CalibrationSet(RuleModel):
    """One labelled set the table was counted on."""

    name: str
    scored: int = Field(ge=0, description="scored steps of the set")
    flagged: int = Field(ge=0, description="decided bad labels (not unsure by the rules' own reasoning)")
    right: int = Field(ge=0, description="of them truly bad")


class AbstentionTable(RuleModel):
    """The `abstention.json` file: counts per kind of flagged step, and the policy."""

    version: str
    description: str = ""
    threshold: float = Field(ge=0.0, le=1.0, description="abstain when the estimated precision is below this")
    prior_strength: float = Field(gt=0.0, description="pseudo-steps pulling a kind toward its broader kind")
    sets: list[CalibrationSet] = []
    counts: dict[str, tuple[int, int]] = Field(description="kind -> [decided bad labels, of them right]")
    sha256: str = ""

    @model_validator(mode="after")
    def _check_counts(self) -> AbstentionTable:
        for kind, (flagged, right) in self.counts.items():
            if not 0 <= right <= flagged:
                raise ValueError(f"counts[{kind!r}]: need 0 <= right <= flagged, got [{flagged}, {right}]")
        return self

    def precision(self, kinds: Sequence[str]) -> float:
        """Estimated precision of a bad label of these kinds (broad to narrow, as `flag_kinds` gives)."""
        estimate = 0.5
        for i, kind in enumerate(kinds):
            flagged, right = self.counts.get(kind, (0, 0))
            # the broadest level starts from a uniform prior (Beta(1, 1): two pseudo-steps at 0.5)
            strength = 2.0 if i == 0 else self.prior_strength
            estimate = (right + strength * estimate) / (flagged + strength)
        return estimate

    def abstaining_kinds(self) -> list[tuple[str, int, int, float]]:
        """What the validator abstains on: the counted narrowest kinds (``fault/source/shape``, the level that
        decides) whose estimate is below the threshold, as (kind, decided bad labels, right, estimate)."""
        depth = max((k.count("/") for k in self.counts), default=0)
        found = []
        for kind, (flagged, right) in sorted(self.counts.items()):
            if kind == ALL_FLAGS or kind.count("/") != depth:
                continue
            parts = kind.split("/")
            estimate = self.precision((ALL_FLAGS, *("/".join(parts[: i + 1]) for i in range(len(parts)))))
            if estimate < self.threshold:
                found.append((kind, flagged, right, estimate))
        return found

    def abstains(self, kinds: Sequence[str]) -> bool:
        """Whether a bad label of these kinds is too often wrong to train on."""
        return self.precision(kinds) < self.threshold


def flag_kinds(faults: Iterable[str], inference: bool, chain_cites_report: bool) -> tuple[str, ...]:
    """The kinds of a flagged step, broad to narrow (see the module docstring)."""
    codes = sorted(set(faults))
    fault = codes[0] if len(codes) == 1 else MULTI
    source = f"{fault}/{'citing' if chain_cites_report else 'silent'}"
    return ALL_FLAGS, fault, source, f"{source}/{'inference' if inference else 'statement'}"


def load_abstention(source: str | Path | None = None) -> AbstentionTable | DoubtModel | None:
    """What abstains: the packaged default (None: the learned second opinion, `radprm.validators.doubt`), the
    packaged table (``"table"``), the packaged model (``"model"``), none at all (``"none"``), or a file's: a
    table of `radprm eval calibrate` or a model of `radprm eval doubt` (told apart by their keys).

    Raises:
        RuleFileError: unreadable or malformed file (naming the file and the field).
    """
    packaged = resources.files("radprm.validators")
    if source is None or str(source) == MODEL:
        return load_rule_file(packaged.joinpath(DOUBT_FILE), DoubtModel)
    if str(source) == TABLE:
        return load_rule_file(packaged.joinpath(ABSTENTION_FILE), AbstentionTable)
    if str(source) == OFF:
        return None
    path = Path(source)
    if not path.exists():
        raise RuleFileError("abstention file not found", path=str(path),
                            hint=f"give a file written by `radprm eval calibrate` or `radprm eval doubt`, "
                                 f"{TABLE!r} or {MODEL!r} for a packaged one, or {OFF!r} to turn abstention off")
    doc, _ = read_rule_data(path)
    is_model = isinstance(doc, dict) and "weights" in doc
    return load_rule_file(path, DoubtModel if is_model else AbstentionTable)


@dataclass(frozen=True)
class FlagRow:
    """One scored step of a labelled set, as calibration sees it.

    kinds: the step's `flag_kinds` when the rules decided it bad (before any abstention), None when they
    labelled it good or were unsure by their own reasoning (`unsure`).
    """

    set: str
    kinds: tuple[str, ...] | None
    truly_bad: bool
    unsure: bool = False


def calibrate(
    rows: Sequence[FlagRow], *, threshold: float, prior_strength: float, version: str, description: str = ""
) -> AbstentionTable:
    """Count decided bad labels per kind (every level) over labelled sets."""
    counts: dict[str, list[int]] = {}
    sets: dict[str, list[int]] = {}
    for row in rows:
        per_set = sets.setdefault(row.set, [0, 0, 0])
        per_set[0] += 1
        if row.kinds is None:
            continue
        per_set[1] += 1
        per_set[2] += row.truly_bad
        for kind in row.kinds:
            c = counts.setdefault(kind, [0, 0])
            c[0] += 1
            c[1] += row.truly_bad
    return AbstentionTable(
        version=version, description=description, threshold=threshold, prior_strength=prior_strength,
        sets=[CalibrationSet(name=n, scored=s, flagged=f, right=r) for n, (s, f, r) in sorted(sets.items())],
        counts={k: (f, r) for k, (f, r) in sorted(counts.items())},
    )


class Counts:
    """A dataclass of integer counts that add up field by field (per-set figures pooled)."""

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @classmethod
    def pooled(cls, items: Iterable[Counts]) -> Counts:
        """The sum of `items` (a new instance)."""
        total = cls()
        for item in items:
            total.add(item)
        return total


@dataclass
class MaskedFigures(Counts):
    """Precision of decided bad labels and coverage, without and with the table's abstention."""

    scored: int = 0
    unsure_before: int = 0  # steps the rules were unsure of by their own reasoning
    decided: int = 0  # decided bad labels without the table
    decided_right: int = 0
    abstained: int = 0  # of them made unsure by the table
    abstained_right: int = 0

    def as_dict(self) -> dict[str, float | int | None]:
        kept, kept_right = self.decided - self.abstained, self.decided_right - self.abstained_right
        return {
            "scored": self.scored,
            "precision_before": _ratio(self.decided_right, self.decided),
            "coverage_before": _ratio(self.scored - self.unsure_before, self.scored),
            "precision_after": _ratio(kept_right, kept),
            "coverage_after": _ratio(self.scored - self.unsure_before - self.abstained, self.scored),
            "abstained": self.abstained,
            "abstained_truly_bad": self.abstained_right,
            "bad_labels_kept": kept_right,
        }


def _ratio(hits: int, n: int) -> float | None:
    return hits / n if n else None


def masked_figures(rows: Iterable[FlagRow], table: AbstentionTable) -> MaskedFigures:
    """What `table` does to the decided bad labels of `rows`."""
    fig = MaskedFigures()
    for row in rows:
        fig.scored += 1
        fig.unsure_before += row.unsure
        if row.kinds is None:
            continue
        fig.decided += 1
        fig.decided_right += row.truly_bad
        if table.abstains(row.kinds):
            fig.abstained += 1
            fig.abstained_right += row.truly_bad
    return fig
