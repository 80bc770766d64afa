"""LLMClient failure handling against the fake OpenAI server: each injected failure ends right."""

from __future__ import annotations

import asyncio
import random

import pytest
from fakes.openai_server import (
    FakeOpenAIServer,
    drop,
    empty,
    malformed,
    reply,
    schema_violation,
    sleep,
    status,
    truncated,
)
from pydantic import BaseModel, Field

from radprm.errors import ModelError
from radprm.miners.client import LLMClient, SamplingParams

MESSAGES = [{"role": "user", "content": "Is there a pleural effusion?"}]


class Answer(BaseModel):
    steps: list[str] = Field(min_length=1, max_length=4)
    answer: str


class FakeSleep:
    """Records requested waits instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_client(server: FakeOpenAIServer, **kw) -> tuple[LLMClient, FakeSleep]:
    fake_sleep = FakeSleep()
    kw.setdefault("timeout", 5.0)
    return LLMClient(server.base_url, "smollm2", sleep=fake_sleep, **kw), fake_sleep


def call(client: LLMClient, sampling: SamplingParams | None = None, **kw):
    async def go():
        try:
            return await client.complete_json(MESSAGES, Answer, sampling=sampling or SamplingParams(seed=7), **kw)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_client_5xx_then_success_is_retried(fake_openai_server):
    fake_openai_server.enqueue(status(500), status(503))
    client, slept = make_client(fake_openai_server)
    result = call(client)
    assert result.ok and result.error_code is None
    assert result.attempts == 3
    assert isinstance(result.parsed, Answer)
    assert fake_openai_server.chat_count == 3
    assert client.metrics.retries == {"http_5xx": 2}
    assert len(slept.delays) == 2


def test_client_5xx_stops_at_retry_bound(fake_openai_server):
    fake_openai_server.rule = lambda body: status(502)
    client, slept = make_client(fake_openai_server, max_retries=2)
    result = call(client)
    assert not result.ok
    assert result.error_code == "http_5xx"
    assert "HTTP 502" in result.error_detail
    assert result.attempts == 3
    assert fake_openai_server.chat_count == 3
    assert client.metrics.failures == {"http_5xx": 1}
    assert len(slept.delays) == 2


def test_client_429_honours_retry_after(fake_openai_server):
    fake_openai_server.enqueue(status(429, retry_after=7))
    client, slept = make_client(fake_openai_server, backoff_base=0.5, backoff_max=30)
    result = call(client)
    assert result.ok and result.attempts == 2
    assert client.metrics.retries == {"rate_limited": 1}
    assert 7.0 <= slept.delays[0] <= 7.5


def test_client_retry_after_is_capped_at_backoff_max(fake_openai_server):
    fake_openai_server.enqueue(status(429, retry_after=3600))
    client, slept = make_client(fake_openai_server, backoff_max=10)
    assert call(client).ok
    assert slept.delays == [10]


def test_client_429_exhausted_is_rate_limited(fake_openai_server):
    fake_openai_server.rule = lambda body: status(429, retry_after=0)
    client, _ = make_client(fake_openai_server, max_retries=1)
    result = call(client)
    assert (result.ok, result.error_code, result.attempts) == (False, "rate_limited", 2)


def test_client_timeout_then_success(fake_openai_server):
    # a timeout generous enough that the retry's normal answer makes it on a loaded machine
    fake_openai_server.enqueue(sleep(8))
    client, _ = make_client(fake_openai_server, timeout=1.5)
    result = call(client)
    assert result.ok and result.attempts == 2
    assert client.metrics.retries == {"timeout": 1}


def test_client_timeout_without_retries_is_timeout(fake_openai_server):
    fake_openai_server.enqueue(sleep(3))
    client, _ = make_client(fake_openai_server, timeout=0.3, max_retries=0)
    result = call(client)
    assert (result.ok, result.error_code, result.attempts) == (False, "timeout", 1)
    assert result.raw_text is None


def test_client_dropped_connection_is_connection_error(fake_openai_server):
    fake_openai_server.enqueue(drop(), drop())
    client, _ = make_client(fake_openai_server, max_retries=1)
    result = call(client)
    assert (result.ok, result.error_code, result.attempts) == (False, "connection_error", 2)


def test_client_dropped_connection_then_success(fake_openai_server):
    fake_openai_server.enqueue(drop())
    client, _ = make_client(fake_openai_server)
    result = call(client)
    assert result.ok and client.metrics.retries == {"connection_error": 1}


def test_client_truncated_is_not_retried(fake_openai_server):
    fake_openai_server.enqueue(truncated())
    client, slept = make_client(fake_openai_server)
    result = call(client)
    assert (result.ok, result.error_code, result.attempts) == (False, "truncated", 1)
    assert result.finish_reason == "length"
    assert result.raw_text and result.raw_text.startswith("{")  # kept for the quarantine record
    assert fake_openai_server.chat_count == 1
    assert slept.delays == []
    assert client.metrics.wasted_completion_tokens == result.completion_tokens > 0


def test_client_malformed_json_is_resampled_with_new_seed(fake_openai_server):
    fake_openai_server.enqueue(malformed())
    client, slept = make_client(fake_openai_server)
    result = call(client, SamplingParams(seed=7))
    assert result.ok and result.attempts == 2
    seeds = [body["seed"] for body in fake_openai_server.requests]
    assert seeds[0] == 7 and seeds[1] != 7
    assert result.sampling["seed"] == seeds[1]  # the row records the seed that produced it
    assert slept.delays == []  # the server is fine: no backoff
    assert client.metrics.retries == {"malformed_json": 1}


def test_client_malformed_json_twice_fails_with_raw_text(fake_openai_server):
    fake_openai_server.enqueue(malformed("not json at all"), malformed("not json at all"))
    client, _ = make_client(fake_openai_server)
    result = call(client)
    assert (result.ok, result.error_code, result.attempts) == (False, "malformed_json", 2)
    assert result.raw_text == "not json at all"
    assert result.parsed is None


def test_client_schema_violation_names_the_field(fake_openai_server):
    fake_openai_server.enqueue(schema_violation(), schema_violation())
    client, _ = make_client(fake_openai_server)
    result = call(client)
    assert (result.ok, result.error_code) == (False, "schema_violation")
    assert "steps" in result.error_detail


def test_client_schema_violation_on_bounds(fake_openai_server):
    too_many = {"steps": ["a", "b", "c", "d", "e"], "answer": "yes"}
    fake_openai_server.enqueue(reply(too_many), reply(too_many))
    client, _ = make_client(fake_openai_server)
    result = call(client)
    assert result.error_code == "schema_violation"
    assert "at most 4" in result.error_detail


def test_client_invalid_output_not_resampled_at_temperature_zero(fake_openai_server):
    fake_openai_server.enqueue(malformed())
    client, _ = make_client(fake_openai_server)
    result = call(client, SamplingParams(temperature=0.0, seed=1))
    assert (result.error_code, result.attempts) == ("malformed_json", 1)


def test_client_empty_content_is_malformed(fake_openai_server):
    fake_openai_server.enqueue(empty(), empty())
    client, _ = make_client(fake_openai_server)
    result = call(client)
    assert (result.error_code, result.error_detail) == ("malformed_json", "empty content")


def test_client_http_4xx_is_not_retried(fake_openai_server):
    fake_openai_server.enqueue(status(400, message="bad schema"))
    client, _ = make_client(fake_openai_server)
    result = call(client)
    assert (result.ok, result.error_code, result.attempts) == (False, "http_4xx", 1)
    assert "bad schema" in result.error_detail


def test_client_unknown_model_raises_model_error_listing_served_models(fake_openai_server):
    client = LLMClient(fake_openai_server.base_url, "gpt-9")
    with pytest.raises(ModelError) as info:
        call(client)
    assert "model 'gpt-9' is not served" in str(info.value)
    assert "served models: smollm2" in str(info.value)
    assert fake_openai_server.chat_count == 0
    assert client.metrics.fatal == 1


def test_client_unreachable_server_raises_model_error():
    with FakeOpenAIServer() as server:
        base_url = server.base_url
    slept = FakeSleep()
    client = LLMClient(base_url, "smollm2", max_retries=2, sleep=slept)
    with pytest.raises(ModelError, match="cannot reach the model server .* after 3 attempts") as info:
        call(client)
    assert "make serve" in str(info.value)
    assert len(slept.delays) == 2


def test_client_request_carries_schema_and_sampling(fake_openai_server):
    client, _ = make_client(fake_openai_server)
    call(client, SamplingParams(temperature=0.3, top_p=0.9, max_tokens=200, seed=11), schema_name="chain")
    body = fake_openai_server.requests[0]
    assert body["model"] == "smollm2"
    assert body["messages"] == MESSAGES
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "chain", "strict": True, "schema": Answer.model_json_schema()},
    }
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.3, 0.9, 200, 11)
    assert body.get("stream") in (None, False)


def test_client_no_seed_is_not_sent(fake_openai_server):
    client, _ = make_client(fake_openai_server)
    result = call(client, SamplingParams())
    assert "seed" not in fake_openai_server.requests[0]
    assert result.sampling == {"temperature": 0.7, "top_p": 0.95, "max_tokens": 256, "seed": None}


class RecordingRandom(random.Random):
    def __init__(self) -> None:
        super().__init__(1234)
        self.bounds: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.bounds.append((a, b))
        return super().uniform(a, b)


def test_client_backoff_is_exponential_with_full_jitter(fake_openai_server):
    fake_openai_server.enqueue(*[status(500)] * 5)
    rng = RecordingRandom()
    client, slept = make_client(fake_openai_server, max_retries=5, backoff_base=0.5, backoff_max=3.0, rng=rng)
    assert call(client).ok
    # full jitter: each wait is uniform(0, min(max, base * 2**n)), not the ceiling itself
    assert rng.bounds == [(0, 0.5), (0, 1.0), (0, 2.0), (0, 3.0), (0, 3.0)]
    for (lo, hi), delay in zip(rng.bounds, slept.delays, strict=True):
        assert lo <= delay <= hi
    assert len(set(slept.delays)) == 5
    assert slept.delays != [hi for _, hi in rng.bounds]


def test_client_complete_text_sends_extra_body_and_counts_truncation(fake_openai_server):
    fake_openai_server.responder = lambda body: "Lungs are clear."
    fake_openai_server.enqueue(status(500), reply("cut sho", finish_reason="length"))
    client, _ = make_client(fake_openai_server)

    async def go():
        async with client:
            a = await client.complete_text(
                MESSAGES, sampling=SamplingParams(max_tokens=3), extra_body={"ignore_eos": True}
            )
            b = await client.complete_text(MESSAGES, sampling=SamplingParams())
            return a, b

    truncated_result, ok_result = asyncio.run(go())
    assert (truncated_result.error_code, truncated_result.raw_text, truncated_result.attempts) == (
        "truncated",
        "cut sho",
        2,
    )
    assert fake_openai_server.requests[0]["ignore_eos"] is True
    assert "response_format" not in fake_openai_server.requests[0]
    assert ok_result.ok and ok_result.raw_text == "Lungs are clear." and ok_result.parsed is None
    assert client.metrics.calls == 2 and client.metrics.requests == 3


def test_client_fails_fast_when_server_keeps_failing(fake_openai_server):
    fake_openai_server.rule = lambda body: status(503)
    client, _ = make_client(fake_openai_server, max_retries=1, fail_fast_after=3)

    async def go():
        async with client:
            results = [await client.complete_json(MESSAGES, Answer, sampling=SamplingParams()) for _ in range(2)]
            with pytest.raises(ModelError, match="failed 3 calls in a row .*http_5xx"):
                await client.complete_json(MESSAGES, Answer, sampling=SamplingParams())
            return results

    results = asyncio.run(go())
    assert [r.error_code for r in results] == ["http_5xx", "http_5xx"]
    m = client.metrics
    assert (m.calls, m.fatal, sum(m.failures.values())) == (3, 1, 2)
    assert m.calls == m.ok + sum(m.failures.values()) + m.fatal


def test_client_success_or_bad_answer_resets_fail_fast_count(fake_openai_server):
    fake_openai_server.enqueue(
        status(503), status(503), truncated(), status(503), status(503), reply({"steps": ["a"], "answer": "x"})
    )
    client, _ = make_client(fake_openai_server, max_retries=0, fail_fast_after=3)

    async def go():
        async with client:
            return [await client.complete_json(MESSAGES, Answer, sampling=SamplingParams()) for _ in range(6)]

    codes = [r.error_code for r in asyncio.run(go())]
    assert codes == ["http_5xx", "http_5xx", "truncated", "http_5xx", "http_5xx", None]


def test_client_models_endpoint_not_openai_is_model_error(fake_openai_server):
    client = LLMClient(fake_openai_server.url, "smollm2")  # forgot /v1: /models is a 404
    with pytest.raises(ModelError, match="answered HTTP 404") as info:
        call(client)
    assert "ending in /v1" in str(info.value)
