"""Open-vocabulary checks: align a step clause with the report sentences about the same thing.

The label lexicon covers findings; steps also speak of devices, bones, nodes, levels, sizes and
change over time. Here a fact clause of a step is aligned with the report sentence(s) sharing the
most content words (crude stems plus object classes: "PICC" and "line" are both `line_tube`), and
the attributes both state are compared: side, grade, place (lobe, vertebral level, device-tip
position), number with unit, change over time, polarity and hedging. A clause that aligns with
nothing is left to the lexicon checks; a disagreement yields the same reason codes as the lexicon
path (`laterality_conflict`, `severity_conflict`, `location_conflict`, `ungrounded_number`,
`temporal_conflict`, `negation_conflict`, `uncertainty_overstated`, `uncertainty_dismissed`).
Word lists are data: the `open_vocabulary` block of `step_rules.json`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from copy import copy
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

from radprm.errors import RuleFileError
from radprm.rules import RuleModel
from radprm.validators.clauses import (
    AGE_UNKNOWN,
    DENIAL_LINKS,
    StepLanguage,
    hedge_strength,
    temporal_classes,
    temporal_conflict,
)
from radprm.validators.memo import clear_text_caches, remember, text_cache
from radprm.validators.prefilter import can_match, group_gate, prefiltered

_TOKEN = re.compile(r"[A-Za-z][A-Za-z-]*|\d+(?:\.\d+)?")
_SENTENCE = re.compile(r"[^.;\n]+(?:\.(?=\d)[^.;\n]*)*\.?")



class OpenVocabularyBlock(RuleModel):
    """The `open_vocabulary` block of step_rules.json, as written (compiled by `parse_open_vocabulary`)."""

    stopwords: list[str]
    weak_words: list[str]
    object_classes: dict[str, list[str]]
    place_families: dict[str, dict[str, str]]
    side_places: str
    number_words: dict[str, str | int]
    min_shared: int
    min_cover: float
    negatable_classes: list[str]
    generic_words: list[str]
    must_be_named: list[str]
    side_words: dict[str, str]
    place_words: list[str]
    bilateral_phrases: str
    exclusive_words: str
    synonym_classes: list[str] = []
    dominant_side: list[str] = []
    lesser_side: list[str] = []
    object_aliases: dict[str, str] = {}
    specific_terms: dict[str, str] = {}
    polarity_exempt: list[str] = []
    normal_words: list[str] = []
    same_thing: dict[str, list[str]] = {}
    part_of: dict[str, list[str]] = {}
    implied_sides: dict[str, str] = {}
    device_kinds: dict[str, str] = {}


@dataclass(frozen=True)
class OpenVocabulary:
    """Compiled `open_vocabulary` rules."""

    stopwords: frozenset[str]
    weak: frozenset[str]
    classes: dict[str, str]
    places: tuple[tuple[str, str, re.Pattern[str]], ...]
    any_place: re.Pattern[str]
    place_words: frozenset[str]
    side_places: re.Pattern[str]
    number_words: dict[str, str]
    min_shared: int
    min_cover: float
    qualifiers: frozenset[str] = frozenset()
    negatable: frozenset[str] = frozenset()
    generic_words: frozenset[str] = frozenset()
    must_be_named: frozenset[str] = frozenset()
    side_words: dict[str, str] = field(default_factory=dict)
    bilateral: re.Pattern[str] = re.compile(r"\bbilateral(?:ly)?\b")
    exclusive: re.Pattern[str] = re.compile(r"\bonly\b")
    synonym_classes: frozenset[str] = frozenset()
    dominant: tuple[re.Pattern[str], ...] = ()
    lesser: tuple[re.Pattern[str], ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)
    polarity_exempt: frozenset[str] = frozenset()
    normal_words: frozenset[str] = frozenset()
    place_stems: frozenset[str] = frozenset()  # the place words as anchors ("midlung", "basilar")
    # side -> pattern of a place only one side has ("middle lobe": right; "lingula": left), read when no side
    # word is given
    implied_sides: tuple[tuple[str, re.Pattern[str]], ...] = ()
    # the word before "tube", "line", "catheter", "drain" -> the kind of device it names ("chest" -> chest tube,
    # "ng" -> enteric): a denial of one kind says nothing against another
    device_kinds: dict[str, str] = field(default_factory=dict)
    # one thing under several words, as stems -> the thing ("osseous", "bony" -> "bone"; "vessel" -> "vascula")
    same_thing: dict[str, str] = field(default_factory=dict)
    # a part, as a stem -> the whole it belongs to ("spine", "rib" -> "bone"; "hemidiaphragm" -> "diaphragm"):
    # "the bones are unremarkable" says the spine is too
    whole_of: dict[str, str] = field(default_factory=dict)

    def thing(self, anchor: str) -> str:
        """The thing an anchor names (its `same_thing` entry, else itself)."""
        return self.same_thing.get(anchor, anchor)

    def with_wholes(self, anchors: Iterable[str]) -> set[str]:
        """`anchors` as things, with the wholes their parts belong to."""
        things = {self.same_thing.get(a, a) for a in anchors}
        return things | {self.whole_of[a] for a in things if a in self.whole_of}


def parse_open_vocabulary(data: OpenVocabularyBlock, path: str, qualifiers: Iterable[str] = ()) -> OpenVocabulary:
    """Compile the `open_vocabulary` block (its keys are checked by `OpenVocabularyBlock`); `qualifiers` are
    the rule file's `negation_qualifiers` ("no acute fracture" says nothing against an old one), shared with
    the lexicon claims' check.

    Raises:
        RuleFileError: on bad patterns, naming file and key.
    """

    def rx(key: str, pattern: str) -> re.Pattern[str]:
        try:
            return prefiltered(re.compile(pattern, re.I))
        except re.error as exc:
            raise RuleFileError(f"bad pattern: {exc}", path=path, field=f"open_vocabulary.{key}") from exc

    classes = {w.lower(): cls for cls, words in data.object_classes.items() for w in words}
    places = [
        (family, name, rx(f"place_families.{family}.{name}", pattern))
        for family, entries in data.place_families.items()
        for name, pattern in entries.items()
    ]
    side_places = rx("side_places", data.side_places)
    any_place = prefiltered(re.compile("|".join(f"(?:{p.pattern})" for _, _, p in places), re.I))
    place_words = frozenset(w.lower() for w in data.place_words)
    return OpenVocabulary(
        frozenset(w.lower() for w in data.stopwords),
        frozenset(w.lower() for w in data.weak_words),
        classes,
        tuple(places),
        any_place,
        place_words,
        side_places,
        {k.lower(): str(v) for k, v in data.number_words.items()},
        data.min_shared,
        data.min_cover,
        frozenset(w.lower() for w in qualifiers),
        frozenset(data.negatable_classes),
        frozenset(w.lower() for w in data.generic_words),
        frozenset(data.must_be_named),
        # the built-in side words and the rule file's (levoconvex, ...), merged once here
        {**_SIDE, **{k.lower(): v for k, v in data.side_words.items()}},
        rx("bilateral_phrases", data.bilateral_phrases),
        rx("exclusive_words", data.exclusive_words),
        frozenset(data.synonym_classes),
        tuple(rx(f"dominant_side[{i}]", p) for i, p in enumerate(data.dominant_side)),
        tuple(rx(f"lesser_side[{i}]", p) for i, p in enumerate(data.lesser_side)),
        {k.lower(): v.lower() for k, v in data.object_aliases.items()},
        {k.lower(): v.lower() for k, v in data.specific_terms.items()},
        frozenset(w.lower() for w in data.polarity_exempt),
        frozenset(w.lower() for w in data.normal_words),
        frozenset(stem(w) for w in place_words),
        tuple((side, rx(f"implied_sides.{side}", p)) for side, p in data.implied_sides.items()),
        {k.lower(): v for k, v in data.device_kinds.items()},
        {stem(w.lower()): stem(thing.lower()) for thing, words in data.same_thing.items() for w in [thing, *words]},
        {stem(w.lower()): stem(whole.lower()) for whole, words in data.part_of.items() for w in words},
    )


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem: lower case, plural and common suffixes off, at most 7 letters ('effusions' -> 'effusio')."""
    w = word.lower()
    if w in _SHORT_PLURALS:
        return w[:-1]  # ("ribs" / "rib": too short for the suffix rule below)
    if w in _ONE_STEM:
        return _ONE_STEM[w]
    if w.startswith(("cardiomeg", "cardiomed")):
        return w[:9]  # ("cardiomegaly" / "cardiomediastinal": two things that share seven letters)
    if w.endswith(("ency", "encies")) and len(w) > 6:
        w = w[: w.rfind("enc")] + "ent"  # "lucency" / "lucent"
    elif w.endswith(("osis", "otic")) and len(w) > 6:
        return w[:-3][:7]  # "kyphosis" / "kyphotic", "fibrosis" / "fibrotic", "sclerosis" / "sclerotic"
    for suffix in ("ities", "ity", "ies", "ions", "ion", "es", "s", "ed", "ing", "ally", "al", "ic", "e"):
        if len(w) > len(suffix) + (2 if suffix == "e" else 3) and w.endswith(suffix):
            w = w[: -len(suffix)]  # "e" too: "exclude" / "excluded", "tube" / "tubes" share a stem
            break
    return w[:7]


_SHORT_PLURALS = frozenset({"ribs", "tips", "arcs"})
# forms the suffix rule cuts apart ("artery" / "arterial" / "arteries")
_ONE_STEM = {"artery": "arter", "arterial": "arter", "arteries": "arter"}
_HAS_NUMBER = re.compile(r"\d")
# what follows the number of an age ("35-year-old", "6 yo"): such a number is no size, count or level (a
# duration, "stable for 5 years", is one)
AGE_SUFFIX = r"(?:[\s-]*(?:years?|yrs?|months?|weeks?)[\s-]*old|\s*(?:yo|y/o))\b"
# a reference range of general knowledge ("the usual target range of about 3-5 cm", "the goal is 3 to 5 cm above the
# carina", "(normal is about 3-5 cm)"): no measurement of this patient
REFERENCE_RANGE = (
    r"\b(?:usual|standard|target|goal|ideal|typical|normal|acceptable|recommended|optimal|expected)\b[^.;\d]{0,30}?"
    r"\d+(?:\.\d+)?\s*(?:-|\u2013|to)\s*\d+(?:\.\d+)?\s*(?:cm|mm|centimeters?|millimeters?)\b"
    # (the standard named after the range: "a tip 3-5 cm above the carina is in the appropriate range")
    r"|\d+(?:\.\d+)?\s*(?:-|\u2013|to)\s*\d+(?:\.\d+)?\s*(?:cm|mm|centimeters?|millimeters?)\b(?=[^.;\d]{0,30}?"
    r"\b(?:is|are|as|being)\s+(?:in\s+|within\s+)?(?:an?\s+|the\s+)?(?:usual|standard|target|ideal|typical|normal|"
    r"acceptable|recommended|optimal|expected|appropriate|safe)\b)"
)
# a numbered item of the report or of the question cited as such ("Impression item 3", "point 2 of the findings",
# "option 2"): no number of the patient's
ITEM_REFERENCE = (
    r"\b(?:items?|points?|numbers?|statements?|options?|choices?|questions?|no\.|#)\s*\d{1,2}"
    r"(?:\s*(?:,|and|&|-|to)\s*\d{1,2})*\b(?!\s*(?:cm|mm))"
    # (how many items it has: "an impression that lists four points")
    r"|\b(?:\d{1,2}|two|three|four|five|six|seven|eight)\s+(?:numbered\s+)?(?:points|items|statements|sections|"
    r"parts|options|questions|numbered)\b"
    # (the standard a cardiothoracic ratio is held to: "the cardiothoracic ratio is under 0.5")
    r"|\b(?:cardiothoracic\s+ratio|ctr)\b[^.;\d]{0,30}?(?:0?\.5\b|50\s*%|50\s+percent)"
)
_REFERENCE_RANGE = re.compile(rf"{REFERENCE_RANGE}|{ITEM_REFERENCE}", re.I)
_DIGIT = re.compile(r"\d")
_ORDINAL_RANGE = re.compile(
    r"\b([ctl])?(\d{1,2})(st|nd|rd|th)?\s*(?:-|\u2013|to|through|thru)\s*([ctl])?(\d{1,2})(st|nd|rd|th)?\b"
)
EDIT_MIN = 85  # rapidfuzz ratio of the masked texts above which a step is an edited copy of a sentence
_OTHER_SIDE = {"left": "right", "right": "left"}
_NEGATORS = {"no", "without", "nor", "neither", "none", "nothing", "absent"}
# words after which a negation no longer reaches: "no pneumothorax after line placement" denies no line
_NEGATION_BREAKS = {"after", "following", "from", "since", "despite", "given", "because", "post", "accompanies",
                    "accompany", "accompanying"}
# and what a denied thing would go with: "no pneumothorax associated with the fracture" (not "no associated
# pneumothorax")
_LINKED = {"associated": "with", "related": "to", "secondary": "to", "caused": "by"}
# ("neither is associated with a pneumothorax", "neither related to TB")
_COPULAS = frozenset({"is", "are", "be", "was", "were", "neither", "not"})


def _negated_at(words: list[str], i: int) -> bool:
    """Whether one of the five words before `words[i]` negates it, with no scope break between."""
    for j in range(i - 1, max(0, i - 5) - 1, -1):
        if words[j] in _NEGATION_BREAKS or (
            words[j] in _LINKED and words[j + 1] == _LINKED[words[j]] and words[j - 1] not in _COPULAS
        ):
            return False
        if words[j] in _NEGATORS:
            return True
    return False
_SIDE = {
    "left": "left",
    "right": "right",
    "bilateral": "bilateral",
    "bilaterally": "bilateral",
    "left-sided": "left",
    "right-sided": "right",
    "bibasilar": "bilateral",
    "biapical": "bilateral",
}


def range_between(low: str) -> set[tuple[str, str]]:
    """The numbers a range of ordinals or levels states between its ends ("8th through 10th ribs": 9th;
    "t4-t6": T5), as (value, kind) with kind "th" or "level"; `low` is lower-case text."""
    out: set[tuple[str, str]] = set()
    if not _DIGIT.search(low):  # the pattern tries every word boundary; most texts hold no digit at all
        return out
    for m in _ORDINAL_RANGE.finditer(low):
        lo, hi = int(m.group(2)), int(m.group(5))
        level = m.group(1) or m.group(4)
        if 0 < hi - lo <= 12 and (level or m.group(3) or m.group(6)):
            out.update((f"{level.upper()}{n}", "level") if level else (str(n), "th") for n in range(lo + 1, hi))
    return out


def object_stem(word: str, vocab: OpenVocabulary) -> str:
    """The stem a device word is compared by, short forms spelt out ("ij" -> "jugular", "ng" -> "nasogastric")."""
    return stem(vocab.aliases.get(word, word))


@dataclass
class Facts:
    """What a sentence or clause states, as comparable attributes."""

    text: str
    start: int = 0
    end: int = 0
    anchors: frozenset[str] = frozenset()
    sides: frozenset[str] = frozenset()
    grades: frozenset[int] = frozenset()
    places: dict[str, frozenset[str]] = field(default_factory=dict)
    numbers: frozenset[tuple[str, str]] = frozenset()
    temporal: frozenset[str] = frozenset()
    negated: bool = False
    hedge: str = "certain"
    hedged_anchors: frozenset[str] = frozenset()
    exclusive: bool = False
    classes: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    negated_classes: frozenset[str] = frozenset()
    sequence: tuple[str, ...] = ()
    dominant: frozenset[str] = frozenset()  # the greater side of a bilateral finding ("R > L")
    subject: frozenset[str] = frozenset()  # anchors of the subject a pronoun clause refers to ("It ...")
    side_grades: frozenset[tuple[str, int]] = frozenset()  # "a moderate one on the left, small on the right"
    # anchors taken from the clause before ("It is minimal" after a step about the atelectasis): what the
    # clause speaks of, not what it says (its own words decide whether it drops a hedge)
    borrowed: frozenset[str] = frozenset()
    # (anchor, grade) of a sentence grading two things: "Large right effusion ..., with mild mediastinal shift"
    anchor_grades: frozenset[tuple[str, int]] = frozenset()


_FACTS_CACHE: dict[tuple[int, str], Facts] = text_cache()


def clear_reading_caches() -> None:
    """Empty the caches of clause splits, sentence readings, word kinds and masks (all made by
    `memo.text_cache`) and of stems."""
    clear_text_caches()
    stem.cache_clear()


def read_facts(text: str, vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int], start: int = 0) -> Facts:
    """The comparable attributes of one sentence or clause (cached by text: reports repeat sentences)."""
    key = (id(vocab), text)
    facts = _FACTS_CACHE.get(key)
    if facts is None:
        facts = remember(_FACTS_CACHE, key, _read_facts(text, vocab, lang, grades))
    if start:
        # (a shallow copy with the two offsets set is the object `replace` would build, without re-running
        # the dataclass __init__ over every field: read_facts runs for every clause and report sentence)
        facts = copy(facts)
        facts.start, facts.end = start, start + len(text)
    return facts


def read_words(text: str) -> Facts:
    """A text read for its word sequence only (all that `edited_copy` compares), without the regex work of
    `read_facts`; the sequence is the one `read_facts` gives."""
    return Facts(text, 0, len(text), sequence=_sequence(text.lower()))


def _sequence(low: str) -> tuple[str, ...]:
    """The words an edited copy compares: a reference range or a cited item number is no word of the patient's
    ("Item 1: hyperinflation ..." copies "1. Hyperinflation ...")."""
    return tuple(_TOKEN.findall(_counted(low)))


def _counted(low: str) -> str:
    """A lowercased text without the numbers that are no patient's (reference ranges, cited items)."""
    return _REFERENCE_RANGE.sub(" ", low) if _HAS_NUMBER.search(low) else low


_LEVEL = re.compile(r"\b[ctl]\d{1,2}\b")
# a count joined to a span of time ("two-year stability", "six-month follow-up")
_SPAN_WORD = re.compile(r"([a-z]+)-(?:years?|months?|weeks?|days?|hours?)")
_LOBES = {"rul": "right upper lobe", "rml": "right middle lobe", "rll": "right lower lobe", "lul": "left upper lobe",
          "lll": "left lower lobe"}
_LOBE_SHORT = re.compile(r"\b(?:rul|rml|rll|lul|lll)\b")
# an ordinal that orders the reasoning ("First, the heart is normal"), not a rib or a count
_DISCOURSE_ORDINAL = re.compile(r"\W*(?:first|second|third|fourth|fifth|next|last)(?:ly)?\s*(?:[,:;]|\W*$)")
# "The bony elements are not remarkable": unremarkable, not a denial of something remarkable
_NOT_REMARKABLE = re.compile(r"\bnot\s+remarkable\b", re.I)


def _read_facts(text: str, vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]) -> Facts:
    low = text.lower().replace("-to-", " to ")  # "moderate-to-severe" names two grades
    if "l" in low and _LOBE_SHORT.search(low):
        low = _LOBE_SHORT.sub(lambda m: _LOBES[m.group(0)], low)  # "the RLL" is the right lower lobe
    if "remarkable" in low:
        low = _NOT_REMARKABLE.sub("unremarkable", low)
    words = _TOKEN.findall(low)
    anchors = set()
    classes = set()
    for i, w in enumerate(words):
        if w in vocab.stopwords or w in _SIDE or w in grades or len(w) < 3 or w[0].isdigit() or w in vocab.number_words:
            continue  # (a count, "two", is read as a number, not as a word the thing is named by)
        cls = None if _sign_line(words, i) else vocab.classes.get(w)
        if cls:
            anchors.add(cls)
            classes.add(cls)
        if w not in vocab.weak and not (i and words[i - 1] in _TEXT_PLACES and w in ("line", "lines", "last", "first")):
            anchors.add(stem(w))
    sided_text = _NOT_A_SIDE.sub(" ", vocab.side_places.sub(" ", low))
    sides = {vocab.side_words[w] for w in _TOKEN.findall(sided_text) if w in vocab.side_words}
    if vocab.bilateral.search(sided_text):
        sides.add("bilateral")
    if not sides:
        sides = {side for side, pattern in vocab.implied_sides if pattern.search(sided_text)}
    # (the way a line or lead takes is not where it ends: "courses through the SVC and right atrium and ends in the
    # right ventricle")
    places = _places_in(_PATH.sub(" ", low), vocab)
    numbers = set()
    counted = _counted(low)
    for m in (
        ()
        if not _HAS_NUMBER.search(counted)
        else re.finditer(
            # (an age, "35-year-old", is no finding's number)
            rf"(?<![\w.])(\d+(?:\.\d+)?)(?!{AGE_SUFFIX})"
            r"\s*(cm|mm|centimeters?|millimeters?)?(?![\w])"
            r"|\b(\d+)(?:st|nd|rd|th)\b|\b([ctl])(\d{1,2})\b",
            counted,
        )
    ):
        if m.group(1):
            value = m.group(1).rstrip("0").rstrip(".") if "." in m.group(1) else m.group(1)
            unit = (m.group(2) or "")[:1] + ("m" if m.group(2) else "")
            numbers.add((value, unit))
        elif m.group(3):
            numbers.add((m.group(3), "th"))
        else:
            numbers.add((m.group(4).upper() + m.group(5), "level"))
    if numbers:
        numbers |= range_between(low)
    for i, w in enumerate(words):
        if "-" in w and (span := _SPAN_WORD.fullmatch(w)) and span.group(1) in vocab.number_words:
            w = span.group(1)  # "two-year stability" is two years
        if w in vocab.number_words and not (i == 0 and _DISCOURSE_ORDINAL.match(low)):
            value = vocab.number_words[w]
            numbers.add((value[:-2], "th") if value.endswith("th") else (value, "count"))
    anchors |= {value for value, kind in numbers if kind == "level"}  # "T11" names the thing
    negated_classes = set()
    for i, w in enumerate(words):
        cls = None if _sign_line(words, i) else vocab.classes.get(w)
        if cls and (_negated_at(words, i) or (i and words[i - 1] == "not")):
            if w in vocab.generic_words and i and vocab.classes.get(words[i - 1]) == cls:
                continue  # "endotracheal tube", "sternotomy wires": the specific word says which one
            if w in vocab.generic_words and i and words[i - 1] in _DEVICE_KINDS:
                negated_classes.add(f"{cls}:{stem(words[i - 1])}")  # "no central line": a kind of line, not any line
                continue
            # a specific word ("pacemaker") must be found as such; a generic one ("device") stands for its class
            negated_classes.add(cls if w in vocab.generic_words else f"{cls}:{stem(w)}")
    hedge = hedge_strength(text, lang)
    hedged: set[str] = set()
    if hedge == "certain" and "/" in low:
        # two findings given as alternatives ("small right effusion/hemothorax"): either may be the one
        pairs = [m.groups() for m in _SLASHED.finditer(low)]
        named = {
            w
            for pair in pairs
            if all(p in vocab.terms or p in vocab.classes for p in pair)
            # ("hilar/perihilar lymph nodes": two places of one kind, not two readings)
            and not (vocab.classes.get(pair[0]) and vocab.classes.get(pair[0]) == vocab.classes.get(pair[1]))
            for w in pair
        }
        if named:
            hedge = "possible"
            hedged |= {stem(w) for w in named}
    if hedge != "certain":
        for strength in ("open", "possible", "probable"):
            # every hedge of the sentence hedges its own phrase ("an opacity, probably in the left upper lobe,
            # most suggestive of pneumonia": both the lobe and the pneumonia are probable)
            for n, m in enumerate(lang.hedges[strength].finditer(text)):
                # (to the end of its phrase: "likely hepatic hydrothorax, with right basilar atelectasis" hedges
                # the reading, not the atelectasis)
                tail = _TOKEN.findall(_HEDGE_END.split(text[m.end() :], maxsplit=1)[0].lower())[:6]
                plain: set[str] = set()
                # ("cannot exclude an ascending aortic aneurysm": the object follows the cue, the tortuous aorta before
                # it is stated)
                active = strength == "open" and _ACTIVE_OPEN.search(m.group(0)) and any(
                    w not in vocab.stopwords and w not in vocab.weak and len(w) > 3 for w in tail
                )
                if (strength == "open" and not active) or _EXISTENCE_TAIL.match(text, m.end()):
                    # "aspiration cannot be excluded", "free intraperitoneal air may be present": the subject comes
                    # before the cue
                    tail += _TOKEN.findall(_SCOPE_END.split(text[: m.start()])[-1].lower())[-4:]
                elif not _ALTERNATIVE_CUE.fullmatch(m.group(0).strip()):
                    # what the sentence states before its hedge stays stated ("worsening of multifocal opacities,
                    # concerning for multifocal pneumonia": the opacities are multifocal, the pneumonia is hedged)
                    plain = {stem(w) for w in _TOKEN.findall(text[: m.start()].lower())}
                if n:
                    # a later hedge of the same strength leaves what the sentence states before its first hedge
                    # stated ("an opacity in the anterior mediastinum, possibly the aorta versus an anterior
                    # mediastinal mass": the opacity is in the mediastinum)
                    plain |= {stem(w) for w in _TOKEN.findall(text[: _first_hedge(text, lang) or 0].lower())}
                hedged |= {
                    stem(w) for w in tail if w not in vocab.stopwords and w not in vocab.weak and len(w) > 3
                } - plain
                # a level it hedges ("deformity of a lower thoracic vertebral body, likely T11"), named as the
                # anchors name it
                levels = _LEVEL.findall(_HEDGE_END.split(text[m.end() :], maxsplit=1)[0].lower())
                hedged |= {w.upper() for w in levels} - {w.upper() for w in plain}
    negated = bool(lang.negation_pre.search(lang.negation_exceptions.sub(" ", _NOT_REMARKABLE.sub(" ", text))))
    dominant = set()
    if group_gate(vocab, "dominance", (*vocab.dominant, *vocab.lesser))(low):  # (one needle check for all of them)
        dominant = {m.group("side") for p in vocab.dominant for m in p.finditer(low)}
        dominant |= {_OTHER_SIDE[m.group("side")] for p in vocab.lesser for m in p.finditer(low)}
    if dominant:
        sides.add("bilateral")  # "left greater than right basilar opacity" is on both sides
    return Facts(
        text,
        0,
        len(text),
        frozenset(anchors),
        frozenset(sides),
        frozenset(
            grades[w]
            for i, w in enumerate(words)
            if w in grades and (i + 1 == len(words) or words[i + 1] not in _COMPARATIVES)  # "slightly larger"
        ),
        {k: frozenset(v) for k, v in places.items()},
        frozenset(numbers),
        temporal_classes(text, lang),
        negated,
        hedge,
        frozenset(hedged),
        bool(vocab.exclusive.search(low)),
        frozenset(classes),
        frozenset(words),
        frozenset(negated_classes),
        tuple(_TOKEN.findall(counted)) if counted is not low else tuple(words),
        frozenset(dominant),
        side_grades=_side_grades(low, grades) if len(sides - {"bilateral"}) == 2 else frozenset(),
        anchor_grades=_anchor_grades(low, grades, vocab) if len({grades[w] for w in words if w in grades}) > 1
        else frozenset(),
    )


_PATH = prefiltered(re.compile(
    r"\b(?:courses?|coursing|passes|passing|pass|runs?|running|travels?|travell?ing|extends?|extending|goes|going|"
    r"threads?|threading|descends?|descending)\s+(?:down\s+|up\s+)?(?:through|via|across|along)\s+[^,;.]*?"
    r"(?=\s+(?:and\s+)?(?:then\s+)?(?:ends?|ending|terminat\w*|into|to|with\s+(?:its\s+|the\s+)?tip)\b|[,;.]|$)"
    # (nor where it comes from or what it passes: "courses from the right upper extremity centrally into the SVC",
    # "crosses the midline via the left brachiocephalic vein", "extends past the cavoatrial junction")
    r"|\b(?:courses?|coursing|passes|runs?|travels?|extends?|enters?|entering|comes?|coming|arises?|arising)\s+"
    r"(?:centrally\s+)?from\s+[^,;.]*?(?=\s+(?:centrally\s+)?(?:and\s+)?(?:into|to|toward|towards|with)\b|[,;.]|$)"
    r"|\bcross(?:es|ing)?\s+(?:the\s+)?midline\s+(?:via|through|along|in)\s+[^,;.]*"
    r"|\b(?:extends?|extending|passes|passing|projects?|projecting)\s+(?:just\s+)?(?:past|beyond)\s+[^,;.]*?"
    r"(?=\s+(?:and|with|into|to)\b|[,;.]|$)"
    # (nor where it should go: "advanced so that the tip lies within the stomach", "until it reaches the SVC")
    r"|\bso\s+(?:that\s+)?(?:the\s+|its\s+)?(?:tip\s+)?(?:lies|is|sits|rests|ends|reaches|terminates)\b[^,;.]*"
    r"|\buntil\s+(?:the\s+|its\s+)?(?:tip\s+)?(?:it\s+)?(?:lies|is|sits|rests|ends|reaches|terminates)\b[^,;.]*"
))


# what a hedge says of the thing before it is that it is there ("... may be present", "could be seen")
_EXISTENCE_TAIL = re.compile(
    r"\s+(?:also\s+)?(?:be\s+)?(?:present|there|seen|noted|identified|visible|evident|demonstrated|appreciated)\b"
    r"(?!\s+(?:in|on|at|along|within|over|as)\b)",
    re.I,
)


_GRADE_SEGMENT = re.compile(r"[,;]|\band\b|\bwith\b|\bwhile\b|\bbut\b")


# a line that is a sign on the film, not a device: "a visceral pleural line" (pneumothorax), "Kerley B lines"; or a
# line of the report's text ("the last line of the findings")
_TEXT_PLACES = frozenset({"the", "last", "first", "final", "next", "opening", "closing", "second", "third"})
_SIGN_LINE_AFTER = frozenset({
    "pleural", "visceral", "septal", "b", "kerley", "skin", "fissural", "fissure", "azygos", "fracture", "fractures",
    "lucent", *(_TEXT_PLACES - {"the"}),
})


def _sign_line(words: list[str], i: int) -> bool:
    return words[i] in ("line", "lines") and i > 0 and words[i - 1] in _SIGN_LINE_AFTER


# a hedge that makes what comes before it one of two readings too ("effusion versus pleural thickening")
_ALTERNATIVE_CUE = re.compile(r"versus|vs|and/or", re.I)
# (or at a new item of a list: "Stable borderline cardiomegaly, stable mediastinal and hilar contours")
# (or at a clause of its own after "and": "malignancy cannot be excluded, and chest CT is recommended")
_HEDGE_END = re.compile(
    r";|,\s+with\b|,\s+(?:and\s+|while\s+)?(?:there|the)\b|,\s+(?:and\s+)?(?:stable|unchanged|normal|no)\b"
    r"|\s+and\s+(?=(?:[\w-]+\s+){0,3}?(?:is|are|was|were|should|would|could|can|will)\s)"
    # (the reason for the reading is stated: "likely benign given 2-year stability")
    r"|\s+(?:given|because\s+of|in\s+view\s+of)\s",
    re.I,
)


def _graded_stretches(low: str, grades: dict[str, int]) -> Iterator[tuple[list[str], int]]:
    """(words, grade) of each stretch of a sentence between commas / "and" / "with" that has one grade word."""
    for part in _GRADE_SEGMENT.split(low):
        words = _TOKEN.findall(part)
        found = {grades[w] for w in words if w in grades}
        if len(found) == 1:
            yield words, found.pop()


def _side_grades(low: str, grades: dict[str, int]) -> frozenset[tuple[str, int]]:
    """(side, grade) pairs of a sentence naming both sides: each graded stretch that has one side ("left small,
    right moderate in size")."""
    pairs = set()
    for words, grade in _graded_stretches(low, grades):
        sides = {_SIDE[w] for w in words if w in ("left", "right")}
        if len(sides) == 1:
            pairs.add((sides.pop(), grade))
    return frozenset(pairs)


def _anchor_grades(low: str, grades: dict[str, int], vocab: OpenVocabulary) -> frozenset[tuple[str, int]]:
    """(anchor, grade) pairs of a sentence with several grades: each graded stretch gives its grade to its own
    words ("Large right pleural effusion, increased from prior, with mild leftward mediastinal shift": the
    shift is mild, the effusion large)."""
    return frozenset(
        (stem(w), grade)
        for words, grade in _graded_stretches(low, grades)
        for w in words
        if w not in grades and w not in vocab.weak and len(w) > 2
    )


def _grades_of(s: Facts, clause: Facts) -> frozenset[int]:
    """The grades a report sentence gives the clause's thing: those its stretches bind to the clause's words,
    else all of the sentence's."""
    bound = frozenset(g for a, g in s.anchor_grades if a in clause.anchors)
    if not bound and s.side_grades and len(clause.sides & _LEFT_RIGHT) == 1:
        # the grade the sentence gives one side's thing, for a clause about the other side ("large right effusion
        # with leftward mediastinal shift" grades nothing on the left)
        return frozenset(g for side, g in s.side_grades if side in clause.sides)
    return bound or s.grades


def report_sentences(text: str, vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]) -> list[Facts]:
    """The report cut into sentences (offsets into `text`), each read as Facts."""
    out = []
    for m in _SENTENCE.finditer(text):
        piece = m.group(0)
        if len(piece.strip()) < 3:
            continue
        header = re.match(r"\s*(?:[A-Z][A-Z ]+:\s*)+", piece)
        s = m.start() + (header.end() if header else len(piece) - len(piece.lstrip()))
        body = text[s : m.end()].rstrip()
        if body:
            facts = read_facts(body, vocab, lang, grades, s)
            if not facts.temporal and lang.continuation.search(body):
                # "Aorta remains tortuous", "Continued slight cardiomegaly": the report says it is as it was
                facts = copy(facts)
                facts.temporal = _UNCHANGED
            if out and _REPORT_PRONOUN.match(body) and not facts.anchors - vocab.weak:
                # "These are unchanged since the previous examination." speaks of the sentence before it
                facts = copy(facts)
                facts.anchors = facts.anchors | out[-1].anchors
                facts.subject = out[-1].anchors
                facts.sides = facts.sides or out[-1].sides
                if facts.hedge == "certain" and out[-1].hedge != "certain":
                    # "This could indicate DISH. This is similar to prior imaging.": still only possible
                    facts.hedge, facts.hedged_anchors = out[-1].hedge, facts.hedged_anchors | out[-1].hedged_anchors
            out.append(facts)
    return out


_UNCHANGED = frozenset({"unchanged"})
_REPORT_PRONOUN = re.compile(r"\W*(?:these|they|it|this|those|both)\b", re.I)


@dataclass
class Finding:
    """One open-vocabulary disagreement (reason code) with the report sentence behind it."""

    reason: str
    evidence: Facts | None


# comparatives as stems: what a change over time says of a thing, not a word it is named by
_CHANGE_STEMS = frozenset(
    stem(w) for w in ("wider", "larger", "bigger", "smaller", "narrower", "worse", "better", "different", "differs")
)


def align(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Facts]:
    """Report sentences speaking of the same thing as the clause (best first).

    A clause that opens on a pronoun ("It then passes below the diaphragm") is aligned on its own
    words first, then together with the subject it refers to.
    """
    found = _align(clause, clause.anchors, sentences, vocab)
    if not found and clause.subject - clause.anchors:
        found = _align(clause, clause.subject, sentences, vocab)
    return found


def _align(clause: Facts, anchors: frozenset[str], sentences: list[Facts], vocab: OpenVocabulary) -> list[Facts]:
    strong = {a for a in anchors if a not in vocab.weak}
    if clause.temporal and strong - _CHANGE_STEMS:
        strong -= _CHANGE_STEMS  # "wider than on the prior film": the change, not a word the thing is named by
    if not strong:
        return []
    # a word of a synonym class ("curve" for a report's "scoliosis": spine) is matched by its class
    by_class = {}
    for w in clause.words:
        cls = vocab.classes.get(w)
        if cls in vocab.synonym_classes and w not in vocab.weak:
            by_class.setdefault(cls, set()).add(stem(w))
    named = {
        stem(w)
        for w in clause.words
        if vocab.classes.get(w) in vocab.must_be_named and w not in vocab.generic_words and stem(w) in strong
    }
    aliased = {a: vocab.same_thing[a] for a in strong if a in vocab.same_thing}
    scored = []
    hidden: list[Facts] = []
    for s in sentences:
        shared = strong & s.anchors
        if len(shared) < len(strong):
            # one word in two forms, cut at different lengths ("tortuous" / "tortuosity")
            prefixes = _prefixes(s)
            shared |= {a for a in strong - shared if len(a) >= 6 and a[:6] in prefixes and a[:6] not in _HEADS}
            if aliased:
                # one thing under two words ("aortic arch" / "descending aorta", "osseous" / "bony")
                things = {vocab.thing(x) for x in s.anchors}
                shared |= {a for a, thing in aliased.items() if thing in things}
        for cls, stems in by_class.items():
            if cls in s.anchors:
                shared |= stems & strong
        if len(named) == 1 and shared & named:
            # the same specific object ("PICC", "sternotomy") however long the clause
            scored.append((1.0, len(shared), s))
            continue
        if len(shared) >= vocab.min_shared or (len(strong) <= 2 and shared and len(shared) == len(strong)):
            scored.append((len(shared) / len(strong), len(shared), s))
        elif shared and "XXXX" in s.text and _hidden_thing(strong - shared, clause.words, vocab):
            hidden.append(s)
    scored = [t for t in scored if t[0] >= vocab.min_cover]
    if not scored and hidden:
        # no sentence names the thing, one names all of it but the one word its de-identified word hides ("upper
        # thoracic fusion hardware" for "lower cervical fusion XXXX")
        return hidden[:1]
    scored.sort(key=lambda t: (-t[0], -t[1], t[2].start))
    return [s for _, _, s in scored]


_PREFIXES: dict[int, tuple[Facts, frozenset[str]]] = text_cache()
# six letters that begin different findings ("pneumothorax" / "pneumonia", "cardiomegaly" / "cardiomediastinal")
_HEADS = frozenset({"pneumo", "cardio", "bronch", "hypert", "hypere", "hyperi", "interl", "intrap", "subseg"})


def _prefixes(s: Facts) -> frozenset[str]:
    """The six-letter prefixes of a sentence's longer anchors (once per sentence)."""
    entry = _PREFIXES.get(id(s))
    if entry is None or entry[0] is not s:
        entry = (s, frozenset(a[:6] for a in s.anchors if len(a) >= 6))
        remember(_PREFIXES, id(s), entry, limit=50_000)
    return entry[1]


def restates(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> bool:
    """Whether one report sentence says everything the clause says: each of its (three or more) strong words
    (matched on their first five letters: "humerus" / "humeral"), its sides, grades, numbers, places, change
    over time and polarity. A long clause may leave one plain word (no object class) unmatched. A restatement
    like this is grounded even when the lexicon cannot name its finding ("fixation hardware")."""
    strong = {a for a in clause.anchors if a not in vocab.weak}
    if len(strong) < 3:
        return False
    for s in sentences:
        if s.negated != clause.negated or not (clause.sides <= s.sides and clause.numbers <= s.numbers):
            continue
        if not (clause.grades <= s.grades and clause.temporal <= s.temporal):
            continue
        if any(not names <= s.places.get(family, frozenset()) for family, names in clause.places.items()):
            continue
        prefixes = {a[:5] for a in s.anchors if len(a) >= 5}
        missed = [a for a in strong if a not in s.anchors and not (len(a) >= 5 and a[:5] in prefixes)]
        if not missed or (len(missed) == 1 and len(strong) >= 6 and missed[0] not in vocab.classes.values()):
            return True
        if len(strong) - len(missed) >= 2 and "XXXX" in s.text and _one_word(missed, clause.words, vocab):
            return True  # the one word the report's de-identified word hides ("stabilization hardware" for
            # "stabilization XXXX", "sternotomy wires" for "sternotomy XXXX")
    return False


def _hidden_thing(anchors: set[str], words: frozenset[str], vocab: OpenVocabulary) -> bool:
    """Whether `anchors` all come from one of `words` that names a kind of object ("hardware", "prosthetic")."""
    return _one_word(list(anchors), frozenset(w for w in words if vocab.classes.get(w)), vocab)


def _one_word(anchors: list[str], words: frozenset[str], vocab: OpenVocabulary) -> bool:
    """Whether `anchors` all come from one of `words`."""
    return any(set(anchors) <= {stem(w), vocab.classes.get(w)} for w in words if w not in vocab.stopwords)


def compare(
    clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage, prior: bool = False
) -> list[Finding]:
    """Disagreements between a step clause and the report sentences it aligns with (`prior`: the report's
    comparison field names an earlier exam)."""
    out = _compare(clause, sentences, vocab, lang, prior)
    if not out and _unmatched_change(clause, sentences, lang):
        out = [Finding("temporal_conflict", None)]
    if not out:
        elsewhere = _spine_elsewhere(clause, sentences)
        if elsewhere is not None:
            out = [Finding("location_conflict", elsewhere)]
    if not out:
        other_way = _shifted_other_way(clause, sentences)
        if other_way is not None:
            out = [Finding("laterality_conflict", other_way)]
    if not out:
        elsewhere = _other_segment(clause, sentences) or _other_vessel(clause, sentences, vocab)
        if elsewhere is not None:
            out = [Finding("location_conflict", elsewhere)]
    return out


def _other_vessel(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """A finding the step places in a vessel where the report places the same finding in another vessel and names
    the step's nowhere ("calcifications in the coronary arteries" for "calcifications of the thoracic aorta"), however
    much else the step's clause says."""
    mine = clause.places.get("vessel")
    if clause.negated or clause.hedge != "certain" or not mine:
        return None
    if any(not s.negated and s.places.get("vessel", frozenset()) & mine for s in sentences):
        return None
    own = clause.anchors - vocab.weak - _VESSEL_STEMS
    return next(
        (s for s in sentences if not s.negated and s.places.get("vessel") and own & (s.anchors - _VESSEL_STEMS)),
        None,
    )


_VESSEL_STEMS = frozenset(stem(w) for w in (
    "aorta", "aortic", "coronary", "coronaries", "carotid", "carotids", "artery", "arteries", "arterial", "vessel",
    "vessels", "vascular",
))


def _other_segment(clause: Facts, sentences: list[Facts]) -> Facts | None:
    """A segment of a lobe the step names where the report names another segment of the same lobe on the same side
    and none the step names ("the posterior basal segment of the left lower lobe" for "the superior segment of the
    left lower lobe"), however differently the two word the thing in it."""
    mine, lobes = clause.places.get("segment"), clause.places.get("lobe")
    if clause.negated or not mine or not lobes:
        return None
    same_lobe = [
        s for s in sentences
        if not s.negated and s.places.get("segment") and s.places.get("lobe", frozenset()) & lobes
        and (not clause.sides or not s.sides or clause.sides & s.sides)
    ]
    if same_lobe and not any(s.places["segment"] & mine for s in same_lobe):
        return same_lobe[0]
    return None


# the way the mediastinum or trachea is pushed ("leftward mediastinal shift", "trachea deviated to the right"): one
# side of its own in a sentence that may name the other side for the effusion doing the pushing
_SHIFT_WAY = re.compile(
    r"\b(left|right)ward\s+(?:[\w-]+\s+){0,2}?(?:shift|deviation|displacement)\b"
    r"|\b(?:shift(?:ed)?|deviat\w*|displac\w*)\s+(?:[\w-]+\s+){0,4}?(?:to|toward|towards)\s+(?:the\s+)?(left|right)\b",
    re.I,
)


_SHIFT_STEMS = frozenset({"shift", "displac", "deviat"})


def _shifted_other_way(clause: Facts, sentences: list[Facts]) -> Facts | None:
    """A shift the step puts on the other side than the report does ("the mediastinum is displaced toward the
    right" for "leftward mediastinal shift")."""
    if clause.negated or not clause.anchors & _SHIFT_STEMS:
        return None
    mine = {(m.group(1) or m.group(2)).lower() for m in _SHIFT_WAY.finditer(clause.text)}
    if len(mine) != 1:
        return None
    for s in sentences:
        if s.negated or not s.anchors & _SHIFT_STEMS:
            continue
        theirs = {(m.group(1) or m.group(2)).lower() for m in _SHIFT_WAY.finditer(s.text)}
        if theirs and not theirs & mine:
            return s
    return None


# which way a line or tube moved since the prior exam: in ("advanced") or out ("pulled back"); a move recommended
# ("could be withdrawn 2 cm") is not one made
_MOVED_IN = re.compile(
    r"\b(?:advanced|pushed\s+(?:in|further)|inserted\s+further|(?:moved|migrated)\s+(?:further\s+)?(?:in|distally|deeper))\b",
    re.I,
)
_MOVED_OUT = re.compile(
    r"\b(?:pulled\s+back|withdrawn|retracted|backed\s+out|pulled\s+out|(?:moved|migrated)\s+(?:back|out|proximally))\b",
    re.I,
)
_MOVE_ADVISED = re.compile(
    r"\b(?:could|should|would|may|might|can|must|recommend\w*|consider\w*|suggest\w*|advis\w*|needs?\s+to)"
    r"\s+(?:\w+\s+){0,2}?$",
    re.I,
)


def _move_way(s: Facts) -> str | None:
    ways = {
        way
        for way, pattern in (("in", _MOVED_IN), ("out", _MOVED_OUT))
        for m in pattern.finditer(s.text)
        if not _MOVE_ADVISED.search(s.text[: m.start()])
    }
    return next(iter(ways)) if len(ways) == 1 else None


def _moved_other_way(clause: Facts, pool: list[Facts]) -> Facts | None:
    """A line or tube the step moves one way since the prior exam where the report moves it the other ("the
    catheter has been advanced" for "pulled back slightly compared to the prior study")."""
    if clause.negated or "line_tube" not in clause.classes:
        return None
    mine = _move_way(clause)
    if mine is None:
        return None
    for s in pool:
        if "line_tube" in s.classes and not s.negated:
            theirs = _move_way(s)
            if theirs is not None and theirs != mine:
                return s
    return None


# the spine of a planned operation or the history, not the one on this film ("a preop film before lumbar spine
# surgery")
_NOT_THIS_SPINE = re.compile(r"\b(?:surgery|preop\w*|pre-?operative|planned|scheduled|history|indication)\b", re.I)


def _spine_elsewhere(clause: Facts, sentences: list[Facts]) -> Facts | None:
    """A part of the spine the report never names where it names another ("spondylosis in the cervical spine" for
    "Thoracic spondylosis."): there is one spine, so the part is moved, whether or not the clause aligns."""
    if clause.negated or clause.hedge != "certain" or _NOT_THIS_SPINE.search(clause.text):
        return None
    for family, plain in (("spine_region", {"thoracic"}), ("spine_level", set())):
        mine = clause.places.get(family, frozenset()) - plain
        if not mine:
            continue
        placing = [s for s in sentences if not s.negated and s.places.get(family)]
        if placing and not any(mine & s.places[family] for s in placing):
            return placing[0]
    return None


_REMOVAL = re.compile(r"\b(?:removed|removal|withdrawn|explanted|taken\s+out)\b", re.I)


def _removed_other_side(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Finding]:
    """A removal stated on one side where the report removes the thing on the other ("the left-sided catheter has
    been removed" for "Interval removal of right-sided tunneled dialysis catheter")."""
    sides = clause.sides & _LEFT_RIGHT
    if len(sides) != 1 or not _REMOVAL.search(clause.text):
        return []
    own = clause.anchors - vocab.weak - _REMOVAL_STEMS
    removals = [s for s in sentences if _REMOVAL.search(s.text) and s.anchors & own and s.sides & _LEFT_RIGHT]
    if removals and not any(s.sides & sides for s in removals):
        return [Finding("laterality_conflict", removals[0])]
    return []


_REMOVED_SUBJECT = re.compile(
    r"^\W*(?:(?:and|but|so|also)\s+)?(?:the\s+|both\s+|all\s+)?(?P<subject>(?:[\w-]+\s+){1,4}?)"
    r"(?:has|have|had)\s+(?:\w+\s+)?been\s+(?:\w+\s+)?(?:removed|withdrawn|explanted|taken\s+out)\b",
    re.I,
)
_IN_PLACE = re.compile(
    r"\b(?:in\s+place|remains?|remain(?:ing|ed)|persists?|unchanged|stable|terminat\w*|tips?)\b", re.I
)


def _removed_in_place(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Finding]:
    """A line, tube or drain the step says has been removed where the report has it in place ("The mediastinal
    drains have already been removed" for "Left chest tube and mediastinal drains in place")."""
    if clause.hedge != "certain" or "line_tube" not in clause.classes:
        return []
    m = _REMOVED_SUBJECT.match(clause.text)
    if m is None:
        return []
    words = [w for w in _TOKEN.findall(m.group("subject").lower()) if w not in vocab.stopwords]
    subject = {stem(w) for w in words if w not in vocab.weak and w not in _SIDE}
    if not any(vocab.classes.get(w) == "line_tube" for w in words) or len(subject) < 2:
        return []  # ("the tube has been removed": which tube the report keeps is another matter)
    sides = {vocab.side_words[w] for w in words if w in vocab.side_words}
    for s in sentences:
        if s.negated or s.hedge != "certain" or _REMOVAL.search(s.text) or not _IN_PLACE.search(s.text):
            continue
        if subject <= s.anchors and not (sides and s.sides and not sides & s.sides):
            return [Finding("negation_conflict", s)]
    return []


# (the removal words themselves, as the anchors hold them: "withdrawn" is "withdra")
_REMOVAL_STEMS = frozenset(stem(w) for w in ("removed", "removal", "withdrawn", "explanted"))


# a change the report states of one thing vouches for the same kind of change only ("has cleared" beside "improved
# aeration"; "new" beside nothing new)
_SAME_CHANGE = {"resolved": frozenset({"decreased"}), "decreased": frozenset({"resolved"})}


def _unmatched_change(clause: Facts, sentences: list[Facts], lang: StepLanguage) -> bool:
    """A certain clause that compares with an earlier exam ("compared with the prior, the heart has grown", "it is
    new since the last film") and states a kind of change no report sentence states of anything: whatever "it" is,
    the report does not say so."""
    claimed = clause.temporal & _CHANGE_CLASSES
    if clause.negated:
        claimed &= {"resolved"}  # "no new infiltrate" denies a change; "the effusion has resolved" states one
    if "new" in claimed and _NOT_NEW.search(clause.text):
        claimed -= {"new"}  # "chronic rather than a new process", "would not explain new chest pain"
    if (
        not claimed
        or clause.hedge != "certain"
        or not sentences
        or _WEIGHS_CHANGE.search(clause.text)
        or not lang.change_claim.search(clause.text)
    ):
        return False
    if any(not s.temporal & _CHANGE_CLASSES and lang.change_claim.search(s.text) for s in sentences):
        return False  # the report compares in words the change classes do not read ("interval sternotomy")
    said = frozenset().union(*(s.temporal for s in sentences))
    if any(_REMOVAL.search(s.text) for s in sentences):
        said |= {"resolved"}  # "there has been removal of the PICC": the line "is no longer present"
    return not any(
        said & ({c} | lang.temporal_compatible.get(c, frozenset()) | _SAME_CHANGE.get(c, frozenset())) for c in claimed
    )


_NOT_NEW = re.compile(
    r"\b(?:no|not|nothing|without|any|rather\s+than|never)\s+(?:\w+\s+){0,3}?new(?:ly)?\b|[\"'“]new\b", re.I
)
_WEIGHS_CHANGE = re.compile(r"\b(?:whether|asked|asks|question)\b", re.I)


def _resolved_elsewhere(clause: Facts, aligned: list[Facts]) -> list[Finding]:
    """A thing the clause says has resolved on one side or in one lobe where the report's resolved thing was on the
    other side or in another lobe ("the previously noted right lower lobe opacity has resolved" against "interval
    resolution of previously seen left lower lobe opacity")."""
    if "resolved" not in clause.temporal:
        return []
    resolved = [s for s in aligned[:3] if "resolved" in s.temporal]
    if not resolved:
        return []
    mine, lobes = clause.sides & _LEFT_RIGHT, clause.places.get("lobe", frozenset())
    if mine and all(s.sides & _LEFT_RIGHT and not s.sides & mine for s in resolved):
        return [Finding("laterality_conflict", resolved[0])]
    if lobes and all(s.places.get("lobe") and not s.places["lobe"] & lobes for s in resolved):
        return [Finding("location_conflict", resolved[0])]
    return []


def _compare(
    clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage, prior: bool = False
) -> list[Finding]:
    aligned = align(clause, sentences, vocab)
    if clause.negated:
        # "no left effusion" beside "small right effusion" is no side conflict: a negated clause is
        # checked for what it denies (a device the report has, a finding the report keeps open)
        out = (
            _class_negation(clause, aligned or sentences, vocab)
            or _polarity_conflict(clause, sentences, vocab, lang)
            or _listed_denial(clause, sentences, vocab, lang)
            or _denied_device(clause, sentences, lang)
            or _resolved_elsewhere(clause, aligned)
        )
        denied = _negated_anchors(clause, lang) - vocab.weak
        # the report itself says "No effusion." whatever it keeps open elsewhere ("Question pericardial effusion")
        said = bool(denied) and any(s.negated and denied <= _denial_scope(s, vocab, lang) for s in sentences)
        if not said and aligned and aligned[0].hedged_anchors & denied and not aligned[0].negated:
            out.append(Finding("uncertainty_dismissed", aligned[0]))
        elif not said and aligned and aligned[0].hedge == "open" and clause.hedge == "certain" and not out:
            # "Sarcoidosis cannot be excluded" read back as "sarcoidosis is excluded"
            out.append(Finding("uncertainty_dismissed", aligned[0]))
        if not out:
            out = _omitted_but_said(clause, sentences, vocab, lang)
        if not out:
            out = _removed_other_side(clause, sentences, vocab) or _removed_in_place(clause, sentences, vocab)
        if not out:
            out = _state_conflict(clause, sentences, lang)  # what it affirms before its denial
        if not out and not said:
            # "there's no air trapping" for "air trapping versus inspiratory effort"
            chosen = _one_alternative(clause, sentences, vocab) or _kept_other(clause, denied, sentences, vocab)
            if chosen is not None:
                out.append(Finding("uncertainty_dismissed", chosen))
        if not out:
            partial = _absolute_denial(clause, sentences, vocab, lang)
            if partial is not None:
                out.append(Finding("uncertainty_dismissed", partial))
        if not out:
            boosted = _boosted_denial(clause, aligned, sentences, lang)
            if boosted is not None:
                out.append(Finding("uncertainty_overstated", boosted))
        # (with an earlier exam on file, "nothing new since the prior" may hold; "the opacity seen before has
        # resolved" still needs a report sentence that says so)
        if (
            not out
            and not (prior and "resolved" not in clause.temporal)
            and not any(s.temporal or _REMOVAL.search(s.text) for s in sentences)
            and _unfounded_change(clause, sentences, lang)
        ):
            # "the opacity seen on the prior has resolved", "no effusion, unchanged from the prior exam" where the
            # report compares with nothing
            out.append(Finding("temporal_conflict", aligned[0] if aligned else None))
        if not out:
            # what it calls normal before its denial ("with both hemidiaphragms at their usual level and no effusion")
            out = _called_normal(clause, sentences, vocab, lang)
        return out
    invented = (
        _unnamed_objects(clause, sentences, vocab)
        or _unnamed_terms(clause, sentences, vocab)
        # (an earlier exam on file does not vouch for "unchanged" where the report says nothing of change)
        or _unfounded_change(clause, sentences, lang)
    )
    if invented:
        return invented
    flipped = (
        _polarity_conflict(clause, sentences, vocab, lang)
        or _called_normal(clause, sentences, vocab, lang)
        or _non_prefixed(clause, sentences)
        or _called_abnormal(clause, sentences, vocab)
        or _state_conflict(clause, sentences, lang)
        or _normal_but_abnormal(clause, sentences, vocab)
    )
    if flipped:
        return flipped
    # a negated report sentence still speaks of change when it says the thing resolved, and of what it
    # affirms before its "without"
    aligned = [
        s for s in aligned if not s.negated or "resolved" in s.temporal or _affirmed_before(s, clause, vocab, lang)
    ]
    moved = _single_tip_moved(clause, aligned, sentences, vocab)
    if moved:
        return moved
    if not aligned:
        loose = _loose_side_conflict(clause, sentences, vocab)
        if loose is not None:
            return [Finding("laterality_conflict", loose)]
        chosen = _one_alternative(clause, sentences, vocab) or _overstated(clause, [], sentences, vocab)
        return [Finding("uncertainty_overstated", chosen)] if chosen is not None else []
    best = aligned[0]
    pool = aligned[:3]
    out: list[Finding] = []
    # a sided clause is read against the sentences about its side: "the left effusion has increased" against
    # "Small left pleural effusion is unchanged", not against the right one's "interval increase"
    sided = _on_side(clause, pool)
    if clause.temporal and any(s.temporal for s in sided):
        report_t = frozenset().union(*(s.temporal for s in sided))
        if clause.hedge != "certain":
            report_t -= {AGE_UNKNOWN}  # "an acute fracture cannot be excluded" of an age-indeterminate one
        if temporal_conflict(clause.temporal, report_t, lang):
            out.append(Finding("temporal_conflict", next(s for s in sided if s.temporal)))
    elif _unsaid_change(clause, sentences, vocab, lang):
        out.append(Finding("temporal_conflict", best))
    if not out:
        backward = _moved_other_way(clause, pool)
        if backward is not None:
            out.append(Finding("temporal_conflict", backward))
    # one side of what the report has on both ("a small right effusion" for "small bilateral effusions") is a
    # wrong side unless the clause ranks the sides ("worse on the right")
    one_of_two = len(clause.sides) == 1 and not clause.dominant and best.sides == {"bilateral"}
    bilateral_ok = _bilateral_ok(clause.sides, best.sides) and not clause.exclusive and not one_of_two
    # (a side called normal says nothing against the other side's finding: "The right costophrenic angle is sharp"
    # beside "blunting of the left costophrenic angle")
    normal_side = bool(clause.words & vocab.normal_words) and not best.words & vocab.normal_words \
        and "bilateral" not in clause.sides  # ("both angles are sharp" says each is)
    # ("a small right effusion only" for small bilateral effusions, right greater than left)
    only_one = clause.exclusive and len(clause.sides & _LEFT_RIGHT) == 1 and "bilateral" in best.sides \
        and "bilateral" not in clause.sides
    if clause.sides and best.sides and (not clause.sides <= best.sides or only_one) and not bilateral_ok \
            and not normal_side:
        near = aligned if len(clause.sides) < 2 else aligned + [s for s in sentences if s.anchors & clause.anchors]
        if len(clause.sides) < 2:
            near = near + _sharing_three(clause, sentences, near, vocab)
        if only_one or not clause.sides <= frozenset().union(*(_sides_of_thing(s, clause, vocab) for s in near)):
            # (every aligned sentence, and for a clause naming two sides every sentence sharing a word with it:
            # "biapical scarring and a right upper lobe granuloma" names two things)
            out.append(Finding("laterality_conflict", best))
    if clause.sides & _LEFT_RIGHT and "laterality_conflict" not in {f.reason for f in out} and not normal_side:
        placed = pool + _sharing_three(clause, sentences, pool, vocab) if clause.places else pool
        swapped = _other_side_of_place(clause, placed) or _swapped_side_places(clause, pool)
        if swapped is not None:
            out.append(Finding("laterality_conflict", swapped))
    if clause.dominant and len(clause.dominant) == 1 and "laterality_conflict" not in {f.reason for f in out}:
        clash = _dominance_conflict(clause, pool, sentences, vocab)
        if clash is not None:
            out.append(Finding("laterality_conflict", clash))
    graded = _grades_of(sided[0], clause)
    if clause.grades and graded and not clause.grades & graded and not _low_end(clause.grades, graded):
        if not any(clause.grades & _grades_of(s, clause) for s in sided):
            out.append(Finding("severity_conflict", sided[0]))
    if clause.side_grades and "severity_conflict" not in {f.reason for f in out}:
        theirs = {side: grade for s in pool for side, grade in s.side_grades}
        if any(
            side in theirs and grade != theirs[side] and not _low_end(frozenset({grade}), frozenset({theirs[side]}))
            for side, grade in clause.side_grades
        ):
            out.append(Finding("severity_conflict", best))
    for family, names in clause.places.items():
        # (the best aligned sentence that places the thing at all: "osteophytes along the lumbar spine, as well as
        # calcified hilar nodes" aligns best with the nodes, its spine sits in "T-spine osteophytes")
        placing = next((s for s in pool if family in s.places), best)
        theirs = placing.places.get(family)
        # each place named in some aligned sentence, or for two places in some sentence sharing a word with the
        # clause ("the arch is calcified and the descending aorta tortuous")
        near = pool if len(names) < 2 else pool + [s for s in sentences if s.anchors & clause.anchors - vocab.weak]
        if theirs and names - theirs and not all(any(n in s.places.get(family, ()) for s in near) for n in names):
            out.append(Finding("location_conflict", placing))
            break
    else:
        invented = _invented_place(clause, pool, sentences, vocab)
        if invented:
            out.append(Finding("location_not_in_report", best))
    measured = {n for n in clause.numbers if n[1] in ("cm", "mm")}
    if measured:
        # the sizes the aligned sentences give, else any size in the report
        report_measures = {n for s in pool for n in s.numbers if n[1] in ("cm", "mm")} or {
            n for s in sentences for n in s.numbers if n[1] in ("cm", "mm")
        }
        if report_measures and not {_in_mm(n) for n in measured} <= {_in_mm(n) for n in report_measures}:
            # (one size in two units: "0.8 cm" for "8 mm")
            out.append(Finding("ungrounded_number", best))
    counted = (
        _count_conflict(clause, pool, vocab)
        or _invented_count(clause, sentences, vocab)
        or _one_or_many(clause, sentences, vocab)
    )
    if counted is not None:
        out.append(Finding("ungrounded_number", counted))
    for kind in ("th", "level", "count"):
        mine = {v for v, k in clause.numbers if k == kind}
        if not mine or not any(k == kind for s in pool for _, k in s.numbers):
            continue
        near = _numbered_near(clause, aligned, sentences, vocab)
        theirs = {v for s in near for v, k in s.numbers if k in (kind, "", "count")}
        if not mine <= theirs:
            out.append(Finding("ungrounded_number", best))
            break
    else:
        if (
            any(k in ("th", "level") for _, k in clause.numbers)
            and clause.places.get("bone")
            and "XXXX" not in best.text
            and not any(k in ("th", "level") for s in sentences for _, k in s.numbers)
        ):
            # "healed fractures of the left 5th and 6th ribs" where the report numbers no rib or vertebra
            out.append(Finding("ungrounded_number", best))
    hedged = _hedged_source(clause, aligned, vocab) if not clause.negated and clause.hedge == "certain" else None
    if hedged is not None:
        out.append(Finding("uncertainty_overstated", hedged))
    else:
        softer = _overstated(clause, aligned, sentences, vocab) or _one_alternative(clause, sentences, vocab)
        if softer is not None:
            out.append(Finding("uncertainty_overstated", softer))
    return out


# "A versus B", "either A or B", "A and/or B": two readings the report leaves open ("eventration of the left
# hemidiaphragm versus hernia": the first reading is the noun before "of")
_ALTERNATIVE = re.compile(
    r"\b([a-z][a-z-]{3,})(?:\s+of\s+(?:the\s+)?(?:(?:left|right)\s+)?([a-z-]+))?\s*,?\s+(versus|vs\.?|or|and/or)\s+"
    r"(?:(?:possibly|likely|less|more|an?|small|mild|minimal|early|focal|subtle|xxxx|chronic|old|acute|residual|"
    r"subsegmental|discoid|linear|patchy|plate-?like|bandlike|developing)\s+)*([a-z][a-z-]{3,})"
)
_SLASHED = re.compile(r"\b([a-z]{4,})\s*/\s*([a-z]{4,})\b")
_SLASH_READINGS = ("atelect", "scar", "infiltr", "pneumon", "edema", "fibros", "airspac", "consoli", "effus")
# findings that a plain "or" lists rather than weighs ("Pleural effusions or pneumothorax." with its "No" lost)
_LISTED = frozenset({"pneumot", "effus", "consoli"})
# a clause that weighs the readings itself ("atelectasis is one of the two explanations offered")
_WEIGHS = re.compile(
    r"\b(?:one\s+of|explanations?|possibilit\w*|options?|alternatives?|differential|either|versus|vs|"
    r"typical\w*|classic\w*|usually|often|commonly)\b"
)
_ALTERNATIVES: dict[int, tuple[list[Facts], list[tuple[str, str, Facts]], frozenset[str]]] = text_cache()


def _alternatives(sentences: list[Facts], vocab: OpenVocabulary) -> tuple[list[tuple[str, str, Facts]], frozenset[str]]:
    """The pairs of readings the report's affirmed sentences leave open, as stems with their sentence, and the stems
    some certain affirmed sentence states outside such a pair; once per report."""
    entry = _ALTERNATIVES.get(id(sentences))
    if entry is None or entry[0] is not sentences:
        pairs: list[tuple[str, str, Facts]] = []
        plain: set[str] = set()
        skip = vocab.stopwords | vocab.weak | vocab.normal_words | set(vocab.side_words) | {"no", "not", "none"}
        for s in sentences:
            if s.negated:
                continue
            found = []
            for m in _ALTERNATIVE.finditer(s.text.lower()):
                a, b = m.group(1), m.group(4)
                if a in skip and m.group(2):
                    a = m.group(2)  # "small areas of scarring or atelectasis": the readings are after the "of"
                if m.group(3) == "or" and {stem(a), stem(b)} & _LISTED:
                    continue
                if a not in skip and b not in skip and a not in vocab.number_words and b not in vocab.number_words:
                    found.append((stem(a), stem(b)))
            # two readings joined by a slash ("Minimal bibasal subsegmental atelectasis/scar"), only between
            # readings (not "granulomas/lymph nodes", "COPD/emphysema")
            for m in _SLASHED.finditer(s.text.lower()):
                pair = (stem(m.group(1)), stem(m.group(2)))
                if all(p.startswith(_SLASH_READINGS) for p in pair) and pair not in found:
                    found.append(pair)
            for a, b in found:
                pairs.extend([(a, b, s), (b, a, s)])
            if s.hedge == "certain" and not found:
                plain.update(s.anchors)
        entry = (sentences, pairs, frozenset(plain))
        remember(_ALTERNATIVES, id(sentences), entry, limit=20_000)
    return entry[1], entry[2]


_ATTRIBUTES = re.compile(
    r"\b(?:it|report|radiologist|impression|findings)\s+(?:\w+\s+)?attributes\b|\bis\s+attributed\b", re.I
)


def _one_alternative(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """The report sentence that leaves two readings open when a certain clause states or denies one of them and
    does not name the other ("the opacities at both bases represent chronic scarring" for "Bibasilar atelectasis
    versus scarring"), and no other certain sentence states that reading plainly."""
    if clause.hedge != "certain" and not (clause.hedge == "probable" and _ATTRIBUTES.search(clause.text)):
        return None  # (a reading the step says the report attributes the thing to is no hedge of the step's own)
    if _WEIGHS.search(clause.text.lower()):
        return None
    pairs, plain = _alternatives(sentences, vocab)
    if not pairs:
        return None
    own = clause.anchors - clause.borrowed
    for a, b, s in pairs:
        # (only the clause's own words name the other reading: "This represents old scarring" after a step
        # that gave "scarring or atelectasis" borrows both and keeps one)
        named = b in own or any(w.startswith(b[:4]) for w in clause.words)
        if a in own and a not in plain and not named and not _other_side(clause.sides, s.sides):
            return s  # (not the readings it keeps open on the other side)
    return None


def _in_mm(number: tuple[str, str]) -> float:
    """A measured size in millimetres (rounded: "0.8 cm" and "8 mm" are one size)."""
    value, unit = number
    return round(float(value) * (10 if unit == "cm" else 1), 2)


def _kept_other(clause: Facts, denied: frozenset[str], sentences: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """The report sentence leaving two readings open when a certain clause keeps one and denies the other ("This is
    simply a deep inspiration, not air trapping" for "air trapping versus inspiratory effort")."""
    if clause.hedge != "certain" or not denied:
        return None
    pairs, plain = _alternatives(sentences, vocab)
    kept = clause.anchors - clause.borrowed - denied
    for a, b, s in pairs:
        if a in denied and a not in plain and b in kept:
            return s
    return None


def _numbered_near(clause: Facts, aligned: list[Facts], sentences: list[Facts], vocab: OpenVocabulary) -> list[Facts]:
    """The sentences whose numbers may ground the clause's: every aligned one and every one about the same thing or
    bone ("8th and 9th ribs" against two sentences, one per rib)."""
    strong = clause.anchors - vocab.weak
    bones = clause.places.get("bone", frozenset())
    return [*aligned, *(s for s in sentences if s.anchors & strong or s.places.get("bone", frozenset()) & bones)]


def _sharing_three(clause: Facts, sentences: list[Facts], seen: list[Facts], vocab: OpenVocabulary) -> list[Facts]:
    """The report sentences beyond `seen` that share three of the clause's strong words without aligning in full
    ("On the right there is marked narrowing of the hip joint space" for a long step about the right hip's
    narrowing, cysts and osteophytes): they may give the clause's side."""
    strong = clause.anchors - vocab.weak
    known = {id(s) for s in seen}
    return [s for s in sentences if len(s.anchors & strong) >= 3 and id(s) not in known]


def _sides_of_thing(s: Facts, clause: Facts, vocab: OpenVocabulary) -> frozenset[str]:
    """The sides a report sentence gives the clause's thing: when it lists things in stretches of their own, the
    side words of the stretches that name a strong word of the clause ("Stable thoracic scoliosis and old healed
    left rib fractures": the left side is the ribs', not the scoliosis'); else all its sides."""
    stretches = _CLAUSE_STRETCH.split(s.text.lower())
    if not s.sides or len(stretches) < 2 or "bilateral" in s.sides:
        return s.sides
    strong = clause.anchors - vocab.weak
    own: set[str] = set()
    other: set[str] = set()
    naming = False
    for stretch in stretches:
        tokens = _TOKEN.findall(stretch)
        named = {vocab.side_words[w] for w in tokens if w in vocab.side_words} & s.sides
        if strong & {stem(w) for w in tokens}:
            naming = True
            own |= named
        else:
            other |= named
    if own or (naming and s.sides <= other):
        return frozenset(own)
    return s.sides


def _hedged_source(clause: Facts, aligned: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """The report sentence that hedges what a certain clause states, when no other aligned sentence states it
    plainly: the best aligned sentence, or a later one when every plain sentence before it that speaks of
    the finding hides the word before it ("left midlung airspace opacity XXXX atelectasis": the "likely" the
    de-identification removed)."""
    own = clause.anchors - clause.borrowed
    places = vocab.place_stems
    if _gap_before(clause, own):
        return None  # the step keeps the report's gap ("opacity XXXX atelectatic changes"): it drops no hedge
    for i, s in enumerate(aligned):
        if s.hedge in ("possible", "open", "probable") and s.hedged_anchors & own:
            core = s.hedged_anchors - places
            plain = [
                t
                for t in aligned
                if t is not s and t.hedge == "certain" and t.anchors & clause.anchors & s.hedged_anchors
            ]
            if i == 0 and not plain:
                return s
            # (only a plain sentence that names the finding openly counts against the hedge: "streaky opacity, XXXX
            # subsegmental atelectasis and scarring" hides its "likely"; beyond the best sentence it must name the
            # finding itself, not its place)
            if i == 0 and not any(not _gap_before(t, t.anchors & clause.anchors & s.hedged_anchors) for t in plain):
                return s
            if i > 0 and not any(t.anchors & clause.anchors & core and not _gap_before(t, core) for t in plain):
                return s
            return None
        if i == 0 and not _gap_before(s, own - places):
            return None  # the best sentence states it plainly
    return None


_GAP_WORD = re.compile(r"(?:^\W*|\b([a-z-]+),?\s+)XXXX\s+((?:[a-z-]+\s+(?:and\s+|or\s+)?){0,3}[a-z-]+)", re.I)


def _gap_before(s: Facts, anchors: frozenset[str]) -> bool:
    """Whether a de-identified word that may hide a hedge stands right before one of `anchors`: between the
    thing seen and what it is read as ("airspace opacity XXXX atelectasis"), or opening the sentence ("XXXX
    atelectasis"); not in a noun phrase ("a XXXX opacity")."""
    for m in _GAP_WORD.finditer(s.text):
        before = m.group(1)
        # (the hidden word may qualify a short phrase: "XXXX subsegmental atelectasis and scarring")
        words = m.group(2).lower().split()
        if any(stem(w) in anchors for w in words) and (before is None or stem(before.lower()) in s.anchors):
            return True
    return False


# side words that put nothing on a side: the side a comparison measures against ("the right hemidiaphragm sits higher
# than the left"), and "left" as a verb
_NOT_A_SIDE = re.compile(
    r"\b(?:than|relative\s+to|compared\s+(?:with|to))\s+(?:on\s+)?(?:the\s+)?(?:left|right|contralateral)\b"
    r"|\bleft\s+(?:over|behind)\b"  # ("with only a little fluid left over", "nothing is left behind")
)
_ONE = frozenset({"single", "solitary", "isolated", "lone"})
_MANY = frozenset({"multiple", "several", "numerous", "innumerable", "multifocal", "multilevel", "multi-level"})


# words that make a statement surer than plain assertion ("definitely a granuloma", "purely an artifact")
_BOOSTER = re.compile(
    r"\b(?:definitely|definite|certainly|clearly\s+(?:a|an|the|due|caused|from|represents?)|undoubtedly|unequivocally|"
    r"unmistakabl[ey]|entirely\s+(?:due|from|caused)|confirms?|confirming|confirmed|proves?|proving|confident|purely|must\s+be|"
    r"plainly|obviously|unquestionabl[ey]|without\s+(?:a|any)\s+doubt|beyond\s+doubt|definitively|definitive|"
    r"clear-cut|establish(?:es|ed)?\s+(?:it|this|them)\s+as|no\s+doubt\s+that|diagnostic\s+of|pathognomonic)\b",
    re.I,
)


def _overstated(clause: Facts, aligned: list[Facts], sentences: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """A hedge the clause drops, read beyond the best-aligned sentence: a cause the report only suspects ("the
    result of inhalational injury" for "This may be secondary to inhalational injury"), a certainty booster
    over a hedged sentence ("definitely caused by the leads" for "thought to account for")."""
    if clause.negated or clause.hedge != "certain":
        return None
    strong = clause.anchors - clause.borrowed - vocab.weak
    pool = aligned[:3]
    surely = {a for s in sentences if s.hedge == "certain" and not s.negated for a in s.anchors & strong}
    for s in pool:
        if s.hedge != "certain" and not s.negated and len((s.hedged_anchors & strong) - surely) >= 2:
            return s
    booster = _BOOSTER.search(clause.text)
    if not booster and any(s.hedge != "certain" for s in sentences) and not _WEIGHS_READING.search(clause.text) \
            and not _WEIGHS.search(clause.text.lower()):
        only = _only_hedged(strong - vocab.place_stems - _NOT_READINGS, sentences)
        if only is not None:
            return only
    if booster:
        hedged = _boosted_over_hedge(clause, strong - vocab.place_stems, booster, sentences, vocab)
        if hedged is not None:
            return hedged
        # (unless another sentence states it plainly: "Small left pleural effusion." beside "suggesting small
        # pleural effusion")
        if pool and pool[0].hedge != "certain" and (pool[0].anchors & strong) - surely:
            return pool[0]
        if not pool:
            # no sentence aligns in full ("definite lobar pneumonia" for "Probable right lower lobe pneumonia"): a
            # hedged sentence naming a word of the clause that no certain sentence names
            hedged = next(
                (
                    s
                    for s in sentences
                    if s.hedge != "certain" and not s.negated and (s.hedged_anchors & strong) - surely
                ),
                None,
            )
            if hedged is not None:
                return hedged
        # "proves the diagnosis of sarcoidosis" for "compatible with the patient's known sarcoidosis": a sentence that
        # shares two of the clause's words and only supports its reading
        for s in sentences:
            if len(strong & s.anchors) >= 2 and not s.negated and _SUPPORTS.search(s.text):
                plainly = any(
                    t is not s and t.hedge == "certain" and not t.negated and not _SUPPORTS.search(t.text)
                    and len(strong & t.anchors) >= 2
                    for t in sentences
                )
                return None if plainly else s
    return None


def _boosted_over_hedge(
    clause: Facts, strong: frozenset[str], booster: re.Match[str], sentences: list[Facts], vocab: OpenVocabulary
) -> Facts | None:
    """The report sentence that only hedges or interprets a word a boosted clause states ("definitely
    cardiomegaly" where the one sentence naming cardiomegaly says "Borderline cardiomegaly"; "definitely
    represents a bacterial pneumonia" for "compatible with multilobar pneumonia"; "definitively a calcified
    granuloma" for "This XXXX represents a calcified granuloma"), when no sentence names that word plainly."""
    own = strong - {stem(w) for w in _TOKEN.findall(booster.group(0).lower())}
    return _named_only_under(own, sentences, _soft_hedged_or_read)


# what a report says only as it appears ("There appear to be small bilateral effusions"): plain enough for a plain
# restatement, not for one that calls it confirmed
_APPEARS = re.compile(r"\b(?:appears?|seems?)\s+to\s+be\b", re.I)


def _soft_hedged_or_read(s: Facts) -> frozenset[str]:
    """`_hedged_or_read`, with every word of a sentence that says what only appears to be."""
    return s.anchors if _APPEARS.search(s.text) else _hedged_or_read(s)


def _named_only_under(
    own: Iterable[str], sentences: list[Facts], words_of: Callable[[Facts], frozenset[str]]
) -> Facts | None:
    """The first sentence naming a word of `own` under `words_of` (its hedged or read words), when every affirmed
    sentence naming that word does so; None when each word is named plainly somewhere (or nowhere)."""
    read: dict[int, frozenset[str]] = {}  # (each sentence's words, once)
    for a in sorted(own):
        hedged = None
        for s in sentences:
            if s.negated or a not in s.anchors:
                continue
            if id(s) not in read:
                read[id(s)] = words_of(s)
            if a in read[id(s)]:
                hedged = hedged or s
            else:
                break  # named plainly somewhere
        else:
            if hedged is not None:
                return hedged
    return None


_WEIGHS_READING = re.compile(
    r"\b(?:fits?|so|suggests?|suggesting|consistent|compatible|typical\w*|causes?|thinks?|uncertain\w*|whether|either|"
    r"possib\w*|leading|picture|history|known|account|accounts|can|could|may|might|would|usually|often|versus|or|"
    r"means?|meaning|refers?|defined)\b",
    re.I,
)


# what a hedge is about but does not hedge: the organ or the study ("Borderline heart size", "believed to be clear")
_NOT_READINGS = frozenset(
    stem(w)
    for w in (
        "heart", "cardiac", "silhouette", "lung", "lungs", "chest", "shoulder", "bone", "bones", "spine", "comparison",
        "imaging", "study", "film", "exam", "examination", "size", "clear", "mediastinum", "mediastinal",
    )
)


_SURE = re.compile(r"\b(?:clearly|definite|frank|frankly|overt|overtly|certain|obvious)\b", re.I)
# how old a reading is ("old post-tuberculous change rather than active infection"), not the reading itself
_AGES = frozenset(stem(w) for w in ("active", "acute", "chronic", "old", "new", "recent", "remote", "healed"))


def dismissed_alternative(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> Finding | None:
    """A reading a step sets aside ("atelectasis rather than infiltrate") that the report keeps open: the report
    names it only under a hedge or as a reading ("may represent atelectasis or infiltrate"), never plainly. A
    reading the report does not hedge is no dismissal ("chronic rather than acute")."""
    if _BOOSTER.search(clause.text) or _SURE.search(clause.text):
        return None  # "rather than clearly enlarged" sets aside the certainty, not the reading
    own = clause.anchors - vocab.weak - vocab.place_stems - _NOT_READINGS - _AGES
    if not own:
        return None
    hedged = _named_only_under(own, sentences, _hedged_or_read)
    if hedged is None:
        # or one of two readings the report leaves open ("scarring or atelectasis") that no sentence states plainly
        pairs, plain = _alternatives(sentences, vocab)
        # (`pairs` holds each pair both ways round)
        hedged = next((s for a, _, s in pairs if a in own and a not in plain), None)
    return Finding("uncertainty_dismissed", hedged) if hedged is not None else None


def _only_hedged(own: frozenset[str], sentences: list[Facts]) -> Facts | None:
    """The hedged sentence, when a word of a plain clause is one the report names only under a hedge ("There is
    pulmonary artery hypertension" for "prominence of the central pulmonary arteries suggesting pulmonary artery
    hypertension"), in every sentence naming it."""
    # (only words some hedged sentence hedges can be named under a hedge alone)
    own = own & frozenset().union(*(_hedged(s) for s in sentences if not s.negated))
    return _named_only_under(own, sentences, _hedged)


def _hedged(s: Facts) -> frozenset[str]:
    """The words a report sentence names under a hedge ("Borderline cardiomegaly"), as stems."""
    return s.hedged_anchors if s.hedge != "certain" else frozenset()


def _hedged_or_read(s: Facts) -> frozenset[str]:
    """The words a report sentence names only under a hedge ("Borderline cardiomegaly") or as a reading of what
    is seen ("compatible with pneumonia", "XXXX represents a granuloma"), as stems."""
    words = set(_hedged(s))
    for m in _READING.finditer(s.text):
        words.update(stem(w) for w in _TOKEN.findall(s.text[m.end() :].lower())[:6])
    return frozenset(words)


_SUPPORTS = re.compile(
    r"\b(?:compatible|consistent)\s+with\b|\bin\s+keeping\s+with\b|\bXXXX\s+represent(?:s|ing)?\b", re.I
)
# a report's reading of what it sees: what supports a reading (`_SUPPORTS`) and the de-identified "likely" of
# "XXXX represented", "XXXX reflects", "most XXXX", "XXXX related to", "is XXXX"
_READING = re.compile(
    _SUPPORTS.pattern + r"|\bXXXX\s+(?:represent|reflect)\w*\b|\bmost\s+XXXX\b|"
    r"\bXXXX\s+(?:related|due|secondary|attributable)\s+to\b|"
    # the hidden word between a thing and what it is read as ("is XXXX scarring", "opacities, XXXX calcified
    # granulomas")
    r"(?:\b(?:is|are)|,)\s+XXXX\b(?!\s+XXXX)",
    re.I,
)


def boosted(text: str) -> bool:
    """Whether a step makes itself surer than plain assertion ("definitely", "we can be confident")."""
    return _BOOSTER.search(text) is not None


# a denial that leaves nothing open ("no effusion of any size", "not even a small one", "rules out any effusion")
_ABSOLUTE_DENIAL = re.compile(
    r"\b(?:of\s+any\s+(?:size|kind|degree|amount)|any\s+size|not\s+even\s+(?:an?\s+)?(?:small|trace|tiny|minimal|"
    r"little|subtle)|at\s+all|whatsoever|(?:entirely|completely|totally|fully|definitely|definitively|absolutely|"
    r"conclusively)\s+(?:excluded|ruled\s+out|absent|excludes?|rules?\s+out)|(?:excluded|ruled\s+out)\s+(?:entirely|"
    r"completely|totally|altogether|definitively)|exclud(?:es|ed|e|ing)\s+any|rul(?:es|ed|e|ing)\s+out\s+any)\b",
    re.I,
)
# what a report denies only in part ("No large pleural effusion": a small one stays possible)
_PARTIAL_DENIAL = frozenset(
    "large significant definite sizable sizeable gross substantial appreciable obvious definitive displaced frank "
    "major big".split()
)


def _absolute_denial(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage) -> Facts | None:
    """The report sentence that denies only a large or definite form of what a clause denies outright ("rules out
    a pleural effusion of any size" for "No pneumothorax or large pleural effusion"), when no sentence denies it
    plainly."""
    if not _ABSOLUTE_DENIAL.search(clause.text):
        return None
    denied = clause.anchors - clause.borrowed - vocab.weak  # ("pleural effusion is ruled out entirely": before the cue)
    partial = None
    for s in sentences:
        if not s.negated or not denied & _denial_scope(s, vocab, lang):
            continue
        words = s.sequence  # (the sentence's words, read once with its facts)
        limited = any(
            w in _PARTIAL_DENIAL and w not in clause.words and any(stem(t) in denied for t in words[i + 1 : i + 3])
            for i, w in enumerate(words)
        )
        if not limited:
            return None  # the report denies it plainly somewhere
        partial = partial or s
    return partial


def _boosted_denial(clause: Facts, aligned: list[Facts], sentences: list[Facts], lang: StepLanguage) -> Facts | None:
    """A certainty booster over what the report only suspects, in a clause that goes on to deny something else
    ("These are definitely atelectasis rather than infection." for "probably atelectasis"): the words between
    the booster and the negation cue are what the clause affirms."""
    m = _BOOSTER.search(clause.text) if clause.hedge == "certain" else None
    cue = lang.negation_pre.search(clause.text) if m is not None else None
    if cue is None or cue.start() < m.end():
        return None
    affirmed = {stem(w) for w in _TOKEN.findall(clause.text[m.end() : cue.start()].lower())}
    said = [s for s in aligned[:3] or sentences if not s.negated and s.anchors & affirmed]
    # the report states it without a hedge somewhere: the booster overstates nothing
    if any(s.hedge == "certain" and (s.anchors & affirmed) - s.hedged_anchors for s in said):
        return None
    return next((s for s in said if s.hedge != "certain" and s.hedged_anchors & affirmed), None)


def _invented_place(clause: Facts, pool: list[Facts], sentences: list[Facts], vocab: OpenVocabulary) -> bool:
    """A lobe, node station or side the step gives a thing the report places nowhere ("calcified granulomas
    clustered in the right upper lobe" where the report has "scattered calcified granulomas"): no sentence
    speaking of the thing places it."""
    if clause.negated or clause.hedge != "certain" or clause.words & vocab.normal_words:
        return False
    families = set(clause.places) & _PLACED_FAMILIES
    if "pleural_fluid" in clause.anchors and clause.places.get("lobe", frozenset()) <= {"lower"}:
        families.discard("lobe")  # an effusion "at both bases" is where effusions are: no place the step invents
    if clause.places.get("spine_region", frozenset()) - {"thoracic"} or "spine_level" in clause.places:
        # a chest film shows the thoracic spine: "thoracic" says nothing the report's "the spine" leaves out,
        # "cervical", "lumbar" or "lower thoracic" does
        families |= {"spine_region", "spine_level"} & set(clause.places)
    sided = bool(clause.sides - {"bilateral"})
    if not families and not sided:
        return False
    strong = clause.anchors - vocab.weak
    # the report describes the thing (a sentence shares two words with the clause) and places it nowhere (no
    # sentence sharing a word with the clause has a place)
    if not any(len(s.anchors & strong) >= 2 for s in pool):
        return False
    near = [s for s in sentences if s.anchors & strong]
    # (a lobe the report does not give is invented even where the report gives the side: "at the left lung
    # apex" for "left lateral lung calcified granuloma")
    if any(s.places.get(f) for s in near for f in families) or (not families and any(s.sides for s in near)):
        return False
    # and the report names that place for nothing else either (a synonym the words miss may be the same thing)
    named = {(f, n) for s in sentences for f, names in s.places.items() for n in names}
    return all((f, n) not in named for f in families for n in clause.places[f])


_PLACED_FAMILIES = frozenset({"lobe", "node_station"})


def _plural(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "is", "us", "ous"))


def _count_conflict(clause: Facts, pool: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """One thing where the report has several, or several where it has one ("a single calcified granuloma"
    against "calcified granulomas"; "multiple nodules" against "a solitary nodule")."""
    mine_one, mine_many = bool(clause.words & _ONE), bool(clause.words & _MANY)
    if clause.negated or mine_one == mine_many:
        return None
    for s in pool:
        shared = (clause.anchors & s.anchors) - vocab.weak
        theirs = [w for w in s.words if stem(w) in shared]
        mine = [w for w in clause.words if stem(w) in shared]
        if not theirs or not mine:
            continue
        if mine_one and not s.words & _ONE and any(map(_plural, theirs)) and not any(map(_plural, mine)):
            return s
        if mine_one and s.words & _MANY and not s.words & _ONE:
            return s  # "a single level" against "Multilevel degenerative changes"
        if mine_many and s.words & _ONE and not s.words & _MANY:
            return s
    return None


def _loose_side_conflict(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """A long one-sided clause that aligns with no sentence in full but whose thing is named, with two or more of
    its words, by report sentences all on the other side ("Over the right humeral head there are small metallic
    suture anchors from a prior rotator cuff repair" for "XXXX anchors XXXX over the left humeral head")."""
    mine = clause.sides & _LEFT_RIGHT
    if len(mine) != 1 or clause.negated or clause.dominant or "bilateral" in clause.sides:
        return None
    strong = clause.anchors - clause.borrowed - vocab.weak - vocab.place_stems
    naming = [s for s in sentences if len(strong & s.anchors) >= 2]
    if not naming or any(not s.sides or s.sides & (mine | {"bilateral"}) for s in naming):
        return None
    best = max(naming, key=lambda s: len(strong & s.anchors))
    return best if best.sides & _LEFT_RIGHT and not best.negated else None


def _invented_count(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """A count the report never gives of a thing it names ("two calcified granulomas" for "Calcified granulomas
    are noted", "three calcified nodes" for "Calcified lymph XXXX"): the report sentence naming the counted
    thing, when no sentence naming it gives that count (or says "dual", "bilateral", "both" for two). A hedge over
    another part of the clause ("two clips ..., probably from prior treatment") leaves the count stated."""
    if clause.negated or (clause.hedge != "certain" and not clause.hedged_anchors):
        return None
    mine = {v for v, k in clause.numbers if k == "count" and v.isdigit() and int(v) >= 2}
    if not mine:
        return None
    low = clause.text.lower()
    for m in _COUNT_OF.finditer(low):
        if vocab.number_words.get(m.group(1), m.group(1)) not in mine:
            continue
        thing = {stem(w) for w in _TOKEN.findall(m.group(2)) if w not in vocab.stopwords} - vocab.weak
        thing -= _NOT_COUNTED
        if not thing or thing & clause.hedged_anchors:
            continue
        naming = [s for s in sentences if thing & s.anchors]  # ("Two densities which were not present before")
        if not naming:
            continue
        counts = {v for s in naming for v, k in s.numbers if k in ("count", "")}
        # (as many as it numbers: "three ribs" for "the 3rd through 5th ribs")
        counts |= {str(n) for s in naming if (n := sum(k == "th" for _, k in s.numbers)) > 1}
        if any(w.split("-")[0] in _TWO_WORDS for s in naming for w in s.words):  # ("dual-chamber")
            counts.add("2")
        if not mine & counts:
            return naming[0]
    return None


def _one_or_many(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> Facts | None:
    """The report sentence that names one of a thing the clause calls many ("multiple granulomas" for "Calcified
    granuloma in the left upper lobe"), or many of a thing the clause calls one ("a solitary nodule" for "Multiple
    nodules"), when no sentence naming the thing gives the clause's number."""
    if clause.negated or clause.hedge != "certain":
        return None
    low = clause.text.lower()
    for m in _MANY_OF.finditer(low):
        word = m.group(1)
        one = word[:-2] if word.endswith(("sses", "xes")) else word[:-1]
        naming = _naming(one, sentences, vocab)
        plural = re.compile(rf"\b{re.escape(word)}\b", re.I)
        if naming and not any(plural.search(s.text) or _SOME.search(s.text) for s in naming):
            return naming[0]  # (named, never in the plural nor with a word of number)
    for m in _ONE_OF.finditer(low):
        one = m.group(1)
        naming = _naming(one, sentences, vocab)
        # ("Scattered calcified granuloma.": a word of many before the singular is many too)
        many = re.compile(rf"\b(?:{_MANY_WORDS})\s+(?:[\w-]+\s+){{0,3}}{re.escape(one)}(?:e?s)?\b", re.I)
        if naming and all(many.search(s.text) for s in naming):
            return naming[0]
    return None


def _naming(word: str, sentences: list[Facts], vocab: OpenVocabulary) -> list[Facts]:
    """The affirmed report sentences naming `word` in the singular or the plural (none for a word not counted)."""
    if len(word) < 4 or stem(word) in _NOT_COUNTED or word in vocab.weak:
        return []
    named = re.compile(rf"\b{re.escape(word)}(?:e?s)?\b", re.I)
    return [s for s in sentences if not s.negated and named.search(s.text)]


_QUANTIFIERS = "multiple|several|numerous|many|innumerable"
_MANY_WORDS = _QUANTIFIERS + "|scattered|two|three|bilateral"
_SOME = re.compile(rf"\b(?:{_MANY_WORDS}|bilaterally|both|few|some|four|five|\d+)\b", re.I)
# many of a thing ("multiple small calcified granulomas") and one of it ("a solitary nodule", "a single granuloma")
_MANY_OF = re.compile(rf"\b(?:{_QUANTIFIERS})\s+(?:[a-z-]+\s+){{0,3}}?([a-z]{{4,}}s)\b")
_ONE_OF = re.compile(r"\b(?:single|solitary|lone|only\s+one|one)\s+(?:[a-z-]+\s+){0,3}?([a-z]{4,}(?<!s))\b")


# a count and the words it counts ("two small calcified granulomas", "three of these calcified nodes")
_COUNT_OF = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\s+(?:of\s+(?:these|the|those)\s+)?"
    r"((?:[a-z-]+\s+){0,2}[a-z-]+)"
)
# things counted in passing that a report need not count: views, sides, times, the step's own options
_NOT_COUNTED = frozenset(
    stem(w)
    for w in (
        "views", "projections", "images", "radiographs", "films", "exams", "examinations", "studies", "sides",
        "lungs", "hemidiaphragms", "diaphragms", "hila", "hilum", "times", "days", "years", "months", "weeks",
        "hours", "steps", "options", "questions", "answers", "findings", "things", "possibilities", "lobes", "cm",
        "mm", "choices", "parts", "areas", "regions", "leads",
    )
)
_TWO_WORDS = frozenset({"dual", "double", "paired", "bilateral", "bilaterally", "both", "pair", "couple"})


# a clause that says a thing is there: "There's a cervical rib on the right", "I also see a small nodule"
_EXISTS = re.compile(
    r"^\W*(?:(?:also|and|but|plus)\s+)?(?:there\s+(?:is|are)\s+(?:also\s+)?(?!no\b|not\b|nothing\b)\w+|"
    r"i\s+(?:also\s+)?(?:see|note|notice|can\s+see|identify)\s+(?:a|an|some|several|multiple|two|three|small|tiny|mild)\b)",
    re.I,
)


_NOT_A_THING = re.compile(
    r"\b(?:comparison|compare|prior|previous|earlier|indication|history|film|study|view|views|radiograph|exam|"
    r"examination|technique|question|options?|answer)\b",
    re.I,
)


def invented_thing(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> bool:
    """A certain clause that says a thing is there ("There's a cervical rib on the right") where no report sentence
    shares a word of it: a thing the report does not have, whatever the lexicon calls it."""
    if clause.negated or clause.hedge != "certain" or not _EXISTS.match(clause.text):
        return False
    if _NOT_A_THING.search(clause.text):
        return False  # the exam, its comparison or the question, not a finding
    if clause.words & vocab.normal_words:
        return False
    strong = clause.anchors - vocab.weak - vocab.place_stems
    if not strong:
        return False
    if any(s.anchors & strong or s.numbers & clause.numbers for s in sentences):
        return False
    # (nor a longer word the lexicon counts as weak: "postoperative changes" for "Postop changes")
    prefixes = {w[:5] for s in sentences for w in (*s.anchors, *s.words) if len(w) >= 5}
    longer = (w for w in clause.words if len(w) >= 6)
    return not any(a[:5] in prefixes for a in strong) and not any(w[:5] in prefixes for w in longer)


def _on_side(clause: Facts, pool: list[Facts]) -> list[Facts]:
    """The aligned sentences about the clause's one side (all of them when the clause names no one side, or when
    none is about it)."""
    side = clause.sides & _LEFT_RIGHT
    if len(side) != 1 or "bilateral" in clause.sides:
        return pool
    mine = [s for s in pool if s.sides & side or "bilateral" in s.sides]
    return mine if mine and len(mine) < len(pool) and all(s.sides for s in pool) else pool


def _single_tip_moved(
    clause: Facts, aligned: list[Facts], sentences: list[Facts], vocab: OpenVocabulary
) -> list[Finding]:
    """A tip placed where no tip of the report is ("The tip is in the SVC" against "PICC line is in XXXX. The
    tip is in the upper right atrium."): the report's tip sentence often names no device, so nothing aligns
    the two. The step's tip is compared with every tip the report places, or with the tips of the sentences
    naming its device when some do; a place the tip is only measured from ("well above the right atrium") is
    not where the step puts it."""
    mine = clause.places.get("tip")
    if not mine or clause.hedge != "certain" or any("tip" in s.places for s in aligned[:1]):
        return []
    tips = [s for s in sentences if not s.negated and s.places.get("tip")]
    if not tips:
        return []
    own = clause.anchors - vocab.weak
    tips = [s for s in tips if s.anchors & own] or tips
    if len(tips) > 1 or _RELATIVE_PLACE.search(clause.text):
        mine = frozenset(_places_in(_RELATIVE_PLACE.sub(" ", clause.text.lower()), vocab).get("tip", ()))
    theirs = frozenset().union(*(s.places["tip"] for s in tips))
    if mine and not mine & theirs:
        return [Finding("location_conflict", tips[0])]
    return []


# a place something is measured from, not where it is: "5 cm above the carina", "just short of the cavoatrial
# junction", "deeper than the usual cavoatrial target"
_RELATIVE_PLACE = re.compile(
    r"\b(?:above|below|beyond|short\s+of|proximal\s+to|distal\s+to|from|than|rather\s+than|not\s+(?:in|at|into))"
    r"\s+(?:the\s+)?(?:\w+\s+){0,2}?(?:svc|superior\s+vena\s+cava|cavo-?atrial\s+junction|right\s+atrium|carina|"
    r"stomach|esophagus|right\s+ventricle|brachiocephalic\s+vein)\b",
    re.I,
)


# "the junction of the superior vena cava and the right atrium" is the cavoatrial junction, neither of the two
_JUNCTION = re.compile(
    r"\bjunction\s+(?:of|between)\s+(?:the\s+)?(?:svc|superior\s+vena\s+cava)\s+and\s+(?:the\s+)?right\s+atrium\b",
    re.I,
)


def _places_in(low: str, vocab: OpenVocabulary) -> dict[str, set[str]]:
    """The places a lower-cased text names, by family ("the junction of the SVC and the right atrium" is the
    cavoatrial junction)."""
    places: dict[str, set[str]] = {}
    # (the needle check of the alternation of all places: running it would only say whether the loop finds one)
    if can_match(vocab.any_place, low):
        placed = _JUNCTION.sub(" cavoatrial junction ", low) if "junction" in low else low
        for family, name, pattern in vocab.places:
            if pattern.search(placed):
                places.setdefault(family, set()).add(name)
    return places


_COMPARATIVES = {"larger", "smaller", "bigger", "greater", "more", "less", "higher", "lower", "worse", "better"}
_NEGATION_WORDS = {"no", "not", "without", "none", "nor", "neither", "negative", "absent", "never"}


_KIND_CACHE: dict[tuple[int, str], str] = text_cache()
_MASK_CACHE: dict[tuple[int, tuple[str, ...]], tuple[str, tuple[str, ...], frozenset[str]]] = text_cache()


def _word_kind(word: str, vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]) -> str:
    """The attribute a word carries in an edited copy (cached per word)."""
    key = (id(vocab), word)
    kind = _KIND_CACHE.get(key)
    if kind is None:
        kind = remember(_KIND_CACHE, key, _kind_of(word, vocab, lang, grades), limit=200_000)
    return kind


def _masked(words: tuple[str, ...], vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]):
    """(masked text, kind per word, plain words) of a word sequence (cached)."""
    key = (id(vocab), words)
    hit = _MASK_CACHE.get(key)
    if hit is None:
        kinds = tuple(_word_kind(w, vocab, lang, grades) for w in words)
        masked = " ".join(k.upper() if k else w for w, k in zip(words, kinds, strict=True))
        plain = frozenset(w for w, k in zip(words, kinds, strict=True) if not k and len(w) > 2)
        hit = remember(_MASK_CACHE, key, (masked, kinds, plain))
    return hit


_MASKED_SENTENCES: dict[int, tuple[list[Facts], OpenVocabulary, list[tuple]]] = text_cache()


def _masked_sentences(
    sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]
) -> list[tuple]:
    """(sentence, words, masked text, kinds, plain words) of each report sentence with words, once per report
    (not once per step and clause that `edited_copy` tries against it)."""
    entry = _MASKED_SENTENCES.get(id(sentences))
    if entry is None or entry[0] is not sentences or entry[1] is not vocab:
        masked = [(s, s.sequence, *_masked(s.sequence, vocab, lang, grades)) for s in sentences if s.sequence]
        entry = remember(_MASKED_SENTENCES, id(sentences), (sentences, vocab, masked), limit=20_000)
    return entry[2]


def _kind_of(word: str, vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]) -> str:
    """The attribute a word carries in an edited copy: side, grade, number, place, change, negation."""
    if word in vocab.side_words:
        return "side"
    if word in grades:
        return "grade"
    if word[0].isdigit() or word in vocab.number_words or re.fullmatch(r"[ctl]\d{1,2}|\d+(?:st|nd|rd|th)", word):
        return "number"
    if word in _NEGATION_WORDS:
        return "negation"
    if lang.temporal_any.fullmatch(word):
        return "change"
    if vocab.any_place.fullmatch(word) or word in vocab.place_words:
        return "place"
    return ""


_EDIT_REASON = {
    "side": "laterality_conflict",
    "grade": "severity_conflict",
    "number": "ungrounded_number",
    "place": "location_conflict",
    "change": "temporal_conflict",
    "negation": "negation_conflict",
}


def edited_copy(
    clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage, grades: dict[str, int]
) -> list[Finding]:
    """A step that copies a report sentence but for a side, grade, number, place, change or negation word.

    The words that carry these attributes are masked in both texts; when what is left matches (an
    edited copy) and the masked words differ in a way that changes the meaning, the step is wrong:
    "Stable cardiomegaly" -> "New cardiomegaly", "tip in the SVC" -> "tip in the right atrium".
    Synonyms within a kind do not count ("stable" / "unchanged", "minimal" / "small").
    """
    mine = clause.sequence
    if _ANSWER_LEAD.match(clause.text) or _DISCOURSE_ORDINAL.match(clause.text.lower()):
        # "Cardiomegaly: no, the heart is normal in size": the answer, then the copy; "First, the heart ..."
        mine = mine[1:]
    tail = _ANSWER_TAIL.search(clause.text)
    if tail:
        mine = mine[: len(mine) - len(_TOKEN.findall(tail.group(0)))]  # "..., so no.": the copy, then the answer
    if len(mine) < 2:
        return []
    masked, kinds, plain = _masked(mine, vocab, lang, grades)
    first: list[Finding] = []
    for s, theirs, their_masked, their_kinds, their_plain in _masked_sentences(sentences, vocab, lang, grades):
        if abs(len(theirs) - len(mine)) > 3:
            continue
        if plain and len(plain & their_plain) < 0.6 * len(plain):
            continue  # cheap pre-filter: an edited copy shares nearly all its plain words
        if fuzz.ratio(masked, their_masked) < EDIT_MIN:
            continue
        out = []
        # counted, not as sets: "stable X, new Y" against "stable X, stable Y" replaced a "stable"
        mine_marked = Counter((k, w) for w, k in zip(mine, kinds, strict=True) if k)
        their_marked = Counter((k, w) for w, k in zip(theirs, their_kinds, strict=True) if k)
        added, removed = set(mine_marked - their_marked), set(their_marked - mine_marked)
        for kind in sorted({k for k, _ in added | removed}):
            new = {w for k, w in added if k == kind}
            old = {w for k, w in removed if k == kind}
            if kind == "negation" and {w for k, w in mine_marked if k == kind} == {
                w for k, w in their_marked if k == kind
            }:
                continue  # "no X, no Y" for "no X or Y": the same denials, counted otherwise
            if kind == "negation" and not new and not _negation_cue(s.text, lang)[1]:
                continue  # the copy left out a "not" that denies nothing ("..., not seen on the prior")
            verdict = kind == "negation" and not old and new <= _VERDICT_DENIALS
            if verdict and (s.negated or s.words & vocab.normal_words):
                # "No effusion is identified. Absent.", "the mediastinum is unremarkable. Absent.": a verdict word
                # after the copied denial or normal statement
                continue
            if kind == "side" and not old and s.negated and any(k == "negation" for k, _ in mine_marked):
                continue  # "no effusion on the left" for "no effusion": a narrower denial, still true
            if kind == "side" and not old and new <= _BOTH_SIDES and not s.sides and s.words & _BOTH_LUNGS:
                continue  # "The lungs are well aerated bilaterally" for "The lungs are well aerated."
            if _same_meaning(kind, new, old, lang, grades, vocab):
                continue
            if kind in ("place", "side") and not old and "xxxx" in their_plain:
                continue  # "the transverse arch" for "the transverse XXXX": the word the report's XXXX hides
            if kind == "grade" and not old and not any(k == "grade" for k, _ in their_marked):
                # a grade the report gives nothing: "a small calcified granuloma" describes it, "a large" one does not
                # (nor does "dense" of a calcified thing, cement or a scar: it says how white, not how much)
                if {w for w in new if grades.get(w, 9) > 2} <= DENSITY_WORDS and s.words & DENSE_THINGS:
                    continue
                if not all(grades.get(w, 9) <= 2 for w in new):
                    out.append(Finding("severity_not_in_report", s))
                continue
            out.append(Finding(_EDIT_REASON[kind], s))
        if not out:
            return []  # a faithful copy of another sentence ("No displaced rib fractures." beside "No displaced
            # fractures.")
        first = first or out
    return first


# an answer word opening a step or clause before its reason ("no, the heart is normal in size")
_ANSWER_LEAD = re.compile(r"^\W*(?:no|yes)\s*[,;:.\u2014-]", re.I)
# and one closing a copied sentence ("..., so no.") or the denial it concludes ("..., so no cardiomegaly": judged as
# a claim of its own)
_ANSWER_TAIL = re.compile(
    r"[,;:\u2014-]\s*(?:so|thus|hence|therefore)?\s*(?:the\s+answer\s+is\s+)?(?:no|yes)\W*$"
    r"|,\s*(?:so|thus|hence|therefore)\s+(?:there\s+is\s+)?no\s+[\w-]+(?:\s+[\w-]+){0,2}\W*$",
    re.I,
)
# both sides, added to a normal statement about things on both ("lungs are clear bilaterally")
_BOTH_SIDES = frozenset({"bilateral", "bilaterally", "both"})
_BOTH_LUNGS = frozenset({"lungs", "hila", "hemidiaphragms", "bases", "apices"})
# words that give a verdict on what the sentence already denies ("... is identified. Absent.")
_VERDICT_DENIALS = frozenset({"absent", "negative", "excluded"})


def _number_value(word: str, vocab: OpenVocabulary) -> str:
    """'seventh' / '7th' / '7' -> '7'; '2.0' -> '2'; levels as they are ('t11')."""
    word = vocab.number_words.get(word, word)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(?:st|nd|rd|th)?", word)
    if not m:
        return word
    value = m.group(1)
    return value.rstrip("0").rstrip(".") if "." in value else value


def _same_meaning(
    kind: str, new: set[str], old: set[str], lang: StepLanguage, grades: dict[str, int], vocab: OpenVocabulary
) -> bool:
    if kind == "change":
        a = temporal_classes(" ".join(new), lang)
        b = temporal_classes(" ".join(old), lang)
        if not new or not old:
            # a change word dropped ("Stable X" -> "X") says less; one added where this sentence has
            # none is left to the other sentences (the impression may say "stable")
            return True
        return bool(b) and not temporal_conflict(a, b, lang)
    if kind == "grade":
        a, b = {grades[w] for w in new}, {grades[w] for w in old}
        return not new or not a or (bool(b) and (a <= b or a | b <= {1, 2}))
    if kind == "side":
        return not new or {_SIDE.get(w, w) for w in new} <= {_SIDE.get(w, w) for w in old}
    if kind == "negation":
        return bool(new) == bool(old)
    if kind == "number":
        return {_number_value(w, vocab) for w in new} <= {
            _number_value(w, vocab) for w in old
        }  # "without" for "no" keeps the polarity; adding or dropping one flips it
    # place: a word added or changed is not in the report sentence ("mid-thoracic" is "midthoracic", "ribs" is "rib")
    return not {_place_word(w, vocab) for w in new} - {_place_word(w, vocab) for w in old}


# the adjective and the noun of one place ("patchy atelectasis at the bases" for "patchy basilar atelectasis")
_PLACE_FORMS = {"basilar": "base", "basal": "base", "apical": "apex", "apices": "apex", "hila": "hilum",
                "hilar": "hilum", "hilum": "hilum"}


def _place_word(word: str, vocab: OpenVocabulary) -> str:
    """One form per place: "ribs" is "rib", "basilar" is "base", and one thing under two words (`same_thing`:
    "aortic" / "aorta") is that thing."""
    word = _singular(word.replace("-", ""))
    word = _PLACE_FORMS.get(word, word)
    return vocab.same_thing.get(stem(word), word)


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _unnamed_objects(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Finding]:
    """A device, hardware, fracture or node the step asserts and the report never names at all (stated before
    a hedge counts: "calcified hilar nodes, likely from old granulomatous disease" asserts the nodes)."""
    if clause.negated or clause.hedge == "open":
        return []
    own = _term_words(clause)  # ("clips from the axillary node dissection": a procedure, not nodes)
    stated = own
    if clause.hedge != "certain":
        stated = frozenset(w for w in own if stem(w) not in clause.hedged_anchors)
        if not clause.hedged_anchors or stated == own:
            return []  # (what the hedge covers is unknown)
    named = frozenset().union(*(s.classes for s in sentences)) if sentences else frozenset()
    hidden = hidden_device_named(sentences, clause.sides)
    if hidden:
        named |= {"line_tube"}  # "There is a left chest XXXX with tip projecting over the lower SVC"
    # only specific words of the clause's own ("pacemaker", "sternotomy"): "a device" may be one the
    # report names with a de-identified word ("left chest XXXX")
    specific = {
        vocab.classes[w]
        for w in stated
        if w in vocab.classes and w not in vocab.generic_words and vocab.classes[w] in vocab.must_be_named
    }
    filled: dict[str, bool] = {}

    def gap(cls: str) -> bool:
        # a word of the class the step puts where the report has a de-identified one ("pacemaker generator" for
        # "XXXX generator"); asked only of a class that would otherwise be unnamed, once per class
        if cls not in filled:
            filled[cls] = any(
                vocab.classes.get(w) == cls and fills_gap(w, clause.text, sentences, vocab) for w in stated
            )
        return filled[cls]

    if any(not gap(cls) for cls in specific - named):
        return [Finding("finding_not_in_report", None)]
    # a specific kind the report never words ("internal jugular catheter" beside a PICC); one of two words the
    # step gives as alternatives is enough ("nasogastric/enteric tube" for "enteric tube")
    words = _report_words(sentences, vocab)[1]
    paired = {a: b for m in _SLASHED.finditer(clause.text.lower()) for a, b in (m.groups(), m.groups()[::-1])}
    kinds_named: frozenset[str] | None = None  # the kinds of device the report names (read on first need)
    for w in stated:
        cls = vocab.classes.get(w)
        if cls in vocab.must_be_named and cls not in vocab.synonym_classes and w not in vocab.generic_words:
            if w in paired and object_stem(paired[w], vocab) in words:
                continue
            kind = vocab.device_kinds.get(w)
            if kind is not None:
                if kinds_named is None:
                    kinds_named = frozenset().union(*(device_kinds(s.text, vocab) for s in sentences))
                if kind in kinds_named:
                    continue  # another word for the same kind ("enteric tube" for the "nasogastric tube")
            if object_stem(w, vocab) not in words and not (hidden and cls == "line_tube") and not gap(cls):
                return [Finding("finding_not_in_report", None)]
    return []


_SLASHED = re.compile(r"\b([a-z][a-z-]*)/([a-z][a-z-]*)\b")


# a line or port whose name the de-identification hid: "left chest XXXX with tip projecting over the SVC",
# "Right XXXX-A-XXXX is in XXXX" (a Port-A-Cath)
_HIDDEN_DEVICE = re.compile(
    r"\bXXXX\b(?=[^.;]{0,30}\b(?:tip|tips|terminat\w*|projecting\s+over\s+the\s+(?:svc|superior|right\s+atri\w*|cavoatrial))\b)"
    r"|\bXXXX-A-XXXX\b"
)


def hidden_device_named(sentences: list[Facts], sides: frozenset[str]) -> bool:
    """Whether a sentence names a line or port with a de-identified word, on one of `sides` (any side when either
    names none)."""
    for s in sentences:
        m = _HIDDEN_DEVICE.search(s.text)
        # (affirmed: "There is a XXXX-A-XXXX terminating at the caval atrial junction, without pneumothorax")
        if m and not _NEGATOR_WORD.search(s.text, 0, m.start()) and (not s.sides or not sides or sides & s.sides):
            return True
    return False


_NEGATOR_WORD = re.compile(r"\b(?:no|not|without|none|negative)\b", re.I)


def fills_gap(mention: str, sentence: str, sentences: list[Facts], vocab: OpenVocabulary) -> bool:
    """Whether a mention the report never words stands where an affirmed report sentence has a de-identified
    word, next to the same word: "IVC filter" for "IVC XXXX", "sternotomy wires" for "sternotomy XXXX",
    "pacemaker generator" for "cardiac XXXX generator"."""
    named = set(_TOKEN.findall(mention.lower()))
    words = _TOKEN.findall(sentence.lower())
    beside = set()
    for i, w in enumerate(words):
        if w in named:
            if i and words[i - 1] not in named:
                beside.add(("before", stem(words[i - 1])))
            if i + 1 < len(words) and words[i + 1] not in named:
                beside.add(("after", stem(words[i + 1])))
    beside = {(k, w) for k, w in beside if len(w) >= 3 and w not in vocab.stopwords}
    if not beside:
        return False
    for s in sentences:
        if "XXXX" not in s.text:
            continue
        for m in _GAP.finditer(s.text):
            if _NEGATOR_WORD.search(s.text, max(0, m.start() - 30), m.start()):
                continue
            if (m.group(1) and ("before", stem(m.group(1).lower())) in beside) or (
                m.group(2) and ("after", stem(m.group(2).lower())) in beside
            ):
                return True
    return False


# a de-identified word and the words right beside it (no punctuation between: "superior mediastinal, XXXX
# superimposed" puts no word before it)
_GAP = re.compile(r"(?:\b(?!XXXX\b)([A-Za-z][\w-]*)[ \t]+)?\bXXXX\b(?:[ \t]+(?!XXXX\b)([A-Za-z][\w-]*))?")


_REPORT_WORDS: dict[int, tuple[list[Facts], frozenset[str], frozenset[str]]] = text_cache()


def _report_words(sentences: list[Facts], vocab: OpenVocabulary) -> tuple[frozenset[str], frozenset[str]]:
    """The report's words as specific terms and as alias stems, once per report (not per clause)."""
    entry = _REPORT_WORDS.get(id(sentences))
    if entry is None or entry[0] is not sentences:
        words = {w for s in sentences for w in s.words}
        words |= {part for w in words if "-" in w for part in w.split("-") if part}  # ("post-CABG": CABG)
        entry = (
            sentences,
            frozenset(vocab.terms.get(w, w) for w in words),
            frozenset(object_stem(w, vocab) for w in words),
        )
        remember(_REPORT_WORDS, id(sentences), entry, limit=20_000)
    return entry[1], entry[2]


# a term's word used for something else: a procedure ("axillary node dissection"), a line's course ("a catheter
# descending into the SVC")
_NOT_A_TERM = re.compile(
    r"\b(?:nodal|node|nodes|lymph\s+node|axillary|neck)\s+dissection\b"
    r"|\bdescending\s+(?=(?:with|into|through|along|to|toward|towards|in|below|past|from|inferiorly)\b)"
)


def _term_words(clause: Facts) -> frozenset[str]:
    """The clause's words, less those a term's word is used for something else in (`_NOT_A_TERM`)."""
    if "dissection" not in clause.words and "descending" not in clause.words:
        return clause.words
    return frozenset(_TOKEN.findall(_NOT_A_TERM.sub(" ", clause.text.lower())))


DENSITY_WORDS = frozenset({"dense", "densely"})
DENSE_THINGS = frozenset({
    "calcified", "calcification", "calcifications", "calcific", "cement", "vertebroplasty", "kyphoplasty", "scar",
    "scarring", "sclerotic", "sclerosis", "granuloma", "granulomas", "hyperdense", "bone", "bony", "metallic",
})


def _unnamed_terms(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Finding]:
    """A specific finding, descriptor, device or place ("spiculated", "hemothorax", "balloon pump",
    "sigmoid") the step asserts and the report never words in any form."""
    mine = {vocab.terms[w] for w in _term_words(clause) if w in vocab.terms}
    if not mine or not sentences or clause.negated or clause.hedge in ("possible", "open"):
        return []
    said = _report_words(sentences, vocab)[0]
    # a term the report denies by prefix ("noncalcified") is worded there: what the clause says of it is a denial's
    # conflict (`_non_prefixed`), not an invented finding
    unsaid = mine - said - {vocab.terms.get(w) for w in _non_words(sentences)}
    if "calcified" in unsaid and (
        "granuloma" in clause.classes or any("granuloma" in s.classes for s in sentences if not s.negated)
    ):
        unsaid.discard("calcified")  # (granulomas a radiograph shows are calcified: "old granulomatous disease")
    if len(unsaid) == 1:
        # one word a de-identified word may be: "an intramedullary rod in the right humerus" for "right humeral
        # intramedullary XXXX"
        strong = clause.anchors - vocab.weak
        if any("XXXX" in s.text and len(s.anchors & strong) >= 2 for s in sentences):
            return []
    if unsaid and not all(
        fills_gap(w, clause.text, sentences, vocab) for w in clause.words if vocab.terms.get(w) in unsaid
    ):
        return [Finding("finding_not_in_report", None)]  # (not "an IVC filter" for "an IVC XXXX")
    return []


def _unsaid_change(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage) -> bool:
    """A change over time the report compares but states of nothing this clause speaks of ("new compared with
    the prior" where the report only says "Comparison ___" and describes the nodule). A report sentence about
    everything ("the findings are grossly stable") vouches for each thing."""
    return (
        bool(clause.temporal)
        and bool(clause.anchors - vocab.weak)  # ("It looks grossly similar to the prior study": of what, unsaid)
        and bool(lang.change_claim.search(clause.text))
        and not any(s.temporal or _compares(s, lang) for s in sentences if s.anchors & clause.anchors)
        # (nor one whose subject is a pronoun for what the sentence before names: "These are slightly more prominent
        # than on the previous study")
        and not any(
            s.temporal & clause.temporal
            and (not s.anchors - vocab.weak - _WHOLE_EXAM or _PRONOUN_SENTENCE.match(s.text))
            for s in sentences
        )
    )


# words that name the whole exam, not a thing on it ("Stable chest x-XXXX, without acute cardiopulmonary findings")
_WHOLE_EXAM = frozenset(stem(w) for w in (
    "chest", "x-ray", "x-xxxx", "xray", "radiograph", "radiographs", "film", "study", "exam", "examination",
    "appearance", "cardiopulmonary",
))
_PRONOUN_SENTENCE = re.compile(r"\W*(?:these|they|this|it|those|both|each|all\s+(?:of\s+)?(?:these|them))\b", re.I)


# a comparison field that names no earlier exam ("None.", "None available", "No comparison")
_NO_PRIOR = re.compile(r"^\W*(?:none\b|no\s+(?:prior|previous|comparison)|n/?a\b|not\s+available|unavailable|$)", re.I)


def names_prior(comparison: str | None) -> bool:
    """Whether a report's comparison field names an earlier exam ("Chest radiograph on XXXX", "XXXX, XXXX")."""
    return bool(comparison) and not _NO_PRIOR.match(comparison)


def _unfounded_change(clause: Facts, sentences: list[Facts], lang: StepLanguage) -> list[Finding]:
    """A change over time ("new", "larger than before") stated of a report that compares with nothing."""
    if not clause.temporal or not sentences or not lang.change_claim.search(clause.text):
        return []
    if any(_compares(s, lang) for s in sentences):
        return []
    return [Finding("temporal_conflict", None)]


_CHANGE_CLASSES = frozenset({"new", "unchanged", "increased", "decreased", "resolved"})


def _compares(s: Facts, lang: StepLanguage) -> bool:
    """Whether a report sentence compares with an earlier exam: it states a change over time, or words a
    comparison ("compared with", "since the prior study", "interval"); "prior granulomatous disease" (history)
    or "comparison would be helpful to establish stability" (a wish) do not."""
    if _RECOMMENDS.search(s.text):
        return False  # "Recommend follow-up radiographs to resolution", "comparison would be helpful": no comparison
    return bool(s.temporal & _CHANGE_CLASSES) or bool(lang.change_claim.search(s.text))


_RECOMMENDS = re.compile(
    r"\brecommend\w*|\bwould\s+be\s+(?:helpful|useful)\b|\bto\s+establish\b|\bif\s+(?:available|obtainable)\b"
    r"|\bto\s+(?:document\s+|ensure\s+|confirm\s+)?resolution\b",
    re.I,
)


def _class_negation(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Finding]:
    """A negated clause about a kind of object ("No lines or tubes") against a report that has one."""
    wanted = [c.partition(":") for c in clause.negated_classes if c.partition(":")[0] in vocab.negatable]
    if not wanted or clause.hedge != "certain":
        return []
    quals = clause.words & vocab.qualifiers
    for s in sentences:
        if s.negated or s.hedge != "certain":
            continue
        if not any(cls in s.classes and (not word or word in s.anchors) for cls, _, word in wanted):
            continue
        if any(not names <= s.places.get(family, frozenset()) for family, names in clause.places.items()):
            continue  # "no left ventricular lead" says nothing against leads in the right heart, nor "no rib
            # fracture" against a clavicle one
        if quals and not quals <= s.words:
            continue  # "no acute fracture" says nothing against an old one
        where = _where_words(clause, vocab)
        if where and not where & s.words:
            continue  # "no clips in the upper abdomen" says nothing against mediastinal clips
        if clause.sides and not clause.sides & s.sides and "bilateral" not in s.sides:
            continue  # "no fracture on the left" says nothing against a right one, nor a midline (spine) one
        if _other_device(clause, s, vocab):
            continue  # "no chest tube" says nothing against an NG tube
        return [Finding("negation_conflict", s)]
    return []


_DEVICE_HEAD = re.compile(r"\b([a-z][a-z-]*)\s+(?:tubes?|lines?|catheters?|drains?|leads?)\b")


def device_kinds(text: str, vocab: OpenVocabulary) -> frozenset[str]:
    """The kinds of device a text names by the word before its head noun ("chest tube", "NG tube")."""
    if not vocab.device_kinds:
        return frozenset()
    return frozenset(
        kind for m in _DEVICE_HEAD.finditer(text.lower()) if (kind := vocab.device_kinds.get(m.group(1))) is not None
    )


def _other_device(clause: Facts, s: Facts, vocab: OpenVocabulary) -> bool:
    """Whether a clause and a report sentence name devices of different kinds only ("no chest tube" against
    "NG tube in place")."""
    mine = device_kinds(clause.text, vocab)
    return bool(mine) and bool(theirs := device_kinds(s.text, vocab)) and not mine & theirs


_WHERE = re.compile(r"\b(?:in|at|over|along|within|near|projecting\s+over)\s+(?:the\s+)?((?:[a-z-]+\s+){0,2}[a-z-]+)")


def _where_words(clause: Facts, vocab: OpenVocabulary) -> frozenset[str]:
    """Content words of the places a clause names ("in the upper abdomen": upper, abdomen)."""
    out = set()
    for m in _WHERE.finditer(clause.text.lower()):
        out |= {
            w
            for w in m.group(1).split()
            if w not in vocab.stopwords and w not in vocab.classes and w not in _SIDE and len(w) > 3
        }
    return frozenset(out)


_OTHER_THINGS = re.compile(r"\b(?:or|and|nor)\s+(?:any\s+)?other\s+([a-z]+)", re.I)


def _polarity_conflict(
    clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage
) -> list[Finding]:
    """A certain clause the report says the opposite of, in every sentence that names all its words.

    "It also describes an acute osseous abnormality" against "No acute osseous abnormality"; "without
    calcification" (of the aortic knob) against "Calcified aortic knob". Only the words in a negation's
    scope count (from the cue to the end of its clause: "No definite pneumothorax, although evaluation is
    limited by subcutaneous air" does not deny the air), qualifiers must match ("no acute fracture" says
    nothing against an old one) and a denial of "other" things leaves the named one alone.
    """
    # "no DISH or other abnormality" names one thing before its catch-all: its "other" neither exempts the clause
    # nor qualifies the thing, and the catch-all is not a word the report must name
    catch_all = {stem(m.group(1)) for m in _OTHER_THINGS.finditer(clause.text)}
    other = frozenset({"other"}) if catch_all else frozenset()
    if clause.hedge != "certain" or clause.words & vocab.polarity_exempt - other:
        return []
    scope = _denial_scope(clause, vocab, lang) if clause.negated else clause.anchors
    # only the clause's own words: a borrowed subject ("It also describes ...", "However" after a step about
    # the effusion) is not this clause's claim
    own = _own_anchors(clause, vocab)
    strong = {a for a in scope if a not in vocab.weak and a in own}
    if strong - catch_all:
        strong -= catch_all
    if not strong:
        return []
    mine = [w for w in clause.words if stem(w) in strong]
    same = [
        s
        for s in sentences
        if strong <= s.anchors and all(same_word(w, s.words) for w in mine) and not _other_device(clause, s, vocab)
    ]
    if not same:
        return []
    quals = clause.words & vocab.qualifiers - other
    if clause.negated:
        quals = _denial_qualifiers(clause, quals, lang) - other
        # (a sentence hedging something else states this plainly: "Minimal patchy opacity in the lingula, which may
        # represent subsegmental atelectasis")
        same = [
            s
            for s in same
            if (s.hedge == "certain" or (s.hedge != "open" and s.hedged_anchors and not strong & s.hedged_anchors))
            and (not quals or quals <= s.words)
            and not _older(quals, s)
        ]
        if not same or any(
            (s.negated and (strong & _denial_scope(s, vocab, lang) or _same_denial(clause, s, vocab, lang)))
            or strong <= _denied_anywhere(s, vocab, lang)
            for s in same
        ):
            return []
        if "resolved" in clause.temporal and any("resolved" in s.temporal for s in same):
            return []  # "interval resolution of the infiltrates" for "the infiltrates have resolved"
        if clause.words & vocab.normal_words and any(s.words & vocab.normal_words for s in same):
            return []  # "unremarkable" (read as a denial) against "within normal limits"
    elif lang.negation_post.search(clause.text):
        return []  # "A pleural effusion cannot be seen" denies after its subject
    elif clause.words & vocab.normal_words:
        # "unremarkable" against "within normal limits"; "normal" against a report sentence that describes the
        # thing was tried and dropped: reports name the heart or the aorta in passing ("densities overlying
        # the heart", "cardiac generator") far more often than they contradict a normal claim
        return []
    elif not all(s.hedge == "certain" and s.negated and strong <= _denial_scope(s, vocab, lang) for s in same):
        return []
    s = same[0]
    if clause.sides and s.sides and not clause.sides & s.sides and "bilateral" not in s.sides:
        return []
    if clause.places.get("lobe") and s.places.get("lobe") and not clause.places["lobe"] & s.places["lobe"]:
        return []  # "no upper lobe collapse" beside "collapse of the right middle and lower lobes"
    if clause.negated and _other_side_zones(clause, s):
        return []  # "the right lower and left upper lobes are not involved" beside "right upper and left lower"
    return [Finding("negation_conflict", s)]


def _older(quals: frozenset[str], s: Facts) -> bool:
    """A denial of a recent thing ("no acute fracture") beside a sentence whose thing is old ("healed, remote rib
    fractures without acute abnormality": its "acute" is in a denial of its own)."""
    return bool(quals & _RECENT) and "chronic" in s.temporal and "acute" not in s.temporal


_RECENT = frozenset({"acute", "fresh", "recent", "new"})


# lines, tubes and devices as a kind, not one of them ("an endotracheal tube", "a pleural line")
_ANY_DEVICE = re.compile(r"\bany\s+(?:lines?|tubes?|catheters?|devices?)\b", re.I)
_DEVICE_WORDS = re.compile(r"\b(?:lines|tubes|catheters|devices|support\s+apparatus)\b", re.I)
_ONE_DEVICE = re.compile(
    r"\b(?:endotracheal|tracheostomy|nasogastric|enteric|feeding|chest|et|ng|og|pleural|visceral|septal|kerley|"
    r"pacemaker|pacer|drainage|surgical|sternotomy|cardiac|other|additional|further|new)\b",
    re.I,
)


def _denied_device(clause: Facts, sentences: list[Facts], lang: StepLanguage) -> list[Finding]:
    """A denial of lines, tubes or catheters ("The report doesn't describe any lines, ports or tubes") where the
    report places a tip or names a line or tube, however its de-identified words hide the device."""
    if clause.hedge != "certain":
        return []
    after = _after_negation_cue(clause.text, lang)
    if after is None:
        return []
    if not _ANY_DEVICE.search(after[:30]) and (not _DEVICE_WORDS.search(after[:60]) or _ONE_DEVICE.search(after[:60])):
        return []  # ("any tube or surgical device" is any device; "no chest tube" is one kind)
    placed = next((s for s in sentences if not s.negated and (s.places.get("tip") or "line_tube" in s.classes)), None)
    return [Finding("negation_conflict", placed)] if placed is not None else []


# a finding explained away: "that's just positional", "simply due to the low lung volumes", "within normal
# variation", "can be regarded as normal", "isn't a concern", "can effectively be ruled out"
_EXPLAINED_AWAY = re.compile(
    r"\b(?:just|simply|merely|only|purely)\s+(?:\w+\s+){0,3}?(?P<why>positional|position(?:ing)?|technique|technical|"
    r"overlap\w*|artifact\w*|rotation|rotated|projection|inspiration|inspiratory|normal\s+variant|soft\s+tissue|"
    r"vessels?|vascular\s+shadows?|ribs?|low\s+(?:lung\s+)?volumes?)\b"
    r"|\bwithin\s+normal\s+variation\b|\bcan\s+be\s+(?:regarded|considered|treated)\s+as\s+normal\b"
    r"|\b(?:isn't|is\s+not|not)\s+a\s+(?:real\s+)?concern\b|\b(?:effectively|safely)\s+(?:be\s+)?(?:ruled\s+out|excluded)\b",
    re.I,
)


def _maybe(text: str, lang: StepLanguage) -> bool:
    """Whether a stretch of text hedges (possible or probable): what follows is weighed, not set."""
    return any(lang.hedges[h].search(text) for h in ("possible", "probable") if h in lang.hedges)


def explained_away(
    text: str, clauses: list[Facts], sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage
) -> Finding | None:
    """A step that explains away what the report keeps open ("The cardiac apex is prominent as before, but that's
    just positional" for "Stable prominence of the cardiac apex, XXXX from ventricular hypertrophy"): the report
    names the thing under a hedge or as a reading, and does not give the step's harmless cause itself."""
    m = _EXPLAINED_AWAY.search(text)
    if m is None or _maybe(text[max(0, m.start() - 40) : m.start()], lang):
        return None  # ("probably just overlapping vessels", "could simply be vessels": a reading weighed, not set)
    report = " ".join(s.text.lower() for s in sentences)
    if any(w[:5] in report for w in (m.group("why") or "").lower().split() if len(w) >= 4):
        return None  # the report gives that cause itself ("accentuated by AP technique")
    strong = frozenset().union(*(c.anchors for c in clauses)) - vocab.weak - vocab.place_stems
    for s in sentences:
        if s.negated or not s.anchors & strong:
            continue
        if s.hedge != "certain" or _READING.search(s.text):
            return Finding("uncertainty_dismissed", s)
    return None


_LIST_OR = re.compile(r"\s(?:or|nor)\s", re.I)
_LIST_END = re.compile(r",\s*(?:and|no|with)\b|\band\s+no\b", re.I)
_LIST_SPLIT = re.compile(r"\s*,\s*(?:or\s+|and\s+|nor\s+)?|\s+(?:or|nor|and/or)\s+", re.I)


def _listed_denial(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage) -> list[Finding]:
    """A denial of several things ("The report doesn't mention any osteophytes or spurring of the spine") denies
    each of them: one the report affirms is a negation conflict, though no sentence names them all."""
    if clause.hedge != "certain" or clause.words & vocab.qualifiers:
        return []  # ("no acute airspace or pleural abnormality": a qualifier read with one item would be lost)
    after = _after_negation_cue(clause.text, lang)
    if after is None:
        return []
    end = _SCOPE_END.search(after) or _LIST_END.search(after)
    scope = after[: end.start()] if end else after
    if not _LIST_OR.search(scope):
        return []  # a list of things denied ends on "or" / "nor"
    items = [p.strip() for p in _LIST_SPLIT.split(scope) if p.strip()]
    if len(items) < 2 or any(len(p.split()) > 4 for p in items):
        return []
    for item in items:
        # (read uncached: the item is not a text of the step or the report)
        denial = _read_facts("No " + item, vocab, lang, {})
        found = _polarity_conflict(denial, sentences, vocab, lang) if denial.negated else []
        if found:
            return found
    return []


def _denial_qualifiers(clause: Facts, quals: frozenset[str], lang: StepLanguage) -> frozenset[str]:
    """The qualifiers of a denial: those from the word before its cue on ("otherwise no acute fracture"), not one
    the clause spends on something else first ("The bones are otherwise normally mineralized with no osteopenia")."""
    text, m = _negation_cue(clause.text, lang)
    if m is None or not quals:
        return quals
    before = _TOKEN.findall(text[: m.start()].lower())[-1:]
    return quals & {*before, *_TOKEN.findall(text[m.start() :].lower())}


_OMISSION_BREAK = re.compile(r"[,;]|\bbut\b", re.I)


def _omitted_but_said(
    clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage
) -> list[Finding]:
    """"The spine isn't commented on" (so it is unremarkable) where the report describes the spine as
    abnormal in so many words ("Degenerative changes of the midthoracic spine"): absence by omission of a
    thing the report does speak of. Sentences that call the thing normal or deny something do not count: a
    step saying the report is silent on the heart beside "Heart size is normal" still concludes rightly."""
    m = lang.omission.search(clause.text)
    if m is None:
        return []
    cue = {stem(w) for w in _TOKEN.findall(m.group(0).lower())}
    # (the stretch the cue stands in: "Low volumes can crowd the markings and mimic opacity, but the radiologist
    # didn't describe any" leaves the opacity unsaid, not the volumes)
    start = max((b.end() for b in _OMISSION_BREAK.finditer(clause.text, 0, m.start())), default=0)
    end = next((b.start() for b in _OMISSION_BREAK.finditer(clause.text, m.end())), len(clause.text))
    tokens = _TOKEN.findall(clause.text[start:end].lower())
    words = {stem(w) for w in tokens} | {vocab.classes[w] for w in tokens if w in vocab.classes}
    subject = (clause.anchors & words if end - start < len(clause.text) else clause.anchors) - cue - vocab.weak
    if not subject:
        return []
    thing = {vocab.thing(a) for a in subject}
    named = subject - set(vocab.classes.values())
    for s in sentences:
        if s.negated or s.hedge != "certain" or s.words & vocab.normal_words:
            continue
        if not _abnormal_words(s) and not named & s.anchors:
            continue  # "cardiomegaly isn't mentioned" beside "The cardiomediastinal silhouette is stable": nothing
            # abnormal is said of the heart
        said = vocab.with_wholes(s.anchors)  # "the diaphragm is not mentioned" beside "Right hemidiaphragm eventration"
        # (a word named by its class: "the spine" beside "thoracic dextroscoliosis")
        said |= {stem(w) for w in clause.words if vocab.classes.get(w) in said & vocab.synonym_classes}
        if thing <= said and not _other_side_zones(clause, s):
            return [Finding("negation_conflict", s)]
    return []


def _own_anchors(clause: Facts, vocab: OpenVocabulary) -> set[str]:
    """The anchors the clause's own words give (their stems and object classes), without a subject borrowed from
    the clause or step before."""
    return {stem(w) for w in clause.words} | {vocab.classes[w] for w in clause.words if w in vocab.classes}


_DESCRIBED = re.compile(
    r"^\W*(?:the\s+)?((?:[a-z-]+\s+){0,2}?[a-z-]+)\s+(?:is|are|appears?|remains?|looks?)\s+"
    r"(?:(?:[a-z]+ly|again|now|somewhat|very|still)\s+)?([a-z-]+)(?:\s+(?:superiorly|inferiorly|medially|laterally))?"
    r"(?:\s*(?:,|and)\s*([a-z-]+))?\W*$"
)
_QUALIFIED = re.compile(
    r"^\W*(?:(?:mildly|slightly|markedly|moderately|severely|very)\s+)?([a-z-]+)(?:\s*(?:,|and)\s*([a-z-]+))?\s+"
    r"((?:[a-z-]+\s+)?[a-z-]+)\W*$"
)
# (the abnormality stems of `_ABNORMAL_STEMS` that name what is wrong with a thing its adjective names)
_THING_ABNORMALITY = re.compile(
    r"^\W*(?:(?:mild|mildly|minimal|moderate|moderately|severe|marked|slight|slightly|stable|chronic|diffuse|"
    r"bilateral|left|right)\s+)*"
    r"([a-z]+)\s+((?:ectat|ectasia|tortuo|calcifi|atheroscl|enlarg|dilat|aneurysm|widen|deformit|degenerat|prominen|"
    r"fullness)[a-z]*)"
    r"(?:\s*/\s*[a-z-]+)?\W*$"
)
_CHANGES_OF = re.compile(
    r"^\W*((?:[a-z-]+\s+){1,3}?)(changes?|disease|deformity|deformities|spurring|spondylosis|osteophytes|"
    r"calcifications?|tortuosity|ectasia|thickening|scarring)\s+(?:of|in|along|at|involving|within)\s+(?:the\s+)?"
    r"((?:[a-z-]+\s+)?[a-z-]+)\W*$"
)
# "<abnormality> of the <thing>": "Elevation of the left hemidiaphragm.", "Prominence of the pulmonary vasculature."
_NOUN_OF = re.compile(
    r"^\W*(?:(?:mild|moderate|marked|slight|severe|persistent|continued|asymmetric|stable|again|new|increased)\s+)*"
    r"(elevation|prominence|enlargement|widening|deviation|tortuosity|ectasia|dilat(?:ion|ation)|hyperinflation|"
    r"hyperexpansion|overinflation|eventration|blunting|engorgement|congestion|cephalization)\s+(?:of|in|involving)\s+"
    r"(?:the\s+)?((?:[a-z-]+\s+){0,2}[a-z-]+)\W*$"
)
_THERE = re.compile(r"^\W*there\s+(?:is|are)\s+(?:an?\s+)?")
_WITH_TAIL = re.compile(r"\s+(?:with|and\s+associated)\s.*$")
_VOLUME_WORDS = frozenset({"hyperinflated", "hyperexpanded", "hypoinflated", "hypoexpanded", "overinflated"})
# a side, or a size within the normal range ("Small sized heart" beside "Heart size is normal"), before a thing
_NOT_CALLED_ABNORMAL = frozenset({"left", "right", "bilateral", "small", "smaller", "little"})
_NOT_ABNORMAL = frozenset({"within", "stable", "unchanged", "grossly", "seen", "noted", "present", "visualized",
                           "identified", "demonstrated", "redemonstrated", "similar", "again", "not", "no", "without",
                           "midline"})


# what a clause calls normal about a thing, not the thing ("The hemidiaphragms are at normal height"), as stems
_ASPECTS = frozenset({"height", "posit", "caliber", "calibr", "distrib", "shap", "width", "cours", "configur"})


# "<thing> is <abnormal>" in a step against "<thing> is <normal>" in the report ("The trachea is shifted to the
# right" / "The trachea is midline")
_ABNORMAL_PREDICATES = frozenset({
    "shifted", "deviated", "displaced", "dislocated", "enlarged", "widened", "elevated", "hyperinflated",
    "hyperexpanded", "tortuous", "narrowed", "collapsed", "fractured", "malpositioned", "ectatic", "dilated",
    "congested", "engorged", "increased", "prominent", "abnormal", "thickened", "coarsened", "indistinct", "blunted",
    "irregular", "distended", "accentuated",
})
_NORMAL_PREDICATES = frozenset({"midline", "located", "aligned", "centered", "centred"})
_ABNORMAL_NOUNS = frozenset({
    "congestion", "engorgement", "enlargement", "widening", "elevation", "deviation", "tortuosity", "ectasia",
    "dilatation", "dilation", "narrowing", "hyperinflation", "hyperexpansion", "displacement", "shift",
})
# "<thing> shows <abnormality>" ("The pulmonary vascularity shows mild congestion")
_CLAUSE_SHOWS = re.compile(
    r"^\W*(?:(?:and|but|so|also|although|though|while|whereas)\s+)?(?:the\s+)?((?:[a-z-]+\s+){0,2}?[a-z-]+)"
    r"\s+(?:shows?|showing|demonstrates?|has|have|with)\s+(?:(?:a|an|some|mild|mildly|slight|minimal|moderate|marked|"
    r"severe|subtle|increased)\s+)*([a-z-]+)\b"
)
# "<thing> is <predicate>": the verb and the predicate, shared by the step's and the report's reading
_IS = r"\s+(?:is|are|appears?|remains?|looks?)\s+"
_PREDICATE = r"(?:(?:[a-z]+ly|somewhat|now|still)\s+)?([a-z-]+)\b"
# a step clause, also as the step words it ("although the vasculature is described as mildly congested")
_CLAUSE_DESCRIBED = re.compile(
    r"^\W*(?:(?:and|but|so|also|although|though|while|whereas)\s+)?(?:the\s+)?((?:[a-z-]+\s+){0,2}?[a-z-]+)"
    + _IS
    + r"(?:(?:described|reported|noted|characterized)\s+as\s+)?"
    + _PREDICATE
)
# a report sentence, also one calling several things one thing ("Cardiomediastinal silhouette and pulmonary
# vasculature are within normal limits")
_REPORT_DESCRIBED = re.compile(r"^\W*(?:the\s+)?((?:[a-z-]+\s+){0,5}?[a-z-]+)" + _IS + _PREDICATE)


def _called_abnormal(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Finding]:
    """A clause calling a thing abnormal ("The trachea is shifted slightly to the right") that a report sentence
    calls normal in so many words ("The trachea is midline.")."""
    if clause.negated or clause.hedge != "certain":
        return []
    low = clause.text.lower()
    m = _CLAUSE_DESCRIBED.match(low)
    if m is None or m.group(2) not in _ABNORMAL_PREDICATES:
        # "<thing> shows <abnormality>": "The pulmonary vascularity shows mild congestion"
        m = _CLAUSE_SHOWS.match(low)
        if m is None or m.group(2) not in _ABNORMAL_NOUNS:
            return []
    subject = {stem(w) for w in m.group(1).split() if w not in vocab.weak and w not in vocab.stopwords}
    if not subject:
        return []
    for s in sentences:
        if s.negated or s.hedge != "certain":
            continue
        r = _REPORT_DESCRIBED.match(s.text.lower())
        if r is None:
            continue
        said = {stem(w) for w in r.group(1).split()}
        normal = r.group(2) in vocab.normal_words | _NORMAL_PREDICATES or (
            r.group(2) == "within" and "limits" in s.words  # "within normal limits"
        )
        if subject <= said and normal:
            return [Finding("negation_conflict", s)]
    return []


_NON_WORD = re.compile(r"\bnon-?([a-z]{5,})\b", re.I)
_NON_WORDS: dict[int, tuple[list[Facts], dict[str, Facts]]] = text_cache()


def _non_words(sentences: list[Facts]) -> dict[str, Facts]:
    """Words the report negates by prefix ("noncalcified": "calcified") and never says plainly, each with the first
    affirmed sentence that does so; once per report."""
    entry = _NON_WORDS.get(id(sentences))
    if entry is None or entry[0] is not sentences:
        found: dict[str, Facts] = {}
        for s in sentences:
            if not s.negated:
                for m in _NON_WORD.finditer(s.text):
                    found.setdefault(m.group(1).lower(), s)
        plain = {w for t in sentences for w in t.words}
        entry = (sentences, {w: s for w, s in found.items() if w not in plain})
        remember(_NON_WORDS, id(sentences), entry, limit=20_000)
    return entry[1]


def _non_prefixed(clause: Facts, sentences: list[Facts]) -> list[Finding]:
    """A certain clause that says what the report says is not: "It is densely calcified" where the report's nodule
    "is noncalcified" and nothing in the report is called calcified ("displaced" for "nondisplaced")."""
    if clause.negated or clause.hedge != "certain":
        return []
    denied = _non_words(sentences)
    hits = [denied[w] for w in clause.words if w in denied]
    if not hits and "non" in clause.text.lower():
        # the other way round: "a non-calcified granuloma" where the report's granuloma is calcified and nothing in the
        # report is called noncalcified
        plain = {m.group(1).lower() for m in _NON_WORD.finditer(clause.text)}
        said = {m.group(1).lower() for t in sentences for m in _NON_WORD.finditer(t.text)}
        hits = [t for t in sentences if not t.negated and (plain - said) & t.words and t.anchors & clause.anchors]
    return [Finding("negation_conflict", min(hits, key=lambda s: s.start))] if hits else []


_STATES: dict[int, tuple[list[Facts], dict[str, list[tuple[frozenset[str], Facts]]]]] = text_cache()


def _states_in(text: str, lang: StepLanguage, within: bool = False) -> dict[str, frozenset[str]]:
    """The states a text gives each attribute of `step_language.states` ("Low lung volumes": lung_volume low). With
    `within`, a state phrase followed in the same clause by "within (normal) limits" is the normal state ("pulmonary
    vascular engorgement appear within limits of normal")."""
    out = {}
    for attr, by_state in lang.states.items():
        found = set()
        for state, pattern in by_state.items():
            m = pattern.search(text)
            if m is None:
                continue
            after = text[m.end() : m.end() + 60]
            limits = _WITHIN_LIMITS.search(after) if within else None
            found.add("normal" if limits and not re.search(r"[.;,]", after[: limits.start()]) else state)
        if found:
            out[attr] = frozenset(found)
    return out


_WITHIN_LIMITS = re.compile(r"\bwithin\s+(?:the\s+)?(?:normal\s+)?limits\b|\blimits\s+of\s+normal\b", re.I)


def _report_states(sentences: list[Facts], lang: StepLanguage) -> dict[str, list[tuple[frozenset[str], Facts]]]:
    """Per attribute, the states the report's certain sentences affirm (what a negated sentence affirms before its
    "without"), each with its sentence, and under "!<attribute>" the abnormal states it denies; once per report."""
    entry = _STATES.get(id(sentences))
    if entry is None or entry[0] is not sentences:
        found: dict[str, list[tuple[frozenset[str], Facts]]] = {}
        for s in sentences:
            if s.hedge != "certain":
                continue
            text = s.text if not s.negated else _before_without(s.text, lang, later=True)
            for attr, states in _states_in(text or "", lang, within=True).items():
                found.setdefault(attr, []).append((states, s))
            cue = lang.negation_pre.search(s.text) if s.negated else None
            if cue is not None:
                # what the sentence denies ("There is no pulmonary vascular congestion"), under "!<attribute>"
                for attr, states in _states_in(s.text[cue.end() :], lang).items():
                    if states - {"normal"}:
                        found.setdefault("!" + attr, []).append((states - {"normal"}, s))
        entry = (sentences, found)
        remember(_STATES, id(sentences), entry, limit=20_000)
    return entry[1]


def _state_conflict(clause: Facts, sentences: list[Facts], lang: StepLanguage) -> list[Finding]:
    """A clause giving an attribute one state ("The lungs are well expanded") where the report gives it another and
    never this one ("Low lung volumes."): normal against abnormal is a negation conflict, two abnormal states
    ("hyperinflated" / "low volumes") a severity conflict. A clause about one side is not held against a sentence
    about the other."""
    if not lang.states:
        return []
    text = clause.text
    if clause.hedge != "certain":
        # what the clause states before its hedge ("the trachea is shifted to the right, probably from volume loss")
        first = _first_hedge(text, lang)
        text = text[:first] if first is not None else ""
        if not text.strip():
            return []
    if clause.negated:
        # what the clause affirms before its denial ("The lungs are of normal volume and show no consolidation")
        text = _before_without(text, lang, later=True)
        if not text:
            return []
    elif lang.negation_post.search(text):
        return []  # "Cardiac enlargement and vascular congestion are both reported as negative": denied states
    mine = _states_in(text, lang, within=True)
    if not mine:
        return []
    theirs = _report_states(sentences, lang)
    for attr, states in mine.items():
        denied = [s for st, s in theirs.get("!" + attr, ()) if states <= st and not _other_side(clause.sides, s.sides)]
        if denied and "normal" not in states:
            return [Finding("negation_conflict", denied[0])]  # "The vessels look congested" / "No vascular congestion"
        if len(states) != 1 or attr not in theirs:
            continue
        said = [(st, s) for st, s in theirs[attr] if not _other_side(clause.sides, s.sides)]
        if said and not any(states & st for st, _ in said):
            st, s = said[0]
            reason = "negation_conflict" if "normal" in states | st else "severity_conflict"
            return [Finding(reason, s)]
        # the same abnormal state at another grade ("markedly reduced" lung volumes for "Mildly low lung volumes")
        same = [s for st, s in said if states & st]
        if same and "normal" not in states and clause.grades and all(s.grades for s in same) and not any(
            clause.grades & s.grades or _low_end(clause.grades, s.grades) for s in same
        ):
            return [Finding("severity_conflict", same[0])]
    return []


# words that say a thing is abnormal, as stem prefixes, and which of them bear on an aspect a normal statement may
# be about ("normal vertebral body heights" against "wedging of several vertebral bodies")
_ABNORMAL_STEMS = (
    "deformit", "fractur", "wedg", "degenerat", "spondylo", "osteophyt", "scolio", "kyphos", "eventrat", "elevat",
    "calcifi", "tortuo", "ectat", "ectasi", "enlarg", "widen", "opacit", "nodul", "lesion", "thicken", "blunt",
    "atelecta", "scar", "granulom", "hyperinfl", "hyperexpan", "emphysem", "scleros", "sclerot", "erosi", "narrow",
    "dislocat", "dextroscolio", "levoscolio", "dextrocurv", "levocurv", "dextroconvex", "levoconvex",
    "congest", "hernia", "compress", "collaps", "flatten", "dilat", "aneurysm", "deviat", "displac", "effusion",
    "arthrit", "arthros", "spur",
)
_ASPECT_STEMS = {
    "height": ("wedg", "compress", "collaps", "elevat", "flatten", "eventrat"),
    "posit": ("deviat", "displac", "elevat", "dislocat"),
    "caliber": ("enlarg", "ectat", "dilat", "aneurysm", "widen"),
    "calibr": ("enlarg", "ectat", "dilat", "aneurysm", "widen"),
    "width": ("enlarg", "ectat", "dilat", "widen"),
    "shap": ("deformit", "wedg", "eventrat", "scolio", "kyphos"),
    "smooth": ("eventrat", "elevat", "blunt", "thicken", "nodul", "deformit", "irregular"),
    "cours": ("tortuo", "deviat", "displac", "kink", "unfold"),
    # "the thoracic spine is straight" against "mild dextroscoliosis of the thoracic spine"
    "straigh": ("scolio", "kyphos", "dextroscolio", "levoscolio", "dextrocurv", "levocurv", "dextroconvex",
                "levoconvex", "deviat", "tortuo", "curv"),
}
# what a normal statement names besides its thing ("the bony thorax, including the clavicles")
# (nor is the heart, mediastinum or vasculature here: the extractor and the attribute states read those)
_NORMAL_FILLER = frozenset({
    "bony", "includ", "osseou", "structur", "visualiz", "bone", "bones", "assum", "presum", "heart", "cardiac",
    "cardiomed", "cardiomeg", "mediast", "silhoue", "contour", "vascula", "vascular", "vessel", "pulmon", "size",
})


def _sides_called_normal(text: str, vocab: OpenVocabulary) -> frozenset[str]:
    """The sides named just before the clause's normal words ("with the right lung clear": right), when every normal
    word has one; else none."""
    words = _TOKEN.findall(text.lower())
    sides = set()
    for i, w in enumerate(words):
        if w in vocab.normal_words:
            near = {vocab.side_words[x] for x in words[max(0, i - 3):i] if x in vocab.side_words} & _LEFT_RIGHT
            if not near:
                return frozenset()
            sides |= near
    return frozenset(sides)


_LANDMARK = re.compile(
    r"\b(?:overlying|overlies|overlie|projecting\s+over|projects\s+over|at\s+the\s+level\s+of)\b", re.I
)
_ACTIVE_OPEN = re.compile(r"\b(?:exclude|rule\s+out)\s*$", re.I)
# words that make a generic line or catheter one kind of it
_DEVICE_KINDS = frozenset({
    "central", "arterial", "venous", "midline", "dialysis", "tunneled", "tunnelled", "femoral", "jugular", "subclavian",
    "peripheral", "umbilical",
})
_SIGN_WORDS = frozenset({"line", "lines", "lucent", "lucency", "lucencies"})
_THAN_NORMAL = re.compile(r"\bthan\s+(?:\w+\s+)?(?:normal|usual)\b", re.I)


def _abnormal_words(s: Facts) -> set[str]:
    return {w for w in s.words for a in _ABNORMAL_STEMS if w.startswith(a)}


# the other parts of a thing ("the rest of the hardware looks intact" beside a broken screw)
_REST_OF = re.compile(r"\b(?:rest|remainder)\s+of\b|\bremaining\b", re.I)
_PRONOUN_NORMAL = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?(?:it|they|these|both)\s+(?:is|are|looks?|appears?|seems?)\s+(?:\w+\s+)?"
    r"(?:normal|unremarkable|intact)\b",
    re.I,
)


def _normal_but_abnormal(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary) -> list[Finding]:
    """A clause calling a named thing normal ("The bony thorax, including the clavicles, is unremarkable") where a
    certain report sentence names the same thing with a word of abnormality ("deformity of the left clavicle"); a
    statement about one aspect ("normal vertebral body heights") counts only against words bearing on it. Report
    sentences that also call something normal, or speak of the other side, do not count."""
    if clause.negated or clause.hedge != "certain" or not clause.words & vocab.normal_words:
        return []
    if _THAN_NORMAL.search(clause.text) or _abnormal_words(clause) or _REST_OF.search(clause.text):
        return []  # "sits higher than normal"; "normal in size, with calcification of the aorta"
    normal = {stem(w) for w in clause.words & vocab.normal_words}
    if normal == {"sharp"} and clause.words & _SIGN_WORDS:
        return []  # "a sharp, non-corticated lucent line": the edge of a sign, not a normal angle
    # ("... so it is normal": the pronoun's subject is what the clause calls normal)
    own = clause.anchors if _PRONOUN_NORMAL.match(clause.text) else clause.anchors - clause.borrowed
    things = {a for a in own if a not in vocab.weak | normal | _NORMAL_FILLER} - set(_ASPECT_STEMS)
    things -= {a for a in things if any(a.startswith(x) for x in _ABNORMAL_STEMS)}
    if not things or len(things) > 4:
        return []
    aspects = {stem(w) for w in clause.words} & set(_ASPECT_STEMS)
    bearing = tuple(x for a in aspects for x in _ASPECT_STEMS[a])
    if any(s.words & vocab.normal_words and things & s.anchors and not s.negated for s in sentences):
        return []  # the report calls it normal itself ("The hilar and mediastinal contours are normal")
    normal_sides = _sides_called_normal(clause.text, vocab)
    for s in sentences:
        if s.hedge != "certain" or s.negated or s.words & vocab.normal_words or _other_side(clause.sides, s.sides):
            continue
        if not things & s.anchors:
            continue
        if normal_sides and s.sides and not normal_sides & s.sides:
            continue  # "less left pleural fluid, with the right lung clear": the right is what is called normal
        if _LANDMARK.search(s.text):
            continue  # "an 8 mm opacity overlying the sixth anterior rib": the rib is where it projects
        words = _abnormal_words(s)
        if aspects:
            words = {w for w in words if w.startswith(bearing)}
        if words:
            return [Finding("negation_conflict", s)]
    return []


def _called_normal(clause: Facts, sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage) -> list[Finding]:
    """A clause calling a thing normal that a report sentence describes as abnormal in so many words: "The
    aorta has a normal contour" against "The aorta is calcified and tortuous", "Lung volumes are normal"
    against "Lung volumes are low" or "Low lung volumes.". Only report sentences of the form "<thing> is
    <words>" or "<words> <thing>" count (a thing named in passing, "densities overlying the heart", says
    nothing about it)."""
    if clause.hedge != "certain" or not clause.words & vocab.normal_words or _REST_OF.search(clause.text):
        return []
    if clause.negated and not _affirmed_normal_stretch(clause.text, vocab, lang):
        return []
    # the clause's own words: a subject borrowed from the step before ("We see mild spondylosis." then "Both
    # lungs are clear.") is not what this clause calls normal
    own = _own_anchors(clause, vocab)
    normal = vocab.normal_words | {stem(w) for w in clause.words & vocab.normal_words}  # ("unremarkable": "unremar")
    subject = {
        vocab.thing(a) for a in clause.anchors if a not in vocab.weak and a not in normal and a in own
    } - _ASPECTS
    if len(subject) > 1:
        # "The heart and mediastinal contours are stable and the aorta is normal in caliber": what each stretch
        # with a normal word calls normal ("The heart is normal in size and the aorta is normal" calls two things)
        subjects = [
            subject & {vocab.thing(stem(w)) for w in tokens}
            for tokens in map(_TOKEN.findall, _CLAUSE_STRETCH.split(clause.text.lower()))
            if set(tokens) & vocab.normal_words
        ]
        subjects = [x for x in subjects if x] or [subject]
    else:
        subjects = [subject]
    for subject in subjects:
        found = _called_normal_thing(clause, subject, sentences, vocab, lang)
        if found:
            return found
    return []


def _affirmed_normal_stretch(text: str, vocab: OpenVocabulary, lang: StepLanguage) -> bool:
    """Whether a clause that denies something also calls something normal in a stretch of its own before any denial
    ("a normal heart size, with both hemidiaphragms at their usual level and no pleural effusion")."""
    for stretch in _CLAUSE_STRETCH.split(text.lower()):
        if lang.negation_pre.search(lang.negation_exceptions.sub(" ", stretch)):
            return False
        if set(_TOKEN.findall(stretch)) & vocab.normal_words:
            return True
    return False


def _called_normal_thing(
    clause: Facts, subject: set[str], sentences: list[Facts], vocab: OpenVocabulary, lang: StepLanguage
) -> list[Finding]:
    """`_called_normal` for one thing the clause calls normal."""
    if not subject or len(subject) > 2:
        return []
    if any(
        not s.negated
        and s.words & vocab.normal_words
        and subject <= {vocab.thing(a) for a in s.anchors}
        and _left_normal(s, subject, vocab)
        for s in sentences
    ):
        return []  # the report calls it normal itself ("Normal pulmonary vascularity." beside "Aortic vascular
        # calcifications.")
    for s in sentences:
        if _other_side(clause.sides, s.sides):
            continue  # "The right angle is sharp" beside "Blunting of the left costophrenic angle"
        if not s.words & vocab.normal_words:
            # (what a hedged sentence states before its hedge: "Bilateral hilar enlargement, which may reflect
            # lymphadenopathy")
            low = s.text.lower() if s.hedge == "certain" else _before_hedge(s.text, lang)
            if low and s.negated:
                # "Low lung volumes without focal airspace opacity": what comes before "without" is affirmed
                head = _before_without(s.text, lang)
                low = head.lower() if head is not None else ""
            if low and _describes_abnormal(low, subject, clause, vocab):
                return [Finding("negation_conflict", s)]
        # each stretch of a list sentence on its own ("Heart size near top normal, bilateral hilar fullness, mild
        # aortic ectasia/tortuosity"; "Aorta is calcified and tortuous, compatible with atherosclerotic disease"),
        # and a part of its own after "and" / "with" beside a normal word ("with normal heart size and aortic
        # ectasia") (up to the first denial: "Negative for consolidation, pleural effusion, or pneumothorax" denies
        # all three)
        for stretch in _LIST_BREAK.split(s.text.lower()):
            if lang.negation_pre.search(lang.negation_exceptions.sub(" ", stretch)):
                break
            if hedge_strength(stretch, lang) != "certain":
                continue
            if set(_TOKEN.findall(stretch)) & vocab.normal_words:
                # (not when the clause names an abnormality itself: "intact, with mild degenerative change")
                parts = [] if _abnormal_words(clause) else _abnormal_parts(stretch, vocab)
                if any(_describes_abnormal(part, subject, clause, vocab) for part in parts):
                    return [Finding("negation_conflict", s)]
                continue
            if stretch != s.text.lower() and _describes_abnormal(stretch, subject, clause, vocab):
                return [Finding("negation_conflict", s)]
    return []


def _first_hedge(text: str, lang: StepLanguage) -> int | None:
    """Where the first hedge cue of a text starts (None when it has none)."""
    return min((m.start() for p in lang.hedges.values() if (m := p.search(text))), default=None)


def _before_hedge(text: str, lang: StepLanguage) -> str:
    """The lower-cased text a sentence states before its first hedge cue ("" when the cue opens it)."""
    first = _first_hedge(text, lang)
    head = _OPEN_LINK.sub("", text[:first] if first is not None else text)
    return head.lower() if len(_TOKEN.findall(head)) >= 2 else ""


_OPEN_LINK = re.compile(r"[,;]?\s*\b(?:which|that|and|but|though|although|this)?\s*$", re.I)


# where a part of a stretch starts that may describe a thing of its own ("normal heart size and aortic ectasia")
_PART_BREAK = re.compile(r"\b(?:and|with)\b")


def _abnormal_parts(stretch: str, vocab: OpenVocabulary) -> list[str]:
    """The parts of a report stretch, cut at "and" / "with", that carry a word of abnormality and no normal
    word."""
    parts = []
    for part in _PART_BREAK.split(stretch):
        tokens = _TOKEN.findall(part)
        if not set(tokens) & vocab.normal_words and any(w.startswith(_ABNORMAL_STEMS) for w in tokens):
            parts.append(part)
    return parts


_LIST_BREAK = re.compile(r"[,;]")
_CLAUSE_STRETCH = re.compile(r"[,;]|\band\b")


def _left_normal(s: Facts, subject: set[str], vocab: OpenVocabulary) -> bool:
    """Whether a report sentence with a normal word leaves `subject` normal: not when the thing sits in a part of
    its own with a word of abnormality ("Heart size within normal limits, mild aortic ectasia"; "normal heart size
    and aortic ectasia")."""
    return not any(
        subject & {vocab.thing(stem(w)) for w in _TOKEN.findall(part)}
        for stretch in _LIST_BREAK.split(s.text.lower())
        for part in _abnormal_parts(stretch, vocab)
    )


def _describes_abnormal(low: str, subject: set[str], clause: Facts, vocab: OpenVocabulary) -> bool:
    """Whether a lowercased report text (a sentence, or a stretch of one) describes `subject` as abnormal in one of
    the forms `_called_normal` trusts: "<thing> is <words>", "<words> <thing>", "<abnormality> of the <thing>",
    "<words> changes of the <thing>"."""
    # "There are low lung volumes with associated crowding": the thing and its words come first
    low = _WITH_TAIL.sub("", _THERE.sub("", low, count=1), count=1)
    m = _DESCRIBED.match(low)
    if (t := _THING_ABNORMALITY.match(low)) is not None:
        # "<thing, as an adjective> <abnormality>": "mild aortic ectasia/tortuosity", "aortic atherosclerosis"
        said = {stem(t.group(1))}
        if (cls := vocab.classes.get(t.group(1))) in vocab.synonym_classes:
            # ("bilateral hilar enlargement" speaks of the hila)
            said |= {cls} | {stem(w) for w, c in vocab.classes.items() if c == cls}
        predicate = {t.group(2)}
    elif m is not None:
        said = {stem(w) for w in m.group(1).split()}
        predicate = {w for w in m.group(2, 3) if w}
        if "lung" in said and predicate & _VOLUME_WORDS:
            said.add("volum")  # "Lungs are hyperinflated": their volume is not normal
    elif (m := _QUALIFIED.match(low)) is not None:
        # a sentence that is nothing but "<words> <thing>": "Low lung volumes.", "Tortuous and dilated aorta."
        said = {stem(w) for w in m.group(3).split()}
        predicate = {w for w in m.group(1, 2) if w}
        if predicate & (vocab.place_words | set(vocab.side_words) | _NOT_CALLED_ABNORMAL):
            return False
    elif (m := _NOUN_OF.match(low)) is not None:
        # "<abnormality> of the <thing>": "Elevation of the left hemidiaphragm."
        words = m.group(2).split()
        if any(w in vocab.side_words for w in words) and not clause.sides and not any(
            _plural(w) for w in clause.words if stem(w) in subject
        ):
            # "prominence of the right cardiac silhouette": one side's part, not the heart ("the
            # hemidiaphragms" are both sides, the left one among them)
            return False
        words = [w for w in words if w not in vocab.side_words]
        said = {stem(w) for w in words} | {vocab.classes[w] for w in words if w in vocab.classes}
        predicate = {m.group(1)}
    elif (m := _CHANGES_OF.match(low)) is not None:
        # "<words> changes of the <thing>": "Degenerative changes of the thoracic spine."
        words = m.group(3).split()
        said = {stem(w) for w in words} | {vocab.classes[w] for w in words if w in vocab.classes}
        predicate = set(m.group(1).split()) | {m.group(2)}
    else:
        return False
    # (a part described as abnormal makes its whole not normal: "Degenerative changes of the spine" against
    # "The bones are unremarkable")
    return subject <= vocab.with_wholes(said) and not predicate & (vocab.normal_words | _NOT_ABNORMAL)


def same_word(word: str, words: frozenset[str]) -> bool:
    """The word, or an inflection of it ("calcification" / "calcified"), not a stem look-alike
    ("cardiomegaly" / "cardiomediastinal")."""
    return word in words or any(
        stem(w) == stem(word) and len(os.path.commonprefix((w, word))) >= max(5, min(len(w), len(word)) - 3)
        for w in words
    )


def _denial_scope(facts: Facts, vocab: OpenVocabulary, lang: StepLanguage) -> frozenset[str]:
    """The anchors a negation denies: from its cue to the end of its clause (all of them when the cue
    comes after the subject: "Calcification is absent")."""
    text, m = _negation_cue(facts.text, lang)
    if m is None:
        return facts.anchors
    after = text[m.end() :]
    if m.group(0).lower() in _ENDING_CUES and _VERB_BEFORE.search(text, 0, m.start()):
        # a verb that ends its denial: "the pneumothorax has resolved with the chest tube in place" denies what
        # comes before it
        return frozenset(a for a in facts.anchors if a in _named_in(_TOKEN.findall(text[: m.start()].lower()), vocab))
    said = _named_in(_scope_words(after), vocab)
    scope = frozenset(a for a in facts.anchors if a in said)
    if not scope and lang.negation_post.search(facts.text) and not set(_scope_words(after)) - vocab.stopwords \
            and not _REMOVAL.search(facts.text):
        # a cue after its subject, nothing but small words after it: "so bronchiolitis can be excluded as well"
        # (not "is not normal in appearance"; a removal is judged as one)
        return facts.anchors
    return scope


_ENDING_CUES = frozenset({"resolved", "cleared", "removed"})
_VERB_BEFORE = re.compile(r"\b(?:has|have|had)\s+(?:(?:since|now|subsequently|been|completely|entirely)\s+)*$", re.I)


def _scope_words(after: str) -> list[str]:
    """The lower-case words of a negation's scope: from just after its cue to the end of its clause."""
    return _TOKEN.findall(_SCOPE_END.split(after, maxsplit=1)[0].lower())


def _named_in(words: Iterable[str], vocab: OpenVocabulary) -> set[str]:
    """What `words` name as anchors: their stems and object classes."""
    named = set()
    for w in words:
        named.add(stem(w))
        if w in vocab.classes:
            named.add(vocab.classes[w])
    return named


_LATER_CONJUNCT = re.compile(
    r"(?:,|\bbut|\bwith|\band)\s*(?:(?:otherwise|grossly|are|is|show|shows|have|has|there)\s+)*$", re.I
)


def _before_without(text: str, lang: StepLanguage, later: bool = False) -> str | None:
    """What a sentence affirms before its first negation cue when that cue is "without" ("Low lung volumes"
    of "Low lung volumes without focal consolidation"); None when its first cue is another one. With `later`,
    also a cue that opens a later conjunct ("Mildly hypoinflated but grossly clear of focal airspace
    disease", "Heart is enlarged, no effusion")."""
    text = lang.negation_exceptions.sub(" ", text)
    m = lang.negation_pre.search(text)
    if m is None:
        return None
    cue = m.group(0).lower()
    if cue == "without" or (later and (cue in ("clear of", "free of") or _LATER_CONJUNCT.search(text[: m.start()]))):
        return text[: m.start()]
    return None


def _affirmed_before(facts: Facts, clause: Facts, vocab: OpenVocabulary, lang: StepLanguage) -> bool:
    """A negated report sentence that first affirms what the clause speaks of: "There are mildly low lung
    volumes without focal consolidation" states the low volumes; only what follows "without" is denied."""
    head = _before_without(facts.text, lang, later=True)
    if head is None:
        return False
    shared = (clause.anchors & facts.anchors) - vocab.weak
    said = set()
    for w in _TOKEN.findall(head.lower()):
        said.add(stem(w))
        said.add(object_stem(w, vocab))  # ("IJ" for "jugular")
        if w in vocab.classes:
            said.add(vocab.classes[w])
    return bool(shared) and shared <= said


def _negation_cue(text: str, lang: StepLanguage) -> tuple[str, re.Match[str] | None]:
    """The text with the negation exceptions ("no change", "not only") blanked out, and its first negation cue."""
    text = lang.negation_exceptions.sub(" ", text)
    return text, lang.negation_pre.search(text)


def _after_negation_cue(text: str, lang: StepLanguage) -> str | None:
    """The text after the first negation cue (`_negation_cue`); None when there is no cue."""
    text, m = _negation_cue(text, lang)
    return None if m is None else text[m.end() :]


_SCOPE_END = re.compile(
    r";|,?\s*\b(?:but|although|though|however|whereas|while|which|so|yet)\b|\.\s"
    # (a state of the subject after the denied list: "Both lungs are free of acute infiltrates and expanded")
    r"|\band\s+(?:well\s+|fully\s+|normally\s+)?(?:expanded|aerated|inflated|clear|normal|unremarkable|intact)\b"
    # (a new subject of its own after the denied list: "No effusion, and I see mild degenerative change")
    r"|,?\s*\band\s+(?:i|we)\s+(?:(?:can|do)\s+)?(?:see|note|notice|observe|identify|spot)\b"
    f"|{DENIAL_LINKS}"  # (nor onto what the denied thing would go with or sit on)
)


def _same_denial(clause: Facts, s: Facts, vocab: OpenVocabulary, lang: StepLanguage) -> bool:
    """A clause and a report sentence that deny the same kind of thing of the same subject: "no acute bony
    abnormality" and "The visualized bony structures reveal no acute abnormalities" (the report names its subject
    before the cue, the clause after it)."""
    mine, theirs = _after_negation_cue(clause.text, lang), _after_negation_cue(s.text, lang)
    if mine is None or theirs is None:
        return False
    denied = {stem(w) for w in _scope_words(mine)} - clause.anchors
    said = {stem(w) for w in _scope_words(theirs)}
    return bool((denied & said) - {stem(w) for w in vocab.stopwords} - {stem(w) for w in vocab.qualifiers})


def _denied_anywhere(facts: Facts, vocab: OpenVocabulary, lang: StepLanguage) -> frozenset[str]:
    """The anchors any negation cue of a sentence denies, each cue to the end of its clause: a long sentence
    may deny several things between its affirmations ("there is mild congestion, no large pleural effusion
    though small effusions would be difficult to exclude, and no pneumothorax, and the heart is enlarged")."""
    text = lang.negation_exceptions.sub(" ", facts.text)
    said = _named_in((w for m in lang.negation_pre.finditer(text) for w in _scope_words(text[m.end() :])), vocab)
    return frozenset(a for a in facts.anchors if a in said)


def _negated_anchors(clause: Facts, lang: StepLanguage) -> frozenset[str]:
    """The clause's anchors from its first negation cue on ("favour atelectasis rather than infection":
    infection only); all of them when the cue is not found in the text (an absence cue after the subject)."""
    after = _after_negation_cue(clause.text, lang)
    if after is None:
        return clause.anchors
    scope = {stem(w) for w in _TOKEN.findall(after.lower())}
    return frozenset(a for a in clause.anchors if a in scope) or clause.anchors


_LEFT_RIGHT = frozenset({"left", "right"})
# places outside the lungs that reports give a side ("clips in the right neck and left mediastinum")
_BODY_PLACES = frozenset({"neck", "mediastinum", "chest", "axilla", "shoulder", "breast", "humerus"})
_ZONE = {"apex": "upper", "apical": "upper", "apices": "upper", "base": "lower", "bases": "lower", "basilar": "lower",
         "basal": "lower", "mid": "middle", "perihilar": "hilum", "hilar": "hilum", "mediastinal": "mediastinum",
         "axillary": "axilla", "humeral": "humerus"}
# a side and the zone it qualifies ("left apical", "right base", "the right lower lobe", "the right neck")
_SIDE_ZONE = re.compile(
    r"\b(left|right)(?:\s*(?:,|and|or|and/or)\s*(left|right))?\s+(?:(?!(?:left|right|and|or)\b)\w+\s+){0,2}?"
    r"(upper|lower|middle|hilum|" + "|".join(sorted({*_ZONE, *_BODY_PLACES})) + r")\b"
    r"(?!\s+(?:quadrant|extremit|arm|leg|abdom))",
    re.I,
)


def _side_zones(text: str) -> dict[str, set[str]]:
    zones: dict[str, set[str]] = {}
    for side, other, zone in _SIDE_ZONE.findall(text):  # ("left and right mid lung zones": both sides)
        zones.setdefault(_ZONE.get(zone.lower(), zone.lower()), set()).update(x.lower() for x in (side, other) if x)
    return zones


def _other_side_of_place(clause: Facts, pool: list[Facts]) -> Facts | None:
    """The aligned sentences about the same place give the side ("curves to the left" of the thoracic spine beside
    "dextrocurvature of the thoracic spine" and "levocurvature of the lumbar spine"): the first of them, when none
    has the clause's side. None for a clause that ranks its sides ("worse on the right")."""
    if not clause.places or clause.dominant:
        return None
    placed = [
        s for s in pool if s.sides and any(names & s.places.get(f, frozenset()) for f, names in clause.places.items())
    ]
    if placed and not any(clause.sides & s.sides or "bilateral" in s.sides for s in placed):
        return placed[0]
    return None


def _other_side_zones(clause: Facts, s: Facts) -> bool:
    """Whether every zone the clause gives a side to has only other sides in the report sentence ("right lower and
    left upper" against "right upper and left lower"): the clause speaks of other places."""
    mine = _side_zones(clause.text)
    if not mine:
        return False
    theirs = _side_zones(s.text)
    return all(zone in theirs and not sides & theirs[zone] for zone, sides in mine.items())


def _swapped_side_places(clause: Facts, pool: list[Facts]) -> Facts | None:
    """Sides given to the wrong zones ("opacities at the right apex and the left base" for "patchy left apical
    and right basilar airspace disease"; "clips over the right lung apex" for "clips over the left lung apex,
    as well as over the right upper quadrant"): each side is in the report, but not where the step puts it."""
    mine = _side_zones(clause.text)
    if not mine:
        return None
    for s in pool:
        if len(mine) < 2 and not _LEFT_RIGHT <= s.sides and "bilateral" not in s.sides:
            continue  # (one side in a sentence with one side: the plain side check has judged it)
        theirs = _side_zones(s.text)
        # (each side the step gives a zone: "right middle lobe and left mid zone" for "right lower lobe and left mid
        # lung zone" puts a side in a zone the report gives only the other side)
        moved = any(zone in theirs and sides - theirs[zone] for zone, sides in mine.items())
        if moved and len(theirs) >= len(mine):
            return s
    # a side the report puts in another zone, in a sentence naming both sides ("calcified granuloma in the left lower
    # lung" for "calcified granuloma in the left upper lung ... as well as right retrocardiac calcified nodule"), when
    # no aligned sentence puts it in the step's zone
    pairs = {(side, zone) for zone, sides in mine.items() for side in sides}
    for s in pool[:1]:
        if not _LEFT_RIGHT <= s.sides:
            continue
        theirs = _side_zones(s.text)
        placed = {(side, zone) for zone, sides in theirs.items() for side in sides}
        given = {side for side, _ in placed}
        # (a place outside the lungs counts only where the report gives that place a side too: "the lower right
        # chest" is the "right lower hemithorax")
        if any(side in given and (side, zone) not in placed and (zone in theirs or zone not in _BODY_PLACES)
               for side, zone in pairs) and not any(
            pairs & {(side, zone) for zone, sides in _side_zones(t.text).items() for side in sides} for t in pool
        ):
            return s
    return None


def _dominance_conflict(
    clause: Facts, pool: list[Facts], sentences: list[Facts], vocab: OpenVocabulary
) -> Facts | None:
    """The report sentence naming the other side as the greater one ("larger on the right" vs "more on the left")."""
    said = [s for s in pool if s.dominant]
    if not said:
        strong = {a for a in clause.anchors if a not in vocab.weak}
        said = [s for s in sentences if s.dominant and s.anchors & strong]
    if said and not any(clause.dominant & s.dominant for s in said):
        return said[0]
    if not said:
        # the report ranks no side of a bilateral finding (at most its places: "bilaterally, most prominent in the lung
        # bases"; "vascular congestion in bilateral hilar areas" for "more on the right"): a greater side is made up
        return next((s for s in pool[:1] if "bilateral" in s.sides), None)
    return None


def _low_end(a: frozenset[int], b: frozenset[int]) -> bool:
    """'minimal' and 'small' (levels 1 and 2) are used for one another; no grade conflict between them."""
    return a | b <= {1, 2}


def _other_side(step: frozenset[str], report: frozenset[str]) -> bool:
    """Whether a step and a report sentence speak of different sides ("left" / "right"; not "right" / "bilateral",
    nor "both clavicles" / "the left distal clavicle")."""
    return bool(
        step and report and not step & report and not _bilateral_ok(step, report) and not _bilateral_ok(report, step)
    )


def _bilateral_ok(step: frozenset[str], report: frozenset[str]) -> bool:
    return "bilateral" in report and step <= {"left", "right", "bilateral"}
