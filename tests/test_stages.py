"""CXRTrek stages as data (shard schema 2): staged mining stores each step's stage, the steps view, QA and
the ChestX-Reasoner export use it, TRL is unaffected, and shards of schema 1 still read."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radprm import run as run_kernel
from radprm.errors import ShardError
from radprm.exports import export_chestx_reasoner, export_trl
from radprm.miners.job import mine
from radprm.qa.checks import run_checks
from radprm.schemas.shards import ITEM_SCHEMAS, SCHEMA_VERSION_KEY
from radprm.shards import ShardWriter, query, read_items, verify
from radprm.shards.manifest import load_manifest, manifest_path
from radprm.shards.testing import make_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"
STAGES = ["view", "findings", "diagnosis"]


@pytest.fixture(scope="module")
def staged_run(tmp_path_factory):
    """A staged mining job against the fake server (three stages per chain)."""
    from fakes.openai_server import FakeOpenAIServer

    from radprm.validators.findings import FindingsExtractor
    from radprm.validators.steps import StepValidator

    extractor = FindingsExtractor()
    run_dir = tmp_path_factory.mktemp("staged") / "run"
    with FakeOpenAIServer() as server:
        server.responder = lambda body: json.dumps({
            "steps": [{"stage": s, "text": f"The {s} step: the heart is enlarged."} for s in STAGES],
            "answer": [body["response_format"]["json_schema"]["schema"]["properties"]["answer"]["items"]["enum"][0]],
        })
        summary = mine(FIXTURE, run_dir=run_dir, base_url=server.base_url, model="smollm2", mode="staged",
                       tasks=["single", "binary"], max_tokens=200, concurrency=2, limit=4, extractor=extractor,
                       validator=StepValidator(extractor=extractor))
    return summary.shards_dir


def test_staged_items_store_a_stage_per_step(staged_run):
    items = list(read_items(staged_run))
    assert items
    for item in items:
        assert [s.stage for s in item.steps] == STAGES
        assert [s.text.split(":")[0].lower() for s in item.steps] == STAGES  # the text prefix agrees
    _, rows = query(staged_run, "SELECT step_stage, count(*) FROM steps GROUP BY 1 ORDER BY 1")
    assert rows == [(s, len(items)) for s in sorted(STAGES)]


def test_qa_reports_steps_and_flag_rate_per_stage(staged_run):
    (result,) = run_checks(staged_run, only=["steps_by_stage"])
    assert result.status in ("ok", "warn")
    rows = {r[0]: dict(zip(result.columns, r, strict=True)) for r in result.rows}
    assert set(rows) == set(STAGES)
    _, truth = query(staged_run, "SELECT step_stage, count(*), count(*) FILTER (WHERE NOT label) FROM steps GROUP BY 1")
    for stage, steps, bad in truth:
        assert rows[stage]["steps"] == steps and rows[stage]["bad"] == bad
        assert rows[stage]["flag_rate"] == round(bad / steps, 3)


def test_chestx_export_keeps_stages_and_trl_is_unaffected(staged_run, tmp_path):
    summary = export_chestx_reasoner(staged_run, tmp_path / "c.jsonl", with_labels=True)
    rows = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert rows and all(r["step_stages"] == STAGES and len(r["process"]) == 3 for r in rows)
    assert f"steps by stage: view {len(rows)}" in summary.render()
    export_trl(staged_run, tmp_path / "t.jsonl")
    trl = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert trl and all("stage" not in json.dumps(sorted(r)) for r in trl)  # no stage column added
    assert all(len(r["completions"]) == len(r["labels"]) == 3 for r in trl)


def test_reasoner_rows_have_no_stages(tmp_path):
    items = [i for i in make_items(8) if i.task != "staged"]
    with ShardWriter(tmp_path / "s", card=False) as w:
        w.write_many(items)
    export_chestx_reasoner(tmp_path / "s", tmp_path / "c.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert rows and all("step_stages" not in r for r in rows)
    assert all(s.stage is None for i in read_items(tmp_path / "s") for s in i.steps)


def to_schema_1(directory: Path) -> None:
    """Rewrite a shard directory as radprm wrote it at schema version 1 (steps without `stage`)."""
    manifest = load_manifest(directory)
    for entry in manifest.shards:
        path = manifest.shard_path(directory, entry.name)
        rows = pq.read_table(path).to_pylist()
        for row in rows:
            for step in row["steps"]:
                del step["stage"]
        pq.write_table(pa.Table.from_pylist(rows, schema=ITEM_SCHEMAS["1"]), path, compression="zstd")
        entry.schema_version, entry.bytes, entry.sha256 = "1", path.stat().st_size, run_kernel.file_sha256(path)
    manifest.schema_version = "1"
    manifest_path(directory).write_text(manifest.model_dump_json(indent=2))


def test_schema_1_shards_still_read(tmp_path):
    items = make_items(12)
    old = tmp_path / "old"
    with ShardWriter(old, max_rows=5, card=False) as w:
        w.write_many(items)
    to_schema_1(old)
    (shard, *_) = sorted((old / "data").glob("*.parquet"))
    assert pq.read_schema(shard).metadata[SCHEMA_VERSION_KEY] == b"1"
    assert "stage" not in pq.read_schema(shard).field("steps").type.value_type.names

    report = verify(old)
    assert report.ok, [str(p) for p in report.problems]
    back = list(read_items(old))
    assert [i.item_id for i in back] == [i.item_id for i in items]
    assert all(s.stage is None for i in back for s in i.steps)
    assert [len(i.steps) for i in back] == [len(i.steps) for i in items]
    _, rows = query(old, "SELECT count(*), count(step_stage) FROM steps")
    assert rows == [(sum(len(i.steps) for i in items), 0)]
    assert {r.check.name: r.status for r in run_checks(old, only=["steps_by_stage"])} == {"steps_by_stage": "ok"}
    export_trl(old, tmp_path / "t.jsonl")
    export_chestx_reasoner(old, tmp_path / "c.jsonl")
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == len(items)
    # appending rows of schema 2 to it is refused: one directory, one version
    with pytest.raises(ShardError, match="schema version 1"):
        ShardWriter(old, card=False)
