"""`mine()`: the mining job — reports -> findings -> questions -> chains -> validated items in shards.

A job lives in a run folder::

    run_dir/
      job.json          the options that define the job (compared on --resume) and its run id
      ledger.sqlite     per-item state: pending / answered / written (+ shard) / quarantined (+ reason)
      cache.sqlite      validated LLM responses by request key (shared with other jobs via `cache`)
      shards/           committed Parquet shards + manifest.json (radprm.shards); `--shards` puts them
                        elsewhere, e.g. on an object store (`s3://bucket/prefix`): `shards_location`
      quarantine/quarantine.jsonl
      summary.json      the end-of-job summary (items, quarantine by reason, tokens, latency, retries)

Re-drive (`--resume --retry-quarantined [--reasons ...]`): only the items whose open mine-stage quarantine
record has a chosen reason are asked again, with this session's operational options and, for `truncated`,
a larger `--max-tokens` (`REDRIVE_OVERRIDES`; the item keeps its id, its row records the sampling used).
A `cites_report` item (an image-style chain that cited the report after its re-ask) is asked as a new
attempt (attempt 2 x re-drive id: new seeds and cache keys, then its own re-ask).

Report citations (`--cites-report`, `radprm.miners.chains`): what the check did to each item is kept in
the ledger (`items.cites_report`), so the summary and `radprm status` count re-asks, fixes, quarantines
and kept chains over the whole job.
An item that succeeds is written once and its record resolved when its shard commits (`Ledger`); the
session is recorded in the ledger's re-drive history (`radprm status`).

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
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import radprm
from radprm import run
from radprm.errors import InputError, ModelError, RadprmError
from radprm.miners.budget import Budget
from radprm.miners.cache import RequestCache
from radprm.miners.chains import ChainMiner, ChainOutcome
from radprm.miners.client import LLMClient
from radprm.miners.config import (
    REDRIVE_OVERRIDES,
    MineConfig,
    check_local_folder,
    check_resume,
    resolve_server,
    shards_location,
)
from radprm.miners.items import ItemBuilder, ReportFeed, WorkItem, item_id_for, utc_now
from radprm.miners.ledger import PENDING, QUARANTINED, WRITTEN, Ledger, LedgerQuarantine
from radprm.miners.metrics import ClientMetrics
from radprm.miners.progress import MineProgress
from radprm.miners.questions import QUESTIONS_VERSION
from radprm.miners.styles import CITES_REPORT
from radprm.miners.summary import SUMMARY_FILE, MineSummary
from radprm.phi.privacy import CURRENT_REPORT, PhiBlocked
from radprm.prompts.registry import PromptRegistry
from radprm.schemas.arrow import SCHEMA_VERSION
from radprm.schemas.records import Finding, Report
from radprm.shards.location import locate

__all__ = [
    "JOB_FILE",
    "SUMMARY_FILE",
    "MineConfig",
    "MineSummary",
    "MiningJob",
    "item_id_for",
    "mine",
    "resolve_server",
    "shards_location",
]

JOB_FILE = "job.json"
# A run whose first this-many chains all fail stops (server down, wrong model, broken prompt):
# quarantining every item of a dead run would only have to be undone.
FAIL_FAST_AFTER = 16
CHAINS_PER_SLOT = 2
"""Chains in flight per request slot (`--concurrency`; the client sends at most --concurrency requests at
once). With 1, once the input is used up the last chains run their remaining calls one after the other
while slots idle (about 2c/3N of the run for N items at concurrency c). With 2, and the slots going to the
chains with the most calls left (`LLMClient` priority), the last chains advance together and end in the
same wave; `bench/bench_e2e.py --slots 1,2` compares the two (see BENCHMARKS.md)."""


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
        announce: Called with the one-line budget estimate before the first request (e.g. `print`).
    """

    def __init__(self, config: MineConfig, run_dir: str | Path, *, resume: bool = False, extractor: Any = None,
                 validator: Any = None, progress: bool = False, report_source: Iterable[Report] | None = None,
                 announce: Any = None) -> None:
        if report_source is None and not config.reports:
            raise InputError("no reports given", field="reports")
        if validator is not None and config.abstention is not None:
            # as validate_file: the given validator's table is the one used (and recorded in job.json)
            raise InputError("give the abstention table to the StepValidator, not beside it", field="abstention")
        self.cfg = config
        # The job's identity options: `config`, except that a re-drive keeps the stored REDRIVE_OVERRIDES
        # (set by `_prepare`), so item ids and the resume check do not move.
        self.id_cfg = config
        check_local_folder(run_dir, "run_dir")
        if config.cache is not None:
            check_local_folder(config.cache, "cache")
        self.run_dir = Path(run_dir)
        self.shards = shards_location(run_dir, config.shards)
        self.resume = resume
        self.prompts = PromptRegistry(config.prompts_dir)
        self.cache_path = Path(config.cache) if config.cache else self.run_dir / "cache.sqlite"
        self.progress = progress
        self.report_source = report_source
        self.announce = announce
        self.budget: Budget | None = None  # the session's estimate (`_estimate`), before the first request
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
        self.redrive: dict[str, Any] | None = None  # this session's re-drive numbers (retry_quarantined)
        self._redrive_items: dict[str, set[str]] = {}  # report id -> item ids selected for re-drive
        self._redrive_attempt: dict[str, int] = {}  # item id -> first attempt (re-driven cites_report items)
        self.reasked = 0  # chains asked again this session because their steps cited the report
        from radprm.phi.privacy import JobPrivacy

        # PHI guard and text storage (radprm.phi.privacy): reports in, items out, payloads and cache
        self.privacy = JobPrivacy(config.phi, config.phi_engine, config.keeps_report_text)
        self.splits: Any = None  # SplitAssigner, exclusions and answer key: `_load_data_options`
        self.exclude: set[str] = set()
        self.answer_key: Any = None
        self.excluded = 0

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

            self._validator = StepValidator(extractor=self.extractor, abstention=self.cfg.abstention)
        return self._validator

    # --- job folder -------------------------------------------------------------------------------
    def _prepare(self) -> dict[str, Any]:
        """Check (resume) or create `job.json`; returns its content."""
        job_path = self.run_dir / JOB_FILE

        def identity() -> dict[str, Any]:
            return self.id_cfg.identity(
                prompts=self.miner.prompt_labels + (self.judge.prompt_labels if self.judge else []),
                rules_version=getattr(self.extractor, "rules_version", None),
                step_rules_version=getattr(self.validator, "labelling_version", None),
                questions_version=QUESTIONS_VERSION,
            )

        if job_path.exists():
            stored = json.loads(job_path.read_text(encoding="utf-8"))
            if not self.resume:
                raise InputError("run folder already holds a job", path=self.run_dir, field="run_dir",
                                 hint="pass --resume to continue it, or choose another --run-dir")
            if self.cfg.retry_quarantined:  # a re-drive may change these; the job keeps its first values
                kept = stored.get("identity", {})
                self.id_cfg = self.cfg.model_copy(update={k: kept[k] for k in REDRIVE_OVERRIDES if k in kept})
            check_resume(stored.get("identity", {}), identity(), job_path)
            return stored
        if self.resume:
            raise InputError("nothing to resume: no job.json in the run folder", path=self.run_dir, field="run_dir",
                             hint="drop --resume to start the job")
        stored = {
            "run_id": f"mine-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
            "created_at": utc_now(),
            "radprm_version": radprm.__version__,
            "schema_version": SCHEMA_VERSION,
            "identity": identity(),
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
        if self.cfg.retry_quarantined and not self.resume:
            raise InputError("--retry-quarantined asks the quarantined items of an existing job again",
                             field="retry_quarantined", hint="add --resume (and the job's --run-dir)")
        if self.resume:
            check_run_schema(self.shards)  # before anything in the run folder changes
        elif self.cfg.shards is not None and not (self.run_dir / JOB_FILE).exists():
            check_new_shards(self.shards)  # a store that does not answer fails before any job state too
        ReportFeed.check(self.cfg, self.report_source)  # a missing file fails before any job state exists
        client = self.make_client()
        async with contextlib.AsyncExitStack() as stack:  # closes in reverse order of opening
            stack.push_async_callback(client.aclose)
            self.miner = ChainMiner(client, self.prompts, mode=self.cfg.mode, style=self.cfg.style,
                                    cites_report=self.cfg.cites_report)
            self._load_data_options()  # split file, exclusions, answer key: bad files fail before any job state
            if not self.privacy.store_text:  # own cache keys: entries hold quoted sentences as offsets
                self.miner.key_extra = {"report_text": "ids-only"}
            # Fail fast (dead server, model not served, bad rule file) before any job state is written.
            await client.check_server()
            if self.cfg.judge or self.cfg.judge_policy:  # the judge asks the same server and model
                from radprm.validators.judge import make_judge

                self.judge = make_judge(self.cfg.judge, self.cfg.judge_policy, base_url=self.cfg.base_urls[0],
                                        model=self.cfg.model, prompts_dir=self.cfg.prompts_dir)
            _ = self.validator
            stored = self._prepare()
            cache = client.cache = stack.enter_context(RequestCache(self.cache_path))
            if not self.privacy.store_text or self.privacy.mode == "mask":
                from radprm.phi.privacy import CacheCodec

                cache.codec = CacheCodec(self.privacy)
            self.run_id = stored["run_id"]
            self.ledger = stack.enter_context(Ledger(self.run_dir / "ledger.sqlite"))
            self.quarantine = stack.enter_context(
                LedgerQuarantine(self.ledger, self.run_dir / "quarantine" / "quarantine.jsonl", run_id=self.run_id))
            self.quarantine.reconcile()
            if self.cfg.retry_quarantined and not self._select_redrive():
                return self._summary(cache, t0)  # nothing to re-ask: nothing is opened or written
            if self.privacy.active:
                from radprm.phi.privacy import QuarantineFilter

                self.quarantine = QuarantineFilter(self.quarantine, self.privacy)  # masks / drops payloads
            self.items = ItemBuilder(self.id_cfg, self.validator, self.miner.prompt_refs, self.miner.prompt_labels,
                                     self.run_id, server_hosts(self.cfg.base_urls),
                                     getattr(self.extractor, "rules_version", None), splits=self.splits,
                                     answer_key=self.answer_key)
            self.cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radprm-cpu")
            stack.callback(self.cpu.shutdown, wait=True)  # first to close: its tasks use the ledger
            run_meta = {"run_id": self.run_id, "job": stored["identity"],
                        "prompts": [r.model_dump() for r in self.miner.prompt_refs],
                        "privacy": {**self.privacy.policy(), "licence": self.cfg.licence,
                                    "credentialed": self.cfg.credentialed}}
            if not locate(self.shards).local:  # the writer locks local folders only: one job per run folder
                stack.enter_context(run_folder_lock(self.run_dir))
            self.writer = ShardWriter(self.shards, max_rows=self.cfg.shard_rows, run_meta=run_meta,
                                      on_commit=lambda info: self.ledger.mark_written(info.item_ids, info.shard))
            self.ledger.adopt_committed(self.writer)
            self._had_written = self.ledger.counts()[WRITTEN] > 0
            self.budget = self._estimate()
            if self.budget is not None and self.announce is not None:
                self.announce(self.budget.render())
            try:
                await self._pipeline()
            except BaseException:
                self.writer.abort()  # the open shard's items are rebuilt from the cache on resume
                raise
            self.writer.close()
            if self.redrive is not None:
                self.ledger.finish_redrive(self.redrive["not_found"])
                self.redrive.update(self.ledger.redrives()[-1])
                self.quarantine.reconcile()  # the JSONL shows what this re-drive resolved
            self.collect_server_stats(client)
            summary = self._summary(cache, t0)
            if self.judge is not None:
                self.judge.write_summary(self.run_dir)
            return summary

    def _summary(self, cache: RequestCache, t0: float) -> MineSummary:
        summary = MineSummary.from_ledger(
            self.ledger, run_dir=self.run_dir, shards_dir=self.shards, run_id=self.run_id,
            quarantine_path=self.quarantine.path,
            written_now=self.written_now, rebuilt=self.rebuilt, metrics=self.metrics, cache=cache.stats().as_dict(),
            elapsed_s=time.perf_counter() - t0, resumed=self.resume, redrive=self.redrive, excluded=self.excluded,
            cites_report={"policy": self.id_cfg.cites_report, "reasked_this_session": self.reasked,
                          **self.ledger.citation_counts()} if self.id_cfg.style == "image" else None,
            data={"style": self.id_cfg.style, "splits": self.splits.describe() if self.splits is not None else None,
                  "answer_key": self.answer_key.source if self.answer_key else "extractor",
                  "answer_disputed_this_session": self.items.disputed if self.items is not None else 0})
        run.write_text_atomic(self.run_dir / SUMMARY_FILE, json.dumps(summary.as_dict(), indent=2) + "\n")
        return summary

    def _estimate(self) -> Budget | None:
        """The budget of this session: the reports not done yet, read once more before the first request
        (None for a re-drive, or for reports given as a one-pass iterator)."""
        from radprm.miners.budget import mine_budget
        from radprm.quarantine import QuarantineSink

        once = self.report_source is not None and not isinstance(self.report_source, (list, tuple))
        if self.redrive is not None or once:
            return None
        done = self.ledger.done_reports()
        feed = ReportFeed(self.cfg, self.report_source, QuarantineSink())  # reader problems are counted by the run
        todo = (r for r in feed if r.report_id not in done and r.report_id not in self.exclude)
        return mine_budget(todo, self.miner, questions_per_report=self.cfg.questions_per_report,
                           rollouts=self.cfg.rollouts, max_tokens=self.cfg.max_tokens)

    def _progress_bar(self) -> MineProgress:
        """Reports, items and tokens bars; tokens against the budget, at the measured throughput."""
        m = self.metrics
        return MineProgress(self.progress, self.budget, spent=lambda: m.prompt_tokens + m.completion_tokens)

    # --- re-drive -------------------------------------------------------------------------------------
    def _select_redrive(self) -> bool:
        """Pick the quarantined items to ask again and open a re-drive session; False when there are none."""
        reasons = self.cfg.redrive_reasons()
        selected = self.ledger.open_quarantined_items(reasons)
        self.redrive = {"reasons": reasons, "selected": len(selected), "resolved": 0, "still_open": 0,
                        "not_found": 0}
        if not selected:
            return False
        for entry in selected:
            self._redrive_items.setdefault(entry["report_id"], set()).add(entry["item_id"])
        options = {k: getattr(self.cfg, k) for k in ("max_tokens", "timeout", "base_url", "concurrency", "max_retries")}
        options.update({f"{k}_was": getattr(self.id_cfg, k) for k in REDRIVE_OVERRIDES
                        if getattr(self.id_cfg, k) != getattr(self.cfg, k)})
        self.redrive["redrive_id"] = rid = self.ledger.start_redrive(reasons, options, len(selected))
        self.redrive["options"] = options
        # the same chain again would come back from the cache: a new attempt per re-drive (0 and 1 were the job's)
        self._redrive_attempt = {e["item_id"]: 2 * rid for e in selected if e["reason"] == CITES_REPORT}
        return True
    async def _pipeline(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[WorkItem | None] = asyncio.Queue(maxsize=self.cfg.concurrency * 4)
        self._last_commit = time.monotonic()
        with self._progress_bar() as self.bar:
            workers = [asyncio.create_task(self._worker(queue)) for _ in range(CHAINS_PER_SLOT * self.cfg.concurrency)]

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
        if self.redrive is not None:
            await self._produce_redrive(queue, loop)
            return
        rejected: list[Report] = []  # reports without a split: quarantined on the loop thread (ledger)
        feed, reports = self._admitted(rejected)
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
                self._quarantine_unsplit(rejected)
                self.bar.finished_input()
                return
            self._quarantine_unsplit(rejected)
            for report, _findings, works in block:
                self._record_plan(report, works)
            self.bar.reports_read(len(block), feed.fraction_read())
            for _report, _findings, works in block:
                for w in works:
                    if w.status not in (WRITTEN, QUARANTINED):
                        await queue.put(w)

    def _admitted(self, rejected: list[Report]) -> tuple[ReportFeed, Iterator[Report]]:
        """The feed and the reports this session mines: not done, not in --exclude-reports (counted), with a
        split (the others go to `rejected`, for `_quarantine_unsplit`), then through the PHI guard."""
        done = self.ledger.done_reports()
        feed = ReportFeed(self.cfg, self.report_source, self.quarantine)

        def admitted() -> Iterator[Report]:
            for r in feed:
                if r.report_id in done:
                    continue
                if r.report_id in self.exclude:
                    self.excluded += 1
                elif self.splits.split_for(r.report_id, r.patient_id) is None:
                    rejected.append(r)
                else:
                    yield r

        return feed, self.privacy.reports(admitted(), self.quarantine)

    async def _produce_redrive(self, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop) -> None:
        """Re-read the selected items' reports, rebuild their questions and queue just those items."""
        wanted = self._redrive_items
        feed = ReportFeed(self.cfg, self.report_source, self.quarantine)
        reports = self.privacy.reports((r for r in feed if r.report_id in wanted), self.quarantine)  # as first mined
        extracted = iter(self.extractor.extract_many(reports, batch_size=32))
        ask = self.cfg.sampling()  # this session's sampling (a larger max_tokens); ids use the job's
        found: set[str] = set()

        def next_block() -> list[WorkItem]:
            block: list[WorkItem] = []
            for report, findings in extracted:
                ids = wanted.get(report.report_id, set())
                block += [w for w in self.items.plan(report, findings) if w.item_id in ids]
                if len(block) >= 16:
                    break
            return block

        while not self._stopped():
            block = await loop.run_in_executor(self.cpu, next_block)
            if not block:
                break
            self.bar.planned(len(block))
            for w in block:
                if w.item_id in found:
                    continue  # a report read twice (duplicate rows are quarantined by the reader)
                found.add(w.item_id)
                w.sampling, w.status = ask, QUARANTINED
                w.attempt = self._redrive_attempt.get(w.item_id, 0)
                await queue.put(w)
        self.redrive["not_found"] = sum(len(ids) for ids in wanted.values()) - len(found)
        self.bar.finished_input()

    def _load_data_options(self) -> None:
        """Read the split file, the excluded report ids and the answer key (each one-line errors when bad)."""
        from radprm.miners.answer_key import AnswerKey
        from radprm.miners.splits import SplitAssigner, read_id_list

        self.splits = SplitAssigner(self.cfg.split_file, self.cfg.split_ratios)
        self.exclude = read_id_list(self.cfg.exclude_reports) if self.cfg.exclude_reports else set()
        self.answer_key = AnswerKey.read(self.cfg.answer_key, self.cfg.labelset) if self.cfg.answer_key else None
        if self.answer_key is not None and self.report_source is None:
            from radprm.quarantine import QuarantineSink
            from radprm.readers import read_reports

            ids = (r.report_id for r in read_reports(self.cfg.reports, quarantine=QuarantineSink(),
                                                      limit=self.cfg.limit, **self.cfg.reader))
            self.answer_key.check_matches(rid for rid in ids if rid not in self.exclude)

    def _quarantine_unsplit(self, rejected: list[Report]) -> None:
        """Quarantine reports the split file does not name (`split_missing`): never given a split silently."""
        while rejected:
            report = rejected.pop()
            self.quarantine.add(
                record_id=report.report_id, stage="split", reason_code="split_missing",
                source_path=report.source_path or None, source_row=report.source_row, field="split_file",
                detail=f"report {report.report_id} (patient {report.patient_id or '-'}) is not in the split file "
                f"{self.cfg.split_file}", payload=None,
            )
            self.ledger.plan_report(report.report_id, [])

    def _record_plan(self, report: Report, works: list[WorkItem]) -> None:
        """Put a report's items in the ledger and set each one's state."""
        states = self._plan_report(report, [(w.item_id, w.question.question_id, w.rollout) for w in works])
        for w in works:
            w.status = states.get(w.item_id, PENDING)

    def _plan_report(self, report: Report, planned: list[tuple[str, str, int]]) -> dict[str, str]:
        """Put a report's (item id, question id, rollout) in the ledger, or quarantine a report without
        questions; returns the items' states (both engines)."""
        if not planned:
            self.quarantine.add(
                record_id=report.report_id, report_id=report.report_id, stage="questions", reason_code="no_questions",
                source_path=report.source_path or None, source_row=report.source_row,
                detail=f"no question of tasks {','.join(self.cfg.tasks)} could be built from the findings",
                payload=report.text,
            )
        self.ledger.plan_report(report.report_id, planned)
        states = self.ledger.statuses(i for i, _q, _r in planned)
        self.bar.planned(sum(states.get(i, PENDING) not in (WRITTEN, QUARANTINED) for i, _q, _r in planned))
        return states

    async def _worker(self, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        sampling = self.items.sampling
        while (work := await queue.get()) is not None:
            if self._stopped():
                continue  # left pending: a resumed job picks it up
            CURRENT_REPORT.set(work.report)  # this task's report, for the cache codec (--store-report-text no)
            outcome = await self.miner.mine(work.question, work.report, work.sampling or sampling, work.rollout,
                                            attempt=work.attempt)
            self._note_citation(work, outcome)
            if not outcome.ok:
                self._failed(work, outcome)
                continue
            self._answered(work)
            try:
                item = await loop.run_in_executor(self.cpu, self._build, work, outcome)
            except PhiBlocked as blocked:
                self._quarantine_item(work, "phi_detected", blocked.detail, None)
                continue
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
            self._write(item, all(c.cached for c in outcome.calls), judge_rows)

    def _answered(self, work: WorkItem) -> None:
        """A chain came back whole: count it and mark its item answered (both engines)."""
        self.ok_chains += 1
        self._flush_early_failures()
        self.ledger.mark_answered(work.item_id)

    def _write(self, item: Any, all_cached: bool, judge_rows: list[dict[str, Any]] | None = None) -> None:
        """Hand a built row to the shard writer (a repeated id is dropped there) and flush every
        --commit-every seconds (both engines)."""
        if self.writer.write(item):
            self.written_now += 1
            if self.judge is not None:
                self.judge.append_sidecar(self.run_dir, judge_rows or [])
            self.rebuilt += all_cached
        self.bar.item_done()
        if time.monotonic() - self._last_commit > self.cfg.commit_every:
            self.writer.flush()
            self._last_commit = time.monotonic()

    def _build(self, work: WorkItem, outcome: ChainOutcome) -> Any:
        """Validate and assemble the row, then apply the privacy options (CPU thread)."""
        item = self.items.build(work, outcome)
        return self.privacy.finish_item(item, work.report) if self.privacy.active else item

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
    def _note_citation(self, work: WorkItem, outcome: ChainOutcome) -> None:
        """Count a re-ask and record in the ledger what the report-citation check did to the item."""
        self.reasked += outcome.reasked
        if outcome.error_code == CITES_REPORT:
            state: str | None = "quarantined"
        elif outcome.ok and outcome.cites:
            state = "kept"
        elif outcome.reasked:
            state = "fixed" if outcome.ok else "reask_failed"
        elif work.attempt:
            state = None  # a re-driven item clean at its new first attempt: no longer citing
        else:
            return
        self.ledger.mark_citation(work.item_id, state)

    def _failed(self, work: WorkItem, outcome: ChainOutcome) -> None:
        if outcome.error_code == CITES_REPORT:  # the server answered: not a sign of a dead run
            self.ok_chains += 1
            self._flush_early_failures()
            self._quarantine_item(work, CITES_REPORT, f"{outcome.failed_prompt}: {outcome.error_detail}",
                                  outcome.raw_text, field="steps")
            return
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

    def _quarantine_item(self, work: WorkItem, reason: str, detail: str, payload: str | None,
                         field: str | None = None) -> None:
        self.quarantine.add(
            item_id=work.item_id, record_id=work.item_id, report_id=work.report.report_id, chain_id=work.item_id,
            stage="mine", reason_code=reason, field=field,
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



def check_new_shards(shards: str | Path) -> None:
    """Refuse to start a job in a `--shards` location that already holds a shard set (another job's).

    Raises:
        InputError: naming the manifest.
        ShardError: a remote location that cannot be read (one line naming it).
    """
    from radprm.shards.manifest import manifest_path

    loc = locate(shards)
    if loc.is_file(manifest_path(loc)):
        raise InputError("--shards already holds a shard set (of another job?)", path=loc.display(manifest_path(loc)),
                         field="shards", hint="resume that job with its --run-dir, or give a new --shards location")


def check_run_schema(shards: str | Path) -> None:
    """Refuse to continue (resume or re-drive) a job whose shards have another schema version.

    Called before anything in the run folder is opened for writing, so nothing changes.

    Args:
        shards: the job's shard set (`shards_location`): a local folder or a URI.

    Raises:
        InputError: naming the manifest and both versions.
        ShardError: a remote set that cannot be read (one line naming it).
    """
    from radprm.errors import ShardError
    from radprm.shards.manifest import load_manifest, manifest_path

    loc = locate(shards)
    if not loc.is_file(manifest_path(loc)):
        return
    try:
        version = load_manifest(loc).schema_version
    except ShardError as exc:
        raise InputError(exc.message, path=exc.path, field="schema_version") from None
    if version != SCHEMA_VERSION:
        raise InputError(
            f"the job's shards have schema version {version}; this radprm writes {SCHEMA_VERSION}",
            path=loc.display(manifest_path(loc)), field="schema_version",
            hint="--resume and --retry-quarantined continue only jobs of this schema; mine into a new --run-dir",
        )


@contextlib.contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[None]:
    """Hold `<run_dir>/.lock` for the session: one job writes a run folder's remote shard set at a time.

    Raises:
        InputError: another session of the job holds it.
    """
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError("another session is running this job", path=run_dir, field="run_dir",
                             hint="wait for it to end, or choose another --run-dir") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def mine(
    reports: str | Path | Iterable[Report],
    *,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = False,
    extractor: Any = None,
    validator: Any = None,
    announce: Any = None,
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
        announce: Called with the one-line budget estimate before the first request (the CLI prints it).
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
                    report_source=source, announce=announce)
    return job.run()
