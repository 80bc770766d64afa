"""Free-text reports: one `.txt` file (id = file stem) or a directory of `.txt` files, sorted by name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from radprm.errors import InputError
from radprm.readers.columns import ColumnMap
from radprm.readers.rows import UTF8_HINT, RawRow
from radprm.readers.tabular import Source

TEXT_COLUMNS = ColumnMap(id="report_id", text="text")


class TextSource(Source):
    """A `.txt` file or a directory of them; each file is one report, split by the sectionizer."""

    unit = "files"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.folder = path if path.is_dir() else path.parent
        if path.is_dir():
            # names as plain strings: a listing of a million files must stay small
            self.files = sorted(
                entry.name for entry in os.scandir(path) if entry.name.lower().endswith(".txt") and entry.is_file()
            )
            if not self.files:
                raise InputError(
                    "directory holds no .txt files", path=path, hint="free-text input is one .txt file per report"
                )
        else:
            self.files = [path.name]
        self.columns = ["report_id", "text"]
        self.total = len(self.files)

    def rows(self, cmap: ColumnMap, batch_size: int = 1024) -> Iterator[RawRow]:
        """Yield one row per file: id = file stem, text = its content, source = that file, row 1."""
        for n, name in enumerate(self.files, 1):
            file = self.folder / name
            data = file.read_bytes()
            self.done = n
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                yield RawRow(
                    1,
                    {"report_id": file.stem},
                    payload=data.decode("utf-8", "replace"),
                    reason="invalid_utf8",
                    field="text",
                    detail=f"byte offset {exc.start} ({data[exc.start:exc.start + 4]!r}); {UTF8_HINT}",
                    source_path=str(file),
                )
                continue
            yield RawRow(1, {"report_id": file.stem, "text": text}, payload=text, source_path=str(file))
