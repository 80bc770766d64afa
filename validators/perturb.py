"""Perturbation operators: corrupt faithful steps to make PRM contrast pairs and validator self-tests.

Each operator edits the text of one step and returns the corrupted step with the reason code the
validator should give it, or a `Skip` that says why it cannot apply (no laterality to swap, ...).
An operator never returns an unchanged step. Operators (documented in validators/README.md):

- negation_flip: negate a stated finding, or affirm a negated one.
- laterality_swap: left <-> right.
- severity_swap: a grade word for one at least two levels away (small -> large).
- fabricated_finding: add a finding the report never mentions.
- location_change: move a finding to another lung region (lower lobe -> upper lobe).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from radprm.errors import InputError, RuleFileError
from radprm.quarantine import QuarantineSink
from radprm.schemas.records import Chain, Report
from radprm.validators.align import Claim, load_rules, location_regions
from radprm.validators.chains_io import (
    ChainRow,
    RowProblem,
    chain_from_row,
    iter_raw_rows,
)

OPERATORS = ("negation_flip", "laterality_swap", "severity_swap", "fabricated_finding", "location_change")
PERTURB_RULES_FILE = "perturb_rules.json"
# Output columns of `perturb_file`: a CHAINS row plus the EXPECTED columns of `radprm eval steps`.
PERTURB_COLUMNS = ["chain_id", "report_id", "source_chain_id", "step_index", "operator", "original_step", "step",
                   "expected_label", "expected_reason", "detail", "steps", "question", "options", "answer"]


@dataclass(frozen=True)
class Perturbation:
    """A corrupted step: the edit, the operator and what the validator should say about it."""

    operator: str
    original: str
    step: str
    expected_reason: str
    detail: str
    expected_label: bool = False


@dataclass(frozen=True)
class Skip:
    """An operator that cannot apply to a step, with the reason (counted, never emitted as a row)."""

    operator: str
    reason: str


@dataclass
class PerturbContext:
    """What an operator may look at: the step's claims, the report's claims and text, a seeded RNG."""

    step_claims: list[Claim]
    report_claims: list[Claim]
    report_text: str
    rng: random.Random
    rules: dict[str, Any]


@lru_cache(maxsize=1)
def load_perturb_rules() -> dict[str, Any]:
    """Load the packaged `perturb_rules.json` (word maps and fabricated-finding sentences)."""
    text = resources.files("radprm.validators").joinpath(PERTURB_RULES_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    allowed = {"version", "source", "severity_swap", "location_swap", "fabricated", "fabricated_keywords"}
    unknown = set(data) - allowed
    if unknown:
        raise RuleFileError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}", path=PERTURB_RULES_FILE)
    return data


def _match_case(src: str, word: str) -> str:
    if src.isupper() and len(src) > 1:
        return word.upper()
    if src[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _capitalise(text: str) -> str:
    text = re.sub(r"\s{2,}", " ", text).strip()
    return text[:1].upper() + text[1:]


def _positive(ctx: PerturbContext) -> list[Claim]:
    return [c for c in ctx.step_claims if c.assertion != "negative"]


# ---------------------------------------------------------------- negation_flip

_NEG_TO_POS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(there\s+(?:is|are))\s+no\s+(?:evidence\s+of\s+|signs?\s+of\s+)?(?:an?\s+)?", re.I), r"\1 "),
    (re.compile(r"\bno\s+(?:radiographic\s+)?(?:evidence|signs?|findings?)\s+(?:of|to\s+suggest)\s+", re.I), "evidence of "),
    (re.compile(r"\b(?:without|free\s+of)\s+(?:evidence\s+of\s+)?", re.I), "with "),
    (re.compile(r"\bnegative\s+for\b", re.I), "positive for"),
    (re.compile(r"\b(is|are|was|were)\s+not\s+(seen|identified|present|visualized|demonstrated|noted|appreciated|"
                r"evident|enlarged|detected|observed)\b", re.I), r"\1 \2"),
    (re.compile(r"\b(?:does|do)\s+not\s+(show|demonstrate|reveal)\b", re.I), r"\1s"),
    (re.compile(r"\b(?:i\s+)?(?:see|seen)\s+no\b", re.I), "see"),
    (re.compile(r"\b(?:has|have)\s+resolved\b", re.I), "persists"),
    (re.compile(r"\bneither\s+(.+?)\s+nor\s+", re.I), r"both \1 and "),
    (re.compile(r"\bno\s+(?:acute\s+)?(?:(?:new|focal|definite|visible|obvious|significant|gross|overt|large|"
                r"appreciable|displaced)\s+)*", re.I), ""),
]

_POS_TO_NEG: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(there\s+(?:is|are))\s+(?:an?\s+|some\s+)?", re.I), r"\1 no "),
    (re.compile(r"\b(is|are)\s+(seen|present|noted|identified|demonstrated|visualized|evident|again\s+seen|"
                r"redemonstrated|enlarged|observed)\b", re.I), r"\1 not \2"),
    (re.compile(r"\b(shows?|demonstrates?|reveals?)\s+(?:an?\s+)?", re.I), r"\1 no "),
    (re.compile(r"\b(consistent\s+with|compatible\s+with|suggestive\s+of|concerning\s+for)\s+", re.I),
     r"not \1 "),
    (re.compile(r"\b(?:may|could|likely)\s+represents?\b", re.I), "does not represent"),
]
# steps opening like this have a verb to negate; a bare "No " prefix would not read as a negation
_NO_PREFIX = re.compile(r"^\s*(?:we|i|there|the|this|these|it|findings?|overall|again|redemonstration|if|with|"
                        r"without|increase[ds]?|decrease[ds]?|interval|changes?|stable|improv\w*|worsen\w*|"
                        r"resolution|resolv\w*|persistent|unchanged|new|suspected|possible|probable)\b", re.I)


def negation_flip(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Negate a stated finding, or state a negated one ('No pneumothorax.' -> 'Pneumothorax.')."""
    if not ctx.step_claims:
        return Skip("negation_flip", "no_finding")
    explicit = [c for c in ctx.step_claims if c.source == "extractor"]
    if not explicit:
        return Skip("negation_flip", "only_normal_statement")
    negative = all(c.assertion == "negative" for c in explicit)
    if any(c.assertion == "negative" for c in explicit) and not negative:
        return Skip("negation_flip", "mixed_assertions")
    table = _NEG_TO_POS if negative else _POS_TO_NEG
    for pattern, repl in table:
        new, n = pattern.subn(repl, step, count=1)
        if n and new.strip() != step.strip():
            new = _capitalise(new)
            return Perturbation("negation_flip", step, new, _expected_negation(explicit, ctx, negative),
                                f"{'negated -> affirmed' if negative else 'affirmed -> negated'}")
    if not negative:
        # impression style "Mild cardiomegaly." has no verb to negate: prefix the whole statement
        first = explicit[0]
        one_mention = len({(c.start, c.end) for c in explicit}) == 1
        if first.start <= 25 and one_mention and not _NO_PREFIX.match(step):
            return Perturbation("negation_flip", step, "No " + step[:1].lower() + step[1:],
                                _expected_negation(explicit, ctx, negative), "affirmed -> negated (prefix)")
    return Skip("negation_flip", "no_negation_pattern")


def _expected_negation(claims: list[Claim], ctx: PerturbContext, was_negative: bool) -> str:
    observations = {c.observation for c in claims}
    report = [r for r in ctx.report_claims if r.observation in observations]
    if was_negative:
        return "negation_conflict" if any(r.assertion == "negative" for r in report) else "finding_not_in_report"
    if any(r.assertion == "positive" for r in report):
        return "negation_conflict"
    return "uncertainty_dismissed"


# ---------------------------------------------------------------- laterality_swap

_SIDE = re.compile(r"\b(left|right)\b", re.I)


def laterality_swap(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Swap left and right ('right lower lobe' -> 'left lower lobe')."""
    sides = {m.group(1).lower() for m in _SIDE.finditer(step)}
    if not sides:
        return Skip("laterality_swap", "no_laterality")
    if len(sides) == 2:
        return Skip("laterality_swap", "both_sides")
    if not _positive(ctx):
        return Skip("laterality_swap", "no_affirmed_finding")
    new = _SIDE.sub(lambda m: _match_case(m.group(1), "left" if m.group(1).lower() == "right" else "right"), step)
    target = "left" if "right" in sides else "right"
    observations = {c.observation for c in _positive(ctx)}
    target_word = re.compile(rf"\b(?:{target}|bilateral(?:ly)?|both|bi[a-z]+)\b", re.I)
    if any(r.observation in observations and r.assertion != "negative"
           and (r.laterality in (target, "bilateral") or target_word.search(r.sentence))
           for r in ctx.report_claims):
        return Skip("laterality_swap", "target_side_in_report")
    return Perturbation("laterality_swap", step, new, "laterality_conflict", f"{sides.pop()} -> {target}")


# ---------------------------------------------------------------- severity_swap


def severity_swap(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Replace a grade word with one at least two levels away ('small' -> 'large')."""
    swap: dict[str, str] = ctx.rules["severity_swap"]
    if not _positive(ctx):
        return Skip("severity_swap", "no_affirmed_finding")
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, swap), key=len, reverse=True)) + r")\b", re.I)
    m = pattern.search(step)
    if not m:
        return Skip("severity_swap", "no_severity")
    word = m.group(1)
    new_word = _match_case(word, swap[word.lower()])
    new = step[: m.start()] + new_word + step[m.end():]
    # "a small" -> "an extensive" keeps the article right
    new = re.sub(r"\b([Aa])\s+(?=[aeiouAEIOU])", r"\1n ", new)
    new = re.sub(r"\b([Aa])n\s+(?=[^aeiouAEIOU\s])", r"\1 ", new)
    return Perturbation("severity_swap", step, new, "severity_conflict", f"{word} -> {new_word}")


# ---------------------------------------------------------------- fabricated_finding


def fabricated_finding(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Add a finding the report never mentions (appended to the step, or replacing it)."""
    fabricated: dict[str, list[str]] = ctx.rules["fabricated"]
    keywords: dict[str, list[str]] = ctx.rules["fabricated_keywords"]
    text = ctx.report_text.lower()
    mentioned = {c.observation for c in ctx.report_claims}
    candidates = [obs for obs in fabricated
                  if obs not in mentioned and not any(k in text for k in keywords.get(obs, [obs]))]
    if not candidates:
        return Skip("fabricated_finding", "report_mentions_everything")
    obs = ctx.rng.choice(candidates)
    sentence = ctx.rng.choice(fabricated[obs])
    if ctx.rng.random() < 0.5:
        new = step.rstrip()
        new = (new if new.endswith((".", "!", "?")) else new + ".") + " " + sentence
        detail = f"appended {obs}"
    else:
        new, detail = sentence, f"replaced with {obs}"
    return Perturbation("fabricated_finding", step, new, "finding_not_in_report", detail)


# ---------------------------------------------------------------- location_change


def location_change(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Move a finding to another lung region ('right lower lobe' -> 'right upper lobe')."""
    swap: dict[str, str] = ctx.rules["location_swap"]
    positive = _positive(ctx)
    if not positive:
        return Skip("location_change", "no_affirmed_finding")
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, swap), key=len, reverse=True)) + r")\b", re.I)
    m = next((m for m in pattern.finditer(step) if _lung_place(step, m)), None)
    if not m:
        return Skip("location_change", "no_lung_location")
    word = m.group(1)
    new_word = _match_case(word, swap[word.lower()])
    new_regions = location_regions(new_word)
    if new_regions <= location_regions(step[: m.start()] + " " + step[m.end():]):
        return Skip("location_change", "target_location_in_step")
    observations = {c.observation for c in positive}
    rules = load_rules()
    for r in ctx.report_claims:
        related = r.observation in observations or bool(observations & rules.parents.get(r.observation, frozenset()))
        if related and r.assertion != "negative" and location_regions(r.location) & new_regions:
            return Skip("location_change", "target_location_in_report")
    new = step[: m.start()] + new_word + step[m.end():]
    return Perturbation("location_change", step, new, "location_conflict", f"{word} -> {new_word}")


_LUNG_NOUN = re.compile(r"^(?:[\s/-]*(?:and|or|to|left|right|middle|mid|upper|lower|lung|lobes?|zones?|fields?|"
                        r"segments?)\b)*[\s/-]*(?:lobes?|lungs?|zones?|fields?|lung\s+bases?|segments?)\b", re.I)
_SELF_PLACE = {"apex", "apices", "apical", "base", "bases", "basilar", "basal", "bibasilar", "bibasal", "biapical",
               "retrocardiac", "perihilar", "infrahilar", "suprahilar", "hilar", "lingula", "lingular", "midlung"}


def _lung_place(step: str, m: re.Match[str]) -> bool:
    """Whether a region word names a place in the lungs ('upper lobe', 'left base'), not 'upper limits'."""
    word = m.group(1).lower()
    if word in _SELF_PLACE:
        return True
    return bool(_LUNG_NOUN.match(step[m.end():]))


OPERATOR_FUNCS: dict[str, Callable[[str, PerturbContext], Perturbation | Skip]] = {
    "negation_flip": negation_flip,
    "laterality_swap": laterality_swap,
    "severity_swap": severity_swap,
    "fabricated_finding": fabricated_finding,
    "location_change": location_change,
}


def parse_ops(ops: str | Iterable[str] | None) -> list[str]:
    """Operator names from a comma-separated string or a list (all operators when None).

    Raises:
        InputError: naming an unknown operator and listing the known ones.
    """
    if ops is None:
        return list(OPERATORS)
    names = [o.strip() for o in (ops.split(",") if isinstance(ops, str) else ops) if o.strip()]
    unknown = [o for o in names if o not in OPERATOR_FUNCS]
    if unknown or not names:
        raise InputError(f"unknown operator(s) {unknown}", field="ops", hint=f"choose from {', '.join(OPERATORS)}")
    return names


class Perturber:
    """Applies operators to steps, with a seeded RNG and skip counts per operator and reason.

    Args:
        validator: a StepValidator whose extractor reads steps and reports (built when None).
        seed: RNG seed; the same seed and inputs give the same output.
    """

    def __init__(self, validator: Any = None, seed: int = 0) -> None:
        if validator is None:
            from radprm.validators.steps import StepValidator

            validator = StepValidator()
        self.validator = validator
        self.seed = seed
        self.rules = load_perturb_rules()
        self.skipped: Counter[tuple[str, str]] = Counter()
        self.made: Counter[str] = Counter()

    def perturb_step(self, step: str, op: str, report: Report, report_claims: list[Claim],
                     key: str = "") -> Perturbation | Skip:
        """Apply one operator to one step; the RNG is seeded by (seed, key, op) for reproducibility."""
        from radprm.validators.steps import strip_enumeration

        rng = random.Random(f"{self.seed}|{key}|{op}")
        ctx = PerturbContext(self.validator.step_claims(strip_enumeration(step)), report_claims, report.text,
                             rng, self.rules)
        out = OPERATOR_FUNCS[op](step, ctx)
        if isinstance(out, Perturbation) and out.step.strip() == step.strip():
            out = Skip(op, "unchanged")
        if isinstance(out, Skip):
            self.skipped[(op, out.reason)] += 1
        else:
            self.made[op] += 1
        return out

    def perturb_chain(self, chain: Chain, report: Report, ops: list[str],
                      report_claims: list[Claim] | None = None) -> Iterator[dict[str, Any]]:
        """Yield one output row per corrupted step: a CHAINS row (prefix + corrupted step) plus expectations."""
        claims = report_claims if report_claims is not None else self.validator.report_claims(report)
        for i, step in enumerate(chain.steps):
            for op in ops:
                out = self.perturb_step(step, op, report, claims, key=f"{chain.chain_id}|{i}")
                if isinstance(out, Skip):
                    continue
                yield {
                    "chain_id": f"{chain.chain_id}~{op}~{i}",
                    "report_id": chain.report_id,
                    "source_chain_id": chain.chain_id,
                    "step_index": i,
                    "operator": op,
                    "original_step": step,
                    "step": out.step,
                    "expected_label": out.expected_label,
                    "expected_reason": out.expected_reason,
                    "detail": out.detail,
                    "steps": [*chain.steps[:i], out.step],
                    "question": chain.question,
                    "options": chain.options,
                    "answer": chain.answer,
                }

    def skip_summary(self) -> dict[str, dict[str, int]]:
        """Skipped counts per operator and reason."""
        out: dict[str, dict[str, int]] = {}
        for (op, reason), n in sorted(self.skipped.items()):
            out.setdefault(op, {})[reason] = n
        return out


def iter_input_chains(path: str | Path, quarantine: QuarantineSink, stage: str = "perturb") -> Iterator[ChainRow]:
    """Read CHAINS rows, or STEPS rows (chain_id, report_id, step_index, step[, label]) grouped into chains.

    STEPS rows with `label` false are not faithful and are skipped (counted as quarantine
    `not_a_good_step` so nothing disappears silently).
    """
    pending: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for n, row in iter_raw_rows(path, required=("chain_id",)):
        if isinstance(row, RowProblem):
            quarantine.add(stage=stage, reason_code=row.reason_code, source_path=str(path), source_row=n,
                           detail=row.detail, payload=row.payload)
            continue
        try:
            if "steps" in row:
                yield ChainRow(chain_from_row(row), str(path), n)
                continue
            if "step" not in row:
                raise RowProblem("empty_steps", "steps", "row has neither 'steps' nor 'step'")
            if row.get("label") is False:
                raise RowProblem("not_a_good_step", "label", "step labelled bad; only good steps are perturbed")
            cid = row.get("chain_id")
            if cid is None or not str(cid).strip():
                raise RowProblem("missing_chain_id", "chain_id", "chain_id is missing or empty")
            if not isinstance(row.get("step"), str) or not row["step"].strip():
                raise RowProblem("non_string_step", "step", f"step is {row.get('step')!r:.60}")
            if not row.get("report_id"):
                raise RowProblem("missing_report_id", "report_id", "STEPS rows need report_id to find the report")
            entry = pending.setdefault(str(cid), {"chain_id": str(cid), "report_id": str(row["report_id"]),
                                                  "steps": {}, "row": n})
            if str(cid) not in order:
                order.append(str(cid))
            entry["steps"][int(row.get("step_index", len(entry["steps"])))] = row["step"]
        except RowProblem as problem:
            quarantine.add(stage=stage, reason_code=problem.reason_code, source_path=str(path), source_row=n,
                           field=problem.field, detail=problem.detail,
                           record_id=str(row.get("chain_id")) if row.get("chain_id") is not None else None,
                           payload=json.dumps(row, default=str)[:10_000])
    for cid in order:
        entry = pending[cid]
        steps = [entry["steps"][k] for k in sorted(entry["steps"])]
        yield ChainRow(Chain(chain_id=cid, report_id=entry["report_id"], steps=steps), str(path), entry["row"])


@dataclass
class PerturbSummary:
    """What `perturb_file` did: rows written per operator, skips per operator and reason, quarantine."""

    out: Path
    chains: int = 0
    made: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantine: str = ""

    def render(self) -> str:
        """Human-readable summary for the CLI."""
        lines = [f"perturbed {sum(self.made.values())} steps from {self.chains} chains -> {self.out}"]
        for op in sorted(set(self.made) | set(self.skipped)):
            skips = ", ".join(f"{r}={n}" for r, n in self.skipped.get(op, {}).items())
            lines.append(f"  {op}: made {self.made.get(op, 0)}" + (f"; skipped {skips}" if skips else ""))
        lines.append(self.quarantine)
        return "\n".join(lines)


def perturb_file(
    chains_path: str | Path,
    reports_path: str | Path,
    out: str | Path,
    *,
    ops: str | Iterable[str] | None = None,
    seed: int = 0,
    quarantine: str | Path | None = None,
    validator: Any = None,
    **reader_options: Any,
) -> PerturbSummary:
    """Corrupt the steps of a CHAINS (or STEPS) file; one output row per corrupted step.

    Each output row is itself a CHAINS row (`chain_id`, `report_id`, `steps` = the original prefix
    plus the corrupted step) and an EXPECTED row for `radprm eval steps` (`step_index`, `operator`,
    `original_step`, `step`, `expected_label`, `expected_reason`), so the file can be validated and
    scored directly.

    Args:
        chains_path: CHAINS (.jsonl/.parquet) or STEPS rows with chain_id, report_id, step_index, step.
        reports_path: reports in any format `read_reports` accepts.
        out: output table (.jsonl, .parquet or .csv).
        ops: operator names (comma-separated or a list); all when None.
        seed: RNG seed (same seed, same output).
        quarantine: JSONL for bad rows; default `<out>.quarantine.jsonl`.
        validator: StepValidator whose extractor to use.
        **reader_options: keyword arguments of `read_reports`.

    Returns:
        The PerturbSummary (rows made and skips per operator).

    Raises:
        InputError: unknown operator, file-level problems, or no chain usable.
    """
    from radprm.tables import table_format, write_table
    from radprm.validators.batch import load_reports

    names = parse_ops(ops)
    out = Path(out)
    table_format(out)
    qpath = Path(quarantine) if quarantine is not None else out.with_name(out.name + ".quarantine.jsonl")
    qpath.unlink(missing_ok=True)
    perturber = Perturber(validator, seed=seed)
    summary = PerturbSummary(out)
    wanted = set()
    for _, row in iter_raw_rows(chains_path, required=("chain_id",)):
        if isinstance(row, dict) and row.get("report_id") is not None:
            wanted.add(str(row["report_id"]))
    with QuarantineSink(qpath) as sink:
        reports = load_reports(reports_path, wanted, sink, **reader_options)

        def rows() -> Iterator[dict[str, Any]]:
            for item in iter_input_chains(chains_path, sink):
                report = reports.get(item.chain.report_id)
                if report is None:
                    sink.add(stage="perturb", reason_code="unknown_report_id", source_path=item.source_path,
                             source_row=item.source_row, field="report_id", record_id=item.chain.chain_id,
                             detail=f"report_id {item.chain.report_id!r} is not among the reports read")
                    continue
                summary.chains += 1
                yield from perturber.perturb_chain(item.chain, report, names)

        write_table(rows(), out, columns=PERTURB_COLUMNS)
        summary.quarantine = sink.summary()
    summary.made = dict(perturber.made)
    summary.skipped = perturber.skip_summary()
    if summary.chains == 0:
        raise InputError(f"no chain could be perturbed; {summary.quarantine}", path=chains_path)
    return summary
