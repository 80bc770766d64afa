"""The raw row every format reader yields before it becomes a Report (or a quarantine record)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Undecodable bytes are read with errors="surrogateescape" and show up as lone surrogates; JSON can
# also spell lone surrogates as escapes. Either way the value cannot be written as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")

UTF8_HINT = "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8 in.csv > out.csv"


@dataclass(slots=True)
class RawRow:
    """One input record: its values keyed by input column, or the reason it cannot be read.

    Attributes:
        row: 1-based data row (CSV: record after the header; JSONL: line number; text dir: file index).
        values: the mapped input columns' values; None when the row is unreadable.
        payload: the raw input for replay; None to build it from `values` when needed.
        reason: quarantine reason code when the row is unreadable.
        field: the input column at fault, when known.
        detail: what is wrong, for the quarantine record.
        source_path: overrides the stream's path (a directory of text files names each file).
    """

    row: int
    values: dict[str, Any] | None
    payload: str | None = None
    reason: str | None = None
    field: str | None = None
    detail: str = ""
    source_path: str | None = None

    def payload_text(self) -> str | None:
        """The raw payload as text (values as a JSON object, undecodable bytes as U+FFFD)."""
        if self.payload is not None:
            return self.payload
        if self.values is None:
            return None
        return json.dumps({k: printable(v) for k, v in self.values.items()}, ensure_ascii=False, default=str)


def printable(value: Any) -> Any:
    """Replace undecodable bytes / lone surrogates by U+FFFD so the value can be written as UTF-8."""
    if isinstance(value, str) and _SURROGATE.search(value):
        return _SURROGATE.sub("\ufffd", value)
    return value


def find_undecodable(values: dict[str, Any]) -> tuple[str, str] | None:
    """Return (column, detail) for the first value holding bytes that were not valid UTF-8."""
    for name, value in values.items():
        if isinstance(value, str):
            match = _SURROGATE.search(value)
            if match:
                code = ord(match.group())
                what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"lone surrogate U+{code:04X}"
                return name, f"not valid UTF-8 at char {match.start()} of the field ({what}); {UTF8_HINT}"
    return None
