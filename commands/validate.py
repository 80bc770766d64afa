"""`radprm validate`: label every reasoning step of a CHAINS file against its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from radprm.commands._app import StrictOpt, app, command
from radprm.commands._reader_options import (
    QuarantineOpt,
    reader_options,
)
from radprm.validators.batch import validate_file


@command(app)
@reader_options
def validate(
    chains: Annotated[Path, typer.Argument(help="CHAINS file (.jsonl or .parquet): chain_id, report_id, steps.",
                                           show_default=False)],
    reports: Annotated[Path, typer.Option("--reports", help="Reports the chains refer to (any readable input).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Step table: .parquet, .jsonl or .csv.")],
    chains_out: Annotated[Optional[Path], typer.Option("--chains-out", help="Chain scores table.")] = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    reader: dict | None = None,
) -> None:
    """Label each reasoning step good/bad against its report, with verdict, reasons and evidence."""
    summary = validate_file(chains, reports, out, chains_out=chains_out, quarantine=quarantine, strict=strict,
                            **reader)
    typer.echo(summary.render())
