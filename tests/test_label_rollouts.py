"""`radprm label rollouts`: Monte-Carlo step labels through the fake server (exact arithmetic) and the real one."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError, ShardError
from radprm.miners.rollouts import (
    RolloutConfig,
    estimate,
    expected_requests,
    label_rollouts,
    response_model,
    rollout_messages,
)
from radprm.prompts.registry import PromptRegistry
from radprm.shards import read_items
from radprm.shards.testing import make_item
from radprm.shards.verify import verify
from radprm.shards.writer import ShardWriter


def write_shards(directory, items):
    with ShardWriter(directory, card=False) as w:
        for item in items:
            w.write(item)
    return directory


def single_item(i: int, n_steps: int, answer: str = "yes"):
    """A yes/no item with `n_steps` steps whose text says 'STEP k'."""
    base = make_item(i * 4)  # task single
    steps = [s.model_copy(update={"text": f"STEP {k}: the report is read."}) for k, s in enumerate(base.steps)]
    while len(steps) < n_steps:
        steps.append(steps[-1].model_copy(update={"index": len(steps), "text": f"STEP {len(steps)}: more."}))
    return base.model_copy(update={"task": "single", "options": ["yes", "no"], "answer": [answer],
                                   "question": f"Is there finding {i}?",
                                   "steps": steps[:n_steps]})


def answering(correct_until: int, answer: str = "yes", wrong: str = "no"):
    """A fake-server responder: a prefix of at most `correct_until` steps reaches `answer`, longer ones `wrong`."""

    def responder(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        k = prompt.count("STEP ")
        return json.dumps({"steps": ["so"], "answer": [answer if k <= correct_until else wrong]})

    return responder


def opts(server, **more):
    return {"base_url": server.base_url, "model": "smollm2", "n": 3, "concurrency": 2, **more}


def test_rollouts_linear_labels_every_prefix_math_shepherd(fake_openai_server, tmp_path):
    server = fake_openai_server
    server.responder = answering(correct_until=2)  # prefixes of 1-2 steps still reach "yes"
    src = write_shards(tmp_path / "in", [single_item(0, 4), single_item(1, 3)])
    summary = label_rollouts(src, run_dir=tmp_path / "run", **opts(server))
    items = {i.item_id: i for i in read_items(tmp_path / "run" / "shards")}
    assert len(items) == 2
    for item in items.values():
        assert [s.mc_label for s in item.steps] == [True, True] + [False] * (len(item.steps) - 2)
        assert [s.mc_score for s in item.steps] == [1.0, 1.0] + [0.0] * (len(item.steps) - 2)
        assert all(s.mc_rollouts == 3 for s in item.steps)
        assert item.mc_model == "smollm2" and item.mc_prompt.name == "rollout"
        assert json.loads(item.mc_sampling)["n"] == 3
    assert summary.probes == 7 == server.chat_count  # one request per prefix, n answers each
    assert all(b["n"] == 3 for b in server.requests if "messages" in b)
    assert verify(tmp_path / "run" / "shards").ok


def test_rollouts_never_show_the_report(fake_openai_server, tmp_path):
    server = fake_openai_server
    item = single_item(0, 2)
    src = write_shards(tmp_path / "in", [item])
    label_rollouts(src, run_dir=tmp_path / "run", **opts(server, n=1))
    prompts = [m["content"] for b in server.requests if "messages" in b for m in b["messages"]]
    assert prompts and not any(item.report_text[:40] in p for p in prompts)
    assert any(item.question in p for p in prompts)


def test_rollouts_binary_search_asks_fewer_prefixes_and_infers_the_rest(fake_openai_server, tmp_path):
    server = fake_openai_server
    server.responder = answering(correct_until=3)  # first failing prefix: 4 steps -> step index 3 is bad
    src = write_shards(tmp_path / "in", [single_item(0, 7)])
    summary = label_rollouts(src, run_dir=tmp_path / "run", search="binary", **opts(server))
    (item,) = read_items(tmp_path / "run" / "shards")
    assert [s.mc_label for s in item.steps] == [True, True, True, False, False, False, False]
    probed = [s.index for s in item.steps if s.mc_rollouts]
    assert summary.probes == len(probed) <= expected_requests(7, "binary") == 3 < 7
    assert all(s.mc_score is None for s in item.steps if not s.mc_rollouts)


def test_rollouts_jaccard_reward_is_the_soft_score(fake_openai_server, tmp_path):
    server = fake_openai_server
    item = make_item(2)  # multi_label
    item = item.model_copy(update={"answer": item.options[:2]})
    server.responder = lambda body: json.dumps({"steps": [], "answer": item.options[:1]})
    src = write_shards(tmp_path / "in", [item])
    label_rollouts(src, run_dir=tmp_path / "run", **opts(server))
    (out,) = read_items(tmp_path / "run" / "shards")
    assert all(s.mc_score == 0.5 and s.mc_label is False for s in out.steps)  # Jaccard 1/2, never the exact set
    with pytest.raises(InputError):
        RolloutConfig.from_options(shards=src, base_url="http://x/v1", model="m", search="ternary")


def test_rollouts_on_shards_without_answers_fail_in_one_line_and_write_nothing(fake_openai_server, tmp_path):
    items = [single_item(i, 2).model_copy(update={"answer": []}) for i in range(3)]
    src = write_shards(tmp_path / "in", items)
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, ["label", "rollouts", str(src), "--run-dir", str(run_dir),
                                      "--base-url", fake_openai_server.base_url, "--model", "smollm2"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "field 'answer'" in lines[0] and "shard-00000.parquet" in lines[0]
    assert not run_dir.exists() and fake_openai_server.chat_count == 0


def test_rollouts_quarantine_items_without_answer_and_write_the_others(fake_openai_server, tmp_path):
    good, no_answer = single_item(0, 2), single_item(1, 2).model_copy(update={"answer": []})
    src = write_shards(tmp_path / "in", [good, no_answer])
    summary = label_rollouts(src, run_dir=tmp_path / "run", **opts(fake_openai_server))
    assert [i.item_id for i in read_items(tmp_path / "run" / "shards")] == [good.item_id]
    assert summary.quarantined == {"rollout/no_answer": 1}


def test_rollouts_unusable_answers_are_not_scored_and_are_quarantined(fake_openai_server, tmp_path):
    from fakes.openai_server import truncated

    server = fake_openai_server
    server.rule = lambda body: truncated() if body["messages"][-1]["content"].count("STEP ") == 2 else None
    src = write_shards(tmp_path / "in", [single_item(0, 3)])
    summary = label_rollouts(src, run_dir=tmp_path / "run", **opts(server))
    (item,) = read_items(tmp_path / "run" / "shards")
    assert [s.mc_rollouts for s in item.steps] == [3, 0, 3]
    assert item.steps[1].mc_label is None and item.steps[1].mc_score is None
    assert summary.quarantined == {"rollout/rollout_truncated": 1}
    assert summary.rollout_errors == {"truncated": 3}


def test_rollouts_resume_sends_nothing_twice_and_max_items(fake_openai_server, tmp_path):
    server = fake_openai_server
    src = write_shards(tmp_path / "in", [single_item(i, 2) for i in range(4)])
    first = label_rollouts(src, run_dir=tmp_path / "run", max_items=3, **opts(server))
    assert first.items_written == 3 and server.chat_count == 6
    again = label_rollouts(src, run_dir=tmp_path / "run", resume=True, max_items=3, **opts(server))
    assert again.items_this_session == 0 and server.chat_count == 6
    with pytest.raises(InputError, match="--n differs"):
        label_rollouts(src, run_dir=tmp_path / "run", resume=True, max_items=3, **opts(server, n=4))


def test_rollouts_budget_is_printed_before_anything_is_asked(fake_openai_server, tmp_path):
    src = write_shards(tmp_path / "in", [single_item(0, 4), single_item(1, 2)])
    tpl = PromptRegistry().get("rollout")
    cfg = RolloutConfig.from_options(shards=src, base_url="http://x/v1", model="m", n=4, max_tokens=100)
    budget = estimate(cfg, tpl)
    assert (budget.items, budget.details["steps"], budget.requests) == (2, 6, 6)
    assert budget.completion_tokens == 6 * 4 * 100
    result = CliRunner().invoke(app, ["label", "rollouts", str(src), "--run-dir", str(tmp_path / "run"),
                                      "--base-url", fake_openai_server.base_url, "--model", "smollm2",
                                      "--n", "4", "--max-tokens", "100", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "at most 6 requests" in result.output and "2400 completion tokens" in result.output
    assert fake_openai_server.chat_count == 0 and not (tmp_path / "run").exists()


def test_rollouts_on_a_missing_shard_directory_is_a_shard_error(tmp_path):
    with pytest.raises(ShardError):
        label_rollouts(tmp_path / "nope", run_dir=tmp_path / "run", base_url="http://x/v1", model="m")


def test_rollout_prompt_prefixes_share_their_start_for_prefix_caching():
    tpl = PromptRegistry().get("rollout")
    item = single_item(0, 3)
    texts = [rollout_messages(tpl, item, k)[-1]["content"] for k in (1, 2, 3)]
    assert texts[1].startswith(texts[0]) and texts[2].startswith(texts[1])
    schema = response_model(item).model_json_schema()
    assert "yes" in json.dumps(schema)


@pytest.mark.vllm
@pytest.mark.timeout(900)
def test_rollouts_on_the_real_server(vllm_base_url, tmp_path):
    src = write_shards(tmp_path / "in", [single_item(0, 2)])
    summary = label_rollouts(src, run_dir=tmp_path / "run", base_url=vllm_base_url, model="smollm2", n=2,
                             max_tokens=64, concurrency=2)
    (item,) = read_items(tmp_path / "run" / "shards")
    scored = [s for s in item.steps if s.mc_rollouts]
    assert summary.metrics.requests >= 1 and summary.metrics.completion_tokens > 0
    for s in scored:
        assert 0.0 <= s.mc_score <= 1.0 and s.mc_label == (s.mc_score > 0)  # yes/no: reward is 0 or 1


def test_rollout_job_carries_the_judge_sidecar_under_its_real_name():
    from radprm.miners.rollouts import JUDGE_SIDECAR
    from radprm.validators.judge import SIDECAR

    assert JUDGE_SIDECAR == SIDECAR


def test_client_n_answers_are_validated_one_by_one_and_cached_together(fake_openai_server, tmp_path):
    import asyncio

    from radprm.miners.cache import RequestCache
    from radprm.miners.client import LLMClient, SamplingParams
    from radprm.schemas.llm import RolloutResponse

    server = fake_openai_server
    server.responder = lambda body: json.dumps({"steps": [], "answer": ["yes"]})
    messages = [{"role": "user", "content": "q"}]
    sampling = SamplingParams(seed=1)

    async def ask(cache):
        async with LLMClient(server.base_url, "smollm2", cache=cache) as client:
            key = client.key_for(messages, RolloutResponse, sampling, extra={"n": 3})
            return await client.complete_json_n(messages, RolloutResponse, sampling=sampling, n=3, cache_key=key)

    with RequestCache(tmp_path / "c.sqlite") as cache:
        first = asyncio.run(ask(cache))
        again = asyncio.run(ask(cache))
    # the fake repeats one content n times: all three choices carry the first answer
    assert first.ok and len(first.choices) == 3 and all(c.parsed.answer == ["yes"] for c in first.choices)
    assert again.cached and [c.parsed for c in again.choices] == [c.parsed for c in first.choices]
    assert server.chat_count == 1
