"""Perturbation operators: corrupt faithful steps to make PRM contrast pairs and validator self-tests.

Each operator edits the text of one step and returns the corrupted step with the reason code the
validator should give it, or a `Skip` that says why it cannot apply (no laterality to swap, ...).
An operator never returns an unchanged step. Operators (documented in validators/README.md):

- negation_flip: negate a stated finding, or affirm a negated one.
- laterality_swap: left <-> right.
- severity_swap: a grade word for one at least two levels away (small -> large).
- fabricated_finding: add a finding the report never mentions.
- location_change: move a finding to another lung region (lower lobe -> upper lobe).

Operators on any sentence of a report-grounded step, lexicon finding or not (the word the edit puts in
must not occur in the report sentence the step restates, so the corrupted step is never supported):

- side_swap: left <-> right on a device, line, bone, node, hemidiaphragm, ... ("levoconvex" too).
- grade_swap: a grade word on a non-lexicon object ("mild curvature" -> "severe curvature").
- temporal_flip: a change over time reversed ("unchanged" -> "new", "healed" -> "acute").
- number_change: a size, count or level changed ("7th rib" -> "8th rib", "T8" -> "T10", "1.2 cm" -> "2.1 cm").
- tip_move: a device tip moved ("in the SVC" -> "in the right atrium", "stomach" -> "esophagus").
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

from pydantic import field_validator

from radprm import run
from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.rules import RuleModel, load_rule_file
from radprm.schemas.records import Chain, Report
from radprm.validators.align import Claim, load_step_rules, location_regions
from radprm.validators.chains_io import (
    ChainRow,
    RowProblem,
    chain_from_row,
    iter_raw_rows,
    report_ids,
)

OPERATORS = (
    "negation_flip",
    "laterality_swap",
    "severity_swap",
    "fabricated_finding",
    "location_change",
    "side_swap",
    "grade_swap",
    "temporal_flip",
    "number_change",
    "tip_move",
)
PERTURB_RULES_FILE = "perturb_rules.json"
# Output columns of `perturb_file`: a CHAINS row plus the EXPECTED columns of `radprm eval steps`.
PERTURB_COLUMNS = [
    "chain_id",
    "report_id",
    "source_chain_id",
    "step_index",
    "operator",
    "original_step",
    "step",
    "expected_label",
    "expected_reason",
    "detail",
    "steps",
    "question",
    "options",
    "answer",
]


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


class TipPlace(RuleModel):
    """A place a device tip can lie: the phrasings that name it, how to write it, where `tip_move` sends it."""

    forms: list[str]
    say: str
    move_to: str


class PerturbRules(RuleModel):
    """`perturb_rules.json`: the word maps and word lists of the operators (all keys lower case)."""

    version: str
    source: str
    severity_swap: dict[str, str]
    location_swap: dict[str, str]
    fabricated: dict[str, list[str]]
    fabricated_keywords: dict[str, list[str]]
    clause_negations: list[str]
    post_negations: list[str]
    side_objects: list[str]
    side_exclude: list[str]
    side_words: dict[str, str]
    grade_swap: dict[str, str]
    grade_objects: list[str]
    temporal_swap: dict[str, str]
    temporal_predicate: dict[str, str]
    temporal_synonyms: dict[str, list[str]]
    temporal_keep: list[str]
    temporal_needs_comparison: list[str]
    temporal_comparison_cues: list[str]
    number_words: list[str]
    tip_devices: list[str]
    tip_places: dict[str, TipPlace]

    @field_validator(
        "severity_swap", "location_swap", "side_words", "grade_swap", "temporal_swap", "temporal_predicate"
    )
    @classmethod
    def _lower_keys(cls, value: dict[str, str]) -> dict[str, str]:
        upper = [k for k in value if k != k.lower()]
        if upper:
            raise ValueError(f"keys must be lower case: {upper}")
        return value

    @field_validator("tip_places")
    @classmethod
    def _known_targets(cls, value: dict[str, TipPlace]) -> dict[str, TipPlace]:
        for name, place in value.items():
            if place.move_to not in value or place.move_to == name:
                raise ValueError(f"{name}.move_to {place.move_to!r} is not another place of tip_places")
        return value


@dataclass
class PerturbContext:
    """What an operator may look at: the step's claims, the report's claims and text, a seeded RNG."""

    step_claims: list[Claim]
    report_claims: list[Claim]
    report_text: str
    rng: random.Random
    rules: PerturbRules


@lru_cache(maxsize=4)
def load_perturb_rules(source: str | Path | None = None) -> PerturbRules:
    """Load `perturb_rules.json` (the packaged file by default) through `radprm.rules`.

    Raises:
        RuleFileError: naming the file and the field path (unknown key, missing or bad value).
    """
    path = resources.files("radprm.validators").joinpath(PERTURB_RULES_FILE) if source is None else Path(source)
    return load_rule_file(path, PerturbRules)


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
    (
        re.compile(r"\bno\s+(?:radiographic\s+)?(?:evidence|signs?|findings?)\s+(?:of|to\s+suggest)\s+", re.I),
        "evidence of ",
    ),
    (re.compile(r"\b(?:without|free\s+of)\s+(?:evidence\s+of\s+)?", re.I), "with "),
    (re.compile(r"\bnegative\s+for\b", re.I), "positive for"),
    (
        re.compile(
            r"\b(is|are|was|were)\s+not\s+(seen|identified|present|visualized|demonstrated|noted|appreciated|"
            r"evident|enlarged|detected|observed)\b",
            re.I,
        ),
        r"\1 \2",
    ),
    (re.compile(r"\b(?:does|do)\s+not\s+(show|demonstrate|reveal)\b", re.I), r"\1s"),
    (re.compile(r"\b(?:i\s+)?(?:see|seen)\s+no\b", re.I), "see"),
    (re.compile(r"\b(?:has|have)\s+resolved\b", re.I), "persists"),
    (re.compile(r"\bneither\s+(.+?)\s+nor\s+", re.I), r"both \1 and "),
    (
        re.compile(
            r"\bno\s+(?:acute\s+)?(?:(?:new|focal|definite|visible|obvious|significant|gross|overt|large|"
            r"appreciable|displaced)\s+)*",
            re.I,
        ),
        "",
    ),
]

_POS_TO_NEG: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(there\s+(?:is|are))\s+(?:an?\s+|some\s+)?", re.I), r"\1 no "),
    (
        re.compile(
            r"\b(is|are)\s+(seen|present|noted|identified|demonstrated|visualized|evident|again\s+seen|"
            r"redemonstrated|enlarged|observed)\b",
            re.I,
        ),
        r"\1 not \2",
    ),
    (re.compile(r"\b(shows?|demonstrates?|reveals?)\s+(?:an?\s+)?", re.I), r"\1 no "),
    (re.compile(r"\b(consistent\s+with|compatible\s+with|suggestive\s+of|concerning\s+for)\s+", re.I), r"not \1 "),
    (re.compile(r"\b(?:may|could|likely)\s+represents?\b", re.I), "does not represent"),
]
# steps opening like this have a verb to negate; a bare "No " prefix would not read as a negation
_NO_PREFIX = re.compile(
    r"^\s*(?:we|i|there|the|this|these|it|findings?|overall|again|redemonstration|if|with|"
    r"without|increase[ds]?|decrease[ds]?|interval|changes?|stable|improv\w*|worsen\w*|"
    r"resolution|resolv\w*|persistent|unchanged|new|suspected|possible|probable)\b",
    re.I,
)


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
            return Perturbation(
                "negation_flip",
                step,
                new,
                _expected_negation(explicit, ctx, negative),
                f"{'negated -> affirmed' if negative else 'affirmed -> negated'}",
            )
    if not negative:
        # impression style "Mild cardiomegaly." has no verb to negate: prefix the whole statement
        first = explicit[0]
        one_mention = len({(c.start, c.end) for c in explicit}) == 1
        if first.start <= 25 and one_mention and not _NO_PREFIX.match(step):
            return Perturbation(
                "negation_flip",
                step,
                "No " + step[:1].lower() + step[1:],
                _expected_negation(explicit, ctx, negative),
                "affirmed -> negated (prefix)",
            )
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
    if any(
        r.observation in observations
        and r.assertion != "negative"
        and (r.laterality in (target, "bilateral") or target_word.search(r.sentence))
        for r in ctx.report_claims
    ):
        return Skip("laterality_swap", "target_side_in_report")
    return Perturbation("laterality_swap", step, new, "laterality_conflict", f"{sides.pop()} -> {target}")


# ---------------------------------------------------------------- severity_swap


def severity_swap(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Replace a grade word with one at least two levels away ('small' -> 'large')."""
    swap: dict[str, str] = ctx.rules.severity_swap
    if not _positive(ctx):
        return Skip("severity_swap", "no_affirmed_finding")
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, swap), key=len, reverse=True)) + r")\b", re.I)
    m = pattern.search(step)
    if not m:
        return Skip("severity_swap", "no_severity")
    word = m.group(1)
    new_word = _match_case(word, swap[word.lower()])
    new = step[: m.start()] + new_word + step[m.end() :]
    # "a small" -> "an extensive" keeps the article right
    new = re.sub(r"\b([Aa])\s+(?=[aeiouAEIOU])", r"\1n ", new)
    new = re.sub(r"\b([Aa])n\s+(?=[^aeiouAEIOU\s])", r"\1 ", new)
    return Perturbation("severity_swap", step, new, "severity_conflict", f"{word} -> {new_word}")


# ---------------------------------------------------------------- fabricated_finding


def fabricated_finding(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Add a finding the report never mentions (appended to the step, or replacing it)."""
    fabricated: dict[str, list[str]] = ctx.rules.fabricated
    keywords: dict[str, list[str]] = ctx.rules.fabricated_keywords
    text = ctx.report_text.lower()
    mentioned = {c.observation for c in ctx.report_claims}
    candidates = [
        obs for obs in fabricated if obs not in mentioned and not any(k in text for k in keywords.get(obs, [obs]))
    ]
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
    swap: dict[str, str] = ctx.rules.location_swap
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
    if new_regions <= location_regions(step[: m.start()] + " " + step[m.end() :]):
        return Skip("location_change", "target_location_in_step")
    observations = {c.observation for c in positive}
    rules = load_step_rules()
    for r in ctx.report_claims:
        related = r.observation in observations or bool(observations & rules.parents.get(r.observation, frozenset()))
        if related and r.assertion != "negative" and location_regions(r.location) & new_regions:
            return Skip("location_change", "target_location_in_report")
    new = step[: m.start()] + new_word + step[m.end() :]
    return Perturbation("location_change", step, new, "location_conflict", f"{word} -> {new_word}")


_LUNG_NOUN = re.compile(
    r"^(?:[\s/-]*(?:and|or|to|left|right|middle|mid|upper|lower|lung|lobes?|zones?|fields?|"
    r"segments?)\b)*[\s/-]*(?:lobes?|lungs?|zones?|fields?|lung\s+bases?|segments?)\b",
    re.I,
)
_SELF_PLACE = {
    "apex",
    "apices",
    "apical",
    "base",
    "bases",
    "basilar",
    "basal",
    "bibasilar",
    "bibasal",
    "biapical",
    "retrocardiac",
    "perihilar",
    "infrahilar",
    "suprahilar",
    "hilar",
    "lingula",
    "lingular",
    "midlung",
}


def _lung_place(step: str, m: re.Match[str]) -> bool:
    """Whether a region word names a place in the lungs ('upper lobe', 'left base'), not 'upper limits'."""
    word = m.group(1).lower()
    if word in _SELF_PLACE:
        return True
    return bool(_LUNG_NOUN.match(step[m.end() :]))


# ---------------------------------------------------------------- operators on any grounded sentence
#
# These edit words outside the label lexicon (devices, bones, spine, tips, numbers, change over time).
# They never look at the validator's rules: the edit is decided on the text and the word maps of
# perturb_rules.json. What they share: the step must restate a report sentence (content-word overlap,
# `grounding_sentences`), the edited word must not sit in a negated clause ("No new fracture"), and the
# word the edit puts in must not occur in that report sentence, so the corrupted step is never one the
# report supports.

_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the is are was were be been being of in on at to and or with there this that these those it its as by "
    "for from which who seen noted identified present again also appear appears appearing essentially overall "
    "we see there here has have had".split()
)
MIN_ANCHOR_WORDS = 1  # content words besides the edited one: 'This appears stable.' says nothing on its own
_SENT_SPLIT = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9(])|\s*\n+\s*|\s+(?=[A-Z]{4,}:)")
_HEADER = re.compile(r"^\s*[A-Z][A-Z ]{2,}:\s*")
_CLAUSE_BREAK = re.compile(r"[;:!?]|\.(?!\d)|,(?!\d)|\s+(?:but|however|although|while|whereas)\s+", re.I)
GROUNDING_OVERLAP = 0.5  # share of the step's content words a report sentence must hold to be its source


def _words(text: str) -> set[str]:
    return {w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS}


@lru_cache(maxsize=4096)
def report_sentences(text: str) -> tuple[str, ...]:
    """The report's sentences, section headers ('FINDINGS:') removed."""
    out = []
    for s in _SENT_SPLIT.split(text):
        s = _HEADER.sub("", s).strip()
        if s:
            out.append(s)
    return tuple(out)


def grounding_sentences(step: str, report_text: str) -> list[str]:
    """The report sentences a step restates: those holding at least half of the step's content words."""
    words = _words(step)
    if not words:
        return []
    return [s for s in report_sentences(report_text) if len(words & _words(s)) / len(words) >= GROUNDING_OVERLAP]


def _alternation(words: Iterable[str]) -> str:
    return "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True))


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the clause around text[start:end] (split at , ; : . and 'but', not inside '1.2')."""
    lo = 0
    for m in _CLAUSE_BREAK.finditer(text, 0, start):
        lo = m.end()
    m = _CLAUSE_BREAK.search(text, end)
    return lo, (m.start() if m else len(text))


def _negated(text: str, start: int, end: int, ctx: PerturbContext) -> bool:
    """Whether the clause of text[start:end] denies it: a cue before ('no', 'without', ...) or a denying
    predicate after ('... is not seen', '... absent'). 'Stable heart without edema' is not denied."""
    lo, hi = _clause(text, start, end)
    if re.search(rf"\b(?:{_alternation(ctx.rules.clause_negations)})\b", text[lo:start], re.I):
        return True
    return bool(re.search(rf"\b(?:{_alternation(ctx.rules.post_negations)})\b", text[end:hi], re.I))


def _lexicon_in_clause(text: str, start: int, end: int, ctx: PerturbContext) -> bool:
    """Whether an affirmed lexicon finding is mentioned in the clause of text[start:end]."""
    lo, hi = _clause(text, start, end)
    clause = text[lo:hi].lower()
    return any(
        c.source == "extractor" and c.assertion != "negative" and c.mention and c.mention.lower() in clause
        for c in ctx.step_claims
    )


def _in_any(pattern: str, sentences: Iterable[str]) -> bool:
    rx = re.compile(pattern, re.I)
    return any(rx.search(s) for s in sentences)


def _replace(step: str, start: int, end: int, new: str) -> str:
    """step[start:end] -> new, fixing an article right before it ('a small' -> 'an extensive')."""
    head = step[:start]
    if new[:1].isalpha():
        head = re.sub(
            r"\b([Aa])n?(\s+)$", lambda m: m.group(1) + ("n" if new[0] in "aeiouAEIOU" else "") + m.group(2), head
        )
    return head + new + step[end:]


def _pick(ctx: PerturbContext, candidates: list[Any]) -> Any:
    return candidates[0] if len(candidates) == 1 else ctx.rng.choice(candidates)


# ---------------------------------------------------------------- side_swap

_SIDE_PHRASE = (
    r"(?:-sided)?((?:[\s/-]+(?!(?:and|or|with|in|of|to|at|on|from|left|right)\b)[A-Za-z0-9'-]+){{0,3}}?)"
    r"[\s/-]+({objects})\b"
)


_HEADING = re.compile(r"^\W*(?:left|right)\b[\w\s-]{0,30}:", re.I)


def side_swap(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Left <-> right on a non-lexicon object ('right PICC line' -> 'left PICC line', 'levoconvex' -> 'dextro...')."""
    rules = ctx.rules
    objects = re.compile(_SIDE_PHRASE.format(objects=_alternation(rules.side_objects)), re.I)
    exclude = re.compile(rf"\b(?:{_alternation(rules.side_exclude)})\b", re.I)
    found: list[tuple[int, int, str, str, str]] = []  # start, end, old word, new word, object
    for m in _SIDE.finditer(step):
        o = objects.match(step, m.end())
        if not o or exclude.search(o.group(1)):
            continue
        new = "left" if m.group(1).lower() == "right" else "right"
        found.append((m.start(), m.end(), m.group(1), new, o.group(2).lower()))
    for m in re.finditer(rf"\b({_alternation(rules.side_words)})\b", step, re.I):
        word = m.group(1)
        found.append((m.start(), m.end(), word, rules.side_words[word.lower()], word.lower()))
    if not found:
        return Skip("side_swap", "no_side_object")
    if _HEADING.match(step) or len(_TOKEN.findall(step.lower())) < 3:
        return Skip("side_swap", "heading")  # 'Left knee: four views.' names an exam, not a finding
    found = [f for f in found if not _negated(step, f[0], f[1], ctx)]
    if not found:
        return Skip("side_swap", "negated")
    found = [f for f in found if not _lexicon_in_clause(step, f[0], f[1], ctx)]
    if not found:
        return Skip("side_swap", "lexicon_finding")  # laterality_swap's job
    grounding = grounding_sentences(step, ctx.report_text)
    if not grounding:
        return Skip("side_swap", "not_grounded")
    sentences = report_sentences(ctx.report_text)
    usable = []
    for start, end, old, new, obj in found:
        target = new[:5] if new.lower() in rules.side_words else new  # 'dextro' also blocks 'dextroscoliosis'
        if _in_any(rf"\b(?:{target}|bilateral|both)", grounding):
            continue
        obj_rx = re.escape(obj).replace(r"\ ", r"\s+")
        if _in_any(rf"\b{target}\b(?:[\s-]+[\w-]+){{0,4}}?[\s-]+{obj_rx}", sentences):
            continue
        usable.append((start, end, old, new))
    if not usable:
        return Skip("side_swap", "target_side_in_report")
    start, end, old, new = _pick(ctx, usable)
    return Perturbation(
        "side_swap",
        step,
        _replace(step, start, end, _match_case(old, new)),
        "laterality_conflict",
        f"{old.lower()} -> {new}",
    )


# ---------------------------------------------------------------- grade_swap


def _stem(word: str) -> str:
    return word[:-2] if word.endswith("ly") else word


def grade_swap(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """A grade word on a non-lexicon object for its opposite ('mild curvature' -> 'severe curvature')."""
    swap = ctx.rules.grade_swap
    objects = set(ctx.rules.grade_objects)
    found = []
    for m in re.finditer(rf"\b({_alternation(swap)})\b", step, re.I):
        lo, hi = _clause(step, m.start(), m.end())
        before = _TOKEN.findall(step[lo : m.start()].lower())[-4:]
        after = _TOKEN.findall(step[m.end() : hi].lower())[:4]
        if objects & set(before + after):
            found.append(m)
    if not found:
        return Skip("grade_swap", "no_graded_object")
    found = [m for m in found if not _negated(step, m.start(), m.end(), ctx)]
    if not found:
        return Skip("grade_swap", "negated")
    if len(_words(step) - {m.group(1).lower() for m in found}) < MIN_ANCHOR_WORDS:
        return Skip("grade_swap", "no_subject")
    found = [m for m in found if not _lexicon_in_clause(step, m.start(), m.end(), ctx)]
    if not found:
        return Skip("grade_swap", "lexicon_finding")  # severity_swap's job
    grounding = grounding_sentences(step, ctx.report_text)
    if not grounding:
        return Skip("grade_swap", "not_grounded")
    usable = [m for m in found if not _in_any(rf"\b{_stem(swap[m.group(1).lower()])}", grounding)]
    if not usable:
        return Skip("grade_swap", "target_grade_in_report")
    m = _pick(ctx, usable)
    word = m.group(1)
    new_word = _match_case(word, swap[word.lower()])
    return Perturbation(
        "grade_swap",
        step,
        _replace(step, m.start(), m.end(), new_word),
        "severity_conflict",
        f"{word.lower()} -> {new_word.lower()}",
    )


# ---------------------------------------------------------------- temporal_flip

_REMAIN = re.compile(r"\b(remains?|remained)\s+$", re.I)
_SINCE = re.compile(
    r"\s+(?:(?:when|as)\s+)?(?:from|since|compared\s+(?:with|to)|relative\s+to|"
    r"in\s+comparison\s+(?:with|to))\b",
    re.I,
)


def temporal_flip(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Reverse a change over time ('unchanged' -> 'new', 'increased' -> 'decreased', 'healed' -> 'acute')."""
    rules = ctx.rules
    swap = rules.temporal_swap
    found = []
    for m in re.finditer(rf"\b({_alternation(swap)})\b", step, re.I):
        word = m.group(1).lower()
        if word == "old" and re.search(r"(?:\d|years?|yr)[\s-]*$", step[: m.start()], re.I):
            continue  # '45 year old'
        if any(re.match(rf"\s*{re.escape(k)}\b", step[m.start() :], re.I) for k in rules.temporal_keep):
            continue  # 'chronic obstructive lung disease' is a name, not a change over time
        if word in rules.temporal_needs_comparison and not re.search(
            rf"\b(?:{_alternation(rules.temporal_comparison_cues)})", step, re.I
        ):
            continue  # 'an area of increased opacity' is a density, not a change over time
        found.append(m)
    if not found:
        return Skip("temporal_flip", "no_change_word")
    found = [m for m in found if not _negated(step, m.start(), m.end(), ctx)]
    if not found:
        return Skip("temporal_flip", "negated")
    if len(_words(step) - {m.group(1).lower() for m in found}) < MIN_ANCHOR_WORDS:
        return Skip("temporal_flip", "no_subject")
    grounding = grounding_sentences(step, ctx.report_text)
    if not grounding:
        return Skip("temporal_flip", "not_grounded")

    def blocked(m: re.Match[str]) -> bool:
        new = swap[m.group(1).lower()]
        forms = rules.temporal_synonyms.get(new, [new])
        return _in_any(rf"\b(?:{_alternation(forms)})", grounding)

    usable = [m for m in found if not blocked(m)]
    if not usable:
        return Skip("temporal_flip", "target_change_in_report")
    m = _pick(ctx, usable)
    word = m.group(1)
    new_word = swap[word.lower()]
    start, end = m.start(), m.end()
    # 'Old healed fractures' -> 'Acute fractures', not 'Old acute fractures'
    for other in found:
        if (
            other.start() >= end
            and swap[other.group(1).lower()] == new_word
            and re.fullmatch(r"[\s,]*(?:and\s+)?", step[end : other.start()])
        ):
            end = other.end()
    for other in reversed(found):
        if (
            other.end() <= start
            and swap[other.group(1).lower()] == new_word
            and re.fullmatch(r"[\s,]*(?:and\s+)?", step[other.end() : start])
        ):
            start = other.start()
    if start != m.start():
        word = step[start : m.end()].split()[0]
    remain = _REMAIN.search(step[:start])
    if word.lower() in rules.temporal_predicate and remain:
        # 'The granuloma remains unchanged.' -> 'The granuloma is new.'
        start = remain.start()
        verb = "are" if remain.group(1).lower() == "remain" else "is"
        new_word = f"{_match_case(remain.group(1), verb)} {rules.temporal_predicate[word.lower()]}"
    elif word.lower() in rules.temporal_predicate:
        new_word = _match_case(word, rules.temporal_predicate[word.lower()])
    if word.lower() in rules.temporal_predicate:
        # '..., unchanged from prior' -> '..., new since prior'
        since = _SINCE.match(step, end)
        if since:
            end, new_word = since.end(), new_word + " since"
    else:
        new_word = _match_case(word, new_word)
    return Perturbation(
        "temporal_flip",
        step,
        _capitalise(_replace(step, start, end, new_word)),
        "temporal_conflict",
        f"{step[start:end].lower()} -> {swap[m.group(1).lower()]}",
    )


# ---------------------------------------------------------------- number_change

_VERTEBRA = re.compile(r"(?<![\w-])([CTL])-?(\d{1,2})(?![\w]|-[CTL]?\d)")
_VERTEBRA_RANGE = {"C": 7, "T": 12, "L": 5}
_ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b", re.I)
_DECIMAL = re.compile(r"(?<![\w.])(\d+)\.(\d+)(?![\w.]|\.\d)")
_INTEGER = re.compile(r"(?<![\w.,-])(\d{1,3})(?![\w.,]|\.\d|-\d)(\s*(?:cm|mm|centimeters?|millimeters?)\b)?", re.I)
_NOT_A_QUANTITY = re.compile(r"[\s-]*(?:total\s+)?(?:views?|images?|projections?|radiographs?|films?)\b", re.I)
_ANY_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _norm_number(value: str) -> str:
    return value.rstrip("0").rstrip(".") if "." in value else str(int(value))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def report_numbers(text: str, number_words: list[str]) -> set[str]:
    """Every number a report writes (digits, ordinals, levels, number words), normalised ('2.0' -> '2')."""
    out = {_norm_number(v) for v in _ANY_NUMBER.findall(text)}
    for i, w in enumerate(number_words):
        if re.search(rf"\b{w}\b", text, re.I):
            out.add(str(i))
    return out


def number_change(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Change a size, count or level ('7th rib' -> '8th rib', 'T8' -> 'T10', '1.2 cm' -> '2.1 cm', 'two' -> 'three')."""
    words = ctx.rules.number_words
    found: list[tuple[int, int, str, str, str]] = []  # start, end, old text, new text, new value
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, old: str, new: str, value: str) -> None:
        if any(a < end and start < b for a, b in taken):
            return
        taken.append((start, end))
        found.append((start, end, old, new, value))

    for m in _VERTEBRA.finditer(step):
        letter, n = m.group(1), int(m.group(2))
        if not 1 <= n <= _VERTEBRA_RANGE[letter]:
            continue
        new = n + 2 if n + 2 <= _VERTEBRA_RANGE[letter] else n - 2
        add(m.start(), m.end(), m.group(0), f"{letter}{new}", str(new))
    for m in _ORDINAL.finditer(step):
        n = int(m.group(1))
        new = n + 1 if n < 12 else n - 1
        add(m.start(), m.end(), m.group(0), _ordinal(new), str(new))
    for m in _DECIMAL.finditer(step):
        whole, frac = m.group(1), m.group(2)
        new = f"{frac}.{whole}" if len(frac) == 1 and frac != whole and frac != "0" else f"{int(whole) + 1}.{frac}"
        add(m.start(), m.end(), m.group(0), new, _norm_number(new))
    for m in _INTEGER.finditer(step):
        if _NOT_A_QUANTITY.match(step, m.end(1)):
            continue
        n = int(m.group(1))
        unit = (m.group(2) or "").strip().lower()
        new = n + 3 if unit.startswith("m") else n + 1
        add(m.start(1), m.end(1), m.group(1), str(new), str(new))
    counting = words[2:]  # 'zero' and 'one' are rarely counts ('no one', 'one of')
    for m in re.finditer(rf"\b({'|'.join(counting)})\b", step, re.I):
        if _NOT_A_QUANTITY.match(step, m.end()):
            continue
        i = words.index(m.group(1).lower())
        new_i = i + 1 if i + 1 < len(words) else i - 1
        add(m.start(), m.end(), m.group(1), _match_case(m.group(1), words[new_i]), str(new_i))
    if not found:
        return Skip("number_change", "no_number")
    grounding = grounding_sentences(step, ctx.report_text)
    if not grounding:
        return Skip("number_change", "not_grounded")
    in_report = report_numbers(ctx.report_text, words)
    usable = [f for f in found if f[4] not in in_report]
    if not usable:
        return Skip("number_change", "target_number_in_report")
    start, end, old, new, _ = _pick(ctx, usable)
    return Perturbation("number_change", step, _replace(step, start, end, new), "ungrounded_number", f"{old} -> {new}")


# ---------------------------------------------------------------- tip_move

# dropped with the place: 'in the mid SVC' -> 'in the right atrium', 'left innominate vein' -> 'right atrium'
_TIP_MODIFIER = r"(?:(?:mid|middle|distal|proximal|upper|lower|low|high|left|right)\s+)?"


def tip_move(step: str, ctx: PerturbContext) -> Perturbation | Skip:
    """Move a device tip ('in the SVC' -> 'in the right atrium', 'stomach' -> 'esophagus')."""
    rules = ctx.rules
    if not re.search(rf"\b(?:{_alternation(rules.tip_devices)})\b", step, re.I):
        return Skip("tip_move", "no_device")
    places = rules.tip_places
    form_to_place = {f.lower(): name for name, p in places.items() for f in p.forms}
    pattern = re.compile(rf"\b{_TIP_MODIFIER}({_alternation(form_to_place)})\b", re.I)
    found = [m for m in pattern.finditer(step)]
    if not found:
        return Skip("tip_move", "no_tip_place")
    found = [m for m in found if not _negated(step, m.start(), m.end(), ctx)]
    if not found:
        return Skip("tip_move", "negated")
    grounding = grounding_sentences(step, ctx.report_text)
    if not grounding:
        return Skip("tip_move", "not_grounded")
    device = re.compile(rf"\b(?:{_alternation(rules.tip_devices)})\b", re.I)
    device_sentences = [s for s in report_sentences(ctx.report_text) if device.search(s)]

    def target(m: re.Match[str]) -> str:
        return places[form_to_place[re.sub(r"\s+", " ", m.group(1).lower())]].move_to

    usable = []
    for m in found:
        forms = rf"\b(?:{_alternation(places[target(m)].forms)})\b"
        if not _in_any(forms, grounding) and not _in_any(forms, device_sentences):
            usable.append(m)
    if not usable:
        return Skip("tip_move", "target_place_in_report")
    m = _pick(ctx, usable)
    new_place = places[target(m)].say
    if m.start() == 0:
        new_place = new_place[:1].upper() + new_place[1:]
    old = form_to_place[re.sub(r"\s+", " ", m.group(1).lower())]
    return Perturbation(
        "tip_move", step, _replace(step, m.start(), m.end(), new_place), "location_conflict", f"{old} -> {target(m)}"
    )


OPERATOR_FUNCS: dict[str, Callable[[str, PerturbContext], Perturbation | Skip]] = {
    "negation_flip": negation_flip,
    "laterality_swap": laterality_swap,
    "severity_swap": severity_swap,
    "fabricated_finding": fabricated_finding,
    "location_change": location_change,
    "side_swap": side_swap,
    "grade_swap": grade_swap,
    "temporal_flip": temporal_flip,
    "number_change": number_change,
    "tip_move": tip_move,
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

    def perturb_step(
        self, step: str, op: str, report: Report, report_claims: list[Claim], key: str = ""
    ) -> Perturbation | Skip:
        """Apply one operator to one step; the RNG is seeded by (seed, key, op) for reproducibility."""
        from radprm.validators.steps import strip_enumeration

        rng = random.Random(f"{self.seed}|{key}|{op}")
        ctx = PerturbContext(
            self.validator.step_claims(strip_enumeration(step)), report_claims, report.text, rng, self.rules
        )
        out = OPERATOR_FUNCS[op](step, ctx)
        if isinstance(out, Perturbation) and out.step.strip() == step.strip():
            out = Skip(op, "unchanged")
        if isinstance(out, Skip):
            self.skipped[(op, out.reason)] += 1
        else:
            self.made[op] += 1
        return out

    def perturb_chain(
        self, chain: Chain, report: Report, ops: list[str], report_claims: list[Claim] | None = None
    ) -> Iterator[dict[str, Any]]:
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
            quarantine.add(
                stage=stage,
                reason_code=row.reason_code,
                source_path=str(path),
                source_row=n,
                detail=row.detail,
                payload=row.payload,
            )
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
            entry = pending.setdefault(
                str(cid), {"chain_id": str(cid), "report_id": str(row["report_id"]), "steps": {}, "row": n}
            )
            if str(cid) not in order:
                order.append(str(cid))
            entry["steps"][int(row.get("step_index", len(entry["steps"])))] = row["step"]
        except RowProblem as problem:
            quarantine.add(
                stage=stage,
                reason_code=problem.reason_code,
                source_path=str(path),
                source_row=n,
                field=problem.field,
                detail=problem.detail,
                record_id=str(row.get("chain_id")) if row.get("chain_id") is not None else None,
                chain_id=str(row.get("chain_id")) if row.get("chain_id") is not None else None,
                report_id=str(row["report_id"]) if row.get("report_id") else None,
                payload=json.dumps(row, default=str)[:10_000],
            )
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
    strict: bool = False,
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
        strict: raise (after writing) when any row was quarantined.
        validator: StepValidator whose extractor to use.
        **reader_options: keyword arguments of `read_reports`.

    Returns:
        The PerturbSummary (rows made and skips per operator).

    Raises:
        InputError: unknown operator or file-level problems.
        RunError: no chain could be perturbed, or `strict` and a row was quarantined (`err.summary`
            holds the summary; the output is written).
    """
    from radprm.tables import table_format, write_table
    from radprm.validators.batch import load_reports

    names = parse_ops(ops)
    table_format(out)
    out, qpath = run.output_paths(out, quarantine=quarantine)
    perturber = Perturber(validator, seed=seed)
    summary = PerturbSummary(out)
    wanted, _ = report_ids(chains_path, required=("chain_id",))
    with QuarantineSink(qpath) as sink:
        reports = load_reports(reports_path, wanted, sink, **reader_options)

        def rows() -> Iterator[dict[str, Any]]:
            for item in iter_input_chains(chains_path, sink):
                report = reports.get(item.chain.report_id)
                if report is None:
                    sink.add(
                        stage="perturb",
                        reason_code="unknown_report_id",
                        source_path=item.source_path,
                        source_row=item.source_row,
                        field="report_id",
                        record_id=item.chain.chain_id,
                        chain_id=item.chain.chain_id,
                        report_id=item.chain.report_id,
                        detail=f"report_id {item.chain.report_id!r} is not among the reports read",
                    )
                    continue
                summary.chains += 1
                yield from perturber.perturb_chain(item.chain, report, names)

        write_table(rows(), out, columns=PERTURB_COLUMNS)
    summary.quarantine = sink.render()
    summary.made = dict(perturber.made)
    summary.skipped = perturber.skip_summary()
    return run.finish(
        summary,
        produced=summary.chains,
        quarantine=sink,
        strict=strict,
        noun="chain",
        path=chains_path,
        failed="no chain could be perturbed",
        empty="no chain could be perturbed",
    )
