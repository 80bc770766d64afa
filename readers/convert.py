"""Normalise any report input into a table of `Report` rows (the API behind `radprm read`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radprm import run
from radprm.quarantine import QuarantineSink
from radprm.readers.stream import ReadStats, ReportStream
from radprm.schemas.arrow import REPORT_SCHEMA
from radprm.tables import table_format, write_table


@dataclass
class ReadSummary:
    """What `read_to_table` did: counts, the input format, the output and quarantine files."""

    input: Path
    format: str
    out: Path
    written: int
    stats: ReadStats
    quarantine: QuarantineSink

    @property
    def quarantine_path(self) -> Path | None:
        """The quarantine JSONL file, when any row was quarantined."""
        return self.quarantine.path if self.quarantine.total else None

    def render(self) -> str:
        """A short multi-line summary for the terminal."""
        lines = [
            f"read {self.stats.read} rows from {self.input} (format {self.format})",
            f"wrote {self.written} reports to {self.out}",
            self.quarantine.render(),
        ]
        warned = self.stats.render_warnings()
        if warned:
            lines.append(warned)
        return "\n".join(lines)


def read_to_table(
    path: str | Path,
    out: str | Path,
    *,
    quarantine: str | Path | None = None,
    strict: bool = False,
    progress: bool | None = None,
    **reader_options: Any,
) -> ReadSummary:
    """Read reports in any supported format and write them as Report rows to CSV, Parquet or JSONL.

    Args:
        path: input reports (see `read_reports`).
        out: output table; the extension picks the format (`.csv`, `.parquet`, `.jsonl`).
        quarantine: JSONL file for quarantined rows, written only when there are some; default
            `<out>.quarantine.jsonl`. A stale file from an earlier run is removed first.
        strict: raise after writing when any row was quarantined.
        progress: show a progress bar on stderr (None: only on a terminal).
        **reader_options: keyword arguments of `read_reports` (format, id_col, text_col, ...).

    Returns:
        The ReadSummary.

    Raises:
        InputError: any file-level problem of `read_reports`, or every row quarantined.
        RunError: with `strict`, any row quarantined (the output is written first; `err.summary` is
            the ReadSummary). Warnings such as `no_report_sections` keep their report and do not count.
    """
    path, out = Path(path), Path(out)
    table_format(out)  # fail on a bad output extension before reading anything
    out, qpath = run.output_paths(out, quarantine=quarantine)
    with QuarantineSink(qpath) as sink:
        stream = ReportStream(path, quarantine=sink, **reader_options)
        rows = (report.model_dump() for report in stream.with_progress(f"reading {path.name}", enabled=progress))
        written = write_table(rows, out, schema=REPORT_SCHEMA)
    summary = ReadSummary(path, stream.format, out, written, stream.stats, sink)
    # warnings (e.g. no_report_sections) are in the sink too, but their reports were kept: the exit
    # policy counts quarantined rows only (every row quarantined already raised in the stream)
    return run.finish(summary, produced=written, quarantine=summary.stats.by_reason, strict=strict, path=path)
