"""Input format names, detection from the path, and the row source for each format."""

from __future__ import annotations

from pathlib import Path

from radprm.errors import InputError
from radprm.readers.tabular import CsvSource, JsonlSource, ParquetSource, Source

FORMATS = ("iu", "csv", "jsonl", "parquet", "text")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".txt": "text",
}
COMPRESSED = (".csv.gz", ".tsv.gz", ".jsonl.gz", ".ndjson.gz")


def _suffix(path: Path) -> str:
    """The format-bearing extension: `.csv`, or `.csv.gz` for compressed CSV/JSONL."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        inner = "".join(path.suffixes[-2:]).lower()
        return inner if inner in COMPRESSED else suffix
    return suffix


def _format_list() -> str:
    return ", ".join(FORMATS)


def detect_format(path: str | Path) -> str:
    """Guess the input format from the path (and, for CSV, the header).

    `.csv/.tsv` -> csv, or iu when the header is the IU reports header; `.jsonl/.ndjson` -> jsonl;
    `.parquet` -> parquet; `.txt` -> text. CSV/TSV/JSONL may end in `.gz`. A directory takes the
    format of the files in it: `.txt` files -> text, else the one data format all its files share;
    a directory holding only folders is text when `.txt` files lie below (walked recursively).

    Args:
        path: input file or directory.

    Returns:
        One of FORMATS.

    Raises:
        InputError: the path does not exist, its extension is unknown, or a directory holds no
            report files or several formats.
    """
    path = Path(path)
    check_exists(path)
    if path.is_dir():
        return _directory_format(path)
    fmt = EXTENSIONS.get(_suffix(path).removesuffix(".gz"))
    if fmt is None:
        raise InputError(
            f"unknown input format '{_suffix(path) or '(no extension)'}'; formats: {_format_list()}",
            path=path,
            hint="pass --format, or use an extension: " + ", ".join([*EXTENSIONS, *COMPRESSED]),
        )
    if fmt == "csv":
        from radprm.readers.iu_xray import is_iu_header

        if is_iu_header(open_source(path, "csv").columns):
            return "iu"
    return fmt


def _format_of(path: Path) -> str | None:
    return EXTENSIONS.get(_suffix(path).removesuffix(".gz"))


def directory_files(path: Path, fmt: str | None = None) -> list[Path]:
    """The report files in a directory (not recursive, hidden files skipped), sorted by name.

    Args:
        path: the directory.
        fmt: keep only files of this format (csv and iu share extensions); None keeps all known ones.
    """
    wanted = "csv" if fmt == "iu" else fmt
    files = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        kind = _format_of(entry)
        if kind is not None and (wanted is None or kind == wanted):
            files.append(entry)
    return files


def _directory_format(path: Path) -> str:
    import os

    # text directories can hold very many files: look at names only, without building Paths
    kinds = {_format_of(Path(name)) for name in os.listdir(path) if not name.startswith(".")} - {None}
    if not kinds and _has_txt_below(path):
        # a tree of free-text reports (MIMIC-CXR: files/pNN/pNNNNNNNN/sNNNNNNNN.txt)
        return "text"
    if not kinds:
        raise InputError(
            "directory holds no report files", path=path,
            hint="expected .txt files, or data files: " + ", ".join([*EXTENSIONS, *COMPRESSED]),
        )
    if len(kinds) > 1:
        raise InputError(
            f"directory mixes formats ({', '.join(sorted(kinds))})", path=path,
            hint="keep one format per directory, or pass --format to pick one",
        )
    (fmt,) = kinds
    if fmt == "csv":
        from radprm.readers.iu_xray import is_iu_header

        files = directory_files(path, "csv")
        if files and is_iu_header(open_source(files[0], "csv").columns):
            return "iu"
    return fmt


def _has_txt_below(path: Path) -> bool:
    """True as soon as one `.txt` file is found in the sub-folders of `path` (hidden ones skipped)."""
    import os

    for _root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if any(name.lower().endswith(".txt") and not name.startswith(".") for name in files):
            return True
    return False


def check_exists(path: Path) -> None:
    """Raise InputError when the input path does not exist."""
    if not path.exists():
        raise InputError("file not found", path=path, hint="check the input path")


def open_source(path: str | Path, fmt: str) -> Source:
    """Open the row source for `fmt` (reads the header; the data is read lazily).

    Raises:
        InputError: unknown format name, missing file, or a file-level problem in the header.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'; formats: {_format_list()}", path=path, hint="check --format")
    check_exists(path)
    if fmt == "text":
        from radprm.readers.text import TextSource

        return TextSource(path)
    if path.is_dir():
        from radprm.readers.multi import MultiSource

        files = directory_files(path, fmt)
        if not files:
            raise InputError(f"directory holds no {fmt} files", path=path, hint="check --format")
        return MultiSource(path, [open_source(file, fmt) for file in files])
    if fmt in ("csv", "iu"):
        tsv = _suffix(path) in (".tsv", ".tsv.gz")
        return CsvSource(path, delimiter="\t" if tsv else ",")
    if fmt == "jsonl":
        return JsonlSource(path)
    return ParquetSource(path)
