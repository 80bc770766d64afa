"""--max-requests / --max-tokens-total end a session cleanly; --resume finishes the job, each item once."""

from __future__ import annotations

from pathlib import Path

import pytest

from radprm.miners.job import mine
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
    if "max_requests" in budget:  # chains already started finish: at most one round of --concurrency more
        assert 6 <= m.requests <= 6 + 2 * 3
    else:
        assert m.prompt_tokens + m.completion_tokens >= 400
    second = run(fake_openai_server, tmp_path / "run", parts, resume=True)
    ids = [i.item_id for i in read_items(tmp_path / "run" / "shards")]
    assert len(ids) == len(set(ids)) == full.items_written == second.items_written
    assert second.items_pending == 0
