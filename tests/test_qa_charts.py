"""Charts of the QA report and the dataset card: aggregates, marks, optional panels, self-contained page."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radprm.errors import RuleFileError
from radprm.qa import qa
from radprm.qa.charts import JUDGE_SIDECAR, build_charts, load_chart_specs, render_svg
from radprm.qa.report import render_html
from radprm.shards import ShardWriter
from radprm.shards.manifest import load_manifest
from radprm.shards.testing import make_items
from radprm.validators.judge import SIDECAR

N_ITEMS = 48
BASE_CHARTS = {"step_labels", "flag_reasons", "flag_by_prompt", "flag_by_model", "steps_per_chain", "chain_scores",
               "first_bad_step"}


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(make_items(N_ITEMS))
    return out


def by_name(charts):
    return {c.name: c for c in charts}


def rendered_bars(svg: str) -> int:
    """Bars Vega drew: the paths inside the rect-mark groups of the SVG."""
    count = 0
    for group in re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, flags=re.S):
        count += group.count("<path")
    return count


def test_charts_aggregate_items_into_the_expected_bars(shards):
    items = make_items(N_ITEMS)
    charts = by_name(build_charts(shards))
    assert BASE_CHARTS <= set(charts) and "flag_by_stage" in charts  # make_items has a staged task
    assert not {"rollout_agreement", "judge_agreement", "phi"} & set(charts)  # no such columns here

    def kind(s):
        return "unsure" if s.verdict == "unsure" else "good" if s.label else "bad"

    label_pairs = {(i.task, kind(s)) for i in items for s in i.steps}
    assert charts["step_labels"].marks == len(label_pairs)
    shares = {(r["task"].split(" (")[0], r["label"]): r["steps"] for r in charts["step_labels"].rows}
    assert shares == dict(Counter((i.task, kind(s)) for i in items for s in i.steps))
    assert charts["steps_per_chain"].marks == len({(len(i.steps), i.task) for i in items})
    firsts = Counter((i.first_bad_step, i.task) for i in items if i.first_bad_step >= 0)
    assert {(int(r["position"]), r["task"]): r["items"] for r in charts["first_bad_step"].rows} == dict(firsts)
    reasons = Counter((r, "good" if s.label else "bad") for i in items for s in i.steps for r in s.reasons)
    assert {(r["reason"], r["step_label"]): r["steps"] for r in charts["flag_reasons"].rows} == dict(reasons)
    answer_bins = Counter(min(int(i.answer_reward * 10), 9) / 10 for i in items)
    got = {r["bin"]: r["items"] for r in charts["chain_scores"].rows if r["score"].startswith("answer_reward")}
    assert got == dict(answer_bins)
    for chart in charts.values():  # every bar of the aggregate is drawn, once
        assert chart.svg.startswith("<svg") and rendered_bars(chart.svg) == chart.marks, chart.name


def test_chart_without_rows_draws_a_note_not_an_empty_svg(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:  # no bad step anywhere: nothing to place on the histogram
        w.write_many(item.model_copy(update={"steps": item.steps[:1] if not item.steps[0].label else item.steps,
                                             "first_bad_step": -1})
                     for item in make_items(12) if item.first_bad_step == -1)
    report = qa(out, expectations=False, card=False)
    empty = by_name(report.charts)["first_bad_step"]
    assert empty.marks == 0 and empty.svg == ""
    page = render_html(report)
    assert "data-chart='first_bad_step' data-marks='0'" in page and "Nothing to draw" in page


def test_report_page_is_self_contained_with_unique_svg_ids(shards):
    report = qa(shards, expectations=False, card=False)
    page = (shards / "qa" / "report.html").read_text()
    assert page.count("<figure class='chart'") == len(report.charts) >= len(BASE_CHARTS)
    for needle in ("<script", "<link", "<img", "src=", "@import", "url(http", "@font-face"):
        assert needle not in page, needle
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # several SVGs on one page: clip paths must not collide
    for ref in re.findall(r"url\(#([^)]+)\)", page):
        assert ref in ids
    data = json.loads((shards / "qa" / "qa.json").read_text())
    assert {c["chart"]: c["marks"] for c in data["charts"]} == {c.name: c.marks for c in report.charts}
    md = (shards / "qa" / "report.md").read_text()
    assert "![Step-label balance per task](charts/step_labels.svg)" in md
    assert (shards / "qa" / "charts" / "step_labels.svg").read_text().startswith("<svg")


def test_svg_ids_are_prefixed_per_chart():
    spec = {"data": {"values": [{"a": 1}]}, "mark": {"type": "bar", "clip": True},
            "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    one, two = render_svg(spec, "chart-a"), render_svg(spec, "chart-b")
    ids_one, ids_two = set(re.findall(r'id="([^"]+)"', one)), set(re.findall(r'id="([^"]+)"', two))
    assert ids_one and not ids_one & ids_two
    assert all(ref in ids_one for ref in re.findall(r"url\(#([^)]+)\)", one))


def test_qa_no_charts_option(shards):
    report = qa(shards, expectations=False, card=False, charts=False)
    assert report.charts == [] and "<svg" not in (shards / "qa" / "report.html").read_text()


def test_judge_panel_appears_with_the_sidecar(tmp_path):
    run_dir = tmp_path / "run"
    with ShardWriter(run_dir / "shards", card=False) as w:
        w.write_many(make_items(12))
    rows = []
    for item in make_items(12):
        for s in item.steps:
            judge = "bad" if s.index == 0 else ("good" if s.label else "bad")  # disagrees on good first steps
            rows.append({"item_id": item.item_id, "step_index": s.index, "label": s.label, "verdict": s.verdict,
                         "rules_label": s.label, "rules_verdict": s.verdict, "judge_label": judge})
    rows.append(dict(rows[0]))  # a row appended twice after a resume counts once
    (run_dir / SIDECAR).write_text("".join(json.dumps(r) + "\n" for r in rows))
    chart = by_name(build_charts(run_dir / "shards"))["judge_agreement"]
    got = Counter()
    for r in chart.rows:
        got[r["agreement"]] += r["steps"]
    expected = Counter()
    for r in rows[:-1]:
        if r["judge_label"] == "bad":
            expected["both bad" if not r["rules_label"] else "rules good, judge bad"] += 1
        else:
            expected["both good"] += 1
    assert got == expected and expected["rules good, judge bad"] > 0


def test_judge_sidecar_name_is_the_judges():
    assert JUDGE_SIDECAR == SIDECAR


def _add_columns(directory: Path) -> None:
    """Fill the schema-2 rollout labels `mc_label` / `mc_score` of every step and add a `phi_hits` column."""
    path = directory / load_manifest(directory).data_dir / load_manifest(directory).shards[0].name
    table = pq.read_table(path)
    steps_type = table.schema.field("steps").type
    assert {"mc_label", "mc_score"} <= set(steps_type.value_type.names)  # the real shard columns
    steps = []
    for chain in table.column("steps").to_pylist():
        steps.append([{**s, "mc_label": s["index"] % 2 == 0, "mc_score": 0.5} for s in chain])
    hit = pa.struct([pa.field("entity_type", pa.string()), pa.field("start", pa.int32())])
    phi = [[{"entity_type": "DATE_TIME", "start": 3}] if k % 4 == 0 else [] for k in range(table.num_rows)]
    table = table.set_column(table.schema.get_field_index("steps"), "steps", pa.array(steps, steps_type))
    table = table.append_column(pa.field("phi_hits", pa.list_(hit)), pa.array(phi, pa.list_(hit)))
    pq.write_table(table.replace_schema_metadata(pq.read_schema(path).metadata), path)


def test_stage_and_rollout_panels_light_up_from_items_written_by_radprm(tmp_path):
    """Step stages (staged mining) and rollout labels (`label rollouts`) as the writer stores them."""
    items = [i.model_copy(update={"steps": [s.model_copy(update={"mc_label": s.label != (s.index == 1),
                                                                   "mc_score": 0.25, "mc_rollouts": 4})
                                            for s in i.steps]})
             for i in make_items(N_ITEMS)]
    with ShardWriter(tmp_path / "s", card=False) as w:
        w.write_many(items)
    charts = by_name(build_charts(tmp_path / "s"))
    stages = {r["stage"]: (r["steps"], r["bad"]) for r in charts["flag_by_stage"].rows}
    expected = Counter()
    bad = Counter()
    for i in items:
        for s in i.steps:
            stage = s.stage or i.stage
            if stage is not None:
                expected[stage] += 1
                bad[stage] += not s.label
    assert {s.stage for i in items for s in i.steps} - {None}  # staged chains carry step stages
    assert stages == {k: (v, bad[k]) for k, v in expected.items()}
    rollout = Counter()
    for r in charts["rollout_agreement"].rows:
        rollout[r["agreement"]] += r["steps"]
    assert rollout["report good, rollout bad"] + rollout["report bad, rollout good"] == sum(
        1 for i in items for s in i.steps if s.index == 1)
    assert sum(rollout.values()) == sum(len(i.steps) for i in items)


def test_v1_shards_draw_the_base_charts_without_rollout_panels(tmp_path):
    from test_shards_v1_compat import write_v1_shards

    charts = by_name(build_charts(write_v1_shards(tmp_path / "v1", make_items(N_ITEMS))))
    assert BASE_CHARTS <= set(charts) and "rollout_agreement" not in charts
    assert {r["stage"] for r in charts["flag_by_stage"].rows} == {"detection"}  # items' stage only in v1


def test_rollout_and_phi_panels_light_up_when_their_columns_exist(shards):
    _add_columns(shards)
    charts = by_name(build_charts(shards))
    items = make_items(N_ITEMS)
    rollout = Counter()
    for r in charts["rollout_agreement"].rows:
        rollout[r["agreement"]] += r["steps"]
    expected = Counter()
    for i in items:
        for s in i.steps:
            mc = s.index % 2 == 0
            expected["both good" if s.label and mc else "both bad" if not s.label and not mc
                     else "report good, rollout bad" if s.label else "report bad, rollout good"] += 1
    assert rollout == expected
    phi = {r["what"]: r["n"] for r in charts["phi"].rows}
    assert phi == {"phi_hits (items): DATE_TIME": N_ITEMS // 4, "phi_hits (items): with any hit": N_ITEMS // 4}
    assert rendered_bars(charts["phi"].svg) == 2


def test_card_links_its_charts_and_keeps_loading_one_liners(shards):
    qa(shards, expectations=False)
    card = (shards / "README.md").read_text()
    for name in ("step_labels", "steps_per_chain", "flag_reasons"):
        assert f"](charts/{name}.svg)" in card
        assert rendered_bars((shards / "charts" / f"{name}.svg").read_text()) > 0
    assert 'datasets.load_dataset("parquet"' in card and "pl.scan_parquet" in card


def test_writer_card_draws_charts_too(tmp_path):
    with ShardWriter(tmp_path / "s") as w:
        w.write_many(make_items(8))
    assert "](charts/step_labels.svg)" in (tmp_path / "s" / "README.md").read_text()
    assert (tmp_path / "s" / "charts" / "steps_per_chain.svg").is_file()


def test_chart_file_with_unknown_needs_is_one_error(tmp_path):
    bad = tmp_path / "charts.yaml"
    bad.write_text("version: 1\ncharts:\n  - {name: x, title: X, what: w, sql: 'SELECT 1', vegalite: {},"
                   " needs: [mc_labels]}\n")
    with pytest.raises(RuleFileError, match="unknown column 'mc_labels'") as err:
        load_chart_specs(bad)
    assert err.value.field == "charts.0.needs"
    bad.write_text("version: 1\ncharts:\n  - {name: x, title: X, what: w, sql: 'SELECT 1', vegalite: {}, colour: 1}\n")
    with pytest.raises(RuleFileError, match="unknown key 'colour'"):
        load_chart_specs(bad)
