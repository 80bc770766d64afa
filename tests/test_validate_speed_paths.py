"""Speed paths of the step validator (claims built once, steps without fact clauses left unread, report
sentences masked once per report): each gives what the plain path gives.

Texts here are written for these tests (never IU text).
"""

from dataclasses import replace

import pytest

from radprm.schemas.records import Chain, Report
from radprm.validators.align import _WORD, _clause_before, _infer_place, claim_from_finding, load_step_rules
from radprm.validators.clauses import split_clauses
from radprm.validators.sentences import clear_reading_caches, edited_copy, read_words, report_sentences
from radprm.validators.steps import StepValidator

TEXTS = [
    "No acute rib fracture. Patchy opacities in the left lower lobe, compatible with infiltrate.",
    "There is both atelectasis and effusion. Bibasilar atelectasis.",
    "Small right and moderate left pleural effusions. Mild cardiomegaly in the upper lobe.",
    "Bilateral lower lobe airspace disease; no focal consolidation in both lungs.",
    "The heart is normal in size. No pneumothorax on the right, small effusion.",
]


def _claim_step_by_step(f, text, rules, context=None):
    """The claim as built before the single-construction path: plain, then qualifiers, then place."""
    claim = claim_from_finding(f, None, rules)
    s_start, s_end = context or (f.sentence_start, f.sentence_end)
    sentence = text[s_start:s_end] if 0 <= s_start < s_end <= len(text) else f.sentence
    claim = replace(claim, sentence=sentence, sentence_start=s_start, sentence_end=s_end)
    words = _WORD.findall(_clause_before(claim, text, rules).lower())[-6:]
    qualifiers = frozenset(w for w in words if w in rules.qualifiers)
    if qualifiers:
        claim = replace(claim, qualifiers=qualifiers)
    return _infer_place(claim, rules)


@pytest.mark.parametrize("text", TEXTS)
def test_claims_built_once_equal_the_step_by_step_claims(parts, text):
    extractor, _ = parts
    rules = load_step_rules()
    findings = extractor.extract_text(text)
    assert findings
    for f in findings:
        assert claim_from_finding(f, text, rules) == _claim_step_by_step(f, text, rules)
    # with a clause as context (step claims), and a second time from the per-sentence cache
    for clause in split_clauses(text, rules.language):
        for f in findings:
            if clause.start <= f.start < clause.end:
                span = (clause.start, clause.end)
                expected = _claim_step_by_step(f, text, rules, span)
                assert claim_from_finding(f, text, rules, context=span) == expected
                assert claim_from_finding(f, text, rules, context=span) == expected


def test_claims_read_the_side_and_place_of_their_own_sentence(parts):
    extractor, _ = parts
    rules = load_step_rules()
    text = "Patchy opacities in the left lower lobe, compatible with infiltrate. No acute rib fracture."
    claims = {c.observation: c for f in extractor.extract_text(text) for c in [claim_from_finding(f, text, rules)]}
    infiltrate = next(c for c in claims.values() if "infiltrate" in c.mention.lower())
    assert (infiltrate.laterality, infiltrate.location) == ("left", "lower")
    fracture = next(c for c in claims.values() if "fracture" in c.mention.lower())
    assert fracture.qualifiers == {"acute"} and fracture.laterality == "none"


class _Counting:
    """The real extractor, counting the step texts it is asked to read."""

    def __init__(self, extractor):
        self.extractor, self.texts = extractor, []

    def extract_text(self, text, *args, **kwargs):
        self.texts.append(text)
        return self.extractor.extract_text(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.extractor, name)


@pytest.mark.parametrize(
    "step",
    ["First I will look at the lungs and the pleural spaces.", "Let us check whether there is an effusion."],
)
def test_a_step_without_fact_clause_is_not_read_for_findings(parts, step):
    extractor, _ = parts
    counting = _Counting(extractor)
    validator = StepValidator(counting)
    lang = validator.rules.language
    assert all(c.kind != "fact" for c in split_clauses(step, lang))
    assert validator.step_claims(step) == []
    assert counting.texts == []
    findings = "Small left pleural effusion."
    report = Report(report_id="r1", text=f"FINDINGS: {findings}", findings=findings)
    result = validator.validate(Chain(chain_id="c1", report_id="r1", steps=[step]), report).steps[0]
    assert (result.verdict, result.reasons, result.label) == ("neutral", ["no_clinical_claim"], True)
    # a step with a fact clause is read
    assert validator.step_claims("There is a small left pleural effusion.")
    assert counting.texts == ["There is a small left pleural effusion."]


def test_edited_copy_masks_each_report_once_and_answers_for_its_own_report():
    rules = load_step_rules()
    vocab, lang, grades = rules.vocabulary, rules.language, rules.severity_groups
    left = report_sentences("Stable cardiomegaly. Small left pleural effusion.", vocab, lang, grades)
    right = report_sentences("Stable cardiomegaly. Small right pleural effusion.", vocab, lang, grades)
    step = read_words("Small right pleural effusion.")
    for _ in range(2):  # the second round is answered from the per-report masks
        assert [f.reason for f in edited_copy(step, left, vocab, lang, grades)] == ["laterality_conflict"]
        assert edited_copy(step, right, vocab, lang, grades) == []
    copy_of_left = list(left)
    assert [f.reason for f in edited_copy(step, copy_of_left, vocab, lang, grades)] == ["laterality_conflict"]
    clear_reading_caches()
    new = read_words("New cardiomegaly.")
    assert [f.reason for f in edited_copy(new, left, vocab, lang, grades)] == ["temporal_conflict"]


def test_a_closed_gate_means_no_pattern_of_its_group_matches():
    import random
    import re

    from radprm.validators.prefilter import Gate, Prefiltered, group_gate

    rules = load_step_rules()
    lang, vocab = rules.language, rules.vocabulary
    groups = {
        "rewrites": [p for p, _ in rules.step_rewrites],
        "dominance": [*vocab.dominant, *vocab.lesser],
        "temporal": list(lang.temporal.values()),
        "places": [p for _, _, p in vocab.places],
        "hedges": list(lang.hedges.values()),
    }
    texts = [
        "The left effusion is larger than the right.",
        "Right greater than left basilar opacities, new since the prior.",
        "Stable cardiomegaly.",
        "There may be a small right pleural effusion; it has increased.",
        "Lungs are clear.",
        "",
    ]
    rng = random.Random(0)
    words = sorted({n.decode().strip() for ps in groups.values() for p in ps if isinstance(p, Prefiltered)
                    for n in p.needles})
    texts += [" ".join(rng.choice(words + ["the", "no", "left", "is"]) for _ in range(rng.randint(1, 6)))
              for _ in range(300)]
    closed = 0
    for name, patterns in groups.items():
        gate = group_gate(rules, name, patterns)
        assert gate is group_gate(rules, name, patterns)  # built once per rule object and name
        plain = [re.compile(p.pattern, p.flags) for p in patterns]
        for text in texts:
            if not gate(text):
                closed += 1
                assert not any(rx.search(text) for rx in plain), (name, text)
    assert closed > 100  # the gates do close on texts without their words
    assert Gate([])("anything") is False
    assert Gate([re.compile(r"\w+\s*:")])("no needles: always open") is True


def test_literals_finds_exactly_the_texts_holding_one_of_the_words():
    import random

    from radprm.validators.prefilter import literals

    rules = load_step_rules()
    for words in (rules.qualifiers, set(rules.severity_groups), set(rules.location_regions), {"ab", "a", "abc", "b-c"}):
        finder = literals(words)
        rng = random.Random(1)
        pool = sorted(words) + ["x", " ", "-", "non", "e"]
        for _ in range(300):
            text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 6)))
            assert (finder.search(text) is not None) == any(w in text for w in words), (words, text)
    assert literals([]).search("anything") is None
