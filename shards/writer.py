"""`ShardWriter`: append `Item`s to a directory of bounded, atomically committed Parquet shards.

Life of a shard: rows are buffered and written as row groups into a hidden temp file
(`<dir>/data/.shard-00007.parquet.tmp`); when the shard reaches `max_rows` or about `max_bytes` (or on `flush()` /
`close()`), the Parquet footer is written, the file is fsynced and renamed to `data/shard-00007.parquet`, the
manifest is rewritten atomically, and only then is `on_commit(CommitInfo)` called. A reader (which goes
through the manifest or globs `shard-*.parquet`) therefore never sees a partial shard, and a caller that
marks its own ledger in `on_commit` never marks items that are not durably stored.

Resume: opening an existing directory continues the numbering, never rewrites a committed shard, and
indexes the committed item ids, so writing an item already stored is skipped and counted
(`duplicates_skipped`). A shard file renamed just before a crash, but missing from the manifest, is
checked and adopted (`recovered: true` in the manifest); stale temp files are deleted.

Memory: the ids live in an `IdIndex` (a temporary SQLite B-tree with a bounded cache), not in a Python
set, so the writer's peak RSS does not grow with the number of items stored (`bench/bench_writer_memory.py`).

Remote shard sets (`s3://bucket/prefix`, any pyarrow filesystem URI): the open shard is spooled to a local
temp file, uploaded at commit under a fresh name (`shard-00007-<hex>.parquet`), then the manifest is
written (the commit point). A data file the manifest does not list (a session killed between the upload
and the manifest write) is deleted by the next writer instead of adopted: its items were never reported
through `on_commit`, so the caller rebuilds them. There is no lock on a remote prefix: one writer per
prefix is the caller's job (a mining run holds its local run folder's lock).
"""

from __future__ import annotations

import fcntl
import json
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from radprm import run
from radprm.errors import SchemaError, ShardError
from radprm.quarantine import QuarantineSink
from radprm.schemas.records import Item
from radprm.schemas.shards import ITEM_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY, item_to_row
from radprm.shards.ids import IdIndex
from radprm.shards.location import ShardLocation, locate
from radprm.shards.manifest import (
    SHARD_PREFIX,
    SHARD_SUFFIX,
    TEMP_SUFFIX,
    Manifest,
    RunEntry,
    ShardEntry,
    load_manifest,
    manifest_path,
    save_manifest,
    shard_index,
    shard_name,
    utc_now,
)

LOCK_NAME = ".lock"
FOOTER_BYTES_PER_ROW_GROUP = 4_608
"""Initial guess of the footer cost of one row group (about 35 leaf columns of metadata); the writer
replaces it by the cost measured on each committed shard."""


@dataclass(frozen=True)
class CommitInfo:
    """What one committed shard holds; passed to `on_commit` after the rename and manifest update.

    Attributes:
        shard: file name, e.g. `shard-00003.parquet`.
        item_ids: ids of the items in the shard, in row order (empty in `WriterStats.shards`, which keeps
            one entry per shard of the session and must not hold every id).
        rows: number of rows.
        sha256: hex sha256 of the shard file.
        bytes: file size in bytes.
        path: full path of the shard file (a string inside the store for a remote shard set).
    """

    shard: str
    item_ids: list[str]
    rows: int
    sha256: str
    bytes: int
    path: Any


@dataclass
class WriterStats:
    """Counters of one writer session."""

    written: int = 0
    duplicates_skipped: int = 0
    quarantined: int = 0
    shards: list[CommitInfo] = field(default_factory=list)
    recovered_shards: list[str] = field(default_factory=list)
    stale_temps_removed: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)

    def render(self) -> str:
        """One line: rows written, shards committed, duplicates skipped, quarantined."""
        parts = [
            f"written: {self.written} items in {len(self.shards)} shards",
            f"duplicates skipped: {self.duplicates_skipped}",
        ]
        if self.quarantined:
            parts.append(f"quarantined: {self.quarantined}")
        if self.recovered_shards:
            parts.append(f"recovered shards: {', '.join(self.recovered_shards)}")
        return "; ".join(parts)


def _raw_size(row: dict[str, Any]) -> int:
    """Cheap estimate of a row's uncompressed size: its text payload plus a fixed overhead."""
    size = 400
    for key in ("report_text", "findings_text", "impression_text", "question", "plan", "sampling"):
        value = row.get(key)
        if value:
            size += len(value)
    for step in row["steps"]:
        size += 40 + len(step["text"]) + sum(len(e["text"]) + 8 for e in step["evidence"])
    return size


class ShardWriter:
    """Write `Item`s to bounded zstd Parquet shards with a manifest; resumable and deduplicating.

    Use as a context manager. Leaving the block normally commits the open shard; leaving it with an
    exception discards the open (uncommitted) shard, so only whole shards are ever visible. One writer
    per directory (a lock file enforces it); not thread-safe: call it from one thread.

    Args:
        out_dir: shard directory (created when missing; an existing one is resumed): a local folder or a
            pyarrow filesystem URI such as `s3://bucket/prefix` (see the module docstring).
        max_rows: rows per shard at most.
        max_bytes: approximate bound on a shard file's size; the writer ends a shard when the next item
            would push it past, using the compression ratio observed so far (row groups make the bound
            approximate; a single item larger than the bound still gets a shard of its own).
        run_meta: JSON-serialisable run description (model, prompts with hashes, rules version, report
            list, ...) stored in the manifest for this writer session.
        on_commit: called with a `CommitInfo` after each shard's rename and manifest update.
        row_group_rows: rows per Parquet row group (smaller = lower writer memory, more footer).
        compression: Parquet codec; zstd by default.
        quarantine: where items passed as dicts that fail validation go; None raises instead.
        card: write the dataset card (`README.md`) into the directory on `close()` (local folders only;
            `radprm qa` writes it for a remote set copied locally).

    Raises:
        ShardError: when another writer holds the directory or a stray shard file cannot be adopted.
        SchemaError: when `run_meta` is not JSON-serialisable.
    """

    def __init__(
        self,
        out_dir: str | Path | ShardLocation,
        *,
        max_rows: int = 50_000,
        max_bytes: int = 256 * 2**20,
        run_meta: dict | None = None,
        on_commit: Callable[[CommitInfo], Any] | None = None,
        row_group_rows: int = 2_000,
        compression: str = "zstd",
        quarantine: QuarantineSink | None = None,
        card: bool = True,
    ) -> None:
        if max_rows < 1 or max_bytes < 1 or row_group_rows < 1:
            raise ValueError("max_rows, max_bytes and row_group_rows must be positive")
        self.location = locate(out_dir)
        self.out_dir: Any = self.location.root if self.location.local else self.location.uri
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.row_group_rows = min(row_group_rows, max_rows)
        self.compression = compression
        self.on_commit = on_commit
        self.quarantine = quarantine
        self.card = card and self.location.local
        self.run_meta = dict(run_meta or {})
        try:
            json.dumps(self.run_meta)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"run_meta is not JSON-serialisable: {exc}", field="run_meta") from exc
        self.stats = WriterStats()
        self._buffer: list[dict[str, Any]] = []
        self._buffer_raw = 0
        self._open_ids: list[str] = []  # ids in the open shard (written row groups + buffer)
        self._tmp_path: Path | None = None
        self._sink: pa.NativeFile | None = None
        self._pq: pq.ParquetWriter | None = None
        self._shard_rows = 0
        self._row_groups = 0
        self._bytes_written = 0
        # compression ratio observed over the whole session, to predict a row group's size on disk
        self._ratio_raw = 0
        self._ratio_bytes = 0
        self._footer_per_rg = float(FOOTER_BYTES_PER_ROW_GROUP)
        self._lock_fh: IO[str] | None = None
        self._spool: Path | None = None  # local folder of the open shard of a remote set
        self._seen = IdIndex()
        self._closed = False
        self._open()

    # -- opening / resuming -------------------------------------------------------------------
    def _open(self) -> None:
        loc = self.location
        loc.makedirs()
        if loc.local:
            self._lock_fh = (self.location.root / LOCK_NAME).open("a")
            try:
                fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                self._lock_fh.close()
                self._lock_fh = None
                self._seen.close()
                raise ShardError(
                    "another ShardWriter is writing to this directory", path=self.out_dir,
                    hint="one writer per directory"
                ) from exc
        try:
            if loc.is_file(manifest_path(loc)):
                self.manifest = load_manifest(loc)
                if self.manifest.schema_version != SCHEMA_VERSION:
                    raise ShardError(
                        f"directory holds schema version {self.manifest.schema_version}, this radprm writes "
                        f"{SCHEMA_VERSION}",
                        path=loc.display(manifest_path(loc)),
                        field="schema_version",
                        hint="write to a new directory",
                    )
            else:
                self.manifest = Manifest()
            self.data_dir = loc.file(self.manifest.data_dir)
            loc.makedirs(self.manifest.data_dir)
            for entry in self.manifest.shards:
                # one shard's ids at a time (bounded by max_rows), sorted: B-tree inserts in key order are
                # 2-3x faster than in hash order at 1M ids
                self._seen.update(sorted(i for ids in self.shard_id_batches(entry.name) for i in ids))
            self.manifest.runs.append(RunEntry(opened_at=utc_now(), meta=self.run_meta))
            self._run_index = len(self.manifest.runs) - 1
            self._recover()
            save_manifest(loc, self.manifest)
            if not loc.local:
                self._spool = Path(tempfile.mkdtemp(prefix="radprm-shard-"))
        except BaseException:
            self._release_lock()
            raise

    def shard_id_batches(self, name: str, batch_size: int = 10_000) -> Iterable[list[str]]:
        """The item ids of one committed shard of this directory, in row order, a batch at a time.

        Raises:
            ShardError: when the shard file is missing.
        """
        path = self.manifest.shard_path(self.location, name)
        if not self.location.is_file(path):
            raise ShardError("shard listed in the manifest is missing", path=self.location.display(path),
                             hint="run `radprm verify`")
        parquet = self.location.parquet_file(path)
        for batch in parquet.iter_batches(batch_size=batch_size, columns=["item_id"]):
            yield batch.column(0).to_pylist()

    def _recover(self) -> None:
        """Delete stale temp files; adopt complete shard files the manifest does not list yet (local), or
        delete them (remote: an upload whose manifest write never happened)."""
        listed = {s.name for s in self.manifest.shards}
        for name in self.location.listdir(self.manifest.data_dir):
            path = self.location.file(self.manifest.data_dir, name)
            if name.startswith(f".{SHARD_PREFIX}") and name.endswith(TEMP_SUFFIX):
                self.location.delete(path)
                self.stats.stale_temps_removed.append(name)
            elif shard_index(name) is not None and name not in listed:
                if self.location.local:
                    self._adopt(path)
                else:
                    self.location.delete(path)
                    self.stats.orphans_removed.append(name)

    def _adopt(self, path: Path) -> None:
        try:
            meta = pq.read_metadata(path)
            schema = pq.read_schema(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise ShardError(
                f"stray shard file is not readable Parquet: {exc}", path=path, hint="move it away"
            ) from exc
        version = (schema.metadata or {}).get(SCHEMA_VERSION_KEY, b"").decode()
        if version != SCHEMA_VERSION or not schema.remove_metadata().equals(ITEM_SCHEMA.remove_metadata()):
            raise ShardError(
                "stray shard file does not have this radprm's shard schema", path=path, hint="move it away"
            )
        ids = pq.read_table(path, columns=["item_id"]).column("item_id").to_pylist()  # one shard: bounded
        clash = self._seen.add_new(ids)
        if clash:
            raise ShardError(
                f"stray shard file repeats {len(clash)} item ids already committed (e.g. {clash[0]})",
                path=path,
                hint="move it away",
            )
        self.manifest.shards.append(
            ShardEntry(
                name=path.name,
                rows=meta.num_rows,
                bytes=path.stat().st_size,
                sha256=run.file_sha256(path),
                min_item_id=min(ids, default=None),
                max_item_id=max(ids, default=None),
                schema_version=version,
                created_at=utc_now(),
                run=self._run_index,
                recovered=True,
            )
        )
        self.manifest.shards.sort(key=lambda s: shard_index(s.name) or 0)
        self.stats.recovered_shards.append(path.name)

    # -- writing ------------------------------------------------------------------------------
    @property
    def seen_ids(self) -> IdIndex:
        """Item ids committed or buffered so far: a live, read-mostly view (`in`, `len`, sorted iteration)
        backed by the on-disk index; nothing is copied into Python memory unless the caller iterates. Valid
        until `close()` / `abort()`."""
        return self._seen

    def write(self, item: Item | dict[str, Any]) -> bool:
        """Add one item; returns False when its item_id is already stored (skipped and counted).

        Args:
            item: an `Item`, or a dict of its fields (validated; invalid dicts are quarantined when a
                sink was given, else raise).

        Raises:
            SchemaError: a dict that is not a valid `Item`, without a quarantine sink.
            ShardError: when the writer is closed.
        """
        if self._closed:
            raise ShardError("write() after close()", path=self.out_dir)
        if not isinstance(item, Item):
            parsed = self._validate(item)
            if parsed is None:
                return False
            item = parsed
        if not self._seen.add(item.item_id):
            self.stats.duplicates_skipped += 1
            self.manifest.duplicates_skipped += 1
            return False
        row = item_to_row(item)
        raw = _raw_size(row)
        if self._shard_rows + len(self._buffer) and self._predicted_size(self._buffer_raw + raw) > self.max_bytes:
            self._write_row_group()
            if self._predicted_size(raw) > self.max_bytes:
                self.flush()
        self._open_ids.append(item.item_id)
        self._buffer.append(row)
        self._buffer_raw += raw
        self.stats.written += 1
        if len(self._buffer) >= min(self.row_group_rows, self.max_rows - self._shard_rows):
            self._write_row_group()
            if self._shard_rows >= self.max_rows:
                self.flush()
        return True

    def _predicted_size(self, pending_raw: int) -> float:
        """Shard file size if `pending_raw` more raw bytes went into one more row group, footer included."""
        ratio = self._ratio_bytes / self._ratio_raw if self._ratio_raw else 1.0
        footer = self._footer_per_rg * (self._row_groups + 1)
        return self._bytes_written + pending_raw * ratio + footer

    def write_many(self, items: Iterable[Item | dict[str, Any]]) -> int:
        """Add many items; returns how many were written (duplicates and quarantined ones excluded)."""
        return sum(1 for item in items if self.write(item))

    def _validate(self, data: dict[str, Any]) -> Item | None:
        try:
            return Item.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            record_id = data.get("item_id") if isinstance(data, dict) else None
            if self.quarantine is None:
                raise SchemaError(f"invalid item: {first['msg']}", field=loc, path=self.out_dir) from exc
            self.quarantine.add(
                stage="shards",
                reason_code="invalid_item",
                record_id=str(record_id) if record_id is not None else None,
                item_id=str(record_id) if record_id is not None else None,
                report_id=str(data["report_id"]) if isinstance(data, dict) and data.get("report_id") else None,
                field=loc,
                detail=first["msg"],
                payload=json.dumps(data, default=str),
            )
            self.stats.quarantined += 1
            return None

    def _write_row_group(self) -> None:
        if not self._buffer:
            return
        if self._pq is None:
            spool = self.data_dir if self._spool is None else self._spool
            self._tmp_path = spool / f".{shard_name(self.manifest.next_index())}{TEMP_SUFFIX}"
            self._sink = pa.OSFile(str(self._tmp_path), "wb")
            self._pq = pq.ParquetWriter(
                self._sink, ITEM_SCHEMA, compression=self.compression, write_statistics=["item_id", "report_id"]
            )
        table = pa.Table.from_pylist(self._buffer, schema=ITEM_SCHEMA)
        self._pq.write_table(table, row_group_size=len(self._buffer))
        self._shard_rows += len(self._buffer)
        self._row_groups += 1
        position = self._sink.tell()  # type: ignore[union-attr]
        self._ratio_raw += self._buffer_raw
        self._ratio_bytes += position - self._bytes_written
        self._bytes_written = position
        self._buffer.clear()
        self._buffer_raw = 0

    def flush(self) -> CommitInfo | None:
        """Commit the open shard now (footer, fsync, rename, manifest, `on_commit`).

        Returns:
            The `CommitInfo` of the committed shard, or None when nothing was pending.
        """
        self._write_row_group()
        if self._pq is None:
            return None
        assert self._tmp_path is not None and self._sink is not None
        self._pq.close()
        self._sink.close()
        name = self._tmp_path.name[1 : -len(TEMP_SUFFIX)]
        digest = run.file_sha256(self._tmp_path)
        size = self._tmp_path.stat().st_size
        self._footer_per_rg = max(self._footer_per_rg, (size - self._bytes_written) / self._row_groups)
        if self.location.local:
            final = self.data_dir / name
            run.commit_file(self._tmp_path, final)  # data on disk before the rename makes it visible
        else:  # a fresh name per upload: a committed object is never overwritten, an orphan never reused
            name = f"{name[: -len(SHARD_SUFFIX)]}-{secrets.token_hex(4)}{SHARD_SUFFIX}"
            final = self.location.file(self.manifest.data_dir, name)
            self.location.upload(self._tmp_path, final)
            self._tmp_path.unlink()
        ids = self._open_ids
        self.manifest.shards.append(
            ShardEntry(
                name=name,
                rows=self._shard_rows,
                bytes=size,
                sha256=digest,
                min_item_id=min(ids),
                max_item_id=max(ids),
                schema_version=SCHEMA_VERSION,
                created_at=utc_now(),
                run=self._run_index,
            )
        )
        save_manifest(self.location, self.manifest)
        info = CommitInfo(shard=name, item_ids=ids, rows=self._shard_rows, sha256=digest, bytes=size, path=final)
        self.stats.shards.append(CommitInfo(shard=name, item_ids=[], rows=info.rows, sha256=digest, bytes=size,
                                            path=final))
        self._reset_open_shard()
        if self.on_commit is not None:
            self.on_commit(info)
        return info

    def _reset_open_shard(self) -> None:
        self._pq = None
        self._sink = None
        self._tmp_path = None
        self._open_ids = []
        self._shard_rows = 0
        self._row_groups = 0
        self._bytes_written = 0

    # -- closing ------------------------------------------------------------------------------
    def abort(self) -> None:
        """Discard the open shard (temp file and buffered rows) without committing; closes the writer."""
        if self._closed:
            return
        self._seen.discard_many(self._open_ids)
        self.stats.written -= len(self._open_ids)
        self._buffer.clear()
        if self._pq is not None:
            try:
                self._pq.close()
            finally:
                if self._sink is not None and not self._sink.closed:
                    self._sink.close()
        if self._tmp_path is not None and self._tmp_path.exists():
            self._tmp_path.unlink()
        self._reset_open_shard()
        self._closed = True
        try:
            save_manifest(self.location, self.manifest)  # keeps the duplicate counter and run entry
        finally:
            self._release_lock()

    def close(self) -> Manifest:
        """Commit the open shard, save the manifest, write the dataset card, release the directory.

        Returns:
            The final manifest.
        """
        if self._closed:
            return self.manifest
        try:
            self.flush()
            save_manifest(self.location, self.manifest)
            self._closed = True
            if self.card:
                self._write_card()
        finally:
            self._closed = True
            self._release_lock()
        return self.manifest

    def _write_card(self) -> None:
        """Write the dataset card; a failure here must not undo a committed run, so it only warns."""
        import warnings

        from radprm.shards.card import write_card

        try:
            write_card(self.out_dir)
        except Exception as exc:  # the shards are committed; the card can be rebuilt by `radprm qa`
            warnings.warn(f"dataset card not written: {exc} (run `radprm qa {self.out_dir}`)", stacklevel=3)

    def _release_lock(self) -> None:
        self._seen.close()
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
