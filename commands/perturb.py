"""`radprm perturb`: corrupt good steps (negation flip, laterality swap, ..., tip move) for PRM contrast pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import StrictOpt, app, command
from radprm.commands._reader_options import (
    QuarantineOpt,
    reader_options,
)
from radprm.validators.perturb import OPERATORS, perturb_file


@command(app)
@reader_options
def perturb(
    chains: Annotated[
        Path,
        typer.Argument(help="CHAINS file, or STEPS rows (chain_id, report_id, step_index, step).", show_default=False),
    ],
    reports: Annotated[Path, typer.Option("--reports", help="Reports the chains refer to (any readable input).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Corrupted steps: .jsonl, .parquet or .csv.")],
    ops: Annotated[
        str | None, typer.Option("--ops", help=f"Comma-separated operators. Default: {','.join(OPERATORS)}.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same output).")] = 0,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    reader: dict | None = None,
) -> None:
    """Make corrupted copies of good steps, each with its operator and expected label and reason.

    Operators: negation_flip, laterality_swap, severity_swap, fabricated_finding, location_change (on
    lexicon findings); side_swap, grade_swap, temporal_flip, number_change, tip_move (on any sentence the
    step restates from the report: devices, bones, spine, tips, sizes, change over time).
    """
    summary = perturb_file(chains, reports, out, ops=ops, seed=seed, quarantine=quarantine, strict=strict, **reader)
    typer.echo(summary.render())
