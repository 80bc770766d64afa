"""LLMClient keeps at most `concurrency` requests in flight (observed by the server)."""

from __future__ import annotations

import asyncio

import pytest
from fakes.openai_server import FakeOpenAIServer, status
from pydantic import BaseModel

from radprm.errors import InputError
from radprm.miners.client import LLMClient, RequestSlots, SamplingParams


class Answer(BaseModel):
    answer: str


def gather_calls(server: FakeOpenAIServer, n: int, **kw):
    async def go():
        async with LLMClient(server.base_url, "smollm2", **kw) as client:
            coros = [
                client.complete_json([{"role": "user", "content": f"q{i}"}], Answer, sampling=SamplingParams(seed=i))
                for i in range(n)
            ]
            return await asyncio.gather(*coros), client.metrics

    return asyncio.run(go())


@pytest.mark.parametrize("concurrency", [1, 3])
def test_client_concurrency_bound_is_respected(concurrency):
    # 0.3 s per request: long enough that the client has the next requests in flight on a loaded machine
    with FakeOpenAIServer(latency=0.3) as server:
        results, metrics = gather_calls(server, 6, concurrency=concurrency)
        assert all(r.ok for r in results)
        assert server.chat_count == 6
        # the bound is reached (the calls were really concurrent) but never exceeded
        assert server.max_in_flight == concurrency
        assert metrics.requests == 6


def test_client_backoff_wait_releases_the_slot():
    """A call sleeping before its retry must not block the other calls."""
    gate = asyncio.Event

    with FakeOpenAIServer() as server:
        server.enqueue(status(503))
        order: list[str] = []

        async def go():
            released = gate()

            async def slow_sleep(_: float) -> None:
                order.append("backoff")
                await released.wait()

            async with LLMClient(server.base_url, "smollm2", concurrency=1, sleep=slow_sleep) as client:
                first = asyncio.create_task(
                    client.complete_json([{"role": "user", "content": "a"}], Answer, sampling=SamplingParams())
                )
                while not order:
                    await asyncio.sleep(0.01)
                # with one slot, this call can only finish if the waiting retry gave its slot back
                second = await client.complete_json(
                    [{"role": "user", "content": "b"}], Answer, sampling=SamplingParams()
                )
                order.append("second done")
                released.set()
                return await first, second

        first, second = asyncio.run(go())
        assert first.ok and first.attempts == 2 and second.ok
        assert order == ["backoff", "second done"]


def test_client_concurrency_must_be_positive():
    with pytest.raises(InputError, match="concurrency 0"):
        LLMClient("http://127.0.0.1:1/v1", "m", concurrency=0)


def test_request_slots_go_to_the_highest_priority_then_the_longest_waiting():
    """A freed slot goes to the chain with the most calls left (ties: first come), and a cancelled waiter
    neither takes a slot nor loses one."""

    async def go():
        slots = RequestSlots(1)
        await slots.acquire()
        order: list[str] = []

        async def wait(name: str, priority: int) -> None:
            await slots.acquire(priority)
            order.append(name)
            slots.release()

        tasks = [asyncio.create_task(wait(name, p)) for name, p in [("a1", 1), ("b3", 3), ("c1", 1), ("d3", 3)]]
        gone = asyncio.create_task(wait("gone", 9))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        slots.release()
        await asyncio.gather(*tasks)
        return order, slots.free

    order, free = asyncio.run(go())
    assert order == ["b3", "d3", "a1", "c1"]
    assert free == 1
