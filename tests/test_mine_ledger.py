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
