"""Validate a whole CHAINS file against a reports input and write step and chain tables.

This is the API behind `radprm validate`. The chains file is read twice: a first pass collects the
report ids it needs (so only those reports are kept in memory), the second validates. Each report's
findings are extracted once however many chains refer to it.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from radprm import run
from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.schemas.arrow import EVIDENCE_TYPE
from radprm.schemas.records import Report
from radprm.tables import table_format, write_table
from radprm.validators.align import Claim
from radprm.validators.chains_io import iter_raw_rows, read_chains
from radprm.validators.judge import make_judge
from radprm.validators.judge import step_schema as judge_step_schema
from radprm.validators.prm_reader import make_prm_reader
from radprm.validators.prm_reader import step_schema as prm_step_schema
from radprm.validators.steps import StepValidator

CLAIMS_CACHE_SIZE = 20_000  # reports whose claims are kept between chains

STEP_SCHEMA = pa.schema(
    [
        pa.field("chain_id", pa.string(), nullable=False),
        pa.field("step_index", pa.int32(), nullable=False),
        pa.field("step", pa.string(), nullable=False),
        pa.field("label", pa.bool_(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("evidence", pa.list_(EVIDENCE_TYPE), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
    ],
    metadata={b"radprm.schema": b"step_result", b"radprm.schema_version": b"1"},
)
"""One row per validated step (`StepResult`), columns in this order."""

CHAIN_SCHEMA = pa.schema(
    [
        pa.field("chain_id", pa.string(), nullable=False),
        pa.field("completeness", pa.float64()),
        pa.field("factuality", pa.float64()),
        pa.field("effectiveness", pa.float64()),
        pa.field("first_bad_step", pa.int32(), nullable=False),
        pa.field("n_steps", pa.int32(), nullable=False),
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("answer_reward", pa.float64()),
    ],
    metadata={b"radprm.schema": b"chain_scores", b"radprm.schema_version": b"1"},
)
"""One row per validated chain (`ChainScores` plus report_id and answer_reward)."""


@dataclass
class ValidateSummary:
    """What `validate_file` did: counts by label, verdict and reason, quarantine, timing."""

    chains_path: Path
    out: Path
    chains_out: Path | None
    chains: int = 0
    steps: int = 0
    good: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    reports_read: int = 0
    seconds: float = 0.0
    quarantine: QuarantineSink | None = None
    rules_version: str = ""
    abstention: str = ""  # what abstains: "abstention table v2", "second opinion v1", or "none"
    judge: Any = None  # JudgeSummary when an LLM judge ran (radprm.validators.judge)
    prm: Any = None  # PrmSummary when a PRM read the steps (radprm.validators.prm_reader)

    def render(self) -> str:
        """Multi-line summary for the terminal."""
        rate = self.steps / self.seconds if self.seconds else 0.0
        lines = [
            f"validated {self.steps} steps in {self.chains} chains ({self.reports_read} reports used) "
            f"in {self.seconds:.1f}s ({rate:.0f} steps/s), step rules v{self.rules_version}, "
            + (self.abstention if self.abstention not in ("", "none") else "no abstention"),
            f"labels: good={self.good} bad={self.steps - self.good}",
            "verdicts: " + ", ".join(f"{k}={v}" for k, v in self.verdicts.most_common()),
        ]
        if self.reasons:
            lines.append("reasons: " + ", ".join(f"{k}={v}" for k, v in self.reasons.most_common()))
        lines.append(f"steps -> {self.out}")
        if self.chains_out:
            lines.append(f"chains -> {self.chains_out}")
        if self.prm is not None:
            lines.append(self.prm.render())
        if self.judge is not None:
            lines.append(self.judge.render())
        if self.quarantine is not None:
            lines.append(self.quarantine.render())
        return "\n".join(lines)


def needed_report_ids(chains_path: str | Path) -> tuple[set[str], int]:
    """Report ids referenced by a CHAINS file and its number of rows (first, cheap pass)."""
    ids: set[str] = set()
    rows = 0
    for _, row in iter_raw_rows(chains_path):
        rows += 1
        if isinstance(row, dict) and row.get("report_id") is not None:
            ids.add(str(row["report_id"]))
    return ids, rows


class _WantedOnly(QuarantineSink):
    """Forwards to `sink` only the report rows a chain refers to (or whose id is unknown).

    A reports file may hold thousands of rows no chain uses; their problems are not this run's.
    """

    def __init__(self, sink: QuarantineSink, wanted: set[str]) -> None:
        super().__init__(None, keep=0)
        self.sink, self.wanted = sink, wanted

    def add(self, record: Any = None, **fields: Any) -> Any:
        """Count every record; pass on those about a wanted (or unidentifiable) report."""
        record_id = record.record_id if record is not None else fields.get("record_id")
        if record_id is None or str(record_id) in self.wanted:
            return self.sink.add(record, **fields)
        return super().add(record, **fields)


def load_reports(
    reports_path: str | Path, wanted: set[str], quarantine: QuarantineSink, **reader_options: Any
) -> dict[str, Report]:
    """Read reports, keeping only those whose id is in `wanted`."""
    from radprm.readers import read_reports

    stream = read_reports(reports_path, quarantine=_WantedOnly(quarantine, wanted), **reader_options)
    return {r.report_id: r for r in stream.with_progress(f"reading {Path(reports_path).name}")
            if r.report_id in wanted}


def validate_file(
    chains_path: str | Path,
    reports_path: str | Path,
    out: str | Path,
    *,
    chains_out: str | Path | None = None,
    quarantine: str | Path | None = None,
    strict: bool = False,
    validator: StepValidator | None = None,
    progress: bool | None = None,
    judge: Any = None,
    judge_policy: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    concurrency: int = 8,
    abstention: str | Path | None = None,
    announce: Any = None,
    prm: Any = None,
    **reader_options: Any,
) -> ValidateSummary:
    """Validate every chain of a CHAINS file and write one row per step (and per chain).

    Args:
        chains_path: CHAINS file (.jsonl or .parquet) with chain_id, report_id, steps.
        reports_path: reports in any format `radprm.readers.read_reports` accepts.
        out: step table (.parquet, .jsonl or .csv), columns as `STEP_SCHEMA`.
        chains_out: optional chain table, columns as `CHAIN_SCHEMA`.
        quarantine: JSONL file for bad chain and report rows; default `<out>.quarantine.jsonl`.
        strict: raise (after writing) when any row was quarantined.
        validator: a StepValidator to reuse (one is built otherwise).
        progress: show a progress bar on stderr (None: only on a terminal).
        judge: also ask an LLM judge: ``undecided`` or ``all`` steps, or a `StepJudge`; None: rules only.
            With a judge the step table gets the `radprm.validators.judge.JUDGE_FIELDS` columns.
        judge_policy, base_url, model, concurrency: the judge's fusion policy, server, model and
            requests in flight (see `radprm.validators.judge.StepJudge`).
        abstention: what abstains for a validator built here (`radprm.validators.abstention.load_abstention`):
            a file of `radprm eval calibrate` or `radprm eval doubt`, ``"table"``, ``"model"``, ``"none"``, or
            None for the packaged default.
        announce: with a judge, called with the one-line budget estimate before its first request.
        prm: a `radprm train prm` checkpoint (or a `PrmReader`) read as a second reader after the rules
            (`radprm.validators.prm_reader`); the step table gets the `prm_p_bad` column. With a judge
            too, the PRM reads first and the judge sees its fused labels.
        **reader_options: keyword arguments of `read_reports` (format, id_col, text_col, ...).

    Returns:
        The ValidateSummary.

    Raises:
        InputError: file-level problems.
        RunError: every chain quarantined; or, with `strict`, any quarantine (the tables are written
            first; `err.summary` is the ValidateSummary).
    """
    chains_path, out = Path(chains_path), Path(out)
    table_format(out)
    if chains_out is not None:
        chains_out = Path(chains_out)
        table_format(chains_out)
    if validator is None:
        validator = StepValidator(abstention=abstention)  # a bad table fails before any output is touched
    elif abstention is not None:
        raise InputError("give the abstention table to the StepValidator, not beside it", field="abstention")
    step_judge = make_judge(judge, judge_policy, base_url=base_url, model=model, concurrency=concurrency)
    if step_judge is not None:
        step_judge.open()  # fails fast (no server given, server down) before any output is touched
    prm_reader = make_prm_reader(prm)
    if prm_reader is not None:
        prm_reader.open()  # no checkpoint, bad policy, no train venv: one line before any output is touched
    start = time.perf_counter()
    wanted, n_rows = needed_report_ids(chains_path)
    out, qpath = run.output_paths(out, quarantine=quarantine, others=[chains_out])
    summary = ValidateSummary(chains_path, out, chains_out, rules_version=validator.rules_version,
                              abstention=validator.abstention_name)
    chain_rows: list[dict[str, Any]] = []
    with QuarantineSink(qpath) as sink, step_judge or contextlib.nullcontext():
        summary.quarantine = sink
        reports = load_reports(reports_path, wanted, sink, **reader_options)
        summary.reports_read = len(reports)
        contexts: dict[str, Any] | None = {} if step_judge is not None or prm_reader is not None else None
        steps = _validate_rows(chains_path, reports, validator, sink, summary, chain_rows, n_rows, progress, contexts)
        schema = STEP_SCHEMA
        if prm_reader is not None:
            summary.prm = prm_reader.summary
            steps = prm_reader.read_rows(steps, contexts, keep=step_judge is not None)  # the judge reads them next
            schema = prm_step_schema(schema)
        if step_judge is not None:
            if announce is not None:
                announce(_judge_budget(chains_path, reports, step_judge).render())
            summary.judge = step_judge.summary
            steps = step_judge.judged_rows(steps, contexts, sink, chains_path)
            schema = judge_step_schema(schema)
        write_table(_counted(steps, summary), out, schema=schema)
        if chains_out is not None:
            rows = chain_rows
            for stage in (prm_reader, step_judge):
                if stage is not None:
                    rows = stage.patch_chain_rows(rows)
            write_table(rows, chains_out, schema=CHAIN_SCHEMA)
    summary.seconds = time.perf_counter() - start
    return run.finish(summary, produced=summary.chains, quarantine=sink, strict=strict, path=chains_path,
                      failed="no chain could be validated")


def _counted(rows: Iterable[dict[str, Any]], summary: ValidateSummary) -> Iterator[dict[str, Any]]:
    """Count the rows as written, after every stage (rules, PRM reader, judge): the summary is the table's."""
    for row in rows:
        summary.steps += 1
        summary.good += row["label"]
        summary.verdicts[row["verdict"]] += 1
        summary.reasons.update(row["reasons"])
        yield row


def _judge_budget(chains_path: Path, reports: dict[str, Report], step_judge: Any) -> Any:
    """The judge's budget over the chains whose report was read (one more pass over the chains file)."""
    from radprm.miners.budget import judge_budget

    rows = read_chains(chains_path, quarantine=QuarantineSink())  # problems are quarantined by the real pass
    return judge_budget(((r.chain, reports[r.chain.report_id]) for r in rows if r.chain.report_id in reports),
                        step_judge)


def _validate_rows(
    chains_path: Path,
    reports: dict[str, Report],
    validator: StepValidator,
    sink: QuarantineSink,
    summary: ValidateSummary,
    chain_rows: list[dict[str, Any]],
    n_rows: int,
    progress: bool | None,
    contexts: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    # bounded: chains of one report usually come together, and 100k reports' claims would not fit in memory
    claims_cache: OrderedDict[str, list[Claim]] = OrderedDict()
    with run.progress("validating", total=n_rows, enabled=progress) as bar:
        for row in read_chains(chains_path, quarantine=sink):
            bar.advance()
            chain = row.chain
            report = reports.get(chain.report_id)
            if report is None:
                sink.add(stage="validate", reason_code="unknown_report_id", source_path=row.source_path,
                         source_row=row.source_row, field="report_id", record_id=chain.chain_id,
                         chain_id=chain.chain_id, report_id=chain.report_id,
                         detail=f"report_id {chain.report_id!r} is not among the reports read",
                         payload=chain.model_dump_json())
                continue
            claims = claims_cache.get(report.report_id)
            if claims is None:
                claims = claims_cache[report.report_id] = validator.report_claims(report)
                if len(claims_cache) > CLAIMS_CACHE_SIZE:
                    claims_cache.popitem(last=False)
            else:
                claims_cache.move_to_end(report.report_id)
            result = validator.validate_claims(chain, report, claims)
            if contexts is not None:  # the LLM judge needs the question and the report text
                contexts[chain.chain_id] = (chain, report)
            summary.chains += 1
            for s in result.steps:
                yield s.model_dump()
            chain_rows.append({**result.scores.model_dump(), "report_id": chain.report_id,
                               "answer_reward": result.answer_reward})
        bar.update(completed=n_rows)
