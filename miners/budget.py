"""Budget before work: what an LLM stage will ask, estimated from its input before the first request.

One estimator for every LLM stage (`radprm mine`, `radprm label rollouts`, the judge of `radprm validate
--judge`): a stage lists the requests it will make as prompt *characters* (the rendered prompt of each
call: template, report, question, earlier steps) and a completion cap (max_tokens), and `Budget` turns
them into requests, prompt tokens (estimate: characters / `CHARS_PER_TOKEN` + `TEMPLATE_TOKENS` per
request for the chat template) and completion tokens (an upper bound: max_tokens each).

Once the first chains finish, `Budget.eta` gives the time left at the throughput measured so far
(tokens per second of this session, projected over the items left with the tokens per item measured so
far); the mining progress bar shows it (`miners.progress`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
"""Prompt tokens from characters (English BPE averages about 4 characters per token)."""
TEMPLATE_TOKENS = 60
"""Tokens of a prompt's chat template and role markers per request, on top of its text."""


def prompt_tokens(chars: int) -> int:
    """Estimated prompt tokens of one request whose rendered messages hold `chars` characters."""
    return math.ceil(chars / CHARS_PER_TOKEN) + TEMPLATE_TOKENS


def message_chars(messages: Iterable[dict[str, Any]]) -> int:
    """Characters of a rendered chat prompt (the contents of its messages)."""
    return sum(len(m.get("content") or "") for m in messages)


@dataclass
class Budget:
    """Requests and tokens a stage will ask for, estimated before the first request.

    Attributes:
        stage: What is estimated (``mine``, ``rollouts``, ``judge``).
        items: Items the stage will produce (chains, labelled items, judged chains).
        requests: Requests (an upper bound when the stage may stop early, e.g. binary search).
        prompt_tokens: Estimated prompt tokens over the requests.
        completion_tokens: Completion tokens at most (max_tokens x choices per request).
        unit: What one item is, for the line (``chains``, ``items``).
        details: Stage-specific counts shown in the line (e.g. ``steps``, ``n``, ``search``).
        skipped: Inputs that will not be asked about, by reason.
    """

    stage: str
    items: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unit: str = "items"
    details: dict[str, Any] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)

    def add(self, prompt_chars: Iterable[int], max_tokens: int, *, choices: int = 1) -> None:
        """Count one item whose requests have these rendered prompt lengths (characters)."""
        self.items += 1
        for chars in prompt_chars:
            self.requests += 1
            self.prompt_tokens += prompt_tokens(chars)
            self.completion_tokens += max_tokens * choices

    def scaled(self, factor: float) -> Budget:
        """This budget times `factor` (a sample's figures projected onto the whole input)."""
        return Budget(self.stage, round(self.items * factor), round(self.requests * factor),
                      round(self.prompt_tokens * factor), round(self.completion_tokens * factor), self.unit,
                      dict(self.details), Counter(self.skipped))

    def render(self) -> str:
        """One line, printed before the first request."""
        extra = "".join(f", {k} {v}" for k, v in self.details.items())
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
        return (f"budget ({self.stage}): {self.items} {self.unit}{extra} -> at most {self.requests} requests, "
                f"~{self.prompt_tokens} prompt tokens, at most {self.completion_tokens} completion tokens"
                + (f"; not asked: {skipped}" if skipped else ""))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"stage": self.stage, "items": self.items, "requests": self.requests,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "details": dict(self.details), "skipped": dict(self.skipped)}

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def projected_tokens(budget: Budget | None, items_done: int, items_left: int, tokens_spent: int) -> int | None:
    """Tokens the session will have spent when done: before an item is done, the estimate; after, the
    tokens spent so far plus the items left at the tokens per item measured so far (the progress bar
    divides what is left by the measured tokens per second: the time at the measured throughput)."""
    if items_done > 0 and tokens_spent > 0:
        return tokens_spent + round(items_left * tokens_spent / items_done)
    return budget.tokens if budget is not None else None


def mine_budget(reports: Iterable[Any], miner: Any, *, questions_per_report: int, rollouts: int,
                max_tokens: int) -> Budget:
    """The budget of mining `reports`: every report asks `questions_per_report` x `rollouts` chains (an
    upper bound: a report with fewer findings gets fewer questions), each chain the calls of the miner's
    mode with the rendered prompt of each call (the report's text, a typical yes/no question, and for a
    later call the earlier call's answer at its max_tokens bound).

    Args:
        reports: The reports the session will mine (`Report`; read once).
        miner: The job's `ChainMiner` (its mode's templates render the prompts).
    """
    from radprm.miners.chains import MODES
    from radprm.schemas.records import Question

    question = Question.model_construct(question="Is there a pleural effusion?", options=["yes", "no"],
                                        task="binary")
    earlier = "x" * (max_tokens * CHARS_PER_TOKEN)  # an earlier call's answer, at most max_tokens long
    more = {"analysis": {"plan": earlier}, "refine": {"steps": earlier}}
    names = MODES[miner.mode]
    b = Budget("mine", unit="chains", details={"calls per chain": len(names)})
    reports_n = 0
    for report in reports:
        reports_n += 1
        chars = [message_chars(miner.messages(name, question, report, **more.get(name, {}))) for name in names]
        for _ in range(questions_per_report * rollouts):
            b.add(chars, max_tokens)
    b.details = {"reports": reports_n, **b.details}
    return b


def judge_budget(chains: Iterable[tuple[Any, Any]], judge: Any) -> Budget:
    """The budget of judging `chains` ((`Chain`, `Report`) pairs): one request per step with the judge's
    rendered prompt (report, question, the steps before it, the step). With scope ``undecided`` only the
    steps the rules leave undecided are asked, so the figures are an upper bound."""
    b = Budget("judge", unit="chains", details={"scope": judge.scope})
    steps = 0
    for chain, report in chains:
        steps += len(chain.steps)
        b.add([message_chars(judge.messages(chain, report, i)) for i in range(len(chain.steps))],
              judge.sampling.max_tokens)
    b.details = {"steps": steps, **b.details}
    return b
