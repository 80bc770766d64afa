"""A rich progress bar (with ETA, on stderr) over a ReportStream, advanced by bytes, rows or files read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from radprm.readers.stream import ReportStream
    from radprm.schemas.records import Report


def track(stream: ReportStream, description: str = "reading", *, enabled: bool | None = None) -> Iterator[Report]:
    """Yield the stream's reports while showing progress through its source.

    Args:
        stream: the ReportStream to consume.
        description: label shown left of the bar.
        enabled: force the bar on or off; None shows it only when stderr is a terminal.

    Returns:
        An iterator over the same reports.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    show = console.is_terminal if enabled is None else enabled
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TextColumn("{task.fields[kept]} kept, {task.fields[quarantined]} quarantined"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not show, transient=False) as progress:
        done, total, _unit = stream.progress()
        task = progress.add_task(description, total=total or None, kept=0, quarantined=0)
        last = time.monotonic()
        for report in stream:
            # time-based: a slow consumer (an LLM stage) still sees the bar move
            if time.monotonic() - last > 0.2:
                last = time.monotonic()
                done, _, _ = stream.progress()
                progress.update(task, completed=done, kept=stream.stats.kept, quarantined=stream.stats.quarantined)
            yield report
        done, total, _ = stream.progress()
        progress.update(task, completed=total, kept=stream.stats.kept, quarantined=stream.stats.quarantined)
