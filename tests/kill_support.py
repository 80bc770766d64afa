"""Shared by the kill -9 tests: count rows of a run's ledger while a job runs, and kill the job once
enough of them are there."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

WRITTEN = "SELECT COUNT(*) FROM items WHERE status = 'written'"
RESOLVED = "SELECT COUNT(*) FROM quarantine WHERE resolution = 'written'"


def ledger_count(run_dir: Path, sql: str = WRITTEN) -> int:
    """One count from the run's ledger, read-only; 0 while the ledger does not exist or is locked."""
    try:
        db = sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def ledger_written(run_dir: Path) -> int:
    """Items the job has committed."""
    return ledger_count(run_dir, WRITTEN)


def kill_9_when(
    proc: subprocess.Popen,
    count: Callable[[], int],
    at_least: int,
    *,
    timeout: float = 120,
    poll: float = 0.05,
    what: str = "the job never committed a shard",
) -> None:
    """SIGKILL `proc` once `count()` reaches `at_least`; fail if it exits first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while count() < at_least:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, what
        time.sleep(poll)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
