"""The offline batch path: `radprm batch prepare | ingest | run` around `vllm run-batch`.

A batch round is the mining job (`MiningJob`, same run folder, job.json, ledger, cache, shards and
quarantine as `radprm mine`) run with a client that never sends a request:

* **prepare**: every call the request cache cannot answer becomes one line of OpenAI batch JSONL
  (``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``) with ``custom_id`` = the
  request cache key, and its chain waits (the item stays pending). Chains whose calls are all cached are
  finished and written as usual.
* **ingest**: the results JSONL (``{"custom_id", "response": {"status_code", "body"}, "error"}``, what
  `vllm run-batch` and the OpenAI Batch API write) answers those calls: each answer is checked like an
  online one (finish reason, JSON schema), stored in the cache and ledger, and every chain advances as far
  as the cache now goes (a chain whose last call was answered is validated and written to a shard).
  A result line with an error is asked again in the next round.
* **run**: prepare -> `vllm run-batch` -> ingest until no call is left (plan -> analysis -> refine is
  three rounds; a resampled invalid answer one more, and so does the re-ask of an image-style
  chain citing the report).

Because the items are built by the same code from the same cache entries, a batch job's items equal
those of `radprm mine` over the same cache contents (same ids, steps, labels). A resampled retry of an
invalid answer (new seed) is sent as ``custom_id`` = ``KEY#1`` (``#2`` ...).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm import run
from radprm.errors import InputError, ModelError
from radprm.miners.chains import ChainOutcome
from radprm.miners.client import INVALID_OUTPUT_CODES, LLMClient, SamplingParams, _Attempt
from radprm.miners.config import MineConfig
from radprm.miners.items import WorkItem
from radprm.miners.job import JOB_FILE, MiningJob
from radprm.miners.summary import MineSummary
from radprm.tables import read_jsonl_numbered

DEFERRED = "deferred"
BATCH_URL = "http://offline-batch/v1"  # the `server_host` of items answered by a batch ("offline-batch")
BATCH_DIR = "batch"
# each round finishes at least one call of every waiting chain: plan, analysis, refine + resampled retries
MAX_ROUNDS = 8

_CALL: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("radprm_batch_call", default=None)


def read_results(path: str | Path) -> dict[str, dict[str, Any]]:
    """A batch results JSONL by custom_id.

    Raises:
        InputError: missing file, or a line that is not a JSON object with a custom_id (naming the row).
    """
    path = Path(path)
    out: dict[str, dict[str, Any]] = {}
    try:
        for n, row in read_jsonl_numbered(path):
            if not isinstance(row.get("custom_id"), str):
                raise InputError("a batch result needs a string custom_id", path=path, row=n, field="custom_id")
            out[row["custom_id"]] = row
    except OSError as exc:
        raise InputError(f"cannot read the batch results: {exc.strerror}", path=path) from None
    return out


def _result_body(row: dict[str, Any]) -> dict[str, Any] | None:
    """The chat completion of a result line, or None when the line reports an error."""
    response = row.get("response") or {}
    if row.get("error") or response.get("status_code", 200) != 200:
        return None
    body = response.get("body")
    return body if isinstance(body, dict) else None


class DeferringClient(LLMClient):
    """An `LLMClient` that sends nothing: cache misses are answered from batch results or recorded as
    batch requests (and fail with the `deferred` code, which leaves the item pending)."""

    def __init__(self, *args: Any, results: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results = results or {}
        self.requests: dict[str, dict[str, Any]] = {}
        self.ingested = 0
        self.result_errors = 0

    async def check_server(self) -> list[str]:
        self.served_models = [self.model]
        return self.served_models

    async def complete_json(self, messages: list[dict], response_model: Any, *, sampling: SamplingParams,
                            schema_name: str = "response", cache_key: str | None = None, priority: int = 0) -> Any:
        if cache_key is None:
            raise ValueError("batch calls need a cache key (it is the custom_id)")
        token = _CALL.set([cache_key, 0])
        try:
            return await super().complete_json(messages, response_model, sampling=sampling,
                                               schema_name=schema_name, cache_key=cache_key, priority=priority)
        finally:
            _CALL.reset(token)

    async def _attempt(self, messages: list[dict], response_model: Any, request_fields: dict[str, Any],
                       sampling: SamplingParams, avoid: Any = None, priority: int = 0) -> _Attempt:
        import openai.types.chat

        state = _CALL.get()
        key, n = state
        custom_id = key if n == 0 else f"{key}#{n}"
        row = self.results.get(custom_id)
        if row is not None:
            body = _result_body(row)
            if body is not None:
                self.metrics.requests += 1
                try:
                    completion = openai.types.chat.ChatCompletion.model_validate(body)
                except ValueError as exc:
                    return _Attempt("bad_response", f"batch result {custom_id}: {type(exc).__name__}")
                a = self.read_response(completion, response_model, sampling)
                self.ingested += 1
                if a.code in INVALID_OUTPUT_CODES:
                    state[1] += 1  # a resample (new seed) is a new request: KEY#1
                return a
            self.result_errors += 1  # asked again next round
        params: dict[str, Any] = {"temperature": sampling.temperature, "top_p": sampling.top_p,
                                  "max_tokens": sampling.max_tokens}
        if sampling.seed is not None:
            params["seed"] = sampling.seed
        self.requests[custom_id] = {
            "custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": self.model, "messages": messages, **request_fields, **params},
        }
        return _Attempt(DEFERRED, "waiting for the offline batch")


class BatchJob(MiningJob):
    """One batch round over a mining job's folder (see the module docs)."""

    def __init__(self, cfg: MineConfig, run_dir: str | Path, *, results: dict[str, dict[str, Any]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(cfg, run_dir, resume=(Path(run_dir) / JOB_FILE).exists(), **kwargs)
        self.results = results
        self.deferred = 0
        self.client: DeferringClient | None = None

    def make_client(self) -> LLMClient:
        self.client = DeferringClient(self.cfg.base_urls, self.cfg.model, concurrency=self.cfg.concurrency,
                                      timeout=self.cfg.timeout, max_retries=0, metrics=self.metrics,
                                      fail_fast_after=None, check_model=False, results=self.results)
        return self.client

    def _note_citation(self, work: WorkItem, outcome: ChainOutcome) -> None:
        if outcome.error_code != DEFERRED:  # a deferred re-ask is counted in the round that answers it
            super()._note_citation(work, outcome)

    def _failed(self, work: WorkItem, outcome: ChainOutcome) -> None:
        if outcome.error_code == DEFERRED:
            self.deferred += 1  # stays pending: the next round asks its next call
            return
        super()._failed(work, outcome)

    def run(self) -> MineSummary:
        summary = asyncio.run(self._run())
        if self.deferred:  # not finished: the exit policy applies to the last round
            return summary
        return run.finish(summary, produced=summary.items_written, quarantine=summary.quarantined,
                          strict=self.cfg.strict, noun="record", path=self.run_dir)


@dataclass
class BatchRound:
    """What one batch step did."""

    summary: MineSummary
    requests_path: Path | None = None
    requests: int = 0
    ingested: int = 0
    result_errors: int = 0
    rounds: int = 1
    log: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """No call is left to ask."""
        return self.requests == 0

    def render(self) -> str:
        """Human summary: the job's, then the batch numbers."""
        lines = [self.summary.render()]
        if self.ingested or self.result_errors:
            lines.append(f"ingested      {self.ingested} answers ({self.result_errors} error lines asked again)")
        if self.requests:
            lines.append(f"next batch    {self.requests} requests in {self.requests_path}")
        else:
            lines.append(f"batch         done after {self.rounds} round(s): no call left to ask")
        return "\n".join(lines)


def _options(reports: str | Path, options: dict[str, Any]) -> MineConfig:
    options = dict(options)
    options["reports"] = reports
    options["base_url"] = options.get("base_url") or BATCH_URL
    options["engine"] = "local"
    return MineConfig.from_options(**options)


def _next_requests_path(run_dir: Path) -> Path:
    folder = run_dir / BATCH_DIR
    n = len(list(folder.glob("round-*.requests.jsonl"))) + 1 if folder.exists() else 1
    return folder / f"round-{n:03d}.requests.jsonl"


def _round(reports: str | Path, run_dir: str | Path, results: dict[str, dict[str, Any]] | None,
           out: str | Path | None, extractor: Any, validator: Any, options: dict[str, Any]) -> BatchRound:
    cfg = _options(reports, options)
    job = BatchJob(cfg, run_dir, results=results, extractor=extractor, validator=validator)
    summary = job.run()
    client = job.client
    assert client is not None
    rnd = BatchRound(summary, ingested=client.ingested, result_errors=client.result_errors)
    if client.requests:
        path = Path(out) if out else _next_requests_path(Path(run_dir))
        lines = [json.dumps(client.requests[k], ensure_ascii=False) for k in sorted(client.requests)]
        run.write_text_atomic(path, "\n".join(lines) + "\n")
        rnd.requests_path, rnd.requests = path, len(lines)
    return rnd


def prepare(reports: str | Path, *, run_dir: str | Path, out: str | Path | None = None, extractor: Any = None,
            validator: Any = None, **options: Any) -> BatchRound:
    """Write the next round's batch requests (JSONL, custom_id = cache key) for a mining job.

    Args:
        reports: The reports file (as for `radprm mine`).
        run_dir: The job folder (created on the first round; later rounds continue it).
        out: Requests file; default ``<run_dir>/batch/round-NNN.requests.jsonl``.
        extractor: FindingsExtractor to reuse.
        validator: StepValidator to reuse.
        **options: `MineConfig` fields, as for `radprm.miners.mine` (``model`` is required).

    Returns:
        The round (``requests == 0``: every chain is finished).
    """
    return _round(reports, run_dir, None, out, extractor, validator, options)


def ingest(reports: str | Path, *, run_dir: str | Path, results: str | Path, out: str | Path | None = None,
           extractor: Any = None, validator: Any = None, **options: Any) -> BatchRound:
    """Load batch results into the cache and ledger and advance every chain (writing finished items).

    Returns:
        The round; its requests (calls the chains need next) are written like `prepare`'s.
    """
    return _round(reports, run_dir, read_results(results), out, extractor, validator, options)


def runner_command(runner: str, requests: Path, results: Path, model: str) -> list[str]:
    """The command line of one `vllm run-batch` (``{input}``, ``{output}``, ``{model}`` are filled in;
    without ``{input}`` the usual ``-i IN -o OUT --model MODEL`` are appended)."""
    args = shlex.split(runner)
    if any("{input}" in a for a in args):
        return [a.format(input=requests, output=results, model=model) for a in args]
    return [*args, "-i", str(requests), "-o", str(results), "--model", model]


def run_batches(reports: str | Path, *, run_dir: str | Path, runner: str = "vllm run-batch",
                max_rounds: int = MAX_ROUNDS, extractor: Any = None, validator: Any = None,
                **options: Any) -> BatchRound:
    """prepare -> `runner` (vllm run-batch) -> ingest until no call is left or `max_rounds` ran.

    Raises:
        ModelError: the runner failed (its last output lines are in the message).
    """
    if extractor is None:  # loaded once for every round
        from radprm.validators.findings import FindingsExtractor

        extractor = FindingsExtractor()
    if validator is None:
        from radprm.validators.steps import StepValidator

        validator = StepValidator(extractor=extractor, abstention=_options(reports, options).abstention)
    model = _options(reports, options).model
    rnd = prepare(reports, run_dir=run_dir, extractor=extractor, validator=validator, **options)
    rounds = 1
    while not rnd.done and rounds <= max_rounds:
        assert rnd.requests_path is not None
        results = rnd.requests_path.with_name(rnd.requests_path.name.replace(".requests.", ".results."))
        cmd = runner_command(runner, rnd.requests_path, results, model)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not results.exists():
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise ModelError(f"the batch runner failed (exit {proc.returncode}): {tail}",
                             hint=f"command: {shlex.join(cmd)}")
        rnd = ingest(reports, run_dir=run_dir, results=results, extractor=extractor, validator=validator, **options)
        rounds += 1
    rnd.rounds = rounds
    return rnd
