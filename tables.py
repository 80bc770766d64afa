"""Write and read record tables as CSV, Parquet or JSON Lines, chosen by the file extension.

`write_table` streams rows in batches (Parquet through one `ParquetWriter`) into a hidden temporary
file beside the target that `radprm.run.atomic_path` syncs and renames at the end, so a crash never
leaves a half-written table under the final name. Conventions that make a CSV round trip exact:

- None is an empty *unquoted* field, every other value is quoted (`""` is the empty string);
- lists and dicts are JSON text; booleans are `true` / `false`.

`read_table` reads any of the three back (CSV with pyarrow, which tells the two kinds of empty
apart) and, given the Arrow schema, restores the types of CSV values.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from radprm import run
from radprm.errors import InputError, SchemaError

TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def table_format(path: str | Path) -> str:
    """The table format for a path's extension: csv, parquet or jsonl.

    Raises:
        InputError: the extension is not one of `TABLE_FORMATS`.
    """
    fmt = TABLE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(
            f"unknown table format '{Path(path).suffix or '(no extension)'}'",
            path=path,
            hint="use one of " + ", ".join(TABLE_FORMATS),
        )
    return fmt


def _as_dict(row: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    if hasattr(row, "model_dump"):
        return row.model_dump()
    raise SchemaError(f"rows must be dicts or pydantic models, got {type(row).__name__}")


def write_table(
    rows: Iterable[dict[str, Any]],
    path: str | Path,
    *,
    columns: list[str] | None = None,
    schema: pa.Schema | None = None,
    batch_size: int = 1024,
) -> int:
    """Write rows to a CSV, Parquet or JSONL file (by extension), streaming in batches.

    Args:
        rows: dicts (or pydantic models) keyed by column name; a missing key is a null.
        path: output file; `.csv`, `.parquet`, `.jsonl` or `.ndjson`. Parent folders are created.
        columns: columns to write, in order; other keys are ignored. Default: the schema's names,
            else the first row's keys (then a later row with an unknown key is an error).
        schema: Arrow schema pinning Parquet types (and metadata); without it Parquet types are
            inferred from the first batch, with all-null columns written as strings.
        batch_size: rows per Parquet row group / write batch.

    Returns:
        The number of rows written.

    Raises:
        InputError: unknown extension.
        SchemaError: a row has a key outside the columns, or a value that does not fit the schema
            (the message names the row and field).
    """
    path = Path(path)
    fmt = table_format(path)
    writer = {"csv": _CsvWriter, "parquet": _ParquetWriter, "jsonl": _JsonlWriter}[fmt]
    if columns is None and schema is not None:
        columns = list(schema.names)
    strict = columns is None
    count = 0
    with run.atomic_path(path) as tmp:
        with writer(tmp, path, schema) as out:
            batch: list[dict[str, Any]] = []
            for row in rows:
                row = _as_dict(row)
                count += 1
                if columns is None:
                    columns = list(row)
                elif strict:
                    extra = [key for key in row if key not in columns]
                    if extra:
                        raise SchemaError(f"key not among the columns {columns}", path=path, row=count, field=extra[0])
                batch.append({name: row.get(name) for name in columns})
                if len(batch) >= batch_size:
                    out.write(batch, columns, first_row=count - len(batch) + 1)
                    batch = []
            out.write(batch, columns or [], first_row=count - len(batch) + 1, final=True)
    return count


class _Writer:
    def __init__(self, tmp: Path, target: Path, schema: pa.Schema | None) -> None:
        self.tmp, self.target, self.schema = tmp, target, schema

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, batch: list[dict[str, Any]], columns: list[str], *, first_row: int, final: bool = False) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file handle."""


def _csv_value(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class _CsvWriter(_Writer):
    def __init__(self, tmp: Path, target: Path, schema: pa.Schema | None) -> None:
        super().__init__(tmp, target, schema)
        self.fh = tmp.open("w", encoding="utf-8", newline="")
        # QUOTE_NOTNULL: None is written unquoted-empty, so it reads back as null (see read_table)
        self.writer = csv.writer(self.fh, quoting=csv.QUOTE_NOTNULL)
        self.header = False

    def write(self, batch: list[dict[str, Any]], columns: list[str], *, first_row: int, final: bool = False) -> None:
        if not self.header:
            self.writer.writerow(columns)
            self.header = True
        self.writer.writerows([_csv_value(row[name]) for name in columns] for row in batch)

    def close(self) -> None:
        self.fh.close()


class _JsonlWriter(_Writer):
    def __init__(self, tmp: Path, target: Path, schema: pa.Schema | None) -> None:
        super().__init__(tmp, target, schema)
        self.fh = tmp.open("w", encoding="utf-8")

    def write(self, batch: list[dict[str, Any]], columns: list[str], *, first_row: int, final: bool = False) -> None:
        self.fh.writelines(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in batch)

    def close(self) -> None:
        self.fh.close()


class _ParquetWriter(_Writer):
    def __init__(self, tmp: Path, target: Path, schema: pa.Schema | None) -> None:
        super().__init__(tmp, target, schema)
        self.writer: Any = None
        self.inferred = schema is None

    def _infer(self, batch: list[dict[str, Any]], columns: list[str]) -> pa.Schema:
        inferred = pa.Table.from_pylist(batch).schema if batch else pa.schema([])
        fields = []
        for name in columns:
            dtype = inferred.field(name).type if name in inferred.names else pa.null()
            fields.append(pa.field(name, pa.string() if pa.types.is_null(dtype) else dtype))
        return pa.schema(fields)

    def write(self, batch: list[dict[str, Any]], columns: list[str], *, first_row: int, final: bool = False) -> None:
        import pyarrow.parquet as pq

        if self.schema is None:
            self.schema = self._infer(batch, columns)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        if not batch:
            return
        try:
            table = pa.Table.from_pylist(batch, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise self._locate(batch, first_row, exc) from None
        for name in self.schema.names:
            field = self.schema.field(name)
            column = table.column(name)
            if not field.nullable and column.null_count:
                offset = column.to_pylist().index(None)
                raise SchemaError("null in a non-nullable column", path=self.target, row=first_row + offset, field=name)
        self.writer.write_table(table)

    def _locate(self, batch: list[dict[str, Any]], first_row: int, exc: Exception) -> SchemaError:
        assert self.schema is not None
        for name in self.schema.names:
            dtype = self.schema.field(name).type
            for offset, row in enumerate(batch):
                try:
                    pa.array([row.get(name)], type=dtype)
                except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as cell_exc:
                    return SchemaError(
                        f"value does not fit type {dtype}: {cell_exc}",
                        path=self.target,
                        row=first_row + offset,
                        field=name,
                        hint="pass schema= to pin the column types" if self.inferred else None,
                    )
        return SchemaError(f"cannot convert rows to the table schema: {exc}", path=self.target, row=first_row)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_table(
    path: str | Path, *, schema: pa.Schema | None = None, batch_size: int = 1024
) -> Iterator[dict[str, Any]]:
    """Read a table written by `write_table` (or any CSV/Parquet/JSONL table) back as dicts, lazily.

    Strict: a table radprm wrote is expected to be whole, so a bad line or cell raises (naming file,
    row and field) rather than being quarantined. Use `radprm.readers.read_reports` for report inputs.

    Args:
        path: `.csv`, `.parquet`, `.jsonl` or `.ndjson` file.
        schema: for CSV, the Arrow schema whose types to restore (ints, floats, bools, JSON lists);
            without it CSV values are strings, with None for null.
        batch_size: rows per read batch.

    Returns:
        An iterator of row dicts.

    Raises:
        InputError: unknown extension, missing file, or a file that cannot be parsed (raised when
            the bad part is reached).
        SchemaError: a CSV cell does not convert to the schema's type.
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    if fmt == "parquet":
        return _read_parquet(path, batch_size)
    if fmt == "jsonl":
        return _read_jsonl(path)
    return _read_csv(path, schema, batch_size)


def cell_bool(value: Any, path: Path, row: int, name: str) -> bool:
    """A table cell read as a boolean: a bool, "true" / "false" / "1" / "0" (any case, spaces around) or 0 / 1.

    Raises:
        InputError: any other value, naming the file, row and column `name`.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InputError(f"expected a boolean, got {value!r:.40}", path=path, row=row, field=name)


def _read_parquet(path: Path, batch_size: int) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError variants for non-Parquet bytes
        raise InputError(f"not a readable Parquet file: {exc}", path=path) from None
    for batch in parquet.iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    return (row for _, row in read_jsonl_numbered(path))


def read_jsonl_numbered(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSONL file with their line numbers (blank lines skipped).

    Raises:
        InputError: bad UTF-8, a malformed line or a line that is not an object (naming the row).
    """
    with path.open(encoding="utf-8-sig", errors="strict") as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid UTF-8: {exc.reason}", path=path, row=lineno + 1,
                                 hint="re-encode the file as UTF-8") from None
            if not line:
                return
            lineno += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"malformed JSON: {exc.msg} at column {exc.colno}", path=path, row=lineno) from None
            if not isinstance(row, dict):
                raise InputError(f"expected a JSON object, got {type(row).__name__}", path=path, row=lineno)
            yield lineno, row


def _read_csv(path: Path, schema: pa.Schema | None, batch_size: int) -> Iterator[dict[str, Any]]:
    import pyarrow.csv as pacsv

    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        header = next(csv.reader(fh), [])
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,  # a quoted "" is the empty string, an unquoted empty is None
    )
    read = pacsv.ReadOptions(block_size=1 << 20)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    casts = {name: schema.field(name).type for name in header if schema is not None and name in schema.names}
    n = 0
    try:
        reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        for batch in reader:
            for row in batch.to_pylist():
                n += 1
                yield {name: _from_csv(value, casts.get(name), path, n, name) for name, value in row.items()}
    except pa.ArrowInvalid as exc:
        raise InputError(f"cannot parse CSV: {exc}", path=path, row=n + 1 if n else None,
                         hint="is it UTF-8, with the same number of fields on every row?") from None


def _from_csv(value: str | None, dtype: pa.DataType | None, path: Path, row: int, field: str) -> Any:
    if value is None or dtype is None or pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return value
    try:
        if pa.types.is_boolean(dtype):
            if value.lower() not in ("true", "false"):
                raise ValueError(f"expected true/false, got {value!r}")
            return value.lower() == "true"
        if pa.types.is_integer(dtype):
            return int(value)
        if pa.types.is_floating(dtype):
            return float(value)
        if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_struct(dtype):
            return json.loads(value)
    except (ValueError, json.JSONDecodeError) as exc:
        raise SchemaError(f"cannot read as {dtype}: {exc}", path=path, row=row, field=field) from None
    return value
