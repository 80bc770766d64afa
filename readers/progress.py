"""A progress bar (with ETA, on stderr) over a ReportStream, advanced by bytes, rows or files read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from radprm import run

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
    columns = ()
    if enabled is not False:
        from rich.progress import TextColumn

        columns = (TextColumn("{task.fields[kept]} kept, {task.fields[quarantined]} quarantined"),)
    # the source counts bytes, rows or files: a percentage reads the same for all three
    with run.Progress(enabled, transient=False, columns=columns, counts=False) as display:
        _done, total, _unit = stream.progress()
        task = display.task(description, total or None, kept=0, quarantined=0)
        last = time.monotonic()
        for report in stream:
            # time-based: a slow consumer (an LLM stage) still sees the bar move
            if time.monotonic() - last > 0.2:
                last = time.monotonic()
                done, _, _ = stream.progress()
                task.update(completed=done, kept=stream.stats.kept, quarantined=stream.stats.quarantined)
            yield report
        _done, total, _ = stream.progress()
        task.update(completed=total, kept=stream.stats.kept, quarantined=stream.stats.quarantined)
