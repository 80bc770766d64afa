"""`mine()`: the mining job — reports -> findings -> questions -> chains -> validated items in shards.

A job lives in a run folder::

    run_dir/
      job.json          the options that define the job (compared on --resume) and its run id
      ledger.sqlite     per-item state: pending / answered / written (+ shard) / quarantined (+ reason)
      cache.sqlite      validated LLM responses by request key (shared with other jobs via `cache`)
      shards/           committed Parquet shards + manifest.json (radprm.shards)
      quarantine/quarantine.jsonl
      summary.json      the end-of-job summary (items, quarantine by reason, tokens, latency, retries)

Exactly-once: an item (`Item.item_id`, the chain id) is `written` only after the shard holding it is
committed (the ShardWriter's `on_commit`); on resume, shards committed just before a crash are adopted
and their ids marked. An item that was answered but whose shard never committed is rebuilt from the
request cache without a request. Quarantine records go to the ledger first (keyed, so never twice) and
then to the JSONL file; resume appends any the file missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import radprm
from radprm.errors import InputError, ModelError, RadprmError
from radprm.miners.cache import RequestCache, canonical_json
from radprm.miners.chains import ChainMiner, ChainOutcome, rollout_sampling
from radprm.miners.client import LLMClient, SamplingParams
from radprm.miners.ledger import ANSWERED, PENDING, QUARANTINED, WRITTEN, Ledger
from radprm.miners.metrics import ClientMetrics
from radprm.miners.questions import QUESTIONS_VERSION, TASKS, build_questions, check_tasks
from radprm.prompts.registry import PromptRegistry
from radprm.quarantine import QuarantineSink, read_quarantine
from radprm.schemas.records import Chain, Finding, Item, QuarantineRecord, Question, Report, StepRecord

JOB_FILE = "job.json"
SUMMARY_FILE = "summary.json"
# A run whose first this-many chains all fail stops (server down, wrong model, broken prompt):
# quarantining every item of a dead run would only have to be undone.
FAIL_FAST_AFTER = 16
# Options that define what a job produces; a resume must repeat them. Operational ones (base_url,
# concurrency, timeout, retries, strict, cache path) may change between sessions.
IDENTITY_KEYS = (
    "reports", "reader", "limit", "model", "mode", "tasks", "questions_per_report", "rollouts",
    "temperature", "top_p", "max_tokens", "seed", "labelset", "prompts", "rules_version", "step_rules_version",
    "questions_version",
)
# How a differing identity key is named in the error (the others are CLI options: --key-name).
_NOT_OPTIONS = {
    "reports": "REPORTS", "reader": "reader options", "prompts": "prompt files",
    "rules_version": "findings rule files", "step_rules_version": "step rule files",
    "questions_version": "question rules (radprm version)",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def item_id_for(
    report: Report, question: Question, prompt_labels: list[str], model: str, sampling: SamplingParams, rollout: int
) -> str:
    """Chain id: `c1:` + sha256 of report (id and text), question id, prompts, model, sampling and rollout.

    Args:
        report: The report.
        question: The question.
        prompt_labels: `id@vN:sha` of every prompt of the chain.
        model: Served model name.
        sampling: Base sampling parameters of the job.
        rollout: Rollout index.
    """
    payload = {
        "report": report.report_id,
        "report_sha": hashlib.sha256(report.text.encode("utf-8")).hexdigest(),
        "question": question.question_id,
        "prompts": prompt_labels,
        "model": model,
        "sampling": sampling.as_dict(),
        "rollout": rollout,
    }
    return "c1:" + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:32]


def quarantine_key(record: QuarantineRecord) -> str:
    """Identity of a quarantine record (stage, record id, source, reason, field) for exactly-once writes."""
    parts = [record.stage, record.record_id, record.source_path, record.source_row, record.reason_code, record.field]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


class LedgerQuarantine(QuarantineSink):
    """A QuarantineSink that records each record in the ledger first and never writes one twice."""

    def __init__(self, ledger: Ledger, path: Path, *, run_id: str) -> None:
        super().__init__(path, run_id=run_id)
        self.ledger = ledger
        self._lock = threading.Lock()  # the reader quarantines from the CPU thread, workers from the loop

    def add(self, record: QuarantineRecord | None = None, *, item_id: str | None = None, **fields: Any) -> QuarantineRecord:
        """Quarantine a record once (a repeat after resume is ignored); `item_id` also marks the item."""
        if record is None:
            record = QuarantineRecord(**fields)
        if record.run_id is None:
            record = record.model_copy(update={"run_id": self.run_id})
        with self._lock:
            if self.ledger.add_quarantine(
                quarantine_key(record), record.stage, record.reason_code, record.model_dump_json(), item_id
            ):
                super().add(record)
        return record

    def reconcile(self) -> int:
        """Append to the JSONL file the ledger's records it lacks (crash between the two writes)."""
        have = {quarantine_key(r) for r in read_quarantine(self.path)} if self.path and self.path.exists() else set()
        added = 0
        for qkey, record_json in self.ledger.quarantine_records():
            if qkey not in have:
                QuarantineSink.add(self, QuarantineRecord.model_validate_json(record_json))
                added += 1
        return added


@dataclass
class MineConfig:
    """Everything that defines a job (stored in job.json) plus the operational options of this session."""

    reports: str | None
    model: str
    base_url: str
    reader: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    mode: str = "reasoner"
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    questions_per_report: int = 2
    rollouts: int = 1
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = 0
    labelset: str = "chexpert"
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 4
    shard_rows: int = 5000
    commit_every: float = 60.0

    def sampling(self) -> SamplingParams:
        """The job's base sampling parameters."""
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed)


@dataclass
class MineSummary:
    """End-of-job numbers, printed by the CLI and written to `summary.json`."""

    run_dir: Path
    run_id: str
    shards_dir: Path
    quarantine_path: Path
    reports: int
    items_planned: int
    items_written: int
    items_pending: int
    quarantined: dict[str, int]
    items_this_session: int
    rebuilt_from_cache: int
    metrics: ClientMetrics
    cache: dict[str, int]
    elapsed_s: float
    resumed: bool

    @property
    def quarantined_total(self) -> int:
        """All quarantine records of the job (reader, questions and mining stages)."""
        return sum(self.quarantined.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "run_dir": str(self.run_dir), "run_id": self.run_id, "shards_dir": str(self.shards_dir),
            "quarantine_path": str(self.quarantine_path), "reports": self.reports,
            "items_planned": self.items_planned, "items_written": self.items_written,
            "items_pending": self.items_pending, "quarantined": self.quarantined,
            "quarantined_total": self.quarantined_total, "items_this_session": self.items_this_session,
            "rebuilt_from_cache": self.rebuilt_from_cache, "client": self.metrics.as_dict(), "cache": self.cache,
            "elapsed_s": round(self.elapsed_s, 3), "resumed": self.resumed,
        }

    def render(self) -> str:
        """Human summary: items, quarantine by reason, tokens, latency, retries, where the output is."""
        q = ", ".join(f"{k} {v}" for k, v in self.quarantined.items()) or "none"
        lines = [
            f"reports       {self.reports}",
            f"items         {self.items_written} written of {self.items_planned} planned"
            f" ({self.items_this_session} this session, {self.rebuilt_from_cache} rebuilt from cache,"
            f" {self.items_pending} pending)",
            f"quarantined   {self.quarantined_total} ({q})",
            self.metrics.render(),
            f"elapsed       {self.elapsed_s:.1f}s",
            f"shards        {self.shards_dir}",
            f"quarantine    {self.quarantine_path}",
            f"summary       {self.run_dir / SUMMARY_FILE}",
        ]
        return "\n".join(lines)


@dataclass
class _Work:
    report: Report
    findings: list[Finding]
    question: Question
    rollout: int
    item_id: str
    status: str


def _identity(cfg: MineConfig, prompt_labels: list[str], rules_version: str | None,
              step_rules_version: str | None) -> dict[str, Any]:
    return {
        "reports": cfg.reports, "reader": cfg.reader, "limit": cfg.limit, "model": cfg.model, "mode": cfg.mode,
        "tasks": cfg.tasks, "questions_per_report": cfg.questions_per_report, "rollouts": cfg.rollouts,
        "temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens, "seed": cfg.seed,
        "labelset": cfg.labelset, "prompts": prompt_labels, "rules_version": rules_version,
        "step_rules_version": step_rules_version, "questions_version": QUESTIONS_VERSION,
    }


def check_resume(stored: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """Raise when a resumed job is given options that differ from those it was started with.

    Raises:
        InputError: naming the first differing option, with its stored and given values.
    """
    for key in IDENTITY_KEYS:
        was, now = stored.get(key), current.get(key)
        if was != now:
            what = (f"{_NOT_OPTIONS[key]} changed since the job started" if key in _NOT_OPTIONS
                    else f"--{key.replace('_', '-')} differs from the job being resumed")
            raise InputError(
                f"{what}: was {json.dumps(was)}, now {json.dumps(now)}",
                path=path, field=key, hint="resume with the job's options, or start a new --run-dir",
            )


class MiningJob:
    """One mining job over a run folder. Most users call `mine()`.

    Args:
        config: The job's options.
        run_dir: The job folder.
        resume: Continue the job in `run_dir` (its options must match job.json).
        prompts_dir: Prompt folder (default: packaged prompts, or `$RADPRM_PROMPTS_DIR`).
        cache_path: Request cache file (default `run_dir/cache.sqlite`); share one between jobs to reuse answers.
        extractor: A FindingsExtractor (built when None).
        validator: A StepValidator (built on the extractor when None).
        progress: Show a rich progress bar on stderr.
        report_source: Reports to mine instead of reading `config.reports` (e.g. a list of Report).
    """

    def __init__(
        self,
        config: MineConfig,
        run_dir: str | Path,
        *,
        resume: bool = False,
        prompts_dir: str | Path | None = None,
        cache_path: str | Path | None = None,
        extractor: Any = None,
        validator: Any = None,
        progress: bool = False,
        report_source: Iterable[Report] | None = None,
    ) -> None:
        self.cfg = config
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.prompts = PromptRegistry(prompts_dir)
        self.cache_path = Path(cache_path) if cache_path else self.run_dir / "cache.sqlite"
        self.progress = progress
        self.report_source = report_source
        self.cfg.tasks = check_tasks(self.cfg.tasks)
        if self.cfg.rollouts < 1:
            raise InputError(f"rollouts must be at least 1, not {self.cfg.rollouts}", field="rollouts")
        if self.cfg.questions_per_report < 1:
            raise InputError("questions per report must be at least 1", field="questions_per_report")
        if report_source is None and not config.reports:
            raise InputError("no reports given", field="reports")
        self._extractor = extractor
        self._validator = validator

    # --- components -------------------------------------------------------------------------------
    @property
    def extractor(self) -> Any:
        """The findings extractor (built on first use: loading medspaCy takes a few seconds)."""
        if self._extractor is None:
            from radprm.validators.findings import FindingsExtractor

            self._extractor = FindingsExtractor()
        return self._extractor

    @property
    def validator(self) -> Any:
        """The step validator, sharing the extractor."""
        if self._validator is None:
            from radprm.validators.steps import StepValidator

            self._validator = StepValidator(extractor=self.extractor)
        return self._validator

    def _labels(self, findings: list[Finding]) -> dict[str, int | None]:
        from radprm.validators.findings import report_labels

        return report_labels(findings, labelset=self.cfg.labelset)

    def _reports(self, quarantine: QuarantineSink) -> Iterator[Report]:
        if self.report_source is not None:
            it = iter(self.report_source)
            if self.cfg.limit is not None:
                return (r for _, r in zip(range(self.cfg.limit), it))
            return it
        from radprm.readers import read_reports

        self._stream = read_reports(self.cfg.reports, quarantine=quarantine, limit=self.cfg.limit, **self.cfg.reader)
        return iter(self._stream)

    # --- job folder -------------------------------------------------------------------------------
    def _prepare(self, prompt_labels: list[str]) -> dict[str, Any]:
        job_path = self.run_dir / JOB_FILE
        identity = _identity(self.cfg, prompt_labels, getattr(self.extractor, "rules_version", None),
                             getattr(self.validator, "rules_version", None))
        if job_path.exists():
            stored = json.loads(job_path.read_text(encoding="utf-8"))
            if not self.resume:
                raise InputError(
                    "run folder already holds a job", path=self.run_dir, field="run_dir",
                    hint="pass --resume to continue it, or choose another --run-dir",
                )
            check_resume(stored.get("identity", {}), identity, job_path)
            return stored
        if self.resume:
            raise InputError("nothing to resume: no job.json in the run folder", path=self.run_dir, field="run_dir",
                             hint="drop --resume to start the job")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        stored = {
            "run_id": f"mine-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
            "created_at": _now(),
            "radprm_version": radprm.__version__,
            "identity": identity,
            "prompt_refs": [r.model_dump() for r in self.miner.prompt_refs],
        }
        tmp = job_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2) + "\n", encoding="utf-8")
        tmp.replace(job_path)
        return stored

    # --- the run --------------------------------------------------------------------------------------
    def run(self) -> MineSummary:
        """Run (or resume) the job to the end.

        Returns:
            The summary (also written to `summary.json`).

        Raises:
            ModelError: the server is unreachable, or every chain of the run failed (with a sample reason).
            InputError: bad options, or resume options that differ from the job's.
        """
        return asyncio.run(self._run())

    async def _run(self) -> MineSummary:
        from radprm.shards.writer import ShardWriter

        t0 = time.perf_counter()
        if self.report_source is None:
            # File-level input problems (missing file, unknown columns) fail here, before any job state exists.
            from radprm.readers import read_reports

            read_reports(self.cfg.reports, quarantine=QuarantineSink(), limit=0, **self.cfg.reader)
        self.metrics = ClientMetrics()
        cache: RequestCache | None = None
        client = LLMClient(
            self.cfg.base_url, self.cfg.model, concurrency=self.cfg.concurrency, timeout=self.cfg.timeout,
            max_retries=self.cfg.max_retries, metrics=self.metrics,
        )
        self.cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radprm-cpu")
        try:
            self.miner = ChainMiner(client, self.prompts, mode=self.cfg.mode)
            self.prompt_labels = self.miner.prompt_labels
            # Fail fast (dead server, model not served) before any job state is written.
            await client.check_server()
            _ = self.validator  # builds the extractor and loads the step rules: a bad rule file fails here
            stored = self._prepare(self.prompt_labels)
            cache = client.cache = RequestCache(self.cache_path)
            self.run_id = stored["run_id"]
            self.ledger = Ledger(self.run_dir / "ledger.sqlite")
            self.quarantine = LedgerQuarantine(self.ledger, self.run_dir / "quarantine" / "quarantine.jsonl",
                                               run_id=self.run_id)
            self.quarantine.reconcile()
            self.server_host = urlparse(self.cfg.base_url).netloc or None
            self.sampling = self.cfg.sampling()
            self.written_now = self.rebuilt = self.ok_chains = self._validator_errors = 0
            self._early_failures: list[tuple[_Work, ChainOutcome]] = []
            run_meta = {"run_id": self.run_id, "job": stored["identity"],
                        "prompts": [r.model_dump() for r in self.miner.prompt_refs]}
            writer = ShardWriter(self.run_dir / "shards", max_rows=self.cfg.shard_rows, run_meta=run_meta,
                                 on_commit=lambda info: self.ledger.mark_written(info.item_ids, info.shard))
            self._adopt_committed(writer)
            self._had_written = self.ledger.counts()[WRITTEN] > 0
            try:
                await self._pipeline(writer)
            except BaseException:
                writer.abort()  # the open shard's items are rebuilt from the cache on resume
                raise
            writer.close()
            summary = self._summary(cache, time.perf_counter() - t0)
            (self.run_dir / SUMMARY_FILE).write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
            return summary
        finally:
            self.cpu.shutdown(wait=True)
            await client.aclose()
            if cache is not None:
                cache.close()
            if hasattr(self, "quarantine"):
                self.quarantine.close()
            if hasattr(self, "ledger"):
                self.ledger.close()

    def _adopt_committed(self, writer: Any) -> None:
        """Mark written the items of shards committed before a crash but not yet in the ledger."""
        missing = set(writer.seen_ids) - self.ledger.written_ids()
        if not missing:
            return
        import pyarrow.parquet as pq

        for entry in writer.manifest.shards:
            ids = pq.read_table(writer.manifest.shard_path(writer.out_dir, entry.name), columns=["item_id"]).column("item_id").to_pylist()
            self.ledger.mark_written([i for i in ids if i in missing], entry.name)

    async def _pipeline(self, writer: Any) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=self.cfg.concurrency * 4)
        self.writer = writer
        self._last_commit = time.monotonic()
        bar = _Progress(self.progress)
        with bar:
            self.bar = bar
            workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.cfg.concurrency)]

            async def feed() -> None:
                await self._produce(queue, loop)
                for _ in workers:
                    await queue.put(None)

            # Wait on producer and workers together: a dead worker must not leave the producer blocked
            # on a full queue (or the other way round).
            pending = {asyncio.create_task(feed()), *workers}
            try:
                while pending:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                    for task in done:
                        if task.exception() is not None:
                            raise task.exception()
            except BaseException:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                raise
        if self.ok_chains == 0 and self._early_failures and not self._had_written:
            self._raise_all_failed()
        self._flush_early_failures()

    async def _produce(self, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop) -> None:
        done = self.ledger.done_reports()
        reports = (r for r in self._reports(self.quarantine) if r.report_id not in done)
        extracted = iter(self.extractor.extract_many(reports, batch_size=32))

        def next_block() -> list[tuple[Report, list[Finding], list[_Work]]]:
            block = []
            for report, findings in extracted:
                block.append((report, findings, self._plan(report, findings)))
                if len(block) >= 16:
                    break
            return block

        while True:
            block = await loop.run_in_executor(self.cpu, next_block)
            if not block:
                self.bar.finished_input()
                return
            for report, _findings, works in block:
                self._record_plan(report, works)
            self.bar.reports_read(len(block), self._input_fraction())
            for _report, _findings, works in block:
                for w in works:
                    if w.status not in (WRITTEN, QUARANTINED):
                        await queue.put(w)

    def _input_fraction(self) -> float | None:
        """Share of the input consumed so far, for the progress estimate."""
        stream = getattr(self, "_stream", None)
        if stream is not None and hasattr(stream, "progress"):
            done, total, _unit = stream.progress()
            if total:
                frac = done / total
                if self.cfg.limit and stream.stats.kept:
                    frac = max(frac, stream.stats.kept / self.cfg.limit)
                return frac or None
        return None

    def _record_plan(self, report: Report, works: list[_Work]) -> None:
        """Put a report's items in the ledger (or quarantine a report without questions) and read their states."""
        if not works:
            self.quarantine.add(
                record_id=report.report_id, stage="questions", reason_code="no_questions",
                source_path=report.source_path or None, source_row=report.source_row,
                detail=f"no question of tasks {','.join(self.cfg.tasks)} could be built from the findings",
                payload=report.text,
            )
        self.ledger.plan_report(report.report_id, [(w.item_id, w.question.question_id, w.rollout) for w in works])
        states = self.ledger.statuses(w.item_id for w in works)
        todo = 0
        for w in works:
            w.status = states.get(w.item_id, PENDING)
            todo += w.status not in (WRITTEN, QUARANTINED)
        self.bar.planned(todo)

    def _plan(self, report: Report, findings: list[Finding]) -> list[_Work]:
        """Build a report's questions and items (CPU thread; `_record_plan` puts them in the ledger)."""
        questions = build_questions(
            report, findings, self._labels(findings), tasks=self.cfg.tasks,
            per_report=self.cfg.questions_per_report, seed=self.cfg.seed or 0,
        )
        works = [
            _Work(report, findings, q, r, item_id_for(report, q, self.prompt_labels, self.cfg.model, self.sampling, r), PENDING)
            for q in questions for r in range(self.cfg.rollouts)
        ]
        return works

    async def _worker(self, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        while (work := await queue.get()) is not None:
            outcome = await self.miner.mine(work.question, work.report, self.sampling, work.rollout)
            if not outcome.ok:
                self._failed(work, outcome)
                continue
            self.ok_chains += 1
            self._flush_early_failures()
            self.ledger.mark_answered(work.item_id)
            try:
                item = await loop.run_in_executor(self.cpu, self._build_item, work, outcome)
            except RadprmError:
                raise  # e.g. a broken rule file: every item would fail, so stop (resume rebuilds from cache)
            except Exception as exc:  # a validator bug on one odd chain must not kill the batch...
                self._validator_errors += 1
                if self._validator_errors >= FAIL_FAST_AFTER and not self.written_now:
                    raise  # ...but a validator that fails on everything is a bug to surface, not data
                self._quarantine_item(work, "validator_error", f"{type(exc).__name__}: {exc}",
                                      traceback.format_exc(limit=5))
                continue
            if self.writer.write(item):
                self.written_now += 1
                if all(c.cached for c in outcome.calls):
                    self.rebuilt += 1
            self.bar.item_done()
            if time.monotonic() - self._last_commit > self.cfg.commit_every:
                self.writer.flush()
                self._last_commit = time.monotonic()

    # --- outcomes -------------------------------------------------------------------------------------
    def _failed(self, work: _Work, outcome: ChainOutcome) -> None:
        if self.ok_chains == 0 and not self._had_written:
            # Until one chain succeeds, failures wait: if they are all there is, the run stops instead.
            self._early_failures.append((work, outcome))
            if len(self._early_failures) >= FAIL_FAST_AFTER:
                self._raise_all_failed()
            return
        self._quarantine_failure(work, outcome)

    def _quarantine_failure(self, work: _Work, outcome: ChainOutcome) -> None:
        detail = f"{outcome.failed_prompt}: {outcome.error_detail or outcome.error_code}"
        self._quarantine_item(work, outcome.error_code or "mine_failed", detail, outcome.raw_text)

    def _quarantine_item(self, work: _Work, reason: str, detail: str, payload: str | None) -> None:
        self.quarantine.add(
            item_id=work.item_id, record_id=work.item_id, stage="mine", reason_code=reason,
            source_path=work.report.source_path or None, source_row=work.report.source_row, detail=detail[:2000],
            payload=payload,
        )
        self.bar.item_done()

    def _flush_early_failures(self) -> None:
        pending, self._early_failures = self._early_failures, []
        for work, outcome in pending:
            self._quarantine_failure(work, outcome)

    def _raise_all_failed(self) -> None:
        work, outcome = self._early_failures[0]
        n = len(self._early_failures)
        raise ModelError(
            f"all {n} chains tried so far failed, e.g. {outcome.error_code} on {outcome.failed_prompt}: "
            f"{(outcome.error_detail or '')[:300]}",
            hint="check the server, --model and --max-tokens; the job can be resumed with --resume",
        )

    def _build_item(self, work: _Work, outcome: ChainOutcome) -> Item:
        """Validate the chain's steps against the report and assemble the shard row (CPU thread)."""
        q, report = work.question, work.report
        chain = Chain(chain_id=work.item_id, report_id=report.report_id, question=q.question, options=q.options,
                      answer=q.answer, steps=outcome.steps, model_answer=outcome.model_answer)
        validation = self.validator.validate(chain, report, work.findings)
        scores = validation.scores
        reward = validation.answer_reward
        if reward is None and outcome.model_answer:
            from radprm.validators.scoring import answer_reward

            reward = answer_reward(q.answer, outcome.model_answer)
        sampling = rollout_sampling(self.sampling, work.rollout)
        return Item(
            item_id=work.item_id, report_id=report.report_id, image_paths=report.image_paths, task=q.task,
            stage=">".join(dict.fromkeys(outcome.stages)) or q.stage, question=q.question, options=q.options,
            answer=q.answer, model_answer=outcome.model_answer, answer_reward=reward,
            plan="\n".join(outcome.plan) or None,
            steps=[StepRecord(index=s.step_index, text=s.step, label=s.label, verdict=s.verdict, reasons=s.reasons,
                              evidence=s.evidence, score=s.score) for s in validation.steps],
            completeness=scores.completeness, factuality=scores.factuality, effectiveness=scores.effectiveness,
            first_bad_step=scores.first_bad_step, model=self.cfg.model, server_host=self.server_host,
            prompts=self.miner.prompt_refs, sampling=canonical_json(sampling.as_dict()), seed=sampling.seed,
            rollout=work.rollout, radprm_version=radprm.__version__,
            rules_version=getattr(self.extractor, "rules_version", None), run_id=self.run_id, created_at=_now(),
            report_text=report.text, findings_text=report.findings, impression_text=report.impression,
        )

    def _summary(self, cache: RequestCache, elapsed: float) -> MineSummary:
        counts = self.ledger.counts()
        return MineSummary(
            run_dir=self.run_dir, run_id=self.run_id, shards_dir=self.run_dir / "shards",
            quarantine_path=self.quarantine.path, reports=self.ledger.n_reports(),
            items_planned=sum(counts.values()), items_written=counts[WRITTEN],
            items_pending=counts[PENDING] + counts[ANSWERED], quarantined=self.ledger.quarantine_counts(),
            items_this_session=self.written_now, rebuilt_from_cache=self.rebuilt, metrics=self.metrics,
            cache=cache.stats().as_dict(), elapsed_s=elapsed, resumed=self.resume,
        )


class _Progress:
    """Rich progress bar on stderr: reports read and items finished, with an ETA.

    The item total is estimated from the share of the input read so far (or of --limit), so the ETA
    is meaningful before every report has been planned. Shown only when stderr is a terminal.
    """

    def __init__(self, enabled: bool) -> None:
        self._p = None
        self._planned = 0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._p = Progress(
            TextColumn("[bold]{task.description:<7}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
        )
        self._reports = self._p.add_task("reports", total=None)
        self._items = self._p.add_task("items", total=None)

    def __enter__(self) -> _Progress:
        if self._p is not None:
            self._p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()

    def reports_read(self, n: int, fraction: float | None) -> None:
        """`n` more reports planned; `fraction` of the input read so far (None when unknown)."""
        if self._p is None:
            return
        self._p.advance(self._reports, n)
        read = self._p.tasks[self._reports].completed
        if fraction:
            self._p.update(self._reports, total=max(read, round(read / min(1.0, fraction))))
            self._p.update(self._items, total=max(self._planned, round(self._planned / min(1.0, fraction))))

    def planned(self, n: int) -> None:
        """`n` more items to do."""
        self._planned += n
        if self._p is not None and self._p.tasks[self._items].total is None:
            self._p.update(self._items, total=self._planned)

    def finished_input(self) -> None:
        """The input is exhausted: totals are exact now."""
        if self._p is not None:
            self._p.update(self._reports, total=self._p.tasks[self._reports].completed)
            self._p.update(self._items, total=self._planned)

    def item_done(self) -> None:
        """One item written or quarantined."""
        if self._p is not None:
            self._p.advance(self._items)


def resolve_server(base_url: str | None, model: str | None) -> tuple[str, str]:
    """Fill in the server URL and model: given values, else $RADPRM_BASE_URL / $RADPRM_MODEL, else the
    state file `make serve` writes (`$RADPRM_CACHE/serve/server.json`).

    Raises:
        ModelError: no server URL can be found.
    """
    import os

    state: dict[str, Any] = {}
    cache_dir = Path(os.environ.get("RADPRM_CACHE", Path.home() / ".cache" / "radprm"))
    try:
        state = json.loads((cache_dir / "serve" / "server.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    base_url = base_url or os.environ.get("RADPRM_BASE_URL") or state.get("base_url")
    model = model or os.environ.get("RADPRM_MODEL") or state.get("model")
    if not base_url:
        raise ModelError("no model server given", field="base_url",
                         hint="pass --base-url (an OpenAI-compatible /v1 URL) or start one with `make serve`")
    if not model:
        raise ModelError("no model name given", field="model", hint="pass --model (the served model name)")
    return base_url, model


def mine(
    reports: str | Path | Iterable[Report],
    *,
    run_dir: str | Path,
    base_url: str | None = None,
    model: str | None = None,
    mode: str = "reasoner",
    tasks: Iterable[str] = TASKS,
    questions_per_report: int = 2,
    limit: int | None = None,
    concurrency: int = 8,
    timeout: float = 120.0,
    max_retries: int = 4,
    temperature: float = 0.7,
    top_p: float = 0.95,
    max_tokens: int = 256,
    seed: int | None = 0,
    rollouts: int = 1,
    resume: bool = False,
    labelset: str = "chexpert",
    reader: dict[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
    cache: str | Path | None = None,
    shard_rows: int = 5000,
    commit_every: float = 60.0,
    progress: bool = False,
    extractor: Any = None,
    validator: Any = None,
) -> MineSummary:
    """Mine validated reasoning chains for the reports' questions into `run_dir` (resumable, exactly once).

    Args:
        reports: Path of a reports file (any format the readers take) or an iterable of `Report`.
        run_dir: Job folder (see module docs for its layout).
        base_url: OpenAI-compatible server URL ending in /v1 (default: see `resolve_server`).
        model: Served model name (default: see `resolve_server`).
        mode: ``reasoner`` (plan -> analysis -> refine) or ``staged`` (CXRTrek stages).
        tasks: Question tasks in priority order (single, binary, multi_label, temporal).
        questions_per_report: Most questions per report.
        limit: Read at most this many reports.
        concurrency: Chains (and requests) in flight at once.
        timeout: Seconds per request.
        max_retries: Retries of transient failures per request.
        temperature: Sampling temperature.
        top_p: Nucleus sampling.
        max_tokens: Completion budget per call.
        seed: Base seed (questions and sampling; rollout r uses seed + r); None leaves sampling unseeded.
        rollouts: Chains per question.
        resume: Continue the job in `run_dir`; its options must match.
        labelset: Label set for questions (``chexpert`` or ``chestxray14``).
        reader: Reader options (format, id_col, text_col, findings_col, impression_col, projections).
        prompts_dir: Prompt folder override.
        cache: Request cache path (default `run_dir/cache.sqlite`).
        shard_rows: Rows per shard.
        commit_every: Seconds between shard commits (bounds the work rebuilt after a crash).
        progress: Show a progress bar on stderr.
        extractor: FindingsExtractor to use (built when None).
        validator: StepValidator to use (built when None).

    Returns:
        The `MineSummary` (also in `run_dir/summary.json`).

    Raises:
        InputError: bad options or input; resume with different options (naming the option).
        ModelError: server unreachable or model not served; every chain failed (with a sample reason).
        PromptError: a prompt file is malformed.
    """
    base_url, model = resolve_server(base_url, model)
    source = None
    if not isinstance(reports, (str, Path)):
        source, reports = reports, None
    else:
        reports = str(Path(reports).resolve())
    # Paths become absolute strings: job.json compares them on resume and must be JSON.
    reader_opts = {k: (str(Path(v).resolve()) if isinstance(v, Path) else v) for k, v in (reader or {}).items()}
    cfg = MineConfig(
        reports=reports, model=model, base_url=base_url, reader=reader_opts, limit=limit, mode=mode,
        tasks=list(tasks), questions_per_report=questions_per_report, rollouts=rollouts, temperature=temperature,
        top_p=top_p, max_tokens=max_tokens, seed=seed, labelset=labelset, concurrency=concurrency,
        timeout=timeout, max_retries=max_retries, shard_rows=shard_rows, commit_every=commit_every,
    )
    job = MiningJob(cfg, run_dir, resume=resume, prompts_dir=prompts_dir, cache_path=cache, extractor=extractor,
                    validator=validator, progress=progress, report_source=source)
    return job.run()
