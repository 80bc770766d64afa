"""`radprm perturb`: corrupt good steps (negation flip, laterality swap, ...) for PRM contrast pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from radprm.commands._app import app, command
from radprm.commands._reader_options import (
    FindingsColOpt,
    FormatOpt,
    IdColOpt,
    ImpressionColOpt,
    LimitOpt,
    ProjectionsOpt,
    QuarantineOpt,
    TextColOpt,
    reader_kwargs,
)
from radprm.validators.perturb import OPERATORS, perturb_file


@command(app)
def perturb(
    chains: Annotated[Path, typer.Argument(help="CHAINS file, or STEPS rows (chain_id, report_id, step_index, step).",
                                           show_default=False)],
    reports: Annotated[Path, typer.Option("--reports", help="Reports the chains refer to (any readable input).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Corrupted steps: .jsonl, .parquet or .csv.")],
    ops: Annotated[Optional[str], typer.Option("--ops", help=f"Comma-separated operators. Default: {','.join(OPERATORS)}.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same output).")] = 0,
    format: FormatOpt = None,
    id_col: IdColOpt = None,
    text_col: TextColOpt = None,
    findings_col: FindingsColOpt = None,
    impression_col: ImpressionColOpt = None,
    projections: ProjectionsOpt = None,
    limit: LimitOpt = None,
    quarantine: QuarantineOpt = None,
) -> None:
    """Make corrupted copies of good steps, each with its operator and expected label and reason."""
    options = reader_kwargs(format=format, id_col=id_col, text_col=text_col, findings_col=findings_col,
                            impression_col=impression_col, projections=projections, limit=limit)
    summary = perturb_file(chains, reports, out, ops=ops, seed=seed, quarantine=quarantine, **options)
    typer.echo(summary.render())
