"""Read radiology reports from any supported input into `Report` records.

```python
from radprm.readers import read_reports
stream = read_reports("reports.csv", text_col="report")
for report in stream:            # radprm.schemas.Report, lazily, in constant memory
    ...
stream.quarantine.render()       # rows that could not be read, by reason code
stream.stats.kept                # read / kept / quarantined counts
```

Formats: `iu` (the IU X-ray reports CSV), `csv` (also `.tsv`), `jsonl`, `parquet` (CSV/TSV/JSONL may be
`.gz`), `text` (one `.txt` file or a directory of them). A directory of data files of one format is
read as one stream. See `read_reports` for the column options and the error behaviour.
"""

from __future__ import annotations

from pathlib import Path

from radprm.quarantine import QuarantineSink
from radprm.readers.columns import ColumnMap, resolve_columns
from radprm.readers.formats import FORMATS, detect_format
from radprm.readers.sections import Sections, canonical_text, split_sections
from radprm.readers.stream import REASONS, ReadStats, ReportStream


def read_reports(
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
) -> ReportStream:
    """Open an input of reports and return a lazy stream of `Report`s.

    Columns (csv/jsonl/parquet): the id comes from `id_col`, else `report_id`, `id`, `uid` or `study_id`; the text
    from `findings_col` + `impression_col` (defaults: `findings`, `impression` when present), or from
    `text_col` (default `text`, `report` or `report_text` when no findings/impression column exists),
    which is split into FINDINGS / IMPRESSION by the sectionizer; text without headers is all findings.
    `indication`, `comparison` and `image_paths` columns are read when present.

    Row-level problems are quarantined (stage "read") with a reason code from `REASONS`; the first
    row of a duplicated id is kept. When the stream ends having read no row, or having quarantined
    every row, it raises InputError naming the first problem.

    Args:
        path: input file; or a directory: of `.txt` files (one report each), or of data files of
            one format (shards, read in name order as one stream).
        format: one of `FORMATS`; detected from the extension (and the IU header) when None.
        id_col: column holding the report id.
        text_col: column holding the whole report text.
        findings_col: column holding the FINDINGS text.
        impression_col: column holding the IMPRESSION text.
        projections: IU `indiana_projections.csv` or MIMIC-CXR-JPG's metadata CSV; fills `image_paths` by
            id, frontal views first (`radprm.readers.iu_xray.load_projections`).
        images_root: folder prefixed to those image paths (never opened).
        quarantine: sink for bad rows; None makes an in-memory one keeping every record
            (`stream.quarantine.records`); pass a file-backed sink for big, dirty inputs.
        limit: stop after this many reports have been yielded.
        batch_size: rows per Parquet record batch (CSV and JSONL are read record by record).

    Returns:
        A ReportStream: iterate it for Reports; `.quarantine` and `.stats` hold what was set aside.

    Raises:
        InputError: missing file, unknown format, missing id/text columns, conflicting options, or a
            header that is not UTF-8 (row-level bad bytes are quarantined as `invalid_utf8`).
    """
    return ReportStream(
        path,
        format=format,
        id_col=id_col,
        text_col=text_col,
        findings_col=findings_col,
        impression_col=impression_col,
        projections=projections,
        images_root=images_root,
        quarantine=quarantine,
        limit=limit,
        batch_size=batch_size,
    )


__all__ = [
    "FORMATS",
    "REASONS",
    "ColumnMap",
    "ReadStats",
    "ReportStream",
    "Sections",
    "canonical_text",
    "detect_format",
    "read_reports",
    "resolve_columns",
    "split_sections",
]
