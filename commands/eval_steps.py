"""`radprm eval steps` (templated: detection per corruption, false flags; natural: per-kind recall, false flags,
precision, F1, first bad step, abstention), `radprm eval stepset` (build the evaluation set) and `radprm eval
calibrate` (the abstention table from labelled sets) and `radprm eval doubt` (the learned second opinion)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import command, eval_app
from radprm.commands._reader_options import reader_options
from radprm.errors import InputError
from radprm.evaluation.calibrate import DEFAULT_PRIOR_STRENGTH, DEFAULT_THRESHOLD, calibrate_sets
from radprm.evaluation.doubt import DEFAULT_FOLDS, DEFAULT_L2, DEFAULT_MIN_COUNT, fit_doubt_sets
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


@command(eval_app, "doubt")
@reader_options
def doubt(
    chains: Annotated[list[Path], typer.Option("--chains", help="CHAINS file of one labelled set (repeat, in the "
                                                              "order of --expected).")],
    expected: Annotated[list[Path], typer.Option("--expected", help="That set's natural labels (good, kind, scored, "
                                                                 "split); repeat once per --chains.")],
    reports: Annotated[list[Path], typer.Option("--reports", help="Reports the sets' chains refer to (repeat to fit "
                                                                 "sets over several report files together).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the model here (JSON); use it with "
                                                               "`radprm validate --abstention`.")] = None,
    spec: Annotated[Path | None, typer.Option("--spec", help="Model whose features and thresholds are kept "
                                                           "(default: the packaged validators/doubt.json).")] = None,
    l2: Annotated[float, typer.Option("--l2", min=1e-6, help="L2 penalty of the logistic regressions.")] = DEFAULT_L2,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Drop features seen in fewer steps of a "
                                                                     "side.")] = DEFAULT_MIN_COUNT,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Sets are dealt into this many groups, each judged "
                                                             "by a model fitted on the others.")] = DEFAULT_FOLDS,
    flag_at: Annotated[float | None, typer.Option("--flag-at", min=0.0, max=1.0, help="Good labels with P(bad) at "
                                                  "or above this become unsure (default: the spec's).")] = None,
    keep_at: Annotated[float | None, typer.Option("--keep-at", min=0.0, max=1.0, help="Decided bad labels with "
                                                  "P(bad) below this become unsure (default: the spec's).")] = None,
    version: Annotated[str, typer.Option("--version", help="Version string of the new model.")] = "1",
    description: Annotated[str, typer.Option("--description", help="What the model was fitted on.")] = "",
    json_: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    reader: dict | None = None,
) -> None:
    """Fit the learned second opinion on labelled sets: which good labels to doubt, which bad labels to mask.

    Every chain is validated by the rules alone; the figures are printed in sample and out of fold (each group of
    sets judged by a model fitted on the others: the honest figure).
    """
    if len(chains) != len(expected):
        raise InputError(f"{len(chains)} --chains but {len(expected)} --expected", field="expected",
                         hint="give one --expected per --chains, in the same order")
    report = fit_doubt_sets(list(zip(chains, expected, strict=True)), reports, out, spec=spec, l2=l2,
                            min_count=min_count, folds=folds, version=version, description=description,
                            flag_at=flag_at, keep_at=keep_at, **(reader or {}))
    typer.echo(json.dumps(report.as_dict(), indent=2) if json_ else report.render())
    if out is not None:
        typer.echo(f"model -> {out}", err=True)
