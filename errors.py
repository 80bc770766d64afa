"""Errors meant for users. The CLI prints them as one line and exits 1; real bugs keep their traceback."""

from __future__ import annotations

from pathlib import Path


class RadprmError(Exception):
    """Base class: a problem the user can fix, located by file, row and field when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.row = row
        self.field = field
        self.hint = hint

    @property
    def where(self) -> str:
        """`file row N, field 'x'` with whatever parts are known."""
        parts = []
        if self.path:
            parts.append(self.path)
        if self.row is not None:
            parts.append(f"row {self.row}")
        where = " ".join(parts)
        if self.field:
            where = f"{where}, field '{self.field}'" if where else f"field '{self.field}'"
        return where

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InputError(RadprmError):
    """An input file is missing, unreadable, of an unknown format, or lacks a required column."""


class RuleFileError(RadprmError):
    """A lexicon or rule data file is malformed (unknown key, missing field, bad value)."""


class PromptError(RadprmError):
    """A prompt template is malformed or is rendered with missing variables."""


class ModelError(RadprmError):
    """The model server cannot be reached or answers in a way radprm cannot use."""


class SchemaError(RadprmError):
    """Data does not match the expected schema (shards, chains, exports)."""


class ShardError(RadprmError):
    """A shard directory is incomplete, tampered with, or inconsistent with its manifest."""


class RunError(InputError):
    """A batch run finished but failed its exit policy: nothing usable was produced, or `strict` was set
    and records were quarantined. `summary` holds the run's summary (the CLI prints it before the error).

    A subclass of `InputError` because the cause is always in the input.
    """

    def __init__(self, message: str, *, summary: object = None, **where: object) -> None:
        super().__init__(message, **where)  # type: ignore[arg-type]
        self.summary = summary
