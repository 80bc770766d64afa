"""SamplingParams validation and recording; Retry-After in its HTTP-date form."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest
from fakes.openai_server import status
from pydantic import BaseModel

from radprm.errors import InputError
from radprm.miners.client import LLMClient, SamplingParams


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"temperature": -0.1}, "temperature"), ({"top_p": 0.0}, "top_p"), ({"max_tokens": 0}, "max_tokens")],
)
def test_sampling_out_of_range_names_field(kwargs, field):
    with pytest.raises(InputError) as info:
        SamplingParams(**kwargs)
    assert info.value.field == field
    assert f"field '{field}'" in str(info.value)


def test_sampling_to_dict_and_with_seed():
    s = SamplingParams(temperature=0.2, top_p=0.9, max_tokens=64, seed=3)
    assert s.as_dict() == {"temperature": 0.2, "top_p": 0.9, "max_tokens": 64, "seed": 3}
    assert s.with_seed(4).as_dict()["seed"] == 4 and s.seed == 3


class Answer(BaseModel):
    answer: str


def test_client_retry_after_http_date(fake_openai_server):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake_openai_server.enqueue(status(429, retry_after=when))
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    async def go():
        async with LLMClient(fake_openai_server.base_url, "smollm2", sleep=fake_sleep, backoff_base=0.1,
                             backoff_max=60) as client:
            return await client.complete_json([{"role": "user", "content": "x"}], Answer, sampling=SamplingParams())

    assert asyncio.run(go()).ok
    # HTTP dates have 1 s resolution, and a loaded machine may take a few seconds to get here
    assert 20.0 <= delays[0] <= 30.2
