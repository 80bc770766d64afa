"""The Typer application objects and the helpers every command module shares.

Command modules in `radprm.commands` import `app` (or a group such as `eval_app`) from here and
register with `@command(app)`, which turns `RadprmError` into one `Error: ...` line and exit code 1.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from radprm import __version__
from radprm.errors import RadprmError

app = typer.Typer(
    help="Mine process-reward training data from radiology reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
eval_app = typer.Typer(help="Evaluate predictions against gold labels.", no_args_is_help=True)
export_app = typer.Typer(help="Export shards for PRM training.", no_args_is_help=True)
prompts_app = typer.Typer(help="List and show the versioned prompt templates.", no_args_is_help=True)
label_app = typer.Typer(help="Label steps from other sources (Monte-Carlo rollouts).", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(export_app, name="export")
app.add_typer(prompts_app, name="prompts")
app.add_typer(label_app, name="label")


# Options shared by several commands, declared once (a flag means the same thing everywhere).
def _local_shard_dir(value: Path | None) -> Path | None:
    from radprm.shards.location import require_local_shards

    try:
        require_local_shards(value or "")
    except RadprmError as exc:  # at parse time, before `command` can translate it
        fail(str(exc))
    return value


ShardDirArg = Annotated[
    Path,
    typer.Argument(metavar="DIR", help="Shard directory (with manifest.json), e.g. runs/x/shards; a local folder "
                   "(not a URI: this command uses files beside the shards).", show_default=False,
                   callback=_local_shard_dir),
]
ShardSetArg = Annotated[
    str,
    typer.Argument(metavar="DIR", help="Shard directory (with manifest.json), e.g. runs/x/shards, or a pyarrow "
                   "filesystem URI such as s3://bucket/prefix or gs://bucket/prefix.", show_default=False),
]
"""For commands that only read the shard set (verify, sql, qa, export): local or remote (`radprm.shards.location`)."""
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Exit 1 when anything was quarantined (the outputs are written first)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of text.")]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"radprm {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Mine process-reward training data from radiology reports."""


def fail(message: str) -> None:
    """Print one error line to stderr and exit 1."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=1)


def command(target: typer.Typer, name: str | None = None, **kwargs: Any) -> Callable:
    """Register a function as a command of `target`, translating RadprmError into `Error: ...`.

    A `RunError` (a run that failed its exit policy, e.g. `--strict` with quarantined rows) carries the
    run's summary: it is printed first, so the user sees what was written before the error line.
    """

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kw: Any) -> Any:
            try:
                return func(*args, **kw)
            except RadprmError as exc:
                summary = getattr(exc, "summary", None)
                if summary is not None:
                    typer.echo(summary.render())
                fail(str(exc))

        target.command(name, **kwargs)(wrapper)
        return func

    return decorator


def with_options(func: Callable, into: str, params: list[inspect.Parameter],
                 collect: Callable[..., Any]) -> Callable:
    """Replace `func`'s parameter `into` by the CLI options `params`, gathered back into one value.

    The wrapper Typer sees has `func`'s other parameters plus `params`; it pops the given option values
    and calls `func(..., into=collect(**values))` (`_reader_options.reader_options`,
    `_job_options.config_options`).
    """
    # resolve string annotations (modules use `from __future__ import annotations`) so that Typer
    # sees the real `Annotated[...]` option declarations on the rewritten signature
    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    kept = [p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values() if p.name != into]
    names = [p.name for p in params]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in names if name in kwargs}
        return func(*args, **{into: collect(**values)}, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=kept + params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in kept + params}
    return wrapper
