"""A directory of data files (csv/tsv, jsonl, parquet; `.gz` allowed) read in name order as one stream.

Curators often hold their reports as shards (`part-0000.parquet`, ...). Every file must be of one
format and hold the mapped columns (checked for all files before any row is read); rows keep their
own file in `source_path` and their 1-based row within that file in `source_row`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from radprm.errors import InputError
from radprm.readers.columns import ColumnMap
from radprm.readers.rows import RawRow
from radprm.readers.tabular import Source


class MultiSource(Source):
    """Chains the row sources of several files; `columns` are the first file's (JSONL: the union)."""

    def __init__(self, path: Path, sources: list[Source]) -> None:
        super().__init__(path)
        self.sources = sources
        self.unit = sources[0].unit
        self.total = sum(s.total for s in sources)
        if _is_jsonl(sources):
            union: dict[str, None] = {}
            for source in sources:
                union.update(dict.fromkeys(source.columns))
            self.columns = list(union)
        else:
            self.columns = list(sources[0].columns)

    def check(self, cmap: ColumnMap) -> None:
        """Raise InputError naming the first file lacking the id or a text column (JSONL is schemaless).

        Optional columns (indication, comparison, image_paths) may be absent from some files.
        """
        if not _is_jsonl(self.sources):
            for source in self.sources:
                for name in cmap.required():
                    if name not in source.columns:
                        raise InputError(
                            f"column missing in this file of the directory; columns present: {source.columns}",
                            path=source.path,
                            field=name,
                            hint="every file of a directory input needs the same columns",
                        )
        for source in self.sources:
            source.check(cmap)

    def rows(self, cmap: ColumnMap, batch_size: int = 1024) -> Iterator[RawRow]:
        """Yield every file's rows in turn, each tagged with its own file."""
        finished = 0
        for source in self.sources:
            for raw in source.rows(cmap, batch_size):
                if raw.source_path is None:
                    raw.source_path = str(source.path)
                self.done = finished + source.done
                yield raw
            finished += source.total
            self.done = finished


def _is_jsonl(sources: list[Source]) -> bool:
    from radprm.readers.tabular import JsonlSource

    return isinstance(sources[0], JsonlSource)
