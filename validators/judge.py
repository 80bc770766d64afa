"""Optional LLM judge of reasoning steps (RadRScore-style), fused with the deterministic rule labels.

The step validator labels every step by rules (`radprm.validators.steps`). `StepJudge` asks a model
served by an OpenAI-compatible server (vLLM) to label some of those steps too, with the rubric prompt
`prompts/judge/v1.yaml`: given the report, the question, the steps before and the step, answer
`JudgeResponse` = {label: good|bad, reason: a validator reason code or "none", evidence: a report
quote}. Requests go through the mining client (`radprm.miners.client.LLMClient`: bounded concurrency,
retries with backoff, a content-addressed request cache), at temperature 0, so a second run over the
same steps sends nothing.

Which steps are asked (`scope`, `--judge`):

* ``undecided``: steps whose rule verdict is ``unsure`` (a fault the rules do not trust) or ``neutral``
  (the rules found no claim to check: glue, or a finding outside the lexicon, which only a model can
  tell apart).
* ``all``: every step (costly; needed for a meaningful rules-vs-judge kappa).

How the two labels combine (`policy`, `--judge-policy`). A step the judge was not asked about, or that
it failed to answer, keeps its rule label and verdict under every policy. Otherwise, with R the rule
label and verdict and J the judge label:

* ``rules-first`` (default): R stands unless its verdict is ``unsure`` or ``neutral``; then J decides.
* ``judge-first``: J decides.
* ``both-must-agree``: R stands when J agrees with it; when they disagree the step becomes ``unsure``
  (label False, score 0.5: masked, like the validator's own abstentions). A step is therefore
  labelled bad only when both say bad, good only when both say good, and a rule ``unsure`` stays.

"J decides" means: the label becomes J; when that changes the label, or the rule verdict was
``unsure``, the verdict becomes the judge's (bad: the verdict of its reason code, `contradicted` or
`unsupported`, else `unsupported`; good: `supported`, or `neutral` for glue) and the score follows
the verdict. Reasons and evidence stay the rules' (they explain the rule decision); the judge's are in
their own columns.

A judge call that fails (server error after retries, malformed JSON, schema violation, truncated)
leaves the step as the rules decided, with `judge_error` set to the client's error code, and writes a
quarantine record (stage ``judge``, reason ``judge_<code>``, the raw answer as payload): nothing is
dropped, the failure is counted and visible, and ``--strict`` turns it into exit code 1. A server that
is down fails before the run (`open` makes one short connect check), naming the URL.

Provenance: steps the judge was asked about get `rules_label`, `rules_verdict`, `judge_label`,
`judge_reason`, `judge_evidence`, `judge_error`, `judge_model`, `judge_prompt_sha256` (`JUDGE_FIELDS`);
a table written without a judge has none of these columns.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from radprm.errors import InputError, ModelError
from radprm.miners.cache import RequestCache
from radprm.miners.client import LLMClient, SamplingParams
from radprm.miners.metrics import ClientMetrics
from radprm.prompts.registry import PromptRegistry, PromptTemplate
from radprm.review.agreement import cohen_kappa
from radprm.schemas.arrow import append_fields
from radprm.schemas.llm import JudgeResponse
from radprm.schemas.records import Chain, Item, Report, StepResult
from radprm.validators.chains_io import chain_steps
from radprm.validators.reasons import FAULTS, REASONS
from radprm.validators.scoring import first_bad_step
from radprm.validators.steps import VERDICT_SCORE

SCOPES = ("undecided", "all")
POLICIES = ("rules-first", "judge-first", "both-must-agree")
DEFAULT_POLICY = "rules-first"
UNDECIDED_VERDICTS = frozenset({"unsure", "neutral"})
JUDGE_PROMPT = "judge"
QUARANTINE_STAGE = "judge"
# Greedy decoding: the judge should give the same answer twice, and the cache relies on that. 256 tokens
# hold the longest valid answer even at one token per character (a small model filling the 200-character
# quote with "_c_c_c..." was cut at 128 tokens: `truncated`).
JUDGE_SAMPLING = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=256, seed=0)
# The connect check before a run: one attempt, a few seconds, so a dead server fails at once.
CONNECT_TIMEOUT = 5.0
# Chains judged together: enough to keep `concurrency` requests in flight, few enough to stream.
CHAINS_PER_BATCH_PER_SLOT = 8
SIDECAR = "judge_steps.jsonl"
"""A mining job's per-step judge columns, beside its shards (shard step rows have no place for them)."""
SUMMARY_FILE = "judge_summary.json"

JUDGE_FIELDS = [
    pa.field("rules_label", pa.bool_()),
    pa.field("rules_verdict", pa.string()),
    pa.field("judge_label", pa.string()),
    pa.field("judge_reason", pa.string()),
    pa.field("judge_evidence", pa.string()),
    pa.field("judge_error", pa.string()),
    pa.field("judge_model", pa.string()),
    pa.field("judge_prompt_sha256", pa.string()),
]
"""Step-table columns added when a judge runs (all nullable: null for steps the judge was not asked)."""


def check_scope(scope: str) -> str:
    """Return `scope` when it is one of `SCOPES`.

    Raises:
        InputError: naming `--judge` and the allowed values.
    """
    if scope not in SCOPES:
        raise InputError(f"unknown judge scope {scope!r}", field="judge", hint=f"choose from {', '.join(SCOPES)}")
    return scope


def check_policy(policy: str | None) -> str:
    """Return `policy` (None: the default) when it is one of `POLICIES`.

    Raises:
        InputError: naming `--judge-policy` and the allowed values.
    """
    policy = policy or DEFAULT_POLICY
    if policy not in POLICIES:
        raise InputError(f"unknown judge policy {policy!r}", field="judge_policy",
                         hint=f"choose from {', '.join(POLICIES)}")
    return policy


def step_schema(base: pa.Schema) -> pa.Schema:
    """`base` (a step-table schema) with `JUDGE_FIELDS` appended; metadata kept."""
    return append_fields(base, JUDGE_FIELDS)


@dataclass(frozen=True)
class JudgeAnswer:
    """The judge's answer about one step, or the error that kept it from answering."""

    label: str | None = None
    reason: str | None = None
    evidence: str | None = None
    error: str | None = None
    detail: str | None = None
    raw_text: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        """True when the judge gave a label."""
        return self.label is not None


def judge_verdict(answer: JudgeAnswer, rules_verdict: str) -> str:
    """The verdict a step takes when the judge's label decides it (see the module docs)."""
    if answer.label == "bad":
        reason = REASONS.get(answer.reason or "")
        return reason.verdict if reason is not None and reason.kind == "fault" and reason.verdict else "unsupported"
    return "neutral" if rules_verdict == "neutral" or answer.reason == "no_clinical_claim" else "supported"


def fuse(rule: StepResult, answer: JudgeAnswer | None, policy: str) -> StepResult:
    """Combine the rules' decision on a step with the judge's answer under `policy` (module docs).

    Args:
        rule: The step validator's result.
        answer: The judge's answer; None when the judge was not asked.
        policy: One of `POLICIES`.

    Returns:
        The fused StepResult (`rule` itself when the rule decision stands).
    """
    policy = check_policy(policy)
    if answer is None or not answer.ok:
        return rule
    judge_good = answer.label == "good"
    if policy == "both-must-agree":
        if judge_good == rule.label:
            return rule
        return rule.model_copy(update={"label": False, "verdict": "unsure", "score": VERDICT_SCORE["unsure"]})
    if policy == "rules-first" and rule.verdict not in UNDECIDED_VERDICTS:
        return rule
    if judge_good == rule.label and rule.verdict != "unsure":
        return rule
    verdict = judge_verdict(answer, rule.verdict)
    # the reasons describe the fused label: a step the judge calls good keeps no fault code of the rules (their
    # decision stays in `rules_label` / `rules_verdict`), one it calls bad carries the judge's fault code
    if judge_good:
        reasons = [r for r in rule.reasons if r not in FAULTS]
    else:
        extra = [answer.reason] if answer.reason in FAULTS and answer.reason not in rule.reasons else []
        reasons = [*rule.reasons, *extra]
    return rule.model_copy(
        update={"label": judge_good, "verdict": verdict, "score": VERDICT_SCORE[verdict], "reasons": reasons}
    )


@dataclass
class JudgedStep:
    """One step after judging: the fused result, the rule decision and the judge's answer."""

    step: StepResult
    rules_label: bool
    rules_verdict: str
    answer: JudgeAnswer | None = None
    judge_model: str | None = None
    judge_prompt_sha256: str | None = None

    def judge_columns(self) -> dict[str, Any]:
        """The `JUDGE_FIELDS` values (all None when the judge was not asked)."""
        a = self.answer
        if a is None:
            return {f.name: None for f in JUDGE_FIELDS}
        return {
            "rules_label": self.rules_label, "rules_verdict": self.rules_verdict, "judge_label": a.label,
            "judge_reason": a.reason, "judge_evidence": a.evidence, "judge_error": a.error,
            "judge_model": self.judge_model, "judge_prompt_sha256": self.judge_prompt_sha256,
        }

    def row(self) -> dict[str, Any]:
        """A step-table row: the fused StepResult's columns, then the judge columns."""
        return {**self.step.model_dump(), **self.judge_columns()}


@dataclass
class JudgeAgreement:
    """Rules-vs-judge 2x2 counts over the steps the judge answered (bad = positive class).

    Steps whose rule verdict is `unsure` are left out (the rules abstained) and counted in `rules_unsure`.
    """

    both_bad: int = 0
    rules_bad_judge_good: int = 0
    rules_good_judge_bad: int = 0
    both_good: int = 0
    rules_unsure: int = 0

    def add(self, rules_label: bool, rules_verdict: str, judge_label: str) -> None:
        """Count one answered step."""
        if rules_verdict == "unsure":
            self.rules_unsure += 1
            return
        judge_good = judge_label == "good"
        if rules_label:
            self.both_good += judge_good
            self.rules_good_judge_bad += not judge_good
        else:
            self.rules_bad_judge_good += judge_good
            self.both_bad += not judge_good

    @property
    def n(self) -> int:
        """Steps in the 2x2 table."""
        return self.both_bad + self.rules_bad_judge_good + self.rules_good_judge_bad + self.both_good

    @property
    def agreement(self) -> float | None:
        """Share of the table on the diagonal, None when empty."""
        return (self.both_bad + self.both_good) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa (`radprm.review.agreement.cohen_kappa`), None when undefined."""
        return cohen_kappa(self.both_bad, self.rules_bad_judge_good, self.rules_good_judge_bad, self.both_good)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"n": self.n, "agreement": self.agreement, "kappa": self.kappa, "both_bad": self.both_bad,
                "rules_bad_judge_good": self.rules_bad_judge_good, "rules_good_judge_bad": self.rules_good_judge_bad,
                "both_good": self.both_good, "rules_unsure": self.rules_unsure}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@dataclass
class JudgeSummary:
    """What the judge did in one run: steps asked and answered, failures, label changes, agreement."""

    scope: str
    policy: str
    model: str
    base_url: str
    prompt: str
    steps: int = 0
    asked: int = 0
    answered: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    good: int = 0
    agreement: JudgeAgreement = field(default_factory=JudgeAgreement)
    metrics: ClientMetrics | None = None

    def add(self, judged: JudgedStep) -> None:
        """Count one step (asked or not)."""
        self.steps += 1
        self.good += judged.step.label
        a = judged.answer
        if a is None:
            return
        self.asked += 1
        if not a.ok:
            self.failed[a.error or "unknown"] += 1
            return
        self.answered += 1
        self.agreement.add(judged.rules_label, judged.rules_verdict, a.label)
        before = "unsure" if judged.rules_verdict == "unsure" else ("good" if judged.rules_label else "bad")
        after = "unsure" if judged.step.verdict == "unsure" else ("good" if judged.step.label else "bad")
        if before != after:
            self.changed[f"{before}->{after}"] += 1

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (summary files)."""
        m = self.metrics
        return {
            "scope": self.scope, "policy": self.policy, "model": self.model, "base_url": self.base_url,
            "prompt": self.prompt, "steps": self.steps, "asked": self.asked, "answered": self.answered,
            "failed": dict(self.failed), "changed": dict(self.changed), "good": self.good,
            "agreement": self.agreement.as_dict(),
            "requests": m.requests if m else None, "cache_hits": m.cache_hits if m else None,
        }

    def render(self) -> str:
        """Lines for the run summary."""
        m = self.metrics
        failed = ", ".join(f"{k}={v}" for k, v in self.failed.most_common()) or "none"
        changed = ", ".join(f"{k}={v}" for k, v in sorted(self.changed.items())) or "none"
        ag = self.agreement
        lines = [
            f"judge: {self.model} at {self.base_url}, prompt {self.prompt}, --judge {self.scope}, "
            f"--judge-policy {self.policy}",
            f"judge: asked {self.asked} of {self.steps} steps, answered {self.answered}, failed: {failed}"
            + (f"; requests {m.requests}, cache hits {m.cache_hits}" if m else ""),
            f"judge: labels changed: {changed}; after the judge good={self.good} bad={self.steps - self.good}",
            f"agreement rules vs judge: n={ag.n} agreement={_fmt(ag.agreement)} kappa={_fmt(ag.kappa)} "
            f"(rules unsure left out: {ag.rules_unsure})",
        ]
        return "\n".join(lines)


class StepJudge:
    """Asks an LLM judge about reasoning steps and fuses its labels with the rule labels.

    Use it as a context manager (or call `open` / `close`) for synchronous batch runs
    (`judged_rows`); a running asyncio job calls `judge_chain` with its own client instead.

    Args:
        scope: ``undecided`` or ``all`` (module docs).
        policy: ``rules-first``, ``judge-first`` or ``both-must-agree`` (module docs); None: rules-first.
        base_url: Judge server URL ending in /v1. None: $RADPRM_BASE_URL, else the `make serve` server.
        model: Served model name. None: $RADPRM_MODEL, else the `make serve` model.
        concurrency: Most judge requests in flight at once.
        timeout: Seconds per request.
        max_retries: Retries of 5xx, 429, timeouts and connection errors per request.
        cache: Request cache file (or an open `RequestCache`). None: ``$RADPRM_CACHE/judge-cache.sqlite``
            (``~/.cache/radprm``), shared by every run so that no step is asked twice.
        prompts_dir: Prompt folder holding ``judge/v<N>.yaml``; None: the packaged prompts.

    Raises:
        InputError: unknown scope or policy.
        ModelError: no server URL or model name can be found (the message says to pass --base-url or
            run `make serve`).
        PromptError: the judge prompt is missing or malformed.
    """

    def __init__(
        self,
        scope: str = "undecided",
        *,
        policy: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 4,
        cache: str | Path | RequestCache | None = None,
        prompts_dir: str | Path | None = None,
    ) -> None:
        self.scope = check_scope(scope)
        self.policy = check_policy(policy)
        self.base_url, self.model = resolve_judge_server(base_url, model)
        if concurrency < 1:
            raise InputError(f"concurrency {concurrency} must be at least 1", field="concurrency")
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.template: PromptTemplate = PromptRegistry(prompts_dir).get(JUDGE_PROMPT)
        self.sampling = JUDGE_SAMPLING
        self._cache_arg = cache
        self.metrics = ClientMetrics()
        self.summary = JudgeSummary(self.scope, self.policy, self.model, self.base_url, self.template.label,
                                    metrics=self.metrics)
        self.client: LLMClient | None = None
        self._cache: RequestCache | None = None
        self._own_cache = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.first_bad: dict[str, int] = {}

    # --- lifecycle (synchronous runs) --------------------------------------------------------------
    def open(self) -> StepJudge:
        """Check the server (one short attempt) and open the client and cache. Idempotent.

        Raises:
            ModelError: the server does not answer at `base_url`, or does not serve `model`.
        """
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(connect_check(self.base_url, self.model))
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        if isinstance(self._cache_arg, RequestCache):
            self._cache = self._cache_arg
        else:
            self._cache, self._own_cache = RequestCache(self._cache_arg or default_cache_path()), True
        self.client = self.make_client(self._cache)
        return self

    def make_client(self, cache: RequestCache | None) -> LLMClient:
        """A client for the judge server (the server was checked already)."""
        return LLMClient(self.base_url, self.model, concurrency=self.concurrency, timeout=self.timeout,
                         max_retries=self.max_retries, metrics=self.metrics, cache=cache, check_model=False)

    def close(self) -> None:
        """Close the client, the cache (when opened here) and the event loop. Idempotent."""
        if self._loop is None:
            return
        if self.client is not None:
            self._loop.run_until_complete(self.client.aclose())
            self.client = None
        if self._own_cache and self._cache is not None:
            self._cache.close()
        self._cache = None
        self._loop.close()
        self._loop = None

    def __enter__(self) -> StepJudge:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- asking -------------------------------------------------------------------------------------
    def wants(self, step: StepResult) -> bool:
        """Whether the judge is asked about this step under `scope`."""
        return self.scope == "all" or step.verdict in UNDECIDED_VERDICTS

    def messages(self, chain: Chain, report: Report, index: int) -> list[dict[str, str]]:
        """The judge prompt for step `index` of `chain` (with the steps before it)."""
        before = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(chain.steps[:index])) or "(none)"
        return self.template.render(report=report.text, question=chain.question or "(none)", previous=before,
                                    step=chain.steps[index])

    async def ask(self, client: LLMClient, chain: Chain, report: Report, index: int) -> JudgeAnswer:
        """Ask the judge about step `index` (cached by model, messages, schema, sampling and prompt)."""
        messages = self.messages(chain, report, index)
        key = client.key_for(messages, JudgeResponse, self.sampling, extra={"prompt": self.template.label})
        res = await client.complete_json(messages, JudgeResponse, sampling=self.sampling, schema_name="judge",
                                         cache_key=key)
        if res.ok and isinstance(res.parsed, JudgeResponse):
            p = res.parsed
            return JudgeAnswer(label=p.label, reason=p.reason, evidence=p.evidence.strip() or None,
                               raw_text=res.raw_text, cached=res.cached)
        return JudgeAnswer(error=res.error_code or "bad_response", detail=res.error_detail, raw_text=res.raw_text)

    async def judge_chain(self, client: LLMClient, chain: Chain, report: Report,
                          steps: list[StepResult]) -> list[JudgedStep]:
        """Judge the wanted steps of one chain concurrently and fuse each with its rule result.

        Args:
            client: The client to send through (its cache and concurrency bound apply).
            chain: The chain (question and step texts).
            report: Its report.
            steps: The validator's results, one per step of `chain`, in order.

        Returns:
            One JudgedStep per step, in order; also counted in `summary`.

        Raises:
            ModelError: the server failed too many calls in a row (the client's fail-fast).
        """
        asked = [i for i, s in enumerate(steps) if self.wants(s)]
        answers = dict(zip(asked, await asyncio.gather(*(self.ask(client, chain, report, i) for i in asked)),
                           strict=True))
        sha = self.template.sha
        out = []
        for i, s in enumerate(steps):
            a = answers.get(i)
            judged = JudgedStep(fuse(s, a, self.policy), s.label, s.verdict, a,
                                self.model if a is not None else None, sha if a is not None else None)
            self.summary.add(judged)
            out.append(judged)
        self.first_bad[chain.chain_id] = first_bad_step([j.step for j in out])
        return out

    def judge_chains(self, chains: Iterable[tuple[Chain, Report, list[StepResult]]]) -> Iterator[
            tuple[Chain, list[JudgedStep]]]:
        """Judge chains in batches on this judge's own client (opens it when needed), streaming results."""
        self.open()
        batch: list[tuple[Chain, Report, list[StepResult]]] = []
        size = self.concurrency * CHAINS_PER_BATCH_PER_SLOT
        for item in chains:
            batch.append(item)
            if len(batch) >= size:
                yield from self._run_batch(batch)
                batch = []
        if batch:
            yield from self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[Chain, Report, list[StepResult]]]) -> list[tuple[Chain, list[JudgedStep]]]:
        async def run() -> list[list[JudgedStep]]:
            return await asyncio.gather(*(self.judge_chain(self.client, c, r, s) for c, r, s in batch))

        results = self._loop.run_until_complete(run())
        return [(c, judged) for (c, _, _), judged in zip(batch, results, strict=True)]

    # --- step tables (radprm validate) ------------------------------------------------------------
    def judged_rows(self, rows: Iterable[dict[str, Any]], contexts: dict[str, tuple[Chain, Report]],
                    quarantine: Any = None, source_path: str | Path | None = None) -> Iterator[dict[str, Any]]:
        """Judge a stream of step-table rows (StepResult dicts, a chain's steps consecutive).

        Args:
            rows: Rows as the validator writes them.
            contexts: chain_id -> (chain, report), filled by the producer of `rows` before their rows;
                entries are removed once used.
            quarantine: A QuarantineSink for failed judge calls (stage ``judge``).
            source_path: The chains file, recorded on quarantine records.

        Yields:
            Fused rows with the `JUDGE_FIELDS` columns.
        """

        extra: dict[tuple[str, int], dict[str, Any]] = {}  # columns of an earlier stage (the PRM reader's)
        for chain, judged in self.judge_chains(chain_steps(rows, contexts.pop, extra)):
            for j in judged:
                if quarantine is not None and j.answer is not None and not j.answer.ok:
                    quarantine_failure(quarantine, chain, j, source_path)
                yield {**j.row(), **extra.pop((j.step.chain_id, j.step.step_index), {})}

    # --- shard items (radprm mine) ------------------------------------------------------------------
    async def judge_item(self, client: LLMClient, item: Item, report: Report,
                         quarantine: Any = None) -> tuple[Item, list[dict[str, Any]]]:
        """Judge a mined item's steps with the job's client; returns the fused item and sidecar rows.

        The item's steps take the fused label, verdict and score, `first_bad_step` follows the fused
        labels, and the judge prompt joins `prompts`. The per-step judge columns (shard rows have no
        place for them) come back as rows for `SIDECAR` (item_id, step_index, label, verdict + judge columns).
        """
        chain = Chain(chain_id=item.item_id, report_id=item.report_id, question=item.question, options=item.options,
                      answer=item.answer, steps=[s.text for s in item.steps], model_answer=item.model_answer)
        rules = [StepResult(chain_id=item.item_id, step_index=s.index, step=s.text, label=s.label, verdict=s.verdict,
                            reasons=s.reasons, evidence=s.evidence, score=s.score) for s in item.steps]
        judged = await self.judge_chain(client, chain, report, rules)
        steps = [s.model_copy(update={"label": j.step.label, "verdict": j.step.verdict, "score": j.step.score})
                 for s, j in zip(item.steps, judged, strict=True)]
        prompts = list(item.prompts)
        if self.template.ref not in prompts:
            prompts.append(self.template.ref)
        fused = item.model_copy(update={"steps": steps, "first_bad_step": first_bad_step(steps),
                                        "prompts": prompts})
        rows = []
        for j in judged:
            if j.answer is None:
                continue
            if quarantine is not None and not j.answer.ok:
                quarantine_failure(quarantine, chain, j, report.source_path or None, report.source_row)
            rows.append({"item_id": item.item_id, "step_index": j.step.step_index, "label": j.step.label,
                         "verdict": j.step.verdict, **j.judge_columns()})
        return fused, rows

    @property
    def prompt_labels(self) -> list[str]:
        """`judge@vN:sha` (full sha), for a mining job's identity."""
        return [f"{self.template.id}@v{self.template.version}:{self.template.sha}"]

    def append_sidecar(self, run_dir: str | Path, rows: list[dict[str, Any]]) -> None:
        """Append a written item's judge rows to `<run_dir>/judge_steps.jsonl`."""
        append_sidecar(run_dir, rows)

    def write_summary(self, run_dir: str | Path) -> Path:
        """Write `<run_dir>/judge_summary.json` (a mining job; requests are in the job's own metrics)."""
        from radprm import run

        data = self.summary.as_dict()
        if not self.metrics.calls:  # the job's client was used, not ours
            data["requests"] = data["cache_hits"] = None
        path = Path(run_dir) / SUMMARY_FILE
        run.write_text_atomic(path, json.dumps(data, indent=2) + "\n")
        return path

    def patch_chain_rows(self, chain_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain-table rows with `first_bad_step` recomputed from the fused labels (in place)."""
        for row in chain_rows:
            if row["chain_id"] in self.first_bad:
                row["first_bad_step"] = self.first_bad[row["chain_id"]]
        return chain_rows


def make_judge(judge: str | StepJudge | None, policy: str | None = None, **options: Any) -> StepJudge | None:
    """The `StepJudge` for the `judge` / `judge_policy` / server options of a run (None: no judge).

    Args:
        judge: ``undecided``, ``all``, a ready `StepJudge` (returned as is) or None.
        policy: ``--judge-policy``; only allowed with a judge.
        **options: `StepJudge` keywords (base_url, model, concurrency, ...).

    Raises:
        InputError: a policy without a judge, or an unknown scope or policy.
        ModelError: no server can be found.
    """
    if judge is None:
        if policy is not None:
            raise InputError("--judge-policy needs --judge", field="judge_policy",
                             hint="add --judge undecided or --judge all")
        return None
    if isinstance(judge, StepJudge):
        return judge
    return StepJudge(judge, policy=policy, **options)


def quarantine_failure(sink: Any, chain: Chain, judged: JudgedStep, source_path: str | Path | None = None,
                       source_row: int | None = None) -> None:
    """Record a failed judge call: stage ``judge``, reason ``judge_<error code>``, raw answer as payload."""
    a = judged.answer
    sink.add(record_id=f"{chain.chain_id}#{judged.step.step_index}", report_id=chain.report_id,
             chain_id=chain.chain_id, stage=QUARANTINE_STAGE,
             reason_code=f"judge_{a.error}", source_path=str(source_path) if source_path else None,
             source_row=source_row, field="step",
             detail=f"judge call failed ({a.error}): {a.detail or ''}; the rule label was kept"[:2000],
             payload=a.raw_text)


def default_cache_path() -> Path:
    """``$RADPRM_CACHE/judge-cache.sqlite`` (default ``~/.cache/radprm/judge-cache.sqlite``)."""
    import os

    return Path(os.environ.get("RADPRM_CACHE", Path.home() / ".cache" / "radprm")) / "judge-cache.sqlite"


def resolve_judge_server(base_url: str | None, model: str | None) -> tuple[str, str]:
    """The judge's server URL and model: given, else $RADPRM_BASE_URL / $RADPRM_MODEL, else `make serve`'s.

    Raises:
        ModelError: none can be found; the message says to pass --base-url or run `make serve`.
    """
    from radprm.miners.config import resolve_server

    try:
        return resolve_server(base_url, model)
    except ModelError as exc:
        if exc.field == "base_url":
            raise ModelError(
                "--judge needs a model server and none was given", field="base_url",
                hint="pass --base-url http://HOST:PORT/v1, or run `make serve`, which starts a local one and "
                     "prints its URL",
            ) from None
        raise


async def connect_check(base_url: str, model: str) -> list[str]:
    """One short attempt at GET /models: fail at once, naming the URL, when the server is down.

    Raises:
        ModelError: unreachable server, or `model` not served.
    """
    probe = LLMClient(base_url, model, max_retries=0, timeout=CONNECT_TIMEOUT, check_model=False)
    try:
        return await probe.check_server()
    finally:
        await probe.aclose()


def append_sidecar(run_dir: str | Path, rows: list[dict[str, Any]]) -> None:
    """Append a written item's judge rows to `<run_dir>/judge_steps.jsonl` (`SIDECAR`)."""
    if rows:
        with open(Path(run_dir) / SIDECAR, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_sidecar(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a mining job's `judge_steps.jsonl`, the last row per (item_id, step_index) kept.

    An item rebuilt after a crash (its shard had not committed) appends its rows again; they are equal.
    """
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                rows[(row["item_id"], row["step_index"])] = row
    return list(rows.values())
