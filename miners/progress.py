"""The mining job's progress display: reports read and items finished, with an ETA (on `radprm.run.Progress`).

The item total is estimated from the share of the input read so far (or of --limit), so the ETA is
meaningful before every report has been planned. Shown only when stderr is a terminal.
"""

from __future__ import annotations

from radprm import run


class MineProgress:
    """Two bars on stderr: `reports` and `items`.

    Args:
        enabled: show the bars (only when stderr is a terminal).
    """

    def __init__(self, enabled: bool) -> None:
        self._display = run.Progress(None if enabled else False, transient=False)
        self._planned = 0
        self._reports = self._display.task("reports")
        self._items = self._display.task("items")

    def __enter__(self) -> MineProgress:
        self._display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._display.__exit__(*exc)

    def reports_read(self, n: int, fraction: float | None) -> None:
        """`n` more reports planned; `fraction` of the input read so far (None when unknown)."""
        self._reports.advance(n)
        read = self._reports.completed
        if fraction:
            self._reports.update(total=max(read, round(read / min(1.0, fraction))))
            self._items.update(total=max(self._planned, round(self._planned / min(1.0, fraction))))

    def planned(self, n: int) -> None:
        """`n` more items to do."""
        self._planned += n
        if self._items.total is None:
            self._items.update(total=self._planned)

    def finished_input(self) -> None:
        """The input is exhausted: totals are exact now."""
        self._reports.update(total=self._reports.completed)
        self._items.update(total=self._planned)

    def item_done(self) -> None:
        """One item written or quarantined."""
        self._items.advance()
