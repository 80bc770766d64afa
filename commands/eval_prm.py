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


@command(eval_app, "prm-policy")
def prm_policy(
    pred: Annotated[list[Path], typer.Option(
        "--pred", help="Rules step table of a dev set (`radprm validate`); repeat, paired with --scores.")],
    scores: Annotated[list[Path], typer.Option(
        "--scores", help="The same set's `radprm eval prm --scores-out` file (P(good) and gold per step).")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the policy file here, e.g. CHECKPOINT/radprm_prm_policy.json.")] = None,
    max_false_flag_rise: Annotated[float, typer.Option(
        "--max-false-flag-rise", min=0.0, max=1.0, help="False flags may rise this much over the rules'.")] = 0.01,
    max_precision_drop: Annotated[float, typer.Option(
        "--max-precision-drop", min=0.0, max=1.0, help="Precision of decided bad labels may fall this much.")] = 0.01,
    min_coverage: Annotated[float, typer.Option(
        "--min-coverage", min=0.0, max=1.0, help="Share of steps not unsure to keep.")] = 0.9,
    allow_overrule: Annotated[bool, typer.Option(
        "--allow-overrule", help="Also let the PRM turn good an unsure step the rules found a fault in (only for "
                                 "chains like the PRM's training chains: on templated steps it turns faults good).")]
    = False,
    json_: JsonOpt = False,
) -> None:
    """Choose the PRM reader's thresholds on labelled dev sets: the most recall within the constraints."""
    from radprm import run
    from radprm.errors import InputError
    from radprm.validators.prm_reader import fit_policy

    if len(pred) != len(scores):
        raise InputError(f"{len(pred)} --pred but {len(scores)} --scores: give them in pairs", field="scores")
    if out is not None:
        run.output_paths(out, suffixes=(".json",), clear_stale=False)
    fit = fit_policy(zip(pred, scores, strict=True), max_false_flag_rise=max_false_flag_rise,
                     max_precision_drop=max_precision_drop, min_coverage=min_coverage, allow_overrule=allow_overrule)
    if out is not None:
        run.write_text_atomic(out, json.dumps(fit.policy_file(), indent=2) + "\n")
    typer.echo(json.dumps(fit.as_dict(), indent=2) if json_ else fit.render() + (f"\npolicy -> {out}" if out else ""))
