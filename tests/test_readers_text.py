"""Free-text reports: a .txt file or a directory of .txt files."""

from __future__ import annotations

from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.readers import read_reports


def test_read_text_file_id_is_stem(fixtures: Path) -> None:
    (report,) = read_reports(fixtures / "reports_free_text.txt")
    assert report.report_id == "reports_free_text"
    assert report.findings.startswith("There is a small left pleural effusion with adjacent atelectasis.")
    assert report.findings.endswith("No pneumothorax.")
    assert report.impression == "Small left pleural effusion and mild cardiomegaly."
    assert report.indication == "Shortness of breath."
    assert report.source_path == str(fixtures / "reports_free_text.txt") and report.source_row == 1


def test_read_text_directory_sorted_and_bad_file_quarantined(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("FINDINGS: Clear lungs.\nIMPRESSION: Normal.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Heart size is normal.", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"FINDINGS: Caf\xe9.")
    (tmp_path / "d.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a report", encoding="utf-8")
    stream = read_reports(tmp_path)
    reports = list(stream)
    assert stream.format == "text"
    assert [r.report_id for r in reports] == ["a", "b"]
    assert reports[0].text == "FINDINGS: Heart size is normal."
    assert reports[1].source_path == str(tmp_path / "b.txt")
    records = {r.source_path: r for r in stream.quarantine.records}
    bad = records[str(tmp_path / "c.txt")]
    assert bad.reason_code == "invalid_utf8" and bad.field == "text" and "byte offset 13" in bad.detail
    assert bad.record_id == "c" and bad.payload == "FINDINGS: Caf\ufffd."
    assert records[str(tmp_path / "d.txt")].reason_code == "empty_text"


def test_read_text_directory_without_txt_files(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n", encoding="utf-8")
    with pytest.raises(InputError, match="directory holds no .txt files"):
        read_reports(tmp_path, format="text")


def test_read_directory_without_report_files(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("a\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"{tmp_path}: directory holds no report files"):
        read_reports(tmp_path)


def test_read_text_rejects_column_options(fixtures: Path) -> None:
    with pytest.raises(InputError, match="--id-col do"):
        read_reports(fixtures / "reports_free_text.txt", id_col="x")


# -- normalisation of hard-wrapped free text -------------------------------------------------------

from radprm.readers.text import normalize_report_text, normalize_with_offsets, study_ids, trace_report_text  # noqa: E402

WRAPPED = (
    "                                 FINAL REPORT\n"
    " EXAMINATION:  CHEST (PA AND LAT)\n \n"
    " FINDINGS: \n \n"
    " No large effusion or\n pneumothorax.  Heart size is\n enlarged but unchanged.\n \n"
    " IMPRESSION: \n \n"
    " 1.  Focal consolidation\n in the right lower lobe.\n 2.  Left-sided\n Port-A-Cath.\n"
)


def test_normalize_joins_wraps_keeps_paragraphs_headers_and_list_items() -> None:
    assert normalize_report_text(WRAPPED) == (
        "FINAL REPORT\nEXAMINATION: CHEST (PA AND LAT)\n\nFINDINGS:\n\n"
        "No large effusion or pneumothorax. Heart size is enlarged but unchanged.\n\n"
        "IMPRESSION:\n\n1. Focal consolidation in the right lower lobe.\n2. Left-sided Port-A-Cath."
    )


def test_normalize_is_idempotent_and_leaves_single_line_text_alone() -> None:
    once = normalize_report_text(WRAPPED)
    assert normalize_report_text(once) == once
    line = "No acute cardiopulmonary process. 1. Clear lungs."
    assert normalize_report_text(line) is line


def test_normalize_crlf_and_all_capitals_read_the_same() -> None:
    crlf = WRAPPED.replace("\n", "\r\n")
    assert normalize_report_text(crlf) == normalize_report_text(WRAPPED)
    assert normalize_report_text(WRAPPED.upper()) == normalize_report_text(WRAPPED).upper()


def test_normalize_offsets_point_at_the_same_characters() -> None:
    text, offsets = normalize_with_offsets(WRAPPED.replace("\n", "\r\n"))
    source = WRAPPED.replace("\n", "\r\n")
    assert len(offsets) == len(text)
    for i, char in enumerate(text):
        if not char.isspace():
            assert source[offsets[i]] == char, i
    start = text.index("pneumothorax")
    assert source[offsets[start] : offsets[start + len("pneumothorax") - 1] + 1] == "pneumothorax"


def test_trace_report_text_equals_reader_text_and_maps_back(tmp_path: Path) -> None:
    file = tmp_path / "s123.txt"
    file.write_text(WRAPPED, encoding="utf-8")
    (report,) = read_reports(file)
    text, offsets = trace_report_text(WRAPPED)
    assert text == report.text
    start = text.index("effusion or pneumothorax")
    end = start + len("effusion or pneumothorax")
    assert WRAPPED[offsets[start] : offsets[end - 1] + 1] == "effusion or\n pneumothorax"
    assert offsets[0] == -1  # "FINDINGS: " is radprm's


def test_study_ids_from_mimic_names() -> None:
    assert study_ids(Path("files/p10/p10000032/s50414267.txt")) == ("50414267", "10000032")
    assert study_ids(Path("reports/s50414267.txt")) == ("50414267", None)
    assert study_ids(Path("reports/case-7.txt")) == ("case-7", None)


def test_read_mimic_tree_recursively_with_study_ids(fixtures: Path) -> None:
    stream = read_reports(fixtures / "mimic_tiny")  # holds only folders: files/pNN/pNNNNNNNN/sNNNNNNNN.txt
    reports = list(stream)
    assert stream.format == "text"
    assert [r.report_id for r in reports] == ["50000001", "50000002"]
    first, second = reports
    assert first.source_path.endswith("files/p10/p10000032/s50000001.txt")
    assert first.findings.startswith("No large effusion or pneumothorax. Heart size is enlarged but unchanged.")
    assert first.impression.startswith("1. Right lower lobe consolidation, concerning for pneumonia.\n2. ")
    assert first.indication.startswith("___-year-old man")
    assert "NOTIFICATION" not in first.text and "discussed" not in first.text
    # CRLF, all capitals, FINAL REPORT banner and no FINDINGS/IMPRESSION: the text outside COMPARISON
    assert second.findings.startswith("PA AND LATERAL CHEST RADIOGRAPH ___\n\nTHE LUNGS ARE CLEAR WITHOUT FOCAL")
    assert "\r" not in second.text and "OR PNEUMOTHORAX" in second.text
    assert stream.stats.warnings == {"no_report_sections": 1} and stream.stats.quarantined == 0
    (warning,) = stream.warnings
    assert warning.reason_code == "no_report_sections" and warning.record_id == "50000002"
    assert warning.detail.startswith("warning:") and "report kept" in warning.detail


def test_read_mimic_tree_bad_file_and_empty_tree(tmp_path: Path) -> None:
    folder = tmp_path / "files" / "p10" / "p10000001"
    folder.mkdir(parents=True)
    (folder / "s1.txt").write_bytes(b" FINDINGS: Caf\xe9 lungs.\n")
    (folder / "s2.txt").write_text(" FINDINGS: Clear lungs.\n", encoding="utf-8")
    stream = read_reports(tmp_path)
    assert [r.report_id for r in stream] == ["2"]
    (bad,) = stream.quarantine.records
    assert (bad.reason_code, bad.record_id, bad.field) == ("invalid_utf8", "1", "text")
    assert bad.source_path == str(folder / "s1.txt")
    empty = tmp_path / "empty" / "files" / "p10"
    empty.mkdir(parents=True)
    with pytest.raises(InputError, match="directory holds no report files"):
        read_reports(tmp_path / "empty")
    (folder / "s2.txt").unlink()
    (folder / "s1.txt").write_text("   \n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s1.txt row 1, field 'text': all 1 rows were quarantined; first: empty_text"):
        list(read_reports(tmp_path))


def test_read_csv_text_column_is_normalised_like_files(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "reports.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["study_id", "text"], ["s9", WRAPPED], ["s8", normalize_report_text(WRAPPED)]])
    nine, eight = read_reports(path)
    assert nine.report_id == "s9" and nine.text == eight.text
    assert nine.text.startswith("FINDINGS: No large effusion or pneumothorax. Heart size is enlarged")


def test_deidentified_blanks_are_neither_findings_nor_numbers() -> None:
    from radprm.validators.findings import extract_findings
    from radprm.validators.steps import numbers_in

    text = "FINDINGS: Dr. ___ was paged on ___ at ___. ___ ___ ___. Compared to ___."
    assert extract_findings(text) == []
    assert numbers_in(text) == []


def test_cli_read_mimic_tree_reports_warning_and_strict_keeps_it(fixtures: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from radprm.cli import app

    out = tmp_path / "reports.jsonl"
    result = CliRunner().invoke(app, ["read", str(fixtures / "mimic_tiny"), "--out", str(out), "--strict"])
    assert result.exit_code == 0, result.output
    assert "wrote 2 reports" in result.output and "warnings: no_report_sections=1" in result.output
    quarantine = out.with_name(out.name + ".quarantine.jsonl").read_text(encoding="utf-8")
    assert '"reason_code":"no_report_sections"' in quarantine and "report kept" in quarantine
