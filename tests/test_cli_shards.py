import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.qa.checks import load_checks
from radprm.shards import ShardWriter, query
from radprm.shards.testing import make_items

runner = CliRunner()


@pytest.fixture
def shards(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, max_rows=10, run_meta={"privacy": {"licence": "CC-BY-NC-ND-4.0", "phi": "off"}}) as w:
        w.write_many(make_items(24))
    return out


def test_verify_ok_exits_0(shards):
    result = runner.invoke(app, ["verify", str(shards)])
    assert result.exit_code == 0 and "OK (3 shards, 24 rows checked)" in result.output


def test_verify_lists_each_problem_and_exits_1(shards):
    (shards / "data" / "shard-00001.parquet").unlink()
    (shards / "data" / "stray.parquet").write_bytes(b"x")
    result = runner.invoke(app, ["verify", str(shards)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any("shard-00001.parquet: missing" in line for line in lines)
    assert any("stray.parquet: extra" in line for line in lines)
    assert "Traceback" not in result.output


def test_verify_not_a_shard_directory_exits_1(tmp_path):
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 1 and "no manifest.json" in result.output


def test_sql_table_csv_json(shards):
    sql = "SELECT task, count(*) AS n FROM items GROUP BY task ORDER BY task"
    expected = query(shards, sql)[1]
    csv_out = runner.invoke(app, ["sql", str(shards), sql, "--format", "csv"])
    assert csv_out.exit_code == 0
    assert csv_out.output.splitlines() == ["task,n"] + [f"{t},{n}" for t, n in expected]
    json_out = runner.invoke(app, ["sql", str(shards), sql, "--format", "json"])
    assert [json.loads(x) for x in json_out.output.splitlines()] == [{"task": t, "n": n} for t, n in expected]
    table = runner.invoke(app, ["sql", str(shards), "SELECT count(*) AS steps FROM steps"])
    assert table.exit_code == 0 and str(sum(len(i.steps) for i in make_items(24))) in table.output


def test_sql_error_is_one_line(shards):
    result = runner.invoke(app, ["sql", str(shards), "SELECT nope FROM items"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: field 'sql': SQL failed") and "Traceback" not in result.output


def test_sql_unknown_format(shards):
    result = runner.invoke(app, ["sql", str(shards), "SELECT 1", "--format", "xml"])
    assert result.exit_code == 1 and "unknown format 'xml'" in result.output


def test_qa_writes_report_json_docs_and_card(shards):
    result = runner.invoke(app, ["qa", str(shards), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Great Expectations" in result.output
    qa_json = json.loads((shards / "qa" / "qa.json").read_text())
    assert {c["check"] for c in qa_json["checks"]} == {c.name for c in load_checks()}
    assert qa_json["expectations"]["success"] is True
    report = (shards / "qa" / "report.md").read_text()
    assert "## label_balance" in report and "## near_duplicates" in report
    assert (shards / "qa" / "report.html").read_text().startswith("<!doctype html>")
    assert (shards / "qa" / "gx_docs" / "index.html").is_file()
    assert "CC BY-NC-ND 4.0" in (shards / "README.md").read_text()


def test_qa_prints_tables(shards):
    result = runner.invoke(app, ["qa", str(shards), "--no-expectations"])
    assert result.exit_code == 0 and "short_chains: warn" in result.output and "label_balance" in result.output
    assert "answer_leakage" in result.output  # in the overview even without rows


def test_qa_strict_exits_1_on_warnings(shards):
    result = runner.invoke(app, ["qa", str(shards), "--no-expectations", "--strict", "-q"])
    assert result.exit_code == 1 and "short_chains" in result.output  # make_items has 1-step chains


def test_qa_out_html_only(shards, tmp_path):
    out = tmp_path / "rep" / "qa.html"
    result = runner.invoke(app, ["qa", str(shards), "--out", str(out), "--no-expectations", "-q"])
    assert result.exit_code == 0 and out.read_text().startswith("<!doctype html>")
    assert not (shards / "qa" / "report.md").exists()


def test_qa_bad_out_suffix(shards, tmp_path):
    result = runner.invoke(app, ["qa", str(shards), "--out", str(tmp_path / "r.txt")])
    assert result.exit_code == 1 and "field 'out'" in result.output


def test_qa_with_reports_list(shards, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("CXR0\nCXR999\n")
    result = runner.invoke(app, ["qa", str(shards), "--reports", str(ids), "--no-expectations", "-q"])
    qa_json = json.loads((shards / "qa" / "qa.json").read_text())
    (check,) = [c for c in qa_json["checks"] if c["check"] == "reports_without_items"]
    assert result.exit_code == 0 and [r[0] for r in check["rows"]] == ["CXR999"]


def test_export_commands(shards, tmp_path):
    for fmt, name in (("trl", "t.jsonl"), ("trl", "t.parquet"), ("prm800k", "p.jsonl"), ("chestx-reasoner", "c.jsonl")):
        result = runner.invoke(app, ["export", fmt, str(shards), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "wrote 24 rows" in result.output and (tmp_path / name).exists()


def test_export_trl_max_length_warns(shards, tmp_path):
    result = runner.invoke(
        app,
        [
            "export",
            "trl",
            str(shards),
            "--out",
            str(tmp_path / "t.jsonl"),
            "--max-length",
            "50",
            "--after-first-bad",
            "drop",
        ],
    )
    assert result.exit_code == 0 and "WARNING: max_length 50: truncation would drop" in result.output


def test_export_bad_convention_is_one_line(shards, tmp_path):
    result = runner.invoke(
        app, ["export", "prm800k", str(shards), "--out", str(tmp_path / "p.jsonl"), "--after-first-bad", "x"]
    )
    assert result.exit_code == 1 and result.output.startswith("Error: field 'after_first_bad'")


def test_export_missing_directory_is_one_line(tmp_path):
    result = runner.invoke(app, ["export", "trl", str(tmp_path / "nope"), "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 1 and "no manifest.json" in result.output and "Traceback" not in result.output


def test_export_of_empty_directory_fails(tmp_path):
    out = tmp_path / "s"
    ShardWriter(out).close()
    result = runner.invoke(app, ["export", "trl", str(out), "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 1 and "Error: no rows exported" in result.output


def test_qa_of_empty_directory_exits_1(tmp_path):
    out = tmp_path / "s"
    ShardWriter(out).close()
    result = runner.invoke(app, ["qa", str(out), "-q"])
    assert result.exit_code == 1 and "expect_table_row_count_to_be_between" in result.output
