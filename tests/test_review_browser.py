"""The review page in a real headless Chromium: keyboard and click labelling, reload, download, apply.

Needs Playwright and a system Chromium (see tests/headless.py): skips with the reason when either is
missing, or fails when RADPRM_REQUIRE_BROWSER=1 (for CI). Set RADPRM_SCREENSHOT_DIR to keep a screenshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from headless import CHROMIUM, LAUNCH_ARGS, playwright_api, require_browser

from radprm.review import apply_decisions, build_queue, read_reviews
from radprm.schemas.records import Evidence, StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item

pytestmark = require_browser()
REPORT = ("FINDINGS: The heart is normal in size. There is no pleural effusion. Mild left basilar atelectasis.\n"
          "IMPRESSION: No acute disease.")


def chain(item_id: str, labels: list[bool]):
    steps = []
    for k, ok in enumerate(labels):
        sentence = ["The heart is normal in size", "There is no pleural effusion", "Mild left basilar atelectasis"][k]
        start = REPORT.index(sentence)
        steps.append(StepRecord(
            index=k, text=f"{item_id} step {k}: " + (sentence.lower() if ok else "there is a pleural effusion"),
            label=ok, verdict="supported" if ok else "contradicted", reasons=[] if ok else ["negation_conflict"],
            evidence=[Evidence(text=sentence, start=start, end=start + len(sentence))], score=0.5))
    return make_item(0, item_id=item_id, steps=steps, report_text=REPORT, completeness=0.9, factuality=0.9,
                     effectiveness=0.9, answer_reward=1.0)


@pytest.fixture
def page_setup(tmp_path: Path):
    shards = tmp_path / "shards"
    with ShardWriter(shards, card=False) as writer:
        writer.write(chain("B", [True, False]))  # first bad step 1
        writer.write(chain("A", [False, True, True]))  # first bad step 0: queued first
    build_queue(shards, tmp_path / "q", flagged_only=True)
    return shards, tmp_path / "q" / "batch-001.html"


@pytest.fixture
def browser_context(tmp_path: Path):
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS,
            accept_downloads=True, viewport={"width": 1400, "height": 860},
        )
        try:
            yield context
        finally:
            context.close()


def test_review_page_label_reload_download_apply(page_setup, browser_context, tmp_path: Path):
    shards, html = page_setup
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(html.as_uri())
    assert "batch-001" in page.title()
    assert page.locator("#steps .step").count() == 3
    assert page.locator("#report mark.active").inner_text() == "The heart is normal in size"

    # no reviewer yet: download refuses and says why
    page.click("#download")
    assert "Type your name first" in page.inner_text("#status")

    page.fill("#reviewer", "Dr Ana")
    page.keyboard.press("Escape")
    page.keyboard.press("g")  # A0 good -> A1
    page.keyboard.press("b")  # A1 bad -> A2
    assert page.locator("#report mark.active").inner_text() == "Mild left basilar atelectasis"
    page.keyboard.press("n")
    page.keyboard.type("unclear wording")
    page.keyboard.press("Enter")
    page.keyboard.press("u")  # A2 unsure -> B0 (next item)
    assert "Item 2 of 2" in page.inner_text("#qa")
    page.keyboard.press("k")  # back to A2
    page.keyboard.press("x")  # clear A2
    page.keyboard.press("g")  # A2 good -> B0
    page.locator("#steps .step").nth(1).locator("button[data-decision=bad]").click()  # B1 bad by click
    assert page.inner_text("#progress-text") == "4 / 5 steps · 1 / 2 items done"
    assert page.inner_text("#unsaved") == "4 changes not downloaded"
    assert "sel-bad" in page.locator("#steps .step").nth(1).locator("button[data-decision=bad]").get_attribute("class")

    # a reload loses nothing: decisions and the reviewer name come back from localStorage
    page.reload()
    assert page.inner_text("#progress-text") == "4 / 5 steps · 1 / 2 items done"
    assert page.input_value("#reviewer") == "Dr Ana"

    shots = Path(os.environ.get("RADPRM_SCREENSHOT_DIR", tmp_path))
    page.screenshot(path=str(shots / "review-page.png"))

    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "decisions-batch-001.jsonl"
    saved = tmp_path / download.suggested_filename
    download.save_as(str(saved))
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    got = {(d["item_id"], d["step_index"]): (d["decision"], d["note"]) for d in lines}
    assert got == {("A", 0): ("good", ""), ("A", 1): ("bad", ""), ("A", 2): ("good", "unclear wording"),
                   ("B", 1): ("bad", "")}
    assert {d["reviewer"] for d in lines} == {"Dr Ana"} and {d["batch"] for d in lines} == {"batch-001"}
    assert all(d["reviewed_at"].endswith("Z") for d in lines)
    assert "Saved 4 decisions" in page.inner_text("#status")
    assert page.inner_text("#unsaved") == "all downloaded"
    # browser data lost: "Load…" brings the downloaded decisions back
    page.evaluate("window.localStorage.clear()")
    page.reload()
    assert page.inner_text("#progress-text") == "0 / 5 steps · 0 / 2 items done"
    page.set_input_files("#load-file", str(saved))
    page.wait_for_function("document.getElementById('progress-text').textContent.startsWith('4 / 5')")
    assert "Loaded 4 decisions" in page.inner_text("#status")
    assert page.input_value("#reviewer") == "Dr Ana"
    assert errors == []

    summary = apply_decisions(shards, [saved])
    assert summary.written == 4 and summary.quarantine.total == 0
    rows = {(r["item_id"], r["step_index"]): r for r in read_reviews(shards)}
    assert rows[("A", 2)]["note"] == "unclear wording" and rows[("A", 2)]["reviewer"] == "Dr Ana"
    assert rows[("A", 1)]["kind"] == "flagged"
    # validator said A0 bad, human good; B1 bad and bad; A1 good vs human bad; A2 good and good
    o = summary.agreement.overall
    assert (o.both_bad, o.validator_bad_human_good, o.validator_good_human_bad, o.both_good) == (1, 1, 1, 1)
    assert apply_decisions(shards, [saved]).files[0].status == "already_applied"


def test_review_blind_page_hides_validator(page_setup, browser_context, tmp_path: Path):
    shards, _ = page_setup
    build_queue(shards, tmp_path / "blind", flagged_only=True, blind=True, include_queued=True)
    page = browser_context.new_page()
    page.goto((tmp_path / "blind" / "batch-001.html").as_uri())
    assert page.locator("#steps .step").count() == 3
    assert page.locator(".validator").count() == 0 and page.locator("#report mark").count() == 0
    assert "negation_conflict" not in page.content()
