"""Label a whole input of reports: the API behind `radprm findings`.

Reads reports with `radprm.readers.read_reports`, runs the extractor over them in batches
(`nlp.pipe`, streaming: memory stays flat), and writes one row per report (report_id + one column
per label, 1 / 0 / -1 / empty) and, optionally, one row per mention. Rows the reader cannot use are
quarantined by the reader; a report whose extraction fails is quarantined here (stage "findings",
reason `extract_error`) instead of stopping the run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from radprm import run
from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.readers import read_reports
from radprm.schemas.arrow import FINDING_SCHEMA
from radprm.schemas.records import Finding, Report
from radprm.tables import table_format, write_table
from radprm.validators.findings.extract import FindingsExtractor, default_extractor
from radprm.validators.findings.labelsets import labelset_columns, report_labels

DETAIL_COLUMNS = [*FINDING_SCHEMA.names, "rules_version"]
DETAIL_SCHEMA = FINDING_SCHEMA.append(pa.field("rules_version", pa.string(), nullable=False))
_STATUS = {1: "positive", 0: "negative", -1: "uncertain", None: "unmentioned"}


def labels_schema(columns: list[str]) -> pa.Schema:
    """Arrow schema of the per-report label table: report_id, then one nullable int8 per label."""
    return pa.schema([pa.field("report_id", pa.string(), nullable=False)] + [pa.field(c, pa.int8()) for c in columns])


@dataclass
class FindingsSummary:
    """What `label_reports` did: counts per label and status, mentions, quarantine, timing."""

    input: Path
    out: Path
    labelset: str
    labels: list[str]
    rules_version: str
    details: Path | None = None
    reports: int = 0
    mentions: int = 0
    no_mentions: int = 0
    read_quarantined: int = 0
    warnings: str | None = None
    seconds: float = 0.0
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    quarantine: QuarantineSink | None = None

    def render(self, table: bool = False) -> str:
        """Short summary; with `table`, the per-label counts (positive / negative / uncertain / unmentioned)."""
        rate = self.reports / self.seconds if self.seconds else 0.0
        lines = [
            f"labelled {self.reports} reports ({self.labelset}, rules {self.rules_version}) -> {self.out}"
            f" in {self.seconds:.1f}s ({rate:.0f} reports/s)",
            f"mentions: {self.mentions}" + (f" -> {self.details}" if self.details else ""),
        ]
        if self.no_mentions:
            lines.append(f"reports with no mention of any observation: {self.no_mentions}")
        if table:
            width = max(len(label) for label in self.labels)
            lines.append(f"{'label':<{width}}  {'positive':>8} {'negative':>8} {'uncertain':>9} {'unmentioned':>11}")
            for label in self.labels:
                c = self.counts.get(label, Counter())
                lines.append(
                    f"{label:<{width}}  {c['positive']:>8} {c['negative']:>8} {c['uncertain']:>9} "
                    f"{c['unmentioned']:>11}"
                )
        if self.warnings:
            lines.append(self.warnings)
        lines.append(self.quarantine.render() if self.quarantine is not None else "quarantined: 0")
        return "\n".join(lines)


def label_reports(
    input: str | Path,
    out: str | Path,
    *,
    labelset: str = "chestxray14",
    details: str | Path | None = None,
    quarantine: str | Path | None = None,
    extractor: FindingsExtractor | None = None,
    strict: bool = False,
    batch_size: int = 64,
    progress: bool | None = None,
    **reader_options: Any,
) -> FindingsSummary:
    """Extract findings from every report of an input and write report-level labels.

    Args:
        input: reports in any format `read_reports` understands (IU CSV, csv, jsonl, parquet, text).
        out: label table (.csv, .parquet or .jsonl): `report_id`, then one column per label.
        labelset: "chestxray14" or "chexpert".
        details: optional mention table (.csv, .parquet, .jsonl): every Finding attribute plus
            `rules_version`.
        quarantine: JSONL file for quarantined rows (written only when there are some); default
            `<out>.quarantine.jsonl`. A stale file from an earlier run is removed first.
        extractor: a FindingsExtractor to reuse (default: the cached packaged one).
        strict: raise after writing when any row was quarantined.
        batch_size: reports per spaCy batch.
        progress: progress bar on stderr (None: only on a terminal).
        **reader_options: keyword arguments of `read_reports` (format, id_col, text_col, findings_col,
            impression_col, projections, limit).

    Returns:
        A FindingsSummary.

    Raises:
        InputError: unknown label set, bad output extension, any file-level reading problem, or,
            with `strict`, any quarantined row (the outputs are written first).
    """
    input, out = Path(input), Path(out)
    columns = labelset_columns(labelset)
    table_format(out)  # fail on a bad extension before the slow work
    if details is not None:
        details = Path(details)
        table_format(details)
        if details.resolve() == out.resolve():
            raise InputError("--details would overwrite --out", path=details, field="details")
    out, qpath = run.output_paths(out, quarantine=quarantine, others=[details])
    ex = extractor or default_extractor()
    summary = FindingsSummary(
        input=input, out=out, labelset=labelset, labels=columns, rules_version=ex.rules_version, details=details
    )
    summary.counts = {label: Counter() for label in columns}
    detail_rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with QuarantineSink(qpath) as sink:
        stream = read_reports(input, quarantine=sink, **reader_options)
        summary.quarantine = sink

        def label_rows() -> Iterator[dict[str, Any]]:
            reports = stream.with_progress(f"findings {input.name}", enabled=progress)
            for report, findings in _safe_extract(ex, reports, sink, batch_size):
                labels = report_labels(findings, labelset, rules=ex.rules)
                summary.reports += 1
                summary.mentions += len(findings)
                summary.no_mentions += not findings
                for label, value in labels.items():
                    summary.counts[label][_STATUS[value]] += 1
                if details is not None:
                    detail_rows.extend({**f.model_dump(), "rules_version": ex.rules_version} for f in findings)
                yield {"report_id": report.report_id, **labels}

        if details is None:
            write_table(label_rows(), out, columns=["report_id", *columns], schema=labels_schema(columns))
        else:
            # The mention table is written after the label table from rows kept per batch; both
            # writers stream, and the detail rows are flushed every batch to keep memory flat.
            _write_both(label_rows(), out, columns, details, detail_rows)
        summary.read_quarantined = stream.stats.quarantined
        summary.warnings = stream.stats.render_warnings()
    summary.seconds = time.perf_counter() - started
    # reader warnings (no_report_sections: the whole text was used) are in the sink but lose nothing:
    # the exit policy counts the rows that were really set aside
    lost = Counter({code: n for code, n in sink.counts.items() if code not in stream.stats.warnings})
    return run.finish(summary, produced=summary.reports, quarantine=lost, strict=strict, path=input)


def _write_both(
    label_rows: Iterator[dict[str, Any]],
    out: Path,
    columns: list[str],
    details: Path,
    detail_rows: list[dict[str, Any]],
) -> None:
    """Write the label table and the mention table in one pass over the reports."""
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(maxsize=8)
    error: list[BaseException] = []
    abort = object()  # sent instead of the end marker when the label table failed

    def drain() -> Iterator[dict[str, Any]]:
        while (chunk := q.get()) is not None:
            if chunk is abort:
                # raising inside write_table makes it delete its temporary file: no half table
                raise RuntimeError("label table failed; mention table abandoned")
            yield from chunk

    def write_details() -> None:
        try:
            write_table(drain(), details, columns=DETAIL_COLUMNS, schema=DETAIL_SCHEMA)
        except BaseException as exc:  # surfaced in the main thread below
            error.append(exc)
            while q.get() not in (None, abort):  # keep the producer from blocking
                pass

    worker = threading.Thread(target=write_details, name="radprm-details-writer", daemon=True)
    worker.start()

    def rows_and_flush() -> Iterator[dict[str, Any]]:
        for row in label_rows:
            if detail_rows:
                q.put(list(detail_rows))
                detail_rows.clear()
            yield row

    try:
        write_table(rows_and_flush(), out, columns=["report_id", *columns], schema=labels_schema(columns))
    except BaseException:
        q.put(abort)
        worker.join()
        raise
    q.put(None)
    worker.join()
    if error:
        raise error[0]


def _safe_extract(
    ex: FindingsExtractor, reports: Iterator[Report], sink: QuarantineSink, batch_size: int
) -> Iterator[tuple[Report, list[Finding]]]:
    """Like `ex.extract_many`, but a report whose rows cannot be built is quarantined, not fatal.

    `batch_size` is kept for the API; the extractor works sentence by sentence with a cache (see
    `validators/findings/extract.py`), so there is no spaCy batch to size.
    """
    for report in reports:
        try:
            findings = ex.extract_report(report)
        except Exception as exc:  # one odd report must not stop a 100k-report run
            sink.add(
                record_id=report.report_id,
                report_id=report.report_id,
                stage="findings",
                reason_code="extract_error",
                source_path=report.source_path,
                source_row=report.source_row,
                field="text",
                detail=f"{type(exc).__name__}: {exc}",
                payload=report.text,
            )
            continue
        yield report, findings
