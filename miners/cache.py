"""Content-addressed cache of validated LLM responses in a local SQLite file.

The key covers everything that changes the answer: model, rendered messages, response JSON schema,
sampling parameters (seed included) and an `extra` dict for what the messages do not show (prompt
id@version+sha, rollout index). Editing one prompt file changes its rendered messages and sha, so only
the requests built from it miss. Keys carry their scheme (`k1:`) so a future change of hashing shows up
as a new prefix instead of silently splitting the cache.

Only successful (validated) responses are stored: a failure is retried on the next run. SQLite runs in
WAL mode with one connection per process; a write is one committed transaction, so a `kill -9` leaves
either the whole entry or nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from radprm.errors import InputError

KEY_SCHEME = "k1"

# Numbered migrations, applied once and recorded in `meta.schema_version` (llm's habit).
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE responses (
        key TEXT PRIMARY KEY,
        raw_text TEXT NOT NULL,
        parsed_json TEXT NOT NULL,
        finish_reason TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        model TEXT NOT NULL,
        created_at REAL NOT NULL
    )
    """,
]


class _HasToDict(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal values give equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def request_key(
    model: str,
    messages: list[dict],
    response_schema: Mapping[str, Any],
    sampling: _HasToDict | Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Hash of everything that determines a response: `k1:` + sha256 of canonical JSON.

    Args:
        model: Served model name.
        messages: Chat messages exactly as sent.
        response_schema: JSON schema of the structured output.
        sampling: `SamplingParams` (or its dict); the seed is part of it.
        extra: What the messages do not show but should split the cache, e.g.
            ``{"prompt": "chain_plan@3", "prompt_sha": "...", "rollout": 2}``.

    Returns:
        A key like ``k1:3f5a...`` (64 hex digits).
    """
    params = sampling.as_dict() if hasattr(sampling, "as_dict") else dict(sampling)
    payload = {
        "model": model,
        "messages": messages,
        "schema": response_schema,
        "sampling": params,
        "extra": dict(extra) if extra else {},
    }
    return f"{KEY_SCHEME}:" + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    """A stored, validated response."""

    key: str
    raw_text: str
    parsed_json: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    model: str
    created_at: float


@dataclass
class CacheStats:
    """Lookups of this process plus the number of stored entries."""

    hits: int = 0
    misses: int = 0
    puts: int = 0
    entries: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain dict for the job summary."""
        return {"hits": self.hits, "misses": self.misses, "puts": self.puts, "entries": self.entries}


class RequestCache:
    """SQLite-backed response cache (`get` / `put` by request key).

    Args:
        path: SQLite file; parent folders are created.

    Raises:
        InputError: The file exists but is not a radprm cache (or is from a newer radprm).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._hits = self._misses = self._puts = 0
        self.codec: Any = None  # encode(raw, parsed) on put / decode on get (radprm.phi.privacy.CacheCodec)
        try:
            # autocommit off; each put is its own transaction. check_same_thread=False because asyncio
            # jobs may hand lookups to a worker thread; the lock serialises them.
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed put survives a process kill (not a power cut), and puts
            # stay cheap.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise InputError(
                f"not a usable request cache: {exc}", path=self.path,
                hint="delete the file or point the job at another cache path",
            ) from exc

    def _migrate(self) -> None:
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            row = self._db.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > len(_MIGRATIONS):
                raise InputError(
                    f"cache schema version {version} is newer than this radprm ({len(_MIGRATIONS)})",
                    path=self.path, hint="upgrade radprm or use another cache path",
                )
            for sql in _MIGRATIONS[version:]:
                self._db.execute(sql)
            self._db.execute(
                "INSERT OR REPLACE INTO meta (k, v) VALUES ('schema_version', ?)", (str(len(_MIGRATIONS)),)
            )

    def get(self, key: str) -> CachedResponse | None:
        """The stored response for `key`, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT key, raw_text, parsed_json, finish_reason, prompt_tokens, completion_tokens, model,"
                " created_at FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                self._misses += 1
                return None
            self._hits += 1
        entry = CachedResponse(*row)
        if self.codec is not None:
            raw, parsed = self.codec.decode(entry.raw_text, entry.parsed_json)
            entry = dataclasses.replace(entry, raw_text=raw, parsed_json=parsed)
        return entry

    def put(
        self,
        key: str,
        raw_text: str,
        parsed_json: str | Mapping[str, Any],
        finish_reason: str | None,
        usage: Mapping[str, int] | None,
        model: str,
        created_at: float | None = None,
    ) -> None:
        """Store a validated response; an existing entry for `key` is kept (first answer wins).

        Args:
            key: From `request_key`.
            raw_text: The model's text, verbatim.
            parsed_json: The validated object as JSON text (or a dict).
            finish_reason: As reported by the server.
            usage: ``{"prompt_tokens": n, "completion_tokens": m}``.
            model: Served model name.
            created_at: Unix time; defaults to now.
        """
        if not key.startswith(f"{KEY_SCHEME}:"):
            raise ValueError(f"cache key {key!r} does not use scheme {KEY_SCHEME}")
        parsed = parsed_json if isinstance(parsed_json, str) else canonical_json(parsed_json)
        if self.codec is not None:
            raw_text, parsed = self.codec.encode(raw_text, parsed)
        usage = usage or {}
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, raw_text, parsed, finish_reason,
                    int(usage.get("prompt_tokens", 0) or 0), int(usage.get("completion_tokens", 0) or 0),
                    model, time.time() if created_at is None else created_at,
                ),
            )
            self._puts += cur.rowcount

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def stats(self) -> CacheStats:
        """Hits, misses and puts of this process, and the number of stored entries."""
        return CacheStats(hits=self._hits, misses=self._misses, puts=self._puts, entries=len(self))

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
