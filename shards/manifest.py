"""`manifest.json`: the list of committed shards of a directory, with their checksums and run meta.

A shard exists for readers only once it is in the manifest. The manifest is rewritten atomically
(`radprm.run.write_text_atomic`: temp file, fsync, rename, fsync of the directory) after each shard's
own atomic rename, so after a crash it either lists a shard whose file is complete or does not list it
at all. On an object store the manifest is one PUT written after the shard's upload
(`radprm.shards.location`): the same guarantee without a rename.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radprm.errors import ShardError
from radprm.schemas.shards import SCHEMA_VERSION
from radprm.shards.location import ShardLocation, locate

MANIFEST_NAME = "manifest.json"
DATA_DIR = "data"
"""Shards live in `<dir>/data/` so that `pd.read_parquet("<dir>/data")` and `pyarrow.dataset` see only
Parquet files (README.md, manifest.json and qa/ sit one level up; temp files start with a dot)."""
MANIFEST_FORMAT = "radprm-shards"
MANIFEST_VERSION = 1
SHARD_PREFIX = "shard-"
SHARD_SUFFIX = ".parquet"
TEMP_SUFFIX = ".tmp"
_SHARD_RE = re.compile(re.escape(SHARD_PREFIX) + r"(\d+)(?:-[0-9a-f]+)?" + re.escape(SHARD_SUFFIX))
"""A shard file name: `shard-00007.parquet`, or `shard-00007-<hex>.parquet` on an object store, where each
upload gets a name of its own (`radprm.shards.location`)."""


def utc_now() -> str:
    """Current time as ISO-8601 UTC with seconds precision, e.g. `2026-11-23T18:00:00Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shard_name(index: int) -> str:
    """File name of shard number `index`, e.g. `shard-00007.parquet`."""
    return f"{SHARD_PREFIX}{index:05d}{SHARD_SUFFIX}"


def shard_index(name: str) -> int | None:
    """Number of a shard file name, or None when the name is not a shard name."""
    match = _SHARD_RE.fullmatch(name)
    return int(match.group(1)) if match else None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShardEntry(_Model):
    """One committed shard as recorded in the manifest."""

    name: str
    rows: int
    bytes: int
    sha256: str
    min_item_id: str | None = None
    max_item_id: str | None = None
    schema_version: str
    created_at: str
    run: int = Field(0, description="Index into `Manifest.runs` of the writer session that wrote it.")
    recovered: bool = Field(False, description="True when adopted on resume after a crash before the manifest update.")


class RunEntry(_Model):
    """One writer session over the directory, with the run meta it was given."""

    opened_at: str
    meta: dict[str, Any] = Field(default_factory=dict)


class Manifest(_Model):
    """The whole manifest: format tag, schema version, writer sessions, shards and counters."""

    format: str = MANIFEST_FORMAT
    manifest_version: int = MANIFEST_VERSION
    schema_version: str = SCHEMA_VERSION
    data_dir: str = DATA_DIR
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    runs: list[RunEntry] = Field(default_factory=list)
    shards: list[ShardEntry] = Field(default_factory=list)
    rows: int = 0
    duplicates_skipped: int = 0

    @property
    def run_meta(self) -> dict[str, Any]:
        """Meta of the latest writer session (empty when there is none)."""
        return self.runs[-1].meta if self.runs else {}

    def shard_path(self, directory: str | Path | ShardLocation, name: str) -> Any:
        """Full path of a shard file of this manifest's directory (a `Path`, or a string inside a remote store)."""
        return locate(directory).file(self.data_dir, name)

    def next_index(self) -> int:
        """Number for the next shard: one past the highest number in the manifest."""
        indexes = [i for i in (shard_index(s.name) for s in self.shards) if i is not None]
        return max(indexes, default=-1) + 1


def manifest_path(directory: str | Path | ShardLocation) -> Any:
    """Path of the manifest of a shard directory (a string inside the store for a remote one)."""
    return locate(directory).file(MANIFEST_NAME)


def load_manifest(directory: str | Path | ShardLocation) -> Manifest:
    """Read and validate `manifest.json` of a shard directory (local or a filesystem URI).

    Raises:
        ShardError: when the manifest is missing, not JSON, or not a radprm manifest.
    """
    loc = locate(directory)
    path = loc.file(MANIFEST_NAME)
    if not loc.is_file(path):
        raise ShardError(
            "no manifest.json: not a radprm shard directory", path=loc.uri, hint="write shards with ShardWriter"
        )
    try:
        data = json.loads(loc.read_text(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShardError(f"unreadable manifest: {exc}", path=loc.display(path)) from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ShardError(f"not a radprm manifest (format must be '{MANIFEST_FORMAT}')", path=loc.display(path),
                         field="format")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ShardError(f"invalid manifest: {first['msg']}", path=loc.display(path), field=field) from exc


def save_manifest(directory: str | Path | ShardLocation, manifest: Manifest) -> None:
    """Write the manifest atomically (the commit point), refreshing `updated_at` and the total row count."""
    manifest.updated_at = utc_now()
    manifest.rows = sum(s.rows for s in manifest.shards)
    loc = locate(directory)
    loc.write_text_atomic(loc.file(MANIFEST_NAME), manifest.model_dump_json(indent=2) + "\n")
