"""The mining job's progress display: reports read and items finished, with an ETA (on `radprm.run.Progress`).

The item total is estimated from the share of the input read so far (or of --limit), so the ETA is
meaningful before every report has been planned. A third bar, `tokens`, counts the tokens this session
spent against the budget (`miners.budget`): the estimate before the first chain is done, then the tokens
spent plus the items left at the tokens per item measured so far; its time left is the time at the
measured throughput (tokens per second). Shown only when stderr is a terminal.
"""

from __future__ import annotations

from collections.abc import Callable

from radprm import run
from radprm.miners.budget import Budget, projected_tokens


class MineProgress:
    """Two bars on stderr: `reports` and `items`.

    Args:
        enabled: show the bars (only when stderr is a terminal).
        budget: the session's estimate (`miners.budget.mine_budget`), None when there is none.
        spent: tokens (prompt + completion) this session has spent so far; None: no `tokens` bar.
    """

    def __init__(self, enabled: bool, budget: Budget | None = None, spent: Callable[[], int] | None = None) -> None:
        self._display = run.Progress(None if enabled else False, transient=False)
        self._planned = 0
        self._done = 0
        self._budget, self._spent = budget, spent
        self._reports = self._display.task("reports")
        self._items = self._display.task("items")
        self._tokens = self._display.task("tokens", budget.tokens if budget else None) if spent else None

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
        self._done += 1
        if self._tokens is not None:
            spent = self._spent()
            total = self.projected_tokens(spent)
            self._tokens.update(completed=spent, total=max(spent, total) if total is not None else None)

    def projected_tokens(self, spent: int) -> int | None:
        """Tokens the session will have spent at the end, as the `tokens` bar shows it."""
        items = self._items.total if self._items.total is not None else self._planned
        if self._budget is not None and self._done == 0:
            items = max(items, self._budget.items)
        return projected_tokens(self._budget, self._done, max(0, items - self._done), spent)
