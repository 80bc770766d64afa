"""The privacy options of a mining job, applied where text enters and leaves it.

`JobPrivacy` is built by the mining job from `--phi`, `--phi-engine` and `--store-report-text`:

* **reports in** (`reports`): every report is scanned; ``flag`` keeps it and remembers the hits,
  ``mask`` replaces each hit (in the text and in every section field) by ``<ENTITY>`` before findings
  extraction and before the text is sent to the model, ``block`` quarantines it as ``phi_detected``
  (stage ``phi``, offsets and entity types only, no payload).
* **items out** (`finish_item`): the model's plan and steps are scanned too (a model can echo or invent
  identifiers); ``flag`` records, ``mask`` replaces, ``block`` raises `PhiBlocked` so the job
  quarantines the item. The hits go to the shard's ``phi`` column as JSON (`where`: ``report``,
  ``plan`` or ``step:<i>``; offsets into that text as read). With ``store_report_text`` off, the row
  keeps ids and offsets only: empty ``report_text``, no section texts, evidence spans without text,
  and report sentences the model quoted replaced by ``[[report:START-END]]`` (`radprm rehydrate` joins
  them back from the user's copy).
* **files around** (`quarantine`, `cache_codec`): quarantine payloads are masked (``mask``) or dropped
  (text not stored); the request cache stores model output with quoted report sentences as markers and
  expands them on read, so a resumed job validates the same text it first saw.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from contextvars import ContextVar
from typing import Any

from radprm.phi.guard import PhiGuard, PhiHit, check_mode
from radprm.schemas.records import Item, Report

__all__ = ["CURRENT_REPORT", "JobPrivacy", "PhiBlocked", "QUOTE", "expand_quotes", "quote_report_sentences"]

CURRENT_REPORT: ContextVar[Report | None] = ContextVar("radprm_current_report", default=None)
"""The report whose chain the current asyncio task is mining (read by the cache codec)."""

QUOTE = re.compile(r"\[\[report:(\d+)-(\d+)\]\]")
"""A report sentence kept out of stored text: its char offsets in `Report.text`."""
MIN_QUOTE_CHARS = 12
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


class PhiBlocked(Exception):
    """Raised by `finish_item` in ``block`` mode when the model output holds PHI."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def report_sha256(text: str) -> str:
    """sha256 hex of a report's text (recorded per item, checked by rehydrate)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sentences(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        # a sentence and its body without the final stop: models quote either
        if end - start >= MIN_QUOTE_CHARS:
            spans.append((start, end))
            if text[end - 1] in ".!?" and end - 1 - start >= MIN_QUOTE_CHARS:
                spans.append((start, end - 1))
    return spans


def quote_report_sentences(text: str, report_text: str) -> str:
    """`text` with every report sentence it contains verbatim replaced by ``[[report:S-E]]``."""
    if not text or not report_text:
        return text
    for start, end in sorted(_sentences(report_text), key=lambda se: se[0] - se[1]):  # longest first
        sentence = report_text[start:end]
        if sentence in text:
            text = text.replace(sentence, f"[[report:{start}-{end}]]")
    return text


def expand_quotes(text: str, report_text: str) -> str:
    """Inverse of `quote_report_sentences`."""
    if not text or "[[report:" not in text:
        return text
    return QUOTE.sub(lambda m: report_text[int(m.group(1)):int(m.group(2))], text)


def describe_hits(hits: list[dict[str, Any]]) -> str:
    """`PERSON x2, DATE x1 (report 14-24, 40-50; step:2 3-9)` — entity counts and where, never the text."""
    counts = Counter(h["entity"] for h in hits)
    spans = ", ".join(f"{h['where']} {h['entity']} {h['start']}-{h['end']}" for h in hits[:10])
    return ", ".join(f"{e} x{n}" for e, n in counts.most_common()) + f" ({spans})"


def _hit_rows(hits: list[PhiHit], where: str) -> list[dict[str, Any]]:
    return [{"where": where, **h.as_dict()} for h in hits]


class JobPrivacy:
    """PHI mode, engine and text storage of one mining job (see the module docs).

    Args:
        phi: ``off``, ``flag``, ``mask`` or ``block``.
        engine: PHI guard engine (``patterns`` or ``ner``).
        store_report_text: Keep report text in stored rows and files (False: ids and offsets only).
        guard: A ready PhiGuard (tests, benchmarks).

    Raises:
        InputError: unknown mode or engine.
    """

    def __init__(self, phi: str = "off", engine: str = "patterns", store_report_text: bool = True,
                 guard: PhiGuard | None = None) -> None:
        self.mode = check_mode(phi)
        self.store_text = store_report_text
        self.guard = None if self.mode == "off" else (guard or PhiGuard(engine))
        self._report_hits: dict[str, list[dict[str, Any]]] = {}
        self._original_sha: dict[str, str] = {}  # masked reports: sha of the text as read
        self.counts: Counter[str] = Counter()

    @property
    def active(self) -> bool:
        """Anything to do (a PHI mode, or text kept out)."""
        return self.guard is not None or not self.store_text

    def policy(self) -> dict[str, Any]:
        """What the job did with PHI and text, for run meta and the dataset card."""
        return {"phi": self.mode, "phi_rules": self.guard.version if self.guard else None,
                "store_report_text": self.store_text}

    # --- reports in ----------------------------------------------------------------------------------
    def screen(self, report: Report, quarantine: Any) -> Report | None:
        """The report to mine (masked in ``mask`` mode), or None when ``block`` quarantined it."""
        if self.guard is None:
            return report
        hits = self.guard.scan(report.text)
        rows = _hit_rows(hits, "report")
        for name in ("indication", "comparison"):  # read, never sent to the model; still not to be stored
            value = getattr(report, name)
            if value and value not in report.text:
                rows += _hit_rows(self.guard.scan(value), name)
        if not rows:
            return report
        self.counts["reports_with_phi"] += 1
        if self.mode == "block":
            quarantine.add(record_id=report.report_id, stage="phi", reason_code="phi_detected",
                           source_path=report.source_path or None, source_row=report.source_row, field="text",
                           detail=f"report holds PHI: {describe_hits(rows)}", payload=None)
            return None
        self._report_hits[report.report_id] = rows
        if self.mode == "mask":
            self._original_sha[report.report_id] = report_sha256(report.text)
            update = {"text": self.guard.mask(report.text, hits)}
            for name in ("findings", "impression", "indication", "comparison"):
                value = getattr(report, name)
                if value:
                    update[name] = self.guard.mask(value, self.guard.scan(value))
            report = report.model_copy(update=update)
        return report

    def reports(self, reports: Any, quarantine: Any) -> Any:
        """`screen` over a stream of reports (blocked ones left out, quarantined)."""
        for report in reports:
            kept = self.screen(report, quarantine)
            if kept is not None:
                yield kept

    # --- items out -----------------------------------------------------------------------------------
    def finish_item(self, item: Item, report: Report) -> Item:
        """Scan (and mask) the model output, record hits, and strip report text when it is not stored.

        Raises:
            PhiBlocked: ``block`` mode and the model output holds PHI.
        """
        update: dict[str, Any] = {}
        steps = [s.model_copy() for s in item.steps]
        plan = item.plan
        if self.guard is not None:
            rows = list(self._report_hits.get(report.report_id, []))
            out_rows: list[dict[str, Any]] = []
            if plan:
                hits = self.guard.scan(plan)
                out_rows += _hit_rows(hits, "plan")
                if hits and self.mode == "mask":
                    plan = self.guard.mask(plan, hits)
            for k, step in enumerate(steps):
                hits = self.guard.scan(step.text)
                out_rows += _hit_rows(hits, f"step:{k}")
                if hits and self.mode == "mask":
                    step.text = self.guard.mask(step.text, hits)
            if out_rows:
                self.counts["items_with_output_phi"] += 1
                if self.mode == "block":
                    raise PhiBlocked(f"model output holds PHI: {describe_hits(out_rows)}")
            update["phi"] = json.dumps(rows + out_rows, separators=(",", ":"))
        update["report_sha256"] = self._original_sha.get(report.report_id) or report_sha256(report.text)
        if not self.store_text:
            text = report.text
            for step in steps:
                step.text = quote_report_sentences(step.text, text)
                step.evidence = [e.model_copy(update={"text": ""}) for e in step.evidence]
            plan = quote_report_sentences(plan, text) if plan else plan
            update.update(report_text="", findings_text=None, impression_text=None)
        update.update(steps=steps, plan=plan)
        return item.model_copy(update=update)

    # --- files around --------------------------------------------------------------------------------
    def payload(self, payload: str | None) -> str | None:
        """A quarantine payload as it may be stored: dropped without text storage, masked in ``mask`` mode."""
        if payload is None:
            return None
        if not self.store_text:
            return None
        if self.mode == "mask" and self.guard is not None:
            return self.guard.mask(payload, self.guard.scan(payload))
        return payload


class QuarantineFilter:
    """A quarantine sink whose payloads pass through `JobPrivacy.payload` first (everything else delegates)."""

    def __init__(self, sink: Any, privacy: JobPrivacy) -> None:
        self._sink = sink
        self._privacy = privacy

    def add(self, record: Any = None, **fields: Any) -> Any:
        if record is not None:
            record = record.model_copy(update={"payload": self._privacy.payload(record.payload)})
        elif "payload" in fields:
            fields["payload"] = self._privacy.payload(fields["payload"])
        return self._sink.add(record, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)


class CacheCodec:
    """Request-cache codec of a job: what the cache file may hold of model output.

    ``--store-report-text no``: report sentences the model quoted are stored as ``[[report:S-E]]`` and
    expanded on read (`CURRENT_REPORT`, set by the job around each chain, names the report), so a
    resumed job validates the text it first saw. ``--phi mask``: PHI in the model output is masked
    before it is stored (a resumed job then rebuilds from the masked answer, as the shards hold it).
    """

    def __init__(self, privacy: JobPrivacy) -> None:
        self.privacy = privacy

    def encode(self, raw_text: str, parsed_json: str) -> tuple[str, str]:
        guard = self.privacy.guard
        if self.privacy.mode == "mask" and guard is not None:
            raw_text = guard.mask(raw_text, guard.scan(raw_text))
            parsed_json = guard.mask(parsed_json, guard.scan(parsed_json))
        report = CURRENT_REPORT.get()
        if not self.privacy.store_text and report is not None:
            raw_text = quote_report_sentences(raw_text, report.text)
            parsed_json = quote_report_sentences(parsed_json, report.text)
        return raw_text, parsed_json

    def decode(self, raw_text: str, parsed_json: str) -> tuple[str, str]:
        report = CURRENT_REPORT.get()
        if self.privacy.store_text or report is None:
            return raw_text, parsed_json
        return expand_quotes(raw_text, report.text), expand_quotes(parsed_json, report.text)
