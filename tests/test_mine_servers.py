"""Several servers behind one job: least-outstanding routing, a server that dies mid-run, an unreachable
extra --base-url, @FILE lists, per-server counters in the summary (local engine; the Ray engine's twin is
in test_mine_ray.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer, drop

from radprm.errors import InputError, ModelError
from radprm.miners.client import LLMClient, SamplingParams
from radprm.miners.job import mine
from radprm.miners.servers import split_urls
from radprm.schemas.llm import LLMResponse
from radprm.shards.reader import read_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"
RADPRM = Path(sys.executable).parent / "radprm"


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}/v1"


def run(urls, run_dir, parts, **kw):
    extractor, validator = parts
    options = dict(tasks=["single", "binary"], questions_per_report=2, max_tokens=200, concurrency=4,
                   max_retries=2, timeout=5.0)
    options.update(kw)
    return mine(FIXTURE, run_dir=run_dir, base_url=urls, model="smollm2", extractor=extractor, validator=validator,
                **options)


def dies_after(server: FakeOpenAIServer, n: int):
    """A rule: after `n` chat requests the server drops every connection and stops listening."""
    state = {"dead": False}

    def rule(body):
        if server.chat_count > n:
            if not state["dead"]:
                state["dead"] = True
                threading.Thread(target=server.close, daemon=True).start()
            return drop()
        return None

    return rule


def test_split_urls_accepts_repeats_commas_and_files(tmp_path):
    f = tmp_path / "servers.txt"
    f.write_text("# GPU nodes\nhttp://a:8000/v1\n\nhttp://b:8000/v1/\n", encoding="utf-8")
    assert split_urls(["http://x/v1", f"@{f}", "http://a:8000/v1,http://c/v1"]) == [
        "http://x/v1", "http://a:8000/v1", "http://b:8000/v1", "http://c/v1"]
    with pytest.raises(InputError, match="servers.txt.*cannot read"):
        split_urls("@" + str(tmp_path / "servers.txt.missing"))
    empty = tmp_path / "empty.txt"
    empty.write_text("# none\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty.txt.*names no URL"):
        split_urls(f"@{empty}")


def test_least_outstanding_sends_less_to_the_slow_server():
    import asyncio

    with FakeOpenAIServer(latency=0.3) as slow_server, FakeOpenAIServer(latency=0.0) as fast_server:
        slow, fast = slow_server.base_url, fast_server.base_url

        async def go():
            client = LLMClient([slow, fast], "smollm2", concurrency=4)
            try:
                await client.check_server()
                msgs = [[{"role": "user", "content": f"q{i}"}] for i in range(24)]
                results = await asyncio.gather(*(client.complete_json(m, LLMResponse, sampling=SamplingParams())
                                                 for m in msgs))
                return results, client.pool.stats()
            finally:
                await client.aclose()

        results, stats = asyncio.run(go())
    assert all(r.ok for r in results)
    assert stats[slow]["requests"] + stats[fast]["requests"] == 24
    # the slow server holds its request 0.3 s; the fast one frees its slot at once and gets the rest
    assert 1 <= stats[slow]["requests"] < stats[fast]["requests"]
    assert stats[fast]["completion_tokens"] > 0


def test_job_finishes_on_the_other_server_when_one_dies(tmp_path, parts):
    with FakeOpenAIServer(latency=0.02) as a, FakeOpenAIServer(latency=0.02) as b:
        a_url, b_url = a.base_url, b.base_url
        b.rule = dies_after(b, 6)
        summary = run([a_url, b_url], tmp_path / "run", parts)
        single = run([a_url], tmp_path / "single", parts)
    assert summary.quarantined_total == single.quarantined_total  # nothing lost to the dead server
    assert summary.items_written == single.items_written > 0
    ids = {i.item_id for i in read_items(tmp_path / "run" / "shards")}
    assert ids == {i.item_id for i in read_items(tmp_path / "single" / "shards")}
    servers = summary.metrics.servers
    assert servers[b_url]["errors"] >= 1 and servers[b_url]["times_down"] >= 1
    assert servers[a_url]["requests"] > servers[b_url]["ok"]
    assert sum(s["ok"] for s in servers.values()) == summary.metrics.ok - summary.metrics.cache_hits
    text = summary.render()
    assert f"server {b_url}" in text and "taken out" in text


def test_unreachable_extra_server_is_reported_and_skipped(tmp_path, parts):
    dead = closed_port_url()
    with FakeOpenAIServer() as a:
        with pytest.warns(RuntimeWarning, match="skipping model server"):
            summary = run([dead, a.base_url], tmp_path / "run", parts, max_retries=0)
    assert summary.items_written > 0
    assert summary.metrics.servers[dead]["skipped_at_start"] is True
    assert summary.metrics.servers[dead]["ok"] == 0
    assert "skipped (start-up check failed)" in summary.render()


def test_every_server_unreachable_is_fatal(tmp_path, parts):
    with pytest.raises(ModelError, match="cannot reach the model server"):
        run([closed_port_url(), closed_port_url()], tmp_path / "run", parts, max_retries=0)


def test_cli_repeated_base_url_and_file(tmp_path):
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b:
        a_url, b_url = a.base_url, b.base_url
        listing = tmp_path / "servers.txt"
        listing.write_text(f"{b.base_url}\n", encoding="utf-8")
        proc = subprocess.run(
            [str(RADPRM), "mine", str(FIXTURE), "--run-dir", str(tmp_path / "run"), "--base-url", a.base_url,
             "--base-url", f"@{listing}", "--model", "smollm2", "--tasks", "single", "--limit", "4",
             "--max-tokens", "200", "--concurrency", "4"],
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert a.chat_count > 0 and b.chat_count > 0
    assert f"server {a_url}" in proc.stdout and f"server {b_url}" in proc.stdout
