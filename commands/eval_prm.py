"""`radprm eval prm`: score a trained PRM against gold step labels (AUROC, accuracy, first-error F1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import JsonOpt, command, eval_app
from radprm.commands._reader_options import reader_options
from radprm.commands.train import PythonOpt


@command(eval_app, "prm")
@reader_options
def prm(
    checkpoint: Annotated[Path, typer.Argument(help="PRM checkpoint folder (`radprm train prm`).", show_default=False)],
    steps: Annotated[Path, typer.Argument(
        help="Chains to score: a CHAINS file (chain_id, report_id, question, options, steps; with --reports) "
             "or a TRL export (prompt, completions, labels).", show_default=False)],
    gold: Annotated[Path | None, typer.Option(
        "--gold", help="Gold step labels: a natural set (good, scored, split), a templated set (expected_label) "
                       "or a `radprm validate` table. Default: the TRL file's labels.")] = None,
    reports: Annotated[Path | None, typer.Option("--reports", help="Reports the CHAINS refer to (for the prompt).")]
    = None,
    split: Annotated[str, typer.Option("--split", help="Natural gold: tune, test or all (report on test).")] = "all",
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0,
                                             help="P(good) below it flags a step bad.")] = 0.5,
    no_report: Annotated[bool, typer.Option("--no-report", help="Prompt without the report text.")] = False,
    max_length: Annotated[int | None, typer.Option(
        "--max-length", min=16, help="Token budget per chain (default: the checkpoint's training budget, else 2048).",
        show_default=False)] = None,
    scores_out: Annotated[Path | None, typer.Option("--scores-out", help="Per-step scores (JSONL).")] = None,
    python: PythonOpt = None,
    json_: JsonOpt = False,
    reader: dict | None = None,
) -> None:
    """Score each step with a trained PRM: AUROC, accuracy, bad-flag P/R/F1, ProcessBench first-error F1."""
    from radprm.training import eval_prm

    result = eval_prm(checkpoint, steps, gold=gold, reports=reports, split=split, threshold=threshold,
                      include_report=not no_report, max_length=max_length, scores_out=scores_out, python=python,
                      **(reader or {}))
    typer.echo(json.dumps(result.as_dict(), indent=2) if json_ else result.render())
