"""`radprm mine --engine ray` on a local Ray (2 CPUs, small object store) against the fake server:
identical items and step labels to the local engine, quarantine the same, several servers with one dying,
and the one-line errors (Ray missing, unreachable --ray-address). The kill -9 + --resume test is in
test_mine_ray_resume.py (it starts its own Ray in a subprocess)."""

from __future__ import annotations

import socket
import sys
import threading
from collections import Counter

import pytest
from fakes.openai_server import FakeOpenAIServer, drop
from ray_support import labels_by_item, write_reports

from radprm.errors import InputError
from radprm.miners.job import mine
from radprm.quarantine import read_quarantine

ray = pytest.importorskip("ray", reason="the Ray engine tests need `pip install 'radprm[ray]'` (make setup does)")

OPTIONS = dict(model="smollm2", tasks=["single", "binary"], questions_per_report=2, max_tokens=200, concurrency=4,
               max_retries=2, timeout=10.0, seed=5)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=128 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return write_reports(tmp_path_factory.mktemp("reports") / "reports.csv", n=50)


def quarantine_view(run_dir):
    return Counter((q.record_id, q.stage, q.reason_code) for q in read_quarantine(run_dir / "quarantine"
                                                                                  / "quarantine.jsonl"))


def mine_local_and_ray(tmp_path, parts, reports, rule=None):
    """The same job on both engines against one fake server (answering by `rule`), in tmp_path/local and /ray."""
    extractor, validator = parts
    with FakeOpenAIServer() as server:
        server.rule = rule
        local = mine(reports, run_dir=tmp_path / "local", base_url=server.base_url, engine="local",
                     extractor=extractor, validator=validator, **OPTIONS)
        on_ray = mine(reports, run_dir=tmp_path / "ray", base_url=server.base_url, engine="ray", **OPTIONS)
    return local, on_ray


def test_engine_ray_with_unreachable_address_is_one_line(tmp_path, reports):
    if ray.is_initialized():
        pytest.skip("a Ray is already initialised in this process")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with FakeOpenAIServer() as server, pytest.raises(InputError) as err:
        mine(reports, run_dir=tmp_path / "run", base_url=server.base_url, engine="ray",
             ray_address=f"127.0.0.1:{port}", **OPTIONS)
    msg = str(err.value)
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in msg and "ray start --head" in msg
    assert "\n" not in msg


@pytest.mark.slow
def test_ray_and_local_engines_write_the_same_items_and_labels(tmp_path, local_ray, parts, reports):
    local, on_ray = mine_local_and_ray(tmp_path, parts, reports)
    a, b = labels_by_item(tmp_path / "local" / "shards"), labels_by_item(tmp_path / "ray" / "shards")
    assert len(a) == local.items_written >= 50
    assert a.keys() == b.keys()
    assert a == b  # identical step labels, item by item
    assert on_ray.items_written == local.items_written and on_ray.items_planned == local.items_planned
    assert quarantine_view(tmp_path / "ray") == quarantine_view(tmp_path / "local")
    assert on_ray.quarantined == local.quarantined and on_ray.quarantined_total >= 1  # the empty report
    # the same calls, each answered once from the server or the cache. Which of the two depends on timing:
    # the fake answers repeat, and two identical requests in flight at once both miss the cache, on
    # either engine (a fresh clone once saw 99 vs 100 requests), so only the sum is the engines' invariant
    for name in ("calls", "ok"):
        assert getattr(on_ray.metrics, name) == getattr(local.metrics, name), name
    for run in (local, on_ray):
        assert run.metrics.requests + run.metrics.cache_hits == run.metrics.calls
    assert on_ray.metrics.cache_hits >= 1 and local.metrics.cache_hits >= 1
    manifest_a = (tmp_path / "local" / "shards" / "manifest.json").read_text()
    manifest_b = (tmp_path / "ray" / "shards" / "manifest.json").read_text()
    assert '"schema_version"' in manifest_a and '"schema_version"' in manifest_b


@pytest.mark.slow
def test_ray_engine_quarantines_failed_chains_like_local(tmp_path, local_ray, parts, reports):

    def rule(body):  # every refine call about report r003's text fails for good (HTTP 400)
        from fakes.openai_server import status

        if body["response_format"]["json_schema"]["name"] == "refine" and "thoracic spine" in str(body["messages"]):
            return status(400)
        return None

    local, on_ray = mine_local_and_ray(tmp_path, parts, reports, rule)
    assert local.quarantined.get("mine/http_4xx", 0) > 0
    assert on_ray.quarantined == local.quarantined
    assert quarantine_view(tmp_path / "ray") == quarantine_view(tmp_path / "local")
    assert labels_by_item(tmp_path / "ray" / "shards") == labels_by_item(tmp_path / "local" / "shards")


@pytest.mark.slow
def test_ray_engine_finishes_on_the_other_server_when_one_dies(tmp_path, local_ray, reports):
    with FakeOpenAIServer(latency=0.02) as a, FakeOpenAIServer(latency=0.02) as b:
        a_url, b_url = a.base_url, b.base_url
        dead = {"yes": False}

        def rule(body):
            if b.chat_count > 10:
                if not dead["yes"]:
                    dead["yes"] = True
                    threading.Thread(target=b.close, daemon=True).start()
                return drop()
            return None

        b.rule = rule
        summary = mine(reports, run_dir=tmp_path / "run", base_url=[a_url, b_url], engine="ray", **OPTIONS)
    assert summary.items_pending == 0
    assert summary.quarantined == {"read/empty_text": 1}
    servers = summary.metrics.servers
    assert servers[b_url]["errors"] >= 1 and servers[b_url]["times_down"] >= 1
    assert servers[a_url]["ok"] > servers[b_url]["ok"] > 0


def test_engine_ray_without_ray_installed_names_the_fix(tmp_path, monkeypatch, reports):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with FakeOpenAIServer() as server, pytest.raises(InputError) as err:
        mine(reports, run_dir=tmp_path / "run", base_url=server.base_url, engine="ray", **OPTIONS)
    assert "pip install 'radprm[ray]'" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "run" / "job.json").exists()


def test_judge_is_refused_on_the_ray_engine(tmp_path, local_ray, reports):
    with FakeOpenAIServer() as server, pytest.raises(InputError, match="--judge is not supported"):
        mine(reports, run_dir=tmp_path / "run", base_url=server.base_url, engine="ray", judge="all", **OPTIONS)


@pytest.mark.slow
def test_ray_engine_reasks_and_quarantines_chains_citing_the_report_like_local(tmp_path, local_ray, parts, reports):
    import json

    from fakes.openai_server import default_content, reply

    citing = ["The report states the spine shows degenerative changes.", "Edema is not mentioned."]

    def rule(body):  # refine about the spine reports cites the report, even when re-asked; about edema, until then
        text = body["messages"][-1]["content"]
        if body["response_format"]["json_schema"]["name"] != "refine":
            return None
        reasked = "Your last answer cited" in text
        if "thoracic spine" in text or ("Mild pulmonary edema" in text and not reasked):
            return reply({**json.loads(default_content(body)), "steps": citing})
        return None

    local, on_ray = mine_local_and_ray(tmp_path, parts, reports, rule)
    assert local.cites_report["quarantined"] > 0 and local.cites_report["fixed"] > 0
    assert on_ray.cites_report == local.cites_report
    assert on_ray.quarantined == local.quarantined
    assert quarantine_view(tmp_path / "ray") == quarantine_view(tmp_path / "local")
    assert labels_by_item(tmp_path / "ray" / "shards") == labels_by_item(tmp_path / "local" / "shards")
