"""The `reviews/` folder beside the shards: an append-only Parquet table of decisions and a queue registry.

Layout::

    <shard_dir>/reviews/
        part-<utc>-<sha8>.parquet   one file per `review apply`, never rewritten
        queues/<queue_id>.json      one registration per `review queue` (which items, which are calibration)
        quarantine.jsonl            rejected decision lines, with reason codes
        .lock                       serialises concurrent applies

Every part is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from radprm import run
from radprm.errors import ShardError

REVIEWS_DIRNAME = "reviews"
REVIEWS_SCHEMA_VERSION = "1"

REVIEW_SCHEMA = pa.schema(
    [
        ("review_id", pa.string()),
        ("item_id", pa.string()),
        ("report_id", pa.string()),
        ("step_index", pa.int32()),
        ("decision", pa.string()),
        ("note", pa.string()),
        ("reviewer", pa.string()),
        ("reviewed_at", pa.string()),
        ("applied_at", pa.string()),
        ("source_file", pa.string()),
        ("source_sha256", pa.string()),
        ("source_line", pa.int32()),
        ("batch", pa.string()),
        ("queue_id", pa.string()),
        ("kind", pa.string()),
        ("validator_label", pa.bool_()),
        ("validator_verdict", pa.string()),
        ("validator_reasons", pa.list_(pa.string())),
        ("radprm_version", pa.string()),
    ],
    metadata={"radprm.reviews_schema_version": REVIEWS_SCHEMA_VERSION},
)


def reviews_dir(shard_dir: str | Path) -> Path:
    """The `reviews/` folder of a shard folder (not created)."""
    return Path(shard_dir) / REVIEWS_DIRNAME


@contextlib.contextmanager
def locked(shard_dir: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on the reviews folder, so two applies cannot both write the same file."""
    folder = reviews_dir(shard_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_part(shard_dir: str | Path, rows: list[dict[str, Any]], name: str) -> Path:
    """Append one Parquet part of review rows (atomic and durable); never touches existing parts.

    Args:
        shard_dir: the shard folder.
        rows: review rows matching `REVIEW_SCHEMA`.
        name: file stem, unique per apply (e.g. `part-20261123T180000Z-ab12cd34`).

    Returns:
        Path of the written part.
    """
    path = reviews_dir(shard_dir) / f"{name}.parquet"
    table = pa.Table.from_pylist(rows, schema=REVIEW_SCHEMA)
    # human decisions cannot be regenerated: atomic_path fsyncs the file and the folder around the rename
    with run.atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_reviews(shard_dir: str | Path) -> list[dict[str, Any]]:
    """Every review row ever applied to a shard folder, oldest part first (empty list when none).

    Args:
        shard_dir: the shard folder.

    Returns:
        Rows as dicts with the `REVIEW_SCHEMA` columns.

    Raises:
        ShardError: a part cannot be read, has another schema version, or lacks columns.
    """
    rows: list[dict[str, Any]] = []
    for part in sorted(reviews_dir(shard_dir).glob("part-*.parquet")):
        try:
            table = pq.read_table(part)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise ShardError(f"cannot read review part: {exc}", path=part) from exc
        version = (table.schema.metadata or {}).get(b"radprm.reviews_schema_version", b"").decode()
        if version != REVIEWS_SCHEMA_VERSION:
            raise ShardError(f"review part has schema version '{version}', this radprm reads "
                             f"'{REVIEWS_SCHEMA_VERSION}'", path=part)
        missing = set(REVIEW_SCHEMA.names) - set(table.column_names)
        if missing:
            raise ShardError(f"review part lacks columns {sorted(missing)}", path=part)
        rows.extend(table.to_pylist())
    return rows


def register_queue(shard_dir: str | Path, meta: dict[str, Any]) -> Path:
    """Record a queue's metadata under `reviews/queues/` so status and apply can find it."""
    path = reviews_dir(shard_dir) / "queues" / f"{meta['queue_id']}.json"
    run.write_text_atomic(path, json.dumps(meta, separators=(",", ":")))
    return path


def unregister_queues(shard_dir: str | Path, *, queue_dir: str | Path) -> int:
    """Forget the queues registered from `queue_dir` (a rebuilt queue replaces them); returns how many."""
    target = str(Path(queue_dir).resolve())
    removed = 0
    for path in (reviews_dir(shard_dir) / "queues").glob("*.json"):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue  # read_queues reports it
        if meta.get("queue_dir") == target:
            path.unlink()
            removed += 1
    return removed


def read_queues(shard_dir: str | Path) -> list[dict[str, Any]]:
    """Metadata of every queue registered for a shard folder, oldest first.

    Raises:
        ShardError: a registration file is not valid JSON.
    """
    metas = []
    for path in sorted(
        (reviews_dir(shard_dir) / "queues").glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)
    ):
        try:
            metas.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ShardError(f"queue registration is not valid JSON: {exc}", path=path) from exc
    return metas


def queued_kinds(shard_dir: str | Path) -> dict[str, dict[str, str]]:
    """item_id -> {"kind", "queue_id", "batch"} over every registered queue (latest queue wins)."""
    kinds: dict[str, dict[str, str]] = {}
    for meta in read_queues(shard_dir):
        for entry in meta.get("items", []):
            kinds[entry["item_id"]] = {
                "kind": entry["kind"],
                "queue_id": meta["queue_id"],
                "batch": entry["batch"],
            }
    return kinds
