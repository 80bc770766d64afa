"""Read CHAINS files (JSONL or Parquet) into `Chain` records; bad rows go to quarantine with a reason.

A CHAINS row has `chain_id`, `report_id`, `steps` (list of strings; dicts with a `text` key, as in
shard items, are accepted) and optional `question`, `answer`, `options`, `model_answer`. Other
columns are ignored. File-level problems (missing file, unknown format, a required column absent from
a Parquet file) raise `InputError`; row-level problems become quarantine records whose reason codes
are listed in `radprm.validators.reasons.QUARANTINE_CODES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.schemas.records import Chain, StepResult

CHAIN_FORMATS = (".jsonl", ".ndjson", ".parquet")
REQUIRED = ("chain_id", "report_id", "steps")


@dataclass
class RowProblem(Exception):
    """A row-level problem: reason code, field and detail (becomes one quarantine record)."""

    reason_code: str
    field: str | None
    detail: str
    payload: str = ""


@dataclass
class ChainRow:
    """A chain read from a file, with where it came from."""

    chain: Chain
    source_path: str
    source_row: int


def chain_format(path: str | Path) -> str:
    """'jsonl' or 'parquet' from the file extension.

    Raises:
        InputError: for a missing file or another extension.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", path=p)
    suffix = p.suffix.lower()
    if suffix not in CHAIN_FORMATS:
        raise InputError(f"unknown chains format '{suffix}'", path=p, hint="use .jsonl or .parquet")
    return "parquet" if suffix == ".parquet" else "jsonl"


def iter_raw_rows(path: str | Path, *, required: tuple[str, ...] = REQUIRED) -> Iterator[tuple[int, Any]]:
    """Yield (1-based row number, raw row) pairs; a malformed JSONL line yields a RowProblem instead.

    Raises:
        InputError: file missing, unknown format, unreadable Parquet or a Parquet file lacking a
            required column.
    """
    p = Path(path)
    if chain_format(p) == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(p)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"cannot read Parquet: {exc}", path=p) from exc
        missing = [c for c in required if c not in pf.schema_arrow.names]
        if missing:
            raise InputError(f"missing column(s) {missing}; columns present: {pf.schema_arrow.names}",
                             path=p, field=missing[0])
        n = 0
        for batch in pf.iter_batches(batch_size=2048):
            for row in batch.to_pylist():
                n += 1
                yield n, row
        return
    with p.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, RowProblem("malformed_json", None, f"not valid JSON: {exc.msg} at column {exc.colno}",
                                    line.rstrip("\n")[:10_000])
                continue
            if not isinstance(row, dict):
                yield n, RowProblem("malformed_json", None, f"a JSON {type(row).__name__}, not an object",
                                    line.rstrip("\n")[:10_000])
                continue
            yield n, row


def report_ids(path: str | Path, *, required: tuple[str, ...] = REQUIRED) -> tuple[set[str], int]:
    """The report ids a CHAINS (or STEPS) file refers to and its number of rows: a cheap first pass, so a
    runner keeps only the reports it needs in memory. Bad rows are counted, not judged (the second pass
    quarantines them)."""
    ids: set[str] = set()
    rows = 0
    for _, row in iter_raw_rows(path, required=required):
        rows += 1
        if isinstance(row, dict) and row.get("report_id") is not None:
            ids.add(str(row["report_id"]))
    return ids, rows


def _str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RowProblem("bad_field_type", name, f"expected a string or a list of strings, got {value!r:.80}")


def _step_text(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("text", value.get("step"))
    return value


def chain_from_row(row: dict[str, Any]) -> Chain:
    """Build a Chain from a raw row.

    Raises:
        RowProblem: with the quarantine reason code for the first problem found.
    """
    chain_id = row.get("chain_id")
    if chain_id is None or (isinstance(chain_id, str) and not chain_id.strip()):
        raise RowProblem("missing_chain_id", "chain_id", "chain_id is missing or empty")
    report_id = row.get("report_id")
    if report_id is None or (isinstance(report_id, str) and not report_id.strip()):
        raise RowProblem("missing_report_id", "report_id", "report_id is missing or empty")
    steps = row.get("steps")
    if steps is None or (isinstance(steps, (list, tuple)) and not steps):
        raise RowProblem("empty_steps", "steps", "no steps")
    if not isinstance(steps, (list, tuple)):
        raise RowProblem("bad_field_type", "steps", f"expected a list of strings, got {type(steps).__name__}")
    texts = []
    for i, s in enumerate(steps):
        t = _step_text(s)
        if not isinstance(t, str) or not t.strip():
            raise RowProblem("non_string_step", f"steps[{i}]", f"step {i} is {t!r:.60}, not a non-blank string")
        texts.append(t)
    question = row.get("question")
    if question is not None and not isinstance(question, str):
        raise RowProblem("bad_field_type", "question", f"expected a string, got {type(question).__name__}")
    return Chain(
        chain_id=str(chain_id), report_id=str(report_id), question=question,
        options=_str_list(row.get("options"), "options"), answer=_str_list(row.get("answer"), "answer"),
        model_answer=_str_list(row.get("model_answer"), "model_answer"), steps=texts,
    )


def read_chains(
    path: str | Path, *, quarantine: QuarantineSink | None = None, stage: str = "validate"
) -> Iterator[ChainRow]:
    """Yield the valid chains of a CHAINS file; quarantine bad rows (never dropped silently).

    Args:
        path: a .jsonl or .parquet file.
        quarantine: where bad rows go; None raises on the first bad row instead.
        stage: stage name recorded on quarantine records.

    Raises:
        InputError: for file-level problems, or for a bad row when `quarantine` is None.
    """
    seen: set[str] = set()
    for n, row in iter_raw_rows(path):
        try:
            if isinstance(row, RowProblem):
                raise row
            chain = chain_from_row(row)
            if chain.chain_id in seen:
                raise RowProblem("duplicate_chain_id", "chain_id", f"chain_id {chain.chain_id!r} seen before")
            seen.add(chain.chain_id)
        except RowProblem as problem:
            if quarantine is None:
                raise InputError(f"{problem.reason_code}: {problem.detail}", path=path, row=n,
                                 field=problem.field) from None
            record_id = row.get("chain_id") if isinstance(row, dict) else None
            report_id = row.get("report_id") if isinstance(row, dict) else None
            quarantine.add(stage=stage, reason_code=problem.reason_code, source_path=str(path), source_row=n,
                           field=problem.field, detail=problem.detail,
                           record_id=None if record_id is None else str(record_id),
                           chain_id=None if record_id is None else str(record_id),
                           report_id=str(report_id) if report_id not in (None, "") else None,
                           payload=_payload(row))
            continue
        yield ChainRow(chain, str(path), n)


def _payload(row: Any) -> str:
    if isinstance(row, RowProblem):
        return row.payload
    try:
        return json.dumps(row, default=str)[:10_000]
    except (TypeError, ValueError):
        return repr(row)[:10_000]


def write_chains_jsonl(chains: list[Chain], path: str | Path) -> Path:
    """Write chains as JSONL (used by the evaluation-set builder and tests)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for c in chains:
            fh.write(c.model_dump_json() + "\n")
    return p


# --- step-table streams (the run stages after the rules: PRM reader, LLM judge) ----------------------
def step_of_row(row: dict[str, Any]) -> tuple[StepResult, dict[str, Any]]:
    """A step-table row as its `StepResult` and the columns an earlier run stage added (e.g. `prm_p_bad`)."""
    own = {k: v for k, v in row.items() if k in StepResult.model_fields}
    return StepResult.model_validate(own), {k: v for k, v in row.items() if k not in own}


def chain_steps(
    rows: Iterable[dict[str, Any]],
    take: Callable[[str], tuple[Any, Any]],
    extra: dict[tuple[str, int], dict[str, Any]] | None = None,
) -> Iterator[tuple[Any, Any, list[StepResult]]]:
    """(chain, report, steps) per chain of a step-table stream whose chains' steps come together.

    `take(chain_id)` gives the chain's (Chain, Report), e.g. `contexts.pop`; columns other stages added go to
    `extra` under (chain_id, step_index) when it is given.
    """
    current: list[StepResult] = []
    for row in rows:
        step, added = step_of_row(row)
        if added and extra is not None:
            extra[(step.chain_id, step.step_index)] = added
        if current and step.chain_id != current[0].chain_id:
            yield (*take(current[0].chain_id), current)
            current = []
        current.append(step)
    if current:
        yield (*take(current[0].chain_id), current)
