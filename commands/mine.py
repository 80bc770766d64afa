"""`radprm mine`: ask the model for reasoning chains over each report's questions, validate, shard.

The job options are not written here: `mine_options` derives one `--option` per CLI field of
`radprm.miners.config.MineConfig` (name, type, default, help, panel, min / max), so an option is
declared once, in that class.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from radprm.commands._app import app, command
from radprm.commands._reader_options import InputArg, reader_options
from radprm.miners.config import JOB_PANEL, MineConfig


def _cli_parameter(name: str, info: Any) -> inspect.Parameter:
    """A Typer option for a MineConfig field: `--field-name`, the field's default, help, panel and bounds."""
    extra = info.json_schema_extra or {}
    bounds = {}
    for meta in info.metadata:  # annotated_types.Ge / Le from `ge=` / `le=`
        if hasattr(meta, "ge"):
            bounds["min"] = meta.ge
        if hasattr(meta, "le"):
            bounds["max"] = meta.le
    annotation, default = info.annotation, info.get_default(call_default_factory=True)
    if extra.get("repeatable"):  # e.g. --base-url A --base-url B (joined with commas by MineConfig)
        annotation, default = list[str] | None, None
    elif typing.get_origin(annotation) is list:  # e.g. --tasks single,binary
        annotation, default = str, ",".join(default)
    option = typer.Option(f"--{name.replace('_', '-')}", help=info.description, rich_help_panel=extra["panel"],
                          **bounds)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, option])


def mine_options(func: Callable) -> Callable:
    """Decorator: add every CLI field of `MineConfig` as an option and pass them as one `options` dict."""
    return config_options(MineConfig)(func)


def config_options(config: Any) -> Callable[[Callable], Callable]:
    """Decorator factory: every CLI field of an `OptionsModel` (`MineConfig`, `RolloutConfig`) as an option."""
    return functools.partial(_with_config_options, config)


def _with_config_options(config: Any, func: Callable) -> Callable:
    fields = config.fields_where("cli")
    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    params = [p.replace(annotation=hints.get(p.name, p.annotation))
              for p in signature.parameters.values() if p.name != "options"]
    params += [_cli_parameter(name, info) for name, info in fields.items()]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = {name: kwargs.pop(name) for name in fields if name in kwargs}
        return func(*args, options=options, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


@command(app)
@reader_options
@mine_options
def mine(
    reports: InputArg,
    run_dir: Annotated[
        Path,
        typer.Option("--run-dir", help="Job folder: job.json, ledger, cache, shards/, quarantine/.",
                     rich_help_panel=JOB_PANEL),
    ],
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the job in --run-dir (same options); nothing answered is asked again.",
                     rich_help_panel=JOB_PANEL),
    ] = False,
    reader: dict | None = None,
    options: dict | None = None,
) -> None:
    """Mine validated reasoning chains (PRM data) for each report's questions into Parquet shards."""
    from radprm.miners.job import mine as mine_reports

    reader = dict(reader or {})
    limit = reader.pop("limit", None)
    try:
        summary = mine_reports(reports, run_dir=run_dir, resume=resume, progress=True, reader=reader, limit=limit,
                               announce=lambda line: typer.echo(line, err=True), **(options or {}))
    except KeyboardInterrupt:
        typer.echo(f"Interrupted: committed shards are kept; continue with the same command plus --resume "
                   f"(run dir {run_dir})", err=True)
        raise typer.Exit(code=130) from None
    typer.echo(summary.render())
