"""Claim-to-finding alignment: turn findings into claims and judge a step claim against the report's.

A *claim* is one statement about one observation (concept id, assertion, laterality, severity,
location) with its place in the text. Claims come from the findings extractor and from the
normal-statement rules in `step_rules.json` ("The lungs are clear" negates consolidation, effusion,
pneumothorax, edema...). `judge_claim` compares a step claim with the report claims of the same
observation and returns a verdict with reason codes; the rules are documented in validators/README.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from radprm.errors import RuleFileError
from radprm.rules import RuleModel, load_rule_file, parse_rule_data
from radprm.schemas.records import Finding
from radprm.validators.clauses import StepLanguage, StepLanguageBlock, parse_step_language
from radprm.validators.memo import remember, text_cache
from radprm.validators.prefilter import can_match, literals, prefiltered
from radprm.validators.sentences import (
    DENSE_THINGS,
    DENSITY_WORDS,
    OpenVocabulary,
    OpenVocabularyBlock,
    device_kinds,
    object_stem,
    parse_open_vocabulary,
    stem,
)

RULES_FILE = "step_rules.json"
# A mention this similar (rapidfuzz ratio) to a report mention with the same polarity is "the same statement".
SAME_MENTION_MIN = 85
# Locations whose region words are unknown are compared by rapidfuzz; below this they conflict.
LOCATION_FUZZ_MIN = 50


@dataclass(frozen=True)
class Claim:
    """One statement about one observation, located in the text it was read from."""

    observation: str
    assertion: str
    laterality: str = "none"
    severity: str | None = None
    location: str | None = None
    mention: str = ""
    start: int = 0
    end: int = 0
    sentence: str = ""
    sentence_start: int = 0
    sentence_end: int = 0
    historical: bool = False
    source: str = "extractor"
    qualifiers: frozenset[str] = frozenset()


@dataclass
class Judgement:
    """The decision on one step claim: verdict, reason codes and the report claims used as evidence."""

    claim: Claim
    verdict: str
    reasons: list[str] = field(default_factory=list)
    evidence: list[Claim] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """True when the claim agrees with the report (supported, possibly by omission)."""
        return self.verdict == "supported"


@dataclass(frozen=True)
class StepRules:
    """The parsed `step_rules.json`: severity scale, location regions, normal statements, etc."""

    version: str
    severity_groups: dict[str, int]
    location_regions: dict[str, str]
    parents: dict[str, frozenset[str]]
    normal_statements: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]
    answer_patterns: tuple[re.Pattern[str], ...]
    qualifiers: frozenset[str]
    clause_breaks: re.Pattern[str]
    statement_mention: re.Pattern[str]
    step_rewrites: tuple[tuple[re.Pattern[str], str], ...] = ()
    adjectives: dict[str, str] = field(default_factory=dict)
    false_mentions: tuple[tuple[str, re.Pattern[str]], ...] = ()
    language: StepLanguage | None = None
    vocabulary: OpenVocabulary | None = None
    any_normal_statement: re.Pattern[str] = re.compile(r"(?!)")
    sideless: frozenset[str] = frozenset()
    object_observations: frozenset[str] = frozenset()
    # observations that name one thing in two words ("cardiomegaly" / "enlarged_cardiac_silhouette"), both ways
    synonyms: dict[str, frozenset[str]] = field(default_factory=dict)


class NormalStatementRule(RuleModel):
    """A normal statement ("The lungs are clear") and the observations it negates."""

    pattern: str
    negates: list[str]


class StepRewriteRule(RuleModel):
    """A rewrite applied to step text before claims are read from it."""

    pattern: str
    replacement: str


class FalseMentionRule(RuleModel):
    """A phrase that mentions an observation's word without claiming it."""

    observation: str
    pattern: str


class StepRulesFile(RuleModel):
    """`step_rules.json` as written; `parse_rules` compiles it into `StepRules`."""

    version: str | int | float
    source: str | None = None
    sha256: str = ""  # of the file's bytes (filled in by `load_rule_file`)
    severity_scale: dict[int, list[str]]
    location_regions: dict[str, list[str]]
    observation_parents: dict[str, list[str]]
    normal_statements: list[NormalStatementRule]
    answer_patterns: list[str]
    negation_qualifiers: list[str]
    claim_clause_breaks: str
    statement_mention: str
    step_rewrites: list[StepRewriteRule]
    adjective_observations: dict[str, str]
    false_mentions: list[FalseMentionRule]
    step_language: StepLanguageBlock
    open_vocabulary: OpenVocabularyBlock
    sideless_observations: list[str]
    object_observations: list[str] = []
    observation_synonyms: dict[str, list[str]] = {}


def _rx(pattern: str, path: str, field_name: str) -> re.Pattern[str]:
    try:
        return prefiltered(re.compile(pattern, re.I))
    except re.error as exc:
        raise RuleFileError(f"bad pattern: {exc}", path=path, field=field_name) from exc


def compile_step_rules(spec: StepRulesFile, path: str = RULES_FILE) -> StepRules:
    """Compile a validated `step_rules.json` into `StepRules`.

    Raises:
        RuleFileError: on a bad pattern, naming the file and the field path.
    """
    normals = tuple(
        (_rx(rule.pattern, path, f"normal_statements.{i}.pattern"), tuple(rule.negates))
        for i, rule in enumerate(spec.normal_statements)
    )
    return StepRules(
        _labelling_fingerprint(spec),
        {w.lower(): level for level, words in spec.severity_scale.items() for w in words},
        {w.lower(): region for region, words in spec.location_regions.items() for w in words},
        {obs: frozenset(ps) for obs, ps in spec.observation_parents.items()},
        normals,
        tuple(_rx(p, path, f"answer_patterns.{i}") for i, p in enumerate(spec.answer_patterns)),
        frozenset(w.lower() for w in spec.negation_qualifiers),
        _rx(spec.claim_clause_breaks, path, "claim_clause_breaks"),
        _rx(spec.statement_mention, path, "statement_mention"),
        tuple(
            (_rx(r.pattern, path, f"step_rewrites.{i}.pattern"), r.replacement)
            for i, r in enumerate(spec.step_rewrites)
        ),
        {k.lower(): v for k, v in spec.adjective_observations.items()},
        tuple(
            (r.observation, _rx(r.pattern, path, f"false_mentions.{i}.pattern"))
            for i, r in enumerate(spec.false_mentions)
        ),
        parse_step_language(spec.step_language, path),
        parse_open_vocabulary(spec.open_vocabulary, path, spec.negation_qualifiers),
        prefiltered(re.compile("|".join(f"(?:{p.pattern})" for p, _ in normals), re.I)),
        frozenset(spec.sideless_observations),
        frozenset(spec.object_observations),
        _symmetric(spec.observation_synonyms),
    )


def _symmetric(pairs: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, bs in pairs.items():
        for b in bs:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


def parse_rules(data: Any, path: str = RULES_FILE) -> StepRules:
    """Validate (through `radprm.rules`) and compile a parsed step-rules mapping.

    Raises:
        RuleFileError: on unknown keys, missing keys or bad values and patterns, naming file and field path.
    """
    return compile_step_rules(parse_rule_data(data, StepRulesFile, path=path), path)


# the modules whose code decides step labels: a change to any of them changes the labels as surely as an edited
# rule file, so both are in the version a mining job is pinned to
LABELLING_MODULES = ("align.py", "clauses.py", "sentences.py", "steps.py", "prefilter.py", "scoring.py", "reasons.py")


@lru_cache(maxsize=1)
def _code_digest() -> str:
    digest = hashlib.sha256()
    package = resources.files("radprm.validators")
    for name in LABELLING_MODULES:
        digest.update(package.joinpath(name).read_bytes())
    return digest.hexdigest()


def _labelling_fingerprint(spec: StepRulesFile) -> str:
    """`<declared version>+<12 hex digits>`: the rule file's bytes and the labelling code, hashed together."""
    return f"{spec.version}+{hashlib.sha256((spec.sha256 + _code_digest()).encode()).hexdigest()[:12]}"


def load_step_rules(source: str | Path | None = None) -> StepRules:
    """Load `step_rules.json` (the packaged file by default) through `radprm.rules`; cached by path, size and
    modification time, so a file edited in place is read again.

    Raises:
        RuleFileError: naming the file and the field path (unknown key, missing or bad value, bad pattern).
    """
    if source is None:
        return _load_step_rules(None, 0, 0)
    try:
        st = Path(source).stat()
    except OSError:
        return _load_step_rules(str(source), -1, -1)  # (reading it raises the RuleFileError that names it)
    return _load_step_rules(str(source), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _load_step_rules(source: str | None, _mtime_ns: int, _size: int) -> StepRules:
    path = resources.files("radprm.validators").joinpath(RULES_FILE) if source is None else Path(source)
    return compile_step_rules(load_rule_file(path, StepRulesFile), str(path))


def claim_from_finding(
    f: Finding, text: str | None = None, rules: StepRules | None = None, context: tuple[int, int] | None = None
) -> Claim:
    """Convert an extractor `Finding` into a `Claim` (its assertion is the extractor's: no repairs).

    Args:
        f: the finding (offsets into `text`).
        text: the analysed text; enables qualifiers, side/place inference and exact sentence slices.
        rules: step rules (packaged by default).
        context: (start, end) of the span that is the claim's context instead of the finding's
            sentence (a step clause).
    """
    rules = rules or load_step_rules()
    sentence, s_start, s_end = f.sentence, f.sentence_start, f.sentence_end
    if context is not None and text is not None:
        s_start, s_end = context
    if text is not None and 0 <= s_start < s_end <= len(text):
        sentence = text[s_start:s_end]
    source = "statement" if rules.statement_mention.search(f.mention) else "extractor"
    laterality, location, qualifiers = f.laterality or "none", f.location, frozenset()
    if text is not None:
        # (the Claim is built once, with what `_clause_before` and `_infer_place` would give it)
        qualifiers = _qualifiers_before(text[max(s_start, 0) : f.start], rules)
        if source != "normal_statement":
            # (a step clause listing things reads each item's place on its own)
            own = sentence if context is None else _own_item(sentence, f.start - s_start)
            laterality, location = _place_in(own, laterality, location, rules)
    if f.observation in rules.object_observations:
        location = None  # a lung region is no place of a device ("right upper extremity PICC", "the lower SVC"): the
        # open-vocabulary check reads where its tip is
    return Claim(
        observation=f.observation,
        assertion=f.assertion,
        laterality=laterality,
        severity=f.severity,
        location=location,
        mention=f.mention,
        start=f.start,
        end=f.end,
        sentence=sentence,
        sentence_start=s_start,
        sentence_end=s_end,
        historical=f.historical,
        source=source,
        qualifiers=qualifiers,
    )


def _clause_words(r: Claim, rules: StepRules) -> set[str]:
    """The words of a report claim's own clause up to its mention ("No acute rib fracture identified; old healed left
    rib fractures": the old fractures' clause has no "acute"); the whole sentence when the offsets do not fit."""
    at = r.start - r.sentence_start
    if not 0 <= at <= len(r.sentence):
        return set(_WORD.findall(r.sentence.lower()))
    return set(_WORD.findall(f"{_clause_tail(r.sentence[:at], rules)} {r.mention}".lower()))


def _qualifiers_before(pre: str, rules: StepRules) -> frozenset[str]:
    """The negation qualifiers among the last six words of the claim's clause before its mention (what
    `_clause_before` reads)."""
    if not _any_of(rules.qualifiers).search(pre.lower()):
        return frozenset()  # (no qualifier anywhere in the text before: none among its last words)
    words = _WORD.findall(_clause_tail(pre, rules).lower())[-6:]
    return frozenset(w for w in words if w in rules.qualifiers)


_ANY_OF: dict[int, tuple[object, re.Pattern[str]]] = {}


def _any_of(words: frozenset[str] | dict[str, Any]) -> re.Pattern[str]:
    """A pattern finding any of the (lower-case) `words` anywhere in a lower-case text, even inside another word:
    a cheap necessary condition for reading one of them as a word there. Built once per collection of words
    (the entry holds it: its id cannot be reused meanwhile)."""
    hit = _ANY_OF.get(id(words))
    if hit is None or hit[0] is not words:
        hit = _ANY_OF[id(words)] = (words, literals(words))
    return hit[1]


_PLACE_CACHE: dict[tuple[int, str], tuple[StepRules, bool, frozenset[str], frozenset[str]]] = text_cache()


_ITEM_BREAK = re.compile(r"[,;]")
_ITEM_WORDS = 5
# an item that restates or qualifies the one before it shares its place ("opacity in the left base, consistent with
# pneumonia, ..."); so does one that opens on a preposition or a denial
_SHARES_PLACE = re.compile(
    r"\W*(?:which|that|consistent|compatible|suggest\w*|concerning|represent\w*|reflect\w*|likely|probabl\w*|"
    r"possibl\w*|may|might|could|due|from|with|without|no|not|in|at|on|of|along|within|over|involving|"
    r"extending|measuring|more|less|greater|worse)\b",
    re.I,
)


def list_items(text: str) -> list[tuple[int, str]] | None:
    """(offset, item) of each item of a list of three or more short items ("cardiomegaly, cardiac defibrillator,
    bibasilar opacities"); None for any other text (clauses, a list of two)."""
    if text.count(",") + text.count(";") < 2:
        return None
    items, start = [], 0
    for m in [*_ITEM_BREAK.finditer(text), None]:
        end = len(text) if m is None else m.start()
        item = text[start:end]
        if len(item.split()) > _ITEM_WORDS:
            return None  # clauses, not a list
        items.append((start, item))
        start = end if m is None else m.end()
    return items


def _own_item(sentence: str, at: int) -> str:
    """The item of a list (`list_items`) that holds offset `at`: a side or place word of one item is not
    another's, unless the item restates or qualifies the one before (`_SHARES_PLACE`). The whole sentence
    otherwise."""
    items = list_items(sentence) if 0 <= at <= len(sentence) else None
    if items is None:
        return sentence
    item = next(item for start, item in reversed(items) if start <= at)
    return sentence if _SHARES_PLACE.match(item) else item


def _place_in(sentence: str, laterality: str, location: str | None, rules: StepRules) -> tuple[str, str | None]:
    """The (laterality, location) `_infer_place` gives a claim of `sentence` (not a normal statement); the
    sentence's side and region words are read once per sentence text, not once per claim."""
    key = (id(rules), sentence)
    hit = _PLACE_CACHE.get(key)
    if hit is None or hit[0] is not rules:  # the entry holds `rules`: its id cannot be reused meanwhile
        words = _WORD.findall(sentence.lower())
        both = any(_SIDES.get(w) == "bilateral" and _names_side(words, i) for i, w in enumerate(words))
        sides = frozenset(_SIDES[w] for i, w in enumerate(words) if w in _SIDES and _names_side(words, i))
        regions = _regions(words, rules)
        hit = remember(_PLACE_CACHE, key, (rules, both, sides, regions))
    _, both, sides, regions = hit
    if laterality == "bilateral" and not both:
        laterality = "none"  # the extractor's "both" of "both X and Y"
    if laterality != "none" and location:
        return laterality, location
    if laterality == "none" and len(sides) == 1:  # two sides in one sentence: which one is this finding's is unknown
        laterality = next(iter(sides))
    if not location and len(regions) == 1:
        location = next(iter(regions))
    return laterality, location


# words after which "upper" / "lower" place a limb or the abdomen, not a region of the chest ("left upper extremity
# PICC", "right upper quadrant")
_LIMB_WORDS = frozenset({
    "extremity", "extremities", "arm", "arms", "limb", "limbs", "quadrant", "quadrants", "abdomen", "abdominal",
})


def _regions(words: list[str], rules: StepRules) -> frozenset[str]:
    """The lung regions a sentence's words name; not a limb's or the abdomen's ("left upper extremity PICC")."""
    return frozenset(
        rules.location_regions[w]
        for i, w in enumerate(words)
        if w in rules.location_regions and not (i + 1 < len(words) and words[i + 1] in _LIMB_WORDS)
    )


_SIDES = {
    "left": "left",
    "right": "right",
    "bilateral": "bilateral",
    "bilaterally": "bilateral",
    "both": "bilateral",
    "bibasilar": "bilateral",
    "bibasal": "bilateral",
    "biapical": "bilateral",
    "left-sided": "left",
    "right-sided": "right",
    "left-side": "left",
    "right-side": "right",
}


def _infer_place(claim: Claim, rules: StepRules) -> Claim:
    """Give a claim the side and lung region its sentence names when the extractor left them empty.

    The extractor attaches laterality/location to the mention's own phrase; in "Patchy opacities in
    the left lower lobe, compatible with infiltrate" the infiltrate gets neither. A sentence naming a
    single side (or a single region) lends it to its claims; sentences naming both sides lend nothing.
    """
    if claim.source == "normal_statement":
        return claim
    words = _WORD.findall(claim.sentence.lower())
    if claim.laterality == "bilateral" and not any(
        _SIDES.get(w) == "bilateral" and _names_side(words, i) for i, w in enumerate(words)
    ):
        claim = replace(claim, laterality="none")  # the extractor's "both" of "both X and Y"
    if claim.laterality != "none" and claim.location:
        return claim
    updates: dict[str, Any] = {}
    if claim.laterality == "none":
        sides = {_SIDES[w] for i, w in enumerate(words) if w in _SIDES and _names_side(words, i)}
        if len(sides) == 1:  # two sides in one sentence: which one is this finding's is unknown
            updates["laterality"] = sides.pop()
    if not claim.location:
        regions = set(_regions(words, rules))
        if len(regions) == 1:
            updates["location"] = regions.pop()
    return replace(claim, **updates) if updates else claim


_BOTH_PARTS = frozenset({"sides", "lungs", "lung", "bases", "apices", "hila", "hilar", "hemithoraces", "hemithorax",
                         "hemidiaphragms", "costophrenic", "upper", "lower", "mid", "lateral", "breasts", "shoulders"})
_SIDE_DENIED = frozenset({"than", "not", "of"})  # "one-sided rather than bilateral", "instead of left"


def _names_side(words: list[str], i: int) -> bool:
    """Whether the side word at `i` names this sentence's side: "both" only before body parts ("both
    infiltrate and atelectasis" is a pair, not two sides), and no side that is denied ("rather than bilateral")."""
    if i and words[i - 1] in _SIDE_DENIED:
        return False
    if words[i + 1 : i + 3] == ["lateral", "decubitus"] or words[i + 1 : i + 2] == ["decubitus"]:
        return False  # a view, not a side: "recommend a left lateral decubitus radiograph"
    return words[i] != "both" or (i + 1 < len(words) and words[i + 1] in _BOTH_PARTS)


def _clause_before(claim: Claim, text: str, rules: StepRules) -> str:
    """Text from the start of the claim's clause to its mention."""
    return _clause_tail(text[max(claim.sentence_start, 0) : claim.start], rules)


_SENT_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the sentence of `text` containing [start, end)."""
    s = 0
    for m in _SENT_END.finditer(text):
        if m.end() <= start:
            s = m.end()
        elif m.start() >= end:
            return s, m.start()
    return s, len(text.rstrip())


EXCEPTING = re.compile(r"\b(?:otherwise|apart\s+from|aside\s+from|other\s+than|except|besides|elsewhere)\b", re.I)


_THAN_NORMAL = re.compile(r"\bthan\s+(?:normal|usual|expected)\b", re.I)


_SIDE_OF_STATEMENT = re.compile(r"\b(left|right)\b")


def normal_statement_claims(text: str, rules: StepRules | None = None) -> list[Claim]:
    """Negative claims implied by normal statements ("The lungs are clear", "Heart size is normal")."""
    rules = rules or load_step_rules()
    claims: list[Claim] = []
    if not can_match(rules.any_normal_statement, text):  # (needles only: the loop finds whatever matches)
        return claims
    for pattern, negates in rules.normal_statements:
        for m in pattern.finditer(text):
            s, e = sentence_around(text, m.start(), m.end())
            if EXCEPTING.search(text, s, m.start()):
                continue  # "Apart from that, the lungs are clear": clear of everything but what was just said
            if _THAN_NORMAL.search(m.group(0)):
                continue  # "the cardiac silhouette is wider than normal" says the opposite
            sides = set(_SIDE_OF_STATEMENT.findall(m.group(0).lower()))
            side = sides.pop() if len(sides) == 1 else "none"  # ("the left angle is sharp": the left side only)
            for obs in negates:
                claims.append(
                    Claim(
                        obs,
                        "negative",
                        laterality=side,
                        mention=m.group(0),
                        start=m.start(),
                        end=m.end(),
                        sentence=text[s:e],
                        sentence_start=s,
                        sentence_end=e,
                        source="normal_statement",
                    )
                )
    return claims


def infer_severity(claims: list[Claim], text: str, rules: StepRules | None = None) -> list[Claim]:
    """Read each claim's grade (and lung regions) from the words just before it and inside its mention.

    The window runs from the end of the previous mention in the same sentence (or the sentence
    start) to the end of this mention, so in "Large heart with small effusion" the effusion is small.
    Raw grade words are kept ("small to moderate" -> levels {2, 3}); when there are none the
    extractor's severity stays.
    """
    rules = rules or load_step_rules()
    out = []
    graded, placed = _any_of(rules.severity_groups), _any_of(rules.location_regions)
    for c in claims:
        if c.source == "normal_statement" or not (0 <= c.sentence_start <= c.start <= c.end <= len(text)):
            out.append(c)
            continue
        window_start = max(
            [c.sentence_start] + [o.end for o in claims if o.sentence_start == c.sentence_start and o.end <= c.start]
        )
        window = text[window_start : c.end]
        low = window.lower()
        if not graded.search(low) and not placed.search(low):
            out.append(c)  # (no grade or region word anywhere in the window: nothing to read)
            continue
        window = _clause_tail(window, rules)
        words = _WORD.findall(window.lower())
        grades = _grade_words(_without_verb_adverbs(words), rules)
        places = [w for w in words if w in rules.location_regions]
        updates: dict[str, Any] = {}
        if grades:
            updates["severity"] = " ".join(grades)
        if places and not set(places) <= set(_WORD.findall((c.location or "").lower())):
            # "Right middle and lower lobe opacities": the extractor keeps "lower lobe", the window both
            updates["location"] = " ".join(places + ([c.location] if c.location else []))
        out.append(replace(c, **updates) if updates else c)
    return out


def drop_false_mentions(claims: list[Claim], text: str, rules: StepRules | None = None) -> list[Claim]:
    """Drop claims the extractor reads from a word used in another sense ("free of infiltrates" is not free air)."""
    rules = rules or load_step_rules()
    return [
        c
        for c in claims
        if not any(
            c.observation == obs and pattern.search(text[c.start : max(c.end, c.start + 40)])  # (the whole mention)
            for obs, pattern in rules.false_mentions
        )
        # ("the cardiac silhouette is wider than normal" is no normal statement)
        and not (c.source == "statement" and _THAN_NORMAL.search(c.mention))
    ]


# words that end the noun phrase an adjective would modify, read backwards from a mention
_PHRASE_BREAKS = frozenset(
    "without with no not of in on at to from for by is are was were be been than versus vs after before over under "
    "into which that who but nor".split()
)


def adjective_claims(claims: list[Claim], rules: StepRules | None = None) -> list[Claim]:
    """Add the observation an adjective names: "nodular opacity" is also a nodule claim.

    The extractor reads "rounded nodular opacity" as an opacity only, so a step that calls it a
    nodule would look ungrounded; the reverse holds for a step saying "nodular opacity".
    """
    rules = rules or load_step_rules()
    have = {(c.observation, c.start) for c in claims}
    out = list(claims)
    for c in claims:
        before = _WORD.findall(c.sentence[max(0, c.start - c.sentence_start - 30) : c.start - c.sentence_start].lower())
        mention = _WORD.findall(c.mention.lower())
        # the adjectives in the mention and right before it, back to the first word that ends its noun phrase:
        # "Calcified nodes without consolidation" has no calcified consolidation
        near: list[str] = []
        for w in reversed(before[len(before) - max(0, 4 - len(mention)) :]):  # (four words with the mention's)
            if w in _PHRASE_BREAKS:
                break
            near.append(w)
        for w in near + mention:
            obs = rules.adjectives.get(w)
            if obs and obs != c.observation and (obs, c.start) not in have:
                out.append(replace(c, observation=obs, source="adjective"))
                have.add((obs, c.start))
    return out


def _clause_tail(text: str, rules: StepRules) -> str:
    parts = rules.clause_breaks.split(text)
    return parts[-1] if parts else text


def merge_claims(found: list[Claim], implied: list[Claim]) -> list[Claim]:
    """Extractor claims plus implied negatives for observations the extractor did not mention (on one side: "a
    small right effusion, while the left angle is sharp" denies the left one)."""
    seen = {c.observation for c in found}
    sides = {(c.observation, c.laterality) for c in found}
    out = list(found)
    for c in implied:
        if c.laterality in ("left", "right"):
            taken = any((c.observation, s) in sides for s in (c.laterality, "none", "bilateral"))
        else:
            taken = c.observation in seen
        if not taken:
            out.append(c)
            seen.add(c.observation)
            sides.add((c.observation, c.laterality))
    return out


# ---------------------------------------------------------------- attribute comparisons

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")
# the bones a finding's place may name, by the stem of any of their words
_BONES = {
    "rib": "rib", "ribs": "rib", "costal": "rib", "clavicle": "clavicle", "clavicles": "clavicle",
    "clavicular": "clavicle", "humerus": "humerus", "humeral": "humerus", "humeri": "humerus", "scapula": "scapula",
    "scapular": "scapula", "scapulae": "scapula", "sternum": "sternum", "sternal": "sternum", "spine": "spine",
    "spinal": "spine", "vertebra": "spine", "vertebral": "spine", "vertebrae": "spine", "femur": "femur",
}


_VALVES = frozenset({"mitral", "aortic", "tricuspid", "pulmonic"})


def _other_valve(mine: str, theirs: str) -> bool:
    """Whether two sentences name valves in different positions ("mitral prosthesis" / "prosthetic aortic valve")."""
    a = _VALVES & set(_WORD.findall(mine.lower()))
    b = _VALVES & set(_WORD.findall(theirs.lower()))
    return bool(a) and bool(b) and not a & b and bool(_VALVE_WORD.search(theirs))


_VALVE_WORD = re.compile(r"\b(?:valve|valvular|prosthe\w*|replacement|annuloplasty)\b", re.I)


def _density_only(claim: Claim, rules: StepRules) -> bool:
    """Whether the claim's only grade above "small" is "dense", said of a calcified thing, cement or a scar (how
    white it is, not how much: `radprm.validators.sentences.DENSE_THINGS`)."""
    words = _WORD.findall((claim.severity or "").lower())
    return (
        any(w in DENSITY_WORDS for w in words)
        and severity_levels(" ".join(w for w in words if w not in DENSITY_WORDS), rules) <= {1, 2}
        and bool(DENSE_THINGS & set(_WORD.findall(claim.sentence.lower())))
    )


def _stems(mention: str, leave_out: frozenset[str]) -> set[str]:
    """The stems of a mention's words, less the words `leave_out`."""
    return {stem(w) for w in _WORD.findall(mention.lower()) if w not in leave_out}


def _other_bone(location: str, sentence: str) -> bool:
    """Whether a sentence names a bone and not the bone `location` names ("Fracture of right proximal humerus" for a
    rib)."""
    named = {_BONES[w] for w in _WORD.findall(sentence.lower()) if w in _BONES}
    return bool(named) and _BONES[location] not in named


def severity_levels(severity: str | None, rules: StepRules | None = None) -> frozenset[int]:
    """The scale levels a severity phrase names ("mild to moderate" -> {2, 3}); empty when unknown."""
    if not severity:
        return frozenset()
    rules = rules or load_step_rules()
    return frozenset(rules.severity_groups[w] for w in _WORD.findall(severity.lower()) if w in rules.severity_groups)


def severity_compatible(a: str | None, b: str | None, rules: StepRules | None = None) -> bool:
    """False only when both phrases name a grade and the grades are disjoint."""
    la, lb = severity_levels(a, rules), severity_levels(b, rules)
    return not la or not lb or bool(la & lb)


def location_regions(location: str | None, rules: StepRules | None = None) -> frozenset[str]:
    """Lung regions (upper/middle/lower) a location phrase names."""
    if not location:
        return frozenset()
    rules = rules or load_step_rules()
    return frozenset(rules.location_regions[w] for w in _WORD.findall(location.lower()) if w in rules.location_regions)


_SIDE_WORDS = re.compile(
    r"\b(?:left|right|bilateral(?:ly)?|both|the|of|in|at|within|lung|lungs|zone|zones|lobe|lobes)\b", re.I
)


def location_compatible(a: str | None, b: str | None, rules: StepRules | None = None) -> bool:
    """False when two location phrases name different places.

    Region words decide when both phrases have them (base vs apex); otherwise the phrases, stripped
    of side and filler words, are compared with rapidfuzz so that phrasing variants still match.
    """
    if not a or not b:
        return True
    ra, rb = location_regions(a, rules), location_regions(b, rules)
    if ra and rb:
        return bool(ra & rb)
    if ra or rb:
        return True  # one phrase is vaguer ("lung" vs "left base"): not a contradiction
    sa, sb = _SIDE_WORDS.sub(" ", a.lower()).split(), _SIDE_WORDS.sub(" ", b.lower()).split()
    if not sa or not sb:
        return True
    return fuzz.token_set_ratio(" ".join(sa), " ".join(sb)) >= LOCATION_FUZZ_MIN


def laterality_compatible(claim: str, report: str) -> bool:
    """Whether a step's side agrees with a report finding's side (unstated sides agree with anything)."""
    if claim == "none" or report == "none" or claim == report:
        return True
    # the report's bilateral finding is present on each side; the reverse is an overstatement
    return report == "bilateral" and claim in ("left", "right")


# ---------------------------------------------------------------- judging one claim


def _related(claim: Claim, report_claims: list[Claim], rules: StepRules) -> list[Claim]:
    """Report claims on the same observation, plus (for positive step claims) on a more specific one."""
    synonyms = rules.synonyms.get(claim.observation, frozenset())
    same = [r for r in report_claims if r.observation == claim.observation or r.observation in synonyms]
    if claim.assertion == "negative":
        return same
    children = [
        r
        for r in report_claims
        if claim.observation in rules.parents.get(r.observation, ()) and r.assertion != "negative"
    ]
    return same + children


def _attribute_faults(claim: Claim, r: Claim, rules: StepRules) -> list[str]:
    faults = []
    if (
        claim.observation not in rules.sideless
        and not laterality_compatible(claim.laterality, r.laterality)
        and not (_names_both_sides(claim.sentence, rules) and _names_both_sides(r.sentence, rules))
    ):
        faults.append("laterality_conflict")
    step_levels, report_levels = severity_levels(claim.severity, rules), severity_levels(r.severity, rules)
    if step_levels and report_levels and not step_levels <= report_levels and not step_levels | report_levels <= {1, 2}:
        # "large to moderate" is not grounded by "small to moderate"
        faults.append("severity_conflict")
    elif (
        step_levels
        and not step_levels <= {1, 2}
        and not report_levels
        and r.source == "extractor"
        and not _sentence_has_grade(r.sentence, rules)
        and not _density_only(claim, rules)
        and not _same_prominence(claim, r, rules)
    ):
        # "a small opacity" for the report's ungraded one is a fair reading; "a large one" is not
        faults.append("severity_not_in_report")
    if not location_compatible(claim.location, r.location, rules):
        faults.append("location_conflict")
    else:
        # every region the step names must be one the report names: "right upper and lower lobe"
        # is not grounded by "right middle and lower lobe"; places the extractor gathered from the items of a
        # list ("left hilar nodes and a calcified nodule in the left lower lobe") are the items' own
        step_regions, report_regions = location_regions(claim.location, rules), location_regions(r.location, rules)
        if step_regions and report_regions and not step_regions <= report_regions:
            if _JOINED_PLACES.search(claim.location):
                faults.append("location_conflict")
    return faults


def _names_both_sides(sentence: str, rules: StepRules) -> bool:
    """A sentence naming the left and the right ("patchy left apical and right basilar opacities", "left greater
    than right": every side word counts, a denied one too), or both at once: the extractor gives each finding one
    side, not always the one it is on. A place named by a side ("the right atrium") is no side of a finding."""
    if rules.vocabulary is not None:
        sentence = rules.vocabulary.side_places.sub(" ", sentence)
    sides = {_SIDES[w] for w in _WORD.findall(sentence.lower()) if w in _SIDES}
    return {"left", "right"} <= sides or "bilateral" in sides


_JOINED_PLACES = re.compile(r"\b(?:and|or|to|through|thru)\b|[/&-]", re.I)


_PROMINENT = re.compile(r"\bprominen(?:t|ce)\b", re.I)


def _same_prominence(claim: Claim, r: Claim, rules: StepRules) -> bool:
    """"The right heart border is prominent" for the report's "prominence of the right heart border": the same word,
    not a grade the step adds ("markedly prominent" still adds one)."""
    return bool(_PROMINENT.search(r.sentence) and _PROMINENT.search(claim.sentence)) \
        and set(_grade_words(_WORD.findall(claim.sentence.lower()), rules)) <= {"prominent"}


def _sentence_has_grade(sentence: str, rules: StepRules) -> bool:
    return bool(_grade_words(_WORD.findall(sentence.lower()), rules))


# a grade adverb that modifies a verb ("shifted slightly to the left by the large effusion"), not the thing
_ADVERB_BEFORE = frozenset("to toward towards into from by over under across away".split())


def _without_verb_adverbs(words: list[str]) -> list[str]:
    """`words` without the "-ly" grade words followed by a preposition (they grade a movement, not the thing)."""
    return [
        w for i, w in enumerate(words)
        if not (w.endswith("ly") and i + 1 < len(words) and words[i + 1] in _ADVERB_BEFORE)
    ]


def _grade_words(words: list[str], rules: StepRules) -> list[str]:
    """The grade words among `words`, a hyphenated word's own parts too ("moderately-inflated")."""
    groups = rules.severity_groups
    out = [p for w in words for p in ((w,) if w in groups or "-" not in w else w.split("-")) if p in groups]
    # "slightly large" / "mildly big": the "-ly" grade word grades, the adjective only says enlarged
    return [p for i, p in enumerate(out) if not (p in _SIZE_ADJECTIVES and i and out[i - 1].endswith("ly"))]


_SIZE_ADJECTIVES = frozenset({"large", "big"})


def _best(claim: Claim, candidates: list[Claim], rules: StepRules) -> tuple[Claim, list[str]]:
    """The candidate with the fewest attribute faults (ties: first in the report)."""
    scored = [(len(f), i, c, f) for i, c in enumerate(candidates) for f in [_attribute_faults(claim, c, rules)]]
    _, _, best, faults = min(scored, key=lambda t: (t[0], t[1]))
    return best, faults


def _negation_applies(claim: Claim, r: Claim, rules: StepRules) -> bool:
    """Whether a negated statement and a positive one are about the same object, place and grade."""
    return (
        # (a denial of one side meets the report's bilateral finding there: "the left angle is sharp" against
        # "small bilateral effusions")
        laterality_compatible(claim.laterality, r.laterality)
        and severity_compatible(claim.severity, r.severity, rules)
        and location_compatible(claim.location, r.location, rules)
        and _same_object(claim, r, rules)
    )


# an object's words, hyphenated names whole ("Port-A-Cath")
_OBJECT_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def _same_object(claim: Claim, r: Claim, rules: StepRules) -> bool:
    """For object observations (devices): whether the step's mention can be the report's object.

    "No pacemaker" says nothing against sternotomy wires, nor "no sternotomy wires" against spinal
    fusion hardware: the report sentence must hold an object of the same class, and the same word
    unless the step's is generic ("no lines or tubes", "no support devices").
    """
    vocab = rules.vocabulary
    if vocab is None or claim.observation not in rules.object_observations:
        return True
    mine = _OBJECT_WORD.findall(claim.mention.lower())
    mine_classes = {vocab.classes[w] for w in mine if w in vocab.classes}
    if not mine_classes or any(w in vocab.generic_words and vocab.classes.get(w) == "cardiac_device" for w in mine):
        return True  # "device(s)" stands for any object
    theirs = _OBJECT_WORD.findall(r.sentence.lower())
    theirs += [p for w in theirs if "-" in w for p in w.split("-")]  # ("port-a-catheter" is a port)
    if not mine_classes & {vocab.classes[w] for w in theirs if w in vocab.classes}:
        return False
    # "chest tube" is not the "NG tube" (the word before the head noun, from `device_kinds`)
    offset = claim.start - claim.sentence_start
    kinds = device_kinds(claim.sentence[max(0, offset - 25) : claim.end - claim.sentence_start], vocab)
    # the report's device by its own words (a long sentence may name a tracheostomy tube and a central line), else
    # by its sentence's
    at = r.start - r.sentence_start
    other = device_kinds(r.sentence[max(0, at - 25) : r.end - r.sentence_start], vocab) if at >= 0 else frozenset()
    other = other or device_kinds(r.sentence, vocab)
    specific = {object_stem(w, vocab) for w in mine if w in vocab.classes and w not in vocab.generic_words}
    if specific and not specific & {object_stem(w, vocab) for w in theirs} and not kinds & other:
        return False  # (another word for the same kind of device: "enteric tube" for the "orogastric tube")
    if not kinds:
        return True
    if not other:
        # the report's "lines and tubes" says nothing of a chest tube in particular
        named = [w for w in theirs if vocab.classes.get(w) in mine_classes]
        return not named or not all(w in vocab.generic_words for w in named)
    return bool(kinds & other)


def _placed(claim: Claim, candidates: list[Claim]) -> list[Claim]:
    """Candidates that say where (and how much), when the step does and some candidate does.

    An impression line without side ("Findings suggestive of pneumonia") must not vouch for a step
    that puts the finding on the side the findings section does not.
    """
    if claim.laterality != "none":
        sided = [r for r in candidates if r.laterality != "none"]
        candidates = sided or candidates
    if claim.location:
        # (a located one on the other side does not beat one on the step's side: "left upper lung granuloma as well
        # as right retrocardiac calcified nodule", where the extractor gives the place to the nodule)
        located = [r for r in candidates if r.location and laterality_compatible(claim.laterality, r.laterality)]
        candidates = located or candidates
    if claim.severity and severity_levels(claim.severity):
        graded = [r for r in candidates if severity_levels(r.severity)]
        candidates = graded or candidates
    return candidates


def _similar_sentence(a: str, b: str) -> bool:
    return fuzz.ratio(" ".join(a.lower().split()), " ".join(b.lower().split())) >= SAME_MENTION_MIN


def _cites_sentence(claim: Claim, r: Claim) -> bool:
    """The step repeats the report's whole denial inside a longer sentence ("The impression says no pulmonary
    nodules are identified, i.e. nothing suspicious." for "No pulmonary nodules identified."), about the same side."""
    theirs = set(_WORD.findall(r.sentence.lower()))
    mine = set(_WORD.findall(claim.sentence.lower()))
    return claim.laterality == r.laterality and len(theirs) >= 3 and theirs <= mine


def _is_statement(c: Claim) -> bool:
    return c.source in ("statement", "normal_statement")


def _sign_stated(claim: Claim, hedged: Claim, report_claims: list[Claim]) -> bool:
    """A step naming the sign ("increased interstitial markings") of what the report only hedges in the more
    specific reading ("suspected pulmonary edema"), where a certain report sentence words that sign itself
    ("diffusely increased interstitial and patchy airspace opacities"): the sign is stated, the reading open."""
    if hedged.observation == claim.observation:
        return False
    words = {w for w in _WORD.findall(claim.mention.lower()) if len(w) > 4}
    return bool(words) and any(
        r.assertion == "positive" and words & set(_WORD.findall(r.sentence.lower())) for r in report_claims
    )


def _limited_denial(claim: Claim, limits: frozenset[str]) -> bool:
    """Whether a report's denial is limited by a qualifier right before its mention ("no large effusion", "no
    definite pleural effusion"; not the pneumothorax of "no consolidation, large effusion or pneumothorax")."""
    return any(
        re.search(rf"\b{re.escape(q)}\s+(?:\w+\s+)?{re.escape(claim.mention)}", claim.sentence, re.I)
        for q in claim.qualifiers & limits
    )


def judge_claim(claim: Claim, report_claims: list[Claim], rules: StepRules | None = None) -> Judgement:
    """Judge one step claim against the report's claims; see validators/README.md for the rules.

    Args:
        claim: a claim read from the step.
        report_claims: every claim read from the report (offsets into `Report.text`).
        rules: step rules; the packaged ones by default.

    Returns:
        A `Judgement` with verdict supported / contradicted / unsupported and reason codes.
    """
    rules = rules or load_step_rules()
    related = _related(claim, report_claims, rules)
    pos = [r for r in related if r.assertion == "positive"]
    unc = [r for r in related if r.assertion == "uncertain"]
    neg = [r for r in related if r.assertion == "negative"]

    if claim.assertion == "negative":
        # the report makes the same negative statement (a restated sentence): agreement, whatever else it says
        same = [
            r
            for r in neg
            if _negation_applies(claim, r, rules)
            and (_similar_sentence(claim.sentence, r.sentence) or _cites_sentence(claim, r))
        ]
        if same:
            return Judgement(claim, "supported", [], same[:1])
        if _is_statement(claim) and any(_is_statement(r) for r in neg):
            return Judgement(claim, "supported", [], [next(r for r in neg if _is_statement(r))])

        def applies(r: Claim) -> bool:
            # "No focal consolidation" says nothing against a patchy one: a qualified negation only
            # conflicts with a finding described with the same qualifier
            if claim.qualifiers and not claim.qualifiers & _clause_words(r, rules):
                return False
            return _negation_applies(claim, r, rules)

        if claim.observation in rules.object_observations:
            # "that catheter has been removed" beside "removal of the right IJ catheter": the report
            # denies the same object, whatever other devices it keeps
            # (by a word that names the object, not "tube" alone: "no enteric tube" is not the removed chest tube; a
            # generic word alone, "that catheter has been removed", is matched by any word of the report's)
            generic = rules.vocabulary.generic_words if rules.vocabulary is not None else frozenset()
            if not _stems(claim.mention, generic):
                generic = frozenset()
            mine = _stems(claim.mention, generic)
            same_object = [r for r in neg if mine & _stems(r.mention, generic)]
            if same_object:
                return Judgement(claim, "supported", [], same_object[:1])
        hits = [r for r in pos if applies(r)]
        if claim.location:
            # "atelectatic collapse of the right middle lobe": the unplaced mention is the placed one, which
            # is not where the step denies it ("no upper lobe collapse")
            hits = [
                r
                for r in hits
                if r.location
                or not any(o.location and o.sentence == r.sentence and o.observation == r.observation for o in pos)
            ]
            # "no paratracheal calcification" says nothing against calcified hilar nodes
            hits = [r for r in hits if not r.location or location_compatible(claim.location, r.location, rules)]
        if claim.location in _BONES:
            # "no rib fracture" says nothing against a fracture of the humerus
            hits = [r for r in hits if not _other_bone(claim.location, r.sentence)]
        if claim.observation in rules.object_observations:
            # "no mitral prosthesis" says nothing against a prosthetic aortic valve
            hits = [r for r in hits if not _other_valve(claim.sentence, r.sentence)]
        if hits:
            return Judgement(claim, "contradicted", ["negation_conflict"], hits[:1])
        # "upper limits of normal" is normal by definition: the report's lean towards enlargement is not a
        # doubt a step dismisses by calling the heart normal
        hits = [r for r in unc if applies(r) and not (r.severity == "borderline" and "normal" in r.mention.lower())]
        if hits:
            return Judgement(claim, "contradicted", ["uncertainty_dismissed"], hits[:1])
        lang = rules.language
        # (a global "no acute process" denies nothing in particular: the report's own denials of the thing decide)
        stated = [r for r in neg if r.source != "statement"]
        if stated and lang is not None and not claim.qualifiers and lang.categorical_denial.search(claim.sentence) \
                and all(_limited_denial(r, lang.limited_denial) for r in stated):
            # "any effusion is ruled out, even a trace" where the report only says "no large effusion": what the
            # report leaves open is closed
            return Judgement(claim, "contradicted", ["uncertainty_dismissed"], stated[:1])
        if neg:
            return Judgement(claim, "supported", [], [_best(claim, neg, rules)[0]])
        if pos or unc:  # mentioned, but elsewhere or otherwise qualified ("no focal" vs "patchy")
            return Judgement(claim, "supported", [], [])
        return Judgement(claim, "supported", ["unmentioned_assumed_normal"], [])

    affirmed = _placed(claim, [r for r in pos + unc if _same_object(claim, r, rules)])
    if (pos or unc) and not affirmed:
        # a device the report does not have, though it has others ("a right IJ line" beside a PICC)
        return Judgement(claim, "unsupported", ["finding_not_in_report"], [])
    if affirmed:
        best, faults = _best(claim, affirmed, rules)
        if faults:
            verdict = "unsupported" if faults == ["severity_not_in_report"] else "contradicted"
            return Judgement(claim, verdict, faults, [best])
        if (
            claim.assertion == "positive"
            and best.assertion == "uncertain"
            and not any(not _attribute_faults(claim, p, rules) for p in pos)
            and not _sign_stated(claim, best, report_claims)
        ):
            return Judgement(claim, "unsupported", ["uncertainty_overstated"], [best])
        if (
            claim.assertion == "positive"
            and claim.severity is None
            and all(p.severity == "borderline" for p in affirmed)  # (the best among them)
        ):
            # "the heart is enlarged" where every report sentence calls it borderline: the report leaves open
            # what the step asserts
            return Judgement(claim, "unsupported", ["uncertainty_overstated"], [best])
        notes = ["hedged"] if claim.assertion == "uncertain" and best.assertion == "positive" else []
        return Judgement(claim, "supported", notes, [best])
    hits = [r for r in neg if _negation_applies(claim, r, rules)]
    if hits:
        return Judgement(claim, "contradicted", ["negation_conflict"], hits[:1])
    return Judgement(claim, "unsupported", ["finding_not_in_report"], [])
