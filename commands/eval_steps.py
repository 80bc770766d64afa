"""`radprm eval steps` (detection per corruption, false flags) and `radprm eval stepset` (build the evaluation set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from radprm.commands._app import command, eval_app
from radprm.evaluation.stepset import build_stepset
from radprm.evaluation.steps import eval_steps


@command(eval_app, "steps")
def steps(
    pred: Annotated[Path, typer.Argument(help="Step table from `radprm validate`.", show_default=False)],
    expected: Annotated[Path, typer.Argument(help="Expected labels: `radprm perturb` output or an evaluation set.",
                                             show_default=False)],
    json_: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Score step labels: detection rate per corruption type, false-flag rate on faithful steps."""
    result = eval_steps(pred, expected)
    typer.echo(json.dumps(result.as_dict(), indent=2) if json_ else result.render())


@command(eval_app, "stepset")
def stepset(
    reports: Annotated[Path, typer.Option("--reports", help="IU X-ray reports CSV (or any readable reports).")],
    labels: Annotated[Path, typer.Option("--labels", help="Gold labels CSV (uid + ChestX-ray14 columns).")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for chains.jsonl, expected.jsonl, manifest.json.")],
    split: Annotated[str, typer.Option("--split", help="tune, heldout or all (fixed 80/20 split by report id).")] = "tune",
    seed: Annotated[int, typer.Option("--seed", help="Seed for phrasings and corruptions.")] = 0,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="At most this many reports.")] = None,
    ops: Annotated[Optional[str], typer.Option("--ops", help="Comma-separated perturbation operators.")] = None,
    per_op: Annotated[int, typer.Option("--per-op", min=1, help="Corrupted steps per report and operator.")] = 2,
) -> None:
    """Build the step-validator evaluation set: faithful steps in several phrasings plus corruptions."""
    summary = build_stepset(reports, labels, out_dir, split=split, seed=seed, limit=limit, ops=ops, per_op=per_op)
    typer.echo(summary.render())
