"""`radprm validate`: label every reasoning step of a CHAINS file against its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import StrictOpt, app, command
from radprm.commands._reader_options import (
    QuarantineOpt,
    reader_options,
)
from radprm.miners.config import MineConfig
from radprm.validators.batch import validate_file
from radprm.validators.prm_reader import HELP as PRM_HELP

_JUDGE_PANEL = "LLM judge (optional)"


def _help(name: str) -> str:
    """Help of an option declared once on MineConfig (`radprm mine` takes the same options)."""
    return MineConfig.model_fields[name].description or ""


@command(app)
@reader_options
def validate(
    chains: Annotated[Path, typer.Argument(help="CHAINS file (.jsonl or .parquet): chain_id, report_id, steps.",
                                           show_default=False)],
    reports: Annotated[Path, typer.Option("--reports", help="Reports the chains refer to (any readable input).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Step table: .parquet, .jsonl or .csv.")],
    chains_out: Annotated[Path | None, typer.Option("--chains-out", help="Chain scores table.")] = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    judge: Annotated[str | None, typer.Option("--judge", help=_help("judge"), rich_help_panel=_JUDGE_PANEL)] = None,
    judge_policy: Annotated[str | None, typer.Option("--judge-policy", help=_help("judge_policy"),
                                                        rich_help_panel=_JUDGE_PANEL)] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help=_help("base_url"),
                                                    rich_help_panel=_JUDGE_PANEL)] = None,
    model: Annotated[str | None, typer.Option("--model", help=_help("model"), rich_help_panel=_JUDGE_PANEL)] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Judge requests in flight at once.", min=1,
                                             rich_help_panel=_JUDGE_PANEL)] = 8,
    abstention: Annotated[str | None, typer.Option("--abstention", help=_help("abstention"))] = None,
    prm: Annotated[Path | None, typer.Option("--prm", help=PRM_HELP)] = None,
    reader: dict | None = None,
) -> None:
    """Label each reasoning step good/bad against its report, with verdict, reasons and evidence."""
    summary = validate_file(chains, reports, out, chains_out=chains_out, quarantine=quarantine, strict=strict,
                            judge=judge, judge_policy=judge_policy, base_url=base_url, model=model,
                            concurrency=concurrency, abstention=abstention, prm=prm,
                            announce=lambda line: typer.echo(line, err=True), **reader)
    typer.echo(summary.render())
