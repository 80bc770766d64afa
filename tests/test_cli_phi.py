"""`radprm phi scan`, `radprm mine --phi/--store-report-text/--credentialed`, `radprm rehydrate` from the CLI."""

from __future__ import annotations

import json

from phi_planted import write_planted_csv
from typer.testing import CliRunner

from radprm.cli import app
from radprm.readers import read_reports
from radprm.shards.reader import read_items

runner = CliRunner()
CLEAN = ("FINDINGS: There is a left lower lobe opacity consistent with pneumonia. The heart size is normal. "
         "IMPRESSION: Left lower lobe pneumonia.")


def test_phi_scan_counts_hits_per_entity_and_keeps_text_out(tmp_path):
    reports = tmp_path / "reports.csv"
    planted = write_planted_csv(reports, n=6)
    out = tmp_path / "hits.jsonl"
    result = runner.invoke(app, ["phi", "scan", str(reports), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["reports"] == 6 and summary["reports_with_hits"] == 6
    expected: dict[str, int] = {}
    for _rid, _text, values in planted:
        for entity, _ in values:
            expected[entity] = expected.get(entity, 0) + 1
    assert summary["hits"] == expected
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["report_id"] for r in rows] == [rid for rid, _, _ in planted]
    assert all(v not in out.read_text() for _, _, vals in planted for _, v in vals)  # offsets, not text


def test_phi_scan_show_text_writes_matches(tmp_path):
    reports = tmp_path / "reports.csv"
    planted = write_planted_csv(reports, n=1)
    out = tmp_path / "hits.jsonl"
    result = runner.invoke(app, ["phi", "scan", str(reports), "--out", str(out), "--show-text"])
    assert result.exit_code == 0 and "with hits" in result.output
    texts = {h["text"] for h in json.loads(out.read_text())["hits"]}
    assert texts == {v for _, v in planted[0][2]}


def test_mine_unknown_phi_mode_is_one_line_error(tmp_path):
    reports = tmp_path / "r.csv"
    reports.write_text(f'report_id,text\nr1,"{CLEAN}"\n')
    result = runner.invoke(app, ["mine", str(reports), "--run-dir", str(tmp_path / "run"), "--phi", "redact",
                                 "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "unknown PHI mode 'redact'" in result.output
    assert not (tmp_path / "run").exists()


def test_mine_credentialed_refuses_remote_server(tmp_path):
    reports = tmp_path / "r.csv"
    reports.write_text(f'report_id,text\nr1,"{CLEAN}"\n')
    result = runner.invoke(app, ["mine", str(reports), "--run-dir", str(tmp_path / "run"), "--credentialed",
                                 "--base-url", "https://llm.example.com/v1", "--model", "m"])
    assert result.exit_code == 1 and "credentialed source: refusing" in result.output
    assert not (tmp_path / "run").exists()


def test_mine_store_report_text_no_then_rehydrate(fake_openai_server, tmp_path):
    reports = tmp_path / "r.csv"
    reports.write_text(f'report_id,text\nr1,"{CLEAN}"\n')
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["mine", str(reports), "--run-dir", str(run_dir), "--store-report-text", "no",
                                 "--base-url", fake_openai_server.base_url, "--model", "smollm2",
                                 "--questions-per-report", "1", "--tasks", "single", "--licence", "my-site-dua"])
    assert result.exit_code == 0, result.output
    items = list(read_items(run_dir / "shards"))
    assert items and all(i.report_text == "" for i in items)
    assert "**my-site-dua**" in (run_dir / "shards" / "README.md").read_text()
    out = tmp_path / "full"
    result = runner.invoke(app, ["rehydrate", str(run_dir / "shards"), "--reports", str(reports), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"rehydrated {len(items)} of {len(items)} items" in result.output
    (report,) = list(read_reports(reports))
    assert {i.report_text for i in read_items(out)} == {report.text}
