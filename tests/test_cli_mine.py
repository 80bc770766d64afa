"""`radprm mine` through the CLI: summary, outputs checked through the API, --strict, errors, resume."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from radprm.cli import app
from radprm.shards.reader import read_items, shard_paths

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"


def invoke(*args: str):
    return CliRunner().invoke(app, ["mine", str(FIXTURE), *args])


def base(server, run_dir: Path) -> list[str]:
    return ["--run-dir", str(run_dir), "--base-url", server.base_url, "--model", "smollm2",
            "--tasks", "binary,single", "--questions-per-report", "1", "--max-tokens", "200", "--max-retries", "0"]


def test_cli_mine_writes_shards_and_prints_summary(fake_openai_server, tmp_path):
    result = invoke(*base(fake_openai_server, tmp_path / "run"), "--limit", "3")
    assert result.exit_code == 0, result.output
    items = list(read_items(tmp_path / "run" / "shards"))
    assert len(items) == 3 and {i.task for i in items} == {"binary"}
    assert "3 written of 3 planned" in result.output
    assert str(tmp_path / "run" / "shards") in result.output
    assert "request latency" in result.output and "p90" in result.output
    (shard,) = shard_paths(tmp_path / "run" / "shards")
    n = duckdb.connect().execute(f"SELECT count(DISTINCT item_id) FROM '{shard}'").fetchall()[0][0]
    assert n == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["items_written"] == 3 and summary["client"]["completion_tokens"] > 0


def test_cli_mine_resume_does_not_duplicate_rows(fake_openai_server, tmp_path):
    assert invoke(*base(fake_openai_server, tmp_path / "run"), "--limit", "2").exit_code == 0
    sent = fake_openai_server.chat_count
    result = invoke(*base(fake_openai_server, tmp_path / "run"), "--limit", "2", "--resume")
    assert result.exit_code == 0, result.output
    assert fake_openai_server.chat_count == sent
    ids = [i.item_id for i in read_items(tmp_path / "run" / "shards")]
    assert len(ids) == len(set(ids)) == 2


def test_cli_mine_strict_exits_1_on_quarantine(fake_openai_server, tmp_path):
    result = invoke(*base(fake_openai_server, tmp_path / "run"), "--strict")  # row 7 has no text
    assert result.exit_code == 1
    assert "read/empty_text 1" in result.output
    assert "quarantined and --strict is set" in result.output
    assert len(list(read_items(tmp_path / "run" / "shards"))) == 6  # the good rows are still written


def test_cli_mine_resume_with_other_options_is_one_error_line(fake_openai_server, tmp_path):
    assert invoke(*base(fake_openai_server, tmp_path / "run"), "--limit", "1").exit_code == 0
    result = invoke(*base(fake_openai_server, tmp_path / "run"), "--limit", "1", "--resume", "--seed", "5")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "--seed differs" in result.output and "was 0, now 5" in result.output
    assert "Traceback" not in result.output


def test_cli_mine_bad_task_is_one_error_line(fake_openai_server, tmp_path):
    result = invoke(*base(fake_openai_server, tmp_path / "run"), "--tasks", "single,nope")
    assert result.exit_code == 1
    assert "Error: field 'tasks': unknown task 'nope'" in result.output
    assert "Traceback" not in result.output


def test_cli_mine_missing_reports_file_is_an_error(fake_openai_server, tmp_path):
    result = CliRunner().invoke(
        app, ["mine", str(tmp_path / "absent.csv"), *base(fake_openai_server, tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert "absent.csv" in result.output and result.output.startswith("Error:")
    assert not (tmp_path / "run").exists()  # failed before creating any job state


def test_cli_mine_dead_server_is_one_error_line(tmp_path):
    result = invoke("--run-dir", str(tmp_path / "run"), "--base-url", "http://127.0.0.1:9/v1", "--model", "smollm2",
                    "--max-retries", "0")
    assert result.exit_code == 1
    assert "Error: cannot reach the model server" in result.output


def test_cli_mine_stop_after_items_then_resume(fake_openai_server, tmp_path):
    result = invoke(*base(fake_openai_server, tmp_path / "run"), "--limit", "3", "--stop-after-items", "1")
    assert result.exit_code == 0, result.output
    assert "items         1 written of" in result.output
    assert len(list(read_items(tmp_path / "run" / "shards"))) == 1
    result = invoke(*base(fake_openai_server, tmp_path / "run"), "--limit", "3", "--resume")
    assert result.exit_code == 0, result.output
    ids = [i.item_id for i in read_items(tmp_path / "run" / "shards")]
    assert len(ids) == len(set(ids)) == 3
