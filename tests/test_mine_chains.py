"""Chain mining hooks: messages, narrowed response models, step cleaning, rollout seeds, failure capture."""

from __future__ import annotations

import asyncio
import json

import pytest
from fakes.openai_server import reply, truncated

from radprm.errors import InputError
from radprm.miners.chains import ChainMiner, clean_step, rollout_sampling
from radprm.miners.client import LLMClient, SamplingParams
from radprm.prompts.registry import PromptRegistry
from radprm.schemas.records import Question, Report

REPORT = Report(report_id="r1", text="FINDINGS: The heart is enlarged.\nIMPRESSION: Cardiomegaly.")
QUESTION = Question(
    question_id="q1:x",
    report_id="r1",
    task="single",
    question="Is there cardiomegaly in this chest X-ray?",
    options=["yes", "no"],
    answer=["yes"],
)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("1. The heart is enlarged.", "The heart is enlarged."),
        ("Step 2: No effusion.", "No effusion."),
        ("- Lungs are clear.", "Lungs are clear."),
        ("2.5 cm nodule in the right apex.", "2.5 cm nodule in the right apex."),
        ("  3)  ", ""),
        ("1", ""),
        ("2.5", ""),
    ],
)
def test_clean_step_drops_list_markers_only(text, clean):
    assert clean_step(text) == clean


def test_rollout_sampling_offsets_seed():
    base = SamplingParams(temperature=0.7, seed=10)
    assert rollout_sampling(base, 0).seed == 10 and rollout_sampling(base, 3).seed == 13
    assert rollout_sampling(SamplingParams(seed=None), 3).seed is None


def test_unknown_mode_is_an_error():
    with pytest.raises(InputError, match="unknown mode 'fast'"):
        ChainMiner(None, PromptRegistry(), mode="fast")  # type: ignore[arg-type]


def test_messages_carry_report_question_options_but_not_the_answer():
    miner = ChainMiner(None, PromptRegistry())  # type: ignore[arg-type]
    (system, user) = miner.messages("plan", QUESTION, REPORT)
    assert system["role"] == "system"
    assert REPORT.text in user["content"] and QUESTION.question in user["content"]
    assert "Options: yes, no" in user["content"]
    schema = miner.response_model("refine", QUESTION).model_json_schema()
    assert schema["properties"]["answer"]["items"]["enum"] == ["yes", "no"]
    assert miner.response_model("refine", QUESTION) is miner.response_model("refine", QUESTION)  # memoised class


def mine_one(server, **kw):
    async def go():
        async with LLMClient(server.base_url, "smollm2", max_retries=0) as client:
            miner = ChainMiner(client, PromptRegistry(), **kw)
            return await miner.mine(QUESTION, REPORT, SamplingParams(temperature=0.5, seed=1), rollout=1)
    return asyncio.run(go())


def test_reasoner_chain_feeds_plan_and_draft_forward(fake_openai_server):
    fake_openai_server.enqueue(
        reply({"plan": ["1. Look at the heart.", "2. Decide."]}),
        reply({"steps": ["1. The heart is enlarged.", "2. So cardiomegaly is present."]}),
        reply({"steps": ["- The heart is enlarged.", "Cardiomegaly is present."], "answer": ["yes"]}),
    )
    out = mine_one(fake_openai_server)
    assert out.ok and out.plan == ["Look at the heart.", "Decide."]
    assert out.steps == ["The heart is enlarged.", "Cardiomegaly is present."] and out.model_answer == ["yes"]
    plan_req, analysis_req, refine_req = fake_openai_server.requests
    assert "- Look at the heart.\n- Decide." in analysis_req["messages"][-1]["content"]
    assert "- The heart is enlarged.\n- So cardiomegaly is present." in refine_req["messages"][-1]["content"]
    assert {r["seed"] for r in fake_openai_server.requests} == {2}  # base seed 1 + rollout 1


def test_failing_call_stops_the_chain_with_its_code_and_raw_text(fake_openai_server):
    fake_openai_server.enqueue(reply({"plan": ["Look."]}), truncated())
    out = mine_one(fake_openai_server)
    assert not out.ok and out.error_code == "truncated"
    assert out.failed_prompt.startswith("analysis@v3:") and out.raw_text  # image style (default)
    assert len(out.calls) == 2 and fake_openai_server.chat_count == 2  # refine never asked


def test_blank_steps_make_an_empty_chain(fake_openai_server):
    fake_openai_server.enqueue(reply({"steps": [{"stage": "view", "text": "1."}], "answer": ["no"]}))
    out = mine_one(fake_openai_server, mode="staged")
    assert not out.ok and out.error_code == "empty_chain"
    assert json.loads(out.raw_text)["answer"] == ["no"]
