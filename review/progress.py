"""A rich progress bar on stderr (with ETA when the total is known), or nothing when disabled."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def progress_bar(description: str, *, total: int | None = None, enabled: bool = True) -> Iterator[Callable[[], None]]:
    """Yield an `advance()` callable that moves a stderr progress bar by one step.

    Args:
        description: label shown left of the bar.
        total: number of steps, when known (gives an ETA).
        enabled: False yields a no-op, for library calls and tests.
    """
    if not enabled:
        yield lambda: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
