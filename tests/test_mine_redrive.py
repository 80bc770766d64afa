"""Re-drive: `mine --resume --retry-quarantined` asks quarantined items again with this session's options;
every quarantine row names its report; bad re-drive input changes nothing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from fakes.openai_server import schema_violation, status, truncated
from kill_support import RESOLVED, kill_9_when, ledger_count
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.miners.job import JOB_FILE, mine
from radprm.miners.ledger import Ledger
from radprm.quarantine import read_quarantine
from radprm.shards.reader import query, read_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"
# Reports whose chains the fake server cuts short unless max_tokens is raised (m4 and m6 of the fixture).
CUT = ("mildly enlarged", "Right lower lobe consolidation")


def run(server, run_dir, parts, **kw):
    extractor, validator = parts
    options = dict(tasks=["single", "binary"], questions_per_report=2, max_tokens=200, concurrency=2,
                   max_retries=0, timeout=5.0)
    options.update(kw)
    return mine(FIXTURE, run_dir=run_dir, base_url=server.base_url, model="smollm2", extractor=extractor,
                validator=validator, **options)


def cut_unless_budget(budget: int):
    """Fake-server rule: requests about the CUT reports come back truncated below `budget` tokens."""
    def rule(body):
        text = body["messages"][-1]["content"]
        if any(c in text for c in CUT) and body["max_tokens"] < budget:
            return truncated()
        return None
    return rule


def snapshot(run_dir: Path) -> dict[str, str]:
    """sha256 of every file of a run folder; SQLite databases by their logical content (opening one may
    checkpoint its WAL without changing what it holds)."""
    out = {}
    for p in sorted(run_dir.rglob("*")):
        if not p.is_file() or p.name.endswith(("-wal", "-shm")):
            continue
        if p.suffix == ".sqlite":
            db = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            data = "\n".join(db.iterdump()).encode()
            db.close()
        else:
            data = p.read_bytes()
        out[str(p.relative_to(run_dir))] = hashlib.sha256(data).hexdigest()
    return out


def test_redrive_truncated_items_with_larger_max_tokens(fake_openai_server, tmp_path, parts):
    server = fake_openai_server
    server.rule = cut_unless_budget(300)
    run_dir = tmp_path / "run"
    first = run(server, run_dir, parts)
    truncated_before = first.quarantined.get("mine/truncated", 0)
    assert truncated_before >= 4  # m4 and m6, two questions each
    cut_ids = {r.item_id for r in read_quarantine(first.quarantine_path) if r.reason_code == "truncated"}
    assert len(cut_ids) == truncated_before
    written_before = {i.item_id for i in read_items(run_dir / "shards")}
    assert not cut_ids & written_before

    again = run(server, run_dir, parts, resume=True, retry_quarantined=True, reasons="truncated", max_tokens=400)
    items = list(read_items(run_dir / "shards"))
    ids = [i.item_id for i in items]
    assert len(ids) == len(set(ids))  # written once
    assert set(ids) == written_before | cut_ids
    assert again.items_written == first.items_written + len(cut_ids) and again.items_this_session == len(cut_ids)
    redriven = [i for i in items if i.item_id in cut_ids]
    assert {json.loads(i.sampling)["max_tokens"] for i in redriven} == {400}  # the row records what was asked
    assert {json.loads(i.sampling)["max_tokens"] for i in items if i.item_id not in cut_ids} == {200}
    # the job keeps its identity: a plain --resume with the first options still works
    assert json.loads((run_dir / JOB_FILE).read_text())["identity"]["max_tokens"] == 200
    # records resolved, kept for the audit trail, not counted open
    assert "mine/truncated" not in again.quarantined
    records = [r for r in read_quarantine(again.quarantine_path) if r.reason_code == "truncated"]
    assert {r.item_id for r in records} == cut_ids
    assert all(r.resolution == "written" and r.resolved_at for r in records)
    assert again.redrive["selected"] == again.redrive["resolved"] == len(cut_ids)
    assert again.redrive["still_open"] == 0 and again.redrive["options"]["max_tokens_was"] == 200
    with Ledger(run_dir / "ledger.sqlite") as led:
        history = led.redrives()
    assert [(h["selected"], h["resolved"], h["reasons"]) for h in history] == [(len(cut_ids), len(cut_ids),
                                                                                ["truncated"])]
    # radprm sql: the quarantine table joins with items
    _, rows = query(run_dir / "shards", "SELECT count(*) FROM quarantine q JOIN items i USING (item_id)"
                                        " WHERE q.resolution = 'written'")
    assert rows == [(len(cut_ids),)]

    # a second re-drive finds nothing open: no request, no file changes
    n_requests, before = server.chat_count, snapshot(run_dir)
    second = run(server, run_dir, parts, resume=True, retry_quarantined=True, reasons="truncated", max_tokens=400)
    assert server.chat_count == n_requests
    assert second.redrive["selected"] == 0 and second.items_this_session == 0
    assert "nothing to re-ask" in second.render()
    after = snapshot(run_dir)
    assert {k: v for k, v in after.items() if k != "summary.json"} == {
        k: v for k, v in before.items() if k != "summary.json"}

    # radprm status: open quarantine by reason and the re-drive history, read-only
    before = snapshot(run_dir)
    result = CliRunner().invoke(app, ["status", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert f"{len(cut_ids)} resolved (written {len(cut_ids)})" in result.output
    assert "re-drive #1" in result.output and "max_tokens 200 -> 400" in result.output
    assert f"{len(cut_ids)} selected, {len(cut_ids)} resolved, 0 still open" in result.output
    assert "read/empty_text" in result.output and "mine/truncated" not in result.output
    data = json.loads(CliRunner().invoke(app, ["status", str(run_dir), "--json"]).output)
    assert data["items"]["written"] == again.items_written and data["redrivable"] == {}
    assert data["open_quarantine"] == again.quarantined
    assert snapshot(run_dir) == before
    missing = CliRunner().invoke(app, ["status", str(tmp_path)])
    assert missing.exit_code == 1 and "no job.json" in missing.output


def test_redrive_failing_again_keeps_one_open_record_per_item(fake_openai_server, tmp_path, parts):
    server = fake_openai_server
    server.rule = cut_unless_budget(10_000)  # still cut at 400
    run_dir = tmp_path / "run"
    first = run(server, run_dir, parts)
    n_cut = first.quarantined["mine/truncated"]

    def rule(body):  # now the same items fail differently
        text = body["messages"][-1]["content"]
        return schema_violation() if any(c in text for c in CUT) else None

    server.rule = rule
    again = run(server, run_dir, parts, resume=True, retry_quarantined=True, max_tokens=400)
    assert again.redrive["selected"] == n_cut and again.redrive["resolved"] == 0
    assert again.quarantined.get("mine/schema_violation") == n_cut and "mine/truncated" not in again.quarantined
    records = read_quarantine(again.quarantine_path)
    old = [r for r in records if r.reason_code == "truncated"]
    assert old and all(r.resolution == "superseded" for r in old)
    open_items = [r.item_id for r in records if r.stage == "mine" and r.resolved_at is None]
    assert len(open_items) == len(set(open_items)) == n_cut


def test_every_quarantine_row_names_its_report(fake_openai_server, tmp_path, parts):
    """A run with injected faults of several kinds: reader, questions and mine records all carry report_id."""
    server = fake_openai_server
    count = {"n": 0}

    def rule(body):
        count["n"] += 1
        text = body["messages"][-1]["content"]
        if "mildly enlarged" in text:
            return truncated()
        if "Right lower lobe consolidation" in text:
            return schema_violation()
        if count["n"] % 5 == 0:
            return status(500)
        return None

    server.rule = rule
    summary = run(server, tmp_path / "run", parts, tasks=["single", "binary", "temporal"])
    records = read_quarantine(summary.quarantine_path)
    stages = {r.stage for r in records}
    assert {"read", "mine"} <= stages
    reasons = {r.reason_code for r in records}
    assert {"empty_text", "truncated", "schema_violation", "http_5xx"} <= reasons
    assert all(r.report_id for r in records), [r for r in records if not r.report_id]
    for r in records:
        if r.stage == "mine":
            assert r.item_id == r.chain_id == r.record_id
    by_item = {i.item_id: i.report_id for i in read_items(summary.shards_dir)}
    assert by_item  # some items made it


def test_redrive_bad_input_changes_nothing(fake_openai_server, tmp_path, parts):
    server = fake_openai_server
    server.rule = cut_unless_budget(300)
    run_dir = tmp_path / "run"
    run(server, run_dir, parts, limit=4)
    before, n_requests = snapshot(run_dir), server.chat_count

    with pytest.raises(InputError, match="unknown reason code 'truncatd'") as exc:
        run(server, run_dir, parts, limit=4, resume=True, retry_quarantined=True, reasons="truncated,truncatd")
    assert exc.value.field == "reasons" and "\n" not in str(exc.value)
    with pytest.raises(InputError, match="needs --retry-quarantined"):
        run(server, run_dir, parts, limit=4, resume=True, reasons="timeout")
    with pytest.raises(InputError, match="add --resume"):
        run(server, run_dir, parts, limit=4, retry_quarantined=True)
    assert snapshot(run_dir) == before and server.chat_count == n_requests

    # a run folder whose shards have another schema version: refused before anything is opened
    manifest = run_dir / "shards" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["schema_version"] = "1"
    manifest.write_text(json.dumps(data))
    before = snapshot(run_dir)
    with pytest.raises(InputError, match="schema version 1; this radprm writes 2") as exc:
        run(server, run_dir, parts, limit=4, resume=True, retry_quarantined=True, max_tokens=400)
    assert exc.value.field == "schema_version" and "\n" not in str(exc.value)
    assert snapshot(run_dir) == before and server.chat_count == n_requests


# --- kill -9 during a re-drive ----------------------------------------------------------------------
def cli_args(server, run_dir: Path, *more: str) -> list[str]:
    from test_mine_kill_resume import RADPRM, SEED

    return [str(RADPRM), "mine", str(FIXTURE), "--run-dir", str(run_dir), "--base-url", server.base_url,
            "--model", "smollm2", "--tasks", "single,binary", "--questions-per-report", "2", "--rollouts", "2",
            "--seed", str(SEED), "--concurrency", "2", "--shard-rows", "3", "--max-tokens", "200",
            "--max-retries", "0", *more]


def resolved_in_ledger(run_dir: Path) -> int:
    return ledger_count(run_dir, RESOLVED)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_redrive_kill_9_then_redrive_again_writes_every_item_once(fake_openai_server, tmp_path):
    import subprocess

    from test_mine_kill_resume import body_key

    from radprm.miners.cache import RequestCache
    from radprm.prompts.registry import PromptRegistry

    server = fake_openai_server
    cut = ("enlarged", "consolidation")  # m1, m4 (heart enlarged), m5, m6 (consolidation)

    def rule(body):
        text = body["messages"][-1]["content"]
        return truncated() if any(c in text for c in cut) and body["max_tokens"] < 300 else None

    server.rule = rule
    run_dir = tmp_path / "run"
    first = subprocess.run(cli_args(server, run_dir), capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr[-3000:]
    cut_ids = {r.item_id for r in read_quarantine(run_dir / "quarantine" / "quarantine.jsonl")
               if r.reason_code == "truncated"}
    written_first = {i.item_id for i in read_items(run_dir / "shards")}
    assert len(cut_ids) >= 8 and written_first and not cut_ids & written_first

    server.latency = 0.25  # slow enough to kill mid re-drive
    n_before = len(server.requests)
    redrive = [*cli_args(server, run_dir, "--resume", "--retry-quarantined", "--reasons", "truncated"),
               "--max-tokens", "400"]
    proc = subprocess.Popen(redrive, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kill_9_when(proc, lambda: resolved_in_ledger(run_dir), 2, what="the re-drive never committed a shard")
    resolved_at_kill = resolved_in_ledger(run_dir)
    assert 2 <= resolved_at_kill < len(cut_ids), "killed too late to test anything"
    labels = {t.id: t.label for t in PromptRegistry().latest()}
    during = [b for b in server.requests[n_before:]
              if (b.get("response_format") or {}).get("json_schema", {}).get("name") in labels]
    with RequestCache(run_dir / "cache.sqlite") as cache:
        answered = {k for k in (body_key(b, labels) for b in during) if k in cache}
    assert answered

    server.latency = 0.0
    n_killed = len(server.requests)
    again = subprocess.run(redrive, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    resent = [b for b in server.requests[n_killed:]
              if (b.get("response_format") or {}).get("json_schema", {}).get("name") in labels
              and body_key(b, labels) in answered]
    assert resent == [], f"{len(resent)} requests answered before the kill were sent again"

    ids = [i.item_id for i in read_items(run_dir / "shards")]
    assert len(ids) == len(set(ids))  # exactly once
    assert set(ids) == written_first | cut_ids
    records = [r for r in read_quarantine(run_dir / "quarantine" / "quarantine.jsonl") if r.reason_code == "truncated"]
    assert len(records) == len(cut_ids) and all(r.resolution == "written" for r in records)
    with Ledger(run_dir / "ledger.sqlite") as led:
        history = led.redrives()
        assert led.quarantine_counts().get("mine/truncated") is None
    assert len(history) == 2
    assert history[0]["finished_at"] is None  # the killed session
    assert history[1]["selected"] == len(cut_ids) - resolved_at_kill
    assert history[1]["resolved"] == history[1]["selected"]
