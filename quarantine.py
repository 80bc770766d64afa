"""Quarantine: where records that cannot be processed go, with their reason. Nothing is dropped silently.

A `QuarantineSink` counts records by reason code and, when given a path, appends them as JSON lines
(flushed per record, so a crash loses nothing already quarantined). Stages call `sink.add(...)`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import IO

from radprm.schemas.records import QuarantineRecord


class QuarantineSink:
    """Collects quarantine records: counts by reason, keeps the first few, optionally writes JSONL.

    Args:
        path: JSONL file to append to; None keeps records in memory only (up to `keep`).
        run_id: recorded on every record.
        keep: how many records to keep in memory for summaries and tests.
    """

    def __init__(self, path: str | Path | None = None, *, run_id: str | None = None, keep: int = 1000) -> None:
        self.path = Path(path) if path is not None else None
        self.run_id = run_id
        self.keep = keep
        self.counts: Counter[str] = Counter()
        self.records: list[QuarantineRecord] = []
        self._fh: IO[str] | None = None

    def add(self, record: QuarantineRecord | None = None, **fields: object) -> QuarantineRecord:
        """Quarantine one record (a QuarantineRecord, or its fields as keywords)."""
        if record is None:
            record = QuarantineRecord(**fields)  # type: ignore[arg-type]
        if record.run_id is None and self.run_id is not None:
            record = record.model_copy(update={"run_id": self.run_id})
        self.counts[record.reason_code] += 1
        if len(self.records) < self.keep:
            self.records.append(record)
        if self.path is not None:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("a", encoding="utf-8")
            self._fh.write(record.model_dump_json() + "\n")
            self._fh.flush()
        return record

    @property
    def total(self) -> int:
        """Number of records quarantined so far."""
        return sum(self.counts.values())

    def render(self) -> str:
        """One line: total and counts by reason, plus the file when there is one."""
        if not self.total:
            return "quarantined: 0"
        by_reason = ", ".join(f"{reason}={n}" for reason, n in self.counts.most_common())
        where = f" -> {self.path}" if self.path else ""
        return f"quarantined: {self.total} ({by_reason}){where}"

    def close(self) -> None:
        """Close the JSONL file, if open."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> QuarantineSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_quarantine(path: str | Path) -> list[QuarantineRecord]:
    """Read a quarantine JSONL file back into records."""
    with Path(path).open(encoding="utf-8") as fh:
        return [QuarantineRecord(**json.loads(line)) for line in fh if line.strip()]
