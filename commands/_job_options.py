"""The job CLI options, defined once for `radprm mine`, `radprm batch ...` and `radprm label rollouts`.

The job options themselves (server, model, sampling, concurrency, timeout, cache, budget, ...) are not
written here: `config_options(Config)` derives one `--option` per CLI field of an `OptionsModel`
(`radprm.miners.config.MineConfig`, `radprm.miners.rollouts.RolloutConfig`: name, type, default, help,
panel, min / max), so an option is declared once, in its class. Around them every job command takes
`--run-dir` (`run_dir_option`) and the resumable ones `--resume` (`ResumeOpt`), and stops on Ctrl-C with
the resume hint (`interrupt_hint`):

```python
@command(label_app, "rollouts")
@config_options(RolloutConfig)
def rollouts(shards: ShardDirArg, run_dir: RolloutRunDirOpt, resume: ResumeOpt = False,
             options: dict | None = None) -> None:
    with interrupt_hint(run_dir):
        summary = label_rollouts(shards, run_dir=run_dir, resume=resume, **(options or {}))
    typer.echo(summary.render())
```
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from radprm.commands._app import with_options
from radprm.miners.config import JOB_PANEL, MineConfig

ResumeOpt = Annotated[
    bool,
    typer.Option("--resume", help="Continue the job in --run-dir (same options); nothing answered is asked again.",
                 rich_help_panel=JOB_PANEL),
]


def run_dir_option(help: str) -> Any:
    """The `--run-dir` option type (a required folder in the Job panel) with this command's help."""
    return Annotated[Path, typer.Option("--run-dir", help=help, rich_help_panel=JOB_PANEL)]


@contextlib.contextmanager
def interrupt_hint(run_dir: Path) -> Iterator[None]:
    """On Ctrl-C: say that committed shards are kept and how to resume, and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo(f"Interrupted: committed shards are kept; continue with the same command plus --resume "
                   f"(run dir {run_dir})", err=True)
        raise typer.Exit(code=130) from None


def split_limit(reader: dict | None) -> tuple[dict, int | None]:
    """The reader options without `limit` (a job option of its own), and the limit."""
    reader = dict(reader or {})
    return reader, reader.pop("limit", None)


def _cli_parameter(name: str, info: Any) -> inspect.Parameter:
    """A Typer option for a config field: `--field-name`, the field's default, help, panel and bounds."""
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


def config_options(config: Any) -> Callable[[Callable], Callable]:
    """Decorator factory: every CLI field of an `OptionsModel` as an option, passed as one `options` dict.

    The decorated function declares an `options: dict` parameter; it receives the given values by field name.
    """
    params = [_cli_parameter(name, info) for name, info in config.fields_where("cli").items()]
    return lambda func: with_options(func, "options", params, dict)


def mine_options(func: Callable) -> Callable:
    """Decorator: add every CLI field of `MineConfig` as an option and pass them as one `options` dict."""
    return config_options(MineConfig)(func)
