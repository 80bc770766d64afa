"""`radprm label rollouts`: Monte-Carlo step labels (Math-Shepherd, OmegaPRM) for the items of a shard directory.

For each step prefix of an item (steps 1..k), the model writes `n` continuations to a final answer
**without the report** (it sees the question, the options and the prefix: with the report in context
every continuation just re-reads the answer and the label carries no signal). Each continuation's answer
is scored with the item's answer reward (`radprm.validators.scoring.answer_reward`: exact match, set
Jaccard for multi-label). For step k:

* ``mc_score``: mean reward of the prefix's scored rollouts (Math-Shepherd's soft estimate);
* ``mc_label``: Math-Shepherd's hard estimate: True when at least one rollout reaches the reference
  answer (reward >= ``threshold``, 1.0 by default: an exact answer or the exact set), else False;
* ``mc_rollouts``: rollouts scored (0 when the label was inferred by the binary search).

One request per prefix asks for all `n` continuations (OpenAI ``n``), and every prefix's prompt starts
with the previous prefix's prompt, so vLLM's prefix caching shares the question and the earlier steps.

Search (``--search``):

* ``linear``: every prefix is rolled out (K requests for K steps).
* ``binary`` (OmegaPRM): binary search for the first prefix from which no rollout reaches the answer,
  assuming that a prefix that can still reach the answer has only good steps before it. Steps before
  that prefix's last step are labelled good, the step itself bad, and the steps after it bad
  (Math-Shepherd: nothing after the first error is good); labels that were not rolled out have
  ``mc_rollouts == 0`` and ``mc_score`` None. About log2(K)+1 requests per item.

Unusable continuations (truncated at ``max_tokens``, malformed, schema-violating) are not scored (they
say nothing about the answer) and are counted in the summary; a prefix with no usable continuation
keeps ``mc_label`` None and gets a quarantine record (stage ``rollout``, reason ``rollout_<code>``),
and the item is still written. Items without steps (``no_steps``) or without a verifiable reference
answer (``no_answer``) are quarantined and not written.

The run folder mirrors a mining job's (`radprm.miners.job`): ``job.json`` (identity, compared on
``--resume``), ``ledger.sqlite``, ``cache.sqlite`` (requests by content: a resumed run re-sends nothing
answered), ``shards/`` (schema v2 copies of the items with their rollout labels), ``quarantine/`` and
``summary.json`` (requests, tokens, seconds, per-item cost). An item is marked written only after the
shard holding it is committed, so a `kill -9` and ``--resume`` writes every item exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import radprm
from radprm import run
from radprm.errors import InputError
from radprm.miners.budget import Budget
from radprm.miners.cache import RequestCache
from radprm.miners.client import LLMClient, SamplingParams
from radprm.miners.config import (
    COMMIT_EVERY_OPTION,
    LLM_PANEL,
    MAX_RETRIES_OPTION,
    MODEL_OPTION,
    SHARD_ROWS_OPTION,
    STRICT_OPTION,
    TOP_P_OPTION,
    OptionsModel,
    option,
    resolve_server,
    shards_out,
)
from radprm.miners.ledger import QUARANTINED, WRITTEN, Ledger, LedgerQuarantine
from radprm.miners.metrics import ClientMetrics
from radprm.prompts.registry import PromptRegistry, PromptTemplate
from radprm.schemas.llm import RolloutResponse, with_answer_options
from radprm.schemas.records import Item
from radprm.shards.location import locate

SEARCHES = ("linear", "binary")
ROLLOUT_PROMPT = "rollout"
JOB_FILE = "job.json"
SUMMARY_FILE = "summary.json"
QUARANTINE_STAGE = "rollout"
# kept in step with radprm.validators.judge.SIDECAR (importing the judge loads medspaCy); a test compares them
JUDGE_SIDECAR = "judge_steps.jsonl"
_ROLLOUT = SamplingParams(temperature=1.0, max_tokens=128)
"""Rollout sampling defaults: temperature 1 for diverse continuations (as in Math-Shepherd); 128 tokens
hold two short steps and an answer."""


class RolloutConfig(OptionsModel):
    """Every option of a rollout-labelling job (identity options are compared on `--resume`)."""

    # --- identity: what the job produces --------------------------------------------------------------
    shards: str | None = option(None, "Input shard directory (absolute path) or a pyarrow URI (s3://bucket/prefix).",
                                identity=True, cli=False,
                                name="SHARDS")
    model: str | None = MODEL_OPTION
    n: int = option(8, "Rollouts per step prefix (one request with n answers).", identity=True, panel=LLM_PANEL,
                    ge=1, le=64)
    search: str = option("linear", "linear (roll out every prefix) or binary (OmegaPRM: find the first failing "
                         "prefix in about log2(steps)+1 requests).", identity=True)
    threshold: float = option(1.0, "A rollout reaches the answer when its reward is at least this (hard label).",
                              identity=True, gt=0.0, le=1.0)
    max_items: int | None = option(None, "Label at most this many items (in shard order).", identity=True, ge=1)
    temperature: float = option(_ROLLOUT.temperature, "Sampling temperature of the rollouts.", identity=True,
                                panel=LLM_PANEL, ge=0.0, le=2.0)
    top_p: float = TOP_P_OPTION
    max_tokens: int = option(_ROLLOUT.max_tokens, "Completion budget per rollout.", identity=True, panel=LLM_PANEL,
                             ge=1)
    seed: int | None = option(0, "Base seed (prefix k samples with seed + k).", identity=True, panel=LLM_PANEL)

    # --- operational: how this session runs -----------------------------------------------------------
    base_url: str | None = option(
        None, "OpenAI-compatible server URL ending in /v1. Default: $RADPRM_BASE_URL, else the server "
        "`make serve` started.", identity=False, panel=LLM_PANEL,
    )
    concurrency: int = option(8, "Requests in flight at once.", identity=False, panel=LLM_PANEL, ge=1)
    timeout: float = option(300.0, "Seconds per request (n answers).", identity=False, panel=LLM_PANEL, ge=0.1)
    max_retries: int = MAX_RETRIES_OPTION
    prompts_dir: Path | None = option(None, "Prompt folder. Default: $RADPRM_PROMPTS_DIR, else the packaged "
                                      "prompts.", identity=False)
    cache: Path | None = option(None, "Request cache file. Default: <run-dir>/cache.sqlite.", identity=False)
    shard_rows: int = SHARD_ROWS_OPTION
    commit_every: float = COMMIT_EVERY_OPTION
    strict: bool = STRICT_OPTION
    dry_run: bool = option(False, "Print the budget estimate and stop (nothing is asked or written).",
                           identity=False)

    @classmethod
    def from_options(cls, **options: Any) -> RolloutConfig:
        """Validate options (API keywords or CLI values); resolves the server like `radprm mine`.

        Raises:
            InputError: an unknown option or a bad value (naming it), or an unknown `search`.
            ModelError: no server URL or model can be found.
        """
        if options.get("shards") is not None:  # a local folder (made absolute) or a URI (s3://bucket/prefix)
            options["shards"] = shards_out(options["shards"], "SHARDS")
        cfg = cls.validated("rollout", options)
        if cfg.search not in SEARCHES:
            raise InputError(f"unknown search {cfg.search!r}", field="search",
                             hint=f"choose from {', '.join(SEARCHES)}")
        cfg.base_url, cfg.model = resolve_server(cfg.base_url, cfg.model)
        return cfg

    def sampling(self) -> SamplingParams:
        """Sampling of one rollout request."""
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                              seed=self.seed)

    def identity(self, prompt: str) -> dict[str, Any]:
        """What `job.json` stores and `--resume` compares (identity options plus the prompt label)."""
        return {**self.model_dump(mode="json", include=set(self.fields_where("identity"))), "prompt": prompt}


# --- labelling one item ---------------------------------------------------------------------------------
PLAN_BATCH = 256
"""Items planned in the ledger per transaction."""


def has_answer(item: Item) -> bool:
    """Whether the item has a reference answer a rollout can be scored against.

    An empty answer is one only for a multi-label question with options ("none of them").
    """
    return bool(item.answer) or (item.task == "multi_label" and bool(item.options))


def _problem(item: Item) -> str | None:
    """Why an item cannot be rolled out (a quarantine reason code), or None."""
    if not item.steps:
        return "no_steps"
    return None if has_answer(item) else "no_answer"


def rollout_messages(template: PromptTemplate, item: Item, k: int) -> list[dict[str, str]]:
    """The rollout prompt for the prefix of the first `k` steps (question, options, steps; never the report)."""
    steps = "\n".join(f"{i + 1}. {s.text}" for i, s in enumerate(item.steps[:k]))
    return template.render(question=item.question, options=", ".join(item.options), steps=steps)


def response_model(item: Item) -> type[RolloutResponse]:
    """`RolloutResponse` with the answer narrowed to the item's options (multi-label may answer none)."""
    if not item.options:
        return RolloutResponse
    return _narrowed(tuple(item.options), item.task == "multi_label")


_NARROWED: dict[tuple[tuple[str, ...], bool], type[RolloutResponse]] = {}


def _narrowed(options: tuple[str, ...], multi: bool) -> type[RolloutResponse]:
    # one class per option set: the client memoises schemas per class
    key = (options, multi)
    if key not in _NARROWED:
        _NARROWED[key] = with_answer_options(RolloutResponse, list(options), multi=multi, min_answers=0)
    return _NARROWED[key]  # type: ignore[return-value]


@dataclass
class Probe:
    """The rollouts of one prefix: their rewards, and why the unusable ones are unusable."""

    k: int
    rewards: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    error_detail: str | None = None
    raw: str | None = None
    cached: bool = False

    @property
    def scored(self) -> bool:
        """At least one rollout was scored."""
        return bool(self.rewards)

    def score(self) -> float | None:
        """Mean reward (None when nothing was scored)."""
        return sum(self.rewards) / len(self.rewards) if self.rewards else None

    def reached(self, threshold: float) -> bool | None:
        """Some rollout reached the answer (None when nothing was scored)."""
        return any(r >= threshold for r in self.rewards) if self.rewards else None


def expected_requests(n_steps: int, search: str) -> int:
    """Requests one item costs at most: every prefix (linear), or a binary search over the prefixes."""
    if n_steps <= 0:
        return 0
    return n_steps if search == "linear" else math.floor(math.log2(n_steps)) + 1


class ItemLabeller:
    """Rolls out an item's prefixes through the client and returns the item with its rollout labels.

    Args:
        client: the job's client (request cache attached).
        template: the rollout prompt.
        config: the job's options.
    """

    def __init__(self, client: LLMClient, template: PromptTemplate, config: RolloutConfig) -> None:
        from radprm.validators.scoring import answer_reward

        self.client = client
        self.template = template
        self.cfg = config
        self.sampling = config.sampling()
        self._reward = answer_reward
        self.rollout_errors: Counter = Counter()
        self.probes = 0
        self.sampling_json = json.dumps(
            {"n": config.n, "search": config.search, "threshold": config.threshold, **self.sampling.as_dict()},
            sort_keys=True,
        )

    async def probe(self, item: Item, k: int) -> Probe:
        """Roll out the prefix of the first `k` steps `n` times and score each answer."""
        messages = rollout_messages(self.template, item, k)
        model = response_model(item)
        sampling = self.sampling if self.sampling.seed is None else self.sampling.with_seed(self.sampling.seed + k)
        key = self.client.key_for(messages, model, sampling, extra={"prompt": self.template.label, "n": self.cfg.n})
        res = await self.client.complete_json_n(messages, model, sampling=sampling, n=self.cfg.n,
                                                schema_name=ROLLOUT_PROMPT, cache_key=key)
        self.probes += 1
        out = Probe(k=k, cached=res.cached)
        if not res.ok:
            out.errors[res.error_code or "bad_response"] += self.cfg.n
            out.error_detail, out.raw = res.error_detail, res.raw_text
        for choice in res.choices:
            if choice.parsed is None:
                out.errors[choice.error_code or "bad_response"] += 1
                out.error_detail, out.raw = choice.error_detail, choice.text
            else:
                out.rewards.append(self._reward(item.answer, choice.parsed.answer))  # type: ignore[attr-defined]
        self.rollout_errors.update(out.errors)
        return out

    async def label(self, item: Item) -> tuple[Item, list[Probe]]:
        """The item with `mc_*` set on every step it could label, and the probes made."""
        n_steps = len(item.steps)
        labels: list[tuple[float | None, bool | None, int]] = [(None, None, 0)] * n_steps
        if self.cfg.search == "linear":
            probes = list(await asyncio.gather(*(self.probe(item, k) for k in range(1, n_steps + 1))))
            for p in probes:
                labels[p.k - 1] = (p.score(), p.reached(self.cfg.threshold), len(p.rewards))
        else:
            probes = await self._binary(item, labels)
        steps = [
            s.model_copy(update={"mc_score": score, "mc_label": label, "mc_rollouts": count})
            for s, (score, label, count) in zip(item.steps, labels, strict=True)
        ]
        labelled = item.model_copy(update={
            "steps": steps, "mc_model": self.client.model, "mc_prompt": self.template.ref,
            "mc_sampling": self.sampling_json,
        })
        return labelled, probes

    async def _binary(self, item: Item, labels: list[tuple[float | None, bool | None, int]]) -> list[Probe]:
        """OmegaPRM's binary search for the first prefix from which no rollout reaches the answer."""
        lo, hi, first_bad = 1, len(item.steps), None
        probes: list[Probe] = []
        while lo <= hi:
            mid = (lo + hi) // 2
            p = await self.probe(item, mid)
            probes.append(p)
            reached = p.reached(self.cfg.threshold)
            labels[mid - 1] = (p.score(), reached, len(p.rewards))
            if reached is None:  # nothing scored: the search cannot go on; unprobed steps stay unlabelled
                return probes
            if reached:
                lo = mid + 1
            else:
                first_bad, hi = mid, mid - 1
        end = len(item.steps) if first_bad is None else first_bad - 1
        for i in range(len(item.steps)):
            if labels[i][2]:
                continue  # rolled out: keep what the rollouts said
            labels[i] = (None, i < end, 0)
        return probes


# --- the job ----------------------------------------------------------------------------------------------
def estimate(config: RolloutConfig, template: PromptTemplate) -> Budget:
    """The budget of labelling `config.shards`: requests (upper bound), prompt tokens (estimate), completion
    tokens (upper bound: n x max_tokens per request).

    Raises:
        ShardError: the input is not a readable shard directory.
        InputError: no item has a reference answer (rollouts cannot be scored), naming the first shard.
    """
    from radprm.shards.reader import read_items, shard_paths

    paths = shard_paths(config.shards)  # raises ShardError for a bad directory
    b = Budget("rollouts")
    steps = 0
    fixed = len(template.system) + len(template.user)
    answered = total = 0
    for item in read_items(config.shards):
        total += 1
        problem = _problem(item)
        if problem is not None:
            b.skipped[problem] += 1
            continue
        answered += 1
        if config.max_items is not None and b.items >= config.max_items:
            continue
        steps += len(item.steps)
        requests = expected_requests(len(item.steps), config.search)
        head = len(item.question) + sum(len(o) + 2 for o in item.options) + fixed
        lengths = [len(s.text) + 4 for s in item.steps]
        chars = [head + sum(lengths[:k]) for k in range(1, len(lengths) + 1)]
        # binary search asks about log2(K)+1 prefixes: charge the longest ones (an upper bound)
        b.add(sorted(chars)[-requests:] if requests else [], config.max_tokens, choices=config.n)
    if total and not answered:
        raise InputError(
            "no item has a reference answer to score rollouts against (answer is empty)",
            path=paths[0], row=1, field="answer",
            hint="rollout labels need questions with verifiable answers (radprm mine writes them)",
        )
    b.details = {"steps": steps, "n": config.n, "search": config.search}
    return b


@dataclass
class RolloutSummary:
    """End-of-job numbers: items, labels, quarantine, requests, tokens, time, cost per item."""

    run_dir: Path
    run_id: str
    budget: Budget
    items_written: int = 0
    items_this_session: int = 0
    steps_labelled: int = 0
    labels: Counter = field(default_factory=Counter)
    probes: int = 0
    rollout_errors: Counter = field(default_factory=Counter)
    quarantined: dict[str, int] = field(default_factory=dict)
    metrics: ClientMetrics = field(default_factory=ClientMetrics)
    cache: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    resumed: bool = False
    dry_run: bool = False

    @property
    def shards_dir(self) -> Path:
        """Where the labelled items are."""
        return self.run_dir / "shards"

    def per_item(self) -> dict[str, float | None]:
        """Cost of one item labelled this session: requests, tokens, seconds."""
        n = self.items_this_session
        if not n:
            return {"requests": None, "prompt_tokens": None, "completion_tokens": None, "seconds": None}
        m = self.metrics
        return {"requests": round(m.requests / n, 2), "prompt_tokens": round(m.prompt_tokens / n, 1),
                "completion_tokens": round(m.completion_tokens / n, 1), "seconds": round(self.elapsed_s / n, 2)}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (`summary.json`)."""
        return {
            "run_dir": str(self.run_dir), "run_id": self.run_id, "budget": self.budget.as_dict(),
            "items_written": self.items_written, "items_this_session": self.items_this_session,
            "steps_labelled": self.steps_labelled, "labels": dict(self.labels), "probes": self.probes,
            "rollout_errors": dict(self.rollout_errors), "quarantined": self.quarantined,
            "client": self.metrics.as_dict(), "cache": self.cache, "elapsed_s": round(self.elapsed_s, 3),
            "per_item": self.per_item(), "resumed": self.resumed,
        }

    def render(self) -> str:
        """Human summary."""
        if self.dry_run:
            return self.budget.render() + "\n(dry run: nothing asked or written)"
        q = ", ".join(f"{k} {v}" for k, v in self.quarantined.items()) or "none"
        per = self.per_item()
        cost = ("-" if per["requests"] is None else
                f"{per['requests']} requests, {per['prompt_tokens']} prompt + {per['completion_tokens']} completion "
                f"tokens, {per['seconds']} s")
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.rollout_errors.items())) or "none"
        labels = ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items())) or "none"
        return "\n".join([
            f"items         {self.items_written} written ({self.items_this_session} this session)",
            f"step labels   {self.steps_labelled} steps this session ({labels})",
            f"rollouts      {self.probes} prefixes rolled out; unusable rollouts: {errors}",
            f"quarantined   {sum(self.quarantined.values())} ({q})",
            self.metrics.render(),
            f"per item      {cost}",
            f"elapsed       {self.elapsed_s:.1f}s",
            f"shards        {self.shards_dir}",
            f"summary       {self.run_dir / SUMMARY_FILE}",
        ])


class RolloutJob:
    """One rollout-labelling job over a run folder. Most users call `label_rollouts()`.

    Args:
        config: the job's options.
        run_dir: the job folder.
        resume: continue the job in `run_dir` (identity options must match job.json).
        progress: show a progress bar on stderr.
        announce: called with the budget line before anything is asked (the CLI prints it).
    """

    def __init__(self, config: RolloutConfig, run_dir: str | Path, *, resume: bool = False, progress: bool = False,
                 announce: Any = None) -> None:
        self.cfg = config
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.progress = progress
        self.announce = announce
        self.template = PromptRegistry(config.prompts_dir).get(ROLLOUT_PROMPT)
        self.metrics = ClientMetrics()

    def run(self) -> RolloutSummary:
        """Run (or resume) the job to the end.

        Raises:
            InputError: bad input (no answers, not a shard directory), or resume with other options.
            ModelError: the server is unreachable or does not serve the model.
            RunError: with `strict`, anything was quarantined (the shards are committed first).
        """
        budget = estimate(self.cfg, self.template)
        if self.announce is not None:
            self.announce(budget.render())
        summary = RolloutSummary(run_dir=self.run_dir, run_id="", budget=budget, dry_run=self.cfg.dry_run)
        if self.cfg.dry_run:
            return summary
        summary = asyncio.run(self._run(summary))
        return run.finish(summary, produced=summary.items_written, quarantine=summary.quarantined,
                          strict=self.cfg.strict, noun="item", path=self.run_dir)

    def _prepare(self) -> dict[str, Any]:
        job_path = self.run_dir / JOB_FILE
        identity = self.cfg.identity(self.template.label)
        if job_path.exists():
            if not self.resume:
                raise InputError("run folder already holds a job", path=self.run_dir, field="run_dir",
                                 hint="pass --resume to continue it, or choose another --run-dir")
            stored = json.loads(job_path.read_text(encoding="utf-8"))
            for key, now in identity.items():
                was = stored["identity"].get(key)
                if was != now:
                    raise InputError(f"--{key.replace('_', '-')} differs from the job being resumed: was "
                                     f"{json.dumps(was)}, now {json.dumps(now)}", path=job_path, field=key,
                                     hint="resume with the job's options, or start a new --run-dir")
            return stored
        if self.resume:
            raise InputError("nothing to resume: no job.json in the run folder", path=self.run_dir, field="run_dir",
                             hint="drop --resume to start the job")
        stored = {"run_id": f"rollouts-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
                  "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "radprm_version": radprm.__version__, "identity": identity,
                  "prompt": self.template.ref.model_dump()}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        run.write_text_atomic(job_path, json.dumps(stored, indent=2) + "\n")
        return stored

    async def _run(self, summary: RolloutSummary) -> RolloutSummary:
        from radprm.shards.writer import ShardWriter

        t0 = time.perf_counter()
        client = LLMClient(self.cfg.base_url, self.cfg.model, concurrency=self.cfg.concurrency,
                           timeout=self.cfg.timeout, max_retries=self.cfg.max_retries, metrics=self.metrics)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(client.aclose)
            await client.check_server()  # fail fast, before any job state is written
            stored = self._prepare()
            summary.run_id = stored["run_id"]
            cache_path = Path(self.cfg.cache) if self.cfg.cache else self.run_dir / "cache.sqlite"
            cache = client.cache = stack.enter_context(RequestCache(cache_path))
            ledger = stack.enter_context(Ledger(self.run_dir / "ledger.sqlite"))
            quarantine = stack.enter_context(LedgerQuarantine(
                ledger, self.run_dir / "quarantine" / "quarantine.jsonl", run_id=summary.run_id))
            quarantine.reconcile()
            run_meta = {"run_id": summary.run_id, "job": stored["identity"], "source": self.cfg.shards,
                        "prompts": [self.template.ref.model_dump()]}
            writer = ShardWriter(self.run_dir / "shards", max_rows=self.cfg.shard_rows, run_meta=run_meta,
                                 on_commit=lambda info: ledger.mark_written(info.item_ids, info.shard))
            ledger.adopt_committed(writer)
            labeller = ItemLabeller(client, self.template, self.cfg)
            try:
                await self._pipeline(labeller, ledger, quarantine, writer, summary)
            except BaseException:
                writer.abort()  # the open shard's items are rebuilt from the cache on resume
                raise
            writer.close()
            self._carry_judge_sidecar()
            summary.items_written = ledger.counts()[WRITTEN]
            summary.quarantined = ledger.quarantine_counts()
            summary.probes = labeller.probes
            summary.rollout_errors = labeller.rollout_errors
            summary.metrics = self.metrics
            summary.cache = cache.stats().as_dict()
            summary.elapsed_s = time.perf_counter() - t0
            summary.resumed = self.resume
            run.write_text_atomic(self.run_dir / SUMMARY_FILE, json.dumps(summary.as_dict(), indent=2) + "\n")
        return summary

    def _carry_judge_sidecar(self) -> None:
        """Copy the mining job's judge sidecar (judge_steps.jsonl beside the input shards) beside the output
        shards, so `--labels judge` works on the labelled copy too (same item ids)."""
        if not locate(self.cfg.shards).local:
            return  # a remote input set: the sidecar stays in the mining job's local run folder
        source = Path(self.cfg.shards).parent / JUDGE_SIDECAR
        if source.is_file():
            run.write_bytes_atomic(self.run_dir / JUDGE_SIDECAR, source.read_bytes())

    async def _pipeline(self, labeller: ItemLabeller, ledger: Ledger, quarantine: LedgerQuarantine,
                        writer: Any, summary: RolloutSummary) -> None:
        from radprm.shards.reader import read_items

        queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=self.cfg.concurrency * 2)
        last_commit = time.monotonic()
        workers_n = max(1, self.cfg.concurrency // (1 if self.cfg.search == "binary" else 2))

        async def feed() -> None:
            taken = 0
            batch: list[Item] = []

            async def send(batch: list[Item]) -> None:
                # one ledger transaction and one status query per batch (a 100k-item input plans quickly)
                ledger.plan_items((i.item_id, i.report_id) for i in batch)
                states = ledger.statuses(i.item_id for i in batch)
                for item in batch:
                    if states.get(item.item_id) in (WRITTEN, QUARANTINED):
                        continue
                    problem = _problem(item)
                    if problem is not None:
                        quarantine.add(item_id=item.item_id, record_id=item.item_id, report_id=item.report_id,
                                       stage=QUARANTINE_STAGE, reason_code=problem, source_path=self.cfg.shards,
                                       field="steps" if problem == "no_steps" else "answer",
                                       detail="no steps to label" if problem == "no_steps" else
                                       "no reference answer to score rollouts against")
                        continue
                    await queue.put(item)

            for item in read_items(self.cfg.shards):
                if self.cfg.max_items is not None and taken >= self.cfg.max_items:
                    break
                taken += _problem(item) is None
                batch.append(item)
                if len(batch) >= PLAN_BATCH:
                    await send(batch)
                    batch = []
            await send(batch)
            for _ in range(workers_n):
                await queue.put(None)

        async def work(bar: Any) -> None:
            nonlocal last_commit
            while (item := await queue.get()) is not None:
                labelled, probes = await labeller.label(item)
                for p in probes:
                    if not p.scored:
                        code = next(iter(p.errors), "bad_response")
                        # chain_id (not item_id): the record names the item without marking it quarantined
                        quarantine.add(record_id=f"{item.item_id}:{p.k - 1}", chain_id=item.item_id,
                                       report_id=item.report_id, stage=QUARANTINE_STAGE,
                                       reason_code=f"rollout_{code}", source_path=self.cfg.shards,
                                       field=f"steps[{p.k - 1}]",
                                       detail=f"no usable rollout from the prefix ending at step {p.k - 1}: "
                                              f"{dict(p.errors)} ({p.error_detail or ''})"[:2000],
                                       payload=p.raw)
                if writer.write(labelled):
                    summary.items_this_session += 1
                    summary.steps_labelled += len(labelled.steps)
                    summary.labels.update("unlabelled" if s.mc_label is None else
                                          ("good" if s.mc_label else "bad") for s in labelled.steps)
                bar.advance()
                if time.monotonic() - last_commit > self.cfg.commit_every:
                    writer.flush()
                    last_commit = time.monotonic()

        with run.progress("rollouts", total=summary.budget.items, enabled=None if self.progress else False,
                          transient=False) as bar:
            tasks = {asyncio.create_task(feed()), *(asyncio.create_task(work(bar)) for _ in range(workers_n))}
            try:
                while tasks:
                    done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                    for task in done:
                        if task.exception() is not None:
                            raise task.exception()
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise


def label_rollouts(shards: str | Path, *, run_dir: str | Path, resume: bool = False, progress: bool = False,
                   announce: Any = None, **options: Any) -> RolloutSummary:
    """Label every step of the items of a shard directory with Monte-Carlo rollouts (see the module docs).

    Args:
        shards: input shard directory (schema v1 or v2).
        run_dir: job folder; the labelled items go to `<run_dir>/shards` (schema v2).
        resume: continue the job in `run_dir`; its identity options must match.
        progress: show a progress bar on stderr.
        announce: called with the one-line budget estimate before anything is asked (e.g. `print`).
        **options: fields of `RolloutConfig` (n, search, max_items, max_tokens, base_url, model, ...).

    Returns:
        The `RolloutSummary` (also `<run_dir>/summary.json`).

    Raises:
        InputError: bad options; no item with a reference answer; resume with other options.
        ShardError: `shards` is not a readable shard directory.
        ModelError: the server is unreachable or does not serve the model.
        RunError: with `strict`, anything was quarantined; every item quarantined.
    """
    cfg = RolloutConfig.from_options(shards=shards, **options)
    return RolloutJob(cfg, run_dir, resume=resume, progress=progress, announce=announce).run()


__all__ = [
    "SEARCHES", "Budget", "ItemLabeller", "Probe", "RolloutConfig", "RolloutJob", "RolloutSummary", "estimate",
    "expected_requests", "has_answer", "label_rollouts", "response_model", "rollout_messages",
]
