"""ClientMetrics: counts add up over a mixed job; percentiles, merge, rendering."""

from __future__ import annotations

import asyncio
import json

from fakes.openai_server import malformed, status, truncated
from pydantic import BaseModel

from radprm.miners.cache import RequestCache
from radprm.miners.client import LLMClient, SamplingParams
from radprm.miners.metrics import ClientMetrics, percentile


class Answer(BaseModel):
    answer: str


async def _noop_sleep(_: float) -> None:
    return None


def test_client_metrics_counts_add_up(fake_openai_server, tmp_path):
    server = fake_openai_server
    # call 0: ok; 1: 500 then ok; 2: truncated; 3: malformed twice; 4: 429 x2 (max_retries=1) -> failed
    prompts = [f"q{i}" for i in range(5)]
    plan = {
        "q1": [status(500)],
        "q2": [truncated()],
        "q3": [malformed(), malformed()],
        "q4": [status(429, retry_after=0), status(429, retry_after=0)],
    }

    def rule(body):
        actions = plan.get(body["messages"][0]["content"])
        return actions.pop(0) if actions else None

    server.rule = rule
    cache = RequestCache(tmp_path / "cache.sqlite")
    sampling = SamplingParams(seed=1)

    async def go():
        async with LLMClient(server.base_url, "smollm2", max_retries=1, cache=cache, sleep=_noop_sleep) as client:
            out = []
            for p in prompts + ["q0"]:  # q0 again: a cache hit
                messages = [{"role": "user", "content": p}]
                k = client.key_for(messages, Answer, sampling)
                out.append(await client.complete_json(messages, Answer, sampling=sampling, cache_key=k))
            return out, client.metrics

    results, m = asyncio.run(go())
    assert [r.ok for r in results] == [True, True, False, False, False, True]
    assert m.calls == 6 and m.ok == 3 and m.cache_hits == 1
    assert dict(m.failures) == {"truncated": 1, "malformed_json": 1, "rate_limited": 1}
    assert dict(m.retries) == {"http_5xx": 1, "malformed_json": 1, "rate_limited": 1}
    assert m.calls == m.ok + sum(m.failures.values()) + m.fatal
    assert m.requests == m.calls - m.cache_hits - m.fatal + sum(m.retries.values())
    assert m.requests == server.chat_count == 8
    # tokens: every answer with a body is counted once, including the rejected ones
    usages = [payload["usage"] for code, payload in server.responses if code == 200]
    assert len(usages) == 5
    assert m.prompt_tokens == sum(u["prompt_tokens"] for u in usages) > 0
    assert m.completion_tokens == sum(u["completion_tokens"] for u in usages)
    assert m.wasted_completion_tokens == results[2].completion_tokens + 2 * results[3].completion_tokens > 0
    assert len(m.call_latencies) == 5  # the cache hit is not a timed call
    assert len(m.request_latencies) == 8

    d = m.as_dict()
    json.dumps(d)
    assert d["failed"] == 3 and d["request_latency_s"]["p50"] is not None
    text = m.render()
    assert "calls            6 (ok 3, failed 3, cache hits 1)" in text
    assert "malformed_json 1, rate_limited 1, truncated 1" in text


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 90) == 90.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([], 50) is None


def test_metrics_merge_adds_counters():
    a = ClientMetrics(calls=2, ok=1, requests=3, prompt_tokens=10, request_latencies=[1.0])
    a.failures["timeout"] += 1
    b = ClientMetrics(calls=1, ok=1, requests=1, prompt_tokens=5, request_latencies=[3.0])
    b.retries["http_5xx"] += 2
    a.merge(b)
    assert (a.calls, a.ok, a.requests, a.prompt_tokens) == (3, 2, 4, 15)
    assert dict(a.failures) == {"timeout": 1} and dict(a.retries) == {"http_5xx": 2}
    assert a.latency_percentiles()["p99"] == 3.0


def test_metrics_render_empty_job():
    text = ClientMetrics().render()
    assert "p50 -" in text and "failures         none" in text
