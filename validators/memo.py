"""Bounded per-text caches of the step validator, emptied together.

The validator reads the same strings again and again: a report's sentences for every step and claim that
cites them, the same sentence in many reports ("No acute cardiopulmonary abnormality."), a step that quotes
a report sentence. Pure readings of such a string are kept in plain dicts made by `text_cache`, keyed by
the string (and the identity of the rule object they depend on, held in the entry so that its id cannot be
reused meanwhile). Each dict is bounded (emptied whole when full: cheaper than LRU bookkeeping on the hot
path, and a reading is cheap to redo) and `clear_text_caches` empties them all (benchmarks time cold
passes; tests load other rules).
"""

from __future__ import annotations

from typing import Any

_CACHES: list[dict] = []


def text_cache() -> dict[Any, Any]:
    """A new cache dict, registered so that `clear_text_caches` empties it."""
    cache: dict[Any, Any] = {}
    _CACHES.append(cache)
    return cache


def remember(cache: dict[Any, Any], key: Any, value: Any, limit: int = 100_000) -> Any:
    """Store `value` under `key` (emptying the cache first when it holds `limit` entries); returns `value`."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def clear_text_caches() -> None:
    """Empty every cache made by `text_cache`."""
    for cache in _CACHES:
        cache.clear()
