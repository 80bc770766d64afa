"""`radprm eval steps` (templated: detection per corruption, false flags; natural: per-kind recall, false flags,
precision, F1, first bad step, abstention), `radprm eval stepset` (build the evaluation set) and `radprm eval
calibrate` (the abstention table from labelled sets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import command, eval_app
from radprm.errors import InputError
from radprm.evaluation.calibrate import DEFAULT_PRIOR_STRENGTH, DEFAULT_THRESHOLD, calibrate_sets
from radprm.evaluation.steps import eval_steps
from radprm.evaluation.stepset import build_stepset


@command(eval_app, "steps")
def steps(
    pred: Annotated[Path, typer.Argument(help="Step table from `radprm validate`.", show_default=False)],
    expected: Annotated[Path, typer.Argument(
        help="Expected labels: templated (`radprm perturb` output or `radprm eval stepset`: expected_label) "
             "or a natural set (good, kind, scored, split). The layout is detected from the columns.",
        show_default=False)],
    split: Annotated[str, typer.Option("--split", help="Natural sets: score rows of this split only: "
                                                      "tune, test or all (tune on tune, report test).")] = "all",
    json_: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Score step labels against a templated set (detection per corruption, false flags) or a natural set.

    Natural set: recall per bad kind, false-flag rate per good kind, precision, F1, first bad step, abstention.
    Every natural figure has a 95 % Wilson interval; only scored rows count.
    """
    result = eval_steps(pred, expected, split=split)
    typer.echo(json.dumps(result.as_dict(), indent=2) if json_ else result.render())


@command(eval_app, "stepset")
def stepset(
    reports: Annotated[Path, typer.Option("--reports", help="IU X-ray reports CSV (or any readable reports).")],
    labels: Annotated[Path, typer.Option("--labels", help="Gold labels CSV (uid + ChestX-ray14 columns).")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for chains.jsonl, expected.jsonl, manifest.json.")],
    split: Annotated[str, typer.Option("--split",
                                       help="tune, heldout or all (fixed 80/20 split by report id).")] = "tune",
    seed: Annotated[int, typer.Option("--seed", help="Seed for phrasings and corruptions.")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many reports.")] = None,
    ops: Annotated[str | None, typer.Option("--ops", help="Comma-separated perturbation operators.")] = None,
    per_op: Annotated[int, typer.Option("--per-op", min=1, help="Corrupted steps per report and operator.")] = 2,
) -> None:
    """Build the step-validator evaluation set: faithful steps in several phrasings plus corruptions."""
    summary = build_stepset(reports, labels, out_dir, split=split, seed=seed, limit=limit, ops=ops, per_op=per_op)
    typer.echo(summary.render())


@command(eval_app, "calibrate")
def calibrate(
    pred: Annotated[list[Path], typer.Option("--pred", help="Step table of `radprm validate` for one labelled set "
                                                         "(repeat, in the order of --expected).")],
    expected: Annotated[list[Path], typer.Option("--expected", help="That set's natural labels (good, kind, scored, "
                                                                 "split); repeat once per --pred.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the abstention table here (JSON); "
                                                               "use it with `radprm validate --abstention`.")] = None,
    split: Annotated[str, typer.Option("--split", help="Count rows of this split only: tune, test or all.")] = "all",
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0,
                                             help="Abstain below this estimated precision.")] = DEFAULT_THRESHOLD,
    prior_strength: Annotated[float, typer.Option("--prior-strength", min=0.01, help="Pseudo-steps pulling a "
                                                  "narrow kind toward its broader kind.")] = DEFAULT_PRIOR_STRENGTH,
    version: Annotated[str, typer.Option("--version", help="Version string of the new table.")] = "1",
    json_: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Count how often each kind of bad label was right on labelled sets: the abstention table.

    Prints the precision of decided bad labels and the coverage without and with the table, in sample and with
    each set left out in turn (the honest figure). Calibrate on predictions made before the rules were tuned on a
    set: sets the rules were tuned on flatter them.
    """
    if len(pred) != len(expected):
        raise InputError(f"{len(pred)} --pred but {len(expected)} --expected", field="expected",
                         hint="give one --expected per --pred, in the same order")
    report = calibrate_sets(list(zip(pred, expected, strict=True)), out, split=split, threshold=threshold,
                            prior_strength=prior_strength, version=version)
    typer.echo(json.dumps(report.as_dict(), indent=2) if json_ else report.render())
    if out is not None:
        typer.echo(f"table -> {out}", err=True)
