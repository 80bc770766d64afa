"""The job ledger: one SQLite (WAL) row per item saying how far it got, for exactly-once resume.

States of an item (`Item.item_id`, the chain id):

* ``pending``: planned (its report's questions were built) but not finished;
* ``answered``: every LLM call of its chain succeeded (the answers are in the request cache);
* ``written``: in a committed shard (the shard name is kept);
* ``quarantined``: given up with a reason code; the quarantine record is kept here too, so that the
  quarantine JSONL can be completed after a crash between the two writes.

A re-drive (`radprm mine --resume --retry-quarantined`) asks quarantined items again. An item that then
succeeds goes from ``quarantined`` to ``written`` when its shard commits, and in the same transaction its
open quarantine records are marked resolved (`resolution = written`, kept for the audit trail, no longer
counted as open). An item that fails again with another reason gets a new record and its older open one is
marked `superseded`, so every quarantined item has exactly one open record. Each re-drive session is a row
of `redrives` (reasons, options, how many items it selected, resolved and left open).

Reports are recorded with the number of items planned for them, so a resumed job skips a report whose
items are all final without re-reading its findings. Every change is one committed transaction; after a
`kill -9` the ledger holds exactly what was committed before it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Set
from datetime import UTC, datetime
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
    # 2 (issue 16): which item a record is about, its resolution by a re-drive, and the re-drive history.
    """
    ALTER TABLE quarantine ADD COLUMN item_id TEXT;
    ALTER TABLE quarantine ADD COLUMN resolved_at TEXT;
    ALTER TABLE quarantine ADD COLUMN resolution TEXT;
    ALTER TABLE quarantine ADD COLUMN redrive_id INTEGER;
    UPDATE quarantine SET item_id = json_extract(record, '$.record_id') WHERE stage = 'mine';
    CREATE INDEX quarantine_item ON quarantine(item_id);
    CREATE TABLE redrives (
        redrive_id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        reasons TEXT NOT NULL,
        options TEXT NOT NULL,
        selected INTEGER NOT NULL,
        resolved INTEGER,
        still_open INTEGER,
        not_found INTEGER
    );
    """,
    # 3 (issue 13): what the report-citation check did to an image-style item (`CITATION_STATES`).
    """
    ALTER TABLE items ADD COLUMN cites_report TEXT;
    """,
]
LEDGER_VERSION = len(_MIGRATIONS)
"""Schema version of a ledger this radprm writes (`meta.schema_version`)."""

RESOLVED_WRITTEN, RESOLVED_SUPERSEDED = "written", "superseded"
CITATION_STATES = ("fixed", "quarantined", "kept", "reask_failed")
"""`items.cites_report` of an image-style item whose steps cited the report: fixed (the re-ask was clean),
quarantined (it still cited the report), kept (`--cites-report keep` wrote it), reask_failed (the re-ask
call failed; the item is quarantined with that call's reason). NULL: never cited it."""


def _utc(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        self.redrive_id: int | None = None  # the re-drive session in progress, recorded on what it resolves
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

    def done_reports(self) -> DoneReports:
        """Reports whose planned items are all written or quarantined (or that have none).

        A live set view answered by SQL (`report_id in done` is one indexed query), so a resumed job over
        millions of items holds no id set in Python memory; iterate it (or compare it with a set) to list them.
        """
        return DoneReports(self)

    # --- transitions ----------------------------------------------------------------------------
    def mark_answered(self, item_id: str) -> None:
        """All LLM calls of the item succeeded (a final state is never downgraded)."""
        with self._tx():
            self._db.execute(
                "UPDATE items SET status = ?, updated_at = ? WHERE item_id = ? AND status = ?",
                (ANSWERED, time.time(), item_id, PENDING),
            )

    def mark_citation(self, item_id: str, state: str | None) -> None:
        """Record what the report-citation check did to an item (`CITATION_STATES`; None clears it)."""
        with self._tx():
            self._db.execute("UPDATE items SET cites_report = ? WHERE item_id = ?", (state, item_id))

    def citation_counts(self) -> dict[str, int]:
        """Items per `CITATION_STATES` value (every state present, zeros included)."""
        return citation_counts(self._db, self._lock)

    def mark_written(self, item_ids: Iterable[str], shard: str) -> int:
        """The items are in committed shard `shard`; returns how many changed state.

        A written item's open quarantine records (a re-driven item) are marked resolved in the same
        transaction, so the item is never both written and open in quarantine.
        """
        now = time.time()
        ids = list(item_ids)
        with self._tx():
            cur = self._db.executemany(
                "UPDATE items SET status = ?, shard = ?, updated_at = ? WHERE item_id = ? AND status != ?",
                [(WRITTEN, shard, now, i, WRITTEN) for i in ids],
            )
            changed = cur.rowcount
            self._db.executemany(
                "UPDATE quarantine SET resolved_at = ?, resolution = ?, redrive_id = ?"
                " WHERE item_id = ? AND resolved_at IS NULL",
                [(_utc(now), RESOLVED_WRITTEN, self.redrive_id, i) for i in ids],
            )
            return changed

    def add_quarantine(self, qkey: str, stage: str, reason: str, record_json: str, item_id: str | None = None) -> bool:
        """Record a quarantine record once (by `qkey`); with `item_id`, also mark that item quarantined.

        All in one transaction. An item that already had an open record (it failed again in a re-drive,
        with another reason) keeps only the new one open: the older is marked `superseded`. Returns False
        when `qkey` was already recorded (nothing changes).
        """
        with self._tx():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO quarantine (qkey, stage, reason, record, item_id) VALUES (?, ?, ?, ?, ?)",
                (qkey, stage, reason, record_json, item_id),
            )
            if cur.rowcount != 1:
                return False
            if item_id is not None:
                now = time.time()
                self._db.execute(
                    "UPDATE items SET status = ?, reason = ?, updated_at = ?"
                    " WHERE item_id = ? AND status != ?",
                    (QUARANTINED, reason, now, item_id, WRITTEN),
                )
                self._db.execute(
                    "UPDATE quarantine SET resolved_at = ?, resolution = ?, redrive_id = ?"
                    " WHERE item_id = ? AND qkey != ? AND resolved_at IS NULL",
                    (_utc(now), RESOLVED_SUPERSEDED, self.redrive_id, item_id, qkey),
                )
            return True

    # --- re-drive -------------------------------------------------------------------------------
    def open_quarantined_items(self, reasons: Iterable[str], stage: str = "mine") -> list[dict[str, Any]]:
        """Quarantined items whose open record of `stage` has one of `reasons`.

        Returns:
            Dicts with item_id, report_id, question_id, rollout and reason, in quarantine order.
        """
        reasons = list(reasons)
        marks = ",".join("?" * len(reasons))
        rows = self._all(
            "SELECT i.item_id, i.report_id, i.question_id, i.rollout, q.reason FROM quarantine q"
            " JOIN items i ON i.item_id = q.item_id"
            f" WHERE q.resolved_at IS NULL AND q.stage = ? AND q.reason IN ({marks}) AND i.status = ?"
            " ORDER BY q.rowid",
            (stage, *reasons, QUARANTINED),
        )
        return [dict(zip(("item_id", "report_id", "question_id", "rollout", "reason"), r, strict=True)) for r in rows]

    def start_redrive(self, reasons: list[str], options: dict[str, Any], selected: int) -> int:
        """Record the start of a re-drive session; later resolutions carry its id. Returns the id."""
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO redrives (started_at, reasons, options, selected) VALUES (?, ?, ?, ?)",
                (_utc(), json.dumps(reasons), json.dumps(options, sort_keys=True, default=str), selected),
            )
            self.redrive_id = int(cur.lastrowid)
        return self.redrive_id

    def finish_redrive(self, not_found: int) -> None:
        """Close the current re-drive session: count what it resolved and what it left open."""
        if self.redrive_id is None:
            return
        with self._tx():
            rid = self.redrive_id
            resolved = self._db.execute(
                "SELECT COUNT(DISTINCT item_id) FROM quarantine WHERE redrive_id = ? AND resolution = ?",
                (rid, RESOLVED_WRITTEN),
            ).fetchone()[0]
            selected = self._db.execute("SELECT selected FROM redrives WHERE redrive_id = ?", (rid,)).fetchone()[0]
            self._db.execute(
                "UPDATE redrives SET finished_at = ?, resolved = ?, still_open = ?, not_found = ? WHERE redrive_id = ?",
                (_utc(), resolved, max(0, selected - resolved), not_found, rid),
            )

    def redrives(self) -> list[dict[str, Any]]:
        """The re-drive history, oldest first (see `read_redrives`)."""
        with self._lock:
            return read_redrives(self._db)

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
        """Open quarantine records (not resolved by a re-drive) by `stage/reason`, largest first."""
        rows = self._all(
            "SELECT stage || '/' || reason, COUNT(*) FROM quarantine WHERE resolved_at IS NULL"
            " GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        return dict(rows)

    def resolved_counts(self) -> dict[str, int]:
        """Resolved quarantine records by resolution (`written`, `superseded`)."""
        return dict(self._all("SELECT resolution, COUNT(*) FROM quarantine WHERE resolved_at IS NOT NULL GROUP BY 1"))

    def quarantine_records(self) -> list[tuple[str, str]]:
        """(qkey, record JSON) of every quarantine record, in insertion order, as first recorded."""
        return list(self._all("SELECT qkey, record FROM quarantine ORDER BY rowid"))

    def quarantine_entries(self) -> list[tuple[str, QuarantineRecord]]:
        """(qkey, record) of every quarantine record in insertion order, with its resolution filled in."""
        out = []
        for qkey, record_json, resolved_at, resolution in self._all(
            "SELECT qkey, record, resolved_at, resolution FROM quarantine ORDER BY rowid"
        ):
            record = QuarantineRecord.model_validate_json(record_json)
            if resolved_at is not None:
                record = record.model_copy(update={"resolved_at": resolved_at, "resolution": resolution})
            out.append((qkey, record))
        return out

    def written_ids(self) -> set[str]:
        """Ids of written items (materialises them all: for tests and small runs)."""
        return {r[0] for r in self._all("SELECT item_id FROM items WHERE status = ?", (WRITTEN,))}

    def written_shards(self) -> set[str]:
        """Names of the shards the ledger holds written items of."""
        return {r[0] for r in self._all("SELECT DISTINCT shard FROM items WHERE status = ? AND shard IS NOT NULL",
                                        (WRITTEN,))}

    def adopt_committed(self, writer: Any) -> None:
        """Mark written the items of `writer`'s shards committed before a crash but not yet in the ledger.

        A shard's items are marked in one transaction by `on_commit`, so a shard the ledger names is complete
        there; only the other shards (committed, then killed before `on_commit`) are read, a batch of ids at
        a time.
        """
        known = self.written_shards()
        for entry in writer.manifest.shards:
            if entry.name not in known:
                for ids in writer.shard_id_batches(entry.name):
                    self.mark_written(ids, entry.name)

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


class DoneReports(Set):
    """The reports of a ledger whose planned items are all final, as a live set view over SQL."""

    _DONE = ("SELECT r.report_id FROM reports r LEFT JOIN items i ON i.report_id = r.report_id"
             " AND i.status IN (?, ?) {where} GROUP BY r.report_id HAVING COUNT(i.item_id) >= MAX(r.n_items)")

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __contains__(self, report_id: object) -> bool:
        return bool(self.ledger._all(self._DONE.format(where="WHERE r.report_id = ?"), (*FINAL, report_id)))

    def __iter__(self) -> Iterator[str]:
        return iter([r[0] for r in self.ledger._all(self._DONE.format(where=""), FINAL)])

    def __len__(self) -> int:
        return sum(1 for _ in self)


_REDRIVE_COLUMNS = ("redrive_id", "started_at", "finished_at", "reasons", "options", "selected", "resolved",
                    "still_open", "not_found")


def citation_counts(db: sqlite3.Connection, lock: Any = None) -> dict[str, int]:
    """Items per `CITATION_STATES` value of a ledger connection (zeros for a ledger older than schema 3)."""
    out = dict.fromkeys(CITATION_STATES, 0)
    with lock or contextlib.nullcontext():
        if "cites_report" in {row[1] for row in db.execute("PRAGMA table_info(items)")}:
            out.update(db.execute("SELECT cites_report, COUNT(*) FROM items WHERE cites_report IS NOT NULL"
                                  " GROUP BY 1").fetchall())
    return out


def read_redrives(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """The re-drive history of a ledger connection (also a read-only one), oldest first: one dict per
    session with its reasons, options, and how many items it selected, resolved, left open, did not find
    (`finished_at` None: the session was interrupted)."""
    out = []
    for row in db.execute(f"SELECT {', '.join(_REDRIVE_COLUMNS)} FROM redrives ORDER BY redrive_id"):
        entry = dict(zip(_REDRIVE_COLUMNS, row, strict=True))
        entry["reasons"], entry["options"] = json.loads(entry["reasons"]), json.loads(entry["options"])
        out.append(entry)
    return out


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
        """Quarantine a record once (a repeat after resume is ignored); `item_id` also marks the item.

        In a mining job a chain id is an item id: a record naming only `chain_id` (a judge failure) gets
        `item_id` too, without marking the item (its chain was answered and is written).
        """
        if record is None:
            record = QuarantineRecord(item_id=item_id, **fields)
        elif item_id is not None:
            record = record.model_copy(update={"item_id": item_id})
        if record.run_id is None:
            record = record.model_copy(update={"run_id": self.run_id})
        if record.item_id is None and record.chain_id is not None:
            record = record.model_copy(update={"item_id": record.chain_id})
        with self._qlock:
            if self.ledger.add_quarantine(
                quarantine_key(record), record.stage, record.reason_code, record.model_dump_json(), item_id
            ):
                super().add(record)
        return record

    def reconcile(self) -> int:
        """Bring the JSONL file in line with the ledger: append the records it lacks (crash between the two
        writes); when a re-drive resolved records, rewrite the file atomically with their resolution.

        Returns:
            The number of records appended or changed.
        """
        entries = self.ledger.quarantine_entries()
        have = ({quarantine_key(r): r for r in read_quarantine(self.path)}
                if self.path and self.path.exists() else {})
        changed = [qkey for qkey, r in entries if qkey in have and have[qkey].resolved_at != r.resolved_at]
        if changed and self.path is not None:
            from radprm import run

            self.close()  # the next add reopens the new file
            text = "".join(r.model_dump_json() + "\n" for _, r in entries)
            run.write_text_atomic(self.path, text)
            return len(changed) + sum(1 for qkey, _ in entries if qkey not in have)
        added = 0
        for qkey, record in entries:
            if qkey not in have:
                QuarantineSink.add(self, record)
                added += 1
        return added
