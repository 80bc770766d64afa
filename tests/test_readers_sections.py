"""FINDINGS / IMPRESSION splitting with medspaCy's sectionizer, and the canonical Report text."""

from __future__ import annotations

import pytest

from radprm.readers import canonical_text, split_sections
from radprm.readers.sections import rules_version


def test_canonical_text_both_parts() -> None:
    assert canonical_text("Clear lungs.", "Normal.") == "FINDINGS: Clear lungs.\nIMPRESSION: Normal."


@pytest.mark.parametrize(
    ("findings", "impression", "expected"),
    [
        (None, "Normal.", "IMPRESSION: Normal."),
        ("  ", "Normal.", "IMPRESSION: Normal."),
        ("Clear lungs.", None, "FINDINGS: Clear lungs."),
        (None, None, ""),
        ("  Clear lungs. \n", "", "FINDINGS: Clear lungs."),
    ],
)
def test_canonical_text_omits_missing_part(findings: str | None, impression: str | None, expected: str) -> None:
    assert canonical_text(findings, impression) == expected


def test_split_full_report_with_exam_title_and_history() -> None:
    text = (
        "PA AND LATERAL CHEST RADIOGRAPH\n"
        "CLINICAL HISTORY: 65-year-old with cough.\n"
        "COMPARISON: Chest radiograph dated XXXX.\n"
        "FINDINGS: The heart is normal in size. There is a small right pleural effusion.\n"
        "No pneumothorax.\n"
        "IMPRESSION: Small right pleural effusion.\n"
    )
    sections = split_sections(text)
    assert sections.findings == (
        "The heart is normal in size. There is a small right pleural effusion.\nNo pneumothorax."
    )
    assert sections.impression == "Small right pleural effusion."
    assert sections.indication == "65-year-old with cough."
    assert sections.comparison == "Chest radiograph dated XXXX."
    assert sections.had_headers


@pytest.mark.parametrize(
    ("text", "findings", "impression"),
    [
        ("Findings: Lungs are clear. Impression: Normal study.", "Lungs are clear.", "Normal study."),
        ("FINDINGS:\nMild cardiomegaly.\n\nCONCLUSION:\nCardiomegaly.", "Mild cardiomegaly.", "Cardiomegaly."),
        ("FINDINGS\nNo effusion.\nIMPRESSION\nNegative.", "No effusion.", "Negative."),
        ("IMPRESSION: No acute disease.", None, "No acute disease."),
        ("Heart size normal. Lungs clear.", "Heart size normal. Lungs clear.", None),
    ],
)
def test_split_header_variants(text: str, findings: str | None, impression: str | None) -> None:
    sections = split_sections(text)
    assert (sections.findings, sections.impression) == (findings, impression)


def test_split_text_without_headers_is_all_findings() -> None:
    sections = split_sections("  No focal consolidation, effusion or pneumothorax.  ")
    assert sections.findings == "No focal consolidation, effusion or pneumothorax."
    assert not sections.had_headers


def test_split_preamble_becomes_findings_when_no_findings_header() -> None:
    sections = split_sections("Lungs are hyperinflated. IMPRESSION: COPD.")
    assert (sections.findings, sections.impression) == ("Lungs are hyperinflated.", "COPD.")


def test_split_word_impression_inside_a_sentence_is_not_a_header() -> None:
    sections = split_sections("FINDINGS: The impression of the heart border is normal.")
    assert sections.findings == "The impression of the heart border is normal." and sections.impression is None


def test_split_empty_text() -> None:
    assert split_sections("   ").as_dict() == {
        "findings": None,
        "impression": None,
        "indication": None,
        "comparison": None,
    }


def test_section_rules_are_versioned_and_shared_with_the_findings_pipeline() -> None:
    from radprm.readers.sections import load_section_rules
    from radprm.validators.findings import load_findings_rules

    assert rules_version() == "2.0.0"
    findings_rules = load_findings_rules()
    assert findings_rules.versions["sections"] == "2.0.0"
    assert findings_rules.section_rules == load_section_rules()["section_rules"]


MIMIC = (
    "WET READ: ___ ___ 10:27 PM\n  Patchy left basilar opacity.\n"
    "______________________________________________________________________________\n"
    "FINAL REPORT\nEXAMINATION: CHEST (PORTABLE AP)\n\nINDICATION: ___ year old man with fever.\n\n"
    "TECHNIQUE: Single portable view.\n\nCOMPARISON: ___.\n\n"
    "FINDINGS:\n\nLeft basilar opacity.\n\nNo effusion.\n\n"
    "IMPRESSION:\n\n1. Left basilar opacity, possibly pneumonia.\n2. No effusion.\n\n"
    "RECOMMENDATION(S): Follow-up radiograph.\n\nNOTIFICATION: Dr. ___ was paged at ___.\n\n"
    "ADDENDUM:\n\nNo change."
)


def test_split_mimic_layout_keeps_findings_and_impression_only() -> None:
    sections = split_sections(MIMIC)
    assert sections.findings == "Left basilar opacity.\n\nNo effusion."
    assert sections.impression == "1. Left basilar opacity, possibly pneumonia.\n2. No effusion."
    assert sections.indication == "___ year old man with fever."
    assert sections.comparison == "___."
    assert not sections.no_report_sections
    for text in (sections.findings, sections.impression):
        assert "Patchy" not in text and "Follow-up" not in text and "paged" not in text and "No change" not in text


def test_split_mimic_all_capitals_reads_the_same() -> None:
    upper = split_sections(MIMIC.upper())
    assert upper.findings == split_sections(MIMIC).findings.upper()
    assert upper.impression == split_sections(MIMIC).impression.upper()


def test_split_without_findings_or_impression_uses_unheaded_text_and_flags_it() -> None:
    sections = split_sections("FINAL REPORT\nCHEST RADIOGRAPH: Clear lungs.\n\nCOMPARISON: ___.\n\nNo effusion.")
    assert sections.no_report_sections and sections.had_headers
    assert sections.findings == "CHEST RADIOGRAPH: Clear lungs.\n\nNo effusion."
    assert sections.comparison == "___."
    only_side = split_sections("INDICATION: cough.\nCOMPARISON: ___. Lungs are clear.")
    assert only_side.no_report_sections
    assert only_side.findings == "INDICATION: cough.\nCOMPARISON: ___. Lungs are clear."  # the whole text
    assert split_sections("Heart size normal.").no_report_sections


def test_split_spans_point_into_the_input() -> None:
    sections = split_sections(MIMIC)
    for name in ("findings", "impression", "indication", "comparison"):
        chunks = [MIMIC[s:e] for s, e in sections.spans[name]]
        assert "\n\n".join(chunks) == getattr(sections, name)


def test_split_text_without_headers_skips_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    import radprm.readers.sections as sections_module

    def no_spacy() -> None:
        raise AssertionError("spaCy pipeline built for a text without headers")

    monkeypatch.setattr(sections_module, "_sectionizer_nlp", no_spacy)
    assert split_sections("Stable cardiomegaly. No effusion.").findings == "Stable cardiomegaly. No effusion."
    with pytest.raises(AssertionError):
        split_sections("FINDINGS: Stable cardiomegaly.")  # a header: the sectionizer must run


def _iu_rows(path, n: int) -> list[dict[str, str]]:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["findings"].strip() and r["impression"].strip()]
    return rows[:n]


@pytest.mark.parametrize(
    "layout",
    [
        "INDICATION: {indication}\nCOMPARISON: {comparison}\nFINDINGS: {findings}\nIMPRESSION: {impression}",
        "EXAMINATION: CHEST 2 VIEWS\nClinical history: "
        "{indication}\n\nFindings:\n{findings}\n\nCONCLUSION\n{impression}",
    ],
)
def test_split_recovers_iu_sections_from_rebuilt_text(iu_reports, layout: str) -> None:
    # IU rows come split into columns: glue them back into one text and check the split finds them again
    rows = _iu_rows(iu_reports, 400)
    exact = 0
    for row in rows:
        sections = split_sections(
            layout.format(**{k: row[k] for k in ("indication", "comparison", "findings", "impression")})
        )
        exact += (sections.findings, sections.impression) == (row["findings"].strip(), row["impression"].strip())
    assert exact / len(rows) >= 0.99, f"{exact}/{len(rows)} reports split exactly"


def test_section_rule_file_model_refuses_misspelled_keys_and_unknown_categories() -> None:
    from radprm.errors import RuleFileError
    from radprm.readers.sections import RULES_FILE, SectionRulesFile, load_section_rules
    from radprm.rules import parse_rule_data

    doc = {**load_section_rules(), "section_rules": [{"literal": "Findings:", "categroy": "findings"}]}
    with pytest.raises(RuleFileError) as err:
        parse_rule_data(doc, SectionRulesFile, path=RULES_FILE)
    assert str(err.value) == (
        f"{RULES_FILE}, field 'section_rules.0.categroy': unknown key 'categroy' "
        "(allowed keys: literal, category, pattern)"
    )
    doc["section_rules"] = [{"literal": "Findings:", "category": "finding"}]
    with pytest.raises(RuleFileError) as err:
        parse_rule_data(doc, SectionRulesFile, path=RULES_FILE)
    assert err.value.field == "section_rules.0.category"
    assert "unknown category 'finding'" in str(err.value)
    doc["section_rules"] = [{"literal": "Findings:", "category": "findings", "pattern": [{"LOWER": "findings"}]}]
    with pytest.raises(RuleFileError) as err:
        parse_rule_data(doc, SectionRulesFile, path=RULES_FILE)
    assert err.value.field == "section_rules.0.pattern"
