"""RequestCache and request_key: content addressing, persistence, crash safety."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from radprm.errors import InputError
from radprm.miners.cache import RequestCache, request_key
from radprm.miners.client import SamplingParams

MODEL = "smollm2"
MESSAGES = [{"role": "system", "content": "You are a radiologist."}, {"role": "user", "content": "Effusion?"}]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
SAMPLING = SamplingParams(temperature=0.7, seed=3)


def key(**over) -> str:
    args = {"model": MODEL, "messages": MESSAGES, "response_schema": SCHEMA, "sampling": SAMPLING, "extra": None}
    args.update(over)
    return request_key(**args)


def test_request_key_is_tagged_and_deterministic():
    k = key()
    assert k.startswith("k1:") and len(k) == 3 + 64
    assert key() == k
    # key order of dicts does not matter; SamplingParams and its dict give the same key
    reordered = {"required": ["answer"], "properties": {"answer": {"type": "string"}}, "type": "object"}
    assert key(response_schema=reordered) == k
    assert key(sampling=SAMPLING.as_dict()) == k


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other"},
        {"messages": [*MESSAGES[:1], {"role": "user", "content": "Effusion? "}]},
        {"response_schema": {**SCHEMA, "required": []}},
        {"sampling": SAMPLING.with_seed(4)},
        {"sampling": SamplingParams(temperature=0.8, seed=3)},
        {"sampling": SamplingParams(temperature=0.7, seed=3, max_tokens=128)},
        {"extra": {"prompt_sha": "abc"}},
        {"extra": {"rollout": 1}},
    ],
)
def test_request_key_changes_with_every_part(change):
    assert key(**change) != key()


def test_cache_put_get_roundtrip_and_stats(tmp_path):
    cache = RequestCache(tmp_path / "c" / "cache.sqlite")
    k = key()
    assert cache.get(k) is None
    cache.put(k, '{"answer": "yes"}', {"answer": "yes"}, "stop", {"prompt_tokens": 12, "completion_tokens": 5}, MODEL)
    hit = cache.get(k)
    assert hit is not None
    assert (hit.raw_text, hit.parsed_json, hit.finish_reason) == ('{"answer": "yes"}', '{"answer":"yes"}', "stop")
    assert (hit.prompt_tokens, hit.completion_tokens, hit.model) == (12, 5, MODEL)
    assert k in cache and len(cache) == 1
    assert cache.stats().as_dict() == {"hits": 1, "misses": 1, "puts": 1, "entries": 1}


def test_cache_first_answer_wins(tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    cache.put(key(), "first", "{}", "stop", None, MODEL)
    cache.put(key(), "second", "{}", "stop", None, MODEL)
    assert cache.get(key()).raw_text == "first"
    assert cache.stats().puts == 1


def test_cache_rejects_foreign_key_scheme(tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    with pytest.raises(ValueError, match="scheme k1"):
        cache.put("sha256:abc", "x", "{}", "stop", None, MODEL)


def test_cache_persists_across_reopen_in_wal_mode(tmp_path):
    path = tmp_path / "cache.sqlite"
    with RequestCache(path) as cache:
        cache.put(key(), "text", "{}", "stop", None, MODEL)
    with RequestCache(path) as cache:
        assert cache.get(key()).raw_text == "text"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_cache_not_a_database_names_file(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError) as info:
        RequestCache(path)
    assert str(path) in str(info.value) and "not a usable request cache" in str(info.value)


def test_cache_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "cache.sqlite"
    RequestCache(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET v = '99' WHERE k = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(InputError, match="newer than this radprm"):
        RequestCache(path)


def test_cache_survives_kill_9(tmp_path):
    path = tmp_path / "cache.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from radprm.miners.cache import RequestCache
        cache = RequestCache({str(path)!r})
        for i in range(200):
            cache.put("k1:%064d" % i, "raw %d" % i, "{{}}", "stop", None, "m")
            if i == 149:
                sys.stdout.write("149\\n"); sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and proc.stdout.strip() == "149"
    with RequestCache(path) as cache:
        assert len(cache) == 150  # every committed put is there, nothing half-written
        assert cache.get(f"k1:{149:064d}").raw_text == "raw 149"
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
