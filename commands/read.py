"""`radprm read`: normalise reports in any supported format into a table of Report rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import app, command
from radprm.commands._reader_options import (
    FindingsColOpt,
    FormatOpt,
    IdColOpt,
    ImpressionColOpt,
    InputArg,
    LimitOpt,
    ProjectionsOpt,
    QuarantineOpt,
    StrictOpt,
    TextColOpt,
    reader_kwargs,
)
from radprm.readers.convert import read_to_table


@command(app)
def read(
    input: InputArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output table: .csv, .parquet or .jsonl.")],
    format: FormatOpt = None,
    id_col: IdColOpt = None,
    text_col: TextColOpt = None,
    findings_col: FindingsColOpt = None,
    impression_col: ImpressionColOpt = None,
    projections: ProjectionsOpt = None,
    limit: LimitOpt = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Read reports (IU CSV, CSV, JSONL, Parquet, free text) and write them as Report rows."""
    options = reader_kwargs(format=format, id_col=id_col, text_col=text_col, findings_col=findings_col,
                            impression_col=impression_col, projections=projections, limit=limit)
    summary = read_to_table(input, out, quarantine=quarantine, strict=strict, **options)
    typer.echo(summary.render())
