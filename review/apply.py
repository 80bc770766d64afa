"""Validate reviewers' decision files and append them to the `reviews/` table beside the shards.

A decision line is a JSON object::

    {"item_id": "...", "step_index": 0, "decision": "good" | "bad" | "unsure", "note": "",
     "reviewer": "ana", "reviewed_at": "2026-11-23T18:30:00.000Z", "batch": "batch-001", "queue_id": "q..."}

`note`, `batch`, `queue_id` are optional; `reviewer` may come from `--reviewer` instead; a missing
`reviewed_at` becomes the time of the apply. Lines that cannot be used become quarantine records
with a reason code (or, with `strict`, an error naming file, line and field, and nothing is written).

Re-applying a file is a no-op (its sha256 is already in the table). A reviewer's decision that is
identical to the one already recorded is skipped as unchanged; a changed one is appended as a
revision, and readers take each reviewer's latest decision per step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm import __version__, run
from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.review import store
from radprm.review.agreement import Agreement, compute_agreement, latest_decisions
from radprm.review.items import check_shard_dir, fetch_items
from radprm.schemas.records import Item

DECISIONS = ("good", "bad", "unsure")
REQUIRED = ("item_id", "step_index", "decision")
ALLOWED = (*REQUIRED, "note", "reviewer", "reviewed_at", "batch", "queue_id")
STAGE = "review.apply"


class _Reject(Exception):
    def __init__(self, reason: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


@dataclass
class FileResult:
    """What happened to one decisions file."""

    path: Path
    sha256: str
    status: str = "applied"  # applied | already_applied | duplicate_file
    lines: int = 0
    written: int = 0
    unchanged: int = 0
    quarantined: int = 0


@dataclass
class ApplySummary:
    """What `apply_decisions` did, plus agreement over every decision recorded so far."""

    shard_dir: Path
    files: list[FileResult] = field(default_factory=list)
    written: int = 0
    part: Path | None = None
    quarantine: QuarantineSink | None = None
    agreement: Agreement = field(default_factory=Agreement)

    @property
    def all_quarantined(self) -> bool:
        """True when lines were read and every one of them was quarantined (`apply_decisions` then raises)."""
        lines = sum(f.lines for f in self.files)
        return lines > 0 and sum(f.quarantined for f in self.files) == lines

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain values (for `--json`)."""
        return {
            "written": self.written,
            "part": str(self.part) if self.part else None,
            "files": [{"path": str(f.path), "sha256": f.sha256, "status": f.status, "lines": f.lines,
                       "written": f.written, "unchanged": f.unchanged, "quarantined": f.quarantined}
                      for f in self.files],
            "quarantined": dict(self.quarantine.counts) if self.quarantine else {},
            "quarantine_path": str(self.quarantine.path) if self.quarantine and self.quarantine.path else None,
            "agreement": self.agreement.as_dict(),
        }

    def render(self) -> str:
        """Human summary printed by the CLI."""
        lines = []
        for f in self.files:
            if f.status == "applied":
                lines.append(f"{f.path}: {f.written} decisions written, {f.unchanged} unchanged, "
                             f"{f.quarantined} quarantined (sha256 {f.sha256[:12]})")
            else:
                lines.append(f"{f.path}: {f.status.replace('_', ' ')}, nothing to do (sha256 {f.sha256[:12]})")
        where = f" -> {self.part}" if self.part else ""
        lines.append(f"wrote {self.written} review rows{where}")
        if self.quarantine is not None and self.quarantine.total:
            lines.append(self.quarantine.render())
        lines.append(self.agreement.render())
        return "\n".join(lines)


def _parse_time(value: Any) -> str:
    if not isinstance(value, str):
        raise _Reject("bad_timestamp", "reviewed_at", f"expected an ISO-8601 string, got {value!r}")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Reject("bad_timestamp", "reviewed_at", f"not an ISO-8601 timestamp: {value!r}") from None
    if when.tzinfo is None:
        raise _Reject("bad_timestamp", "reviewed_at", f"timestamp has no time zone: {value!r}")
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_line(raw: str, items: dict[str, Item], *, reviewer: str | None, now: str) -> dict[str, Any]:
    """Validate one decision line against the shard items.

    Args:
        raw: the line's text.
        items: shard items by id.
        reviewer: fallback reviewer for lines without one.
        now: timestamp used when the line has no `reviewed_at`.

    Returns:
        The normalised decision (item_id, step_index, decision, note, reviewer, reviewed_at, batch, queue_id).

    Raises:
        _Reject: with a reason code, field and detail.
    """
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _Reject("bad_json", None, f"not valid JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise _Reject("bad_json", None, f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(ALLOWED))
    if unknown:
        raise _Reject("unknown_field", unknown[0], f"unknown field {unknown[0]!r} (allowed: {', '.join(ALLOWED)})")
    for name in REQUIRED:
        if obj.get(name) is None:
            raise _Reject("missing_field", name, f"missing required field {name!r}")
    item_id = obj["item_id"]
    if not isinstance(item_id, str) or item_id not in items:
        raise _Reject("unknown_item", "item_id", f"no item {item_id!r} in the shards")
    index = obj["step_index"]
    if not isinstance(index, int) or isinstance(index, bool):
        raise _Reject("bad_step_index", "step_index", f"expected an integer, got {index!r}")
    steps = {s.index for s in items[item_id].steps}
    if index not in steps:
        raise _Reject("unknown_step", "step_index",
                      f"item {item_id!r} has no step {index} (steps {min(steps, default=0)}..{max(steps, default=-1)})")
    decision = obj["decision"]
    if decision not in DECISIONS:
        raise _Reject("bad_decision", "decision", f"{decision!r} is not one of {', '.join(DECISIONS)}")
    note = "" if obj.get("note") is None else obj["note"]
    if not isinstance(note, str):
        raise _Reject("bad_note", "note", f"expected a string, got {type(note).__name__}")
    who = obj.get("reviewer")
    if who is not None and (not isinstance(who, str) or not who.strip()):
        raise _Reject("bad_reviewer", "reviewer", f"expected a non-empty name, got {who!r}")
    if who and reviewer and who.strip() != reviewer:
        raise _Reject("reviewer_mismatch", "reviewer", f"line says {who!r} but --reviewer is {reviewer!r}")
    who = (who or reviewer or "").strip()
    if not who:
        raise _Reject("missing_reviewer", "reviewer", "no reviewer in the line and none given (pass --reviewer NAME)")
    for name in ("batch", "queue_id"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise _Reject("bad_value", name, f"expected a string, got {obj[name]!r}")
    reviewed_at = _parse_time(obj["reviewed_at"]) if obj.get("reviewed_at") is not None else now
    return {
        "item_id": item_id, "step_index": index, "decision": decision, "note": note, "reviewer": who,
        "reviewed_at": reviewed_at, "batch": obj.get("batch"), "queue_id": obj.get("queue_id"),
    }


def apply_decisions(
    shard_dir: str | Path,
    decisions: list[str | Path],
    *,
    reviewer: str | None = None,
    strict: bool = False,
) -> ApplySummary:
    """Validate decision files and append them, with reviewer provenance, to `<shard_dir>/reviews/`.

    Args:
        shard_dir: the shard folder the reviewed items come from.
        decisions: decisions JSONL files (as downloaded from the review page, or hand-made).
        reviewer: reviewer for lines that carry none; lines naming someone else are quarantined.
        strict: any unusable line is an error: raise on the first one, naming file, line and field, and
            write nothing (human decisions are applied all or nothing).

    Returns:
        An `ApplySummary` with per-file counts, the part written and agreement over all reviews.

    Raises:
        InputError: a file is missing, not UTF-8 or holds no decision lines; with `strict`, any unusable line.
        RunError: every decision line was quarantined (the usable lines of other files are still written).
        ShardError: `shard_dir` is not a readable shard folder.
    """
    shard_dir = Path(shard_dir)
    if not decisions:
        raise InputError("no decisions files given", field="decisions")
    check_shard_dir(shard_dir)
    reviewer = reviewer.strip() if reviewer else None
    paths = [Path(p) for p in decisions]
    referenced: set[str] = set()
    for path in paths:
        ids = _referenced_ids(path)
        if ids is None:
            raise InputError("no decisions in file", path=path,
                             hint="download decisions after labelling at least one step")
        referenced |= ids
    items = fetch_items(shard_dir, referenced)
    now_dt = dt.datetime.now(dt.UTC)
    now = now_dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    summary = ApplySummary(shard_dir=shard_dir)

    with store.locked(shard_dir) as folder:
        existing = store.read_reviews(shard_dir)
        applied_shas = {row["source_sha256"] for row in existing}
        current = {(r["item_id"], r["step_index"], r["reviewer"]): r for r in latest_decisions(existing)}
        kinds = store.queued_kinds(shard_dir)
        sink = QuarantineSink(folder / "quarantine.jsonl" if not strict else None)
        summary.quarantine = sink
        rows: list[dict[str, Any]] = []
        seen_shas: set[str] = set()
        for path in paths:
            result = FileResult(path=path, sha256=run.file_sha256(path))
            summary.files.append(result)
            if result.sha256 in applied_shas:
                result.status = "already_applied"
                continue
            if result.sha256 in seen_shas:
                result.status = "duplicate_file"
                continue
            seen_shas.add(result.sha256)
            in_file: dict[tuple[str, int, str], int] = {}
            with path.open(encoding="utf-8") as fh:
                for lineno, raw in enumerate(fh, 1):
                    if not raw.strip():
                        continue
                    result.lines += 1
                    try:
                        d = check_line(raw, items, reviewer=reviewer, now=now)
                        key = (d["item_id"], d["step_index"], d["reviewer"])
                        if key in in_file:
                            raise _Reject("duplicate_decision", "step_index",
                                          f"step {key[1]} of item {key[0]!r} by {key[2]!r} already decided on "
                                          f"line {in_file[key]} of this file")
                        in_file[key] = lineno
                        before = current.get(key)
                        if before is not None and d["reviewed_at"] < before["reviewed_at"]:
                            raise _Reject("stale_decision", "reviewed_at",
                                          f"older than the decision already recorded from {before['source_file']}")
                    except _Reject as rej:
                        if strict:
                            raise InputError(rej.detail, path=path, row=lineno, field=rej.field,
                                             hint=f"reason {rej.reason}; nothing was written") from None
                        known = items.get(_item_id(raw) or "")
                        sink.add(record_id=_record_id(raw), item_id=known.item_id if known else None,
                                 report_id=known.report_id if known else None, stage=STAGE, reason_code=rej.reason,
                                 source_path=str(path), source_row=lineno, field=rej.field,
                                 detail=rej.detail, payload=raw.rstrip("\n"))
                        result.quarantined += 1
                        continue
                    if before is not None and (before["decision"], before["note"]) == (d["decision"], d["note"]):
                        result.unchanged += 1
                        continue
                    row = _row(d, items[d["item_id"]], kinds, path, result.sha256, lineno, now)
                    rows.append(row)
                    current[key] = row  # a later file in the same call compares against this one
                    result.written += 1
        if rows:
            files_sha = hashlib.sha256("".join(sorted(seen_shas)).encode()).hexdigest()[:8]
            name = f"part-{now_dt.strftime('%Y%m%dT%H%M%S%fZ')}-{files_sha}"
            summary.part = store.write_part(shard_dir, rows, name)
            summary.written = len(rows)
        sink.close()
        summary.agreement = compute_agreement([*existing, *rows])
    lines = sum(f.lines for f in summary.files)
    # strict never gets here with a quarantined line: it raised on the first one, before writing
    return run.finish(summary, produced=lines - sink.total, quarantine=sink, noun="decision line")


def _referenced_ids(path: Path) -> set[str] | None:
    """Item ids a decisions file mentions (None when it has no non-blank line); bad lines are left for later."""
    if not path.is_file():
        raise InputError("decisions file not found", path=path)
    ids: set[str] = set()
    any_line = False
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start})", path=path, hint="save decisions as UTF-8 JSONL"
        ) from None
    for line in lines:
        if line.strip():
            any_line = True
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("item_id"), str):
                ids.add(obj["item_id"])
    return ids if any_line else None


def _item_id(raw: str) -> str | None:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return obj["item_id"] if isinstance(obj, dict) and isinstance(obj.get("item_id"), str) else None


def _record_id(raw: str) -> str | None:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("item_id"), str):
        return f"{obj['item_id']}#{obj.get('step_index')}"
    return None


def _row(d: dict[str, Any], item: Item, kinds: dict[str, dict[str, str]], path: Path, sha: str,
         lineno: int, now: str) -> dict[str, Any]:
    step = next(s for s in item.steps if s.index == d["step_index"])
    queued = kinds.get(d["item_id"], {})
    return {
        "review_id": f"{sha[:16]}:{lineno}",
        "item_id": d["item_id"],
        "report_id": item.report_id,
        "step_index": d["step_index"],
        "decision": d["decision"],
        "note": d["note"],
        "reviewer": d["reviewer"],
        "reviewed_at": d["reviewed_at"],
        "applied_at": now,
        "source_file": str(path.resolve()),
        "source_sha256": sha,
        "source_line": lineno,
        "batch": d["batch"] or queued.get("batch"),
        "queue_id": d["queue_id"] or queued.get("queue_id"),
        "kind": queued.get("kind"),
        "validator_label": step.label,
        "validator_verdict": step.verdict,
        "validator_reasons": list(step.reasons),
        "radprm_version": __version__,
    }
