"""The per-sentence fast path gives exactly what the full medspaCy pipeline gives (offsets, sections, order)."""

from __future__ import annotations

import json

import pytest

from radprm.validators.findings import FindingsExtractor, load_findings_rules
from radprm.validators.findings.nlp import AnchoredMatcher

# Report-like texts (made up, in the IU style): headers, several findings per sentence, hedges,
# negations, organ statements, restatements, repeated sentences, odd spacing and punctuation.
TEXTS = [
    "FINDINGS: The heart is normal in size. The lungs are clear. No pneumothorax or pleural effusion.\n"
    "IMPRESSION: No acute cardiopulmonary abnormality.",
    "FINDINGS: Stable mild enlargement of the heart and normal lung vascularity. "
    "Opacity in the left lower lobe, compatible with infiltrate.\nIMPRESSION: Left lower lobe pneumonia is possible.",
    "INDICATION: rule out pneumonia. FINDINGS: No focal consolidation, suspicious pulmonary opacity, "
    "large pleural effusion, or pneumothorax. Heart size: no enlargement.\nIMPRESSION: Normal chest.",
    "COMPARISON: None.\nFINDINGS: Small right pleural effusion cannot be excluded. Old healed left rib fractures.. "
    "Minimal atelectasis at the bases.\nIMPRESSION: Possible small right effusion.",
    "FINDINGS: The lungs are clear. The lungs are clear. Heart size is at the upper limits of normal.\n\n"
    "IMPRESSION:  Borderline cardiomegaly. Correlate clinically for pneumonia.",
    "Heart size normal. There is a small left pleural effusion.",
    "effusion.Heart size normal",
    "No pneumothorax",
    "FINDINGS:",
    "",
]


@pytest.fixture(scope="module")
def ex() -> FindingsExtractor:
    return FindingsExtractor()


def _full_pipeline(ex, text, **kwargs):
    return [f.model_dump() for f in ex.doc_findings(ex.nlp(text), **kwargs)]


def test_fast_path_is_on_for_the_packaged_rules(ex):
    assert ex._runner is not None and ex._sections is not None


@pytest.mark.parametrize("text", TEXTS)
def test_fast_path_equals_full_pipeline(ex, text):
    ex.clear_cache()
    cold = [f.model_dump() for f in ex.extract_text(text, report_id="r")]
    warm = [f.model_dump() for f in ex.extract_text(text, report_id="r")]  # every sentence from the cache
    assert cold == warm == _full_pipeline(ex, text, report_id="r")
    forced = [f.model_dump() for f in ex.extract_text(text, section="impression")]
    assert forced == _full_pipeline(ex, text, section="impression")


def test_cached_sentence_takes_the_section_and_offsets_of_each_place(ex):
    ex.clear_cache()
    text = "FINDINGS: No effusion.\nIMPRESSION: No effusion."
    found = ex.extract_text(text)
    assert [(f.section, text[f.start : f.end]) for f in found] == [("findings", "effusion"), ("impression", "effusion")]
    assert found[0].start != found[1].start and found == ex.doc_findings(ex.nlp(text))


def test_cache_is_bounded(ex, monkeypatch):
    import radprm.validators.findings.extract as extract

    monkeypatch.setattr(extract, "_CACHE_MAX", 3)
    ex.clear_cache()
    for i in range(10):
        ex.extract_text(f"No effusion number {i}.")
    assert len(ex._cache) <= 3


def test_rules_that_can_cross_a_sentence_end_use_the_full_pipeline(tmp_path):
    from importlib import resources

    lexicon = json.loads((resources.files("radprm.validators.findings") / "rules" / "lexicon.json").read_text())
    lexicon["target_rules"].append({"literal": "effusion. heart", "category": "pleural_effusion"})
    path = tmp_path / "lexicon.json"
    path.write_text(json.dumps(lexicon))
    slow = FindingsExtractor(load_findings_rules(lexicon=path))
    assert slow._runner is None
    text = "Small effusion. Heart size normal."
    assert [f.model_dump() for f in slow.extract_text(text)] == _full_pipeline(slow, text)


def test_anchored_token_matcher_returns_what_the_matcher_returns(ex):
    context = ex.nlp.get_pipe("medspacy_context")
    anchored = context._ConText__matcher._MedspacyMatcher__matcher
    assert isinstance(anchored, AnchoredMatcher)
    for text in [
        *TEXTS,
        "Effusion cannot be excluded.",
        "This may represent atelectasis.",
        "Without evidence of edema.",
    ]:
        doc = ex.nlp.make_doc(text)
        assert anchored(doc) == anchored.matcher(doc)
