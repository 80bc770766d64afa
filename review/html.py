"""Render a review batch as one self-contained HTML page (inline CSS/JS and data; works from file://)."""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

PAGE_VERSION = 1
TEMPLATE = "batch.html"
# Validator output a blind page must not carry, even hidden, so reviewers are not anchored by it.
VALIDATOR_STEP_FIELDS = ("label", "verdict", "reasons", "evidence", "score")


def load_template() -> str:
    """The packaged page template (`review/templates/batch.html`)."""
    return resources.files("radprm.review").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """JSON that is safe inside a `<script>` element: no `</script>`, `<!--` or `&` can appear."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_items(records: list[dict[str, Any]], *, blind: bool = False) -> list[dict[str, Any]]:
    """What the page needs of each batch record; blind pages drop the validator's labels and evidence."""
    items = []
    for rec in records:
        item = {k: rec[k] for k in ("item_id", "report_id", "task", "question", "options", "answer",
                                    "model_answer", "segments")}
        steps = []
        for step in rec["steps"]:
            if blind:
                steps.append({"index": step["index"], "text": step["text"]})
            else:
                steps.append({k: step[k] for k in ("index", "text", *VALIDATOR_STEP_FIELDS)})
        item["steps"] = steps
        if blind:
            item["segments"] = [[rec["report_text"], []]]  # evidence spans are validator output too
        items.append(item)
    return items


def render_batch(records: list[dict[str, Any]], *, queue_id: str, batch: str, blind: bool = False) -> str:
    """Render batch records (as written to `batch-NNN.jsonl`) into the review page.

    Args:
        records: task records from `radprm.review.queue.task_record`.
        queue_id: id of the queue; keys the page's saved state in the browser.
        batch: batch name, e.g. `batch-001`; names the downloaded decisions file.
        blind: hide the validator's labels, reasons and evidence.

    Returns:
        The page as a string.
    """
    data = {
        "page_version": PAGE_VERSION,
        "queue_id": queue_id,
        "batch": batch,
        "blind": blind,
        "items": page_items(records, blind=blind),
    }
    page = load_template().replace("__RADPRM_TITLE__", html.escape(batch), 1)
    return page.replace("__RADPRM_DATA__", script_json(data), 1)
