"""Row sources for CSV/TSV, JSONL and Parquet: stream raw rows with their 1-based data row number.

Every source learns its columns when it is created (so a missing column fails before any work) and
reads the data lazily, in constant memory: CSV record by record, JSONL line by line, Parquet by
record batches of only the mapped columns. CSV and JSONL may be gzip-compressed (`.csv.gz`,
`.jsonl.gz`): they are decompressed as they are read, and progress counts compressed bytes.

Bad bytes: a file is read as UTF-8. A row holding bytes that are not valid UTF-8 is a row-level
problem (quarantined as `invalid_utf8` with the field and position), because one mis-encoded report
should not stop a run over 100k reports; a header that is not UTF-8 is a file-level InputError.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from radprm.errors import InputError
from radprm.readers.columns import ColumnMap
from radprm.readers.rows import UTF8_HINT, RawRow, find_undecodable, printable

# Reports can be long; csv's default 128 KiB field limit would turn one long report into an error
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@contextmanager
def open_bytes(path: Path) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """Open a file for binary reading, decompressing `.gz`; also yield a function giving the file offset.

    Raises:
        InputError: the data cannot be decompressed (raised where the damage is met).
    """
    if path.suffix.lower() == ".gz":
        fh: IO[bytes] = gzip.open(path, "rb")
        position = fh.fileobj.tell  # type: ignore[attr-defined]  # compressed offset, for progress
    else:
        fh = path.open("rb")
        position = fh.tell
    try:
        with fh:
            yield fh, position
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"cannot decompress: {exc}", path=path, hint="the .gz file is damaged or not gzip") from None


def _text(fh: IO[bytes]) -> io.TextIOWrapper:
    # surrogateescape keeps undecodable bytes as lone surrogates so the row, not the file, is rejected
    return io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")


class Source:
    """Base row source: a path, its columns, and progress counters (`done` of `total` `unit`)."""

    unit = "bytes"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] = []
        self.done = 0
        self.total = 0

    def check(self, cmap: ColumnMap) -> None:
        """Raise InputError when the mapped columns cannot hold report fields (called before reading)."""

    def rows(self, cmap: ColumnMap, batch_size: int = 1024) -> Iterator[RawRow]:
        """Yield raw rows holding the columns of `cmap`."""
        raise NotImplementedError


class CsvSource(Source):
    """CSV or TSV read with the csv module (no type inference: every value stays a string)."""

    def __init__(self, path: Path, *, delimiter: str = ",") -> None:
        super().__init__(path)
        self.delimiter = delimiter
        self.total = path.stat().st_size
        self.columns = self._header()

    def _header(self) -> list[str]:
        with open_bytes(self.path) as (raw, _), _text(raw) as text:
            try:
                header = next(csv.reader(text, delimiter=self.delimiter), None)
            except csv.Error as exc:
                raise InputError(f"cannot parse the CSV header: {exc}", path=self.path, row=0) from None
        if not header:
            raise InputError(
                "empty file: no header row", path=self.path, hint="a CSV needs a header naming its columns"
            )
        bad = find_undecodable({name: name for name in header})
        if bad is not None:
            raise InputError(f"header is not valid UTF-8: {bad[1]}", path=self.path, row=0, field=printable(bad[0]))
        return [name.strip() for name in header]

    def check(self, cmap: ColumnMap) -> None:
        """Raise InputError when a mapped column name appears more than once in the header."""
        for name in cmap.used():
            if self.columns.count(name) > 1:
                raise InputError(
                    f"column appears {self.columns.count(name)} times in the header", path=self.path, row=0,
                    field=name, hint="rename the duplicates so the column is unambiguous",
                )

    def rows(self, cmap: ColumnMap, batch_size: int = 1024) -> Iterator[RawRow]:
        """Yield each record with the mapped columns; ragged or undecodable records come back flagged."""
        # an optional column absent from this file (one shard of a directory) reads as None
        index = {name: self.columns.index(name) for name in cmap.used() if name in self.columns}
        absent = {name: None for name in cmap.used() if name not in self.columns}
        width = len(self.columns)
        with open_bytes(self.path) as (raw, position), _text(raw) as text:
            # strict: bad quoting is an error for that record (quarantined) instead of a silent guess
            reader = csv.reader(text, delimiter=self.delimiter, strict=True)
            next(reader, None)
            n = 0
            while True:
                first_line = reader.line_num + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    n += 1
                    lines = f"line {first_line}" if reader.line_num <= first_line else (
                        f"lines {first_line}-{reader.line_num}"
                    )
                    yield RawRow(n, None, payload=None, reason="malformed_row", detail=f"{lines}: {exc}")
                    continue
                if not fields:  # blank line: not a record
                    continue
                n += 1
                if n % 64 == 0:  # often enough for a progress bar over a slow consumer, cheap enough here
                    self.done = position()
                if len(fields) != width:
                    yield RawRow(
                        n,
                        None,
                        payload=json.dumps([printable(f) for f in fields], ensure_ascii=False),
                        reason="malformed_row",
                        detail=f"line {reader.line_num}: expected {width} fields, got {len(fields)}",
                    )
                    continue
                # undecodable bytes are flagged by the stream, like lone surrogates from any format
                yield RawRow(n, {**{name: fields[i] for name, i in index.items()}, **absent})
        self.done = self.total


class JsonlSource(Source):
    """JSON Lines: one object per line; the keys of the first object name the columns."""

    PEEK_LINES = 1000

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.total = path.stat().st_size
        self.columns = self._peek_columns()

    def _peek_columns(self) -> list[str]:
        # JSON objects need not share keys: the columns are the union of keys over the first lines
        keys: dict[str, None] = {}
        first_problem = None
        with open_bytes(self.path) as (fh, _):
            for lineno, line in enumerate(fh, 1):
                if lineno > self.PEEK_LINES:
                    break
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line.decode("utf-8-sig" if lineno == 1 else "utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    first_problem = first_problem or (lineno, str(exc))
                    continue
                if isinstance(obj, dict):
                    keys.update(dict.fromkeys(obj))
                else:
                    first_problem = first_problem or (lineno, f"expected a JSON object, got {type(obj).__name__}")
        if keys:
            return list(keys)
        if first_problem is None:
            raise InputError("empty file: no JSON lines", path=self.path)
        raise InputError(
            f"no JSON object in the first {self.PEEK_LINES} lines; first problem: {first_problem[1]}",
            path=self.path,
            row=first_problem[0],
            hint="expected JSON Lines: one object per line",
        )

    def rows(self, cmap: ColumnMap, batch_size: int = 1024) -> Iterator[RawRow]:
        """Yield one row per non-blank line; undecodable or malformed lines come back flagged."""
        used = cmap.used()
        offset = 0
        with open_bytes(self.path) as (fh, position):
            for lineno, line in enumerate(fh, 1):
                start, offset = offset, offset + len(line)
                if lineno % 64 == 0:
                    self.done = position()
                if not line.strip():
                    continue
                try:
                    # a BOM may open the file (Windows tools write one); json.loads rejects it
                    text = line.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    yield RawRow(
                        lineno,
                        None,
                        payload=line.decode("utf-8", "replace").rstrip("\r\n"),
                        reason="invalid_utf8",
                        detail=f"byte offset {start + exc.start} ({line[exc.start:exc.start + 4]!r}); {UTF8_HINT}",
                    )
                    continue
                payload = text.rstrip("\r\n")
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield RawRow(lineno, None, payload=payload, reason="malformed_json",
                                 detail=f"{exc.msg} at column {exc.colno}")
                    continue
                if not isinstance(obj, dict):
                    yield RawRow(lineno, None, payload=payload, reason="malformed_json",
                                 detail=f"expected a JSON object, got {type(obj).__name__}")
                    continue
                yield RawRow(lineno, {name: obj.get(name) for name in used}, payload=payload)
        self.done = self.total


_STRINGISH = ("string", "large_string", "string_view", "null")


class ParquetSource(Source):
    """Parquet read by record batches of only the mapped columns."""

    unit = "rows"

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        super().__init__(path)
        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid/OSError variants for non-Parquet bytes
            raise InputError(f"not a readable Parquet file: {exc}", path=path, hint="check --format") from None
        self.columns = list(self._file.schema_arrow.names)
        self.total = self._file.metadata.num_rows

    def check(self, cmap: ColumnMap) -> None:
        """Raise InputError when a mapped text column is not string-typed."""
        schema = self._file.schema_arrow
        for name in (cmap.findings, cmap.impression, cmap.text, cmap.indication, cmap.comparison):
            if name is not None and name in schema.names and str(schema.field(name).type) not in _STRINGISH:
                raise InputError(
                    f"text column has type {schema.field(name).type}, expected string",
                    path=self.path,
                    field=name,
                    hint="cast the column to string, or map another column",
                )

    def rows(self, cmap: ColumnMap, batch_size: int = 1024) -> Iterator[RawRow]:
        """Yield one row per Parquet row, read by record batches of the mapped columns."""
        used = [name for name in cmap.used() if name in self.columns]
        absent = {name: None for name in cmap.used() if name not in self.columns}
        n = 0
        for batch in self._file.iter_batches(batch_size=batch_size, columns=used):
            columns = {name: batch.column(name).to_pylist() for name in used}
            for i in range(batch.num_rows):
                n += 1
                self.done = n
                yield RawRow(n, {**{name: columns[name][i] for name in used}, **absent})
