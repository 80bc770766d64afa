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

This module is the async orchestration only: options are `miners.config.MineConfig`, items come from
`miners.items`, progress from `miners.progress`, the ledger-backed quarantine from `miners.ledger`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import traceback
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import radprm
from radprm import run
from radprm.errors import InputError, ModelError, RadprmError
from radprm.miners.cache import RequestCache
from radprm.miners.chains import ChainMiner, ChainOutcome
from radprm.miners.client import LLMClient
from radprm.miners.config import MineConfig, check_resume, resolve_server
from radprm.miners.items import ItemBuilder, ReportFeed, WorkItem, item_id_for, utc_now
from radprm.miners.ledger import PENDING, QUARANTINED, WRITTEN, Ledger, LedgerQuarantine
from radprm.miners.metrics import ClientMetrics
from radprm.miners.progress import MineProgress
from radprm.miners.questions import QUESTIONS_VERSION
from radprm.miners.summary import SUMMARY_FILE, MineSummary
from radprm.prompts.registry import PromptRegistry
from radprm.schemas.records import Finding, Report

__all__ = [
    "JOB_FILE",
    "SUMMARY_FILE",
    "MineConfig",
    "MineSummary",
    "MiningJob",
    "item_id_for",
    "mine",
    "resolve_server",
]

JOB_FILE = "job.json"
# A run whose first this-many chains all fail stops (server down, wrong model, broken prompt):
# quarantining every item of a dead run would only have to be undone.
FAIL_FAST_AFTER = 16


def server_hosts(urls: list[str]) -> str | None:
    """The `server_host` provenance of a job's rows: host:port of its server(s), comma-separated."""
    return ",".join(urlparse(u).netloc for u in urls if urlparse(u).netloc) or None


class MiningJob:
    """One mining job over a run folder. Most users call `mine()`.

    Args:
        config: The job's options.
        run_dir: The job folder.
        resume: Continue the job in `run_dir` (its options must match job.json).
        extractor: A FindingsExtractor (built when None).
        validator: A StepValidator (built on the extractor when None).
        progress: Show a rich progress bar on stderr.
        report_source: Reports to mine instead of reading `config.reports` (e.g. a list of Report).
    """

    def __init__(self, config: MineConfig, run_dir: str | Path, *, resume: bool = False, extractor: Any = None,
                 validator: Any = None, progress: bool = False, report_source: Iterable[Report] | None = None) -> None:
        if report_source is None and not config.reports:
            raise InputError("no reports given", field="reports")
        self.cfg = config
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.prompts = PromptRegistry(config.prompts_dir)
        self.cache_path = Path(config.cache) if config.cache else self.run_dir / "cache.sqlite"
        self.progress = progress
        self.report_source = report_source
        self._extractor = extractor
        self._validator = validator
        # Session state, filled by `run()`; everything a session touches is declared here.
        self.metrics = ClientMetrics()
        self.run_id = ""
        self.ledger: Ledger | None = None
        self.quarantine: LedgerQuarantine | None = None
        self.miner: ChainMiner | None = None
        self.items: ItemBuilder | None = None
        self.writer: Any = None
        self.cpu: ThreadPoolExecutor | None = None
        self.bar = MineProgress(False)
        self.written_now = self.rebuilt = self.ok_chains = self._validator_errors = 0
        self._early_failures: list[tuple[WorkItem, ChainOutcome]] = []
        self._had_written = False
        self._last_commit = 0.0
        self.judge: Any = None  # a StepJudge when cfg.judge is set (radprm.validators.judge)

    @property  # --- components ---------------------------------------------------------------------------
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

    # --- job folder -------------------------------------------------------------------------------
    def _prepare(self) -> dict[str, Any]:
        """Check (resume) or create `job.json`; returns its content."""
        job_path = self.run_dir / JOB_FILE
        identity = self.cfg.identity(
            prompts=self.miner.prompt_labels + (self.judge.prompt_labels if self.judge else []),
            rules_version=getattr(self.extractor, "rules_version", None),
            step_rules_version=getattr(self.validator, "rules_version", None), questions_version=QUESTIONS_VERSION,
        )
        if job_path.exists():
            stored = json.loads(job_path.read_text(encoding="utf-8"))
            if not self.resume:
                raise InputError("run folder already holds a job", path=self.run_dir, field="run_dir",
                                 hint="pass --resume to continue it, or choose another --run-dir")
            check_resume(stored.get("identity", {}), identity, job_path)
            return stored
        if self.resume:
            raise InputError("nothing to resume: no job.json in the run folder", path=self.run_dir, field="run_dir",
                             hint="drop --resume to start the job")
        stored = {
            "run_id": f"mine-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
            "created_at": utc_now(),
            "radprm_version": radprm.__version__,
            "identity": identity,
            "prompt_refs": [r.model_dump() for r in self.miner.prompt_refs],
        }
        run.write_text_atomic(job_path, json.dumps(stored, indent=2) + "\n")
        return stored

    def make_client(self) -> LLMClient:
        """The job's LLM client over every `--base-url` (the batch path replaces it with a deferring one)."""
        return LLMClient(self.cfg.base_urls, self.cfg.model, concurrency=self.cfg.concurrency,
                         timeout=self.cfg.timeout, max_retries=self.cfg.max_retries, metrics=self.metrics)

    def collect_server_stats(self, client: LLMClient) -> None:
        """Put the per-server counters of `client` in the job's metrics (the Ray engine merges its actors')."""
        self.metrics.servers = client.pool.stats()

    # --- the run --------------------------------------------------------------------------------------
    def run(self) -> MineSummary:
        """Run (or resume) the job to the end.

        Returns:
            The summary (also written to `summary.json`).

        Raises:
            ModelError: the server is unreachable, or every chain of the run failed (with a sample reason).
            InputError: bad options, or resume options that differ from the job's.
            RunError: with `strict`, anything was quarantined (the shards are committed first).
        """
        summary = asyncio.run(self._run())
        return run.finish(summary, produced=summary.items_written, quarantine=summary.quarantined,
                          strict=self.cfg.strict, noun="record", path=self.run_dir)

    async def _run(self) -> MineSummary:
        from radprm.shards.writer import ShardWriter

        t0 = time.perf_counter()
        ReportFeed.check(self.cfg, self.report_source)  # a missing file fails before any job state exists
        client = self.make_client()
        async with contextlib.AsyncExitStack() as stack:  # closes in reverse order of opening
            stack.push_async_callback(client.aclose)
            self.miner = ChainMiner(client, self.prompts, mode=self.cfg.mode)
            # Fail fast (dead server, model not served, bad rule file) before any job state is written.
            await client.check_server()
            if self.cfg.judge or self.cfg.judge_policy:  # the judge asks the same server and model
                from radprm.validators.judge import make_judge

                self.judge = make_judge(self.cfg.judge, self.cfg.judge_policy, base_url=self.cfg.base_urls[0],
                                        model=self.cfg.model, prompts_dir=self.cfg.prompts_dir)
            _ = self.validator
            stored = self._prepare()
            cache = client.cache = stack.enter_context(RequestCache(self.cache_path))
            self.run_id = stored["run_id"]
            self.ledger = stack.enter_context(Ledger(self.run_dir / "ledger.sqlite"))
            self.quarantine = stack.enter_context(
                LedgerQuarantine(self.ledger, self.run_dir / "quarantine" / "quarantine.jsonl", run_id=self.run_id))
            self.quarantine.reconcile()
            self.items = ItemBuilder(self.cfg, self.validator, self.miner.prompt_refs, self.miner.prompt_labels,
                                     self.run_id, server_hosts(self.cfg.base_urls),
                                     getattr(self.extractor, "rules_version", None))
            self.cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radprm-cpu")
            stack.callback(self.cpu.shutdown, wait=True)  # first to close: its tasks use the ledger
            run_meta = {"run_id": self.run_id, "job": stored["identity"],
                        "prompts": [r.model_dump() for r in self.miner.prompt_refs]}
            self.writer = ShardWriter(self.run_dir / "shards", max_rows=self.cfg.shard_rows, run_meta=run_meta,
                                      on_commit=lambda info: self.ledger.mark_written(info.item_ids, info.shard))
            self.ledger.adopt_committed(self.writer)
            self._had_written = self.ledger.counts()[WRITTEN] > 0
            try:
                await self._pipeline()
            except BaseException:
                self.writer.abort()  # the open shard's items are rebuilt from the cache on resume
                raise
            self.writer.close()
            self.collect_server_stats(client)
            summary = MineSummary.from_ledger(
                self.ledger, run_dir=self.run_dir, run_id=self.run_id, quarantine_path=self.quarantine.path,
                written_now=self.written_now, rebuilt=self.rebuilt, metrics=self.metrics, cache=cache.stats().as_dict(),
                elapsed_s=time.perf_counter() - t0, resumed=self.resume)
            run.write_text_atomic(self.run_dir / SUMMARY_FILE, json.dumps(summary.as_dict(), indent=2) + "\n")
            if self.judge is not None:
                self.judge.write_summary(self.run_dir)
            return summary

    async def _pipeline(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[WorkItem | None] = asyncio.Queue(maxsize=self.cfg.concurrency * 4)
        self._last_commit = time.monotonic()
        with MineProgress(self.progress) as self.bar:
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
        feed = ReportFeed(self.cfg, self.report_source, self.quarantine)
        reports = (r for r in feed if r.report_id not in done)
        extracted = iter(self.extractor.extract_many(reports, batch_size=32))

        def next_block() -> list[tuple[Report, list[Finding], list[WorkItem]]]:
            block = []
            for report, findings in extracted:
                block.append((report, findings, self.items.plan(report, findings)))
                if len(block) >= 16:
                    break
            return block

        while not self._stopped():
            block = await loop.run_in_executor(self.cpu, next_block)
            if not block:
                self.bar.finished_input()
                return
            for report, _findings, works in block:
                self._record_plan(report, works)
            self.bar.reports_read(len(block), feed.fraction_read())
            for _report, _findings, works in block:
                for w in works:
                    if w.status not in (WRITTEN, QUARANTINED):
                        await queue.put(w)

    def _record_plan(self, report: Report, works: list[WorkItem]) -> None:
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

    async def _worker(self, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        sampling = self.items.sampling
        while (work := await queue.get()) is not None:
            if self._stopped():
                continue  # left pending: a resumed job picks it up
            outcome = await self.miner.mine(work.question, work.report, sampling, work.rollout)
            if not outcome.ok:
                self._failed(work, outcome)
                continue
            self.ok_chains += 1
            self._flush_early_failures()
            self.ledger.mark_answered(work.item_id)
            try:
                item = await loop.run_in_executor(self.cpu, self.items.build, work, outcome)
            except RadprmError:
                raise  # e.g. a broken rule file: every item would fail, so stop (resume rebuilds from cache)
            except Exception as exc:  # a validator bug on one odd chain must not kill the batch...
                self._validator_errors += 1
                if self._validator_errors >= FAIL_FAST_AFTER and not self.written_now:
                    raise  # ...but a validator that fails on everything is a bug to surface, not data
                self._quarantine_item(work, "validator_error", f"{type(exc).__name__}: {exc}",
                                      traceback.format_exc(limit=5))
                continue
            judge_rows: list[dict[str, Any]] = []
            if self.judge is not None:  # after step validation; failures are quarantined, labels kept
                item, judge_rows = await self.judge.judge_item(self.miner.client, item, work.report, self.quarantine)
            if self._items_limit_reached():
                continue  # mined by a call in flight when the limit was reached: rebuilt from the cache on resume
            if self.writer.write(item):
                self.written_now += 1
                if self.judge is not None:
                    self.judge.append_sidecar(self.run_dir, judge_rows)
                if all(c.cached for c in outcome.calls):
                    self.rebuilt += 1
            self.bar.item_done()
            if time.monotonic() - self._last_commit > self.cfg.commit_every:
                self.writer.flush()
                self._last_commit = time.monotonic()

    def _items_limit_reached(self) -> bool:
        return self.cfg.stop_after_items is not None and self.written_now >= self.cfg.stop_after_items

    def _stopped(self) -> bool:
        """No new chain is started: --stop-after-items, --max-requests or --max-tokens-total reached (chains
        already started under a budget are still written: their requests are paid for)."""
        cfg, m = self.cfg, self.metrics
        return (self._items_limit_reached()
                or (cfg.max_requests is not None and m.requests >= cfg.max_requests)
                or (cfg.max_tokens_total is not None and m.prompt_tokens + m.completion_tokens >= cfg.max_tokens_total))

    # --- outcomes -------------------------------------------------------------------------------------
    def _failed(self, work: WorkItem, outcome: ChainOutcome) -> None:
        if self.ok_chains == 0 and not self._had_written:
            # Until one chain succeeds, failures wait: if they are all there is, the run stops instead.
            self._early_failures.append((work, outcome))
            if len(self._early_failures) >= FAIL_FAST_AFTER:
                self._raise_all_failed()
            return
        self._quarantine_failure(work, outcome)

    def _quarantine_failure(self, work: WorkItem, outcome: ChainOutcome) -> None:
        detail = f"{outcome.failed_prompt}: {outcome.error_detail or outcome.error_code}"
        self._quarantine_item(work, outcome.error_code or "mine_failed", detail, outcome.raw_text)

    def _quarantine_item(self, work: WorkItem, reason: str, detail: str, payload: str | None) -> None:
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
        _work, outcome = self._early_failures[0]
        n = len(self._early_failures)
        raise ModelError(
            f"all {n} chains tried so far failed, e.g. {outcome.error_code} on {outcome.failed_prompt}: "
            f"{(outcome.error_detail or '')[:300]}",
            hint="check the server, --model and --max-tokens; the job can be resumed with --resume",
        )



def mine(
    reports: str | Path | Iterable[Report],
    *,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = False,
    extractor: Any = None,
    validator: Any = None,
    **options: Any,
) -> MineSummary:
    """Mine validated reasoning chains for the reports' questions into `run_dir` (resumable, exactly once).

    Args:
        reports: Path of a reports file (any format the readers take) or an iterable of `Report`.
        run_dir: Job folder (see module docs for its layout).
        resume: Continue the job in `run_dir`; its identity options must match.
        progress: Show a progress bar on stderr.
        extractor: FindingsExtractor to use (built when None).
        validator: StepValidator to use (built when None).
        **options: The job's options, the fields of `MineConfig` (model, base_url, tasks, limit,
            max_tokens, concurrency, strict, reader, ...), with the same defaults as `radprm mine`.

    Returns:
        The `MineSummary` (also in `run_dir/summary.json`).

    Raises:
        InputError: bad options or input; resume with different options (naming the option).
        ModelError: server unreachable or model not served; every chain failed (with a sample reason).
        PromptError: a prompt file is malformed.
        RunError: with `strict`, anything was quarantined (after the shards are committed).
    """
    source = None
    if isinstance(reports, (str, Path)):
        options["reports"] = reports
    else:
        source = reports
    cfg = MineConfig.from_options(**options)
    job_class = MiningJob
    if cfg.engine == "ray":
        from radprm.miners.ray_engine import RayMiningJob

        job_class = RayMiningJob
    job = job_class(cfg, run_dir, resume=resume, extractor=extractor, validator=validator, progress=progress,
                    report_source=source)
    return job.run()
