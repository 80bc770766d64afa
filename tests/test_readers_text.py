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
