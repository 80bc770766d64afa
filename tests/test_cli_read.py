"""`radprm read`: drive the command, then check the outputs through the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.quarantine import read_quarantine
from radprm.schemas.arrow import REPORT_SCHEMA
from radprm.schemas.records import Report
from radprm.tables import read_table

runner = CliRunner()


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_read_iu_with_projections(iu_reports: Path, iu_projections: Path, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"reports.{ext}"
    result = runner.invoke(app, ["read", str(iu_reports), "--out", str(out), "--projections", str(iu_projections)])
    assert result.exit_code == 0, result.output
    assert f"read 3851 rows from {iu_reports} (format iu)" in result.output
    assert f"wrote 3826 reports to {out}" in result.output
    assert "quarantined: 25 (empty_text=25)" in result.output
    reports = [Report(**row) for row in read_table(out, schema=REPORT_SCHEMA)]
    assert len(reports) == 3826 and reports[0].image_paths == ["1_IM-0001-4001.dcm.png", "1_IM-0001-3001.dcm.png"]
    records = read_quarantine(tmp_path / f"reports.{ext}.quarantine.jsonl")
    assert len(records) == 25 and {r.reason_code for r in records} == {"empty_text"}


def test_read_text_col_and_limit(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["read", str(fixtures / "reports_text_col.csv"), "-o", str(out), "--id-col", "accession",
              "--text-col", "report", "--limit", "2"],
    )
    assert result.exit_code == 0, result.output
    rows = list(read_table(out))
    assert [r["report_id"] for r in rows] == ["A-100", "A-101"]
    assert rows[1]["impression"] == "Right lower lobe pneumonia."
    assert "quarantined: 0" in result.output
    assert not (tmp_path / "out.jsonl.quarantine.jsonl").exists()  # written only when non-empty


def test_read_quarantine_path_option_and_stale_file_removed(fixtures: Path, tmp_path: Path) -> None:
    out, qpath = tmp_path / "out.csv", tmp_path / "q.jsonl"
    qpath.write_text("stale\n", encoding="utf-8")
    result = runner.invoke(
        app, ["read", str(fixtures / "reports_duplicate_id.csv"), "--out", str(out), "--quarantine", str(qpath)]
    )
    assert result.exit_code == 0, result.output
    assert f"quarantined: 1 (duplicate_id=1) -> {qpath}" in result.output
    (record,) = read_quarantine(qpath)
    assert (record.reason_code, record.source_row, record.record_id) == ("duplicate_id", 3, "d1")
    assert [r["report_id"] for r in read_table(out)] == ["d1", "d2"]


def test_read_strict_exits_1_after_writing(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["read", str(fixtures / "reports_empty_text.csv"), "--out", str(out), "--strict"])
    assert result.exit_code == 1
    assert "Error: " in result.output and "3 row(s) quarantined and --strict is set" in result.output
    assert "Traceback" not in result.output
    assert [r["report_id"] for r in read_table(out)] == ["e1"]
    assert len(read_quarantine(tmp_path / "out.parquet.quarantine.jsonl")) == 3


def test_read_missing_column_is_one_error_line(fixtures: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["read", str(fixtures / "reports_no_id.csv"), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {fixtures / 'reports_no_id.csv'}: no id column")
    assert not (tmp_path / "o.csv").exists()


def test_read_unknown_input_format(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    path.write_text("<r/>", encoding="utf-8")
    result = runner.invoke(app, ["read", str(path), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    assert "unknown input format '.xml'; formats: iu, csv, jsonl, parquet, text" in result.output


def test_read_unknown_output_extension(fixtures: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["read", str(fixtures / "reports_basic.csv"), "--out", str(tmp_path / "o.xlsx")])
    assert result.exit_code == 1 and "unknown table format '.xlsx'" in result.output


def test_read_format_option_and_free_text_dir(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "r1.txt").write_text("FINDINGS: Clear lungs.\nIMPRESSION: Normal.", encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["read", str(docs), "--out", str(out), "--format", "text"])
    assert result.exit_code == 0, result.output
    (row,) = read_table(out)
    assert row["text"] == "FINDINGS: Clear lungs.\nIMPRESSION: Normal." and row["report_id"] == "r1"


def test_read_all_rows_quarantined_fails(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "findings": ""}\n{"id": "2", "findings": "  "}\n', encoding="utf-8")
    result = runner.invoke(app, ["read", str(path), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    assert "all 2 rows were quarantined; first: empty_text" in result.output
    assert not (tmp_path / "o.jsonl").exists()  # no silent empty output
    assert len(read_quarantine(tmp_path / "o.jsonl.quarantine.jsonl")) == 2


def test_reader_options_match_read_reports_keywords() -> None:
    import inspect

    from radprm.commands._reader_options import reader_kwargs
    from radprm.commands.read import read
    from radprm.readers import read_reports

    keywords = set(inspect.signature(read_reports).parameters) - {"path", "quarantine", "batch_size"}
    assert set(reader_kwargs()) == keywords
    assert keywords | {"quarantine"} <= set(inspect.signature(read).parameters)


def test_read_help_lists_reader_options() -> None:
    result = runner.invoke(app, ["read", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for flag in ("--format", "--id-col", "--text-col", "--findings-col", "--impression-col", "--projections",
                 "--limit", "--quarantine", "--strict", "--out"):
        assert flag in result.output


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_read_writes_patient_id_and_reads_it_back(fixtures: Path, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"reports.{ext}"
    result = runner.invoke(app, ["read", str(fixtures / "mimic_tiny"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(read_table(out, schema=REPORT_SCHEMA))
    assert {r["report_id"]: r["patient_id"] for r in rows} == {"50000001": "10000032", "50000002": "11000011"}
    # a table radprm wrote is a report input too: the patient id survives a second read
    again = tmp_path / f"again.{ext}"
    assert runner.invoke(app, ["read", str(out), "--out", str(again)]).exit_code == 0
    assert [r["patient_id"] for r in read_table(again, schema=REPORT_SCHEMA)] == [r["patient_id"] for r in rows]


def test_read_table_without_patient_id_column_still_reads(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"  # written before Report had patient_id
    old.write_text("report_id,findings,impression,indication,comparison,text,image_paths,source_path,source_row\n"
                   'r1,No effusion.,Normal.,,,"FINDINGS: No effusion.",[],a.csv,1\n', encoding="utf-8")
    out = tmp_path / "new.parquet"
    result = runner.invoke(app, ["read", str(old), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (report,) = [Report(**row) for row in read_table(out)]
    assert report.report_id == "r1" and report.patient_id is None
    assert [Report(**row).patient_id for row in read_table(old, schema=REPORT_SCHEMA)] == [None]
