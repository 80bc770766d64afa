"""The deterministic step validator: label every reasoning step good or bad against its report.

Each step is parsed with the same findings extractor as the report, its claims are aligned to the
report's claims (`radprm.validators.align`), numbers are checked against the report text, a stated
final answer is checked against the reference answer, and the step gets a verdict, reason codes,
evidence sentences (char offsets into `Report.text`) and a score. Rules: validators/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from radprm.schemas.records import Chain, ChainScores, Evidence, Finding, Report, StepResult
from radprm.validators.abstention import LOW_PRECISION, AbstentionTable, flag_kinds, load_abstention
from radprm.validators.align import (
    EXCEPTING,
    Claim,
    Judgement,
    StepRules,
    adjective_claims,
    claim_from_finding,
    drop_false_mentions,
    infer_severity,
    judge_claim,
    list_items,
    load_step_rules,
    location_regions,
    merge_claims,
    normal_statement_claims,
    sentence_around,
    severity_levels,
)
from radprm.validators.clauses import (
    AGE_UNKNOWN,
    LABEL_BREAK,
    Clause,
    StepLanguage,
    clause_of,
    clause_polarity,
    hedge_strength,
    negation_near_after,
    normalize_step,
    reason_part,
    split_clauses,
    temporal_classes,
    temporal_conflict,
)
from radprm.validators.doubt import DOUBTED, SUSPECTED, DoubtModel, ReportView, StepView, step_features
from radprm.validators.memo import remember, text_cache
from radprm.validators.prefilter import group_gate
from radprm.validators.reasons import FAULTS
from radprm.validators.scoring import answer_reward, chain_scores
from radprm.validators.sentences import (
    AGE_SUFFIX,
    ITEM_REFERENCE,
    REFERENCE_RANGE,
    Facts,
    align,
    boosted,
    clear_reading_caches,
    compare,
    dismissed_alternative,
    edited_copy,
    explained_away,
    fills_gap,
    hidden_device_named,
    invented_thing,
    names_prior,
    range_between,
    read_facts,
    read_words,
    report_sentences,
    restates,
    same_word,
    stem,
)
from radprm.validators.sentences import Finding as Disagreement

if TYPE_CHECKING:
    from radprm.validators.findings import FindingsExtractor
    from radprm.validators.sentences import OpenVocabulary

# a step text read as step language and cut into clauses (`StepValidator._clauses`)
_STEP_CLAUSES: dict[tuple[int, str], tuple[StepLanguage | None, str, list[Clause]]] = text_cache()

# Score per verdict: a probability-like confidence that the step is good training signal.
VERDICT_SCORE = {"supported": 1.0, "neutral": 0.6, "unsure": 0.5, "unsupported": 0.2, "contradicted": 0.0}
# Faults the rules are least sure of: abstain ("unsure") when the step still lines up with the report.
WEAK_FAULTS = frozenset({"finding_not_in_report", "severity_not_in_report", "location_not_in_report"})
# Supported only because the report is silent ("unmentioned = normal"): slightly less certain.
OMISSION_SCORE = 0.9

# "2." is an enumeration, "1.7 cm" is not
# (an option letter too: "C) Pneumothorax: the report says there is none")
_ENUM = re.compile(
    # (an option letter: "(B) ", "E. Pneumothorax: absent")
    r"^\s*(?:(?:step|point)\s*\d+\s*[:.)-]?|\(?\d{1,2}[.):](?!\d)|\(?[A-H]\)(?=\s)|[A-H]\.(?=\s)|[-\u2022]|\*(?!\*))\s*",
    re.I
)
_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?)(?:\s*(?:cm|mm|centimeters?|millimeters?|%|percent))?(?![\w])"
    r"|\b([CTL]\d{1,2})\b",
    re.I,
)
_COUNT_WORDS = {
    w: str(i)
    for i, w in enumerate(
        ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"], start=2
    )
} | {"dual": "2", "double": "2", "pair": "2"}
# a count in words ("seven sternotomy wires", "at two levels"), not "one of the", "two views" or "two options"
_COUNT_WORD = re.compile(
    r"\b(" + "|".join(_COUNT_WORDS) + r")\b(?!\s+(?:of\s+(?:the|these|them|those)|(?:\w+\s+)?(?:views?|images?|"
    r"projections?|radiographs?|options?|choices?|answers?|findings|things|questions?|possibilit\w+|sides|steps?|"
    r"reasons?|parts?|listed|explanations?|candidates?|items?|categories|labels?|conditions?|diagnoses|entities)\b)"
    r"|[\s-]+(?:chamber|lumen|energy)\b)",
    re.I,
)
# "there are three of them": a total, where "three of them are calcified" counts a part
_TOTAL_OF_THEM = re.compile(
    r"\b(?:there\s+(?:are|were)|I\s+(?:count|see)|we\s+see)\s+(?:about\s+|roughly\s+|around\s+)?("
    + "|".join(_COUNT_WORDS) + r")\s+of\s+them\b", re.I)
_KIND_COUNTS = {"single": "1", "dual": "2", "double": "2", "triple": "3"}
_KIND_COUNT = re.compile(r"\b(single|dual|double|triple)[\s-]+(?:chamber|lumen|lead)", re.I)
_VIEW_COUNT = re.compile(
    r"\b(?:\d+|two|three|four)(?:\s+|-)(?=(?:views?|images?|projections?|radiographs?)\b)"
    rf"|\b\d+(?={AGE_SUFFIX})"
    # a reference range of general knowledge: no measurement of this patient
    rf"|{REFERENCE_RANGE}"
    # a numbered item of the report cited as such ("Impression item 3", "point 2 of the findings")
    rf"|{ITEM_REFERENCE}",
    re.I,
)
# the numbers of a report's list ("IMPRESSION: 1. Small effusion. 2. ..."): no size, count or level of anything
_ENUMERATOR = re.compile(
    r"(?m)(?:^\s*|(?<=[:.|\"'\u201c]\s)|(?<=[:|\"'\u201c]))\d{1,2}[.)](?=\s+[A-Z])|(?<=[\"\u201c])\d{1,2}[.)]"
    # ("Findings: 1) new deformity; 2) large hernia; 3) hyperinflation")
    r"|(?<=[:;,]\s)\d{1,2}\)(?=\s+[a-zA-Z])|^\s*\d{1,2}\)(?=\s+[a-z])"
    # a plan's numbered steps anywhere in it ("Step 1: Heart. Step 2: Aorta.")
    r"|(?<=\b[Ss]tep\s)\d{1,2}\b"
)


_DOUBLE_STOP = re.compile(r"(?<=[a-z])\.\.(?=\s+[A-Z])")
# an aside between subject and verb ("The mediastinum, on the other hand, has changed"): read without it
_ASIDE = re.compile(
    r",\s*(?:on\s+the\s+other\s+hand|by\s+contrast|in\s+contrast|meanwhile|for\s+(?:its|their)\s+part|in\s+turn"
    r"|likewise|similarly)\s*,(?=\s+(?:has|have|is|are|was|were|remains?|appears?|looks?|shows?|seems?)\b)",
    re.I,
)
# a bold title opening the step ("**Step 2: Cardiomegaly.**", "### **Left side:**") and markdown marks
_BOLD_TITLE = re.compile(r"^\s*(?:#+\s*)?(?:\d{1,2}[.)]\s*)?(?:\*\*|__(?!_))([^*_\n]{1,80}?)(?:\*\*|(?<!_)__)")
# ("__" is bold only outside a de-identified "___")
_MARKDOWN = re.compile(r"\*\*|(?<!_)__(?!_)|`|^\s*#+|(?<=\s)\*(?=\S)|(?<=\S)\*(?=[\s.,;:])")


# a clause under a leading "Nodule:" heading that only places the heading's finding ("described in the right lower
# lobe", "present at the left base"; not "explicitly absent")
_PLACED = re.compile(r"\W*(?:(?:described|seen|noted|present|located|identified|visible|shown)\s+)?"
                     r"(?:in|at|on|over|along|within|involving)\s+(?:the|both|each)\b", re.I)


@lru_cache(maxsize=65536)
def same_length_fixes(text: str) -> str:
    """Typos and markup that mislead sentence splitting, fixed without moving any offset.

    "effusion.. Minimal" gets one stop; markdown goes ("**Step 2: Cardiomegaly.** The heart ..."
    reads as the heading "Cardiomegaly:" over "The heart ..."), and so does a leading "Step 2:".
    """
    text = _DOUBLE_STOP.sub(". ", text)
    if "," in text:
        text = _ASIDE.sub(lambda m: " " * len(m.group()), text)
    if "*" in text or "#" in text or "__" in text or "`" in text:
        title = _BOLD_TITLE.match(text)
        if title and title.group(1)[-1] in ".:":
            end = title.end(1) - 1
            text = text[:end] + ":" + text[end + 1 :]
        text = _MARKDOWN.sub(lambda m: " " * len(m.group()), text)
    enum = _ENUM.match(text)
    if enum and enum.end() > 0 and not text[: enum.end()].isspace():
        text = " " * enum.end() + text[enum.end() :]
    return text


def strip_enumeration(step: str) -> str:
    """Drop a leading 'Step 2:' / '2.' / '-' marker so that it is not read as a number."""
    return _ENUM.sub("", step, count=1)


def numbers_in(text: str) -> list[str]:
    """Numbers a text quotes (sizes, counts, vertebral levels), normalised ('2.0' -> '2', 'seven' -> '7').

    A range of levels ("T4-T6") also quotes the levels between its ends.
    """
    # ordinals are not numbers here (the open-vocabulary check compares them); levels between are
    out = sorted(value for value, kind in range_between(text.lower()) if kind == "level")
    for m in _COUNT_WORD.finditer(text):
        out.append(_COUNT_WORDS[m.group(1).lower()])
    out.extend(_COUNT_WORDS[m.group(1).lower()] for m in _TOTAL_OF_THEM.finditer(text))
    # a count a device's kind says ("single-chamber pacemaker" for a dual-chamber one, "triple-lumen" for a dual-lumen
    # catheter)
    kinds = (m.group(1).lower() for m in _KIND_COUNT.finditer(text))
    out.extend(_KIND_COUNTS[k] for k in kinds if k in ("single", "triple"))
    # a share of a height lost, in words ("lost about a fifth of its height": 20 %)
    out.extend(_FRACTIONS[(m.group(1) or m.group(2)).lower()] for m in _HEIGHT_SHARE.finditer(text))
    for m in _NUMBER.finditer(text):
        if m.group(2):
            out.append(m.group(2).upper())
            continue
        value = m.group(1).replace(",", ".")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.append(value)
    return out


_FRACTIONS = {"half": "50", "third": "33", "quarter": "25", "fifth": "20"}
_HEIGHT_SHARE = re.compile(
    r"\b(?:lost|losing|loss\s+of)\s+(?:about\s+|roughly\s+|approximately\s+|nearly\s+|around\s+|almost\s+)?"
    r"(?:a\s+|one\s+)?(half|third|quarter|fifth)\s+(?:of\s+)?(?:its|their|the)?\s*(?:vertebral\s+)?(?:body\s+)?height\b"
    r"|\b(?:a|one)\s+(half|third|quarter|fifth)\s+of\s+(?:its|their|the)\s+(?:\w+\s+)?height\s+(?:lost|loss|gone)\b",
    re.I,
)


@dataclass
class StepAnalysis:
    """Everything the validator decided about one step (StepResult plus the claim judgements)."""

    result: StepResult
    judgements: list[Judgement] = field(default_factory=list)
    numbers: tuple[int, int] = (0, 0)


@dataclass
class ChainValidation:
    """The validation of one chain: step results, chain scores and the answer reward."""

    chain_id: str
    steps: list[StepResult]
    scores: ChainScores
    answer_reward: float | None = None
    analyses: list[StepAnalysis] = field(default_factory=list, repr=False)

    @property
    def labels(self) -> list[bool]:
        """Step labels in order (the TRL stepwise `labels` column)."""
        return [s.label for s in self.steps]


# the words of an indication ("rib" counts): what a step about the patient may repeat from it
_HISTORY_WORD = re.compile(r"[a-z]{3,}")


class History:
    """The indication of a report: its word stems, and the findings it names (read on first need, since most
    steps never speak of the history)."""

    def __init__(self, text: str, observations: Callable[[str], frozenset[str]] | None = None) -> None:
        self.text = text
        self.stems = frozenset(stem(w) for w in _HISTORY_WORD.findall(text.lower())) if text else frozenset()
        self._read = observations
        self._observations: frozenset[str] | None = None

    def __bool__(self) -> bool:
        return bool(self.stems)

    @property
    def observations(self) -> frozenset[str]:
        if self._observations is None:
            self._observations = self._read(self.text) if self._read is not None and self.text else frozenset()
        return self._observations

    def about(self, clause: Facts, weak: frozenset[str]) -> bool:
        """A step clause about the patient's history: a history cue, and at least half its words named by
        the indication ("The patient has osteopenia and lower rib pain after a recent event")."""
        cue = _HISTORY_CUE.search(clause.text) if self.stems else None
        if cue is None:
            return False
        strong = clause.anchors - weak
        if cue.group(0).lower() == "given" and cue.start() > 0:
            # "... is new since the prior exam, given the renal carcinoma", "calls it fungal infection given the
            # patient's AML": what comes before the reason is said of the film
            head = {stem(w) for w in _HISTORY_WORD.findall(clause.text[: cue.start()].lower())} & strong
            if clause.temporal or head - self.stems:
                return False
        return bool(strong) and 2 * len(strong & self.stems) >= len(strong)

    def names_terms(self, clause: Facts, vocab: OpenVocabulary) -> bool:
        """Every specific term or named device of the clause is a word of the indication ("This is a
        preoperative film before lipoma excision" where the indication reads "Preop lipoma excision")."""
        words = {
            w for w in clause.words
            if w in vocab.terms or (vocab.classes.get(w) in vocab.must_be_named and w not in vocab.generic_words)
        }
        return bool(words) and all(stem(w) in self.stems for w in words)

    def swapped_side(self, clause: Facts, vocab: OpenVocabulary) -> bool:
        """A clause about the history that puts a thing of the indication on the other side ("The patient has a
        left chest wall contusion" where the indication reads "right chest wall contusion")."""
        if not self.text:
            return False
        stated = [_sided_phrase(p, vocab) for p in _PHRASE_BREAK.split(self.text)]
        for part in _PHRASE_BREAK.split(clause.text):
            sides, words = _sided_phrase(part, vocab)
            if len(sides) != 1 or not words:
                continue
            same = [s for s, w in stated if words <= w]
            if same and all(s and not s & sides for s in same):
                return True
        return False


_PHRASE_BREAK = re.compile(r"[.;,:]|\band\b|\bwith\b", re.I)


def _sided_phrase(text: str, vocab: OpenVocabulary) -> tuple[frozenset[str], frozenset[str]]:
    """The sides a phrase names and the stems of its other content words."""
    words = _HISTORY_WORD.findall(text.lower())
    sides = frozenset(vocab.side_words[w] for w in words if w in vocab.side_words) & {"left", "right"}
    stems = frozenset(
        stem(w) for w in words
        if w not in vocab.side_words and w not in vocab.stopwords and w not in vocab.weak and w not in _HISTORY_FILLER
    )
    return sides, stems


# words of a step that restate the history without naming it ("The patient reports ...")
_HISTORY_FILLER = frozenset({"patient", "patients", "reports", "reported", "has", "had", "have", "history", "presents",
                             "presenting", "complains", "complaining", "indication", "clinical", "the", "his", "her"})


NO_HISTORY = History("")


class StepValidator:
    """Labels reasoning steps against their report. Deterministic, no model calls.

    Args:
        extractor: a FindingsExtractor to share (building one loads medspaCy); None builds one lazily.
        rules: step rules; the packaged `step_rules.json` by default.
        abstention: what abstains (`radprm.validators.abstention.load_abstention`): a table or a learned
            second opinion (`radprm.validators.doubt`), a file of either, ``"table"`` / ``"model"`` for the
            packaged ones, ``"none"`` (the rules' labels only), or None for the packaged default (the model).
    """

    def __init__(
        self,
        extractor: FindingsExtractor | None = None,
        rules: StepRules | None = None,
        abstention: AbstentionTable | DoubtModel | str | Path | None = None,
    ) -> None:
        self._extractor = extractor
        self.rules = rules or load_step_rules()
        self.abstention = (
            abstention if isinstance(abstention, AbstentionTable | DoubtModel) else load_abstention(abstention)
        )
        self._step_cache: dict[str, list[Claim]] = {}
        self._clause_cache: dict[str, list[Facts]] = {}
        self._sentence_cache: dict[str, list[Facts]] = {}
        self._history_cache: dict[str, frozenset[str]] = {}

    @property
    def extractor(self) -> FindingsExtractor:
        """The findings extractor (built on first use)."""
        if self._extractor is None:
            from radprm.validators.findings import FindingsExtractor

            self._extractor = FindingsExtractor()
        return self._extractor

    def _named_findings(self, text: str) -> frozenset[str]:
        """The findings a short text (an indication) names, whatever their assertion (cached by text)."""
        found = self._history_cache.get(text)
        if found is None:
            found = frozenset(f.observation for f in self.extractor.extract_text(text))
            remember(self._history_cache, text, found, limit=50_000)
        return found

    @property
    def rules_version(self) -> str:
        """Version of the step rules in use."""
        return self.rules.version

    @property
    def abstention_name(self) -> str:
        """What abstains, for summaries: "abstention table v2", "second opinion v1" or "none"."""
        if self.abstention is None:
            return "none"
        kind = "second opinion" if isinstance(self.abstention, DoubtModel) else "abstention table"
        return f"{kind} v{self.abstention.version}"

    @property
    def labelling_version(self) -> str:
        """What decides the labels: the step rules' version and the abstention's (kind, version + file hash)."""
        table = self.abstention
        if table is None:
            return f"{self.rules.version}+no-abstention"
        kind = "doubt" if isinstance(table, DoubtModel) else "abstention"
        return f"{self.rules.version}+{kind}-{table.version}" + (f"+{table.sha256[:12]}" if table.sha256 else "")

    def report_claims(self, report: Report, report_findings: list[Finding] | None = None) -> list[Claim]:
        """Claims of a report: its findings plus negatives implied by its normal statements."""
        if report_findings is None:
            fixed = same_length_fixes(report.text)
            target = report if fixed == report.text else report.model_copy(update={"text": fixed})
            report_findings = self.extractor.extract_report(target)
        found = [
            claim_from_finding(_open_question(f) if f.hypothetical else f, report.text, self.rules)
            for f in report_findings
            if not f.hypothetical or _TO_EXCLUDE.search(f.sentence, 0, max(0, f.start - f.sentence_start))
        ]
        found = drop_false_mentions(found, report.text, self.rules)
        found = adjective_claims(infer_severity(found, report.text, self.rules), self.rules)
        return _hidden_verbs(merge_claims(found, normal_statement_claims(report.text, self.rules)), report.text)

    def step_claims(self, step: str) -> list[Claim]:
        """Claims of one step text (cached: chains repeat glue and restated findings).

        The step is read as step language (`radprm.validators.clauses`): contractions expanded, cut
        into clauses; claims in meta clauses (plans, the question, conditionals, generic knowledge)
        and in a leading "Nodule:" heading are dropped, and each remaining claim takes the polarity
        its clause gives it ("X is not mentioned" -> negative, "cannot be excluded" -> uncertain).
        """
        cached = self._step_cache.get(step)
        if cached is not None:
            return cached
        text = normalize_step(same_length_fixes(step))
        rewrites = self.rules.step_rewrites
        if group_gate(rewrites, "rewrites", (p for p, _ in rewrites))(text):  # (one needle check for all rewrites)
            for pattern, replacement in rewrites:
                text = pattern.sub(replacement, text)
        lang = self.rules.language
        clauses = split_clauses(text, lang) if lang else []
        # a step without a fact clause (plans, the question, glue) has no claim: it is not read for any
        factual = lang is None or any(c.kind == "fact" for c in clauses)
        findings = self.extractor.extract_text(text) if factual else []
        if len(clauses) > 1 and clauses[0].kind == "heading" and clauses[1].kind == "fact":
            head, under = clauses[0], clauses[1]
            if any(head.start <= f.start < head.end for f in findings) and _PLACED.match(under.text) \
                    and not any(under.start <= f.start < under.end for f in findings):
                # "Platelike atelectasis: described in the right lower lobe - present": the heading is the subject of
                # the clause under it, which names nothing of its own; read as one clause (same length: spans hold)
                brk = LABEL_BREAK.match(text, head.end)
                if brk:
                    text = text[: brk.start()] + " " * (brk.end() - brk.start()) + text[brk.end() :]
                    clauses = split_clauses(text, lang)
        found = []
        for f in findings:
            if lang is not None:
                clause = clause_of(clauses, f.start, f.end)
                if clause is None or clause.kind != "fact":
                    continue
                # the clause is the claim's context: its side, grade and place come from there
                claim = claim_from_finding(f, text, self.rules, context=(clause.start, clause.end))
                if f.observation in self.rules.object_observations and _NOT_A_KIND.search(text, clause.start, f.start):
                    continue  # what a device is not ("an epidural catheter, which is not a chest tube"): no claim
                claim = _clause_assertion(claim, clause, lang)
                with_phrase = _WITH_PHRASE.match(clause.text)
                if claim.laterality == "none" and (with_phrase or _NAMING_PHRASE.match(clause.text)):
                    # "The left lung is clear and fully expanded, with no pleural line": the phrase is the left's
                    at = clauses.index(clause)
                    if at:
                        wider = claim_from_finding(f, text, self.rules, context=(clauses[at - 1].start, clause.end))
                        if with_phrase or wider.laterality in ("left", "right"):
                            claim = replace(claim, laterality=wider.laterality)
                if claim.assertion == "positive" and _GLOBAL_MENTION.match(claim.mention):
                    # "leads overlie the chest": a global mention ("normal chest", "no acute cardiopulmonary
                    # disease") only ever says what is absent; read as affirmed, it names no finding
                    continue
            elif f.hypothetical:
                continue
            else:
                claim = claim_from_finding(f, text, self.rules)
            found.append(claim)
        found = drop_false_mentions(found, text, self.rules)
        found = adjective_claims(infer_severity(found, text, self.rules), self.rules)
        implied = (
            [c for c in normal_statement_claims(text, self.rules) if lang is None or _in_fact_clause(clauses, c)]
            if factual
            else []
        )
        claims = _dedupe(merge_claims(found, implied))
        # "Apart from that, the lungs are clear": a blanket statement that excepts what was just said
        claims = [c for c in claims if c.source != "statement" or not _excepted(text, c.start)]
        claims = _void_exceptions(claims, text, self.rules)
        # "follow-up is recommended to exclude an underlying mass": a purpose, which asserts nothing of the finding
        claims = [
            c for c in claims
            if not (c.assertion == "negative" and _TO_EXCLUDE.search(text[max(0, c.start - 60) : c.start]))
        ]
        # a step quoting "The distribution XXXX pulmonary edema" quotes its hidden verb too
        claims = _hidden_verbs(claims, text, always=True)
        remember(self._step_cache, step, claims, limit=50_000)
        return claims

    def clear_caches(self) -> None:
        """Forget every cached step, clause, sentence and report reading (benchmarks and tests)."""
        self._step_cache.clear()
        self._clause_cache.clear()
        self._sentence_cache.clear()
        self._history_cache.clear()
        clear_reading_caches()
        same_length_fixes.cache_clear()

    def step_facts(self, step: str, previous: str = "") -> list[Facts]:
        """The fact clauses of a step read as comparable attributes (open-vocabulary checks).

        A clause without a subject of its own ("They have decreased since the prior") is read
        together with the clause before it, or with the last fact clause of the previous step.
        """
        key = f"{previous}\x00{step}"
        cached = self._clause_cache.get(key)
        if cached is not None:
            return cached
        lang, vocab = self.rules.language, self.rules.vocabulary
        facts: list[Facts] = []
        if lang is not None and vocab is not None:
            text, step_clauses = self._clauses(step)
            grades = self.rules.severity_groups
            context = self._subject(previous)
            heading: Facts | None = None
            for c in step_clauses:
                if c.kind == "heading":
                    # "Right IJ catheter: present, tip in the SVC": the heading names what follows
                    heading = read_facts(c.text, vocab, lang, grades, c.start)
                    context = [heading]
                    continue
                if c.kind != "fact":
                    continue
                f = read_facts(c.text, vocab, lang, grades, c.start)
                head = _affirmed_head(c.text, f, vocab, lang, grades) if f.negated else 0
                if head:
                    # "degenerative changes of the cervical spine without acute abnormality": the thing before
                    # "without" is affirmed (its side and place are judged), the denial is a clause of its own
                    facts.append(read_facts(c.text[:head], vocab, lang, grades, c.start))
                    f = read_facts(c.text[head:], vocab, lang, grades, c.start + head)
                named_heading = heading is not None and bool(heading.anchors - vocab.weak)
                items = None if f.negated or named_heading or lang.has_verb.search(c.text) else list_items(c.text)
                if items is None and heading is not None and heading.temporal and not named_heading \
                        and not f.negated and c.text.count(",") == 1 and not lang.has_verb.search(c.text):
                    # two things under a change heading ("New: lower lobe reticular opacities, left mid lung
                    # opacity") are two items too
                    cut = c.text.index(",")
                    items = [(0, c.text[:cut]), (cut + 1, c.text[cut + 1 :])]
                if items is not None and f.hedge == "certain":
                    # "cardiomegaly, cardiac defibrillator, bibasilar opacities": each item with its own side and
                    # place
                    read = [read_facts(item, vocab, lang, grades, c.start + at) for at, item in items]
                    if heading is not None and heading.temporal:
                        # "New: lower lobe reticular opacities, left mid lung patchy opacity": each item is new
                        read = [replace(r, temporal=r.temporal | heading.temporal) for r in read]
                    facts.extend(read)
                    continue
                own = f.anchors - vocab.weak
                if heading is not None and not facts:
                    # the heading's subject (and side) belong to the first clause under it
                    f = replace(
                        f,
                        anchors=f.anchors | heading.anchors,
                        classes=f.classes | heading.classes,
                        sides=f.sides or heading.sides,
                        temporal=f.temporal or heading.temporal,
                    )
                elif facts and not own:
                    # "..., which are new since the prior": the clause speaks of the previous one's subject
                    prev = facts.pop()
                    tail_denies = f.negated
                    f = read_facts(text[prev.start : c.end], vocab, lang, grades, prev.start)
                    if tail_denies and not prev.negated and not f.anchors - prev.anchors:
                        # "..., which are chronic and not acute": the tail denies an attribute, not the thing
                        f = replace(f, negated=False)
                    # what the clause before borrowed (a heading's subject) stays with it
                    f = replace(
                        f,
                        anchors=f.anchors | prev.anchors,
                        classes=f.classes | prev.classes,
                        sides=f.sides or prev.sides,
                    )
                elif len(own) <= 1 and (_PRONOUN_START.match(c.text) or _PRONOUN_SUBJECT.search(c.text) or not own) \
                        and (facts or context):
                    # "It is smaller now", "That dominant nodule ...", "The curve is mild": borrow the subject
                    # of the clause before (in this step, else the last one of the previous step)
                    subject = (facts or context)[-1]
                    f = replace(
                        f,
                        anchors=f.anchors | subject.anchors,
                        classes=f.classes | subject.classes,
                        borrowed=subject.anchors - f.anchors,
                    )
                elif _PRONOUN_START.match(c.text) and (facts or context):
                    # "It then passes below the diaphragm, tip over the fundus": aligned on its own words
                    # first, on the subject's too when those find nothing
                    f = replace(f, subject=(facts or context)[-1].anchors)
                facts.append(f)
        remember(self._clause_cache, key, facts, limit=50_000)
        return facts

    def _subject(self, step: str) -> list[Facts]:
        """What a later "It ..." can refer to in `step`: its last fact clause that names something, or a
        past one ("There was a small left pneumothorax on the prior study." -> "It is smaller now")."""
        lang, vocab = self.rules.language, self.rules.vocabulary
        if not step or lang is None or vocab is None:
            return []
        named = [f for f in self.step_facts(step) if f.anchors - vocab.weak]
        if named:
            return named[-1:]
        past = [
            read_facts(c.text, vocab, lang, self.rules.severity_groups, c.start)
            for c in self._clauses(step)[1]
            if c.kind == "past"
        ]
        named = [f for f in past if f.anchors - vocab.weak][-1:]
        if named:
            return named
        # what a plan sets out to find is what the next step's "I see it" refers to ("I'm looking for a small dense
        # nodule." -> "I see it in the left lower lobe")
        sought = [
            read_facts(c.text, vocab, lang, self.rules.severity_groups, c.start)
            for c in self._clauses(step)[1]
            if c.kind == "meta"
        ]
        return [f for f in sought if f.anchors - vocab.weak][-1:]

    def report_sentences(self, report: Report) -> list[Facts]:
        """The report's sentences read as comparable attributes (cached per report text)."""
        cached = self._sentence_cache.get(report.text)
        if cached is None:
            lang, vocab = self.rules.language, self.rules.vocabulary
            cached = (
                report_sentences(report.text, vocab, lang, self.rules.severity_groups)
                if lang is not None and vocab is not None
                else []
            )
            if len(self._sentence_cache) > 20_000:
                self._sentence_cache.clear()
            self._sentence_cache[report.text] = cached
        return cached

    def validate(self, chain: Chain, report: Report, report_findings: list[Finding] | None = None) -> ChainValidation:
        """Validate every step of `chain` against `report`.

        Args:
            chain: the reasoning chain (steps, optional question/answer/model_answer).
            report: the report the chain reasons about.
            report_findings: the report's findings when already extracted (offsets into report.text).

        Returns:
            ChainValidation with one StepResult per step and the chain scores.
        """
        return self.validate_claims(chain, report, self.report_claims(report, report_findings))

    def validate_claims(self, chain: Chain, report: Report, rclaims: list[Claim]) -> ChainValidation:
        """Validate `chain` against report claims computed earlier by `report_claims` (batch runs)."""
        grounded_numbers = _with_differences(set(numbers_in(_ENUMERATOR.sub(" ", report.text))))
        grounded_numbers |= _in_other_unit(report.text)  # ("0.8 cm" for "8 mm")
        # a count a device's kind says ("dual-chamber pacemaker": two leads; "triple-lumen catheter")
        grounded_numbers.update(_KIND_COUNTS[m.group(1).lower()] for m in _KIND_COUNT.finditer(report.text))
        # (the indication and comparison are the report's too: "follow-up of pneumonia 4 weeks ago")
        for extra in [chain.question or "", *chain.options, report.indication or "", report.comparison or ""]:
            grounded_numbers.update(numbers_in(extra))
        seen_keys: set[tuple] = set()
        analyses = []
        sentences = self.report_sentences(report)
        for s in sentences:
            # an ordinal the report gives may be quoted as a number ("ribs 6 and 7", "ribs six and seven" for "the
            # sixth and seventh ribs"), and its ordinals counted ("three ribs" for "the 3rd through 5th ribs")
            ordinals = {value for value, kind in s.numbers if kind == "th"}
            grounded_numbers |= ordinals
            if len(ordinals) > 1:
                grounded_numbers.add(str(len(ordinals)))
        previous = ""  # the last step that named something: what a later "It ..." refers to
        history = History(report.indication or "", self._named_findings)
        prior = names_prior(report.comparison)
        # (a comparison field that names the exam in words, not only "XXXX")
        prior_worded = prior and bool(_WORDED.search(report.comparison or ""))
        for i, step in enumerate(chain.steps):
            analysis = self._validate_step(
                chain, i, step, rclaims, grounded_numbers, seen_keys, sentences, previous, report.text,
                history=history, prior=prior, prior_worded=prior_worded,
            )
            body = strip_enumeration(step)
            if self._subject(body):
                previous = body
            analyses.append(analysis)
        if isinstance(self.abstention, DoubtModel):
            self._second_opinion(chain, report, analyses)
        elif self.abstention is not None:
            self._abstain(chain, analyses)
        results = [a.result for a in analyses]
        scores = chain_scores(
            chain.chain_id, results, [a.judgements for a in analyses], rclaims, [a.numbers for a in analyses]
        )
        reward = answer_reward(chain.answer, chain.model_answer) if chain.answer and chain.model_answer else None
        return ChainValidation(chain.chain_id, results, scores, reward, analyses)

    def _abstain(self, chain: Chain, analyses: list[StepAnalysis]) -> None:
        """Calibrated abstention: a decided bad label of a kind the labelled sets found too often wrong
        becomes `unsure` with the note `low_precision_fault` (`radprm.validators.abstention`)."""
        decided = [a for a in analyses if not a.result.label and a.result.verdict != "unsure"]
        if not decided:
            return
        citing = cites_report(chain.steps)
        for a in decided:
            r = a.result
            if self.abstention.abstains(step_flag_kinds(r.reasons, r.step, citing)):
                a.result = _made_unsure(r, LOW_PRECISION)

    def doubt_features(
        self, chain: Chain, report: Report, analyses: Sequence[StepAnalysis], model: DoubtModel
    ) -> list[dict[str, float]]:
        """The second opinion's features of every step as the rules left it (`radprm.validators.doubt`)."""
        spec = model.spec()
        view = ReportView.read(spec, report.text, [chain.question or "", *chain.options,
                                                   report.indication or "", report.comparison or ""])
        citing = cites_report(chain.steps)
        n = len(chain.steps)
        return [
            step_features(spec, StepView(
                a.result.step, i, n, a.result.verdict, a.result.reasons, a.result.score,
                [e.text for e in a.result.evidence], citing, bool(_INFERENCE.search(a.result.step)),
            ), view)
            for i, a in enumerate(analyses)
        ]

    def _second_opinion(self, chain: Chain, report: Report, analyses: list[StepAnalysis]) -> None:
        """The learned second opinion (`radprm.validators.doubt`): a good label the model finds probably bad,
        and a decided bad label it finds too likely wrong, become `unsure` (masked in exports)."""
        model = self.abstention
        for a, features in zip(analyses, self.doubt_features(chain, report, analyses, model), strict=True):
            r = a.result
            if r.label:
                if model.p_bad("good", features) >= model.flag_at:
                    a.result = _made_unsure(r, SUSPECTED)  # (the model's lean: bad)
            elif r.verdict != "unsure" and model.p_bad("bad", features) < model.keep_at:
                a.result = _made_unsure(r, DOUBTED)

    def _validate_step(
        self,
        chain: Chain,
        index: int,
        step: str,
        rclaims: list[Claim],
        grounded_numbers: set[str],
        seen_keys: set[tuple],
        sentences: list[Facts] = (),
        previous: str = "",
        report_text: str = "",
        history: History = NO_HISTORY,
        prior: bool = False,
        prior_worded: bool = False,
    ) -> StepAnalysis:
        body = strip_enumeration(step)
        items = _option_items(body, chain.options)
        # a bare list of options ("Final answer: Calcified granuloma, Left cardiophrenic density") is read
        # option by option: one option's side or place is not another's
        claims = [c for item in items for c in self.step_claims(item)] if items else self.step_claims(body)
        judgements = [
            _gone_since(
                _grounded_elsewhere(
                    self._with_change(judge_claim(c, rclaims, self.rules), rclaims, body, claims),
                    sentences,
                    history,
                    self.rules.vocabulary,
                ),
                rclaims,
            )
            for c in claims
        ]
        if any(_denied_by_statement(j) for j in judgements):
            judgements = self._described_elsewhere(judgements, body, sentences, previous)
        judgements = _appearances_named(judgements, body, self.rules)
        reasons: list[str] = []
        for j in judgements:
            reasons.extend(r for r in j.reasons if r not in reasons)
        fact_text = self._fact_text(body)
        # a size or count of the prior exam is the report's too ("5 cm now, 3 cm on the prior" where it measured 4)
        nums = numbers_in(_drop_view_counts(self._fact_text(body, kinds=("fact", "past"))))
        ungrounded = [n for n in nums if n not in grounded_numbers]
        if ungrounded:
            reasons.append("ungrounded_number")
        answer_state = self._answer_state(chain, body, last=index == len(chain.steps) - 1)
        # an answer line ("Answer: left chest tube, sternotomy wires") is checked against the reference
        # answer, not sentence by sentence
        is_answer = (
            answer_state is not None
            or any(p.search(body) for p in self.rules.answer_patterns)
            or (chain.options and index == len(chain.steps) - 1 and len(body.split()) <= 4)
        )
        open_findings = []
        if sentences and self.rules.language is not None and not is_answer:
            vocab, lang, grades = self.rules.vocabulary, self.rules.language, self.rules.severity_groups
            clauses = self.step_facts(body, previous)
            for clause in clauses:
                if history.about(clause, vocab.weak):
                    if history.swapped_side(clause, vocab):
                        open_findings.append(Disagreement("laterality_conflict", None))
                    continue  # the patient's history, not the film
                found = compare(clause, sentences, vocab, lang, prior=prior)
                if found and _names_appearance(clause, clauses, judgements):
                    # "Both hila are enlarged and lobulated, consistent with bilateral hilar lymphadenopathy": the
                    # look of what the report names
                    found = [f for f in found if f.reason not in _UNSAID]
                if found and _ON_PRIOR.search(clause.text):
                    # "was present on the prior study" beside "interval removal of ...": both hold
                    found = [
                        f for f in found
                        if f.reason != "negation_conflict" or f.evidence is None or not _GONE.search(f.evidence.text)
                    ]
                if found and history.names_terms(clause, vocab):
                    # a thing only the indication names is the patient's history, not a finding made up
                    found = [f for f in found if f.reason != "finding_not_in_report"]
                open_findings.extend(found)
            if not (open_findings or judgements):
                # a thing the step says is there, when nothing in the step speaks of anything the report has
                made_up = next((c for c in clauses if invented_thing(c, sentences, vocab)), None)
                if (
                    made_up is not None
                    and not history.names_terms(made_up, vocab)
                    and not any(align(c, sentences, vocab) for c in clauses)
                ):
                    open_findings.append(Disagreement("finding_not_in_report", None))
            if not any(f.reason == "uncertainty_dismissed" for f in open_findings):
                away = explained_away(body, clauses, sentences, vocab, lang)
                if away is not None:
                    open_findings.append(away)
            # "atelectasis rather than infiltrate": the reading set aside, judged only as a dismissal
            for c in self._clauses(body)[1]:
                if c.kind == "contrast":
                    set_aside = read_facts(c.text, vocab, lang, grades, c.start)
                    dismissed = dismissed_alternative(set_aside, sentences, vocab)
                    if dismissed is not None:
                        open_findings.append(dismissed)
            # a step that copies a report sentence with one word changed (side, grade, number, place,
            # change over time, negation), read whole since report sentences are not cut into clauses; a
            # step read as meta is checked whole too: reports word recommendations and follow-up the same way
            # ("If none are available, follow-up in 6 months")
            whole = read_words(fact_text if clauses else body)
            tried = set()  # edited_copy reads only the word sequence: a one-clause step is not tried twice
            for clause in [whole, *clauses]:
                if clause.sequence in tried:
                    continue
                tried.add(clause.sequence)
                edits = edited_copy(clause, sentences, vocab, lang, grades)
                if edits:
                    open_findings.extend(edits)
                    break
        if sentences and self.rules.vocabulary is not None and _action_denied(body, sentences, self.rules.vocabulary):
            # "the PICC position is acceptable and needs no adjustment" where the report recommends withdrawing it
            open_findings.append(Disagreement("uncertainty_dismissed", None))
        if prior_worded and _NO_PRIOR_SAID.search(body):
            # "No prior study is available for comparison" where the comparison field names one
            open_findings.append(Disagreement("negation_conflict", None))
        if sentences and _action_forced(body, sentences):
            # "the radiologist states that a CT is required" where the report says "CT may be helpful if clinically
            # indicated"
            open_findings.append(Disagreement("uncertainty_overstated", None))
        if self.rules.vocabulary is not None and _other_interval(body, report_text, self.rules.vocabulary):
            # a recommendation read back with another interval ("follow-up in 2 weeks" for "in 6 weeks"): steps
            # that echo the report's recommendation are meta, their numbers are still the report's
            open_findings.append(Disagreement("ungrounded_number", None))
        for f in open_findings:
            if f.reason not in reasons:
                reasons.append(f.reason)
        if answer_state is True and "uncertainty_overstated" in reasons:
            # the reference answer counts the hedged finding as present: so may the step that answers
            reasons.remove("uncertainty_overstated")
            judgements = [
                j
                if "uncertainty_overstated" not in j.reasons
                else Judgement(j.claim, "supported", ["hedged"], j.evidence)
                for j in judgements
            ]
        if answer_state is False:
            reasons.append("answer_mismatch")
        elif answer_state is True:
            # an answer that matches the reference answer: an option name the report words otherwise
            # ("Aortic calcification" for "calcified aorta") is no fault; a contradiction still is (the
            # reference may be wrong)
            weak = WEAK_FAULTS | {"ungrounded_number"}
            reasons = [r for r in reasons if r not in weak]
            judgements = [
                j if j.verdict != "unsupported" else Judgement(j.claim, "supported", [], j.evidence) for j in judgements
            ]
            open_findings = [f for f in open_findings if f.reason not in weak]
            ungrounded = []

        verdicts = {j.verdict for j in judgements}
        open_faults = {f.reason for f in open_findings}
        if (
            "contradicted" in verdicts
            or answer_state is False
            or open_faults - {"ungrounded_number", "uncertainty_overstated"}
        ):
            verdict = "contradicted"
        elif "unsupported" in verdicts or ungrounded or open_faults:
            verdict = "unsupported"
        elif judgements or nums:
            verdict = "supported"
        else:
            verdict = "neutral"
            reasons.append("no_clinical_claim")

        keys = {_claim_key(c, self.rules) for c in claims}
        if keys and keys <= seen_keys:
            reasons.append("redundant")
        seen_keys.update(keys)

        faults = {r for r in reasons if r in FAULTS}
        quote = _quoted_span(body, report_text) if faults else None
        if quote is not None or (faults <= WEAK_FAULTS and faults and self._restates_report(body, sentences, previous)):
            # the step quotes the report word for word: it says what the report says, whatever other sentences
            # of the report say; or every fact clause is a report sentence in other words ("fixation hardware
            # in the right humerus" for "right humeral internal fixation XXXX"): the lexicon's missing name
            # is no fault
            reasons = [r for r in reasons if r not in FAULTS]
            verdict = "supported"
            judgements = [j if j.consistent else Judgement(j.claim, "supported", [], j.evidence) for j in judgements]
            open_findings = []
        label = not any(r in FAULTS for r in reasons)
        if not label and self._unsure(reasons, judgements, body, sentences, previous, open_findings):
            verdict = "unsure"
        score = VERDICT_SCORE[verdict]
        if verdict == "supported" and judgements and all(not j.evidence for j in judgements):
            score = OMISSION_SCORE
        evidence = _evidence(judgements, [f.evidence for f in open_findings if f.evidence is not None])
        if quote is not None:
            start, end = quote
            header = _HEADER.match(report_text, start, end)
            if header and header.end() < end:
                start = header.end()  # evidence is report text, never a header radprm wrote
            evidence = [Evidence(text=report_text[start:end], start=start, end=end)]
        result = StepResult(
            chain_id=chain.chain_id,
            step_index=index,
            step=step,
            label=label,
            verdict=verdict,
            reasons=reasons,
            evidence=evidence,
            score=score,
        )
        return StepAnalysis(result, judgements, (len(nums) - len(ungrounded), len(nums)))

    def _unsure(
        self,
        reasons: list[str],
        judgements: list[Judgement],
        body: str,
        sentences: list[Facts],
        previous: str,
        open_findings: list = (),
    ) -> bool:
        """Whether the rules' bad label is too weak to train on (the step is masked by default).

        Abstain when every fault is a weak one: a grade or finding the report does not name while the
        step's clause does line up with a report sentence (a paraphrase the lexicon cannot follow) or
        the step is an inference; a polarity or side conflict read from an inference; or a certainty
        the report only softens with a "likely" (probable) hedge. Tuned on the tune splits of the
        natural-chain sets: abstaining there kept coverage above 95 %.
        """
        faults = {r for r in reasons if r in FAULTS}
        if faults <= WEAK_FAULTS:
            # an unnamed finding in a step that otherwise lines up with the report, or in an inference
            vocab = self.rules.vocabulary
            if _INFERENCE.search(body) or (
                vocab is not None and any(align(f, sentences, vocab) for f in self.step_facts(body, previous))
            ):
                return True
        if faults <= {"negation_conflict", "laterality_conflict"} and _INFERENCE.search(body):
            # a polarity or side conflict read from an inference ("..., so X is out", "X means Y") rather
            # than from a restatement: the rules often misread what the inference is about
            return True
        if faults == {"uncertainty_overstated"} and self.rules.language is not None and not boosted(body):
            # (a step that calls it "definitely" so has no "likely" to drop by accident)
            hedges = [
                hedge_strength(e.sentence, self.rules.language)
                for j in judgements
                if "uncertainty_overstated" in j.reasons
                for e in j.evidence
            ] + [
                f.evidence.hedge
                for f in open_findings
                if f.reason == "uncertainty_overstated" and f.evidence is not None
            ]
            return bool(hedges) and all(h == "probable" for h in hedges)
        return False

    def _described_elsewhere(
        self, judgements: list[Judgement], body: str, sentences: list[Facts], previous: str
    ) -> list[Judgement]:
        """Claims that a normal statement ("Lungs are clear") denies, in a step clause whose words a specific,
        non-negated report sentence names in full ("a large retrocardiac density with an air-fluid level" for
        "hiatal hernia with retrocardiac air-fluid level"): the report describes the thing; its blanket
        statement is about something else."""
        vocab = self.rules.vocabulary
        if vocab is None:
            return judgements
        described = []
        for f in self.step_facts(body, previous):
            strong = {a for a in f.anchors if a not in vocab.weak}
            if len(strong) >= 2 and any(not s.negated and strong <= s.anchors for s in sentences):
                described.append(f.text.lower())
        if not described:
            return judgements
        return [
            Judgement(j.claim, "supported", [], [])
            if _denied_by_statement(j) and any(j.claim.mention.lower() in text for text in described)
            else j
            for j in judgements
        ]

    def _restates_report(self, body: str, sentences: list[Facts], previous: str) -> bool:
        vocab = self.rules.vocabulary
        facts = self.step_facts(body, previous) if vocab is not None else []
        return bool(facts) and all(restates(f, sentences, vocab) for f in facts)

    def _with_change(
        self, j: Judgement, rclaims: list[Claim], body: str = "", others: list[Claim] = ()
    ) -> Judgement:
        """A supported claim whose change over time ("new", "stable") the report contradicts is wrong.

        Every report sentence that states the same observation counts: "Redemonstrated fibrosis" in
        the impression vouches for "redemonstrated" even when the findings say "slightly increased".
        The change may sit in the next clause of the step when that clause speaks of the same thing
        ("The heart is enlarged, and it has increased in size since the prior").
        """
        lang = self.rules.language
        if lang is None or j.verdict != "supported" or not j.evidence or j.claim.assertion == "negative":
            return j
        # (the step's whole clause: a step's "is increased" may be a state, "the kyphosis is increased, similar to
        # the prior")
        mine = temporal_classes(j.claim.sentence, lang)
        if mine:
            at = j.claim.start - j.claim.sentence_start
            theirs = [
                o.start - o.sentence_start
                for o in others
                if o.sentence == j.claim.sentence and o.start != j.claim.start
            ]
            mine = _own_change(j.claim.sentence, at, theirs, lang)
        following = self._pronoun_change(j.claim.sentence, body)
        # ("persists but is smaller than before": the size change of the same thing comes with it)
        mine = mine | following if not mine or following & _SIZE_CHANGES else mine
        if not mine:
            return j
        said_of = {(e.sentence, e.start - e.sentence_start) for e in j.evidence} | {
            (r.sentence, r.start - r.sentence_start)
            for r in rclaims
            if r.observation == j.claim.observation and r.assertion != "negative"
        }
        # "an acute fracture cannot be excluded" keeps open what an age-indeterminate report leaves open
        unknown = {AGE_UNKNOWN} if j.claim.assertion == "uncertain" else set()
        keep = [(t, sentence) for sentence, at in said_of if (t := _change_at(sentence, at, lang) - unknown)]
        if (
            keep
            and not _only_seen_again(j.claim.sentence, mine, lang)
            and any(
                temporal_conflict(mine, t, lang) and t & _SIZE_CHANGES and _AGAINST_PRIOR.search(sentence)
                for t, sentence in keep
            )
        ):
            # a sentence that only sees the thing again ("Redemonstrated pulmonary fibrosis") vouches for no size
            # beside one that measures its change ("The fibrosis appears slightly increased")
            keep = [(t, sentence) for t, sentence in keep if not _only_seen_again(sentence, t, lang)]
        if keep and all(temporal_conflict(mine, t, lang) for t, _ in keep):
            return Judgement(j.claim, "contradicted", [*j.reasons, "temporal_conflict"], j.evidence)
        return j

    def _pronoun_change(self, clause_text: str, body: str) -> frozenset[str]:
        """The change over time the clause right after `clause_text` states when it starts with a pronoun."""
        lang = self.rules.language
        if lang is None or not body:
            return frozenset()
        clauses = self._clauses(body)[1]
        for here, after in zip(clauses, clauses[1:], strict=False):
            if here.text == clause_text and after.kind == "fact" and _PRONOUN_START.match(after.text):
                return temporal_classes(after.text, lang)
        return frozenset()

    def _fact_text(self, body: str, kinds: tuple[str, ...] = ("fact",)) -> str:
        """The step's clauses of `kinds` (numbers in plans and general knowledge are not claims)."""
        lang = self.rules.language
        if lang is None:
            return body
        return " ; ".join(c.text for c in self._clauses(body)[1] if c.kind in kinds)

    def _clauses(self, body: str) -> tuple[str, list[Clause]]:
        """The step text as step language reads it (markup fixed, contractions expanded) and its clauses, once
        per text: the claims, facts, subject, change and numbers of a step all start from them."""
        lang = self.rules.language
        key = (id(lang), body)
        hit = _STEP_CLAUSES.get(key)
        if hit is None or hit[0] is not lang:  # the entry holds `lang`: its id cannot be reused meanwhile
            text = normalize_step(same_length_fixes(body))
            hit = remember(_STEP_CLAUSES, key, (lang, text, split_clauses(text, lang)))
        return hit[1], hit[2]

    def _answer_state(self, chain: Chain, body: str, last: bool = False) -> bool | None:
        """True/False when the step states a final answer that matches/differs from the reference.

        The last step may also end on a bare "yes" / "no" ("..., so the tube is well placed: yes.").
        """
        if not chain.answer:
            return None
        for pattern in self.rules.answer_patterns:
            m = pattern.search(body)
            if m:
                given = m.group("answer")
                # ("Answer: None of options A-D are present, so the answer is E.": the answer it ends on)
                final = _FINAL_ANSWER.search(given)
                stated = stated_answer(final.group(1) if final else given, chain.options, chain.answer)
                if stated is None:
                    return None
                return answer_reward(chain.answer, stated) == 1.0
        m = _FINAL_YES_NO.search(body) if last else None
        if m:
            stated = stated_answer(m.group(1), chain.options, chain.answer)
            if stated is not None:
                return answer_reward(chain.answer, stated) == 1.0
        if last and {o.casefold() for o in chain.options} == {"yes", "no"}:
            # "So yes, calcified nodes are present." / "No, it is not in the right atrium."
            first = _LEADING_CONNECTIVE.sub("", body).split(maxsplit=1)[:1]
            word = first[0].strip(",.;:!").casefold() if first else ""
            if word in ("yes", "no"):
                return answer_reward([a.casefold() for a in chain.answer], [word]) == 1.0
        if last and chain.options and len(chain.options) >= 2:
            text = _LEADING_CONNECTIVE.sub("", body)
            lettered = option_letters(text, chain.options)
            if lettered is not None:
                # "Answer: A only.", "So A, B and D are present.", "None of the listed findings are present."
                return answer_reward(chain.answer, lettered) == 1.0
            # a last step that names options of a several-option question ("So the pacemaker is on the
            # right.") answers it; one naming more options than the reference has is a summary, not an answer
            stated = stated_answer(text, chain.options, [])
            if stated and len(stated) <= len(chain.answer) < len(chain.options):
                return answer_reward(chain.answer, stated) == 1.0
        return None


_FINAL_ANSWER = re.compile(r"[,;]\s*(?:so|therefore|thus|hence)\s+the\s+answer\s+is\s*:?\s*(.+)$", re.I)
_ANSWER_LEAD = re.compile(r"^\W*(?:(?:so|therefore|thus|overall|in\s+summary|finally)\b[,:]?\s*)*"
                          r"(?:(?:the\s+)?(?:final\s+)?answer(?:\s+is)?\s*[:=\-]?\s*)?\**\s*", re.I)
_LIST_SEPARATOR = re.compile(r"\s*(?:[,;&]|\band\b)\s*(?:and\s+)?", re.I)


def _option_items(body: str, options: list[str]) -> list[str] | None:
    """The options a step lists and nothing else ("Answer: A, B and C"), in step order; None otherwise."""
    if len(options) < 3:
        return None
    names = {o.casefold().strip() for o in options}
    text = _ANSWER_LEAD.sub("", body).strip(" .*\"'")
    items = [i.strip(" .*\"'") for i in _LIST_SEPARATOR.split(text)]
    items = [i for i in items if i]
    if len(items) >= 2 and all(i.casefold() in names for i in items):
        return items
    return None


_PAST = re.compile(r"\b(?:old|prior|remote|healed|previous|past)(?:\s*,?\s*(?:healed|old|prior|remote))?\s*$", re.I)
_GENERIC_ILLNESS = frozenset({"infection", "infections", "inflammation", "infectious", "insult", "process"})
_CONCLUSION = re.compile(
    r"\b(?:fits?\s+(?:with|a|an)|points?\s+(?:to|toward)|typical(?:ly)?|classic(?:ally)?|"
    r"raises?\s+(?:the\s+)?(?:concern|suspicion|question)\s+(?:for|of)|a\s+picture\s+(?:of|consistent\s+with)|"
    r"from\s+(?:old|prior|remote|healed)|together\s+with|would\s+(?:fit|explain)|explains?|such\s+as|"
    r"most\s+consistent\s+with|unrelated\s+to|rather\s+than|screening\s+for)\b",
    re.I,
)


def _made_unsure(result: StepResult, note: str) -> StepResult:
    """A step an abstention masks: verdict `unsure` with its note, label False (the rules' lean on a bad label,
    the model's on a good one it suspects)."""
    return result.model_copy(update={
        "label": False, "verdict": "unsure", "reasons": [*result.reasons, note], "score": VERDICT_SCORE["unsure"],
    })


def _denied_by_statement(j: Judgement) -> bool:
    """A positive claim contradicted only by a normal statement ("Lungs are clear")."""
    return (
        j.verdict == "contradicted"
        and j.reasons == ["negation_conflict"]
        and j.claim.assertion != "negative"
        and bool(j.evidence)
        and all(e.source in ("statement", "normal_statement") for e in j.evidence)
    )


# a step that places a thing on the prior study ("was present on the prior study", "had been in place")
_ON_PRIOR = re.compile(
    r"\b(?:was|were|had\s+been)\s+(?:present|seen|there|visible|noted|in\s+place)\b"
    r"|\bon\s+the\s+(?:prior|previous|earlier|last)\s+(?:study|exam\w*|film|radiograph|image|x-?ray)s?\b"
    r"|\bwhere\s+(?:the\s+)?[\w\s-]{1,30}?\s+(?:was|were|used\s+to\s+be)\b",
    re.I,
)
# a report sentence that says a thing is gone since ("interval removal of the right IJ catheter", "has resolved")
_GONE = re.compile(r"\b(?:remov\w+|resol\w+|cleared|no\s+longer|extubat\w+|withdrawn|explant\w*)\b", re.I)


def _gone_since(j: Judgement, rclaims: list[Claim]) -> Judgement:
    """A thing the step says was there on the prior study, where the report says it is gone now: both hold ("a
    right internal jugular catheter was present on the prior study" beside "Interval removal of the right internal
    jugular catheter")."""
    if j.verdict == "supported" or j.claim.assertion != "positive" or not _ON_PRIOR.search(j.claim.sentence):
        return j
    words = set(_MENTION_WORD.findall(j.claim.mention.lower()))
    for r in rclaims:
        if (
            r.observation == j.claim.observation
            and r.assertion == "negative"
            and _GONE.search(r.sentence)
            and words & set(_MENTION_WORD.findall(r.sentence.lower()))
        ):
            return Judgement(j.claim, "supported", [], [r])
    return j


# what ties a look on the film to the finding it is ("..., consistent with a large hiatal hernia", "..., which is a
# hiatal hernia")
_APPEARANCE_LINK = re.compile(
    r"\b(?:(?:which|that)\s+(?:is|are|represents?|reflects?|indicates?)|consistent\s+with|compatible\s+with|"
    r"in\s+keeping\s+with|representing|reflecting|typical\s+of|characteristic\s+of|i\.e\.)\s",
    re.I,
)
# the readings a look may be held to when the report names only the finding it is
_UNSAID = frozenset({"finding_not_in_report", "severity_not_in_report", "location_not_in_report"})
_APPEARANCES = frozenset({"opacity", "enlarged_cardiomediastinum", "mass", "nodule"})


def _appearances_named(judgements: list[Judgement], body: str, rules: StepRules) -> list[Judgement]:
    """A look the report does not word ("a large rounded retrocardiac opacity"), tied in the same sentence to a
    finding the report states ("consistent with a large hiatal hernia"): the look of that finding."""
    if not any(j.verdict != "supported" and j.claim.observation in _APPEARANCES for j in judgements):
        return judgements
    text = normalize_step(same_length_fixes(body))

    def at(c: Claim, offset: int) -> int:
        found = text.find(c.sentence)
        return -1 if found < 0 else found + offset - c.sentence_start

    named = [
        (at(k.claim, k.claim.start), k)
        for k in judgements
        if k.verdict == "supported" and k.claim.assertion == "positive" and k.claim.observation not in _APPEARANCES
    ]
    out = []
    for j in judgements:
        c = j.claim
        if j.verdict != "supported" and c.assertion == "positive" and c.observation in _APPEARANCES \
                and set(j.reasons) <= _UNSAID and (end := at(c, c.end)) >= 0:
            tied = [
                k for pos, k in named
                if pos > end and _APPEARANCE_LINK.search(text, end, pos) and "." not in text[end:pos].rstrip(". ")
            ]
            # (the look's grade is the finding's: "a large density, consistent with a hiatal hernia" where the
            # report's hernia is small is still wrong)
            graded = severity_levels(c.severity, rules)
            fits = not graded or any(graded <= severity_levels(e.severity, rules) for k in tied for e in k.evidence)
            if tied and fits:
                j = Judgement(c, "supported", [], j.evidence)
        out.append(j)
    return out


def _names_appearance(clause: Facts, clauses: list[Facts], judgements: list[Judgement]) -> bool:
    """The clause right after this one ties it to a finding the report states ("Both hila are enlarged and
    lobulated" + "consistent with bilateral hilar lymphadenopathy")."""
    at = next((i for i, c in enumerate(clauses) if c is clause), None)
    if at is None or at + 1 >= len(clauses):
        return False
    after = clauses[at + 1]
    if not _APPEARANCE_LINK.match(after.text.lstrip(" ,;")):
        return False
    return any(
        k.verdict == "supported" and k.claim.assertion == "positive" and k.claim.mention.lower() in after.text.lower()
        for k in judgements
    )


def _grounded_elsewhere(
    j: Judgement, sentences: list[Facts], history: History, vocab: OpenVocabulary | None
) -> Judgement:
    """A finding the lexicon finds nowhere in the report, held against the step only when nothing else grounds
    it: the report words it otherwise (`_worded_in_report`), the step reaches it by reasoning (`_concluded`),
    names what the report's de-identified word hides (`_hidden_device`, `fills_gap`) or the indication names it
    (`_in_history`). Any fault in a statement of the patient's history is none."""
    if j.verdict == "supported" or not j.reasons:
        return j
    if _in_history(j, history) or (
        j.verdict == "unsupported"
        and j.reasons == ["finding_not_in_report"]
        and (
            _worded_in_report(j, sentences, vocab)
            or _concluded(j)
            or (vocab is not None and _inferred_from_report(j, sentences, vocab))
            or _granulomatous_sequel(j, sentences)
            or _hidden_device(j, sentences)
            or (vocab is not None and fills_gap(j.claim.mention, j.claim.sentence, sentences, vocab))
        )
    ):
        return Judgement(j.claim, "supported", [], [])
    return j


def _concluded(j: Judgement) -> bool:
    """Reached by reasoning from what the report does say ("..., which together with the effusions points to
    heart failure", "typically a granuloma from old infection"): an inference, not a claim read off the
    report."""
    before = j.claim.sentence[: max(0, j.claim.start - j.claim.sentence_start)]
    if _CONCLUSION.search(before):
        return True
    # the generic sequel of a past illness granulomas are read as ("reflects old, healed infection"); not a named
    # one ("healed tuberculosis") nor an old fracture the report never mentions
    return (
        bool(_PAST.search(before))
        and set(_MENTION_WORD.findall(j.claim.mention.lower())) <= _GENERIC_ILLNESS
        and not boosted(j.claim.sentence)  # ("definitely due to a prior infection")
    )


def _inferred_from_report(j: Judgement, sentences: list[Facts], vocab: OpenVocabulary) -> bool:
    """A reading the step draws from findings the report states ("worsening edema with cardiomegaly and effusions
    suggests fluid overload or decompensated heart failure", "sternotomy wires, consistent with prior coronary
    bypass", "calcified hilar nodes -> old granulomatous disease"): an inference cue before the claim, and what
    comes before the cue named in an affirmed report sentence."""
    before = j.claim.sentence[: max(0, j.claim.start - j.claim.sentence_start)]
    cues = list(_INFERRED.finditer(before))
    if not cues:
        return False
    cue = cues[-1]
    premise = {stem(w) for w in _MENTION_WORD.findall(before[: cue.start()].lower())} - vocab.weak
    premise -= {stem(w) for w in vocab.stopwords}
    return bool(premise) and any(not s.negated and premise & s.anchors for s in sentences)


_INFERRED = re.compile(
    r"\b(?:suggests?|suggesting|indicates?|indicating|consistent\s+with|in\s+keeping\s+with|compatible\s+with|"
    r"fits?|probably\s+(?:from|for|due\s+to)|likely\s+(?:from|due\s+to)|presumably\s+(?:from|for))\b|->|=>|\u2192",
    re.I,
)


def _granulomatous_sequel(j: Judgement, sentences: list[Facts]) -> bool:
    """"Calcified nodes suggest prior granulomatous exposure", "calcified nodules, most likely old granulomas": the
    reading every calcified node, nodule or granuloma is given, where the report has such a calcified thing (not a
    calcified aorta)."""
    return (
        "granulom" in j.claim.mention.lower()
        and not boosted(j.claim.sentence)
        and (j.claim.assertion == "uncertain" or bool(_SEQUEL_WORDS.search(j.claim.sentence)))
        and not _ACTIVE_WORDS.search(j.claim.sentence)
        and any(not s.negated and "calcification" in s.anchors and s.anchors & _CALCIFIED_SEQUELAE for s in sentences)
    )


_CALCIFIED_SEQUELAE = frozenset({"node", "granuloma", "lesion", "hilum"})
_SEQUEL_WORDS = re.compile(r"\b(?:old|prior|remote|healed|previous|past|sequelae?)\b", re.I)
_ACTIVE_WORDS = re.compile(r"\b(?:active|acute|ongoing|current)\s+(?:granulomatous|infection|disease)\b", re.I)


def _in_history(j: Judgement, history: History) -> bool:
    """Named by the indication, in a step about the patient ("The patient has bladder cancer", "her known
    COPD", "The patient is being followed for right lower lobe pneumonia"): the clinical history the question
    comes with, not a claim about the film, whatever the film shows now. "There is a mass in the right upper
    lobe" is a claim about the film, whatever the indication."""
    if not history or not _HISTORY_CUE.search(j.claim.sentence):
        return False
    stems = {stem(w) for w in _MENTION_WORD.findall(j.claim.mention.lower())}
    return (bool(stems) and stems <= history.stems) or j.claim.observation in history.observations


_HISTORY_CUE = re.compile(
    r"\b(?:patient|history|known|indication|clinical(?:ly)?|presents|presenting|presented\s+(?:with|for)|given|follow-?up|referred|her|his)\b",
    re.I,
)


def _worded_in_report(j: Judgement, sentences: list[Facts], vocab: OpenVocabulary | None = None) -> bool:
    """Every content word of a positive claim's mention stands in one affirmative report sentence, as such or as
    a word of the same specific term ("calcification" beside "the aorta is tortuous and calcified",
    "atherosclerotic" beside "calcified aorta"): the extractor missed the report's wording, the step did not invent
    it."""
    if j.claim.assertion != "positive":
        return False
    words = set(_MENTION_WORD.findall(j.claim.mention.lower()))
    terms = vocab.terms if vocab is not None else {}

    def said(w: str, s: Facts) -> bool:
        return (
            same_word(w, s.words)
            or (w in terms and terms[w] in {terms.get(x) for x in s.words})
            # a generic word for a kind of device the sentence names ("hardware" for "internal fixation")
            or (vocab is not None and w in vocab.generic_words and vocab.classes.get(w) in _DEVICE_CLASSES & s.classes)
        )

    def affirmed(s: Facts) -> bool:
        # (a long sentence that denies something at its end still affirms what it says before: "... a tortuous
        # calcified aorta unchanged from ___, ... and there is no pneumothorax")
        if not s.negated:
            return True
        low = s.text.lower()
        cue = _DENIAL_CUE.search(low)
        return cue is not None and all(0 <= low.find(w[:5]) < cue.start() for w in words)

    return bool(words) and any(all(said(w, s) for w in words) and affirmed(s) for s in sentences)


_MENTION_WORD = re.compile(r"[a-z]{4,}")
_DENIAL_CUE = re.compile(r"\b(?:no|not|without|negative|free\s+of|absent)\b")
_DEVICE_CLASSES = frozenset({"line_tube", "cardiac_device", "hardware"})


def _hidden_device(j: Judgement, sentences: list[Facts]) -> bool:
    """A line or port the report names with a de-identified word ("left chest XXXX with tip over the SVC")."""
    sides = frozenset({j.claim.laterality}) & {"left", "right"}
    return j.claim.observation == "support_device" and hidden_device_named(sentences, sides)


def _excepted(text: str, start: int) -> bool:
    """Whether the statement at `start` is the one an "apart from that" / "otherwise" just before it excepts
    (the cue's own phrase: "Otherwise the lungs are clear and the heart is normal" excepts the lungs only)."""
    cues = list(EXCEPTING.finditer(text, 0, max(start, 0)))
    return bool(cues) and not _NEXT_PHRASE.search(text, cues[-1].end(), start)


_NEXT_PHRASE = re.compile(r"\band\b|[;.]")

# an "otherwise" that excepts what its own sentence said first ("low volumes but otherwise no effusion")
_OTHERWISE = frozenset({"otherwise"})


# "The distribution XXXX pulmonary edema": the de-identified word is the sentence's verb ("suggests", "may
# represent"), right between its subject and the finding
_HIDDEN_VERB = re.compile(
    r"^\W*(?:(?:the|this|these|which)\s+)?(?:[a-z]+\s+){1,2}?XXXX\s+(?:of\s+)?(?:[a-z]+\s+)?$", re.I
)


def _hidden_verbs(claims: list[Claim], text: str, always: bool = False) -> list[Claim]:
    """A finding the report states only behind a de-identified verb and hedges elsewhere ("suspected pulmonary
    edema") is hedged: the hidden word was a hedge far more often than not, and the rest of the report says so.
    `always`: hedged whatever else the text says (a step quoting the report's sentence)."""
    hedged = {c.observation for c in claims if c.assertion == "uncertain"}
    if not (hedged or always) or "XXXX" not in text:
        return claims
    return [
        replace(c, assertion="uncertain")
        if c.assertion == "positive"
        and (always or c.observation in hedged)
        and _HIDDEN_VERB.match(text[max(c.sentence_start, 0) : c.start])
        else c
        for c in claims
    ]


def _void_exceptions(claims: list[Claim], text: str, rules: StepRules) -> list[Claim]:
    """Drop the "otherwise" qualifier of a denial when its own sentence names, before it, something else than
    what it denies: "The lungs have low volumes but otherwise no effusion" excepts the volumes, not an effusion
    (the denial then holds against every effusion). A sentence that starts with it ("Otherwise, no effusion")
    excepts what an earlier step said, which the step cannot see: the qualifier stays."""
    out = []
    for c in claims:
        if c.assertion == "negative" and c.qualifiers & _OTHERWISE:
            head = text[sentence_around(text, c.start, c.end)[0] : c.start]
            cue = head.lower().rfind("otherwise")
            said = head[:cue] if cue >= 0 else ""
            if _WORDS_BEFORE.search(said) and not any(
                o.assertion != "negative" and o.end <= c.start and _kin(o.observation, c.observation, rules)
                for o in claims
            ):
                c = replace(c, qualifiers=c.qualifiers - _OTHERWISE)
        out.append(c)
    return out


_WORDS_BEFORE = re.compile(r"[A-Za-z]{3,}\W+[A-Za-z]{3,}")


def _kin(a: str, b: str, rules: StepRules) -> bool:
    """The same observation, or one the more specific form of the other (consolidation / opacity)."""
    return a == b or a in rules.parents.get(b, ()) or b in rules.parents.get(a, ())


_WITH_PHRASE = re.compile(r"\W*with\b", re.I)
# (a phrase naming what the clause before describes on one side: "a thin pleural line at the left apex, which is a
# small pneumothorax")
_NAMING_PHRASE = re.compile(
    r"\W*(?:which\s+(?:is|are|represents?|would\s+be|indicates?)|so\s+(?:there\s+is|this\s+is|it\s+is)|"
    r"consistent\s+with|compatible\s+with|"
    r"in\s+keeping\s+with|indicating|representing|diagnostic\s+of)\b",
    re.I,
)
# a kind the subject is said not to be, right before the mention ("this is not a biventricular device")
_NOT_A_KIND = re.compile(r"(?<!\bthere\s)\b(?:is|are|was|were)\s+not\s+(?:a|an)\s+(?:[\w-]+\s+){0,2}$", re.I)


def _clause_assertion(claim: Claim, clause: Clause, lang: StepLanguage) -> Claim:
    """The claim with the polarity its clause gives it (extractor negation never leaks across clauses)."""
    clause = reason_part(clause, claim.end) or clause
    polarity = clause_polarity(clause, claim.start, claim.end, lang)
    if polarity is None:
        # the extractor's negation stands when its cue can be inside this clause ("the pleural spaces
        # have no effusion") or the mention negates by meaning ("Heart size is normal", "negative chest")
        keep = (
            claim.assertion != "negative"
            or claim.source == "statement"
            or negation_near_after(clause, claim.end, lang)
            or _NORMAL_WORDS.search(claim.mention)
        )
        polarity = claim.assertion if keep else "positive"
    elif (
        polarity == "uncertain"
        and claim.source == "statement"
        and claim.assertion == "negative"
        and hedge_strength(clause.text, lang) == "probable"
    ):
        # "the heart is probably normal in size" leans to normal, as the report's "likely normal" is read
        polarity = "negative"
    elif polarity == "positive" and claim.source == "statement" and _NORMAL_WORDS.search(claim.mention):
        polarity = claim.assertion  # a normal statement denies by its meaning ("..., and with a normal heart size")
    return claim if polarity == claim.assertion else replace(claim, assertion=polarity)


_GLOBAL_MENTION = re.compile(
    r"(?:chest(?:\s+(?:x-?ray|x-xxxx|radiograph|film|xxxx))?|(?:acute\s+)?(?:cardiopulmonary|intrathoracic|cardiothoracic)"
    r"(?:\s+\w+)?)\W*$",
    re.I,
)
# a last step ending on the bare option of a yes/no question ("...: yes.")
_FINAL_YES_NO = re.compile(r"[:,\u2014-]\s*(yes|no)\s*[.!]?\s*$", re.I)
_LEADING_CONNECTIVE = re.compile(r"^\W*(?:(?:so|therefore|thus|hence|overall|in\s+summary|finally)\b[,:]?\s*)+", re.I)
_INFERENCE = re.compile(
    r"\b(?:so|therefore|thus|hence|means?|meaning|implies|suggests?|because|since|argues?|rather\s+than|"
    r"consistent\s+with|in\s+keeping\s+with|which\s+(?:is|fits|explains)|makes?|count|counts)\b",
    re.I,
)


def step_flag_kinds(reasons: Iterable[str], step: str, chain_cites_report: bool) -> tuple[str, ...]:
    """The kinds of a flagged step the abstention table counts (`radprm.validators.abstention.flag_kinds`)."""
    return flag_kinds((r for r in reasons if r in FAULTS), bool(_INFERENCE.search(step)), chain_cites_report)


def cites_report(steps: Iterable[str]) -> bool:
    """Whether any step cites the report ("The report describes ..."; `radprm.miners.styles.report_mentions`)."""
    from radprm.miners.styles import report_mentions

    return any(report_mentions(s) for s in steps)


# changes of size or extent, which a sentence that only sees a thing again does not weigh against
_SIZE_CHANGES = frozenset({"increased", "decreased", "resolved"})
# a change measured against an earlier exam ("slightly increased compared to previous examination")
_AGAINST_PRIOR = re.compile(r"\b(?:compared|prior|previous|preceding|interval|since|earlier)\b", re.I)
# seeing a thing again: presence on the earlier exam, not its size ("redemonstrated", "again noted", "persistent")
_SEEN_AGAIN = re.compile(
    r"\b(?:re-?demonstrat\w*|again\s+(?:seen|noted|demonstrated|identified|visuali[sz]ed|evident|present)|"
    r"(?:seen|noted)\s+again|persist\w*)\b",
    re.I,
)


def _only_seen_again(sentence: str, classes: frozenset[str], lang: StepLanguage) -> bool:
    """Whether a sentence's only change over time is that the thing is seen again (its "unchanged" class comes
    from "redemonstrated", "again noted", "persistent" alone)."""
    if classes != {"unchanged"} or not _SEEN_AGAIN.search(sentence):
        return False
    return "unchanged" not in temporal_classes(_SEEN_AGAIN.sub(" ", sentence), lang)


# where one stretch of a sentence ends and the next, which may speak of another finding, begins
_STRETCH_BREAK = re.compile(r"[,;:]|\b(?:and|with|but|while|whereas|without|also)\b", re.I)


def _stretches(sentence: str) -> list[tuple[int, int, str]]:
    """The stretches of a sentence between `_STRETCH_BREAK`s: (start, end, the break word that opens it; "" first)."""
    breaks = list(_STRETCH_BREAK.finditer(sentence))
    starts = [(0, "")] + [(m.end(), m.group(0).lower()) for m in breaks]
    ends = [m.start() for m in breaks] + [len(sentence)]
    return [(start, end, lead) for (start, lead), end in zip(starts, ends, strict=True)]


def _own_change(sentence: str, at: int, others: list[int], lang: StepLanguage) -> frozenset[str]:
    """The change over time a step sentence states of the mention at offset `at`, where other mentions sit at
    `others`: its own stretch's and the changes of the other stretches, but for one a "without" denies ("a smaller
    effusion without any new pleural line") and one that stands right before another mention ("An ICD in a patient
    with cardiomyopathy and new edema": new is the edema's). "So the new findings are the left effusion and the
    enlarged heart" keeps "new" for the heart."""
    whole = temporal_classes(sentence, lang)
    out: set[str] = set()
    for start, end, lead in _stretches(sentence):
        # (read in the whole sentence: "persists" alone is unchanged, "persists, though smaller" is not)
        own = temporal_classes(sentence[start:end], lang) & whole
        if not own or start <= at < end:
            out |= own
            continue
        if lead == "without" or any(
            start <= o < end and temporal_classes(sentence[max(start, o - 25) : o], lang) for o in others
        ):
            continue
        if (lead in ("but", "while", "whereas") or _CONTRAST_OPEN.match(sentence, start)) and any(
            start <= o < end for o in others
        ):
            continue  # "less fluid on the left, though the opacity persists": the other thing's change, by contrast
        out |= own
    return frozenset(out)


# (a stretch after a comma that opens on a concession; "but", "while" and "whereas" are stretch breaks themselves)
_CONTRAST_OPEN = re.compile(r"\s*(?:though|although|however|yet)\b", re.I)


def _change_at(sentence: str, at: int, lang: StepLanguage) -> frozenset[str]:
    """The change over time a sentence states of the mention at offset `at`: when the sentence states more than
    one change, the one in the mention's own stretch ("Stable cardiomegaly and small but increasing right
    pleural effusion": stable for the heart, increasing for the effusion), else the whole sentence's."""
    whole = temporal_classes(sentence, lang)
    if len(whole) < 2:
        return whole
    stretches = _stretches(sentence)
    start, end, _ = next((x for x in stretches if at < x[1]), stretches[-1])
    return temporal_classes(sentence[start:end], lang) or whole


def _affirmed_head(text: str, facts: Facts, vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]) -> int:
    """Where the denial starts in a clause that affirms a thing before a "without" / "with no" (0 if it does not).

    "Degenerative changes of the cervical spine without acute abnormality" affirms the changes; "No effusion
    without ...", a hedge kept open and a normal statement do not split.
    """
    m = _WITHOUT_MID.search(text)
    if m is None or facts.hedge == "open":
        return 0
    before = text[: m.start()]
    if lang.negation_pre.search(lang.negation_exceptions.sub(" ", before)):
        return 0
    head = read_facts(before, vocab, lang, grades)
    # (a normal statement before it is judged whole, as before: "the bones are intact without acute abnormality")
    return m.start() if head.anchors - vocab.weak and not head.words & vocab.normal_words else 0


_WITHOUT_MID = re.compile(r"\s(?:without|with\s+no)\s", re.I)


# a recommendation to exclude a finding leaves it open ("follow-up to ensure resolution and exclude an underlying
# mass"): the report neither finds nor denies it, so a step that calls it excluded dismisses the question
_TO_EXCLUDE = re.compile(
    r"\b(?:to|and)\s+(?:exclude|rule\s+out|evaluate\s+for|assess\s+for)\s+(?:(?:an?|the|any)\s+)?(?:[\w-]+\s+){0,2}$",
    re.I,
)


def _open_question(finding: Finding) -> Finding:
    """A hypothetical finding the report recommends excluding, read as kept open."""
    return finding.model_copy(update={"assertion": "uncertain", "hypothetical": False})


_PRONOUN_START = re.compile(
    r"^\W*(?:(?:and|but|so)\s+)?(?:(?:i|we)\s+(?:can\s+|also\s+)?(?:see|note|notice|find|identify|spot)\s+(?=(?:it|them)\b))?"
    r"(?:it|its|they|them|their|these|those|this|that|which|both|each|the\s+same|(?<=but\s)(?=is\b|are\b|has\b)|"
    r"the\s+(?:curve|curvature|finding|lesion|one|tip|line|tube|device|fluid|air|collection|"
    r"fracture|opacity|effusion|nodule|mass|process|abnormality|change))\b",
    re.I,
)
# a pronoun subject after an opening phrase ("on the lateral view it sits below the minor fissure")
_PRONOUN_SUBJECT = re.compile(
    r"^[^,;]{0,40},?\s+(?:it|they)\s+(?:is|are|sits?|lies?|projects?|appears?|seems?|looks?|extends?|involves?|"
    r"measures?|remains?|has|have)\b",
    re.I,
)
_NORMAL_WORDS = re.compile(r"\b(?:normal\w*|clear|negative|unremarkable|intact|within)\b", re.I)


def _in_fact_clause(clauses: list[Clause], claim: Claim) -> bool:
    clause = clause_of(clauses, claim.start, claim.end)
    return clause is not None and clause.kind == "fact"


def _quoted_span(step: str, report_text: str) -> tuple[int, int] | None:
    """Where the report holds the step word for word (case and spacing aside), if it does."""
    words = re.findall(r"[\w'-]+", step)
    if len(words) < 3 or not report_text:
        return None
    # a whole sentence of the report: "Focal consolidation or effusion" inside "No focal consolidation or
    # effusion." is not a quote
    pattern = (
        r"(?:^|(?<=[.:;\n])|(?<=[.:;]\s)|(?<=\n\s))\s*("
        + r"\W+".join(re.escape(w) for w in words)
        + r")\W*(?=$|[.;\n])"
    )
    m = re.search(pattern, report_text, re.I)
    if not m:
        return None
    end = m.end(1) + (report_text[m.end(1) : m.end(1) + 1] == ".")  # the sentence's own stop, as other evidence
    return m.start(1), end


_MEASURE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(cm|mm|centimeters?|millimeters?)\b", re.I)


def _in_other_unit(text: str) -> set[str]:
    """The sizes a text measures, written in the other unit ('8 mm' -> '0.8', '1.2 cm' -> '12')."""
    out = set()
    for m in _MEASURE.finditer(text):
        value = float(m.group(1)) * (0.1 if m.group(2).lower().startswith("m") else 10)
        out.add(f"{value:.2f}".rstrip("0").rstrip("."))
    return out


def _with_differences(numbers: set[str]) -> set[str]:
    """The report's numbers plus the differences of its decimal measurements ('5.2 cm, from 4.6' -> '0.6')."""
    values = sorted({float(n) for n in numbers if re.fullmatch(r"\d+\.\d+", n)})[:20]
    out = set(numbers)
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            out.add(f"{b - a:.1f}".rstrip("0").rstrip("."))
    return out


# a follow-up interval ("in 6 weeks", "in 8-12 weeks", "two to three weeks"; number words from the rule file's
# `number_words`) and a recommendation cue
_INTERVAL = re.compile(
    r"\b(\d+(?:\.\d+)?|[a-z]+)(?:\s*(?:-|to)\s*(\d+(?:\.\d+)?|[a-z]+))?\s*(days?|weeks?|months?|years?)\b", re.I
)
_RECOMMENDS = re.compile(r"\b(?:follow-?\s?up|recommend\w*|repeat\w*|re-?imag\w*|reassess\w*|re-?evaluat\w*)\b", re.I)


def _intervals(text: str, vocab: OpenVocabulary) -> list[tuple[str, float, float]]:
    """The follow-up intervals of a text as (unit, low, high); words that are no number are skipped."""

    def value(word: str | None) -> float | None:
        if word is None:
            return None
        word = vocab.number_words.get(word.lower(), word)
        try:
            return float(word)
        except ValueError:
            return None

    out = []
    for m in _INTERVAL.finditer(text):
        low, high = value(m.group(1)), value(m.group(2))
        if low is not None:
            out.append((m.group(3).lower().rstrip("s"), low, high if high is not None else low))
    return out


def _other_interval(step: str, report_text: str, vocab: OpenVocabulary) -> bool:
    """Whether a step that speaks of a recommendation gives a follow-up interval the report gives otherwise (the
    report names intervals in the same unit, none of which holds the step's)."""
    if not _RECOMMENDS.search(step) or not _INTERVAL.search(step):
        return False
    theirs = _intervals(report_text, vocab)
    for unit, low, high in _intervals(step, vocab):
        same = [(lo, hi) for u, lo, hi in theirs if u == unit]
        if same and not any(lo <= low and high <= hi for lo, hi in same):
            return True
    return False


def _action_denied(step: str, sentences: list[Facts], vocab: OpenVocabulary) -> bool:
    """Whether a step says no action is needed ("needs no adjustment", "no further imaging is necessary") about a
    thing a report sentence recommends doing something about ("recommend withdrawal by 2 cm")."""
    if not _NO_ACTION.search(step):
        return False
    mine = {stem(w) for w in _MENTION_WORD.findall(step.lower())}
    mine -= vocab.weak | {stem(w) for w in vocab.stopwords} | _ACTION_WORDS
    # (the recommendation's own words, or the sentence it follows: "Right PICC tip in the right atrium; recommend
    # withdrawal by 2 cm")
    return any(
        _RECOMMENDS.search(s.text) and not s.negated and mine & (s.anchors | (sentences[i - 1].anchors if i else set()))
        for i, s in enumerate(sentences)
    )


_WORDED = re.compile(r"\b(?!x+\b)[a-z]{3,}\b", re.I)
_NO_PRIOR_SAID = re.compile(
    r"\bno\s+(?:prior|previous|earlier|old|comparison)\s+(?:\w+\s+)?(?:studies|study|exams?|examinations?|films?|"
    r"images?|imaging|radiographs?|x-?rays?)\s+(?:is\s+|are\s+|was\s+|were\s+)?(?:available|provided|given|on\s+file)\b"
    r"|\bno\s+(?:prior|previous|comparison)\s+(?:\w+\s+)?(?:studies|study|exams?|films?|images?|imaging)\s+"
    r"(?:to\s+compare|for\s+comparison)\b|\b(?:there\s+is\s+)?nothing\s+to\s+compare\s+(?:it\s+|them\s+)?(?:with|to|against)\b",
    re.I,
)


def _action_forced(step: str, sentences: list[Facts]) -> bool:
    """Whether a step makes a test or follow-up the report only offers ("may be helpful", "if clinically
    indicated", "could be considered") a requirement ("a CT is required", "must have a CT")."""
    forced = _FORCED.search(step)
    if forced is None or _NO_ACTION.search(step) or _NOT_BEFORE.search(step[: forced.start()]):
        return False
    if any(_FORCED.search(s.text) for s in sentences):
        return False  # the report requires something itself
    mine = _modalities(step)
    return bool(mine) and any(mine & _modalities(s.text) for s in sentences if _SOFT_ADVICE.search(s.text))


def _modalities(text: str) -> set[str]:
    """The tests and follow-ups a text names ("ct", "followup", "nipplemarkers")."""
    return {m.group(1).lower().replace(" ", "") for m in _MODALITY.finditer(text)}


_FORCED = re.compile(
    r"\b(?:is|are|be)\s+(?:absolutely\s+|definitely\s+|clearly\s+)?(?:required|mandatory|necessary|essential|"
    r"mandated|obligatory)\b|\bmust\s+(?:be|have|undergo|get|obtain)\b|\b(?:requires?|needs?)\s+(?:an?\s+)?"
    r"(?:urgent\s+|immediate\s+|dedicated\s+|further\s+)?(?:ct|mri|pet|biopsy|bronchoscopy|imaging|follow-?\s?up|"
    r"evaluation|workup|work-up)\b",
    re.I,
)
_SOFT_ADVICE = re.compile(
    r"\b(?:may|might|could|can)\s+(?:\w+\s+)?be\s+(?:helpful|useful|considered|obtained|performed|of\s+value)\b"
    r"|\bif\s+clinically\s+(?:indicated|warranted|desired|appropriate)\b|\bconsider\w*\b|\boptional\b",
    re.I,
)
_MODALITY = re.compile(
    r"\b(ct|mri|pet|biopsy|bronchoscopy|ultrasound|follow-?\s?up|oblique\s+views?|nipple\s+markers?|"
    r"repeat\s+(?:film|radiograph|imaging|study|exam|pa))\b",
    re.I,
)
_NOT_BEFORE = re.compile(r"\b(?:not|no|never|nothing)\b(?:\W+\w+){0,3}\W*$", re.I)


_NO_ACTION = re.compile(
    r"\b(?:needs?|requires?|warrants?)\s+no\s+(?:further\s+)?(?:adjust|reposition|action|intervention|imaging|"
    r"follow|evaluation|workup|work-up|change)"
    r"|\bno\s+(?:further\s+)?(?:adjust\w*|reposition\w*|action|intervention|imaging|follow-?\s?up|evaluation|"
    r"workup|work-up)\s+(?:is\s+|are\s+)?(?:needed|necessary|required|indicated|warranted)"
    r"|\bnone\s+(?:of\s+them\s+)?(?:needs?|requires?)\s+(?:any\s+)?(?:adjust|reposition|change)",
    re.I,
)
_ACTION_WORDS = frozenset(stem(w) for w in (
    "adjustment", "repositioning", "imaging", "evaluation", "intervention", "action", "needed", "necessary",
    "required", "position", "acceptable", "appropriately", "positioned", "further",
))


def _drop_view_counts(text: str) -> str:
    """Drop '2 views' style counts of images and ages ("a 35-year-old"): reasoning mentions them without the
    report."""
    return _ENUMERATOR.sub(" ", _VIEW_COUNT.sub(" ", text))


_LETTERS = re.compile(
    r"^\W*(?:options?\s+|choices?\s+)?(?P<letters>\(?[a-h]\)?(?:\s*(?:,|&|\band\b|\bplus\b)\s*(?:and\s+)?\(?[a-h]\)?)*)"
    r"\s*(?:only|alone)?\s*(?:(?:are|is)\s+(?:present|correct|seen|true)\b[^.]*)?\W*$",
    re.I,
)
_NONE_OF = re.compile(
    r"^\W*none\s+of\s+the\s+(?:\w+\s+)?(?:options|choices|findings|above|listed|answers|conditions)\b[^.]*?"
    r"\b(?:are|is)\s+(?:present|seen|correct|reported|described)\W*$",
    re.I,
)


def option_letters(text: str, options: list[str]) -> list[str] | None:
    """The options a multiple-choice answer names by letter ("A, B and D", "C only"), or none of them
    ("None of the listed findings are present."); None when the text is not such an answer, or when an option is itself
    called "A" or "None" (a letter would be ambiguous)."""
    if any(o.casefold() in ("none", "a", "b", "c", "d") for o in options):
        return None
    text = text.strip().rstrip(".!*")
    if _NONE_OF.match(text):
        return []
    m = _LETTERS.match(text)
    if m is None:
        return None
    picked = [ord(ch) - ord("a") for ch in re.findall(r"\b[a-h]\b", m.group("letters").casefold())]
    if not picked or max(picked) >= len(options):
        return None
    return [options[i] for i in dict.fromkeys(picked)]


_LETTER_DASH = re.compile(r"^\W*(?:(?:the\s+)?answer(?:\s+is)?\s*[:=]?\s*)?\(?([a-h])\)?\s*[\u2014\u2013:-]\s*\S", re.I)
_OPTION_LETTER = re.compile(r"^\s*\(?[A-Ha-h][.)]\s+")


_PUNCTUATION = re.compile(r"[^\w/+-]+")
_PARENTHESIS = re.compile(r"\([^)]*\)")


def _plain(text: str) -> str:
    """Casefolded words of a text, punctuation read as a space."""
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def _option_forms(option: str) -> set[str]:
    """The word forms that name an option: its words, and its words without a parenthesis."""
    return {_plain(option), _plain(_PARENTHESIS.sub(" ", option))} - {""}


def stated_answer(text: str, options: list[str], answer: list[str]) -> list[str] | None:
    """Parse the answer a step states ('yes', the options it names, or names by letter); None when
    unrecognisable."""
    if len(options) > 2:
        lettered = option_letters(text, options)
        if lettered is None:
            # "B — partial": the letter, then the option's words
            dashed = _LETTER_DASH.match(text)
            lettered = option_letters(dashed.group(1), options) if dashed else None
        if lettered is not None:
            return lettered
    low = " ".join(text.casefold().split())
    choices = list(dict.fromkeys([*options, *answer]))
    plain = _plain(text)
    # an option is named by its words, its punctuation aside ("calcified unfolded aorta" for "Calcified, unfolded
    # aorta"), or without its parenthesis ("enteric tube" for "Enteric (nasogastric) tube")
    spans = {
        o: [m.span() for f in _option_forms(o) for m in re.finditer(rf"\b{re.escape(f)}\b", plain)]
        for o in choices
        if o
    }
    # an option named only inside a longer one's words is not named: "upper limits of normal" names that option,
    # not "Normal"; "no acute displaced rib fracture" is not "Acute displaced rib fracture"
    named = [
        o for o, found in spans.items()
        if any(not any(a <= x and y <= b and (a, b) != (x, y) for p, other in spans.items() if p != o for a, b in other)
               for x, y in found)
    ]
    if not named:
        # a lettered option named by its words alone ("partial" for "B. Partial")
        named = [o for o in choices if (body := _OPTION_LETTER.sub("", o)) != o and len(body) > 2
                 and re.search(rf"\b{re.escape(body.casefold())}\b", low)]
    first = low.split()[0].strip(",;:") if low.split() else ""
    if first in ("yes", "no") and (not options or {o.casefold() for o in options} >= {"yes", "no"}):
        return [first]
    if len(options) > 2 and (reworded := _reworded_options(text, choices)) and len(reworded) > len(named):
        return reworded
    if named:
        return named
    if low.startswith(("none", "normal", "no abnormalit", "no finding")) and not options:
        return []
    return None


_ITEM_FILLER = frozenset({"the", "a", "an", "of", "in", "on", "at", "with", "both", "is", "are", "present", "there"})


def _content_stems(text: str) -> set[str]:
    """The stems of a text's words, filler words ("the", "of", "present") left out."""
    return {stem(w) for w in _plain(text).split() if w not in _ITEM_FILLER}


def _reworded_options(text: str, choices: list[str]) -> list[str] | None:
    """The options a list answer names in words of its own ("right costophrenic angle blunting" for "Blunting of the
    right lateral costophrenic angle"): each item's words are all among one option's words, and among no other
    option's. None unless every item is such an option."""
    body = _ANSWER_LEAD.sub("", strip_enumeration(text), count=1)
    items = [i for i in _LIST_SEPARATOR.split(body.strip().rstrip(".!*")) if i.strip()]
    forms = [(o, _content_stems(o)) for o in choices if o]
    found: list[str] = []
    for item in items:
        words = _content_stems(item)
        if not words:
            return None
        hits = [o for o, option_words in forms if words <= option_words]
        if len(hits) != 1:
            return None
        found.append(hits[0])
    return list(dict.fromkeys(found)) or None


def _claim_key(c: Claim, rules: StepRules) -> tuple:
    """What makes two claims 'the same statement' for redundancy: observation, polarity, side, grade, region."""
    return (
        c.observation,
        c.assertion,
        c.laterality,
        severity_levels(c.severity, rules),
        location_regions(c.location, rules),
    )


def _dedupe(claims: list[Claim]) -> list[Claim]:
    seen = set()
    out = []
    for c in claims:
        key = (c.observation, c.assertion, c.laterality, c.severity, c.location)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


# used with .match (at the start of a text, or at a given position): no "^", which would only match at 0
_HEADER = re.compile(r"\s*(?:FINDINGS|IMPRESSION|INDICATION|COMPARISON|HISTORY)\s*:\s*", re.I)


def _evidence(judgements: list[Judgement], sentences: list[Facts] = ()) -> list[Evidence]:
    """Evidence sentences, without a leading section header, offsets kept exact into Report.text."""
    spans: dict[tuple[int, int], Evidence] = {}
    for f in sentences:
        spans.setdefault((f.start, f.end), Evidence(text=f.text, start=f.start, end=f.end))
    for j in judgements:
        for c in j.evidence:
            key = (c.sentence_start, c.sentence_end)
            if key not in spans and c.sentence:
                text, start = c.sentence, c.sentence_start
                m = _HEADER.match(text)
                if m and m.end() < len(text):
                    text, start = text[m.end() :], start + m.end()
                spans[key] = Evidence(text=text, start=start, end=start + len(text))
    return [spans[k] for k in sorted(spans)]


def __getattr__(name: str) -> object:
    # `validate_file` lives in `batch` (which imports this module); re-exported lazily for the documented API
    if name == "validate_file":
        from radprm.validators.batch import validate_file

        return validate_file
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
