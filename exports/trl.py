"""Export shards to TRL's stepwise-supervision format (PRMTrainer): `prompt`, `completions`, `labels`.

One row per item: `prompt` is the question and its options, preceded by the report for report-style
chains (image-style chains are for models that see the film: no report unless `include_report=True`);
`completions` are the step texts; `labels` one bool per step (True = good); `images` the study's image
paths, frontal view first (the column TRL's vision trainers read; paths only, never opened here), and
`split`. `item_id` is kept for traceability (PRMTrainer ignores extra columns). Output is JSON lines
(`.jsonl`) or Parquet (`.parquet`).

Unsure steps (`unsure="mask"`, the default): stepwise labels have no "unknown" value and a PRM judges
each step with its prefix, so a chain ends before its first unsure step (counted as steps cut); a chain
whose first step is unsure has nothing left and is skipped (counted). `good` / `bad` force the label.

Truncation: PRMTrainer tokenises `prompt` and each `step + separator`, concatenates them and cuts at
`max_length`; a step whose last token falls past the cut loses its label silently. Given `max_length`,
the export counts those labels, with the local tokenizer when one is given (a `tokenizer.json` file or
a folder holding one; nothing is downloaded), else with an estimate of 4 characters per token.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from radprm import run
from radprm.errors import InputError
from radprm.exports.common import (
    ExportSummary,
    check_after_first_bad,
    check_out,
    check_unsure,
    include_report_for,
    items_with_steps,
    label_item,
    run_export,
    write_jsonl_atomic,
)
from radprm.schemas.records import Item

CHARS_PER_TOKEN = 4
"""Fallback estimate when no tokenizer is given (English BPE tokenizers average about 4 chars/token)."""


def build_prompt(item: Item, *, include_report: bool | None = True) -> str:
    """The prompt a PRM sees for an item: report text (when included: None decides by the item's style,
    see `exports.common.include_report_for`), question, options."""
    include_report = include_report_for(item, include_report)
    parts = []
    if include_report:
        parts.append(f"Report:\n{item.report_text}")
    question = f"Question: {item.question}"
    if item.options:
        question += "\nOptions: " + ", ".join(item.options)
    parts.append(question)
    return "\n\n".join(parts)


class TokenCounter:
    """Counts tokens with a local HF `tokenizer.json`, or estimates them from characters.

    Args:
        tokenizer: path of a `tokenizer.json` or of a folder containing one; None estimates.

    Raises:
        InputError: the path does not exist, holds no tokenizer.json, or `tokenizers` is missing.
    """

    def __init__(self, tokenizer: str | Path | None = None) -> None:
        self._tok = None
        self.description = f"estimated at {CHARS_PER_TOKEN} characters per token (no --tokenizer given)"
        if tokenizer is None:
            return
        path = Path(tokenizer).expanduser()
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise InputError(
                "no tokenizer.json here",
                path=path,
                field="tokenizer",
                hint="pass a local HF model folder, e.g. ~/.cache/radprm/models/<model>; nothing is downloaded",
            )
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise InputError("the tokenizers package is missing", hint="pip install tokenizers") from exc
        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception for a malformed file
            raise InputError(f"cannot load tokenizer: {exc}", path=path, field="tokenizer") from exc
        self.description = f"counted with {path}"

    def count(self, texts: list[str]) -> list[int]:
        """Token counts of texts (no special tokens added)."""
        if self._tok is None:
            return [math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts]
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]


def dropped_labels(prompt_tokens: int, step_tokens: list[int], max_length: int) -> int:
    """How many step labels fall past `max_length` (a label sits on its step's last token)."""
    position = prompt_tokens
    dropped = 0
    for n in step_tokens:
        position += n
        if position > max_length:
            dropped += 1
    return dropped


def trl_rows(
    items: Any,
    summary: ExportSummary,
    *,
    include_report: bool | None = None,
    after_first_bad: str = "keep",
    max_length: int | None = None,
    counter: TokenCounter | None = None,
    step_separator: str = "\n",
    unsure: str = "mask",
) -> Iterator[dict[str, Any]]:
    """Turn items into TRL rows, counting steps, convention effects, unsure steps and truncated labels."""
    truncated = truncated_items = 0
    for item in items_with_steps(items, summary, stage="export_trl"):
        labelled = label_item(item, summary, after_first_bad=after_first_bad, unsure=unsure, cut_at_unsure=True)
        if labelled is None:
            continue
        texts, labels, _ = labelled
        prompt = build_prompt(item, include_report=include_report)
        if max_length is not None and counter is not None:
            counts = counter.count([prompt] + [t + step_separator for t in texts])
            lost = dropped_labels(counts[0], counts[1:], max_length)
            truncated += lost
            truncated_items += 1 if lost else 0
        yield {"item_id": item.item_id, "prompt": prompt, "completions": texts, "labels": labels,
               "images": list(item.image_paths), "split": item.split}
    summary.extra["truncated_labels"] = truncated
    summary.extra["truncated_items"] = truncated_items


def export_trl(
    directory: str | Path,
    out: str | Path,
    *,
    max_length: int | None = None,
    tokenizer: str | Path | None = None,
    after_first_bad: str = "keep",
    unsure: str = "mask",
    include_report: bool | None = None,
    step_separator: str = "\n",
    progress: bool = False,
    use_reviews: bool = False,
    strict: bool = False,
    split: str | None = None,
    report_mentions: str = "drop",
) -> ExportSummary:
    """Export a shard directory for TRL's PRMTrainer (stepwise supervision).

    Args:
        directory: shard directory.
        out: output file, `.jsonl` or `.parquet`.
        max_length: PRMTrainer's max_length; when given, count (and warn about) labels truncation drops.
        tokenizer: local `tokenizer.json` or model folder for exact token counts; None estimates.
        after_first_bad: keep / drop / bad (see `exports.common.AFTER_FIRST_BAD`).
        unsure: steps with verdict `unsure`: mask (end the chain before the first one; skip a chain
            that starts with one), good or bad (force the label). See `exports.common.UNSURE`.
        include_report: put the report text in the prompt (the labels are judged against it); None (default)
            puts it in for report-style items only: image-style chains are for models that see the image.
        step_separator: PRMTrainer's `step_separator` (counted after each step).
        progress: show a progress bar with ETA on stderr.
        use_reviews: human review labels override the validator's where annotators resolved a step.
        strict: fail when any item was quarantined.
        split: only this split's items (`exports.common.export_per_split` writes one file per split).
        report_mentions: drop (default) or keep image-style chains that cite the report.

    Returns:
        An `ExportSummary`; `extra["truncated_labels"]` holds the truncation count.

    Raises:
        InputError: bad output suffix, unknown convention or unsure policy, bad max_length or tokenizer path.
        RunError: no row exported; with `strict`, any item quarantined.
        ShardError: the directory is not a readable shard directory.
    """
    # option errors first, before a tokenizer is loaded (run_export repeats these cheap checks)
    check_out(out, (".jsonl", ".parquet"))
    check_after_first_bad(after_first_bad)
    check_unsure(unsure)
    if max_length is not None and max_length < 1:
        raise InputError("must be a positive number of tokens", field="max_length")
    counter = TokenCounter(tokenizer) if max_length is not None or tokenizer is not None else None
    summary = run_export(
        directory, out, format="trl", after_first_bad=after_first_bad, unsure=unsure, progress=progress,
        use_reviews=use_reviews, suffixes=(".jsonl", ".parquet"), strict=strict, split=split,
        report_mentions=report_mentions, write=_write_rows,
        rows=lambda items, summary: trl_rows(
            items, summary, include_report=include_report, after_first_bad=after_first_bad,
            max_length=max_length, counter=counter, step_separator=step_separator, unsure=unsure,
        ),
    )
    if max_length is not None and counter is not None:
        lost, n_items = summary.extra["truncated_labels"], summary.extra["truncated_items"]
        state = "WARNING: " if lost else ""
        summary.notes.append(
            f"{state}max_length {max_length}: truncation would drop {lost} step labels in {n_items} items "
            f"(tokens {counter.description})"
        )
    return summary


def _write_rows(out: Path, rows: Iterator[dict[str, Any]]) -> None:
    """Write TRL rows atomically as JSON lines or Parquet, by the output's suffix."""
    if out.suffix.lower() == ".jsonl":
        write_jsonl_atomic(out, rows)
    else:
        _write_parquet(out, rows)


def _write_parquet(out: Path, rows: Iterator[dict[str, Any]], batch: int = 5_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            pa.field("item_id", pa.string(), nullable=False),
            pa.field("prompt", pa.string(), nullable=False),
            pa.field("completions", pa.list_(pa.string()), nullable=False),
            pa.field("labels", pa.list_(pa.bool_()), nullable=False),
            pa.field("images", pa.list_(pa.string()), nullable=False),
            pa.field("split", pa.string()),
        ]
    )
    with run.atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        buffer: list[dict[str, Any]] = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= batch:
                writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                buffer.clear()
        writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
