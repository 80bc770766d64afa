"""Phrasings the step validator patched around (validators/README.md, "Extractor gaps"), now read
correctly by the findings extractor itself. Sentences are quoted from the IU X-ray reports
(indiana_reports.csv) where they occur there; the others are LLM-style steps."""

from __future__ import annotations

import pytest

from radprm.validators.findings import FindingsExtractor


@pytest.fixture(scope="module")
def ex() -> FindingsExtractor:
    return FindingsExtractor()


def _find(ex, text, observation):
    found = [f for f in ex.extract_text(text) if f.observation == observation]
    assert found, f"no {observation} in {[(f.observation, f.mention) for f in ex.extract_text(text)]}"
    return found[0]


@pytest.mark.parametrize(
    ("sentence", "observation", "assertion"),
    [
        # negation cues that used to be missed
        ("There is no enlargement of the heart.", "cardiomegaly", "negative"),
        ("The hyperlucency is not consistent with emphysema.", "emphysema", "negative"),
        ("Normal heart size which rules out cardiomegaly.", "cardiomegaly", "negative"),
        ("There is nothing to suggest pneumothorax.", "pneumothorax", "negative"),
        ("Negative for cardiac enlargement.", "cardiomegaly", "negative"),  # IU
        # "suspicious" inside a list governed by "No" stays negated (IU, many reports)
        (
            "No focal consolidation, suspicious pulmonary opacity, large pleural effusion, or pneumothorax.",
            "opacity",
            "negative",
        ),
        (
            "No focal consolidation, suspicious pulmonary opacity, large pleural effusion, or pneumothorax.",
            "pleural_effusion",
            "negative",
        ),
        (
            "No focal consolidation, suspicious pulmonary opacity, large pleural effusion, or pneumothorax.",
            "pneumothorax",
            "negative",
        ),
        # post-mention hedges (IU)
        ("Metastatic disease cannot be excluded.", "metastasis", "uncertain"),
        ("Metastatic disease is possible, however given the nonsclerotic appearance", "metastasis", "uncertain"),
        ("Pneumonia is possible.", "pneumonia", "uncertain"),
        # post-negation predicates win over a hedge adjective on the subject
        ("Suspicious nodules are absent.", "nodule", "negative"),
        ("Focal consolidation to suggest pneumonia is absent.", "consolidation", "negative"),
        ("A pneumothorax is not identified.", "pneumothorax", "negative"),
        ("The right pleural effusion has resolved.", "pleural_effusion", "negative"),
        # a cue word inside "no <adjective> X" no longer swallows the negation
        ("There is no increased tortuosity of the descending thoracic aorta.", "tortuous_aorta", "negative"),
        ("There are no prominent interstitial opacities.", "opacity", "negative"),
        ("No apparent scarring within the lingula, otherwise unremarkable.", "scarring", "negative"),
        ("No age-indeterminate fracture of the right lateral 9th rib.", "fracture", "negative"),
        ("Heart size: no enlargement.", "cardiomegaly", "negative"),
        ("Apparent scarring within the lingula, otherwise unremarkable.", "scarring", "uncertain"),  # IU
        ("No interval increase in the effusion.", "pleural_effusion", "positive"),  # "no change" pseudo-negation kept
        # "cannot exclude X" looks forward, "X difficult to exclude." looks back (IU)
        ("Tortuous aorta, cannot exclude ascending aortic aneurysm.", "tortuous_aorta", "positive"),
        (
            "Bibasilar opacities in part due to atelectasis, pulmonary edema difficult to entirely exclude.",
            "edema",
            "uncertain",
        ),
        ("We cannot entirely exclude pneumonia.", "pneumonia", "uncertain"),
        # new mentions
        ("There is fluid in the pleural space.", "pleural_effusion", "positive"),
        ("There is stable mild cardiac enlargement.", "cardiomegaly", "positive"),  # IU
        ("There is enlargement of the heart.", "cardiomegaly", "positive"),
    ],
)
def test_gap_assertions(ex, sentence, observation, assertion):
    assert _find(ex, sentence, observation).assertion == assertion


def test_hedge_outside_a_negation_still_hedges(ex):
    # the "suspicious" fix must not turn every hedge after a negation into a negation
    text = "No pneumothorax. Suspicious opacity in the right upper lobe."
    assert _find(ex, text, "opacity").assertion == "uncertain"
    assert _find(ex, "There is a suspicious nodule in the left lung.", "nodule").assertion == "uncertain"
    assert _find(ex, "No pneumothorax, but possible small effusion.", "pleural_effusion").assertion == "uncertain"


def test_possible_before_the_noun_still_forward(ex):
    assert _find(ex, "There is possible pneumonia in the left base.", "pneumonia").assertion == "uncertain"


def test_double_full_stop_ends_the_sentence(ex):
    text = (
        "Specifically, no evidence of focal consolidation, pneumothorax, or pleural effusion.. "
        "Minimal right basilar subsegmental atelectasis noted."
    )  # IU
    effusion = _find(ex, text, "pleural_effusion")
    atelectasis = _find(ex, text, "atelectasis")
    assert effusion.assertion == "negative"
    assert atelectasis.assertion == "positive"
    assert atelectasis.sentence.startswith("Minimal right basilar")
    assert (atelectasis.laterality, atelectasis.severity) == ("right", "minimal")


def test_free_of_is_not_free_air(ex):
    findings = ex.extract_text("The lungs are free of any focal infiltrates.")  # IU, 28 reports
    assert [f.observation for f in findings] == ["infiltrate"]
    assert findings[0].assertion == "negative"
    # the real free-air phrasings still count
    assert _find(ex, "No free intraperitoneal air.", "pneumoperitoneum").assertion == "negative"  # IU
    assert _find(ex, "There is free air under the diaphragm.", "pneumoperitoneum").assertion == "positive"


def test_nodular_opacity_is_its_own_observation(ex):
    # Deliberate: a nodular opacity is usually a nipple, bone island or granuloma and the
    # ChestX-ray14 gold rarely counts it as Nodule; label sets decide what it maps to.
    f = _find(ex, "Rounded nodular opacity in the left upper lobe.", "nodular_opacity")
    assert (f.assertion, f.laterality, f.location) == ("positive", "left", "left upper lobe")
    assert "nodule" not in {x.observation for x in ex.extract_text("Rounded nodular opacity.")}


@pytest.mark.parametrize(
    ("sentence", "observation", "laterality", "severity", "location"),
    [
        ("There is a small effusion on the left.", "pleural_effusion", "left", "small", None),
        ("Opacity is seen in the right lower lobe, mild.", "opacity", "right", "mild", "right lower lobe"),
        # a restatement inherits the side of the finding it restates (IU uid 182)
        ("Opacities in the left lower lobe, compatible with infiltrate.", "infiltrate", "left", None, None),
        ("Fracture is present in the posterior portion of the right 3rd rib.", "fracture", "right", None, "rib"),  # IU
    ],
)
def test_qualifiers_from_the_sentence(ex, sentence, observation, laterality, severity, location):
    f = _find(ex, sentence, observation)
    assert (f.laterality, f.severity, f.location) == (laterality, severity, location)


def test_sentence_qualifiers_stay_put_when_ambiguous(ex):
    # two unrelated findings: the effusion's side must not leak onto the heart, nor "mild" onto the effusion
    findings = {f.observation: f for f in ex.extract_text("Mild cardiomegaly with a left pleural effusion.")}
    assert findings["cardiomegaly"].laterality == "none"
    assert findings["cardiomegaly"].severity == "mild"
    assert findings["pleural_effusion"].laterality == "left"
    assert findings["pleural_effusion"].severity is None


@pytest.mark.parametrize(
    ("sentence", "assertion", "severity"),
    [
        ("Borderline heart size.", "positive", "borderline"),  # IU
        ("Mildly enlarged heart.", "positive", "mild"),
        ("The heart is mildly enlarged.", "positive", "mild"),
        ("Heart size is upper limits of normal.", "uncertain", "borderline"),  # IU
        ("Borderline cardiac enlargement.", "positive", "borderline"),  # IU
    ],
)
def test_heart_severity(ex, sentence, assertion, severity):
    f = _find(ex, sentence, "cardiomegaly")
    assert (f.assertion, f.severity) == (assertion, severity)


def test_rule_versions_bumped(ex):
    files = ex.rules.files
    assert files["lexicon"].version != "1.0.0"
    assert files["context"].version != "1.0.0"
