"""Where review reads mined items from, behind two functions so the shard format can change underneath.

`scan_chains` reads only what selection needs (ids, step labels and reasons, scores) through DuckDB,
so choosing a queue over hundreds of thousands of items never builds full `Item`s; `fetch_items`
then materialises just the chosen ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from radprm.errors import InputError
from radprm.schemas.records import Item
from radprm.schemas.shards import row_to_item
from radprm.shards import connect, shard_paths
from radprm.shards.location import require_local_shards

SCORE_FIELDS = ("completeness", "factuality", "effectiveness", "answer_reward")
_SCAN_SQL = f"""
SELECT item_id, report_id, [s.index FOR s IN steps] AS indexes, [s.label FOR s IN steps] AS labels,
       [s.reasons FOR s IN steps] AS reasons, {", ".join(SCORE_FIELDS)}, coalesce(answer_disputed, false)
FROM items
"""


@dataclass(frozen=True)
class ChainSummary:
    """What queue selection needs to know about one chain, without its texts."""

    item_id: str
    report_id: str | None
    indexes: tuple[int, ...]
    labels: tuple[bool, ...]
    reasons: tuple[tuple[str, ...], ...]
    completeness: float | None = None
    factuality: float | None = None
    effectiveness: float | None = None
    answer_reward: float | None = None
    answer_disputed: bool = False

    @classmethod
    def from_item(cls, item: Item) -> ChainSummary:
        """Summarise a full `Item`."""
        return cls(
            item_id=item.item_id,
            report_id=item.report_id,
            indexes=tuple(s.index for s in item.steps),
            labels=tuple(s.label for s in item.steps),
            reasons=tuple(tuple(s.reasons) for s in item.steps),
            **{name: getattr(item, name) for name in SCORE_FIELDS},
            answer_disputed=bool(item.answer_disputed),
        )


def check_shard_dir(shard_dir: str | Path) -> Path:
    """Return the path when it is a readable shard folder.

    Raises:
        InputError: the folder does not exist, or is a URI (review needs a local folder).
        ShardError: no manifest, or a listed shard is missing.
    """
    require_local_shards(shard_dir)
    path = Path(shard_dir)
    if not path.is_dir():
        raise InputError("shard folder not found", path=path, hint="pass the folder the mine step wrote")
    shard_paths(path)
    return path


def count_items(shard_dir: str | Path) -> int:
    """Number of committed item rows in a shard folder (duplicates included)."""
    con = connect(check_shard_dir(shard_dir))
    try:
        return con.execute("SELECT count(*) FROM items").fetchone()[0]
    finally:
        con.close()


def scan_chains(shard_dir: str | Path, *, batch_rows: int = 10_000) -> Iterator[ChainSummary]:
    """Yield a `ChainSummary` per committed item row, in shard order.

    Args:
        shard_dir: folder written by `radprm.shards.ShardWriter`.
        batch_rows: rows fetched from DuckDB at a time (bounds memory).

    Raises:
        InputError: the folder does not exist.
        ShardError: the folder has no manifest or a listed shard is missing.
    """
    con = connect(check_shard_dir(shard_dir))
    try:
        cursor = con.execute(_SCAN_SQL)
        while rows := cursor.fetchmany(batch_rows):
            for item_id, report_id, indexes, labels, reasons, *scores in rows:
                yield ChainSummary(item_id, report_id, tuple(indexes), tuple(labels),
                                   tuple(tuple(r) for r in reasons), *scores)
    finally:
        con.close()


def fetch_items(shard_dir: str | Path, ids: Iterable[str], *, batch_rows: int = 2_000) -> dict[str, Item]:
    """Materialise the items with the given ids (first occurrence of each id wins).

    Args:
        shard_dir: folder written by `radprm.shards.ShardWriter`.
        ids: item ids to fetch; ids not in the shards are simply absent from the result.
        batch_rows: Parquet rows decoded at a time.

    Returns:
        Items by id.

    Raises:
        InputError: the folder does not exist.
        ShardError: the folder has no manifest or a listed shard is missing.
    """
    wanted = set(ids)
    found: dict[str, Item] = {}
    if not wanted:
        return found
    value_set = pa.array(sorted(wanted), pa.string())
    for path in shard_paths(check_shard_dir(shard_dir)):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            hits = batch.filter(pc.is_in(batch.column("item_id"), value_set=value_set))
            for row in hits.to_pylist():
                if row["item_id"] not in found:
                    found[row["item_id"]] = row_to_item(row)
        if len(found) == len(wanted):
            break
    return found
