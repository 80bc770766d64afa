"""`radprm mine --engine ray`: the mining job's stages on Ray Data, committed by the driver.

Stages (each a Ray Data `map_batches` over a pool of actors; rows are JSON strings, so any Ray version
moves them the same way)::

    reports (project readers, in the driver; quarantine as usual)
      -> PlanStage      CPU actors: findings (medspaCy loaded once per actor) + questions -> work rows
      -> LLMStage       async client over every --base-url (least outstanding requests), request cache
      -> ValidateStage  CPU actors: step validation -> the shard row (`Item`) or the failure
      -> driver         ledger + ShardWriter + quarantine, exactly as the local engine

Exactly-once is the local engine's, because the driver alone commits:

* item ids are deterministic (`item_id_for`: report, question, prompts, model, sampling, rollout), so both
  engines plan the same ids for the same reports and options;
* an item is `written` in the ledger only when the shard holding it is committed (the writer's
  `on_commit`); shards committed just before a crash are adopted on `--resume`;
* a resumed job sends only reports that are not done; an item the ledger already holds as written or
  quarantined is skipped at commit (and the writer drops a repeated id), so nothing is written twice;
* answers are in the request cache (SQLite, shared by the actors: it must be on storage every node
  sees), so work lost with a killed driver is rebuilt without new requests.

Reports go to Ray in windows of `WINDOW` reports, so the driver never holds the whole input. Rows of a
window are committed as they stream back; the ledger, not the window, is the unit of progress.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import traceback
from typing import Any

from radprm.errors import InputError, RadprmError
from radprm.miners.chains import ChainOutcome
from radprm.miners.items import WorkItem
from radprm.miners.job import MiningJob
from radprm.miners.ledger import PENDING, QUARANTINED, WRITTEN
from radprm.miners.metrics import ClientMetrics
from radprm.schemas.records import Finding, Item, Question, Report

WINDOW = 1024  # reports per Ray dataset
PLAN_BATCH = 16  # reports per PlanStage batch (like the local engine's CPU blocks)


def require_ray() -> Any:
    """Import Ray, or fail with the install command."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("--engine ray needs Ray, which is not installed", field="engine",
                         hint="pip install 'radprm[ray]', or use --engine local") from None
    return ray


def connect(address: str | None, *, num_cpus: int | None = None) -> Any:
    """Join the Ray cluster at `address` (``auto``, ``host:port``, ``ray://host:port``) or start a local one.

    A Ray already initialised in this process (e.g. by a notebook or test) is used as it is.

    Raises:
        InputError: Ray missing, or the address does not answer (one line naming the fix).
    """
    import logging

    ray = require_ray()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the job's own progress bar is the one shown
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if ray.is_initialized():
        return ray
    if address and address != "auto":
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
                pass
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot reach the Ray cluster at {address} ({type(exc).__name__})",
                             field="ray_address",
                             hint="start one with `ray start --head`, fix --ray-address, or drop it for a "
                                  "local Ray") from None
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local cluster for one job: no token setup
    if address:
        kwargs["address"] = address
    else:  # a local cluster for this job: modest object store, no dashboard
        kwargs.update(num_cpus=num_cpus, object_store_memory=256 * 1024 * 1024)
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        raise InputError(f"cannot join the Ray cluster at {address}: {exc}", field="ray_address",
                         hint="start one with `ray start --head`, or drop --ray-address for a local Ray") from None
    return ray


# --- row codecs (JSON strings between stages) ------------------------------------------------------


def _work_json(w: WorkItem) -> str:
    return json.dumps({"question": w.question.model_dump(mode="json"), "rollout": w.rollout, "item_id": w.item_id,
                       "split": w.split, "patient_id": w.patient_id, "key_source": w.key_source})


def _work_from(row: dict[str, Any], report: Report, findings: list[Finding]) -> WorkItem:
    d = json.loads(row["work"])
    return WorkItem(report, findings, Question.model_validate(d["question"]), d["rollout"], d["item_id"],
                    split=d.get("split"), patient_id=d.get("patient_id"), key_source=d.get("key_source", "extractor"))


def _data_options(cfg: Any) -> tuple[Any, Any]:
    """The split assigner and answer key of a job's options (each actor reads them once)."""
    from radprm.miners.answer_key import AnswerKey
    from radprm.miners.splits import SplitAssigner

    splits = SplitAssigner(cfg.split_file, cfg.split_ratios)
    answer_key = AnswerKey.read(cfg.answer_key, cfg.labelset) if cfg.answer_key else None
    return splits, answer_key


def _report_parts(row: dict[str, Any]) -> tuple[Report, list[Finding]]:
    report = Report.model_validate_json(row["report"])
    findings = [Finding.model_validate(f) for f in json.loads(row["findings"])]
    return report, findings


def _outcome_json(o: ChainOutcome) -> str:
    return json.dumps({
        "ok": o.ok, "plan": o.plan, "steps": o.steps, "stages": o.stages, "model_answer": o.model_answer,
        "error_code": o.error_code, "error_detail": o.error_detail, "failed_prompt": o.failed_prompt,
        "raw_text": o.raw_text, "attempt": o.attempt, "reasked": o.reasked, "cites": o.cites,
        "all_cached": bool(o.calls) and all(c.cached for c in o.calls),
    })


def _outcome_from(text: str) -> tuple[ChainOutcome, bool]:
    d = json.loads(text)
    all_cached = d.pop("all_cached")
    return ChainOutcome(**d), all_cached


def _rows(batch: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(batch)
    n = len(batch[keys[0]]) if keys else 0
    return [{k: batch[k][i] for k in keys} for i in range(n)]


def _columns(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, list[Any]]:
    return {k: [r.get(k, "") for r in rows] for k in keys}


ROW_KEYS = ["report", "findings", "planned", "work", "outcome", "item", "failure", "stats"]


# --- stages (Ray actors; one instance per actor process) ---------------------------------------------


class PlanStage:
    """Findings + questions for a batch of reports; one output row per work item (or one per report
    without questions)."""

    def __init__(self, cfg_json: str, prompt_labels: list[str]) -> None:
        from radprm.miners.config import MineConfig
        from radprm.miners.items import ItemBuilder
        from radprm.validators.findings import FindingsExtractor

        self.cfg = MineConfig.model_validate_json(cfg_json)
        self.extractor = FindingsExtractor()
        splits, answer_key = _data_options(self.cfg)
        self.items = ItemBuilder(self.cfg, None, [], prompt_labels, "", None, None, splits=splits,
                                 answer_key=answer_key)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        reports = [Report.model_validate_json(r) for r in batch["report"]]
        out: list[dict[str, Any]] = []
        for report, findings in self.extractor.extract_many(reports, batch_size=32):
            works = self.items.plan(report, findings)
            base = {"report": report.model_dump_json(), "findings": json.dumps([f.model_dump(mode="json")
                                                                                for f in findings]),
                    "planned": json.dumps([[w.item_id, w.question.question_id, w.rollout] for w in works])}
            out.extend({**base, "work": _work_json(w)} for w in works)
            if not works:
                out.append({**base, "work": ""})
        return _columns(out, ROW_KEYS)


class LLMStage:
    """Mines the chain of every work row through the async client (all servers, request cache)."""

    def __init__(self, cfg_json: str, prompts_dir: str | None, cache_path: str) -> None:
        from radprm.miners.cache import RequestCache
        from radprm.miners.chains import ChainMiner
        from radprm.miners.client import LLMClient
        from radprm.miners.config import MineConfig
        from radprm.phi.privacy import CacheCodec, JobPrivacy
        from radprm.prompts.registry import PromptRegistry

        self.cfg = MineConfig.model_validate_json(cfg_json)
        self.metrics = ClientMetrics()
        self.client = LLMClient(self.cfg.base_urls, self.cfg.model, concurrency=self.cfg.concurrency,
                                timeout=self.cfg.timeout, max_retries=self.cfg.max_retries, metrics=self.metrics,
                                check_model=False)
        self.client.cache = RequestCache(cache_path)
        # the local engine's privacy handling of the request cache (codec) and cache keys, per actor
        privacy = JobPrivacy(self.cfg.phi, self.cfg.phi_engine, self.cfg.keeps_report_text)
        if not privacy.store_text or privacy.mode == "mask":
            self.client.cache.codec = CacheCodec(privacy)
        self.miner = ChainMiner(self.client, PromptRegistry(prompts_dir), mode=self.cfg.mode, style=self.cfg.style,
                                cites_report=self.cfg.cites_report)  # re-asks happen here, as in the local engine
        if not privacy.store_text:
            self.miner.key_extra = {"report_text": "ids-only"}
        self.sampling = self.cfg.sampling()
        self.actor = f"llm-{id(self):x}"
        self._sent: dict[str, Any] = {k: 0 if isinstance(v, list) else v
                                      for k, v in _metrics_json(ClientMetrics()).items()}  # reported so far

    def _metrics_delta(self) -> dict[str, Any]:
        now = _metrics_json(self.metrics)
        delta: dict[str, Any] = {}
        for key, value in now.items():
            was = self._sent[key]
            if isinstance(value, list):
                delta[key], now[key] = value[was:], len(value)
            elif isinstance(value, dict):
                delta[key] = {k: n - was.get(k, 0) for k, n in value.items() if n != was.get(k, 0)}
                now[key] = dict(value)
            else:
                delta[key] = value - was
        self._sent = now
        return delta

    async def __call__(self, batch: dict[str, Any]) -> Any:
        """An async generator: Ray runs several batches of one actor on its event loop at once, so the
        client's slots stay busy across batch boundaries (no per-batch tail)."""
        from radprm.phi.privacy import CURRENT_REPORT

        rows = _rows(batch)

        async def one(row: dict[str, Any]) -> None:
            report = Report.model_validate_json(row["report"])
            CURRENT_REPORT.set(report)  # this task's report, for the cache codec (--store-report-text no)
            d = json.loads(row["work"])
            outcome = await self.miner.mine(Question.model_validate(d["question"]), report, self.sampling,
                                            d["rollout"])
            row["outcome"] = _outcome_json(outcome)

        await asyncio.gather(*(one(r) for r in rows if r["work"]))
        # the client counters since the last batch that finished (batches overlap: a call in flight is
        # counted by the batch that finishes after it) and this actor's cumulative per-server counters
        stats = json.dumps({"actor": self.actor, "metrics": self._metrics_delta(),
                            "servers": self.client.pool.stats()})
        if rows:
            rows[0]["stats"] = stats
        yield _columns(rows, ROW_KEYS)


class ValidateStage:
    """Validates each mined chain's steps against its report and builds the shard row."""

    def __init__(self, cfg_json: str, prompt_refs: list[dict], prompt_labels: list[str], run_id: str,
                 server_host: str | None) -> None:
        from radprm.miners.config import MineConfig
        from radprm.miners.items import ItemBuilder
        from radprm.schemas.records import PromptRef
        from radprm.validators.findings import FindingsExtractor
        from radprm.validators.steps import StepValidator

        cfg = MineConfig.model_validate_json(cfg_json)
        extractor = FindingsExtractor()
        splits, answer_key = _data_options(cfg)
        self.items = ItemBuilder(cfg, StepValidator(extractor=extractor, abstention=cfg.abstention),
                                 [PromptRef.model_validate(r) for r in prompt_refs], prompt_labels, run_id,
                                 server_host, extractor.rules_version, splits=splits, answer_key=answer_key)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = _rows(batch)
        for row in rows:
            if not row["outcome"]:
                continue
            outcome, _ = _outcome_from(row["outcome"])
            if not outcome.ok:
                continue
            report, findings = _report_parts(row)
            work = _work_from(row, report, findings)
            try:
                row["item"] = self.items.build(work, outcome).model_dump_json()
            except RadprmError:
                raise  # e.g. a broken rule file: every item would fail, so the job stops
            except Exception as exc:  # one odd chain: quarantined by the driver as validator_error
                row["failure"] = json.dumps({"detail": f"{type(exc).__name__}: {exc}",
                                             "payload": traceback.format_exc(limit=5)})
        return _columns(rows, ROW_KEYS)


def _metrics_json(m: ClientMetrics) -> dict[str, Any]:
    return {"calls": m.calls, "ok": m.ok, "cache_hits": m.cache_hits, "requests": m.requests,
            "prompt_tokens": m.prompt_tokens, "completion_tokens": m.completion_tokens,
            "wasted_completion_tokens": m.wasted_completion_tokens, "fatal": m.fatal,
            "retries": dict(m.retries), "failures": dict(m.failures),
            "request_latencies": m.request_latencies, "call_latencies": m.call_latencies}


def _metrics_from(d: dict[str, Any]) -> ClientMetrics:
    from collections import Counter

    return ClientMetrics(calls=d["calls"], ok=d["ok"], cache_hits=d["cache_hits"], requests=d["requests"],
                         prompt_tokens=d["prompt_tokens"], completion_tokens=d["completion_tokens"],
                         wasted_completion_tokens=d["wasted_completion_tokens"], fatal=d["fatal"],
                         retries=Counter(d["retries"]), failures=Counter(d["failures"]),
                         request_latencies=list(d["request_latencies"]), call_latencies=list(d["call_latencies"]))


# --- the driver -------------------------------------------------------------------------------------------


class _DriverExtractor:
    """The driver's findings extractor: the rule set's version at once, medspaCy only when the driver
    itself extracts (a re-drive): the actors do the extraction, and building the pipeline takes seconds."""

    def __init__(self) -> None:
        from radprm.validators.findings import load_findings_rules

        self.rules = load_findings_rules()
        self.rules_version = self.rules.rules_version
        self._real: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            from radprm.validators.findings import FindingsExtractor

            self._real = FindingsExtractor(self.rules)
        return getattr(self._real, name)


class RayMiningJob(MiningJob):
    """`MiningJob` whose CPU and LLM stages run on Ray Data; the driver keeps ledger, shards and quarantine.

    Everything else (job.json, resume checks, cache, ledger, writer, quarantine, summary) is the local
    engine's code, so both engines produce the same schema, manifest, item ids and quarantine.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.cfg.judge or self.cfg.judge_policy:
            raise InputError("--judge is not supported with --engine ray yet", field="engine",
                             hint="use --engine local, or judge the shards afterwards with `radprm validate`")
        self.ray = connect(self.cfg.ray_address)  # fails before any job state is written
        if self._extractor is None:
            self._extractor = _DriverExtractor()
        self._actor_servers: dict[str, dict[str, dict[str, Any]]] = {}

    def collect_server_stats(self, client: Any) -> None:
        merged = ClientMetrics()
        for servers in self._actor_servers.values():
            merged.merge(ClientMetrics(servers=servers))
        self.metrics.servers = merged.servers or client.pool.stats()

    async def _pipeline(self) -> None:
        if self.redrive is not None:  # a re-drive asks a few quarantined items again: the local engine's path
            await super()._pipeline()
            return
        self._last_commit = time.monotonic()
        rejected: list[Report] = []  # reports the split file does not name (split_missing)
        _feed, reports = self._admitted(rejected)  # as the local engine: done, excluded, split, PHI guard
        with self._progress_bar() as self.bar:
            window: list[dict[str, str]] = []
            for report in reports:
                self._quarantine_unsplit(rejected)
                window.append({"report": report.model_dump_json()})
                if len(window) >= WINDOW:
                    self._run_window(window)
                    window = []
                    if self._stopped():
                        break
            if window and not self._stopped():
                self._run_window(window)
            self._quarantine_unsplit(rejected)
            self.bar.finished_input()
        if self.ok_chains == 0 and self._early_failures and not self._had_written:
            self._raise_all_failed()
        self._flush_early_failures()

    def _dataset(self, window: list[dict[str, str]]) -> Any:
        ray = self.ray
        cfg_json = self.cfg.model_dump_json()
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        cpu_actors = max(1, cpus // 2)  # findings and validation share the cores
        labels = self.miner.prompt_labels

        def pool(n: int) -> Any:
            return ray.data.ActorPoolStrategy(size=n)

        ds = ray.data.from_items(window, override_num_blocks=max(1, min(len(window) // PLAN_BATCH, cpus * 4)))
        ds = ds.map_batches(PlanStage, fn_constructor_kwargs={"cfg_json": cfg_json, "prompt_labels": labels},
                            batch_size=PLAN_BATCH, compute=pool(cpu_actors), num_cpus=1)
        ds = ds.map_batches(
            # an async stage: several batches in flight at once keep the client's slots busy
            LLMStage, batch_size=self.cfg.concurrency, compute=pool(1), num_cpus=0,
            fn_constructor_kwargs={"cfg_json": cfg_json, "cache_path": str(self.cache_path),
                                   "prompts_dir": str(self.cfg.prompts_dir) if self.cfg.prompts_dir else None})
        refs = [r.model_dump() for r in self.miner.prompt_refs]
        return ds.map_batches(
            ValidateStage, batch_size=PLAN_BATCH, compute=pool(cpu_actors), num_cpus=1,
            fn_constructor_kwargs={"cfg_json": cfg_json, "prompt_refs": refs, "prompt_labels": labels,
                                   "run_id": self.run_id, "server_host": self.items.server_host})

    def _run_window(self, window: list[dict[str, str]]) -> None:
        planned: set[str] = set()
        for row in self._dataset(window).iter_rows():
            if row["stats"]:
                self._add_stats(json.loads(row["stats"]))
            report, findings = _report_parts(row)
            if report.report_id not in planned:
                planned.add(report.report_id)
                self._plan(report, json.loads(row["planned"]))
            if self._stopped():
                break  # a budget or --stop-after-items: the rest stays pending for --resume
            if not row["work"]:
                continue
            work = _work_from(row, report, findings)
            work.status = self.ledger.status(work.item_id) or PENDING
            if work.status in (WRITTEN, QUARANTINED):
                continue
            self._commit(work, row)

    def _plan(self, report: Report, planned: list[list[Any]]) -> None:
        self._plan_report(report, [(i, q, r) for i, q, r in planned])
        self.bar.reports_read(1, None)

    def _commit(self, work: WorkItem, row: dict[str, Any]) -> None:
        outcome, all_cached = _outcome_from(row["outcome"])
        self._note_citation(work, outcome)
        if not outcome.ok:
            self._failed(work, outcome)
            return
        self._answered(work)
        if row["failure"]:
            failure = json.loads(row["failure"])
            self._validator_errors += 1
            self._quarantine_item(work, "validator_error", failure["detail"], failure["payload"])
            return
        item = Item.model_validate_json(row["item"])
        self.items.disputed += bool(item.answer_disputed)
        if self.privacy.active:
            from radprm.phi.privacy import PhiBlocked

            try:
                item = self.privacy.finish_item(item, work.report)
            except PhiBlocked as blocked:
                self._quarantine_item(work, "phi_detected", blocked.detail, None)
                return
        self._write(item, all_cached)

    def _add_stats(self, stats: dict[str, Any]) -> None:
        self.metrics.merge(_metrics_from(stats["metrics"]))
        self._actor_servers[stats["actor"]] = stats["servers"]
