"""`radprm train prm`: train a process reward model (TRL PRMTrainer) on `radprm export trl` output."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import JsonOpt, app, command

train_app = typer.Typer(help="Train models on radprm exports.", no_args_is_help=True)
app.add_typer(train_app, name="train")

PythonOpt = Annotated[str | None, typer.Option(
    "--python", help="Python with torch + TRL that runs the work (default: $RADPRM_TRAIN_PYTHON, this Python "
                     "if it has them, else ~/.cache/radprm/train-venv built by training/build_env.sh).")]


@command(train_app, "prm")
def prm(
    data: Annotated[Path, typer.Argument(help="TRL stepwise-supervision JSONL (`radprm export trl`).",
                                         show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to create.")],
    model: Annotated[str, typer.Option(
        "--model", help="'tiny' (2-layer model + tokenizer made from scratch: seconds, for tests) or a local "
                        "Hugging Face folder, e.g. ~/.cache/radprm/models/smollm2-135m-instruct.")] = "tiny",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimizer steps.")] = 50,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Chains per step.")] = 4,
    learning_rate: Annotated[float | None, typer.Option(
        "--lr", help="Learning rate (default 1e-3 for tiny, 2e-5 for a pretrained model).")] = None,
    max_length: Annotated[int, typer.Option("--max-length", min=16, help="Token budget per chain.")] = 1024,
    freeze_layers: Annotated[int, typer.Option(
        "--freeze-layers", min=0, help="Pretrained models: freeze embeddings and this many lower layers.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed for initialisation and data order.")] = 0,
    logging_steps: Annotated[int, typer.Option("--logging-steps", min=1, help="Log the loss every N steps.")] = 5,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out folder.")] = False,
    python: PythonOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Train a PRM with TRL's PRMTrainer on CPU or GPU; logs the loss, saves model + tokenizer + radprm_train.json."""
    from radprm.training import train_prm

    summary = train_prm(data, out, model=model, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                        max_length=max_length, seed=seed, logging_steps=logging_steps, freeze_layers=freeze_layers,
                        overwrite=overwrite, python=python)
    import json

    typer.echo(json.dumps(summary.as_dict(), indent=2) if json_ else summary.render())
