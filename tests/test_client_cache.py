"""LLMClient with a RequestCache: hits send nothing, failures are not stored, prompt edits invalidate."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from fakes.openai_server import malformed, truncated
from pydantic import BaseModel, Field

from radprm.miners.cache import RequestCache
from radprm.miners.client import LLMClient, SamplingParams


class Answer(BaseModel):
    steps: list[str] = Field(min_length=1, max_length=3)
    answer: str


SAMPLING = SamplingParams(seed=5)


async def _noop_sleep(_: float) -> None:
    return None


def run_calls(server, cache: RequestCache, requests: list[tuple[list[dict], dict | None]]):
    """Send each (messages, extra) through a fresh client; returns (results, client metrics)."""

    async def go():
        async with LLMClient(server.base_url, "smollm2", cache=cache, sleep=_noop_sleep) as client:
            results = []
            for messages, extra in requests:
                k = client.key_for(messages, Answer, SAMPLING, extra)
                results.append(await client.complete_json(messages, Answer, sampling=SAMPLING, cache_key=k))
            return results, client.metrics

    return asyncio.run(go())


def msgs(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_client_cache_hit_sends_no_request(fake_openai_server, tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    first, _ = run_calls(fake_openai_server, cache, [(msgs("q1"), None)])
    assert first[0].ok and not first[0].cached
    assert fake_openai_server.chat_count == 1

    again, metrics = run_calls(fake_openai_server, cache, [(msgs("q1"), None)])
    assert fake_openai_server.chat_count == 1  # nothing sent
    hit = again[0]
    assert hit.ok and hit.cached and hit.attempts == 0
    assert hit.parsed == first[0].parsed and hit.raw_text == first[0].raw_text
    assert hit.completion_tokens == first[0].completion_tokens
    assert metrics.cache_hits == 1 and metrics.requests == 0 and metrics.ok == 1


def test_client_cache_does_not_store_failures(fake_openai_server, tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    fake_openai_server.enqueue(truncated())
    failed, _ = run_calls(fake_openai_server, cache, [(msgs("q1"), None)])
    assert failed[0].error_code == "truncated"
    assert len(cache) == 0
    retried, _ = run_calls(fake_openai_server, cache, [(msgs("q1"), None)])
    assert retried[0].ok and not retried[0].cached
    assert fake_openai_server.chat_count == 2


def test_client_cache_stores_resampled_answer_under_the_requested_key(fake_openai_server, tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    fake_openai_server.enqueue(malformed())
    results, _ = run_calls(fake_openai_server, cache, [(msgs("q1"), None)])
    assert results[0].ok and results[0].attempts == 2
    assert results[0].cache_key in cache
    again, _ = run_calls(fake_openai_server, cache, [(msgs("q1"), None)])
    assert again[0].cached and fake_openai_server.chat_count == 2


def render(prompt_file: Path, question: str) -> tuple[list[dict], dict]:
    """A miniature prompt registry: messages from a template file plus its id and sha as key parts."""
    template = prompt_file.read_text()
    sha = hashlib.sha256(prompt_file.read_bytes()).hexdigest()
    messages = [{"role": "system", "content": template}, {"role": "user", "content": question}]
    return messages, {"prompt": prompt_file.stem, "prompt_sha": sha}


def test_client_cache_prompt_edit_invalidates_only_its_requests(fake_openai_server, tmp_path):
    plan, refine = tmp_path / "plan.txt", tmp_path / "refine.txt"
    plan.write_text("Plan the steps.")
    refine.write_text("Refine the steps.")
    questions = ["effusion?", "pneumothorax?", "cardiomegaly?"]
    cache = RequestCache(tmp_path / "cache.sqlite")

    def requests():
        return [render(p, q) for p in (plan, refine) for q in questions]

    run_calls(fake_openai_server, cache, requests())
    assert fake_openai_server.chat_count == 6

    plan.write_text("Plan the steps, one finding per step.")
    fake_openai_server.reset()
    results, metrics = run_calls(fake_openai_server, cache, requests())
    assert fake_openai_server.chat_count == 3
    assert {b["messages"][0]["content"] for b in fake_openai_server.requests} == {plan.read_text()}
    assert [r.cached for r in results] == [False] * 3 + [True] * 3
    assert metrics.cache_hits == 3 and len(cache) == 9
