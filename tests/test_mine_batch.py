"""The offline batch path (`radprm batch prepare | ingest | run`): requests JSONL keyed by the cache key,
three rounds for plan -> analysis -> refine, items equal to the online path's for the same cache
contents, error lines asked again, bad results named by row. The real `vllm run-batch` is in
test_mine_batch_vllm.py; here the runner is tests/fakes/run_batch.py (same answers as the fake server)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer
from ray_support import labels_by_item, write_reports

from radprm.errors import InputError
from radprm.miners import batch
from radprm.miners.cache import RequestCache
from radprm.miners.job import mine
from radprm.shards.reader import read_items

FAKE_RUNNER = f"{sys.executable} {Path(__file__).resolve().parent / 'fakes' / 'run_batch.py'}"
RADPRM = Path(sys.executable).parent / "radprm"
OPTIONS = dict(model="smollm2", tasks=["single", "binary"], questions_per_report=2, max_tokens=200, seed=11)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return write_reports(tmp_path_factory.mktemp("reports") / "reports.csv", n=12)


def run_fake(requests: Path, results: Path, *extra: str) -> None:
    subprocess.run([*FAKE_RUNNER.split(), "-i", str(requests), "-o", str(results), "--model", "smollm2", *extra],
                   check=True)


def test_three_rounds_then_items_equal_the_online_path(tmp_path, parts, reports):
    extractor, validator = parts
    run_dir = tmp_path / "batch"
    kw = dict(run_dir=run_dir, extractor=extractor, validator=validator, **OPTIONS)
    first = batch.prepare(reports, **kw)
    assert first.requests > 0 and first.summary.items_written == 0 and first.summary.items_pending > 0
    lines = [json.loads(x) for x in first.requests_path.read_text().splitlines()]
    assert {x["body"]["response_format"]["json_schema"]["name"] for x in lines} == {"plan"}
    assert all(x["custom_id"].startswith("k1:") and x["url"] == "/v1/chat/completions" for x in lines)
    assert len({x["custom_id"] for x in lines}) == len(lines)

    rnd, names = first, []
    for _ in range(3):  # plan -> analysis -> refine
        results = rnd.requests_path.with_name(rnd.requests_path.name.replace("requests", "results"))
        names.append({json.loads(x)["body"]["response_format"]["json_schema"]["name"]
                      for x in rnd.requests_path.read_text().splitlines()})
        run_fake(rnd.requests_path, results)
        rnd = batch.ingest(reports, results=results, **kw)
        assert rnd.ingested > 0
    assert names == [{"plan"}, {"analysis"}, {"refine"}]
    assert rnd.done and rnd.summary.items_pending == 0 and rnd.summary.items_written > 0
    # every custom_id answered is now a cache entry (custom_id == request cache key)
    with RequestCache(run_dir / "cache.sqlite") as cache:
        assert all(json.loads(x)["custom_id"] in cache for x in first.requests_path.read_text().splitlines())

    with FakeOpenAIServer() as server:  # the online path: same answers, so the same items
        online = mine(reports, run_dir=tmp_path / "online", base_url=server.base_url, extractor=extractor,
                      validator=validator, **OPTIONS)
        # and the online path over the batch's cache sends nothing and builds the same items again
        shutil.copy(run_dir / "cache.sqlite", tmp_path / "shared-cache.sqlite")
        n = server.chat_count
        cached = mine(reports, run_dir=tmp_path / "cached", base_url=server.base_url, extractor=extractor,
                      validator=validator, cache=tmp_path / "shared-cache.sqlite", **OPTIONS)
        assert server.chat_count == n
    assert online.items_written == rnd.summary.items_written == cached.items_written
    by_batch = labels_by_item(run_dir / "shards")
    assert by_batch == labels_by_item(tmp_path / "online" / "shards") == labels_by_item(tmp_path / "cached" / "shards")
    steps = {i.item_id: [s.text for s in i.steps] for i in read_items(run_dir / "shards")}
    assert steps == {i.item_id: [s.text for s in i.steps] for i in read_items(tmp_path / "cached" / "shards")}
    assert {i.server_host for i in read_items(run_dir / "shards")} == {"offline-batch"}


def test_error_lines_are_asked_again_next_round(tmp_path, parts, reports):
    extractor, validator = parts
    kw = dict(run_dir=tmp_path / "run", extractor=extractor, validator=validator, **OPTIONS)
    first = batch.prepare(reports, **kw)
    results = tmp_path / "r1.jsonl"
    run_fake(first.requests_path, results, "--fail-every", "3")
    rnd = batch.ingest(reports, results=results, **kw)
    failed = [json.loads(x)["custom_id"] for i, x in enumerate(first.requests_path.read_text().splitlines(), 1)
              if i % 3 == 0]
    assert rnd.result_errors == len(failed) > 0
    again = {json.loads(x)["custom_id"] for x in rnd.requests_path.read_text().splitlines()}
    assert set(failed) <= again  # re-asked, next to the analysis calls of the answered plans
    assert rnd.summary.quarantined == {"read/empty_text": 1}


def test_batch_run_loops_until_done(tmp_path, reports):
    proc = subprocess.run(
        [str(RADPRM), "batch", "run", str(reports), "--run-dir", str(tmp_path / "run"), "--runner", FAKE_RUNNER,
         "--model", "smollm2", "--tasks", "single,binary", "--max-tokens", "200", "--seed", "11"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "done after 4 round(s)" in proc.stdout  # prepare + 3 rounds of run-batch -> ingest
    assert len(list((tmp_path / "run" / "batch").glob("round-*.results.jsonl"))) == 3
    assert len(list(read_items(tmp_path / "run" / "shards"))) > 0


def test_bad_results_file_names_the_row(tmp_path, parts, reports):
    extractor, validator = parts
    bad = tmp_path / "results.jsonl"
    bad.write_text('{"custom_id": "k1:x", "response": {}}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"results.jsonl row 2: malformed JSON"):
        batch.ingest(reports, run_dir=tmp_path / "run", results=bad, extractor=extractor, validator=validator,
                     **OPTIONS)
    with pytest.raises(InputError, match="cannot read the batch results"):
        batch.ingest(reports, run_dir=tmp_path / "run", results=tmp_path / "missing.jsonl", **OPTIONS)


def test_failing_runner_is_one_error(tmp_path, reports):
    proc = subprocess.run(
        [str(RADPRM), "batch", "run", str(reports), "--run-dir", str(tmp_path / "run"), "--runner", "false",
         "--model", "smollm2", "--tasks", "single"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: the batch runner failed (exit 1)")
