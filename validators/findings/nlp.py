"""Build the medspaCy pipeline (sentences, target matcher, ConText, sectionizer) from a RuleSet.

The pipeline is deliberately lean: a blank English tokenizer, a rule-based sentence splitter (period,
question mark, exclamation mark and line breaks), then medspaCy's target matcher, ConText and
sectionizer. No statistical model is loaded, so building takes well under a second after import and
throughput is bounded by matching, not by a tagger or parser.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import spacy
from spacy.attrs import LOWER
from spacy.language import Language
from spacy.tokens import Doc

from radprm.errors import RuleFileError
from radprm.validators.findings.lexicon import RuleSet, expand_pattern

SENTENCE_COMPONENT = "radprm_sentences"
_SENT_END = {".", "?", "!"}


def silence_medspacy_logging() -> None:
    """Keep medspaCy and PyRuSH (which logs through loguru at DEBUG) quiet."""
    # medspaCy keeps a token Matcher and a PhraseMatcher per component; when one of them holds no
    # rule spaCy warns (W036) on every document.
    warnings.filterwarnings("ignore", message=r"\[W036\]")
    for name in ("medspacy", "PyRuSH", "quickumls"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:  # PyRuSH logs through loguru when medspaCy's sentence splitter is imported
        from loguru import logger

        logger.disable("PyRuSH")
        logger.disable("medspacy")
    except ImportError:  # pragma: no cover - loguru is optional
        pass


def ends_sentence(text: str) -> bool:
    """Whether a token with this text ends its sentence: . ? ! (or a run of dots) and line breaks.

    A '.' followed by a lower-case word or a digit (e.g. 'x-XXXX. a', '2. 5 cm') is still a break in
    these reports; keeping the rule simple is what makes the splitter fast. The rule depends on the
    token text only, which lets the extractor split a doc without running the component.
    """
    return (
        text in _SENT_END
        or (text[0] == "." and text.strip(".") == "")
        or ("\n" in text and text.isspace())
        or text.endswith("\n")
    )


@Language.component(SENTENCE_COMPONENT)
def split_sentences(doc: Doc) -> Doc:
    """Mark sentence starts after . ? ! and after line breaks (section headers start new sentences)."""
    prev_end = True
    for token in doc:
        token.is_sent_start = prev_end
        prev_end = ends_sentence(token.text)
    return doc


def _variants(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    """(literal, pattern) pairs to register for one rule: expanded phrases, or the rule as written.

    spaCy's token Matcher evaluates `IN` sets in Python for every token and pattern, which made it
    the slowest stage of the pipeline; the PhraseMatcher looks phrases up by hash. Simple patterns
    are therefore handed to medspaCy as the phrases they match (see `expand_pattern`).
    """
    phrases = expand_pattern(spec.get("pattern"))
    if phrases is None:
        return [(spec["literal"], spec.get("pattern"))]
    return [(phrase, None) for phrase in phrases]


def build_nlp(rules: RuleSet) -> Language:
    """Assemble the spaCy/medspaCy pipeline for a rule set.

    Args:
        rules: a validated RuleSet (see `load_findings_rules`).

    Returns:
        A spaCy Language whose docs carry targets in `doc.ents`, ConText attributes on each entity
        (`is_negated`, `is_uncertain`, `is_historical`, `is_hypothetical`, `modifiers`) and
        `token._.section_category`.

    Raises:
        RuleFileError: a rule pattern spaCy's matcher rejects (names the file and rule index).
    """
    silence_medspacy_logging()
    # importing the medspaCy components registers their spaCy factories
    import medspacy.context  # noqa: F401
    import medspacy.section_detection  # noqa: F401
    import medspacy.target_matcher  # noqa: F401

    nlp = spacy.blank("en")
    nlp.add_pipe(SENTENCE_COMPONENT)
    matcher = nlp.add_pipe("medspacy_target_matcher")
    context = nlp.add_pipe("medspacy_context", config={"rules": None})
    sectionizer = nlp.add_pipe("medspacy_sectionizer", config={"rules": None, "require_start_line": True})
    # medspaCy runs `nlp(literal)` for every phrase rule it adds; with the pipes disabled that is
    # tokenisation only, which keeps building a few thousand phrase rules fast.
    with nlp.select_pipes(disable=nlp.pipe_names):
        _add_rules(rules, matcher, context, sectionizer)
    _anchor_token_matcher(nlp, matcher, "_TargetMatcher__matcher", rules.target_rules)
    _anchor_token_matcher(nlp, context, "_ConText__matcher", rules.context_rules)
    return nlp


class AnchoredMatcher:
    """A spaCy token `Matcher` that is only run on docs that could hold a match.

    spaCy evaluates `IN` sets in Python for every token and pattern, so the few token patterns that
    cannot be spelled out as phrases (`"OP": "*"`, `IS_PUNCT`) cost more than all phrase rules
    together. A pattern can only match a doc that contains, for each of its required tokens
    (no `OP`, or `"+"`), one of that token's `LOWER` values; when no pattern passes this test the
    matcher would return nothing, so it is not called. Results are the matcher's own otherwise.
    """

    def __init__(self, matcher: Any, anchors: list[list[frozenset[int]]]) -> None:
        self.matcher = matcher
        self.anchors = anchors  # per pattern: sets of LOWER hashes, one of each must be in the doc
        self.first = frozenset().union(*(pattern[0] for pattern in anchors))  # quick rejection

    def __call__(self, doc: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.may_match(set(doc.to_array(LOWER).tolist())):
            return []
        return self.matcher(doc, *args, **kwargs)

    def may_match(self, lowers: set[int]) -> bool:
        """Whether some pattern has each of its required tokens among these LOWER hashes."""
        if lowers.isdisjoint(self.first):
            return False
        for pattern in self.anchors:
            for required in pattern:
                if lowers.isdisjoint(required):
                    break
            else:
                return True
        return False

    def __len__(self) -> int:
        return len(self.matcher)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.matcher, name)


def _pattern_anchors(nlp: Language, pattern: list[dict[str, Any]]) -> list[frozenset[int]] | None:
    """LOWER hashes of each required token of a token pattern; None when it has no such token."""
    required = []
    for tok in pattern:
        if tok.get("OP") not in (None, "+", "1"):
            continue
        value = tok.get("LOWER")
        values = (
            [value]
            if isinstance(value, str)
            else value.get("IN")
            if isinstance(value, dict) and set(value) == {"IN"}
            else None
        )
        if values and all(isinstance(v, str) for v in values):
            required.append(frozenset(nlp.vocab.strings.add(v) for v in values))
    return required or None


def _anchor_token_matcher(nlp: Language, component: Any, attr: str, specs: list[dict[str, Any]]) -> None:
    """Put an AnchoredMatcher in front of a medspaCy component's token Matcher (see AnchoredMatcher)."""
    medspacy_matcher = getattr(component, attr, None)
    inner = getattr(medspacy_matcher, "_MedspacyMatcher__matcher", None)
    if inner is None or isinstance(inner, AnchoredMatcher):  # another medspaCy layout: leave it alone
        return
    anchors = []
    for spec in specs:
        for _, pattern in _variants(spec):
            if isinstance(pattern, list):
                required = _pattern_anchors(nlp, pattern)
                if required is None:
                    return  # a pattern that may match anywhere: always run the matcher
                anchors.append(required)
    if len(anchors) != len(inner):
        return  # the matcher holds patterns these rules do not explain
    medspacy_matcher._MedspacyMatcher__matcher = AnchoredMatcher(inner, anchors)


def _add_rules(rules: RuleSet, matcher: Any, context: Any, sectionizer: Any) -> None:
    from medspacy.context import ConTextRule
    from medspacy.section_detection import SectionRule
    from medspacy.target_matcher import TargetRule

    lexicon_path = rules.files["lexicon"].path
    for i, spec in enumerate(rules.target_rules):
        try:
            matcher.add(
                [
                    TargetRule(lit, spec["category"], pattern=pat, metadata=spec.get("metadata"))
                    for lit, pat in _variants(spec)
                ]
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise RuleFileError(
                f"pattern rejected by spaCy: {exc}", path=lexicon_path, field=f"target_rules[{i}].pattern"
            ) from None

    context_path = rules.files["context"].path
    for i, spec in enumerate(rules.context_rules):
        kwargs = {k: spec[k] for k in ("direction", "max_scope", "max_targets", "metadata") if spec.get(k) is not None}
        for key in ("allowed_types", "excluded_types", "terminated_by"):
            if spec.get(key):
                # medspaCy compares target labels upper-cased
                kwargs[key] = {str(v).upper() for v in spec[key]}
        try:
            # each rule gets its own sets: medspaCy may add to `terminated_by` in place
            context.add(
                [
                    ConTextRule(
                        lit,
                        spec["category"],
                        pattern=pat,
                        **{k: set(v) if isinstance(v, set) else v for k, v in kwargs.items()},
                    )
                    for lit, pat in _variants(spec)
                ]
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise RuleFileError(
                f"rule rejected by medspaCy: {exc}", path=context_path, field=f"context_rules[{i}]"
            ) from None

    sections_path = rules.files["sections"].path
    for i, spec in enumerate(rules.section_rules):
        try:
            sectionizer.add(SectionRule(spec["literal"], spec["category"], pattern=spec.get("pattern")))
        except (ValueError, TypeError, KeyError) as exc:
            raise RuleFileError(
                f"rule rejected by medspaCy: {exc}", path=sections_path, field=f"section_rules[{i}]"
            ) from None
