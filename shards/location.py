"""Where a shard set lives: a local folder, or a prefix on any pyarrow filesystem (`s3://`, `gs://`, ...).

`locate("runs/x/shards")` and `locate("s3://bucket/prefix?endpoint_override=...")` both give a
`ShardLocation`; the writer, readers and `verify` go through it, so only this module knows how a file is
listed, read, sized or replaced on either kind of store. Local paths keep `Path` objects and the POSIX
commit (temp file, fsync, rename); remote paths are strings inside the filesystem (`bucket/prefix/...`).

Object stores have no rename, so the remote commit protocol is (docs/scale.md, "Remote shards"):
a shard is built in a local spool file, uploaded under a name no other session uses
(`shard-00007-<random>.parquet`; an object appears whole or not at all), and the manifest is
written last with one PUT, which replaces the object atomically. The manifest is the commit point:
readers trust only the files it lists, and the next writer deletes data files it does not list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radprm import run
from radprm.errors import InputError, ShardError

REMOTE_HINT = "check the URI (s3://bucket/prefix, gs://bucket/prefix) and the store's credentials"
_CHUNK = 1 << 20


def looks_remote(path: str | Path) -> bool:
    """True for `scheme://...`, also as a `Path` leaves it (`s3:/bucket/x`): a place that is not a local path."""
    import re

    text = str(path)
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", text)) and not text.startswith("file:/")


def require_local_shards(directory: str | Path) -> None:
    """Refuse a remote shard set where a command needs a local folder (review: `reviews/` beside the shards,
    written with a file lock and renames; rehydrate: writes a local copy next to a local set).

    Raises:
        InputError: one line naming the URI and how to get a local copy.
    """
    if looks_remote(directory):
        raise InputError("this command needs a local shard directory (it uses files beside the shards)",
                         path=as_typed(directory),
                         hint="copy the set down first, e.g. `aws s3 sync` / `gcloud storage rsync`")


def as_typed(path: str | Path) -> str:
    """A URI as the user typed it, also when `Path` folded `s3://` into `s3:/` (for messages)."""
    text = str(path)
    return text if "://" in text or not looks_remote(text) else text.replace(":/", "://", 1)


def is_uri(directory: str | Path) -> bool:
    """True when `directory` is a filesystem URI (`scheme://...`) rather than a local path."""
    return isinstance(directory, str) and "://" in directory and not directory.startswith("file://")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class ShardLocation:
    """A shard set's root: `fs` None for a local folder (`root` a `Path`), else a pyarrow filesystem.

    Attributes:
        uri: the location as the user gave it (used in messages).
        root: the folder, as a `Path` (local) or a path inside `fs` (`bucket/prefix`).
        fs: the pyarrow filesystem of a remote location; None for a local one.
    """

    uri: str
    root: Any
    fs: Any = None

    @property
    def local(self) -> bool:
        """True for a local folder."""
        return self.fs is None

    def file(self, *parts: str) -> Any:
        """A file under the root: a `Path` (local) or a filesystem path string (remote)."""
        if self.local:
            return Path(self.root, *parts)
        return "/".join([self.root.rstrip("/"), *parts])

    def display(self, path: Any) -> str:
        """A file path for messages: local paths as they are, remote ones as a URI with the scheme."""
        if self.local:
            return str(path)
        scheme = self.uri.split("://", 1)[0]
        return f"{scheme}://{path}"

    @contextmanager
    def _remote(self, what: str, path: Any) -> Iterator[None]:
        """Turn a store failure (bad URI, missing credentials, network) into one ShardError line."""
        try:
            yield
        except ShardError:
            raise
        except (OSError, ValueError) as exc:  # pyarrow raises OSError subclasses and ArrowInvalid (ValueError)
            raise ShardError(f"{what} failed: {_first_line(exc)}", path=self.display(path), hint=REMOTE_HINT) from exc

    def is_file(self, path: Any) -> bool:
        """True when `path` exists and is a file."""
        if self.local:
            return Path(path).is_file()
        import pyarrow.fs as pafs

        with self._remote("stat", path):
            return self.fs.get_file_info(path).type == pafs.FileType.File

    def size(self, path: Any) -> int:
        """File size in bytes."""
        if self.local:
            return Path(path).stat().st_size
        with self._remote("stat", path):
            return int(self.fs.get_file_info(path).size)

    def listdir(self, *parts: str) -> list[str]:
        """Names of the files directly in a folder under the root, sorted (empty when it does not exist)."""
        folder = self.file(*parts)
        if self.local:
            return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).is_dir() else []
        import pyarrow.fs as pafs

        with self._remote("list", folder):
            infos = self.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.File)

    def makedirs(self, *parts: str) -> None:
        """Create a folder under the root (and the root); a no-op on stores without folders."""
        folder = self.file(*parts)
        if self.local:
            Path(folder).mkdir(parents=True, exist_ok=True)
            return
        with self._remote("create folder", folder):
            self.fs.create_dir(folder, recursive=True)

    def read_text(self, path: Any) -> str:
        """A whole text file (UTF-8)."""
        if self.local:
            return Path(path).read_text(encoding="utf-8")
        with self._remote("read", path), self.fs.open_input_stream(path) as fh:
            return fh.read().decode("utf-8")

    def write_text_atomic(self, path: Any, text: str) -> None:
        """Replace a text file so that readers see the old or the new content, never a mix.

        Local: temp file, fsync, rename. Remote: one PUT of the whole object, which S3 and GCS make
        visible atomically (the manifest's commit point).
        """
        if self.local:
            run.write_text_atomic(Path(path), text)
            return
        with self._remote("write", path), self.fs.open_output_stream(path) as fh:
            fh.write(text.encode("utf-8"))

    def upload(self, local_path: Path, path: Any) -> None:
        """Copy a finished local file to `path` on the store (a new name: nothing is overwritten)."""
        with self._remote("upload", path), self.fs.open_output_stream(path) as out, open(local_path, "rb") as src:
            while chunk := src.read(_CHUNK):
                out.write(chunk)

    def delete(self, path: Any) -> None:
        """Delete a file."""
        if self.local:
            Path(path).unlink()
            return
        with self._remote("delete", path):
            self.fs.delete_file(path)

    def sha256(self, path: Any) -> str:
        """Hex sha256 of a file's bytes."""
        if self.local:
            return run.file_sha256(Path(path))
        digest = hashlib.sha256()
        with self._remote("read", path), self.fs.open_input_stream(path) as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def parquet_file(self, path: Any):
        """A `pyarrow.parquet.ParquetFile` over a shard."""
        import pyarrow.parquet as pq

        if self.local:
            return pq.ParquetFile(path)
        with self._remote("open", path):
            return pq.ParquetFile(self.fs.open_input_file(path))


def shard_set(directory: str | Path) -> str | Path:
    """A shard-set argument kept as given for a URI (a `Path` would fold `s3://` into `s3:/`), else a `Path`."""
    return directory if is_uri(directory) else Path(directory)


def _from_uri(uri: str) -> tuple[Any, str]:
    """`pyarrow.fs.FileSystem.from_uri`, plus `anonymous=true` for `gs://` (pyarrow's GCS URIs lack it; a
    public bucket or an emulator needs no Google credentials)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    import pyarrow.fs as pafs

    parts = urlsplit(uri)
    query = parse_qsl(parts.query)
    anonymous = [v for k, v in query if k == "anonymous"]
    if not anonymous or parts.scheme not in ("gs", "gcs"):
        return pafs.FileSystem.from_uri(uri)
    fs, root = pafs.FileSystem.from_uri(urlunsplit(parts._replace(query=urlencode(
        [(k, v) for k, v in query if k != "anonymous"]))))
    _, (options,) = fs.__reduce__()  # the options pyarrow parsed from the URI, to rebuild it anonymous
    return pafs.GcsFileSystem(**{**options, "anonymous": anonymous[-1].lower() in ("1", "true", "yes")}), root


def locate(directory: str | Path | ShardLocation) -> ShardLocation:
    """The `ShardLocation` of a local folder or a pyarrow filesystem URI (`s3://bucket/prefix`, `gs://...`).

    Options ride in the query string as pyarrow reads them (`endpoint_override`, `scheme`, `region`, ...);
    `gs://` also takes `anonymous=true` (no credentials: a public bucket or an emulator).

    Raises:
        ShardError: the URI names no filesystem pyarrow knows, or cannot be opened (one line naming it).
    """
    if isinstance(directory, ShardLocation):
        return directory
    if not is_uri(directory):
        text = str(directory)
        local = Path(text[len("file://"):] if text.startswith("file://") else text)
        return ShardLocation(uri=str(local), root=local)
    try:
        fs, root = _from_uri(directory)
    except (OSError, ValueError) as exc:
        raise ShardError(f"not a usable shard location: {_first_line(exc)}", path=directory,
                         hint=REMOTE_HINT) from exc
    if not root.strip("/") or "/" not in root.strip("/"):
        raise ShardError("a remote shard set needs a prefix inside the bucket", path=directory,
                         hint="e.g. s3://bucket/runs/x/shards")
    return ShardLocation(uri=directory, root=root.rstrip("/"), fs=fs)
