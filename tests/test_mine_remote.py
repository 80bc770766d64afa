"""`radprm mine --shards s3://...`: a job's shards on an object store (moto S3 on localhost), its run folder
local. Mine, kill -9, resume: every item once; verify, the reader and SQL see the items; the one-line
errors of bad combinations. Both engines (the Ray one on a local 2-CPU Ray).

Skips when moto is not installed, except under RADPRM_REQUIRE_S3=1 (CI).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kill_support import kill_9_when, ledger_written
from object_stores import uri_on
from ray_support import write_reports
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError, ShardError
from radprm.miners.config import check_resume
from radprm.miners.job import mine
from radprm.miners.status import job_status
from radprm.schemas.arrow import SCHEMA_VERSION
from radprm.shards import query, read_items, verify

RADPRM = Path(sys.executable).parent / "radprm"
OPTIONS = dict(model="smollm2", tasks=["single", "binary"], questions_per_report=2, max_tokens=200, concurrency=4,
               seed=5, shard_rows=4)
runner = CliRunner()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return write_reports(tmp_path_factory.mktemp("reports") / "reports.csv", n=12)


@pytest.fixture
def s3_uri(moto_endpoint, s3_env, request):
    """A fresh prefix per test."""
    return uri_on(moto_endpoint, f"{request.node.name}/shards")


def item_ids(uri: str) -> list[str]:
    return [i.item_id for i in read_items(uri)]


def test_mine_to_s3_then_resume_writes_nothing_twice(fake_openai_server, parts, reports, s3_uri, tmp_path):
    extractor, validator = parts
    run_dir = tmp_path / "run"
    common = dict(run_dir=run_dir, shards=s3_uri, base_url=fake_openai_server.base_url, extractor=extractor,
                  validator=validator, **OPTIONS)
    summary = mine(reports, **common)
    ids = item_ids(s3_uri)
    assert summary.items_written == len(ids) == len(set(ids)) > 4  # more than one shard
    assert summary.shards_dir == s3_uri and "shards        s3://" in summary.render()
    report = verify(s3_uri)
    assert report.ok and report.rows == len(ids), [str(p) for p in report.problems]
    assert not (run_dir / "shards").exists() and (run_dir / "ledger.sqlite").is_file()
    assert json.loads((run_dir / "job.json").read_text())["identity"]["shards"] == s3_uri
    assert job_status(run_dir).schema_version == SCHEMA_VERSION

    sent = fake_openai_server.chat_count
    again = mine(reports, resume=True, **common)
    assert again.items_this_session == 0 and fake_openai_server.chat_count == sent
    assert sorted(item_ids(s3_uri)) == sorted(ids)

    with pytest.raises(InputError, match="--shards differs from the job being resumed"):
        mine(reports, resume=True, **{**common, "shards": None})


def test_cli_mine_kill_9_then_resume_on_s3_writes_every_item_once(fake_openai_server, reports, s3_uri, tmp_path):
    server = fake_openai_server
    server.latency = 0.2  # slow enough to kill mid-run
    run_dir = tmp_path / "run"
    args = [str(RADPRM), "mine", str(reports), "--run-dir", str(run_dir), "--shards", s3_uri,
            "--base-url", server.base_url, "--model", "smollm2", "--tasks", "single,binary",
            "--questions-per-report", "2", "--seed", "5", "--concurrency", "2", "--shard-rows", "3",
            "--max-tokens", "200", "--commit-every", "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kill_9_when(proc, lambda: ledger_written(run_dir), 2)
    assert proc.returncode == -signal.SIGKILL
    at_kill = item_ids(s3_uri)
    assert len(at_kill) >= 2 and len(at_kill) == len(set(at_kill))

    server.latency = 0.0
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ids = item_ids(s3_uri)
    assert len(ids) == len(set(ids)) > len(at_kill) and set(at_kill) <= set(ids)
    assert f"{len(ids)} written of {len(ids)} planned" in resumed.stdout

    result = runner.invoke(app, ["verify", s3_uri])
    assert result.exit_code == 0 and f"{len(ids)} rows checked" in result.output, result.output
    _, rows = query(s3_uri, "SELECT count(DISTINCT item_id) FROM items")
    assert rows == [(len(ids),)]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--run-dir", "s3://bucket/runs/x"], "field 'run_dir'"),
        (["--run-dir", "RUN", "--cache", "gs://bucket/cache.sqlite"], "field 'cache'"),
        (["--run-dir", "RUN", "--shards", "s3://bucket?region=us-east-1"], "prefix inside the bucket"),
        (["--run-dir", "RUN", "--shards", "nosuchfs://bucket/x"], "nosuchfs://bucket/x"),
        (["--run-dir", "RUN", "--shards", "s3://bucket/x?region=us-east-1&secret_key=abc"], "carries credentials"),
    ],
)
def test_cli_mine_bad_shards_or_run_dir_is_one_line(extra, expected, reports, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = [str(tmp_path / "run") if a == "RUN" else a for a in extra]
    result = runner.invoke(app, ["mine", str(reports), *extra, "--base-url", "http://127.0.0.1:9/v1",
                                 "--model", "smollm2"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert expected in result.output
    assert not (tmp_path / "run").exists() and not any(tmp_path.iterdir())  # nothing created


def test_resume_of_a_job_older_than_shards_refuses_a_remote_set(tmp_path):
    stored = {"model": "smollm2"}
    check_resume(stored, {"model": "smollm2", "shards": None}, tmp_path / "job.json")  # its shards were local
    with pytest.raises(InputError, match="--shards differs"):
        check_resume(stored, {"model": "smollm2", "shards": "s3://b/x/shards"}, tmp_path / "job.json")


def test_unreachable_store_fails_before_any_job_state(fake_openai_server, reports, s3_env, tmp_path):
    from object_stores import free_port

    uri = uri_on(f"127.0.0.1:{free_port()}", "x/shards")
    with pytest.raises(ShardError) as err:
        mine(reports, run_dir=tmp_path / "run", shards=uri, base_url=fake_openai_server.base_url, **OPTIONS)
    text = str(err.value)
    assert text.startswith(uri.split("?")[0] + "/manifest.json: stat failed") and "\n" not in text
    assert not (tmp_path / "run" / "job.json").exists() and fake_openai_server.chat_count == 0


def test_new_job_on_a_shard_set_of_another_job_is_refused(fake_openai_server, parts, reports, s3_uri, tmp_path):
    extractor, validator = parts
    common = dict(shards=s3_uri, base_url=fake_openai_server.base_url, extractor=extractor, validator=validator,
                  stop_after_items=1, **OPTIONS)
    mine(reports, run_dir=tmp_path / "a", **common)
    with pytest.raises(InputError, match="--shards already holds a shard set"):
        mine(reports, run_dir=tmp_path / "b", **common)
    assert not (tmp_path / "b" / "job.json").exists()


@pytest.mark.slow
def test_ray_engine_mines_to_s3_and_resumes_without_duplicates(fake_openai_server, parts, reports, s3_uri, tmp_path):
    ray = pytest.importorskip("ray", reason="the Ray engine tests need `pip install 'radprm[ray]'`")
    extractor, validator = parts
    local = mine(reports, run_dir=tmp_path / "local", base_url=fake_openai_server.base_url, extractor=extractor,
                 validator=validator, **OPTIONS)
    ray.init(num_cpus=2, object_store_memory=128 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    try:
        common = dict(run_dir=tmp_path / "ray", shards=s3_uri, base_url=fake_openai_server.base_url, engine="ray",
                      **OPTIONS)
        summary = mine(reports, **common)
        again = mine(reports, resume=True, **common)
    finally:
        ray.shutdown()
    ids = item_ids(s3_uri)
    assert summary.items_written == local.items_written == len(ids) == len(set(ids))
    assert sorted(ids) == sorted(item_ids(tmp_path / "local" / "shards"))
    assert again.items_this_session == 0 and verify(s3_uri).ok
