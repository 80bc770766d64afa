"""Caches and shortcuts of the step validator: they change speed, never a reading.

Texts here are written for these tests (never IU text).
"""

import re
from dataclasses import replace

import pytest

from radprm.validators.align import load_step_rules
from radprm.validators.clauses import clear_text_caches, hedge_strength, temporal_classes
from radprm.validators.sentences import read_facts, read_words

TEXTS = [
    "New small left pleural effusion, possibly loculated.",
    "Stable cardiomegaly; no pneumothorax cannot be excluded.",
    "The T11-T12 levels show mild degenerative change (2.5 cm).",
    "First we read the report from the top.",
    "",
]


def test_text_readings_are_cached_per_rule_set():
    lang = load_step_rules().language
    other = replace(lang, temporal_any=re.compile(r"(?!)"), hedges={})
    text = "New small left pleural effusion, possibly loculated."
    assert temporal_classes(text, lang) == {"new"}
    assert hedge_strength(text, lang) == "possible"
    # the same text read with other rules is not answered from the first rules' cache
    assert temporal_classes(text, other) == frozenset()
    assert hedge_strength(text, other) == "certain"
    clear_text_caches()
    assert temporal_classes(text, lang) == {"new"}


@pytest.mark.parametrize("text", TEXTS)
def test_read_words_gives_the_read_facts_word_sequence(text):
    rules = load_step_rules()
    full = read_facts(text, rules.vocabulary, rules.language, rules.severity_groups)
    assert read_words(text).sequence == full.sequence
