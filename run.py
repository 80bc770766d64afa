"""The run kernel: the scaffolding every batch runner shares, written once.

A batch runner (read, findings, validate, perturb, export, review, qa, mine) reads records, writes an
output and quarantines what it cannot use. What they all need lives here:

- `output_paths(out, ...)`: the checked output path and its quarantine sidecar (`<out>.quarantine.jsonl`
  by default), refusing a sidecar that would overwrite an output and removing a stale one;
- `QuarantineSink` (re-exported from `radprm.quarantine`): counts records by reason, appends JSONL;
- `progress(...)` / `track(...)`: one Rich progress display on stderr;
- `atomic_write(...)` / `atomic_path(...)` / `commit_file(...)`: temp file beside the target, fsync,
  rename, fsync of the directory, so a crash never leaves a torn file under the final name;
- `finish(summary, ...)`: the exit policy. A run that produced nothing but quarantined records fails
  with a sample reason; `strict=True` fails when anything was quarantined. It raises `RunError`
  (carrying the summary), which the CLI prints once as `Error: ...` after the summary, so the same
  call fails the same way from Python and from the command line.

```python
from radprm import run

out, qpath = run.output_paths(out, quarantine=quarantine, suffixes=(".jsonl",))
with run.QuarantineSink(qpath) as sink, run.atomic_write(out) as fh:
    for row in run.track(rows, "export", total=n, enabled=progress):
        fh.write(...)
summary = MySummary(out=out, quarantine=sink, written=n)
return run.finish(summary, produced=n, quarantine=sink, strict=strict, noun="row", path=src)
```
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from radprm.errors import InputError, RadprmError, RunError
from radprm.quarantine import QuarantineSink, read_quarantine

__all__ = [
    "QUARANTINE_SUFFIX",
    "Progress",
    "QuarantineSink",
    "RunError",
    "Summary",
    "atomic_path",
    "atomic_write",
    "commit_file",
    "file_sha256",
    "finish",
    "fsync_dir",
    "output_paths",
    "progress",
    "quarantine_path_for",
    "read_quarantine",
    "track",
    "write_bytes_atomic",
    "write_text_atomic",
]

QUARANTINE_SUFFIX = ".quarantine.jsonl"
"""Default quarantine sidecar of an output file: `<out>` + this suffix."""


# --- output and quarantine paths ------------------------------------------------------------------
def quarantine_path_for(out: str | Path) -> Path:
    """The conventional quarantine file beside an output: `<out>.quarantine.jsonl`."""
    out = Path(out)
    return out.with_name(out.name + QUARANTINE_SUFFIX)


def output_paths(
    out: str | Path,
    *,
    quarantine: str | Path | None = None,
    suffixes: Iterable[str] | None = None,
    others: Iterable[str | Path | None] = (),
    clear_stale: bool = True,
) -> tuple[Path, Path]:
    """Check an output path and resolve its quarantine sidecar.

    Args:
        out: the output file.
        quarantine: quarantine JSONL; default `quarantine_path_for(out)`.
        suffixes: accepted output suffixes (lower case, with the dot); None accepts any.
        others: further outputs of the run that the quarantine file must not overwrite.
        clear_stale: remove a quarantine file left by an earlier run, so the file only ever holds
            this run's records.

    Returns:
        `(out, quarantine_path)`.

    Raises:
        InputError: the suffix is not accepted, or the quarantine file would overwrite an output.
    """
    out = Path(out)
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if out.suffix.lower() not in suffixes:
            raise InputError(f"output must end in {' or '.join(suffixes)}", path=out, field="out")
    qpath = Path(quarantine) if quarantine is not None else quarantine_path_for(out)
    outputs = {Path(p).resolve() for p in (out, *others) if p is not None}
    if qpath.resolve() in outputs:
        raise InputError("the quarantine file would overwrite an output", path=qpath, hint="change --quarantine")
    if clear_stale:
        qpath.unlink(missing_ok=True)
    return out, qpath


# --- atomic writes ---------------------------------------------------------------------------------
def fsync_dir(directory: str | Path) -> None:
    """fsync a directory so that a rename inside it survives a power loss (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp: str | Path, final: str | Path) -> None:
    """Make a finished temp file visible under its final name: fsync it, rename, fsync the directory.

    The bytes reach the disk before the name does, so a crash leaves either the old file or the
    whole new one.
    """
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    fsync_dir(Path(final).parent)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a hidden temp path beside `path`; on normal exit commit it onto `path` (`commit_file`).

    For writers that open files themselves (`pyarrow.parquet.ParquetWriter`). On an exception the temp
    file is removed and `path` is left untouched. The temp name is unique, so concurrent writers never
    share it, and starts with a dot, so directory readers skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        commit_file(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temp file beside `path` for writing; on normal exit flush, fsync, rename and fsync the directory.

    Args:
        path: the final file.
        mode: "w" (text) or "wb" (bytes).
        encoding: text encoding (ignored in binary mode).
        newline: passed to `open` (the csv module wants "").
    """
    binary = "b" in mode
    with atomic_path(path) as tmp, open(  # noqa: SIM115 - closed before the commit
        tmp, mode, encoding=None if binary else encoding, newline=None if binary else newline
    ) as fh:
        yield fh
        fh.flush()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a whole text file atomically (see `atomic_write`)."""
    with atomic_write(path) as fh:
        fh.write(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write a whole binary file atomically (see `atomic_write`)."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    with Path(path).open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# --- progress --------------------------------------------------------------------------------------
class _Task:
    """One bar of a `Progress` display (a no-op when the display is off)."""

    def __init__(self, bar: Any, task_id: Any) -> None:
        self._bar, self._id = bar, task_id

    def advance(self, n: float = 1) -> None:
        """Move the bar by `n`."""
        if self._bar is not None:
            self._bar.advance(self._id, n)

    def update(self, **fields: Any) -> None:
        """Set `total`, `completed`, `description` or custom fields."""
        if self._bar is not None:
            self._bar.update(self._id, **fields)

    @property
    def completed(self) -> float:
        """Steps done so far (0 when the display is off)."""
        return self._bar.tasks[self._id].completed if self._bar is not None else 0

    @property
    def total(self) -> float | None:
        """The bar's total, None when unknown (or when the display is off)."""
        return self._bar.tasks[self._id].total if self._bar is not None else None


class Progress:
    """A Rich progress display on stderr holding one or more bars, with ETA when a total is known.

    Args:
        enabled: True shows it, False never, None only when stderr is a terminal.
        transient: erase the display when it stops.
        columns: extra Rich columns (e.g. `TextColumn("{task.fields[kept]} kept")`) after the counts.
        counts: show `done/total`; False shows a percentage (for byte-based bars).

    Use as a context manager; `task(description, total)` adds a bar.
    """

    def __init__(
        self, enabled: bool | None = True, *, transient: bool = True, columns: Iterable[Any] = (), counts: bool = True
    ) -> None:
        self._bar: Any = None
        if enabled is False:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        console = Console(stderr=True)
        if enabled is None and not console.is_terminal:
            return
        count = MofNCompleteColumn() if counts else TextColumn("{task.percentage:>3.0f}%")
        self._bar = RichProgress(
            TextColumn("{task.description}"), BarColumn(), count, *columns, TimeElapsedColumn(),
            TimeRemainingColumn(), console=console, transient=transient,
        )

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def task(self, description: str, total: float | None = None, **fields: Any) -> _Task:
        """Add a bar; `fields` feed custom columns."""
        if self._bar is None:
            return _Task(None, None)
        return _Task(self._bar, self._bar.add_task(description, total=total, **fields))


def progress(description: str, *, total: float | None = None, enabled: bool | None = True, **options: Any) -> Any:
    """A one-bar `Progress` context yielding its task: `with progress("qa", total=n) as bar: bar.advance()`."""

    @contextlib.contextmanager
    def _one() -> Iterator[_Task]:
        with Progress(enabled, **options) as display:
            yield display.task(description, total)

    return _one()


def track(
    items: Iterable[Any], description: str, *, total: float | None = None, enabled: bool | None = True,
    **options: Any,
) -> Iterator[Any]:
    """Yield `items` while advancing a one-bar progress display by one per item."""
    if enabled is False:
        yield from items
        return
    with progress(description, total=total, enabled=enabled, **options) as bar:
        for item in items:
            yield item
            bar.advance()


# --- the exit policy ---------------------------------------------------------------------------------
class Summary(Protocol):
    """What a runner returns: one `render()` for people (and `as_dict()` for machines where useful)."""

    def render(self) -> str:
        """Human summary, printed by the CLI."""
        ...


S = TypeVar("S", bound=Summary)


def _counts(quarantine: QuarantineSink | Mapping[str, int] | None) -> Mapping[str, int]:
    if quarantine is None:
        return {}
    return quarantine.counts if isinstance(quarantine, QuarantineSink) else quarantine


def describe_quarantine(quarantine: QuarantineSink | Mapping[str, int] | None) -> str:
    """`quarantined: N (reason=n, ...) -> path`, the same line in every summary."""
    if isinstance(quarantine, QuarantineSink):
        return quarantine.render()
    counts = _counts(quarantine)
    total = sum(counts.values())
    if not total:
        return "quarantined: 0"
    by_reason = ", ".join(f"{reason}={n}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"quarantined: {total} ({by_reason})"


def finish(
    summary: S,
    *,
    produced: int,
    quarantine: QuarantineSink | Mapping[str, int] | None,
    strict: bool = False,
    noun: str = "row",
    path: str | Path | None = None,
    empty: str | None = None,
    failed: str | None = None,
) -> S:
    """Apply the exit policy to a finished run and return its summary.

    Args:
        summary: the run's summary (carried by the error, so the CLI can still print it).
        produced: records written (or otherwise delivered) by the run.
        quarantine: the run's sink, or its counts by reason.
        strict: any quarantined record is an error.
        noun: what a record is called in the message (`row`, `decision line`, `record`).
        path: the input named in the error.
        empty: message when nothing was produced even though nothing was quarantined (None: allowed).
        failed: message opening the error when every record was quarantined (default
            `every <noun> was quarantined`).

    Returns:
        `summary`, when the run is a success.

    Raises:
        RunError: nothing produced and records quarantined (with the first one's reason), nothing
            produced and `empty` set, or `strict` and anything quarantined. `err.summary` is `summary`.
    """
    counts = _counts(quarantine)
    total = sum(counts.values())
    line = describe_quarantine(quarantine)
    if produced == 0 and total:
        first = quarantine.records[0] if isinstance(quarantine, QuarantineSink) and quarantine.records else None
        sample = ""
        if first is not None:
            where = RadprmError("", path=first.source_path, row=first.source_row, field=first.field).where
            sample = f"; first: {first.reason_code}{f' at {where}' if where else ''}: {first.detail}"
        raise RunError(f"{failed or f'every {noun} was quarantined'}; {line}{sample}", summary=summary, path=path)
    if produced == 0 and empty is not None:
        raise RunError(f"{empty} ({line})", summary=summary, path=path)
    if strict and total:
        raise RunError(f"{total} {noun}(s) quarantined and --strict is set; {line}", summary=summary, path=path)
    return summary
