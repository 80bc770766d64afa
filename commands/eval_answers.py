"""`radprm eval answers`: how often the extractor-derived answer key is wrong, per task and label, against gold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import command, eval_app
from radprm.commands._reader_options import InputArg, reader_options


@command(eval_app, "answers")
@reader_options
def eval_answers(
    reports: InputArg,
    gold: Annotated[
        Path,
        typer.Argument(help="Gold labels (any file `radprm eval labels` reads: OpenI layout or MIMIC-CXR CheXpert).",
                       show_default=False),
    ],
    labelset: Annotated[
        str | None,
        typer.Option("--labelset", help="chexpert or chestxray14. Default: the set sharing most columns with GOLD."),
    ] = None,
    tasks: Annotated[
        str, typer.Option("--tasks", help="Comma-separated tasks to measure: single, binary, multi_label.")
    ] = "single,binary,multi_label",
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    reader: dict | None = None,
) -> None:
    """Measure the answer key radprm builds from its extractor against gold labels, per task and label."""
    from radprm.miners.answer_key import evaluate_answer_keys

    result = evaluate_answer_keys(reports, gold, labelset=labelset, tasks=tasks.split(","), reader=reader or {})
    typer.echo(json.dumps(result.as_dict(), indent=2) if json_ else result.render())
