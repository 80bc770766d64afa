"""The QA report in a real headless Chromium, opened from disk with the network off.

Every chart must be a non-empty SVG with exactly the bars its aggregate has, and the page must request
nothing but its own file. A tampered copy of the page (an external image, an emptied chart) proves the
checks fail when they should. The screenshot is saved in the test's temp dir (and in
RADPRM_SCREENSHOT_DIR when set). Browser discovery and CI policy: tests/headless.py.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from headless import CHROMIUM, LAUNCH_ARGS, playwright_api, require_browser

from radprm.qa import qa
from radprm.shards import ShardWriter
from radprm.shards.testing import make_items

pytestmark = require_browser()
N_ITEMS = 80
LOCAL = ("file:", "data:", "about:")


@pytest.fixture
def report_pages(tmp_path: Path):
    old, new = tmp_path / "old", tmp_path / "new"
    with ShardWriter(old, card=False) as w:
        w.write_many(make_items(50, start=500))
    with ShardWriter(new, card=False) as w:
        w.write_many(make_items(N_ITEMS))
    report = qa(new, expectations=False, card=False, compare=old)
    return report, new / "qa" / "report.html"


@pytest.fixture
def offline_context(tmp_path: Path):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            # any connection the page tries goes to a dead proxy, on top of offline mode and routing below
            args=[*LAUNCH_ARGS, "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, offline=True)
        try:
            yield context
        finally:
            context.close()
            browser.close()


def inspect_page(context, html: Path) -> tuple[list[str], dict[str, dict]]:
    """Open a report from disk; return the non-local requests it made and, per chart, what was drawn."""
    requests: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    context.route(re.compile(r"^(?!file:|data:|about:)"), lambda route: route.abort())
    page.goto(html.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    charts = page.evaluate("""() => [...document.querySelectorAll('figure.chart')].map(f => {
        const svg = f.querySelector('svg');
        const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
        const bars = [...f.querySelectorAll('svg g.mark-rect path')];
        return {name: f.dataset.chart, expected: Number(f.dataset.marks), width: box.width, height: box.height,
                bars: bars.length, drawn: bars.filter(p => (p.getAttribute('d') || '').length > 4).length,
                title: svg ? (svg.querySelector('.role-title-text text') || {}).textContent : null};
    })""")
    page.close()
    return [u for u in requests if not u.startswith(LOCAL)], {c["name"]: c for c in charts}


def test_report_charts_render_offline(report_pages, offline_context, tmp_path: Path):
    report, html = report_pages
    requests, charts = inspect_page(offline_context, html)
    assert requests == []
    assert set(charts) == {c.name for c in report.charts} | {"compare"}
    assert {"step_labels", "flag_reasons", "flag_by_prompt", "flag_by_model", "steps_per_chain", "chain_scores",
            "first_bad_step"} <= set(charts)
    for name, c in charts.items():
        assert c["expected"] > 0 and c["width"] > 100 and c["height"] > 50, name
        assert c["bars"] == c["drawn"] == c["expected"], name
        assert c["title"], name
    # the expected count itself comes from the data: one bar per (task, step label) pair
    items = make_items(N_ITEMS)
    pairs = Counter((i.task, "unsure" if s.verdict == "unsure" else "good" if s.label else "bad")
                    for i in items for s in i.steps)
    assert charts["step_labels"]["bars"] == len(pairs)
    assert charts["steps_per_chain"]["bars"] == len({(len(i.steps), i.task) for i in items})

    page = offline_context.new_page()
    page.goto(html.as_uri())
    first = page.locator("#glance").inner_text()
    assert f"{N_ITEMS}\nitems" in first and "checks warn" in first
    for folder in {tmp_path, Path(os.environ.get("RADPRM_SCREENSHOT_DIR", tmp_path))}:
        page.screenshot(path=str(folder / "qa-report.png"))
        page.screenshot(path=str(folder / "qa-report-full.png"), full_page=True)
    assert (tmp_path / "qa-report.png").stat().st_size > 10_000


def test_checks_catch_network_requests_and_empty_charts(report_pages, offline_context, tmp_path: Path):
    _, html = report_pages
    page = html.read_text()
    start = page.index("<svg", page.index("data-chart='steps_per_chain'"))
    end = page.index("</svg>", start) + len("</svg>")
    tampered = tmp_path / "tampered.html"
    tampered.write_text(page[:start] + "<svg></svg>" + page[end:]
                        + "<img src='http://127.0.0.1:9/pixel.png'><link rel='stylesheet' href='https://fonts.example/x.css'>")
    requests, charts = inspect_page(offline_context, tampered)
    assert "http://127.0.0.1:9/pixel.png" in requests and "https://fonts.example/x.css" in requests
    assert charts["steps_per_chain"]["bars"] == 0 < charts["steps_per_chain"]["expected"]
