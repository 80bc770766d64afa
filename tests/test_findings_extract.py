"""FindingsExtractor on real IU X-ray sentences (quoted from indiana_reports.csv) and LLM-style steps."""

from __future__ import annotations

import pytest

from radprm.schemas.records import Report
from radprm.validators.findings import FindingsExtractor, extract_findings


@pytest.fixture(scope="module")
def ex() -> FindingsExtractor:
    return FindingsExtractor()


def _by_obs(findings):
    return {f.observation: f for f in findings}


# --- assertion -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sentence", "observation", "assertion"),
    [
        ("There is no evidence of pneumothorax.", "pneumothorax", "negative"),  # uid 1
        ("There are no XXXX of a pleural effusion.", "pleural_effusion", "negative"),  # uid 1, de-identified word
        (
            "No displaced rib fractures, pneumothorax, or pleural effusion identified.",
            "pleural_effusion",
            "negative",
        ),  # uid 3
        ("Borderline cardiomegaly.", "cardiomegaly", "positive"),  # uid 2
        ("Opacities in the bilateral upper lobes could represent scarring", "scarring", "uncertain"),  # uid 4
        ("Heart size is at the upper limits of normal.", "cardiomegaly", "uncertain"),  # uid 104
        ("Upper lobe airspace disease or pulmonary nodule is not entirely excluded.", "nodule", "uncertain"),  # uid 123
        ("The heart is not grossly enlarged.", "cardiomegaly", "negative"),  # uid 3211
        ("Resolved interstitial edema.", "edema", "negative"),  # uid 2208
        ("Interval resolution of the right pleural effusion.", "pleural_effusion", "negative"),
        ("The lungs are hyperlucent and hyperinflated compatible with emphysema.", "emphysema", "positive"),  # uid 25
        # made up: the age of a fracture is indeterminate, not the fracture
        ("Several age-indeterminate left rib fractures.", "fracture", "positive"),
        ("Fracture of indeterminate age of the right clavicle.", "fracture", "positive"),
        ("Indeterminate nodule in the left lung.", "nodule", "uncertain"),
    ],
)
def test_extract_assertion_on_iu_sentences(ex, sentence, observation, assertion):
    found = _by_obs(ex.extract_text(sentence))
    assert observation in found, [f.observation for f in ex.extract_text(sentence)]
    assert found[observation].assertion == assertion


def test_extract_subcutaneous_emphysema_is_not_emphysema(ex):
    found = _by_obs(
        ex.extract_text(
            "Subcutaneous emphysema seen along the neck bilaterally, right lateral upper abdomen, and left chest."
        )
    )
    assert "subcutaneous_emphysema" in found and "emphysema" not in found


def test_extract_hypothetical_mention_is_flagged(ex):
    (f,) = ex.extract_text("Please correlate clinically for pneumonia.")  # uid 2537
    assert f.observation == "pneumonia" and f.hypothetical


# --- laterality, severity, location ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("sentence", "observation", "laterality", "severity", "location"),
    [
        (
            "Minimal right basilar subsegmental atelectasis noted.",
            "atelectasis",
            "right",
            "minimal",
            "right basilar",
        ),  # uid 54
        (
            "There are streaky opacities in the right upper lobe, XXXX scarring.",
            "opacity",
            "right",
            None,
            "right upper lobe",
        ),  # uid 4
        (
            "Calcified granuloma is again seen in the right upper lobe.",
            "granuloma",
            "right",
            None,
            "right upper lobe",
        ),  # uid 9
        (
            "Moderate right-sided pleural effusion, small left sided.",
            "pleural_effusion",
            "right",
            "moderate",
            None,
        ),  # uid 650
        ("Bibasilar atelectasis versus scarring.", "atelectasis", "bilateral", None, "Bibasilar"),  # uid 2200
        ("There is left lower lobe airspace disease identified.", "opacity", "left", None, "left lower lobe"),  # uid 25
        ("Mildly hyperexpanded lungs.", "hyperinflation", "none", "mild", None),  # uid 5
        ("There is a large hiatal hernia.", "hiatal_hernia", "none", "large", None),
    ],
)
def test_extract_laterality_severity_location(ex, sentence, observation, laterality, severity, location):
    f = _by_obs(ex.extract_text(sentence))[observation]
    assert (f.laterality, f.severity, f.location) == (laterality, severity, location)


def test_extract_left_and_right_is_bilateral(ex):
    f = _by_obs(ex.extract_text("Left and right pleural effusions."))["pleural_effusion"]
    assert f.laterality == "bilateral"


# --- statements about organs: what normal statements imply ------------------------------------------
def test_extract_llm_step_sentences(ex):
    assert [(f.observation, f.assertion) for f in ex.extract_text("No pneumothorax is seen.")] == [
        ("pneumothorax", "negative")
    ]
    clear = _by_obs(ex.extract_text("The lungs are clear."))
    assert {"consolidation", "opacity", "pneumonia", "edema", "infiltrate"} <= set(clear)
    assert {f.assertion for f in clear.values()} == {"negative"}
    assert "nodule" not in clear  # clear lungs do not rule out a nodule
    (eff,) = ex.extract_text("There is a small left pleural effusion.")
    assert (eff.observation, eff.assertion, eff.laterality, eff.severity) == (
        "pleural_effusion",
        "positive",
        "left",
        "small",
    )
    heart = _by_obs(ex.extract_text("Heart size is normal."))
    assert heart["cardiomegaly"].assertion == "negative"


def test_extract_enlarged_heart_is_cardiomegaly_with_severity(ex):
    f = _by_obs(ex.extract_text("The heart is mildly enlarged."))["cardiomegaly"]
    assert (f.assertion, f.severity) == ("positive", "mild")
    assert f.mention == "heart is mildly enlarged"


def test_extract_enlarged_silhouette_is_not_called_cardiomegaly(ex):
    found = _by_obs(ex.extract_text("The cardiac silhouette is enlarged."))  # uid 3116
    assert found["enlarged_cardiac_silhouette"].assertion == "positive"
    assert "cardiomegaly" not in found


def test_extract_normal_silhouette_and_mediastinum(ex):
    found = _by_obs(ex.extract_text("The cardiac silhouette and mediastinum size are within normal limits."))  # uid 1
    assert found["cardiomegaly"].assertion == "negative"
    assert found["enlarged_cardiomediastinum"].assertion == "negative"


def test_extract_no_acute_abnormality_negates_acute_findings(ex):
    found = _by_obs(ex.extract_text("No acute cardiopulmonary abnormality."))
    assert {"pneumothorax", "pleural_effusion", "consolidation", "edema"} <= set(found)
    assert {f.assertion for f in found.values()} == {"negative"}


def test_extract_unqualified_organ_mention_yields_nothing(ex):
    assert ex.extract_text("The heart and lungs have been imaged.") == []


# --- offsets, sections, sentences ---------------------------------------------------------------------
def _report() -> Report:
    findings = "Borderline cardiomegaly. Midline sternotomy XXXX. Enlarged pulmonary arteries. Clear lungs."  # uid 2
    impression = "No acute pulmonary findings."
    return Report(
        report_id="2", findings=findings, impression=impression, text=f"FINDINGS: {findings}\nIMPRESSION: {impression}"
    )


def test_extract_report_offsets_and_sections(ex):
    report = _report()
    found = ex.extract_report(report)
    assert found, "expected findings"
    for f in found:
        assert f.report_id == "2"
        assert report.text[f.start : f.end] == f.mention
        assert report.text[f.sentence_start : f.sentence_end] == f.sentence
        assert f.sentence_start <= f.start < f.end <= f.sentence_end
    cardio = next(f for f in found if f.observation == "cardiomegaly" and f.assertion == "positive")
    assert cardio.section == "findings"
    assert cardio.sentence == "FINDINGS: Borderline cardiomegaly."
    impression = [f for f in found if f.start > report.text.index("IMPRESSION:")]
    assert impression and {f.section for f in impression} == {"impression"}


def test_extract_text_offsets_and_forced_section(ex):
    text = "Heart size normal. There is a small left pleural effusion."
    found = ex.extract_text(text, report_id="step-3", section="other")
    eff = _by_obs(found)["pleural_effusion"]
    assert text[eff.start : eff.end] == "pleural effusion"
    assert eff.sentence == "There is a small left pleural effusion."
    assert {f.report_id for f in found} == {"step-3"}


def test_extract_many_streams_in_order_and_matches_extract_report(ex):
    reports = [
        _report(),
        Report(report_id="b", findings="No pneumothorax.", text="FINDINGS: No pneumothorax."),
        Report(report_id="c", text=""),
    ]
    out = list(ex.extract_many(iter(reports), batch_size=2))
    assert [r.report_id for r, _ in out] == ["2", "b", "c"]
    assert out[0][1] == ex.extract_report(reports[0])
    assert out[2][1] == []


def test_extract_findings_convenience_accepts_text_and_report():
    report = _report()
    assert extract_findings(report) == FindingsExtractor().extract_report(report)
    found = extract_findings("No pleural effusion.", report_id="x")
    assert [(f.report_id, f.observation, f.assertion) for f in found] == [("x", "pleural_effusion", "negative")]


def test_rules_version_is_exposed(ex):
    assert ex.rules_version == ex.rules.rules_version
    assert ex.rules_version.startswith("findings-")
