"""`radprm read`: normalise reports in any supported format into a table of Report rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import StrictOpt, app, command
from radprm.commands._reader_options import (
    InputArg,
    QuarantineOpt,
    reader_options,
)
from radprm.readers.convert import read_to_table


@command(app)
@reader_options
def read(
    input: InputArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output table: .csv, .parquet or .jsonl.")],
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    reader: dict | None = None,
) -> None:
    """Read reports (IU CSV, CSV, JSONL, Parquet, free text) and write them as Report rows."""
    summary = read_to_table(input, out, quarantine=quarantine, strict=strict, **reader)
    typer.echo(summary.render())
