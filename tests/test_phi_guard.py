"""The PHI guard (Presidio): recall per entity type on made-up reports, no hits on IU, masking, bad input."""

from __future__ import annotations

from collections import Counter

import pytest
from phi_planted import planted_reports

from radprm.errors import InputError
from radprm.phi import PhiGuard, check_mode
from radprm.phi.scan import scan_reports


@pytest.fixture(scope="module")
def guard():
    return PhiGuard()


def recall(guard: PhiGuard) -> tuple[Counter, Counter]:
    found, total = Counter(), Counter()
    for _rid, text, planted in planted_reports(49):
        hits = guard.scan(text)
        masked = guard.mask(text, hits)
        for entity, value in planted:
            start = text.index(value)
            total[entity] += 1
            found[entity] += any(h.start < start + len(value) and start < h.end for h in hits) and value not in masked
    return found, total


def test_phi_patterns_find_planted_identifiers_per_entity_type(guard):
    found, total = recall(guard)
    assert set(total) == {"PERSON", "DATE", "PHONE", "MRN", "SSN", "EMAIL", "URL", "ADDRESS"}
    for entity in ("DATE", "PHONE", "MRN", "SSN", "EMAIL", "URL", "ADDRESS"):
        assert found[entity] == total[entity], (entity, found[entity], total[entity])
    # names after a label or title are found; a bare name opening a sentence needs NER (7 of 49 here)
    assert found["PERSON"] == 42 and total["PERSON"] == 49


@pytest.mark.slow
def test_phi_ner_engine_also_finds_unlabelled_names():
    found, total = recall(PhiGuard("ner"))
    assert found["PERSON"] == total["PERSON"] == 49
    assert found["DATE"] == total["DATE"]


def test_phi_deidentified_markers_are_not_hits(guard):
    text = "Dr. XXXX was notified at XXXX on XXXX/XXXX. Patient name: ___. Comparison XXXX, XXXX."
    assert guard.scan(text) == []


def test_phi_clinical_numbers_are_not_hits(guard):
    text = ("FINDINGS: 1.5 x 2.3 cm nodule in the right upper lobe. T11-T12 compression deformity, 20% height loss. "
            "Heart size normal. Sternotomy wires 1-7 intact. BMI 32. Grade 2 of 4. IMPRESSION: No acute disease.")
    assert guard.scan(text) == []


def test_phi_mask_replaces_spans_with_entity_placeholders(guard):
    text = "Patient name: John Carver. MRN: 48213377. Seen 03/14/2023."
    masked = guard.mask(text, guard.scan(text))
    assert masked == "Patient name: <PERSON>. MRN: <MRN>. Seen <DATE>."


def test_phi_hits_never_carry_the_matched_text(guard):
    hits = guard.scan("Call Dr. Alice Brenner at (317) 555-0199.")
    assert {h.entity for h in hits} == {"PERSON", "PHONE"}
    assert all("Brenner" not in str(h.as_dict()) and "555" not in str(h.as_dict()) for h in hits)


def test_phi_unknown_mode_is_one_line_error():
    with pytest.raises(InputError, match="unknown PHI mode 'redact'") as exc:
        check_mode("redact")
    assert "\n" not in str(exc.value) and "off, flag, mask, block" in str(exc.value)


@pytest.mark.shared
def test_phi_scan_iu_reports_gives_no_hits(iu_reports, tmp_path):
    summary = scan_reports(iu_reports, out=tmp_path / "hits.jsonl")
    assert summary.reports > 3800
    assert summary.reports_with_hits == 0, summary.render()  # IU is de-identified ("XXXX")
    assert (tmp_path / "hits.jsonl").read_text() == ""
