"""--max-requests / --max-tokens-total end a session cleanly; --resume finishes the job, each item once."""

from __future__ import annotations

from pathlib import Path

import pytest

from radprm.miners.budget import CHARS_PER_TOKEN, TEMPLATE_TOKENS, Budget, mine_budget, projected_tokens
from radprm.miners.job import CHAINS_PER_SLOT, mine
from radprm.shards.reader import read_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"


def run(server, run_dir, parts, **kw):
    extractor, validator = parts
    return mine(FIXTURE, run_dir=run_dir, base_url=server.base_url, model="smollm2", tasks=["single", "binary"],
                questions_per_report=2, max_tokens=200, concurrency=2, extractor=extractor, validator=validator,
                **kw)


@pytest.mark.parametrize("budget", [{"max_requests": 6}, {"max_tokens_total": 400}])
def test_budget_stops_the_session_and_resume_finishes(fake_openai_server, tmp_path, parts, budget):
    full = run(fake_openai_server, tmp_path / "full", parts)
    first = run(fake_openai_server, tmp_path / "run", parts, **budget)
    m = first.metrics
    assert first.items_pending > 0 and first.items_written < full.items_written
    if "max_requests" in budget:  # chains already started finish: at most the chains in flight, 3 calls each
        assert 6 <= m.requests <= 6 + CHAINS_PER_SLOT * 2 * 3
    else:
        assert m.prompt_tokens + m.completion_tokens >= 400
    second = run(fake_openai_server, tmp_path / "run", parts, resume=True)
    ids = [i.item_id for i in read_items(tmp_path / "run" / "shards")]
    assert len(ids) == len(set(ids)) == full.items_written == second.items_written
    assert second.items_pending == 0


def test_budget_arithmetic_requests_prompt_and_completion_tokens():
    b = Budget("mine", unit="chains")
    b.add([400, 800, 1200], max_tokens=100)  # one chain of three calls
    b.add([4, 8, 12], max_tokens=100)
    assert (b.items, b.requests) == (2, 6)
    assert b.prompt_tokens == (100 + 200 + 300 + 1 + 2 + 3) + 6 * TEMPLATE_TOKENS
    assert b.completion_tokens == 6 * 100 and b.tokens == b.prompt_tokens + 600
    b.add([CHARS_PER_TOKEN + 1], max_tokens=10, choices=4)  # a partial token counts as one; n choices
    assert b.prompt_tokens == (100 + 200 + 300 + 1 + 2 + 3) + 2 + 7 * TEMPLATE_TOKENS
    assert b.completion_tokens == 600 + 40
    line = b.render()
    assert line.startswith("budget (mine): 3 chains -> at most 7 requests") and "at most 640 completion" in line


def test_projected_tokens_uses_the_estimate_then_the_measured_tokens_per_item():
    b = Budget("mine", items=10, prompt_tokens=5000, completion_tokens=3000)
    assert projected_tokens(b, 0, 10, 0) == 8000  # nothing done yet: the estimate
    assert projected_tokens(b, 2, 8, 1000) == 1000 + 8 * 500  # 500 tokens per item measured
    assert projected_tokens(None, 0, 10, 0) is None


def test_mine_budget_renders_each_call_of_each_chain(parts):
    from radprm.miners.chains import ChainMiner
    from radprm.prompts.registry import PromptRegistry
    from radprm.readers import read_reports

    reports = list(read_reports(FIXTURE))
    miner = ChainMiner(None, PromptRegistry())
    b = mine_budget(reports, miner, questions_per_report=2, rollouts=3, max_tokens=50)
    assert b.items == len(reports) * 6 and b.requests == b.items * 3
    assert b.completion_tokens == b.requests * 50
    longer = mine_budget([r.model_copy(update={"text": r.text + "x" * 400}) for r in reports], miner,
                         questions_per_report=2, rollouts=3, max_tokens=50)
    assert longer.prompt_tokens - b.prompt_tokens == b.requests * 100  # every call shows the report


def test_mine_prints_the_budget_before_the_first_request(fake_openai_server, tmp_path, parts):
    seen = []
    run(fake_openai_server, tmp_path / "run", parts, limit=3,
        announce=lambda line: seen.append((line, fake_openai_server.chat_count)))
    assert len(seen) == 1
    line, requests_then = seen[0]
    assert requests_then == 0
    assert line.startswith("budget (mine): 6 chains, reports 3, calls per chain 3 -> at most 18 requests")
    assert "at most 3600 completion tokens" in line


def test_cli_mine_prints_the_budget_line(fake_openai_server, tmp_path):
    from typer.testing import CliRunner

    from radprm.cli import app

    result = CliRunner().invoke(app, ["mine", str(FIXTURE), "--run-dir", str(tmp_path / "run"), "--limit", "2",
                                      "--base-url", fake_openai_server.base_url, "--model", "smollm2",
                                      "--tasks", "single,binary", "--max-tokens", "200"])
    assert result.exit_code == 0, result.output
    assert "budget (mine): " in result.output and "at most" in result.output


def test_progress_tokens_bar_projects_from_the_budget_then_from_measured_items():
    from radprm.miners.progress import MineProgress

    spent = [0]
    bar = MineProgress(False, Budget("mine", items=10, prompt_tokens=6000, completion_tokens=4000),
                       spent=lambda: spent[0])
    bar.planned(4)  # fewer planned so far than the budget's 10 chains: the budget counts
    assert bar.projected_tokens(0) == 10_000
    bar.planned(6)
    spent[0] = 1200
    bar.item_done()
    bar.item_done()
    assert bar.projected_tokens(1200) == 1200 + 8 * 600  # 600 tokens per item measured, 8 items left
