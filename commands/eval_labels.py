"""`radprm eval labels`: precision, recall and F1 of the positive (and uncertain) class against gold labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import command, eval_app


@command(eval_app, "labels")
def eval_labels(
    pred: Annotated[
        Path,
        typer.Argument(
            help="Predicted labels (.csv, .parquet, .jsonl), e.g. from `radprm findings`.", show_default=False
        ),
    ],
    gold: Annotated[
        Path,
        typer.Argument(
            help="Gold labels: keyed by report_id / uid (OpenI layout), or a MIMIC-CXR CheXpert/NegBio "
                 "label file (subject_id, study_id, 1 / 0 / -1 / blank).",
            show_default=False,
        ),
    ],
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    labels: Annotated[
        list[str] | None,
        typer.Option(
            "--labels",
            help="Score only these labels (repeat the option or separate with commas). Default: every "
                 "label in both files.",
        ),
    ] = None,
) -> None:
    """Score predicted report labels against gold: per-label and micro / macro P, R, F1.

    Value 1 is scored, and -1 too when the gold uses it.
    """
    from radprm.evaluation.labels import evaluate_labels

    chosen = [name.strip() for item in labels or [] for name in item.split(",") if name.strip()] or None
    result = evaluate_labels(pred, gold, labels=chosen)
    typer.echo(json.dumps(result.as_dict(), indent=2) if json_ else result.render())
