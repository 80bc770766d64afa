"""The job ledger: one SQLite (WAL) row per item saying how far it got, for exactly-once resume.

States of an item (`Item.item_id`, the chain id):

* ``pending``: planned (its report's questions were built) but not finished;
* ``answered``: every LLM call of its chain succeeded (the answers are in the request cache);
* ``written``: in a committed shard (the shard name is kept);
* ``quarantined``: given up with a reason code; the quarantine record is kept here too, so that the
  quarantine JSONL can be completed after a crash between the two writes.

Reports are recorded with the number of items planned for them, so a resumed job skips a report whose
items are all final without re-reading its findings. Every change is one committed transaction; after a
`kill -9` the ledger holds exactly what was committed before it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.quarantine import QuarantineSink, read_quarantine
from radprm.schemas.records import QuarantineRecord

PENDING, ANSWERED, WRITTEN, QUARANTINED = "pending", "answered", "written", "quarantined"
FINAL = (WRITTEN, QUARANTINED)

_MIGRATIONS = [
    """
    CREATE TABLE reports (
        report_id TEXT PRIMARY KEY,
        n_items INTEGER NOT NULL
    );
    CREATE TABLE quarantine (
        qkey TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        reason TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE items (
        item_id TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        question_id TEXT NOT NULL,
        rollout INTEGER NOT NULL,
        status TEXT NOT NULL,
        shard TEXT,
        reason TEXT,
        updated_at REAL NOT NULL
    );
    CREATE INDEX items_report ON items(report_id);
    CREATE INDEX items_status ON items(status);
    """,
]


class Ledger:
    """Per-item progress of one job, in `<run_dir>/ledger.sqlite`.

    Args:
        path: SQLite file (created with its folder when missing).

    Raises:
        InputError: the file is not a radprm ledger or comes from a newer radprm.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            # check_same_thread=False: the reader (in the job's CPU thread) quarantines through the
            # ledger too; the lock serialises all use of the connection.
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed change survives a process kill (not a power cut).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a usable job ledger: {exc}", path=self.path,
                             hint="use a fresh --run-dir or delete the ledger") from exc

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        row = self._db.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > len(_MIGRATIONS):
            raise InputError(f"ledger schema version {version} is newer than this radprm", path=self.path)
        for sql in _MIGRATIONS[version:]:
            self._db.executescript(f"BEGIN; {sql}; COMMIT;")
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(len(_MIGRATIONS)),))

    # --- planning -------------------------------------------------------------------------------
    def plan_report(self, report_id: str, items: Iterable[tuple[str, str, int]]) -> None:
        """Record a report and its planned items (item_id, question_id, rollout) in one transaction.

        Items already known keep their state, so planning again on resume is harmless.
        """
        now = time.time()
        rows = [(i, report_id, q, r, PENDING, now) for i, q, r in items]
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO reports VALUES (?, ?)", (report_id, len(rows)))
            self._db.executemany(
                "INSERT OR IGNORE INTO items (item_id, report_id, question_id, rollout, status, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def plan_items(self, items: Iterable[tuple[str, str]]) -> None:
        """Record items (item_id, report_id) that are not per-report work (e.g. rollout labelling of shard items).

        Items already known keep their state.
        """
        now = time.time()
        with self._tx():
            self._db.executemany(
                "INSERT OR IGNORE INTO items (item_id, report_id, question_id, rollout, status, updated_at)"
                " VALUES (?, ?, ?, 0, ?, ?)",
                [(i, r, i, PENDING, now) for i, r in items],
            )

    def done_reports(self) -> set[str]:
        """Ids of reports whose planned items are all written or quarantined (or that have none)."""
        rows = self._all(
            "SELECT r.report_id FROM reports r LEFT JOIN items i ON i.report_id = r.report_id"
            " AND i.status IN (?, ?) GROUP BY r.report_id HAVING COUNT(i.item_id) >= MAX(r.n_items)",
            FINAL,
        )
        return {r[0] for r in rows}

    # --- transitions ----------------------------------------------------------------------------
    def mark_answered(self, item_id: str) -> None:
        """All LLM calls of the item succeeded (a final state is never downgraded)."""
        with self._tx():
            self._db.execute(
                "UPDATE items SET status = ?, updated_at = ? WHERE item_id = ? AND status = ?",
                (ANSWERED, time.time(), item_id, PENDING),
            )

    def mark_written(self, item_ids: Iterable[str], shard: str) -> int:
        """The items are in committed shard `shard`; returns how many changed state."""
        now = time.time()
        with self._tx():
            cur = self._db.executemany(
                "UPDATE items SET status = ?, shard = ?, updated_at = ? WHERE item_id = ? AND status != ?",
                [(WRITTEN, shard, now, i, WRITTEN) for i in item_ids],
            )
            return cur.rowcount

    def add_quarantine(self, qkey: str, stage: str, reason: str, record_json: str, item_id: str | None = None) -> bool:
        """Record a quarantine record once (by `qkey`); with `item_id`, also mark that item quarantined.

        Both happen in one transaction. Returns False when `qkey` was already recorded (nothing changes).
        """
        with self._tx():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO quarantine VALUES (?, ?, ?, ?)", (qkey, stage, reason, record_json)
            )
            if cur.rowcount != 1:
                return False
            if item_id is not None:
                self._db.execute(
                    "UPDATE items SET status = ?, reason = ?, updated_at = ?"
                    " WHERE item_id = ? AND status NOT IN (?, ?)",
                    (QUARANTINED, reason, time.time(), item_id, *FINAL),
                )
            return True

    # --- queries --------------------------------------------------------------------------------
    def status(self, item_id: str) -> str | None:
        """State of one item, or None when unknown."""
        row = self._all("SELECT status FROM items WHERE item_id = ?", (item_id,))
        return row[0][0] if row else None

    def statuses(self, item_ids: Iterable[str]) -> dict[str, str]:
        """States of the known items among `item_ids`."""
        ids = list(item_ids)
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(self._all(f"SELECT item_id, status FROM items WHERE item_id IN ({marks})", chunk))
        return out

    def counts(self) -> dict[str, int]:
        """Number of items per state (every state present, zeros included)."""
        out = dict.fromkeys((PENDING, ANSWERED, WRITTEN, QUARANTINED), 0)
        out.update(self._all("SELECT status, COUNT(*) FROM items GROUP BY status"))
        return out

    def n_reports(self) -> int:
        """Reports planned so far."""
        return self._all("SELECT COUNT(*) FROM reports")[0][0]

    def quarantine_counts(self) -> dict[str, int]:
        """Quarantine records by `stage/reason`, largest first."""
        rows = self._all(
            "SELECT stage || '/' || reason, COUNT(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        return dict(rows)

    def quarantine_records(self) -> list[tuple[str, str]]:
        """(qkey, record JSON) of every quarantine record, in insertion order."""
        return list(self._all("SELECT qkey, record FROM quarantine ORDER BY rowid"))

    def written_ids(self) -> set[str]:
        """Ids of written items."""
        return {r[0] for r in self._all("SELECT item_id FROM items WHERE status = ?", (WRITTEN,))}

    def adopt_committed(self, writer: Any) -> None:
        """Mark written the items of `writer`'s shards committed before a crash but not yet in the ledger."""
        missing = set(writer.seen_ids) - self.written_ids()
        if not missing:
            return
        import pyarrow.parquet as pq

        for entry in writer.manifest.shards:
            path = writer.manifest.shard_path(writer.out_dir, entry.name)
            ids = pq.read_table(path, columns=["item_id"]).column("item_id").to_pylist()
            self.mark_written([i for i in ids if i in missing], entry.name)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def _all(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> None:
        self.lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()


def quarantine_key(record: QuarantineRecord) -> str:
    """Identity of a quarantine record (stage, record id, source, reason, field) for exactly-once writes."""
    parts = [record.stage, record.record_id, record.source_path, record.source_row, record.reason_code, record.field]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


class LedgerQuarantine(QuarantineSink):
    """A QuarantineSink that records each record in the ledger first and never writes one twice.

    Args:
        ledger: the job's ledger.
        path: the job's quarantine JSONL.
        run_id: recorded on every record.
    """

    def __init__(self, ledger: Ledger, path: Path, *, run_id: str) -> None:
        super().__init__(path, run_id=run_id)
        self.ledger = ledger
        self._qlock = threading.Lock()  # the reader quarantines from the CPU thread, workers from the loop

    def add(
        self, record: QuarantineRecord | None = None, *, item_id: str | None = None, **fields: Any
    ) -> QuarantineRecord:
        """Quarantine a record once (a repeat after resume is ignored); `item_id` also marks the item."""
        if record is None:
            record = QuarantineRecord(**fields)
        if record.run_id is None:
            record = record.model_copy(update={"run_id": self.run_id})
        with self._qlock:
            if self.ledger.add_quarantine(
                quarantine_key(record), record.stage, record.reason_code, record.model_dump_json(), item_id
            ):
                super().add(record)
        return record

    def reconcile(self) -> int:
        """Append to the JSONL file the ledger's records it lacks (crash between the two writes)."""
        have = {quarantine_key(r) for r in read_quarantine(self.path)} if self.path and self.path.exists() else set()
        added = 0
        for qkey, record_json in self.ledger.quarantine_records():
            if qkey not in have:
                QuarantineSink.add(self, QuarantineRecord.model_validate_json(record_json))
                added += 1
        return added
