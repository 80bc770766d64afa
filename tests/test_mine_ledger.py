"""The job ledger: states, planning, quarantine exactly once, persistence across connections."""

from __future__ import annotations

import sqlite3

import pytest

from radprm.errors import InputError
from radprm.miners.ledger import ANSWERED, PENDING, QUARANTINED, WRITTEN, Ledger


def test_ledger_states_and_counts(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as led:
        led.plan_report("r1", [("a", "q1", 0), ("b", "q1", 1), ("c", "q2", 0)])
        assert led.counts() == {PENDING: 3, ANSWERED: 0, WRITTEN: 0, QUARANTINED: 0}
        led.mark_answered("a")
        assert led.status("a") == ANSWERED
        assert led.mark_written(["a", "b"], "shard-00000.parquet") == 2
        assert led.add_quarantine("k1", "mine", "truncated", "{}", item_id="c")
        assert led.counts() == {PENDING: 0, ANSWERED: 0, WRITTEN: 2, QUARANTINED: 1}
        assert led.written_ids() == {"a", "b"}
        assert led.done_reports() == {"r1"}
        assert led.quarantine_counts() == {"mine/truncated": 1}


def test_final_states_are_not_downgraded(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        led.plan_report("r1", [("a", "q", 0), ("b", "q", 1)])
        led.mark_written(["a"], "s0")
        led.mark_answered("a")
        assert led.status("a") == WRITTEN
        assert led.add_quarantine("k", "mine", "x", "{}", item_id="b")
        led.plan_report("r1", [("a", "q", 0), ("b", "q", 1)])  # planning again on resume keeps states
        assert led.statuses(["a", "b", "zz"]) == {"a": WRITTEN, "b": QUARANTINED}


def test_quarantine_key_recorded_once(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        assert led.add_quarantine("k", "read", "empty_text", '{"a": 1}')
        assert not led.add_quarantine("k", "read", "empty_text", '{"a": 2}')
        assert led.quarantine_records() == [("k", '{"a": 1}')]


def test_report_done_only_when_all_items_final(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        led.plan_report("r1", [("a", "q", 0), ("b", "q", 1)])
        led.plan_report("r2", [])
        assert led.done_reports() == {"r2"}
        led.mark_written(["a"], "s0")
        assert led.done_reports() == {"r2"}
        led.add_quarantine("k", "mine", "timeout", "{}", item_id="b")
        assert led.done_reports() == {"r1", "r2"}
        assert "r1" in led.done_reports() and "nope" not in led.done_reports() and len(led.done_reports()) == 2


def test_adopt_committed_reads_only_shards_the_ledger_does_not_name(tmp_path):
    from radprm.shards import ShardWriter
    from radprm.shards.testing import make_items

    items = make_items(9)
    with Ledger(tmp_path / "l.sqlite") as led:
        led.plan_report("r", [(i.item_id, "q", 0) for i in items])
        with ShardWriter(tmp_path / "shards", max_rows=3, card=False) as w:
            w.write_many(items)
        names = [s.name for s in w.manifest.shards]
        led.mark_written([i.item_id for i in items[:3]], names[0])  # only the first commit reached the ledger
        writer = ShardWriter(tmp_path / "shards", card=False)
        read = []
        batches = writer.shard_id_batches
        writer.shard_id_batches = lambda name, **kw: (read.append(name), batches(name, **kw))[1]
        led.adopt_committed(writer)
        writer.close()
        assert read == names[1:]
        assert led.counts()[WRITTEN] == 9 and led.written_shards() == set(names)
        assert led.statuses([items[5].item_id]) == {items[5].item_id: WRITTEN}


def test_ledger_persists_across_connections(tmp_path):
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        led.plan_report("r1", [("a", "q", 0)])
        led.mark_written(["a"], "shard-00003.parquet")
    with Ledger(path) as again:
        assert again.status("a") == WRITTEN
    row = sqlite3.connect(path).execute("SELECT shard FROM items WHERE item_id = 'a'").fetchone()
    assert row == ("shard-00003.parquet",)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_not_a_ledger_is_a_clear_error(tmp_path):
    bad = tmp_path / "ledger.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a usable job ledger") as err:
        Ledger(bad)
    assert str(bad) in str(err.value)
