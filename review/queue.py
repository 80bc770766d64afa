"""Select chains for human review and write them as batches (JSONL + a self-contained HTML page).

Selection: a chain is *flagged* when any step is labelled bad, its answer is disputed, or a chain score (completeness,
factuality, effectiveness, answer reward) is below `min_score`. Flagged chains are ordered by
priority: a bad step early in the chain first (it spoils everything after it), then more distinct
reason codes, more bad steps, lower scores. A seeded *calibration* sample of unflagged chains is
mixed in at random positions, so reviewers cannot tell the two apart; which is which is recorded in
`queue.json` and in the registry under `<shard_dir>/reviews/queues/`, never in the page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm import __version__, run
from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.review import store
from radprm.review.html import render_batch
from radprm.review.items import SCORE_FIELDS, ChainSummary, count_items, fetch_items, scan_chains
from radprm.schemas.records import Item

QUEUE_VERSION = 1
FETCH_ITEMS = 5_000
Chain = Item | ChainSummary


def _summary(chain: Chain) -> ChainSummary:
    return chain if isinstance(chain, ChainSummary) else ChainSummary.from_item(chain)


def flag_reasons(chain: Chain, *, min_score: float = 0.5) -> list[str]:
    """Why a chain needs review: `bad_step`, `answer_disputed` (the model disputes a doubtful extractor
    answer key: a reviewer decides instead of a zero reward) and/or `low_<score>`; empty when it looks good.

    Args:
        chain: a mined, validated item (or its summary).
        min_score: chain scores below this flag the chain.

    Returns:
        Flag codes in a fixed order.
    """
    c = _summary(chain)
    flags = ["bad_step"] if not all(c.labels) else []
    if c.answer_disputed:
        flags.append("answer_disputed")
    for name in SCORE_FIELDS:
        value = getattr(c, name)
        if value is not None and value < min_score:
            flags.append(f"low_{name}")
    return flags


def first_bad_step(chain: Chain) -> int:
    """Index of the first bad step (from the step labels themselves), -1 when all are good."""
    c = _summary(chain)
    return next((index for index, ok in zip(c.indexes, c.labels, strict=False) if not ok), -1)


def bad_reasons(chain: Chain) -> set[str]:
    """Reason codes carried by the bad steps of a chain."""
    c = _summary(chain)
    return {reason for ok, reasons in zip(c.labels, c.reasons, strict=False) if not ok for reason in reasons}


def priority_key(chain: Chain) -> tuple:
    """Sort key, most urgent first: early first bad step, many reasons, many bad steps, low scores."""
    c = _summary(chain)
    first = first_bad_step(c)
    scores = [getattr(c, name) for name in SCORE_FIELDS if getattr(c, name) is not None]
    return (
        first < 0,
        first if first >= 0 else 0,
        -len(bad_reasons(c)),
        -sum(not ok for ok in c.labels),
        min(scores, default=1.0),
        c.item_id,
    )


def evidence_segments(text: str, spans: list[tuple[int, int, int]]) -> list[list[Any]]:
    """Cut `text` at span boundaries: `[[segment_text, [step indexes whose evidence covers it]], ...]`.

    Args:
        text: the report text.
        spans: `(start, end, step_index)` character spans; they may overlap.

    Returns:
        Consecutive segments covering the whole text.
    """
    cuts = {0, len(text)}
    for start, end, _ in spans:
        cuts.update((start, end))
    points = sorted(cuts)
    segments: list[list[Any]] = []
    for start, end in zip(points, points[1:], strict=False):
        steps = sorted({idx for s, e, idx in spans if s <= start and end <= e})
        if segments and segments[-1][1] == steps:
            segments[-1][0] += text[start:end]
        else:
            segments.append([text[start:end], steps])
    return segments


def locate_evidence(text: str, ev_text: str, start: int, end: int) -> tuple[int, int] | None:
    """Check an evidence span against the report text; fall back to a search when offsets are stale."""
    if 0 <= start < end <= len(text) and text[start:end] == ev_text:
        return start, end
    pos = text.find(ev_text) if ev_text else -1
    return (pos, pos + len(ev_text)) if pos >= 0 else None


def task_record(item: Item, *, batch: str, position: int) -> tuple[dict[str, Any], int]:
    """The batch JSONL line for one item: the chain, the validator's labels and empty review fields.

    Returns:
        The record and the number of evidence spans that could not be found in the report text.
    """
    spans: list[tuple[int, int, int]] = []
    unmatched = 0
    steps = []
    for step in item.steps:
        evidence = []
        for ev in step.evidence:
            where = locate_evidence(item.report_text, ev.text, ev.start, ev.end)
            if where is None:
                unmatched += 1
            else:
                spans.append((*where, step.index))
            evidence.append({"text": ev.text, "start": ev.start, "end": ev.end, "found": where is not None})
        steps.append(
            {
                "index": step.index,
                "text": step.text,
                "label": step.label,
                "verdict": step.verdict,
                "reasons": list(step.reasons),
                "evidence": evidence,
                "score": step.score,
                "decision": None,
                "note": "",
            }
        )
    record = {
        "batch": batch,
        "position": position,
        "item_id": item.item_id,
        "report_id": item.report_id,
        "task": item.task,
        "question": item.question,
        "options": list(item.options),
        "answer": list(item.answer),
        "model_answer": list(item.model_answer),
        "scores": {name: getattr(item, name) for name in SCORE_FIELDS},
        "first_bad_step": first_bad_step(item),
        "report_text": item.report_text,
        "segments": evidence_segments(item.report_text, spans),
        "steps": steps,
        "reviewer": None,
    }
    return record, unmatched


@dataclass
class QueueSummary:
    """What `build_queue` did: counts, batch files and quarantine."""

    queue_dir: Path
    queue_id: str
    seen: int = 0
    flagged_available: int = 0
    good_available: int = 0
    flagged: int = 0
    calibration: int = 0
    skipped_reviewed: int = 0
    skipped_queued: int = 0
    skipped_reason_filter: int = 0
    evidence_unmatched: int = 0
    batches: list[Path] = field(default_factory=list)
    quarantine: QuarantineSink | None = None

    @property
    def total(self) -> int:
        """Items in the queue."""
        return self.flagged + self.calibration

    def render(self) -> str:
        """Human summary printed by the CLI."""
        lines = [
            f"queue {self.queue_id}: {self.total} items in {len(self.batches)} batches -> {self.queue_dir}",
            f"  read {self.seen} items: {self.flagged_available} flagged, {self.good_available} unflagged",
            f"  queued {self.flagged} flagged + {self.calibration} calibration (unflagged, hidden among them)",
        ]
        skipped = {
            "already reviewed": self.skipped_reviewed,
            "in another queue": self.skipped_queued,
            "not matching --reasons": self.skipped_reason_filter,
        }
        if any(skipped.values()):
            lines.append("  skipped: " + ", ".join(f"{n} {why}" for why, n in skipped.items() if n))
        if not self.total:
            lines.append("  nothing to review: no chain matched (see the counts above)")
        if self.evidence_unmatched:
            lines.append(
                f"  warning: {self.evidence_unmatched} evidence spans not found in report text (not highlighted)"
            )
        if self.quarantine is not None and self.quarantine.total:
            lines.append("  " + self.quarantine.render())
        for path in self.batches[:3]:
            lines.append(f"  {path.with_suffix('.html').name}  {path.name}")
        if len(self.batches) > 3:
            lines.append(f"  ... {len(self.batches) - 3} more batches (listed in queue.json)")
        return "\n".join(lines)


def _queue_id(shard_dir: Path, params: dict[str, Any], ids: list[str]) -> str:
    # Deterministic: rebuilding the same queue keeps the id, so reviewers' saved browser state still applies.
    h = hashlib.sha256(json.dumps([str(shard_dir.resolve()), params, ids], sort_keys=True).encode())
    return "q" + h.hexdigest()[:12]


@dataclass
class _Entry:
    item_id: str
    kind: str  # flagged | calibration
    flags: list[str]
    priority: int | None


def _scan(shard_dir: Path, summary: QueueSummary, sink: QuarantineSink, *, skip_reviewed: set[str],
          skip_queued: set[str], wanted: set[str], min_score: float, total: int, progress: bool,
          ) -> tuple[list[tuple[ChainSummary, list[str]]], list[str]]:
    """One pass over the shards: flagged chains with their flags, and the ids of unflagged ones."""
    flagged: list[tuple[ChainSummary, list[str]]] = []
    good: list[str] = []
    seen: set[str] = set()
    with run.progress("scanning chains", total=total, enabled=progress) as bar:
        for chain in scan_chains(shard_dir):
            bar.advance()
            summary.seen += 1
            if chain.item_id in seen:
                sink.add(record_id=chain.item_id, item_id=chain.item_id, report_id=chain.report_id,
                         chain_id=chain.item_id, stage="review.queue", reason_code="duplicate_item",
                         field="item_id", detail="item_id appears more than once in the shards; kept the first")
                continue
            seen.add(chain.item_id)
            if not chain.labels:
                sink.add(record_id=chain.item_id, item_id=chain.item_id, report_id=chain.report_id,
                         chain_id=chain.item_id, stage="review.queue", reason_code="no_steps", field="steps",
                         detail="chain has no steps to review")
            elif chain.item_id in skip_reviewed:
                summary.skipped_reviewed += 1
            elif chain.item_id in skip_queued:
                summary.skipped_queued += 1
            elif flags := flag_reasons(chain, min_score=min_score):
                summary.flagged_available += 1
                if wanted and not (bad_reasons(chain) & wanted):
                    summary.skipped_reason_filter += 1
                else:
                    flagged.append((chain, flags))
            else:
                summary.good_available += 1
                good.append(chain.item_id)
    return flagged, good


def _compose(flagged: list[tuple[ChainSummary, list[str]]], good: list[str], *, sample_good: float,
             limit: int | None, seed: int) -> list[_Entry]:
    """Top flagged chains by priority, with a seeded calibration sample at seeded random positions."""
    flagged = sorted(flagged, key=lambda pair: priority_key(pair[0]))
    n_flag = len(flagged) if limit is None else min(len(flagged), limit - round(limit * sample_good))
    n_cal = 0
    if sample_good > 0 and good:
        # nothing flagged: a pure calibration queue only when a size was asked for
        n_cal = max(1, round(n_flag * sample_good / (1 - sample_good))) if n_flag else (limit or 0)
        n_cal = min(len(good), n_cal, limit - n_flag if limit is not None else n_cal)
    rng = random.Random(seed)
    calibration = iter(rng.sample(sorted(good), n_cal))
    cal_slots = set(rng.sample(range(n_flag + n_cal), n_cal))
    top = iter(enumerate(flagged[:n_flag], 1))
    entries = []
    for slot in range(n_flag + n_cal):
        if slot in cal_slots:
            entries.append(_Entry(next(calibration), "calibration", [], None))
        else:
            rank, (chain, flags) = next(top)
            entries.append(_Entry(chain.item_id, "flagged", flags, rank))
    return entries


def _write_batches(shard_dir: Path, out: Path, entries: list[_Entry], summary: QueueSummary, *,
                   batch_size: int, blind: bool, progress: bool) -> tuple[list[dict], list[dict]]:
    """Write batch-NNN.jsonl and .html; returns the per-item and per-batch metadata for queue.json."""
    items_meta, batches_meta = [], []
    fetched: dict[str, Item] = {}
    n_batches = math.ceil(len(entries) / batch_size)
    with run.progress("writing batches", total=n_batches, enabled=progress) as bar:
        for b in range(n_batches):
            name = f"batch-{b + 1:03d}"
            start = b * batch_size
            chunk = entries[start:start + batch_size]
            if any(e.item_id not in fetched for e in chunk):
                # one pass over the shards per FETCH_ITEMS items keeps memory bounded for huge queues
                fetched = fetch_items(
                    shard_dir, [e.item_id for e in entries[start : start + max(FETCH_ITEMS, batch_size)]]
                )
            records = []
            for pos, entry in enumerate(chunk, 1):
                item = fetched[entry.item_id]
                record, unmatched = task_record(item, batch=name, position=pos)
                summary.evidence_unmatched += unmatched
                records.append(record)
                items_meta.append({"item_id": item.item_id, "batch": name, "position": pos, "kind": entry.kind,
                                   "flags": entry.flags, "priority": entry.priority, "n_steps": len(item.steps)})
            jsonl = out / f"{name}.jsonl"
            lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            run.write_text_atomic(jsonl, lines)
            page = render_batch(records, queue_id=summary.queue_id, batch=name, blind=blind)
            run.write_text_atomic(out / f"{name}.html", page)
            summary.batches.append(jsonl)
            batches_meta.append({"name": name, "items": len(records), "steps": sum(len(r["steps"]) for r in records)})
            bar.advance()
    return items_meta, batches_meta


def build_queue(
    shard_dir: str | Path,
    out: str | Path,
    *,
    flagged_only: bool = False,
    sample_good: float = 0.1,
    reasons: list[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    batch_size: int = 50,
    min_score: float = 0.5,
    include_reviewed: bool = False,
    include_queued: bool = False,
    blind: bool = False,
    force: bool = False,
    progress: bool = False,
    strict: bool = False,
) -> QueueSummary:
    """Select flagged chains plus a hidden calibration sample and write review batches.

    Writes `batch-NNN.jsonl` (one item per line, validator labels, empty review fields),
    `batch-NNN.html` (self-contained review page), `queue.json` (selection metadata, including
    which items are calibration) and `quarantine.jsonl` when items cannot be reviewed; registers
    the queue under `<shard_dir>/reviews/queues/`.

    Args:
        shard_dir: shard folder of mined items.
        out: queue folder to create.
        flagged_only: leave out the calibration sample.
        sample_good: share of the queue made of unflagged chains (0 <= x < 1).
        reasons: only queue flagged chains whose bad steps carry one of these reason codes.
        limit: at most this many items in the queue (flagged by priority, calibration in proportion).
        seed: seed of the calibration sample and its positions.
        batch_size: items per batch page.
        min_score: chain scores below this flag a chain.
        include_reviewed: also queue items that already have human decisions.
        include_queued: also queue items already sitting in another registered queue.
        blind: leave the validator's labels, reasons and evidence out of the page (unanchored calibration).
        force: replace an existing queue in `out`.
        progress: show progress bars on stderr.
        strict: fail (after writing the queue) when any item was quarantined.

    Returns:
        A `QueueSummary`.

    Raises:
        InputError: bad arguments, missing shard folder, or `out` already holds a queue.
        RunError: every item was quarantined; with `strict`, any item was.
        ShardError: the folder is not a readable shard folder.
    """
    shard_dir, out = Path(shard_dir), Path(out)
    if not 0 <= sample_good < 1:
        raise InputError(f"must be in [0, 1), got {sample_good}", field="sample_good")
    if batch_size < 1:
        raise InputError(f"must be >= 1, got {batch_size}", field="batch_size")
    if limit is not None and limit < 1:
        raise InputError(f"must be >= 1, got {limit}", field="limit")
    if (out / "queue.json").exists() and not force:
        raise InputError("folder already holds a review queue", path=out, hint="use a new folder or --force")
    if flagged_only:
        sample_good = 0.0
    n_rows = count_items(shard_dir)  # fails before `out` is created when this is not a shard folder

    reviewed = set() if include_reviewed else {row["item_id"] for row in store.read_reviews(shard_dir)}
    queued_elsewhere: set[str] = set()
    if not include_queued:
        for meta in store.read_queues(shard_dir):
            if Path(meta.get("queue_dir", "")).resolve() != out.resolve():
                queued_elsewhere.update(entry["item_id"] for entry in meta.get("items", []))

    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("batch-*.jsonl"), *out.glob("batch-*.html"), out / "quarantine.jsonl"]:
        old.unlink(missing_ok=True)  # only reached with force: a rebuild must not leave stale files behind
    sink = QuarantineSink(out / "quarantine.jsonl")
    summary = QueueSummary(queue_dir=out, queue_id="", quarantine=sink)
    wanted = set(reasons or [])
    flagged, good = _scan(shard_dir, summary, sink, skip_reviewed=reviewed, skip_queued=queued_elsewhere,
                          wanted=wanted, min_score=min_score, total=n_rows, progress=progress)
    entries = _compose(flagged, good, sample_good=sample_good, limit=limit, seed=seed)
    del flagged, good
    summary.flagged = sum(e.kind == "flagged" for e in entries)
    summary.calibration = len(entries) - summary.flagged

    params = {
        "flagged_only": flagged_only, "sample_good": sample_good, "reasons": sorted(wanted), "limit": limit,
        "seed": seed, "batch_size": batch_size, "min_score": min_score, "blind": blind,
    }
    summary.queue_id = _queue_id(shard_dir, params, [e.item_id for e in entries])
    store.unregister_queues(shard_dir, queue_dir=out)
    items_meta, batches_meta = _write_batches(shard_dir, out, entries, summary, batch_size=batch_size,
                                              blind=blind, progress=progress)
    meta = {
        "queue_version": QUEUE_VERSION,
        "queue_id": summary.queue_id,
        "queue_dir": str(out.resolve()),
        "source": str(shard_dir.resolve()),
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "radprm_version": __version__,
        "params": params,
        "counts": {"seen": summary.seen, "flagged_available": summary.flagged_available,
                   "good_available": summary.good_available, "flagged": summary.flagged,
                   "calibration": summary.calibration, "quarantined": sink.total},
        "batches": batches_meta,
        "items": items_meta,
    }
    run.write_text_atomic(out / "queue.json", json.dumps(meta, separators=(",", ":")))
    store.register_queue(shard_dir, meta)
    sink.close()
    return run.finish(summary, produced=summary.seen - sink.total, quarantine=sink, strict=strict, noun="item",
                      path=shard_dir)
