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

import functools
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
from radprm.exports.labels import check_labels
from radprm.miners.budget import CHARS_PER_TOKEN  # the fallback estimate when no --tokenizer is given
from radprm.schemas.records import Item

MASKED = ("cut", "keep")
"""TRL rows and unlabelled steps: cut the chain before the first one, or keep it with `label_mask` False."""
TRUNCATION = ("warn", "cut", "quarantine")
"""Step labels past max_length: count them, drop those steps from the row, or quarantine the item."""


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
    masked: str = "cut",
    soft: bool = False,
    truncation: str = "warn",
) -> Iterator[dict[str, Any]]:
    """Turn items into TRL rows, counting steps, convention effects, masked steps and truncated labels."""
    truncated = truncated_items = 0
    for item in items_with_steps(items, summary, stage="export_trl"):
        labelled = label_item(item, summary, after_first_bad=after_first_bad, unsure=unsure,
                              cut_at_unsure=masked == "cut")
        if labelled is None:
            continue
        texts, labels, kept = labelled
        prompt = build_prompt(item, include_report=include_report)
        if max_length is not None and counter is not None:
            counts = counter.count([prompt] + [t + step_separator for t in texts])
            lost = dropped_labels(counts[0], counts[1:], max_length)
            truncated += lost
            truncated_items += 1 if lost else 0
            if lost and truncation == "quarantine":
                summary.quarantine.add(
                    stage="export_trl", reason_code="labels_truncated", record_id=item.item_id, field="steps",
                    item_id=item.item_id, report_id=item.report_id,
                    detail=f"{lost} of {len(texts)} step labels fall past max_length {max_length}")
                summary.items -= 1
                summary.steps -= len(texts)
                continue
            if lost and truncation == "cut":
                keep = len(texts) - lost
                summary.steps -= lost
                summary.extra["truncation_cut_steps"] = summary.extra.get("truncation_cut_steps", 0) + lost
                if keep == 0:  # the prompt alone fills max_length: no label would survive
                    summary.quarantine.add(
                        stage="export_trl", reason_code="labels_truncated", record_id=item.item_id, field="prompt",
                        item_id=item.item_id, report_id=item.report_id,
                        detail=f"the prompt alone is {counts[0]} tokens, max_length {max_length}")
                    summary.items -= 1
                    continue
                texts, labels, kept = texts[:keep], labels[:keep], kept[:keep]
        row: dict[str, Any] = {"item_id": item.item_id, "prompt": prompt, "completions": texts,
                               "labels": [bool(lab) for lab in labels], "images": list(item.image_paths),
                               "split": item.split}
        if masked == "keep":
            # masked steps carry a placeholder False label; trainers must skip them (label_mask False)
            row["label_mask"] = [lab is not None for lab in labels]
        if soft:
            row["mc_scores"] = [s.mc_score for s in kept]
        yield row
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
    labels: str = "report",
    masked: str = "cut",
    soft: bool = False,
    truncation: str = "warn",
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
        labels: label source: report, rollout, agree, any-bad or judge (`radprm.exports.labels`).
        masked: steps without a label (unsure, or not settled by the label sources): cut (end the chain
            before the first one, what stock PRMTrainer needs) or keep (placeholder label False and a
            `label_mask` column, False on masked steps, for trainers that skip masked steps).
        soft: add `mc_scores`, the rollout soft label of each step (None where not rolled out).
        truncation: steps whose label falls past `max_length` (which stock PRMTrainer drops silently):
            warn (count them), cut (drop those steps from the row, so the row holds exactly what the trainer
            will supervise) or quarantine (skip the item, reason `labels_truncated`).

    Returns:
        An `ExportSummary`; `extra["truncated_labels"]` holds the truncation count.

    Raises:
        InputError: bad output suffix, unknown convention, unsure policy, label source, masked or truncation
            policy, bad max_length or tokenizer path, or truncation cut/quarantine without max_length.
        RunError: no row exported; with `strict`, any item quarantined.
        ShardError: the directory is not a readable shard directory.
    """
    # option errors first, before a tokenizer is loaded (run_export repeats these cheap checks)
    check_out(out, (".jsonl", ".parquet"))
    check_after_first_bad(after_first_bad)
    check_unsure(unsure)
    check_labels(labels)
    if masked not in MASKED:
        raise InputError(f"unknown value '{masked}' ({', '.join(MASKED)})", field="masked", hint="check --masked")
    if truncation not in TRUNCATION:
        raise InputError(f"unknown value '{truncation}' ({', '.join(TRUNCATION)})", field="truncation",
                         hint="check --truncation")
    if truncation != "warn" and max_length is None:
        raise InputError(f"--truncation {truncation} needs --max-length", field="truncation")
    if max_length is not None and max_length < 1:
        raise InputError("must be a positive number of tokens", field="max_length")
    counter = TokenCounter(tokenizer) if max_length is not None or tokenizer is not None else None
    summary = run_export(
        directory, out, format="trl", after_first_bad=after_first_bad, unsure=unsure, progress=progress,
        use_reviews=use_reviews, suffixes=(".jsonl", ".parquet"), strict=strict, labels=labels, split=split,
        report_mentions=report_mentions, write=functools.partial(_write_rows, masked=masked, soft=soft),
        rows=lambda items, summary: trl_rows(
            items, summary, include_report=include_report, after_first_bad=after_first_bad,
            max_length=max_length, counter=counter, step_separator=step_separator, unsure=unsure, masked=masked,
            soft=soft, truncation=truncation,
        ),
        options={"include_report": include_report, "step_separator": step_separator, "max_length": max_length,
                 "tokens": counter.description if counter is not None else None, "masked": masked, "soft": soft,
                 "truncation": truncation},
    )
    if max_length is not None and counter is not None:
        lost, n_items = summary.extra["truncated_labels"], summary.extra["truncated_items"]
        state = "WARNING: " if lost else ""
        done = {"warn": "would drop", "cut": "cut", "quarantine": "quarantined the items of"}[truncation]
        summary.notes.append(
            f"{state if truncation == 'warn' else ''}max_length {max_length}: truncation {done} {lost} step labels "
            f"in {n_items} items (tokens {counter.description}; --truncation {truncation})"
        )
    return summary


def _write_rows(out: Path, rows: Iterator[dict[str, Any]], *, masked: str = "cut", soft: bool = False) -> None:
    """Write TRL rows atomically as JSON lines or Parquet, by the output's suffix."""
    if out.suffix.lower() == ".jsonl":
        write_jsonl_atomic(out, rows)
    else:
        _write_parquet(out, rows, masked=masked, soft=soft)


def _write_parquet(out: Path, rows: Iterator[dict[str, Any]], batch: int = 5_000, *, masked: str = "cut",
                   soft: bool = False) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("completions", pa.list_(pa.string()), nullable=False),
        pa.field("labels", pa.list_(pa.bool_()), nullable=False),
        pa.field("images", pa.list_(pa.string()), nullable=False),
        pa.field("split", pa.string()),
    ]
    if masked == "keep":  # added columns only (PRM trainers read prompt, completions, labels[, images])
        fields.append(pa.field("label_mask", pa.list_(pa.bool_()), nullable=False))
    if soft:
        fields.append(pa.field("mc_scores", pa.list_(pa.float64()), nullable=False))
    schema = pa.schema(fields)
    with run.atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        buffer: list[dict[str, Any]] = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= batch:
                writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                buffer.clear()
        writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
