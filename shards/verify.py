"""Check a shard directory against its manifest: files, sizes, checksums, row counts, schema, duplicates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import ShardError
from radprm.schemas.shards import ITEM_SCHEMAS, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from radprm.shards.ids import IdTally
from radprm.shards.location import ShardLocation, locate
from radprm.shards.manifest import (
    MANIFEST_NAME,
    SHARD_SUFFIX,
    TEMP_SUFFIX,
    load_manifest,
)

ID_BATCH = 10_000
"""Item ids read (and held in Python) at a time by the duplicate check."""


@dataclass(frozen=True)
class Problem:
    """One inconsistency found by `verify`.

    Attributes:
        kind: short code: missing, extra, size, sha256, rows, schema_version, schema, unreadable,
            duplicate_item_id, item_id_range, manifest, stale_temp.
        path: the file concerned (or the directory).
        message: what is wrong, for humans.
    """

    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"


@dataclass
class VerifyReport:
    """Result of `verify`: problems (empty when the directory is consistent) and what was checked."""

    directory: Path | str
    shards: int = 0
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def render(self) -> str:
        """One line: OK or the number of problems, with shard and row counts."""
        state = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{self.directory}: {state} ({self.shards} shards, {self.rows} rows checked)"


def verify(
    directory: str | Path | ShardLocation, *, check_sha: bool = True, check_duplicates: bool = True,
    max_listed: int = 50,
) -> VerifyReport:
    """Check every shard of a directory against the manifest and for duplicate item ids.

    Args:
        directory: shard directory: a local folder or a pyarrow filesystem URI (`s3://bucket/prefix`).
        check_sha: recompute sha256 of each shard (reads every byte).
        check_duplicates: read all item ids and report any id stored more than once.
        max_listed: duplicated ids listed one per line at most; the rest are counted in one line.

    Returns:
        A `VerifyReport`; `report.ok` is False when anything is wrong (problems listed one per line).
    """
    loc = locate(directory)
    report = VerifyReport(directory=loc.root if loc.local else loc.uri)
    where = loc.display  # file path as shown in problems
    try:
        manifest = load_manifest(loc)
    except ShardError as exc:
        report.problems.append(Problem("manifest", where(loc.file(MANIFEST_NAME)), exc.message))
        return report
    if manifest.schema_version not in READABLE_SCHEMA_VERSIONS:
        report.problems.append(
            Problem(
                "schema_version",
                where(loc.file(MANIFEST_NAME)),
                f"manifest schema version {manifest.schema_version}, this radprm reads "
                f"{', '.join(READABLE_SCHEMA_VERSIONS)} (writes {SCHEMA_VERSION})",
            )
        )
    listed = {s.name for s in manifest.shards}
    for name in loc.listdir(manifest.data_dir):
        path = where(loc.file(manifest.data_dir, name))
        if name.endswith(TEMP_SUFFIX) and name.startswith("."):
            report.problems.append(
                Problem("stale_temp", path, "temp file of an interrupted write (removed by the next writer)")
            )
        elif not name.startswith((".", "_")) and name not in listed:
            # Readers that glob the data folder (pandas, pyarrow.dataset) would pick any such file up.
            report.problems.append(Problem("extra", path, "file in the data folder not listed in the manifest"
                                           + ("" if loc.local else " (an upload never committed; the next writer "
                                              "deletes it)")))
    for name in loc.listdir():
        if name.endswith(SHARD_SUFFIX):
            report.problems.append(Problem("extra", where(loc.file(name)), "Parquet file outside the data folder"))
    # each shard is compared with the pinned schema of the version the manifest declares (v1 shards stay valid)
    pinned = ITEM_SCHEMAS.get(manifest.schema_version)
    expected_schema = pinned.remove_metadata() if pinned is not None else None
    with IdTally() as tally:  # every id on disk, not in a dict: flat memory at 1M items
        for entry in manifest.shards:
            _check_shard(loc, manifest, entry, report, expected_schema, check_sha,
                         tally if check_duplicates else None)
        for item_id, extra, first in tally.repeated(max_listed):
            report.problems.append(Problem("duplicate_item_id", str(report.directory),
                                           f"item_id {item_id} stored {extra + 1} times (first in {first})"))
        more = tally.n_repeated() - max_listed
    if more > 0:
        report.problems.append(
            Problem("duplicate_item_id", str(report.directory), f"... and {more} more duplicated ids")
        )
    if manifest.rows != sum(s.rows for s in manifest.shards):
        report.problems.append(
            Problem("rows", where(loc.file(MANIFEST_NAME)), "total row count differs from the sum over shards")
        )
    return report


def _check_shard(loc: ShardLocation, manifest: Any, entry: Any, report: VerifyReport, expected_schema: Any,
                 check_sha: bool, tally: IdTally | None) -> None:
    """Check one listed shard: presence, size, sha256, rows, schema; add its ids to `tally` (when given)."""
    file = manifest.shard_path(loc, entry.name)
    path = loc.display(file)
    report.shards += 1
    if not loc.is_file(file):
        report.problems.append(Problem("missing", path, "listed in the manifest but absent"))
        return
    size = loc.size(file)
    if size != entry.bytes:
        report.problems.append(Problem("size", path, f"{size} bytes, manifest says {entry.bytes}"))
    if check_sha:
        digest = loc.sha256(file)
        if digest != entry.sha256:
            report.problems.append(
                Problem("sha256", path, f"sha256 {digest[:12]}..., manifest says {entry.sha256[:12]}...")
            )
    try:
        parquet = loc.parquet_file(file)
    except Exception as exc:  # pyarrow raises several types for a broken footer
        report.problems.append(Problem("unreadable", path, f"not readable as Parquet: {exc}"))
        return
    rows = parquet.metadata.num_rows
    report.rows += rows
    if rows != entry.rows:
        report.problems.append(Problem("rows", path, f"{rows} rows, manifest says {entry.rows}"))
    schema = parquet.schema_arrow
    version = (schema.metadata or {}).get(SCHEMA_VERSION_KEY, b"").decode()
    if version != entry.schema_version or version != manifest.schema_version:
        report.problems.append(
            Problem(
                "schema_version",
                path,
                f"file says '{version}', manifest says '{entry.schema_version}'",
            )
        )
    if expected_schema is None or not schema.remove_metadata().equals(expected_schema):
        report.problems.append(Problem("schema", path, "columns or types differ from the pinned shard schema"))
        return
    if tally is None:
        return
    lo = hi = None
    try:
        for batch in parquet.iter_batches(batch_size=ID_BATCH, columns=["item_id"]):
            ids = batch.column(0).to_pylist()  # one batch at a time: bounded whatever the shard size
            if ids:
                lo, hi = min(ids) if lo is None else min(lo, min(ids)), max(ids) if hi is None else max(hi, max(ids))
            tally.add(ids, entry.name)
    except Exception as exc:
        report.problems.append(Problem("unreadable", path, f"cannot read item_id: {exc}"))
        return
    if lo is not None and (lo != entry.min_item_id or hi != entry.max_item_id):
        report.problems.append(Problem("item_id_range", path, "item_id range differs from the manifest"))
