"""`radprm findings`: report-level labels (and optionally per-mention rows) from the findings extractor."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import app, command
from radprm.commands._reader_options import (
    InputArg,
    QuarantineOpt,
    StrictOpt,
    reader_options,
)


class Labelset(str, Enum):
    """Label sets `radprm findings` can write."""

    chexpert = "chexpert"
    chestxray14 = "chestxray14"


@command(app)
@reader_options
def findings(
    input: InputArg,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Label table: .csv, .parquet or .jsonl (report_id + one column per label)."),
    ],
    labelset: Annotated[Labelset, typer.Option("--labelset", help="Label columns to write.")] = Labelset.chestxray14,
    details: Annotated[
        Path | None, typer.Option("--details", help="Also write one row per mention (.csv, .parquet or .jsonl).")
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print per-label counts (positive / negative / uncertain / unmentioned).")
    ] = False,
    rules_dir: Annotated[
        Path | None,
        typer.Option("--rules-dir", help="Folder of rule files replacing the packaged ones (same file names)."),
    ] = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    reader: dict | None = None,
) -> None:
    """Extract findings with medspaCy and write report-level labels.

    1 positive, 0 negative, -1 uncertain, empty unmentioned.
    """
    from radprm.validators.findings import FindingsExtractor
    from radprm.validators.findings.batch import label_reports

    extractor = FindingsExtractor(rules_dir=rules_dir) if rules_dir is not None else None
    result = label_reports(
        input,
        out,
        labelset=labelset.value,
        details=details,
        quarantine=quarantine,
        extractor=extractor,
        strict=strict,
        **reader,
    )
    typer.echo(result.render(table=summary))
