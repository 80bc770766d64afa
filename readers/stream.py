"""`ReportStream`: the lazy iterator `read_reports` returns, turning raw rows into Reports.

Row-level problems never stop the stream: they become quarantine records (stage "read") with a reason
code, counted in `stream.stats` and in the sink. File-level problems raise InputError when the stream
is created, before any row is read, so a wrong flag fails fast.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.readers.columns import OPTIONAL_FIELDS, ColumnMap, resolve_columns
from radprm.readers.formats import detect_format, open_source
from radprm.readers.iu_xray import IU_COLUMNS, check_iu_header, load_projections
from radprm.readers.rows import RawRow, find_undecodable, printable
from radprm.readers.sections import canonical_text, split_sections
from radprm.readers.text import normalize_report_text
from radprm.schemas.records import QuarantineRecord, Report

STAGE = "read"

#: Reason codes the readers quarantine rows with.
REASONS = {
    "missing_id": "the id column is empty or absent in this row",
    "duplicate_id": "an earlier row had the same id (the first one is kept)",
    "empty_text": "findings and impression are both empty (or the text column is)",
    "malformed_json": "a JSONL line is not a JSON object",
    "malformed_row": "a CSV record has the wrong number of fields or bad quoting",
    "invalid_utf8": "a value holds bytes that are not valid UTF-8",
    "invalid_value": "a value has the wrong type (e.g. a list where text is expected)",
    "unreadable_file": "a report file of a text directory cannot be read (permissions, I/O error)",
}

#: Warning codes: the report is kept and used, the warning says how (counted in `stats.warnings`).
WARNINGS = {
    "no_report_sections": "free text with section headers but no FINDINGS or IMPRESSION section: its unheaded "
                          "text, or the whole text, is read as findings",
}


@dataclass
class ReadStats:
    """Counts for one stream: rows read, reports kept, rows quarantined (total and by reason)."""

    read: int = 0
    kept: int = 0
    quarantined: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)

    def __getitem__(self, key: str) -> int:
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain dict (by_reason as a dict)."""
        return {
            "read": self.read, "kept": self.kept, "quarantined": self.quarantined, "by_reason": dict(self.by_reason),
            "warnings": dict(self.warnings),
        }

    def render_warnings(self) -> str | None:
        """One line counting kept-but-flagged reports by warning code, or None when there are none."""
        if not self.warnings:
            return None
        codes = ", ".join(f"{code}={n}" for code, n in self.warnings.most_common())
        return f"warnings: {codes} (reports kept; see WARNINGS in radprm.readers)"


class _RowProblem(Exception):
    def __init__(self, reason: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


class ReportStream:
    """A single-pass, lazy iterator of `Report`s read from one input, with its quarantine and stats.

    Build it with `radprm.readers.read_reports`. Attributes: `path`, `format`, `columns` (the resolved
    ColumnMap), `quarantine` (the QuarantineSink), `stats` (ReadStats), `warnings` (the first
    `MAX_WARNINGS` warning records: QuarantineRecords whose report was kept, stage "read").
    """

    MAX_WARNINGS = 1000  # records kept in memory; all of them are counted and written to the sink

    def __init__(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        id_col: str | None = None,
        text_col: str | None = None,
        findings_col: str | None = None,
        impression_col: str | None = None,
        projections: str | Path | None = None,
        images_root: str | Path | None = None,
        quarantine: QuarantineSink | None = None,
        limit: int | None = None,
        batch_size: int = 1024,
    ) -> None:
        self.path = Path(path)
        self.format = format.lower() if format else detect_format(self.path)
        self.source = open_source(self.path, self.format)
        flags = {"--id-col": id_col, "--text-col": text_col, "--findings-col": findings_col,
                 "--impression-col": impression_col}
        if self.format in ("iu", "text"):
            given = [flag for flag, value in flags.items() if value is not None]
            if given:
                raise InputError(
                    f"{', '.join(given)} do(es) not apply to --format {self.format}",
                    path=self.path,
                    hint="column options are for csv, jsonl and parquet inputs",
                )
        if self.format == "iu":
            check_iu_header(self.source.columns, self.path)
            self.columns: ColumnMap = IU_COLUMNS
        elif self.format == "text":
            from radprm.readers.text import TEXT_COLUMNS

            self.columns = TEXT_COLUMNS
        else:
            self.columns = resolve_columns(
                self.source.columns, self.path, id_col=id_col, text_col=text_col, findings_col=findings_col,
                impression_col=impression_col,
            )
            if self.format == "jsonl":
                # objects need not share keys: optional fields are read wherever they appear
                self.columns = replace(
                    self.columns, **{name: getattr(self.columns, name) or name for name in OPTIONAL_FIELDS}
                )
        self.source.check(self.columns)
        if limit is not None and limit < 0:
            raise InputError(f"limit must be >= 0, got {limit}", field="limit", hint="check --limit")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}", field="batch_size")
        if images_root is not None and projections is None:
            raise InputError("--images-root needs --projections (the image list it prefixes)", field="images_root")
        self.images = load_projections(projections, images_root) if projections is not None else None
        # no sink given: keep every record in memory (not just the sink's default first 1,000), so
        # nothing is lost; callers reading big, dirty inputs pass a file-backed sink instead
        self.quarantine = quarantine if quarantine is not None else QuarantineSink(keep=sys.maxsize)
        self.limit = limit
        self.batch_size = batch_size
        self.stats = ReadStats()
        self.warnings: list[QuarantineRecord] = []
        self._first_problem: QuarantineRecord | None = None
        self._iter: Iterator[Report] | None = None

    def __iter__(self) -> ReportStream:
        return self

    def __next__(self) -> Report:
        if self._iter is None:
            self._iter = self._generate()
        return next(self._iter)

    def progress(self) -> tuple[int, int, str]:
        """(done, total, unit) of the underlying source, for progress bars; unit is bytes, rows or files."""
        return self.source.done, self.source.total, self.source.unit

    def with_progress(self, description: str = "reading", *, enabled: bool | None = None) -> Iterator[Report]:
        """Iterate with a rich progress bar (ETA) on stderr; shown only on a terminal unless `enabled`."""
        from radprm.readers.progress import track

        return track(self, description, enabled=enabled)

    # -- internals ---------------------------------------------------------------------------------

    def _generate(self) -> Iterator[Report]:
        # id -> file index * 2**40 + row of its first report: the only state that grows with the input,
        # so it is kept to one small int per id
        seen: dict[str, int] = {}
        files: dict[str, int] = {}
        file_list: list[str] = []
        for raw in self.source.rows(self.columns, self.batch_size):
            if self.limit is not None and self.stats.kept >= self.limit:
                break
            self.stats.read += 1
            try:
                report = self._to_report(raw)
                first = seen.get(report.report_id)
                if first is not None:
                    file, row = file_list[first >> 40], first & (2**40 - 1)
                    where = f"row {row}" if file == report.source_path else f"{file} row {row}"
                    detail = f"id '{report.report_id}' already read at {where}"
                    raise _RowProblem("duplicate_id", self.columns.id, detail)
            except _RowProblem as problem:
                self._quarantine(raw, problem, record_id=_safe_id(raw, self.columns.id))
                continue
            index = files.get(report.source_path)
            if index is None:
                index = files[report.source_path] = len(file_list)
                file_list.append(report.source_path)
            seen[report.report_id] = (index << 40) + raw.row
            self.stats.kept += 1
            yield report
        self._check_not_empty()

    def _check_not_empty(self) -> None:
        if self.limit == 0:
            return
        if self.stats.read == 0:
            raise InputError("no data rows", path=self.path, hint="the input holds a header (or nothing) only")
        if self.stats.kept == 0 and self._first_problem is not None:
            first = self._first_problem
            raise InputError(
                f"all {self.stats.read} rows were quarantined; first: {first.reason_code}: {first.detail}",
                path=first.source_path,
                row=first.source_row,
                field=first.field,
                hint=f"see {self.quarantine.path}" if self.quarantine.path else "check the column options and the file",
            )

    def _quarantine(self, raw: RawRow, problem: _RowProblem, record_id: str | None) -> None:
        record = self.quarantine.add(
            record_id=record_id,
            report_id=record_id,
            stage=STAGE,
            reason_code=problem.reason,
            source_path=raw.source_path or str(self.path),
            source_row=raw.row,
            field=problem.field,
            detail=problem.detail,
            payload=raw.payload_text(),
        )
        if self._first_problem is None:
            self._first_problem = record
        self.stats.quarantined += 1
        self.stats.by_reason[problem.reason] += 1

    def _warn(self, raw: RawRow, report_id: str, code: str, field: str | None, detail: str) -> None:
        # written to the quarantine sink so that every command's quarantine file and summary show it,
        # but counted as a warning: the report is kept (stats.quarantined does not move)
        record = self.quarantine.add(
            record_id=report_id, report_id=report_id, stage=STAGE, reason_code=code,
            source_path=raw.source_path or str(self.path),
            source_row=raw.row, field=field, detail=f"warning: {detail}",
        )
        self.stats.warnings[code] += 1
        if len(self.warnings) < self.MAX_WARNINGS:
            self.warnings.append(record)

    def _to_report(self, raw: RawRow) -> Report:
        if raw.reason is not None or raw.values is None:
            raise _RowProblem(raw.reason or "malformed_row", raw.field, raw.detail)
        values = raw.values
        bad = find_undecodable(values)
        if bad is not None:
            raise _RowProblem("invalid_utf8", bad[0], bad[1])
        cmap = self.columns
        report_id = _as_id(values.get(cmap.id), cmap.id)
        text = {name: _as_text(values, getattr(cmap, name)) for name in ("findings", "impression", "indication",
                                                                          "comparison")}
        if cmap.text is not None:
            whole = _as_text(values, cmap.text)
            sections = split_sections(whole or "")
            for name, value in sections.as_dict().items():
                if text.get(name) is None:
                    text[name] = value
            # text with no header at all is plain findings text (a generic `text` column), not a warning
            if sections.no_report_sections and sections.had_headers:
                used = "whole text" if text["findings"] == whole else "text outside the other sections"
                self._warn(raw, report_id, "no_report_sections", cmap.text,
                           f"headers but no FINDINGS or IMPRESSION section; the {used} is read as findings "
                           "(report kept)")
        if text["findings"] is None and text["impression"] is None:
            where = cmap.text or "/".join(c for c in (cmap.findings, cmap.impression) if c)
            if cmap.text and whole:
                detail = f"no FINDINGS or IMPRESSION text after the section split of '{cmap.text}'"
            elif cmap.text:
                detail = f"text column '{cmap.text}' is empty"
            else:
                detail = f"findings and impression are both empty (columns {where.replace('/', ', ')})"
            raise _RowProblem("empty_text", where, detail)
        if self.images is not None:
            images = self.images.get(report_id, [])
        else:
            images = _as_list(values, cmap.image_paths)
        # a `patient_id` column, or the MIMIC-CXR `p` folder of a text tree (its rows carry the key)
        patient_column = cmap.patient_id or "patient_id"
        patient_id = _as_optional_id(values.get(patient_column), patient_column)
        return Report(
            report_id=report_id,
            patient_id=patient_id,
            findings=text["findings"],
            impression=text["impression"],
            indication=text["indication"],
            comparison=text["comparison"],
            text=canonical_text(text["findings"], text["impression"]),
            image_paths=images,
            source_path=raw.source_path or str(self.path),
            source_row=raw.row,
        )


def _as_id(value: Any, column: str) -> str:
    if isinstance(value, bool):
        raise _RowProblem("invalid_value", column, f"id must be a string or integer, got {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _RowProblem("missing_id", column, f"id column '{column}' is empty")
    if not isinstance(value, str):
        raise _RowProblem("invalid_value", column, f"id must be a string or integer, got {type(value).__name__}")
    return value.strip()


def _as_optional_id(value: Any, column: str) -> str | None:
    """An optional id column (patient_id): empty is None, anything else as strict as the report id."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _as_id(value, column)


def _as_text(values: dict[str, Any], column: str | None) -> str | None:
    if column is None:
        return None
    value = values.get(column)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _RowProblem("invalid_value", column, f"expected text, got {type(value).__name__}: {str(value)[:60]}")
    # hard wraps, \r\n line ends and runs of spaces must not change what a report says (or its offsets):
    # the normalised text is the text of record
    value = normalize_report_text(value)
    return value or None


def _as_list(values: dict[str, Any], column: str | None) -> list[str]:
    if column is None:
        return []
    value = values.get(column)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if not text.startswith("["):
            # a CSV cell: paths separated by ';' (radprm's own tables write a JSON array instead)
            return [part.strip() for part in text.split(";") if part.strip()]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _RowProblem("invalid_value", column, f"image paths are not a JSON array: {exc.msg}") from None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _RowProblem("invalid_value", column, f"expected a list of strings, got {type(value).__name__}")
    return value


def _safe_id(raw: RawRow, column: str) -> str | None:
    if raw.values is None:
        return None
    value = raw.values.get(column)
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = printable(str(value)).strip()
        return text or None
    return None
