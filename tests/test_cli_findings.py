"""`radprm findings` through Typer's CliRunner, checked through the output tables."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.quarantine import read_quarantine
from radprm.tables import read_table
from radprm.validators.findings import LABELSETS, FindingsExtractor

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["findings", *args])


def test_findings_writes_one_row_per_report_with_exact_columns(fixtures, tmp_path):
    out = tmp_path / "labels.csv"
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(out))
    assert result.exit_code == 0, result.output
    header = next(csv.reader(out.open()))
    assert header == ["report_id", *LABELSETS["chestxray14"]]
    rows = {r["report_id"]: r for r in read_table(out)}
    assert list(rows) == ["r1", "r2", "r3", "r5"]  # r4 has no text: quarantined, not dropped silently
    assert rows["r2"]["Cardiomegaly"] == "1" and rows["r2"]["Effusion"] == "1" and rows["r2"]["Atelectasis"] == "1"
    assert rows["r1"]["Pneumothorax"] == "0" and rows["r1"]["Effusion"] == "0"
    assert rows["r1"]["Mass"] is None  # unmentioned -> empty cell
    assert rows["r5"]["Cardiomegaly"] == "-1"  # "upper limits of normal"
    assert rows["r5"]["Pneumonia"] is None  # "correlate clinically for pneumonia" is hypothetical
    assert rows["r5"]["Hernia"] == "1"
    quarantined = read_quarantine(tmp_path / "labels.csv.quarantine.jsonl")
    assert [(q.record_id, q.reason_code) for q in quarantined] == [("r4", "empty_text")]
    assert "quarantined: 1 (empty_text=1)" in result.output


def test_findings_chexpert_labelset_parquet(fixtures, tmp_path):
    out = tmp_path / "labels.parquet"
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(out), "--labelset", "chexpert")
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names == ["report_id", *LABELSETS["chexpert"]]
    rows = {r["report_id"]: r for r in table.to_pylist()}
    assert rows["r1"]["No Finding"] == 1
    assert rows["r2"]["No Finding"] is None
    assert rows["r2"]["Pleural Effusion"] == 1


def test_findings_details_has_every_finding_attribute(fixtures, tmp_path):
    out, details = tmp_path / "labels.jsonl", tmp_path / "mentions.parquet"
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(out), "--details", str(details))
    assert result.exit_code == 0, result.output
    mentions = pq.read_table(details).to_pylist()
    ex = FindingsExtractor()
    expected_cols = [*ex.extract_text("No effusion.")[0].model_dump(), "rules_version"]
    assert pq.read_table(details).column_names == expected_cols
    assert {m["rules_version"] for m in mentions} == {ex.rules_version}
    eff = [m for m in mentions if m["report_id"] == "r2" and m["observation"] == "pleural_effusion"]
    assert eff and eff[0]["laterality"] == "left" and eff[0]["severity"] == "small"
    assert [json.loads(line)["report_id"] for line in out.read_text().splitlines()] == ["r1", "r2", "r3", "r5"]


def test_findings_summary_prints_per_label_counts(fixtures, tmp_path):
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(tmp_path / "o.csv"), "--summary")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Cardiomegaly"))
    # r2 positive, r5 uncertain, r1 negative (normal heart size), r3 unmentioned
    assert line.split()[1:] == ["1", "1", "1", "1"]
    assert "positive" in result.output and "unmentioned" in result.output


def test_findings_bad_output_extension_is_one_error_line(fixtures, tmp_path):
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(tmp_path / "o.xlsx"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output


def test_findings_unknown_labelset_is_rejected(fixtures, tmp_path):
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(tmp_path / "o.csv"), "--labelset", "nih")
    assert result.exit_code != 0
    assert "nih" in result.output


def test_findings_missing_column_names_file_and_field(fixtures, tmp_path):
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(tmp_path / "o.csv"), "--findings-col", "body")
    assert result.exit_code == 1
    assert "findings_reports.csv" in result.output and "body" in result.output


@pytest.mark.shared
def test_findings_on_iu_reports_uses_uid(iu_reports, tmp_path):
    out = tmp_path / "iu.csv"
    result = _run(str(iu_reports), "--out", str(out), "--limit", "20")
    assert result.exit_code == 0, result.output
    rows = list(read_table(out))
    assert len(rows) == 20
    assert rows[0]["report_id"] == "1"
    assert rows[1]["Cardiomegaly"] == "1"  # uid 2: "Borderline cardiomegaly."


def test_findings_rules_dir_replaces_packaged_rules(fixtures, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "lexicon.json").write_text((fixtures / "lexicon_unknown_key.json").read_text())
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(tmp_path / "o.csv"), "--rules-dir", str(rules))
    assert result.exit_code == 1
    assert "lexicon.json, field 'target_rules.1.patern': unknown key 'patern' (allowed keys: " in result.output
    assert "Traceback" not in result.output


def test_findings_strict_fails_after_writing_when_rows_are_quarantined(fixtures, tmp_path):
    out = tmp_path / "o.csv"
    result = _run(str(fixtures / "findings_reports.csv"), "--out", str(out), "--strict")
    assert result.exit_code == 1
    assert "1 row(s) quarantined and --strict is set" in result.output
    assert len(list(read_table(out))) == 4  # the output is still written
