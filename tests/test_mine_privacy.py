"""Privacy options of a mining job: --phi flag|mask|block, --store-report-text no + rehydrate, licence, credentialed.

The model here is the fake OpenAI-compatible server with an *echoing* responder: it quotes the first
report sentence back in a step and invents a phone number, as small models do. That is the failure a
PHI guard exists for, and it makes "no report sentence in any run file" a real test: the output the
job stores would otherwise hold the report. The real-vLLM run is `test_mine_phi_mask_against_real_vllm`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fakes.openai_server import default_content
from phi_planted import write_planted_csv

from radprm.errors import InputError
from radprm.miners.config import MineConfig
from radprm.miners.job import mine
from radprm.phi.rehydrate import rehydrate
from radprm.quarantine import read_quarantine
from radprm.readers import read_reports
from radprm.shards.reader import connect, read_items

INVENTED_PHONE = "317-555-0142"
CLEAN_REPORT = ("FINDINGS: There is a left lower lobe opacity consistent with pneumonia. The heart size is normal. "
                "IMPRESSION: Left lower lobe pneumonia.")


def write_reports(path: Path, n: int):
    """`n` made-up reports with planted identifiers plus one clean report."""
    planted = write_planted_csv(path, n=n)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f'clean-001,"{CLEAN_REPORT}"\n')
    return path, planted


@pytest.fixture
def reports_csv(tmp_path):
    """Six made-up reports whose names follow a label or title (the `patterns` engine's scope) + one clean."""
    return write_reports(tmp_path / "reports.csv", 6)


def _report_of(body: dict) -> str:
    text = body["messages"][-1]["content"]
    # report-style prompts say "Report:", image-style ones (the default style) "Hidden reference reading ...:"
    for marker in ("Report:\n", "Hidden reference reading (do not cite it):\n"):
        if marker in text:
            return text.split(marker, 1)[1].split("\n\nQuestion:", 1)[0]
    return text


def echoing_responder(body: dict) -> str:
    """Valid JSON for the schema whose first step quotes the report's first long sentence and whose
    second step invents a phone number."""
    content = json.loads(default_content(body))
    sentences = [s.strip() for s in re.split(r"(?<=[.])\s+", _report_of(body)) if len(s.strip()) > 25]
    quote = sentences[0] if sentences else "The lungs are clear."
    invented = f"Results were called to {INVENTED_PHONE}."
    if "plan" in content:
        content["plan"] = [quote, "Check the heart."]
    if "steps" in content:
        steps = content["steps"]
        if steps and isinstance(steps[0], dict):
            content["steps"] = [{**steps[0], "text": quote}, {**steps[0], "text": invented}]
        else:
            content["steps"] = [quote, invented]
    return json.dumps(content)


def run(server, run_dir, parts, reports, **kw):
    extractor, validator = parts
    options = dict(tasks=["single", "binary"], questions_per_report=1, max_tokens=200, concurrency=4,
                   max_retries=1, timeout=5.0)
    options.update(kw)
    return mine(reports, run_dir=run_dir, base_url=server.base_url, model="smollm2", extractor=extractor,
                validator=validator, **options)


def run_folder_text(run_dir: Path) -> dict[str, str]:
    """Every file under the run folder as text: Parquet decoded row by row, everything else as bytes."""
    out = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            out[str(path)] = json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)
        else:
            out[str(path)] = path.read_bytes().decode("utf-8", errors="ignore")
    return out


def review_and_qa(shards: Path, run_dir: Path) -> None:
    from radprm.qa.report import qa as run_qa
    from radprm.review.queue import build_queue

    build_queue(shards, run_dir / "review", sample_good=0.9)
    run_qa(shards, expectations=False)


# --- mask --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine, n", [("patterns", 6), pytest.param("ner", 7, marks=pytest.mark.slow)])
def test_mine_phi_mask_leaves_no_planted_identifier_in_any_run_file(fake_openai_server, tmp_path, parts, engine, n):
    # n=7 adds a bare name opening a sentence, which only the ner engine finds
    path, planted = write_reports(tmp_path / "reports.csv", n)
    fake_openai_server.responder = echoing_responder
    run_dir = tmp_path / "run"
    summary = run(fake_openai_server, run_dir, parts, path, phi="mask", phi_engine=engine)
    items = list(read_items(summary.shards_dir))
    assert {i.report_id for i in items} >= {"clean-001", "phi-000", "phi-001"}
    review_and_qa(summary.shards_dir, run_dir)
    sent = json.dumps(fake_openai_server.requests)
    files = run_folder_text(run_dir)
    assert any(p.endswith(".html") for p in files) and any(p.endswith(".parquet") for p in files)
    assert any(p.endswith("cache.sqlite") for p in files) and any(p.endswith("ledger.sqlite") for p in files)
    for _rid, _text, values in planted:
        for entity, value in values:
            assert value not in sent, f"{entity} {value!r} was sent to the model"
            leaks = [p for p, text in files.items() if value in text]
            assert not leaks, f"{entity} {value!r} found in {leaks}"
    # the model's invented phone was masked too, and the masked texts say what was there
    assert INVENTED_PHONE not in json.dumps([i.model_dump() for i in items])
    assert "<PERSON>" in items[0].report_text or any("<PERSON>" in i.report_text for i in items)
    hits = [json.loads(i.phi) for i in items]
    assert any(h["where"] == "report" for row in hits for h in row)
    assert any(h["where"].startswith("step:") and h["entity"] == "PHONE" for row in hits for h in row)


# --- block -------------------------------------------------------------------------------------------
def test_mine_phi_block_quarantines_reports_with_phi(fake_openai_server, tmp_path, parts, reports_csv):
    path, planted = reports_csv
    summary = run(fake_openai_server, tmp_path / "run", parts, path, phi="block")
    items = list(read_items(summary.shards_dir))
    assert {i.report_id for i in items} == {"clean-001"}
    records = [r for r in read_quarantine(summary.quarantine_path) if r.reason_code == "phi_detected"]
    assert {r.record_id for r in records} == {rid for rid, _, _ in planted}
    for r in records:
        assert r.stage == "phi" and r.payload is None and r.source_row is not None
        assert all(v not in r.detail for _, _, vals in planted for _, v in vals)  # entity types, not text
    assert not any(rid in json.dumps(fake_openai_server.requests) for rid, _, _ in planted)
    assert all("Patient name" not in json.dumps(b) for b in fake_openai_server.requests)


def test_mine_phi_block_quarantines_chains_whose_output_holds_phi(fake_openai_server, tmp_path, parts):
    path = tmp_path / "clean.csv"
    path.write_text(f'report_id,text\nclean-001,"{CLEAN_REPORT}"\n', encoding="utf-8")
    fake_openai_server.responder = echoing_responder  # invents a phone number
    with pytest.raises(Exception, match="every record was quarantined|phi_detected"):
        run(fake_openai_server, tmp_path / "run", parts, path, phi="block")
    records = read_quarantine(tmp_path / "run" / "quarantine" / "quarantine.jsonl")
    assert records and all(r.reason_code == "phi_detected" and r.stage == "mine" for r in records)
    assert all("PHONE" in r.detail and INVENTED_PHONE not in r.detail and r.payload is None for r in records)


# --- flag --------------------------------------------------------------------------------------------
def test_mine_phi_flag_records_hits_in_provenance_qa_and_card(fake_openai_server, tmp_path, parts, reports_csv):
    from radprm.qa.report import qa as run_qa

    path, planted = reports_csv
    fake_openai_server.responder = echoing_responder
    summary = run(fake_openai_server, tmp_path / "run", parts, path, phi="flag")
    items = {i.report_id: i for i in read_items(summary.shards_dir)}
    first = items["phi-000"]
    hits = json.loads(first.phi)
    report_hits = {(h["entity"], first.report_text[h["start"]:h["end"]]) for h in hits if h["where"] == "report"}
    assert report_hits == set(planted[0][2])  # offsets point at exactly what was planted
    assert json.loads(items["clean-001"].phi) == [
        h for h in json.loads(items["clean-001"].phi) if h["where"] != "report"]
    qa = run_qa(summary.shards_dir, expectations=False)
    phi_check = next(r for r in qa.checks if r.check.name == "phi_hits")
    assert phi_check.status == "warn" and phi_check.warnings >= len(planted)
    card = (summary.shards_dir / "README.md").read_text()
    assert "PHI policy" in card and "| flag |" in card


# --- --store-report-text no + rehydrate -----------------------------------------------------------------
def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.])\s+", text) if len(s.strip()) > 25]


def test_mine_store_report_text_no_keeps_report_sentences_out_and_rehydrate_restores(
        fake_openai_server, tmp_path, parts, reports_csv):
    path, _planted = reports_csv
    fake_openai_server.responder = echoing_responder  # quotes a report sentence in plan and steps
    run_dir = tmp_path / "run"
    summary = run(fake_openai_server, run_dir, parts, path, store_report_text="no")
    items = list(read_items(summary.shards_dir))
    assert items and all(i.report_text == "" and i.findings_text is None for i in items)
    assert any("[[report:" in s.text for i in items for s in i.steps)
    review_and_qa(summary.shards_dir, run_dir)
    reports = {r.report_id: r for r in read_reports(path)}
    files = run_folder_text(run_dir)
    for report in reports.values():
        for sentence in _sentences(report.text):
            leaks = [p for p, text in files.items() if sentence in text]
            assert not leaks, f"{sentence!r} found in {leaks}"
    # resume rebuilds nothing twice and asks nothing: the cache expands the quotes it stored as offsets
    sent = fake_openai_server.chat_count
    again = run(fake_openai_server, run_dir, parts, path, store_report_text="no", resume=True)
    assert fake_openai_server.chat_count == sent and again.items_written == len(items)

    out = tmp_path / "rehydrated"
    result = rehydrate(summary.shards_dir, reports=path, out=out)
    assert result.rehydrated == result.items == len(items) and result.quarantine.total == 0
    for item in read_items(out):
        report = reports[item.report_id]
        assert item.report_text == report.text and item.findings_text == report.findings
        assert "[[report:" not in json.dumps(item.model_dump())
        assert item.steps[0].text in report.text  # the quoted sentence is back
        for step in item.steps:
            for ev in step.evidence:
                assert ev.text == report.text[ev.start:ev.end] and ev.text
    card = (out / "README.md").read_text()
    assert "report text stored" in card


def test_rehydrate_lists_items_whose_report_changed(fake_openai_server, tmp_path, parts):
    path = tmp_path / "clean.csv"
    path.write_text(f'report_id,text\nclean-001,"{CLEAN_REPORT}"\n', encoding="utf-8")
    summary = run(fake_openai_server, tmp_path / "run", parts, path, store_report_text="no")
    edited = tmp_path / "edited.csv"
    edited.write_text(f'report_id,text\nclean-001,"{CLEAN_REPORT} Edited."\n', encoding="utf-8")
    result = rehydrate(summary.shards_dir, reports=edited, out=tmp_path / "out")
    assert result.rehydrated == 0 and result.items >= 1
    assert result.quarantine.counts == {"report_changed": result.items}
    assert [i.report_text for i in read_items(tmp_path / "out")] == [""] * result.items  # kept, not dropped


# --- licence, credentialed, bad input ------------------------------------------------------------------
def test_mine_licence_goes_into_the_dataset_card(fake_openai_server, tmp_path, parts):
    path = tmp_path / "clean.csv"
    path.write_text(f'report_id,text\nclean-001,"{CLEAN_REPORT}"\n', encoding="utf-8")
    summary = run(fake_openai_server, tmp_path / "run", parts, path, licence="CC-BY-4.0")
    card = (summary.shards_dir / "README.md").read_text()
    assert "**CC-BY-4.0**" in card and "CC BY-NC-ND" not in card and "license: other" in card


def test_mine_without_licence_on_other_input_says_undeclared(fake_openai_server, tmp_path, parts):
    path = tmp_path / "clean.csv"
    path.write_text(f'report_id,text\nclean-001,"{CLEAN_REPORT}"\n', encoding="utf-8")
    summary = run(fake_openai_server, tmp_path / "run", parts, path)
    card = (summary.shards_dir / "README.md").read_text()
    assert "licence was not declared" in card and "license: unknown" in card


@pytest.mark.shared
def test_iu_reports_default_to_their_licence(iu_reports):
    cfg = MineConfig.from_options(reports=iu_reports, base_url="http://127.0.0.1:9/v1", model="m")
    assert cfg.licence == "CC-BY-NC-ND-4.0"


@pytest.mark.parametrize("url, allowed", [
    ("http://127.0.0.1:8000/v1", True), ("http://localhost:8000/v1", True), ("http://[::1]:8000/v1", True),
    ("http://10.0.0.7:8000/v1", False), ("https://api.example.com/v1", False),
])
def test_credentialed_source_refuses_non_local_server(url, allowed):
    opts = dict(reports="x.csv", base_url=url, model="m", credentialed=True)
    if allowed:
        assert MineConfig.from_options(**opts).credentialed
    else:
        with pytest.raises(InputError, match="credentialed source: refusing") as exc:
            MineConfig.from_options(**opts)
        assert "--allow-remote" in str(exc.value) and "\n" not in str(exc.value)
        assert MineConfig.from_options(**opts, allow_remote=True).allow_remote


@pytest.mark.parametrize("option, value, message", [
    ("phi", "redact", "unknown PHI mode 'redact'"),
    ("phi_engine", "bert", "unknown PHI engine 'bert'"),
    ("store_report_text", "maybe", "expected yes or no"),
])
def test_mine_bad_privacy_option_is_one_line_error_and_writes_nothing(tmp_path, option, value, message):
    with pytest.raises(InputError, match=message) as exc:
        mine(tmp_path / "r.csv", run_dir=tmp_path / "run", base_url="http://127.0.0.1:9/v1", model="m",
             **{option: value})
    assert "\n" not in str(exc.value) and exc.value.field == option
    assert not (tmp_path / "run").exists()


# --- schema version 1 shards still read ------------------------------------------------------------------
def test_version_1_shards_read_verify_and_qa(tmp_path):
    import pyarrow as pa

    from radprm.qa.report import qa as run_qa
    from radprm.run import file_sha256
    from radprm.schemas.shards import schema_for_version
    from radprm.shards import verify
    from radprm.shards.testing import make_items
    from radprm.shards.writer import ShardWriter

    shards = tmp_path / "s"
    with ShardWriter(shards) as writer:
        for item in make_items(6):
            writer.write(item)
    manifest_path = shards / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    v1 = schema_for_version("1")
    assert "phi" not in v1.names and "report_sha256" not in v1.names
    for entry in manifest["shards"]:
        path = shards / manifest["data_dir"] / entry["name"]
        table = pq.read_table(path).select(v1.names)
        pq.write_table(pa.Table.from_pylist(table.to_pylist(), schema=v1), path, compression="zstd")
        entry.update(schema_version="1", sha256=file_sha256(path), bytes=path.stat().st_size)
    manifest["schema_version"] = "1"
    manifest_path.write_text(json.dumps(manifest))

    assert pq.read_schema(next((shards / "data").glob("*.parquet"))).metadata[b"radprm.schema_version"] == b"1"
    report = verify(shards)
    assert report.ok, [str(p) for p in report.problems]
    items = list(read_items(shards))
    assert len(items) == 6 and all(i.phi is None and i.report_sha256 is None for i in items)
    con = connect(shards)
    assert con.execute("SELECT count(*), count(phi) FROM items").fetchall() == [(6, 0)]
    qa = run_qa(shards, expectations=False)
    assert next(r for r in qa.checks if r.check.name == "phi_hits").status == "ok"


# --- the real model server ------------------------------------------------------------------------------
@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_mine_phi_mask_against_real_vllm(vllm_base_url, tmp_path, parts):
    path, planted = write_reports(tmp_path / "reports.csv", 2)
    extractor, validator = parts
    run_dir = tmp_path / "run"
    summary = mine(path, run_dir=run_dir, base_url=vllm_base_url, model="smollm2", extractor=extractor,
                   validator=validator, tasks=["single", "binary"], questions_per_report=1, mode="staged",
                   max_tokens=160, concurrency=3, timeout=600, seed=0, phi="mask")
    items = list(read_items(summary.shards_dir))
    mined = [q for q in read_quarantine(summary.quarantine_path) if q.stage == "mine"] \
        if summary.quarantine_path.exists() else []
    assert len(items) + len(mined) == summary.items_planned == 3 and summary.items_pending == 0
    files = run_folder_text(run_dir)
    for _rid, _text, values in planted:
        for entity, value in values:
            assert not [p for p, text in files.items() if value in text], f"{entity} {value!r} left in the run"
    for item in items:
        assert item.phi is not None and item.report_sha256
        if item.report_id.startswith("phi-"):
            assert "<PERSON>" in item.report_text and "<MRN>" in item.report_text + item.findings_text
