"""The regex prefilter (validators/prefilter.py) never changes a result, only skips hopeless searches."""

from __future__ import annotations

import random
import re

import pytest

from radprm.validators.align import load_step_rules
from radprm.validators.prefilter import Prefiltered, needles_of, prefiltered


def _same(rx: re.Pattern[str], fast: re.Pattern[str], text: str) -> None:
    """Every method the validators use answers the same through the prefilter."""
    assert bool(rx.search(text)) == bool(fast.search(text)), (rx.pattern, text)
    m, f = rx.search(text), fast.search(text)
    if m:
        assert (m.span(), m.group()) == (f.span(), f.group()), (rx.pattern, text)
    assert [x.span() for x in rx.finditer(text)] == [x.span() for x in fast.finditer(text)], (rx.pattern, text)
    assert bool(rx.match(text)) == bool(fast.match(text)), (rx.pattern, text)
    assert bool(rx.fullmatch(text)) == bool(fast.fullmatch(text)), (rx.pattern, text)
    assert rx.sub("#", text) == fast.sub("#", text), (rx.pattern, text)
    assert rx.split(text) == fast.split(text), (rx.pattern, text)
    assert rx.findall(text) == fast.findall(text), (rx.pattern, text)


def test_needles_need_word_boundaries():
    assert needles_of(re.compile(r"\bif\b", re.I)) == {b" if "}
    fast = prefiltered(re.compile(r"\bif\b", re.I))
    assert isinstance(fast, Prefiltered)
    # "if" inside "calcified" cannot match \bif\b: skipped without running the pattern
    assert not fast.possible("Calcified granuloma.")
    assert fast.possible("If present, note it.") and fast.search("If present, note it.").group() == "If"
    assert fast.search("Calcified granuloma.") is None


def test_alternatives_take_the_union_and_the_most_selective_piece():
    rx = re.compile(r"\b(?:I|we)\s+(?:will|am\s+going\s+to)\b", re.I)
    # "i"/"we" are short: the verbs are the needles, each bounded by spaces ("going" rarer than "am")
    assert needles_of(rx) == {b" will ", b" going "}
    assert prefiltered(rx).search("Then WE will check.").group() == "WE will"


def test_patterns_without_needles_are_returned_unchanged():
    for pattern in (r"\w+", r"(?!)", r"[;:]", r"\s*;\s*", r"(\w)|\bfoo\b"):
        rx = re.compile(pattern, re.I)
        assert prefiltered(rx) is rx


def test_partly_needled_alternation_falls_back_to_the_other_alternatives():
    rx = re.compile(r"\s*;\s*|,\s+(?=(?:so|but)\b)|\?\s*$", re.I)
    fast = prefiltered(rx)
    assert isinstance(fast, Prefiltered)
    assert not fast.possible("left effusion; right clear?")
    for text in ("left effusion; right clear?", "effusion, so edema", "a, b; c", "so, but", "?"):
        _same(rx, fast, text)


def test_prefiltered_patterns_compare_copy_and_pickle_like_patterns():
    import copy
    import pickle

    rx = re.compile(r"\s*;\s*|\bstable\b", re.I)
    fast = prefiltered(rx)
    assert isinstance(fast, Prefiltered)
    assert fast == rx and fast == prefiltered(re.compile(rx.pattern, re.I)) and hash(fast) == hash(rx)
    for clone in (pickle.loads(pickle.dumps(fast)), copy.deepcopy(fast)):
        assert clone == fast and clone.needles == fast.needles
        assert clone.sub("#", "Stable; new") == rx.sub("#", "Stable; new") == "##new"


def test_non_ascii_text_runs_the_pattern():
    rx = re.compile(r"\bstable\b", re.I)
    fast = prefiltered(rx)
    # U+017F (long s) matches "s" under IGNORECASE: never prefiltered
    assert fast.search("\u017ftable") is not None and rx.search("\u017ftable") is not None


def test_every_packaged_rule_pattern_answers_as_before():
    rules = load_step_rules()
    lang, vocab = rules.language, rules.vocabulary
    patterns = [getattr(lang, name) for name in (
        "clause_breaks", "heading", "meta", "negation_pre", "negation_post", "negation_exceptions",
        "open_uncertainty", "has_verb", "past", "comparison", "change_claim", "temporal_any")]
    patterns += [*lang.hedges.values(), *lang.temporal.values(), vocab.any_place, vocab.side_places,
                 vocab.bilateral, vocab.exclusive, rules.any_normal_statement, rules.statement_mention,
                 rules.clause_breaks, *(p for p, _ in rules.normal_statements), *(p for _, _, p in vocab.places),
                 *rules.answer_patterns, *(p for p, _ in rules.step_rewrites)]
    assert sum(isinstance(p, Prefiltered) for p in patterns) > len(patterns) // 2
    # made-up step and report language, plus texts built from the needles themselves so that matches happen
    texts = [
        "First I'll look for signs of pneumonia such as consolidation.",
        "Heart size is normal. The lungs are clear; no pneumothorax or pleural effusion.",
        "Left subclavian central venous catheter tip in the SVC, unchanged since the prior exam.",
        "Early pulmonary edema cannot be excluded, which would fit heart failure.",
        "Calcified pleural plaques are new since 2019 -- so the options are effusion, nodule and mass?",
        "There is mild levoconvex curvature of the thoracic spine at T7-T9, stable.",
        "Possible right lower lobe pneumonia versus atelectasis.",
        "No acute cardiopulmonary abnormality.",
        "The tip projects over the cavoatrial junction.",
        "",
        "?",
        "IMPRESSION: Stable cardiomegaly without edema.",
    ]
    rng = random.Random(0)
    words = sorted({n.decode().strip() for p in patterns if isinstance(p, Prefiltered) for n in p.needles})
    for _ in range(300):
        texts.append(" ".join(rng.choice(words + ["the", "no", "is", ",", ";", "left", "not"])
                              for _ in range(rng.randint(1, 8))).capitalize() + rng.choice(["", ".", "?"]))
    plain = [re.compile(p.pattern, p.flags) for p in patterns]
    for rx, fast in zip(plain, patterns, strict=True):
        for text in texts:
            _same(rx, fast, text)


_ATOMS = ["ab", "b", "if", "a c", "-", ";", r"\s+", r"\W*", r"\s*", "[,:]?", r"\w+", r"\b", r"\B", "^", "$", ".",
          r"\d", "[ab]", "[;:]", ","]


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.55 or depth > 2:
            atom = rng.choice(_ATOMS)
        elif roll < 0.75:
            atom = "(?:" + "|".join(_random_pattern(rng, depth + 1) for _ in range(rng.randint(1, 3))) + ")"
        elif roll < 0.85:
            atom = rng.choice(["(?=", "(?!", "(?<=ab)", "(?<!if)"]) + (
                _random_pattern(rng, depth + 1) + ")" if rng.random() < 0.5 else "b)"
            )
            atom = atom if not atom.startswith("(?<") else atom.split(")")[0] + ")"
        else:
            atom = "(" + _random_pattern(rng, depth + 1) + ")"
        # (only bounded repeats around what may match nothing: "(?:\s*)+" backtracks exponentially)
        if rng.random() < 0.2 and atom not in (r"\b", r"\B", "^", "$"):
            may_be_empty = "(" in atom or atom in (r"\W*", r"\s*", "[,:]?")
            atom = "(?:" + atom + ")" + rng.choice(["?", "{1,2}", "{2}"] + ([] if may_be_empty else ["*", "+", "+?"]))
        parts.append(atom)
    return "".join(parts)


@pytest.mark.parametrize("seed", range(8))
def test_random_patterns_on_random_texts(seed):
    rng = random.Random(seed)
    alphabet = "abcif ;-.:\n\tAB9_"
    texts = ["", " ", "if", "ab", "a c", "IF;AB", "abif", "b-b", "\u017f", "a\u00e9b"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(120)]
    checked = 0
    for _ in range(150):
        source = "|".join(_random_pattern(rng) for _ in range(rng.randint(1, 3)))
        try:
            rx = re.compile(source, re.I if rng.random() < 0.7 else 0)
        except re.error:
            continue
        fast = prefiltered(rx)
        checked += isinstance(fast, Prefiltered)
        for text in texts:
            _same(rx, fast, text)
    assert checked > 20  # the generator does produce prefiltered patterns


def test_temporal_classes_read_through_class_subsets_as_through_the_whole_alternation():
    from radprm.validators.clauses import clear_text_caches, temporal_classes

    lang = load_step_rules().language
    whole = re.compile(lang.temporal_any.pattern, lang.temporal_any.flags)

    def reference(text: str) -> frozenset[str]:  # the reading before class subsets
        found = {m.lastgroup for m in whole.finditer(text)}
        if len(found) > 1 or not found:
            return frozenset(found)
        return frozenset(k for k, p in lang.temporal.items() if k in found or p.search(text))

    texts = ["New small left effusion.", "Stable cardiomegaly, increased edema.", "No new consolidation.",
             "Resolved right pneumothorax; chronic rib deformity unchanged since prior.", "Heart size is normal.",
             "Interval decrease in the left effusion, which is smaller than before.", "Again seen old healed fracture.",
             "Newly placed tube.", ""]
    needled = [p for p in lang.temporal.values() if isinstance(p, Prefiltered)]
    words = sorted({n.decode().strip() for p in needled for n in p.needles})
    rng = random.Random(1)
    texts += [" ".join(rng.choice(words + ["the", "no", "effusion", ","]) for _ in range(rng.randint(1, 6)))
              for _ in range(300)]
    clear_text_caches()
    for text in texts:
        assert temporal_classes(text, lang) == reference(text), text
