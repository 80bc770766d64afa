"""`radprm qa DIR --compare OTHER_DIR` and `--no-charts` through the CLI, checked through qa.json."""

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.shards import ShardWriter
from radprm.shards.testing import make_items

runner = CliRunner()


@pytest.fixture
def two_runs(tmp_path):
    paths = []
    for name, n in (("a", 30), ("b", 20)):
        with ShardWriter(tmp_path / name, card=False) as w:
            w.write_many(make_items(n))
        paths.append(tmp_path / name)
    return paths


def test_qa_compare_adds_section_and_json(two_runs):
    a, b = two_runs
    result = runner.invoke(app, ["qa", str(a), "--compare", str(b), "--no-expectations", "-q"])
    assert result.exit_code == 0, result.output
    assert f"compared with {b}" in result.output
    data = json.loads((a / "qa" / "qa.json").read_text())
    items = next(r for r in data["compare"]["sections"]["counts"] if r["metric"] == "items")
    assert (items["this"], items["other"], items["delta"], items["changed"]) == (30, 20, 10, True)
    assert {c["chart"] for c in data["charts"]} >= {"step_labels", "steps_per_chain", "flag_reasons"}


def test_qa_compare_bad_dir_is_one_error_line(two_runs, tmp_path):
    a, _ = two_runs
    result = runner.invoke(app, ["qa", str(a), "--compare", str(tmp_path), "-q"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path}, field 'compare': no manifest.json: not a radprm shard directory "
        "(pass another run's shard directory, e.g. runs/x/shards)"
    ]


def test_qa_compare_other_schema_version_is_one_error_line(two_runs):
    a, b = two_runs
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["schema_version"] = "3"
    (b / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["qa", str(a), "--compare", str(b), "-q"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "field 'compare': shard schema version 3 is not one this radprm reads (1, 2)" in result.output


def test_qa_no_charts(two_runs):
    a, _ = two_runs
    result = runner.invoke(app, ["qa", str(a), "--no-charts", "--no-expectations", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((a / "qa" / "qa.json").read_text())["charts"] == []
