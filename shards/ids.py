"""`IdIndex`: the set of item ids a writer holds, kept in a temporary SQLite file instead of a Python set.

A Python set of 16-hex-digit ids costs about 100 bytes per id on the heap (about 100 MB at 1M items);
here the ids live in a B-tree on disk (SQLite's private temporary database, deleted on close) with a
bounded page cache, so the writer's memory stays flat however many items the shard set holds
(`bench/bench_writer_memory.py`). The index is rebuilt from the committed shards each time a writer
opens, so it is never a second source of truth: the manifest and the shard files are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Set

CACHE_KIB = 8_192
"""SQLite page cache of the index, in KiB: the memory the index may use whatever its size."""
_CHUNK = 10_000


def _temp_db(table_sql: str) -> sqlite3.Connection:
    """A private temporary SQLite database (deleted on close) with a bounded page cache and one table."""
    # "" = a private temporary database SQLite deletes on close; no journal: nothing here outlives the process.
    db = sqlite3.connect("", isolation_level=None)
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(table_sql)
    db.execute("BEGIN")
    return db


class IdIndex(Set):
    """A set of item ids on disk: `in`, `len`, iteration (streamed), add and discard.

    Not thread-safe: one writer calls it from one thread. Set operators from `collections.abc.Set`
    work but materialise their result; callers that need everything should iterate instead.
    """

    def __init__(self) -> None:
        self._db = _temp_db("CREATE TABLE ids (item_id TEXT PRIMARY KEY) WITHOUT ROWID")
        self._len = 0

    def add(self, item_id: str) -> bool:
        """Add one id; False when it was already there."""
        added = self._db.execute("INSERT OR IGNORE INTO ids VALUES (?)", (item_id,)).rowcount == 1
        self._len += added
        return added

    def add_new(self, item_ids: Iterable[str]) -> list[str]:
        """Add ids that must all be new; when some are already present, add none and return those (sorted).

        Used to adopt a stray shard: its ids may not repeat an id of the set.
        """
        ids = list(item_ids)
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (item_id TEXT)")
        self._db.execute("DELETE FROM incoming")
        self._db.executemany("INSERT INTO incoming VALUES (?)", ((i,) for i in ids))
        clash = [r[0] for r in self._db.execute(
            "SELECT DISTINCT n.item_id FROM incoming n JOIN ids USING (item_id) ORDER BY 1")]
        if not clash:
            self.update(ids)
        return clash

    def update(self, item_ids: Iterable[str]) -> None:
        """Add many ids (ids already present are ignored)."""
        before = self._db.total_changes
        self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((i,) for i in item_ids))
        self._len += self._db.total_changes - before

    def discard_many(self, item_ids: Iterable[str]) -> None:
        """Remove ids (absent ones are ignored)."""
        before = self._db.total_changes
        self._db.executemany("DELETE FROM ids WHERE item_id = ?", ((i,) for i in item_ids))
        self._len -= self._db.total_changes - before

    def __contains__(self, item_id: object) -> bool:
        return self._db.execute("SELECT 1 FROM ids WHERE item_id = ?", (item_id,)).fetchone() is not None

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        """Ids in sorted order, fetched in chunks (the set may change between chunks: iterate a quiet one)."""
        last = ""
        while True:
            rows = self._db.execute(
                "SELECT item_id FROM ids WHERE item_id > ? ORDER BY item_id LIMIT ?", (last, _CHUNK)).fetchall()
            if not rows:
                return
            yield from (r[0] for r in rows)
            last = rows[-1][0]

    def close(self) -> None:
        """Drop the index (its temporary file goes with it)."""
        self._db.close()


class IdTally:
    """Every item id of a shard set with the shard that held it first and how many more times it came,
    on disk like `IdIndex` (`radprm verify --check-duplicates` at 1M ids in flat memory).
    """

    def __init__(self) -> None:
        self._db = _temp_db("CREATE TABLE ids (item_id TEXT PRIMARY KEY, first TEXT NOT NULL, "
                            "extra INTEGER NOT NULL) WITHOUT ROWID")

    def add(self, item_ids: Iterable[str], shard: str) -> None:
        """Count the ids of (part of) one shard; an id seen before keeps its first shard."""
        self._db.executemany("INSERT INTO ids VALUES (?, ?, 0) ON CONFLICT (item_id) DO UPDATE SET extra = extra + 1",
                             ((i, shard) for i in item_ids))

    def repeated(self, limit: int) -> list[tuple[str, int, str]]:
        """The first `limit` repeated ids in id order: (item id, times stored beyond the first, first shard)."""
        return self._db.execute("SELECT item_id, extra, first FROM ids WHERE extra > 0 ORDER BY item_id LIMIT ?",
                                (limit,)).fetchall()

    def n_repeated(self) -> int:
        """How many ids are stored more than once."""
        return self._db.execute("SELECT count(*) FROM ids WHERE extra > 0").fetchone()[0]

    def close(self) -> None:
        """Drop the tally (its temporary file goes with it)."""
        self._db.close()

    def __enter__(self) -> IdTally:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
