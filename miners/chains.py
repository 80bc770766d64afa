"""Reasoning chains from the LLM: ChestX-Reasoner's plan -> analysis -> refine, or CXRTrek-style stages.

Like curator's LLM stage, each call is two hooks around the client: `messages` (prompt template +
question + report) and the response model (bounded JSON schema, answer narrowed to the question's
options). A chain needs every one of its calls to succeed; the first failure ends it with that call's
error code, raw text and prompt, so the job can quarantine the item and move on.

Modes:

* ``reasoner``: three calls. `plan` plans from the report and question; `analysis` follows the plan
  using only what the report states (unmentioned findings are normal); `refine` prunes the steps to one
  claim each and gives the answer.
* ``staged``: one call whose steps are tagged with a CXRTrek stage (view, findings, attributes,
  relations, comparison, diagnosis); stored as ``"Stage: text"``.

Every call's cache key carries the prompt's id@version:sha and the rollout index, so editing one prompt
file re-issues only the calls built from it, and rollouts of one question never share an answer.

Image-style chains whose final steps cite the report (`radprm.miners.styles`, the lexicon QA and the
exporters use) are asked again once with ``cites_report="quarantine"``: the last call (refine, or staged)
is re-sent as attempt + 1 (its own seed and cache key) with the prompt's `reask` reminder. A chain that
still cites the report fails with `cites_report`; ``keep`` writes it and the outcome lists the citing
steps. Both engines mine through `ChainMiner.mine`, so they behave the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from radprm.errors import InputError
from radprm.miners.client import SEED_MOD, CallResult, LLMClient, SamplingParams
from radprm.miners.styles import CITES_REPORT, CITES_REPORT_POLICIES, DEFAULT_STYLE, check_style, default_mentions
from radprm.prompts.registry import PromptRegistry, PromptTemplate
from radprm.schemas.llm import LLMResponse, with_answer_options
from radprm.schemas.records import PromptRef, Question, Report

MODES = {"reasoner": ("plan", "analysis", "refine"), "staged": ("staged",)}


@dataclass
class ChainOutcome:
    """What mining one chain produced: steps and answer, or the failure that stopped it.

    Attributes:
        ok: Every call succeeded and the chain has at least one step.
        plan: Plan lines (reasoner mode).
        steps: Final steps (refined, or ``"Stage: text"`` in staged mode).
        stages: Stage of each step (staged mode), else empty.
        model_answer: The model's answer, a subset of the question's options.
        calls: Results of the calls made, in order.
        error_code: Reason code of the failing call (client error code or `empty_chain`).
        error_detail: Its detail.
        failed_prompt: Label (`id@vN:sha`) of the prompt whose call failed.
        raw_text: The failing call's raw model text, for the quarantine payload.
        attempt: Attempt of the last call (the seed and cache key it used; attempt + 1 after a re-ask).
        reasked: The last call was asked again because the steps cited the report.
        cites: (step index, pattern names) of the steps citing the report (image style), as written.
    """

    ok: bool
    plan: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    model_answer: list[str] = field(default_factory=list)
    calls: list[CallResult] = field(default_factory=list)
    error_code: str | None = None
    error_detail: str | None = None
    failed_prompt: str | None = None
    raw_text: str | None = None
    attempt: int = 0
    reasked: bool = False
    cites: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens over the calls (cached calls count what they cost when first made)."""
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens over the calls."""
        return sum(c.completion_tokens for c in self.calls)


def rollout_sampling(sampling: SamplingParams, rollout: int) -> SamplingParams:
    """Sampling for rollout `rollout`: the base seed plus the rollout index (None stays None)."""
    if sampling.seed is None:
        return sampling
    return sampling.with_seed((sampling.seed + rollout) % SEED_MOD)


ATTEMPT_SEED_STRIDE = 100_003
"""Seed offset between attempts of one rollout (a re-ask, a re-drive of `cites_report`): a prime far above
any rollout count, so an attempt never reuses another rollout's seed."""


def attempt_sampling(sampling: SamplingParams, rollout: int, attempt: int = 0) -> SamplingParams:
    """Sampling of rollout `rollout`, attempt `attempt` (attempt 0 is `rollout_sampling`)."""
    sampling = rollout_sampling(sampling, rollout)
    if sampling.seed is None or not attempt:
        return sampling
    return sampling.with_seed((sampling.seed + attempt * ATTEMPT_SEED_STRIDE) % SEED_MOD)


@lru_cache(maxsize=4096)
def _narrowed(model: type[LLMResponse], options: tuple[str, ...], multi: bool) -> type[LLMResponse]:
    # One class per option set: the client memoises schemas per class, so reuse keeps that bounded.
    return with_answer_options(model, list(options), multi=multi)


# Small models copy the list markers they are shown ("1.", "-", "Step 2:"); a marker is not part of a step.
_MARKER = re.compile(r"^\s*(?:(?:step\s*)?\d{1,2}\s*[.):-](?=\s|$)\s*|[-*\u2022]\s+)+", re.I)


def clean_step(text: str) -> str:
    """A step without leading list markers and surrounding blanks ("2. Heart is normal." -> "Heart is normal.").

    Text without a single letter ("1", "2.", "...") is no step and comes back empty.
    """
    text = _MARKER.sub("", text).strip()
    return text if any(ch.isalpha() for ch in text) else ""


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


class ChainMiner:
    """Builds the messages of each call, sends them through the client and assembles the chain.

    Args:
        client: The job's LLM client (with its request cache).
        prompts: Registry to take the mode's prompt templates from (latest version of the style).
        mode: ``reasoner`` or ``staged``.
        style: ``image`` (write as reading the film; the report is hidden ground truth) or ``report``
            (`radprm.miners.styles`).
        cites_report: What to do with an image-style chain whose steps cite the report: ``quarantine``
            (ask the last call again once, then fail with `cites_report`) or ``keep``.

    Raises:
        InputError: unknown mode, style or cites_report policy.
        PromptError: a prompt the mode needs is missing or malformed; the last prompt of an image-style
            chain has no `reask` reminder while `cites_report` is ``quarantine``.
    """

    def __init__(self, client: LLMClient, prompts: PromptRegistry, *, mode: str = "reasoner",
                 style: str = DEFAULT_STYLE, cites_report: str = CITES_REPORT_POLICIES[0]) -> None:
        if mode not in MODES:
            raise InputError(f"unknown mode {mode!r}", field="mode", hint=f"choose from {', '.join(MODES)}")
        if cites_report not in CITES_REPORT_POLICIES:
            raise InputError(f"unknown cites_report policy {cites_report!r}", field="cites_report",
                             hint=f"choose from {', '.join(CITES_REPORT_POLICIES)}")
        self.client = client
        self.mode = mode
        self.style = check_style(style)
        self.cites_report = cites_report
        self.templates: dict[str, PromptTemplate] = {name: prompts.for_style(name, style) for name in MODES[mode]}
        self.final = MODES[mode][-1]  # the call whose steps are kept (and asked again when they cite the report)
        self.mentions = default_mentions() if self.style == "image" else None  # report style: never checked
        if self.mentions is not None and cites_report == "quarantine" and not self.templates[self.final].reask:
            from radprm.errors import PromptError

            tpl = self.templates[self.final]
            raise PromptError(f"prompt {tpl.id}@v{tpl.version} has no reask reminder for --cites-report quarantine",
                              path=tpl.path or None, field="reask",
                              hint="add a `reask:` line in a new version of the prompt, or pass --cites-report keep")
        self.key_extra: dict[str, Any] = {}  # more cache-key parts (e.g. how the job stores report text)

    @property
    def prompt_refs(self) -> list[PromptRef]:
        """Refs (id, version, sha) of the prompts this miner uses, in call order."""
        return [t.ref for t in self.templates.values()]

    @property
    def prompt_labels(self) -> list[str]:
        """`id@vN:sha` of each prompt, in call order (part of the item id)."""
        return [f"{t.id}@v{t.version}:{t.sha}" for t in self.templates.values()]

    def response_model(self, name: str, question: Question) -> type[LLMResponse]:
        """The response model of prompt `name` for `question` (answer narrowed to its options)."""
        model = self.templates[name].response_model
        if question.options and "answer" in model.model_fields:
            return _narrowed(model, tuple(question.options), question.task == "multi_label")
        return model

    def messages(self, name: str, question: Question, report: Report, *, reask: bool = False,
                 **more: str) -> list[dict[str, str]]:
        """Render prompt `name` for a question about a report (plus `plan` / `steps` when needed; `reask`
        adds the prompt's reminder for a chain asked again)."""
        values: dict[str, Any] = {
            "report": report.text,
            "question": question.question,
            "options": ", ".join(question.options),
            **more,
        }
        return self.templates[name].render(reask=reask, **values)

    async def _call(
        self, name: str, question: Question, report: Report, sampling: SamplingParams, rollout: int,
        attempt: int = 0, reask: bool = False, **more: str
    ) -> tuple[CallResult, type[LLMResponse]]:
        tpl = self.templates[name]
        messages = self.messages(name, question, report, reask=reask, **more)
        model = self.response_model(name, question)
        extra = {"prompt": tpl.label, "rollout": rollout, **self.key_extra}
        if attempt:  # attempt 0 keeps the keys of jobs mined before re-asks existed
            extra["attempt"] = attempt
        key = self.client.key_for(messages, model, sampling, extra=extra)
        calls = MODES[self.mode]
        left = len(calls) - calls.index(name) if name in calls else 1  # the chain's calls left: its slot priority
        result = await self.client.complete_json(messages, model, sampling=sampling, schema_name=name, cache_key=key,
                                                 priority=left)
        return result, model

    async def mine(
        self, question: Question, report: Report, sampling: SamplingParams, rollout: int = 0, attempt: int = 0
    ) -> ChainOutcome:
        """Run the mode's calls for one question and rollout (and the re-ask of an image-style chain citing
        the report).

        Args:
            question: The question (its answer is never shown to the model).
            report: The report it is about.
            sampling: Base sampling; the rollout's (and attempt's) seed is derived from it.
            rollout: Rollout index (0-based).
            attempt: First attempt (0; a re-drive of `cites_report` starts a new one: its own seeds and keys).

        Returns:
            A `ChainOutcome`; `ok` False carries the failing call's error code and raw text (`cites_report`
            when the re-asked chain still cites the report).
        """
        out = ChainOutcome(ok=False, attempt=attempt)
        turn = attempt_sampling(sampling, rollout, attempt)
        final_more: dict[str, str] = {}
        if self.mode == "reasoner":
            res, _ = await self._call("plan", question, report, turn, rollout, attempt)
            if not self._record(out, "plan", res):
                return out
            out.plan = [c for c in (clean_step(p) for p in res.parsed.plan) if c]  # type: ignore[union-attr]
            res, _ = await self._call("analysis", question, report, turn, rollout, attempt, plan=_bullets(out.plan))
            if not self._record(out, "analysis", res):
                return out
            draft = [c for c in (clean_step(s) for s in res.parsed.steps) if c]  # type: ignore[union-attr]
            final_more = {"steps": _bullets(draft)}
        if not await self._final(out, question, report, turn, rollout, attempt, False, final_more):
            return out
        out.cites = self.mentions.citing_steps(out.steps) if self.mentions is not None else []
        if out.cites and self.cites_report == "quarantine":
            out.reasked, out.attempt = True, attempt + 1
            again = attempt_sampling(sampling, rollout, attempt + 1)
            if not await self._final(out, question, report, again, rollout, attempt + 1, True, final_more):
                return out
            out.cites = self.mentions.citing_steps(out.steps)  # type: ignore[union-attr]
            if out.cites:
                out.error_code = CITES_REPORT
                out.error_detail = ("image-style chain cites the report after a re-ask: " + "; ".join(
                    f"step {i} ({', '.join(names)})" for i, names in out.cites) + "; --cites-report keep writes it")
                out.failed_prompt = self.templates[self.final].label
                out.raw_text = out.calls[-1].raw_text
                return out
        out.ok = True
        return out

    async def _final(self, out: ChainOutcome, question: Question, report: Report, sampling: SamplingParams,
                     rollout: int, attempt: int, reask: bool, more: dict[str, str]) -> bool:
        """The last call (refine or staged): fills steps, stages and answer; False when it failed or gave
        only blank steps."""
        name = self.final
        out.steps, out.stages, out.model_answer = [], [], []
        res, _ = await self._call(name, question, report, sampling, rollout, attempt, reask, **more)
        if not self._record(out, name, res):
            return False
        if self.mode == "staged":
            for step in res.parsed.steps:  # type: ignore[union-attr]
                text = clean_step(step.text)
                if text:
                    out.stages.append(step.stage)
                    out.steps.append(f"{step.stage.capitalize()}: {text}")
            out.model_answer = list(res.parsed.answer)  # type: ignore[union-attr]
        else:
            out.steps = [c for c in (clean_step(s) for s in res.parsed.steps) if c]  # type: ignore[union-attr]
            out.model_answer = list(dict.fromkeys(res.parsed.answer))  # type: ignore[union-attr]
        if not out.steps:
            out.error_code, out.error_detail = "empty_chain", "the model returned only blank steps"
            out.raw_text = res.raw_text
            out.failed_prompt = self.templates[name].label
            return False
        return True

    def _record(self, out: ChainOutcome, name: str, res: CallResult) -> bool:
        out.calls.append(res)
        if res.ok and res.parsed is not None:
            return True
        out.error_code = res.error_code or "bad_response"
        out.error_detail = res.error_detail
        out.failed_prompt = self.templates[name].label
        out.raw_text = res.raw_text
        return False
