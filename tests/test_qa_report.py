import json

import pytest

from radprm.errors import InputError, ShardError
from radprm.qa import qa
from radprm.qa.report import render_html, render_markdown
from radprm.shards import ShardWriter
from radprm.shards.testing import make_items


@pytest.fixture
def shards(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(make_items(30))
    return out


def test_qa_writes_report_json_and_card(shards):
    report = qa(shards, expectations=False)
    assert {p.name for p in report.written} == {"report.md", "report.html", "qa.json", "README.md", "charts"}
    data = json.loads((shards / "qa" / "qa.json").read_text())
    short = next(c for c in data["checks"] if c["check"] == "short_chains")
    assert short["status"] == "warn" and short["warnings"] == 6  # make_items: every 5th item has 1 step
    assert data["expectations"] is None
    assert "short_chains (6)" in report.render()


def test_qa_markdown_and_html_show_every_check(shards):
    report = qa(shards, expectations=False, card=False)
    md, page = render_markdown(report), render_html(report)
    for result in report.checks:
        assert f"## {result.check.name}" in md and f"id='{result.check.name}'" in page
        assert result.check.threshold in md


def test_qa_report_caps_rows_but_counts_all(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(make_items(200))
    report = qa(out, expectations=False, card=False)
    short = next(c for c in report.checks if c.check.name == "short_chains")
    assert short.total_rows == 40
    assert "20 of 40 rows shown" in render_markdown(report)


def test_qa_with_expectations_records_result(shards):
    report = qa(shards, card=False)
    assert report.expectations.success and not report.expectations_failed
    assert (shards / "qa" / "gx_docs" / "index.html").is_file()


def test_qa_rejects_bad_threshold_and_suffix(shards, tmp_path):
    with pytest.raises(InputError, match="between 0 and 100"):
        qa(shards, near_dup_threshold=150)
    with pytest.raises(InputError, match=".md or .html"):
        qa(shards, out=tmp_path / "r.pdf")


def test_qa_on_non_shard_directory(tmp_path):
    with pytest.raises(ShardError, match="no manifest.json"):
        qa(tmp_path, expectations=False)
