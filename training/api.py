"""The Python API behind `radprm train prm` and `radprm eval prm`.

torch and TRL do not run in the toolkit's interpreter on CPU machines (the CPU torch wheel is for
Python 3.11 only), so both commands hand the work to `worker.py` run by the *train Python*:

1. the `python` argument (CLI `--python`), else
2. `$RADPRM_TRAIN_PYTHON`, else
3. this interpreter when it can import torch and trl (`pip install 'radprm[train]'` on a GPU machine), else
4. the train venv `${RADPRM_CACHE:-~/.cache/radprm}/train-venv/bin/python` (`bash training/build_env.sh`).

The worker's result comes back as JSON; a problem it reports as a user error (exit 2) becomes an
`InputError` here, so the CLI and the API fail the same way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from radprm import run
from radprm.errors import InputError, RunError
from radprm.evaluation.prm import ChainScores, PrmEval, score_chains
from radprm.exports.trl import build_prompt
from radprm.tables import cell_bool, read_table

WORKER = Path(__file__).with_name("worker.py")
BUILD_SCRIPT = Path(__file__).with_name("build_env.sh")
TRAIN_META = "radprm_train.json"
"""Written into every checkpoint: the training config, data checksum, loss curve and versions."""
SPLITS = ("tune", "test", "all")


def _cache() -> Path:
    return Path(os.environ.get("RADPRM_CACHE", Path.home() / ".cache" / "radprm")).expanduser()


def train_python(python: str | Path | None = None) -> str:
    """The Python that runs the worker (see the module docstring for the order).

    Raises:
        InputError: the given or configured interpreter does not exist, or no train Python is found.
    """
    chosen = python or os.environ.get("RADPRM_TRAIN_PYTHON")
    if chosen:
        if not Path(chosen).is_file():
            raise InputError("train Python not found", path=chosen, field="python",
                             hint=f"build it with: bash {BUILD_SCRIPT}")
        return str(chosen)
    if importlib.util.find_spec("torch") and importlib.util.find_spec("trl"):
        return sys.executable
    venv = _cache() / "train-venv" / "bin" / "python"
    if venv.is_file():
        return str(venv)
    raise InputError("no Python with torch and TRL found", path=venv, field="python",
                     hint=f"build the train venv with: bash {BUILD_SCRIPT} (or pip install 'radprm[train]')")


def _run_worker(command: str, config: dict[str, Any], python: str, *, echo: bool = True) -> dict[str, Any]:
    """Run `worker.py COMMAND CONFIG` and return its JSON result; stderr lines are passed through."""
    with tempfile.TemporaryDirectory(prefix="radprm-worker-") as tmp:
        cfg_path = Path(tmp) / "config.json"
        cfg_path.write_text(json.dumps(config), encoding="utf-8")
        env = {**os.environ, "PYTHONNOUSERSITE": "1", "TOKENIZERS_PARALLELISM": "false"}
        proc = subprocess.Popen([python, str(WORKER), command, str(cfg_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        user_error, tail = None, []
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.startswith("radprm-error: "):
                user_error = line.removeprefix("radprm-error: ")
                continue
            tail = (tail + [line])[-30:]
            if echo and (line.startswith(("train:", "score:"))):
                print(line, file=sys.stderr, flush=True)
        stdout = proc.stdout.read() if proc.stdout else ""
        code = proc.wait()
    if code == 2 and user_error:
        raise InputError(user_error)
    if code != 0:
        detail = "\n".join(tail[-12:])
        raise RuntimeError(f"PRM worker `{command}` failed (exit {code}, python {python}):\n{detail}")
    try:
        return json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"PRM worker `{command}` printed no result: {stdout[-500:]!r}") from exc


# --- labels and data -------------------------------------------------------------------------------
def step_labels(path: str | Path, *, split: str = "all") -> dict[tuple[str, int], bool | None]:
    """Gold or predicted step labels keyed by (chain_id, step_index); None marks a step without a label.

    Reads any of the step-label tables radprm knows, by their columns:
    natural sets (`good`, `scored`, `split`: unscored steps are None; `split` filters), templated sets
    (`expected_label`: `radprm eval stepset`, `radprm perturb`) and `radprm validate` step tables
    (`label`, `verdict`: verdict `unsure` is None).

    Raises:
        InputError: unknown split, missing file, a row without chain_id/step_index or a label column.
    """
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}", field="split", hint="tune, test or all")
    path = Path(path)
    labels: dict[tuple[str, int], bool | None] = {}
    layout = None
    for n, row in enumerate(read_table(path), 1):
        if layout is None:
            layout = ("natural" if {"good", "scored", "split"} <= set(row) else "templated" if "expected_label" in row
                      else "validated" if "label" in row else None)
            if layout is None:
                raise InputError("no step label column", path=path, row=n, field="label",
                                 hint="natural set (good, scored, split), templated set (expected_label) "
                                      "or a `radprm validate` step table (label, verdict)")
            if split != "all" and layout != "natural":
                raise InputError(f"--split {split} needs a natural set (a split column)", path=path, field="split")
        try:
            key = (str(row["chain_id"]), int(row["step_index"]))
        except (KeyError, TypeError, ValueError):
            raise InputError("missing or bad chain_id / step_index", path=path, row=n, field="step_index") from None
        if key in labels:
            raise InputError(f"duplicate step {key[0]}#{key[1]}", path=path, row=n, field="step_index")
        if layout == "natural":
            if split != "all" and row.get("split") != split:
                continue
            scored = cell_bool(row["scored"], path, n, "scored")
            labels[key] = cell_bool(row["good"], path, n, "good") if scored else None
        elif layout == "templated":
            labels[key] = cell_bool(row["expected_label"], path, n, "expected_label")
        else:
            labels[key] = None if row.get("verdict") == "unsure" else cell_bool(row["label"], path, n, "label")
    if not labels:
        raise InputError("no step labels" + (f" in split {split!r}" if split != "all" else ""), path=path)
    return labels


def _chains_with_prompts(chains: str | Path, reports: str | Path | None, *, include_report: bool,
                         **reader_options: Any) -> list[tuple[Any, str]]:
    """(chain, prompt) for every chain of a CHAINS file; the prompt is the one `radprm export trl` writes."""
    from radprm.quarantine import QuarantineSink
    from radprm.validators.batch import load_reports, needed_report_ids
    from radprm.validators.chains_io import read_chains

    rows = [r.chain for r in read_chains(chains)]  # a bad chain row is a one-line InputError
    texts: dict[str, str] = {}
    if include_report:
        if reports is None:
            raise InputError("--reports is needed to build the PRM prompt (report + question)", path=chains,
                             field="reports", hint="or pass --no-report to score without the report")
        wanted, _ = needed_report_ids(chains)
        with QuarantineSink(None, keep=0) as sink:
            texts = {k: r.text for k, r in load_reports(reports, wanted, sink, **reader_options).items()}
        missing = sorted({c.report_id for c in rows} - set(texts))
        if missing:
            raise InputError(f"{len(missing)} report id(s) not in the reports input, e.g. {missing[0]!r}",
                             path=reports, field="report_id")
    out = []
    for c in rows:
        item = SimpleNamespace(report_text=texts.get(c.report_id, ""), question=c.question or "", options=c.options)
        out.append((c, build_prompt(item, include_report=include_report)))
    return out


def trl_from_chains(
    chains: str | Path,
    labels: str | Path,
    out: str | Path,
    *,
    reports: str | Path | None = None,
    split: str = "all",
    exclude_reports: Iterable[str] = (),
    include_report: bool = True,
    **reader_options: Any,
) -> dict[str, int]:
    """Write TRL stepwise-supervision rows (`radprm export trl` layout) from a CHAINS file + step labels.

    For training sets that are not shards: the natural-chain tune split with its gold or validator
    labels, or a perturbation stepset. A chain's steps after its last labelled step are cut; unlabelled
    steps before it are kept with label None (masked in training). Chains on `exclude_reports` (e.g.
    the report ids of an evaluation split) are left out.

    Returns:
        counts: chains written, chains skipped (no label, excluded report), steps, bad steps, masked steps.
    """
    step = step_labels(labels, split=split)
    excluded = set(map(str, exclude_reports))
    counts = {"chains": 0, "skipped_no_label": 0, "skipped_excluded_report": 0, "steps": 0, "bad": 0, "masked": 0}
    rows = []
    for chain, prompt in _chains_with_prompts(chains, reports, include_report=include_report, **reader_options):
        if chain.report_id in excluded:
            counts["skipped_excluded_report"] += 1
            continue
        lab = [step.get((chain.chain_id, i)) for i in range(len(chain.steps))]
        known = [i for i, v in enumerate(lab) if v is not None]
        if not known:
            counts["skipped_no_label"] += 1
            continue
        last = known[-1] + 1
        rows.append({"prompt": prompt, "completions": chain.steps[:last], "labels": lab[:last],
                     "item_id": chain.chain_id, "report_id": chain.report_id})
        counts["chains"] += 1
        counts["steps"] += last
        counts["bad"] += sum(v is False for v in lab[:last])
        counts["masked"] += sum(v is None for v in lab[:last])
    with run.atomic_write(out) as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return counts


# --- train -----------------------------------------------------------------------------------------
@dataclass
class TrainSummary:
    """What `train_prm` did: data, model, loss curve, checkpoint."""

    data: str
    checkpoint: str
    model: str
    steps: int
    chains: int = 0
    step_labels: dict[str, int] = field(default_factory=dict)
    losses: list[dict[str, float]] = field(default_factory=list)
    parameters: int = 0
    trainable_parameters: int = 0
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    def _window(self) -> int:
        """Logged losses averaged at each end: 3, fewer for short runs (the two ends never overlap)."""
        return max(1, min(3, len(self.losses) // 2))

    @property
    def loss_start(self) -> float | None:
        """Mean of the first logged losses (up to three)."""
        head = [p["loss"] for p in self.losses[: self._window()]]
        return sum(head) / len(head) if head else None

    @property
    def loss_end(self) -> float | None:
        """Mean of the last logged losses (up to three)."""
        tail = [p["loss"] for p in self.losses[-self._window():]]
        return sum(tail) / len(tail) if tail else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (also written into the checkpoint as radprm_train.json)."""
        return {"data": self.data, "checkpoint": self.checkpoint, "model": self.model, "steps": self.steps,
                "chains": self.chains, "step_labels": self.step_labels, "losses": self.losses,
                "loss_start": self.loss_start, "loss_end": self.loss_end, "parameters": self.parameters,
                "trainable_parameters": self.trainable_parameters, "seconds": self.seconds,
                "versions": self.versions}

    def render(self) -> str:
        """Plain-text summary for the terminal."""
        s, e = self.loss_start, self.loss_end
        trend = "n/a"
        if s is not None and e is not None:
            trend = f"{s:.4f} -> {e:.4f} ({'decreasing' if e < s else 'NOT decreasing'})"
        labels = self.step_labels
        return "\n".join([
            f"trained PRM: {self.checkpoint}",
            f"  data        {self.data}: {self.chains} chains, {labels.get('good', 0)} good / {labels.get('bad', 0)} "
            "bad step labels",
            f"  model       {self.model} ({self.parameters:,} parameters, {self.trainable_parameters:,} trained)",
            f"  steps       {self.steps}, loss {trend}",
            "  versions    " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
            f"  {self.seconds:.1f}s",
        ])


def train_prm(
    data: str | Path,
    out: str | Path,
    *,
    model: str = "tiny",
    steps: int = 50,
    batch_size: int = 4,
    learning_rate: float | None = None,
    max_length: int = 1024,
    step_separator: str = "\n",
    seed: int = 0,
    logging_steps: int = 5,
    freeze_layers: int = 0,
    overwrite: bool = False,
    python: str | Path | None = None,
    threads: int | None = None,
) -> TrainSummary:
    """Train a process reward model with TRL's PRMTrainer on a `radprm export trl` file; save a checkpoint.

    Args:
        data: TRL stepwise-supervision JSONL (`prompt`, `completions`, `labels`; a None label is masked).
        out: checkpoint folder to create (model, tokenizer, radprm_train.json); written whole or not at all.
        model: `tiny` (a 2-layer Llama token classifier and a BPE tokenizer trained on the data, from
            scratch: seconds on CPU, for tests) or a local Hugging Face causal-LM folder (e.g. the served
            SmolLM2-135M at ~/.cache/radprm/models/smollm2-135m-instruct), loaded with a new 2-label head.
        steps: optimizer steps. batch_size: chains per step. learning_rate: default 1e-3 (tiny) / 2e-5.
        max_length: token budget per chain (labels past it are lost: `radprm export trl --max-length` counts them).
        step_separator: appended to every step, as PRMTrainer does; must match the export.
        freeze_layers: pretrained models only: freeze the embeddings and this many lower layers.
        overwrite: replace an existing `out`.
        python: the train Python (see `train_python`).

    Raises:
        InputError: missing data, `out` exists without `overwrite`, bad rows, no train Python.
    """
    data, out = Path(data), Path(out)
    if not data.is_file():
        raise InputError("file not found", path=data)
    if out.exists() and not overwrite:
        raise InputError("output exists", path=out, field="out", hint="pass --overwrite or another folder")
    if model != "tiny" and not Path(model).expanduser().is_dir():
        raise InputError("model folder not found", path=model, field="model",
                         hint="'tiny' or a local Hugging Face folder; nothing is downloaded")
    if steps < 1 or batch_size < 1:
        raise InputError("steps and batch size must be >= 1", field="steps")
    py = train_python(python)
    lr = learning_rate if learning_rate is not None else (1e-3 if model == "tiny" else 2e-5)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    ckpt = tmp / "checkpoint"
    config = {"data": str(data.resolve()), "out": str(ckpt), "model": "tiny" if model == "tiny" else
              str(Path(model).expanduser().resolve()), "steps": steps, "batch_size": batch_size, "learning_rate": lr,
              "max_length": max_length, "step_separator": step_separator, "seed": seed,
              "logging_steps": max(1, min(logging_steps, steps)), "freeze_layers": freeze_layers, "threads": threads}
    try:
        result = _run_worker("train", config, py)
        summary = TrainSummary(data=str(data), checkpoint=str(out), model=model, steps=steps, chains=result["chains"],
                               step_labels=result["step_labels"], losses=result["losses"],
                               parameters=result["parameters"], trainable_parameters=result["trainable_parameters"],
                               seconds=result["seconds"], versions=result["versions"])
        meta = {**summary.as_dict(), "config": {k: v for k, v in config.items() if k not in ("out", "data")},
                "data_sha256": run.file_sha256(data), "created_at": time.time()}
        run.write_text_atomic(ckpt / TRAIN_META, json.dumps(meta, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        ckpt.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


# --- eval ------------------------------------------------------------------------------------------
def check_checkpoint(checkpoint: str | Path) -> dict[str, Any]:
    """Read a checkpoint's config.json and check that it is a 2-label token classifier (no torch needed).

    Raises:
        InputError: not a folder with config.json, or not a token-classification model (one line).
    """
    path = Path(checkpoint)
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise InputError("not a model checkpoint (no config.json)", path=path, field="checkpoint",
                         hint="pass a folder saved by `radprm train prm`")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable config.json ({exc})", path=cfg_path, field="checkpoint") from None
    archs = cfg.get("architectures") or []
    if not any(str(a).endswith("ForTokenClassification") for a in archs):
        raise InputError(f"not a token-classification model (architectures: {', '.join(archs) or 'none'})",
                         path=path, field="checkpoint", hint="pass a checkpoint saved by `radprm train prm`")
    n_labels = len(cfg.get("id2label") or {}) or cfg.get("num_labels", 2)
    if n_labels != 2:
        raise InputError(f"token classifier with {n_labels} labels; a PRM has 2 (bad, good)", path=path,
                         field="checkpoint")
    return cfg


def checkpoint_max_length(checkpoint: str | Path) -> int | None:
    """The token budget a checkpoint was trained with (its `radprm_train.json`), None when not recorded."""
    meta = Path(checkpoint) / TRAIN_META
    try:
        value = json.loads(meta.read_text(encoding="utf-8")).get("config", {}).get("max_length")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return int(value) if value else None


def score_prompts(
    checkpoint: str | Path,
    rows: Iterable[dict[str, Any]],
    *,
    python: str | Path | None = None,
    max_length: int | None = None,
    step_separator: str = "\n",
    echo: bool = True,
) -> dict[str, list[float | None]]:
    """P(good) of every step of `rows` ({key, prompt, completions}) from a trained PRM, in one worker run.

    Steps cut by `max_length` (default: the checkpoint's training budget, else 2048) score None.

    Raises:
        InputError: no train Python; the worker's own one-line input errors.
        RuntimeError: the worker failed (its last stderr lines are in the message).
    """
    py = train_python(python)
    budget = max_length or checkpoint_max_length(checkpoint) or 2048
    with tempfile.TemporaryDirectory(prefix="radprm-prm-score-") as tmp:
        data, scored = Path(tmp) / "steps.jsonl", Path(tmp) / "scores.jsonl"
        with data.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({"key": r["key"], "prompt": r["prompt"], "completions": r["completions"]}) + "\n")
        _run_worker("score", {"checkpoint": str(Path(checkpoint).resolve()), "data": str(data), "out": str(scored),
                              "max_length": budget, "step_separator": step_separator}, py, echo=echo)
        return {s["key"]: s["scores"] for s in map(json.loads, scored.read_text(encoding="utf-8").splitlines())}


def _trl_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, row in enumerate(read_table(path), 1):
        for name in ("prompt", "completions"):
            if name not in row:
                raise InputError("missing column", path=path, row=n, field=name)
        rows.append({"key": str(row.get("item_id") or row.get("chain_id") or n), "prompt": row["prompt"],
                     "completions": list(row["completions"]), "labels": row.get("labels")})
    if not rows:
        raise InputError("no rows", path=path)
    return rows


def eval_prm(
    checkpoint: str | Path,
    steps: str | Path,
    *,
    gold: str | Path | None = None,
    reports: str | Path | None = None,
    split: str = "all",
    threshold: float = 0.5,
    include_report: bool = True,
    max_length: int | None = None,
    step_separator: str = "\n",
    scores_out: str | Path | None = None,
    python: str | Path | None = None,
    **reader_options: Any,
) -> PrmEval:
    """Score every step of STEPS with a trained PRM and compare with gold step labels.

    Args:
        checkpoint: folder saved by `train_prm` (any 2-label token-classification model).
        steps: a CHAINS file (chain_id, report_id, question, options, steps; needs `reports` for the
            prompt) or a TRL export (prompt, completions[, labels], item_id).
        gold: step labels (natural set, templated set or validate table, see `step_labels`); without it
            the TRL file's own `labels` are the gold.
        split: natural gold sets: score this split only (tune, test, all).
        threshold: P(good) below it flags a step bad.
        scores_out: optional JSONL of per-step scores (chain_id, step_index, p_good, gold).

    Raises:
        InputError: the checkpoint is not a token classifier, a file or column is missing, no step has
            both a score and gold. Nothing is written in any of these cases.
    """
    start = time.perf_counter()
    check_checkpoint(checkpoint)
    steps = Path(steps)
    if not steps.is_file():
        raise InputError("file not found", path=steps)
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}", field="split", hint="tune, test or all")
    if scores_out is not None:
        run.output_paths(scores_out, suffixes=(".jsonl",), clear_stale=False)
    first = next(iter(read_table(steps)), None)
    if first is None:
        raise InputError("no rows", path=steps)
    gold_labels = step_labels(gold, split=split) if gold is not None else None
    if "completions" in first:
        rows = _trl_rows(steps)
        if gold_labels is None and any(r["labels"] is None for r in rows):
            raise InputError("no gold: pass --gold or a TRL file with labels", path=steps, field="labels")
    else:
        if gold_labels is None:
            raise InputError("--gold is needed with a CHAINS file", path=steps, field="gold")
        rows = [{"key": c.chain_id, "prompt": p, "completions": c.steps, "labels": None}
                for c, p in _chains_with_prompts(steps, reports, include_report=include_report, **reader_options)]
    if gold_labels is not None:  # score only chains that have gold (e.g. the test split)
        keyed = {k for k, _ in gold_labels}
        rows = [r for r in rows if r["key"] in keyed]
        if not rows:
            raise InputError("no chain of STEPS has a gold label" + (f" in split {split!r}" if split != "all" else ""),
                             path=gold, field="chain_id")
    scores = score_prompts(checkpoint, rows, python=python, max_length=max_length, step_separator=step_separator)
    chains = []
    for r in rows:
        if gold_labels is not None:
            g = [gold_labels.get((r["key"], i)) for i in range(len(r["completions"]))]
        else:
            g = [None if v is None else bool(v) for v in r["labels"]]
        chains.append(ChainScores(r["key"], scores[r["key"]], g))
    result = score_chains(chains, threshold=threshold)
    if result.steps == 0:
        raise RunError("no step has both a PRM score and a gold label", path=gold or steps)
    result.checkpoint, result.gold_path, result.split = str(checkpoint), str(gold or steps), split
    if scores_out is not None:
        with run.atomic_write(scores_out) as fh:
            for c in chains:
                for i, (s, g) in enumerate(zip(c.scores, c.gold, strict=True)):
                    fh.write(json.dumps({"chain_id": c.chain_id, "step_index": i, "p_good": s, "gold": g}) + "\n")
    result.seconds = time.perf_counter() - start
    return result
