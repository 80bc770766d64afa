"""PRM training and scoring worker: runs in the train venv (torch + TRL), driven by `radprm.training`.

This file is executed by path with the train venv's Python (3.11 on CPU machines: the only CPU torch
wheel here is for 3.11, see training/build_env.sh), so it imports nothing from radprm and needs only
the standard library, torch, transformers, datasets and TRL (pinned in build_env.sh).

    python worker.py train CONFIG.json     train a PRM with TRL's PRMTrainer, save a checkpoint
    python worker.py score CONFIG.json     score every step of every chain with a checkpoint

CONFIG is a JSON file written by radprm (see `radprm.training.api`). The worker prints progress lines
to stderr and its result as one JSON object on the last line of stdout. A problem the user can fix
(a checkpoint that is not a token-classification model, a data file without the TRL columns) exits
with code 2 and one line `radprm-error: <message>` on stderr; radprm turns it into an InputError.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

USER_ERROR = 2
TRAIN_COLUMNS = ("prompt", "completions", "labels")


class UserError(Exception):
    """A problem with the user's input: reported as one line, exit code 2."""


def log(msg: str) -> None:
    """A progress line on stderr."""
    print(msg, file=sys.stderr, flush=True)


# --- data ------------------------------------------------------------------------------------------
def read_rows(path: str, *, need_labels: bool) -> list[dict[str, Any]]:
    """Read TRL stepwise-supervision rows (JSON lines), checking the columns row by row."""
    rows = []
    need = TRAIN_COLUMNS if need_labels else TRAIN_COLUMNS[:2]
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path} row {n}: not JSON ({exc.msg})") from None
            missing = [c for c in need if c not in row]
            if missing:
                raise UserError(f"{path} row {n}, field '{missing[0]}': missing (TRL rows need {', '.join(need)})")
            if not isinstance(row["completions"], list) or not row["completions"]:
                raise UserError(f"{path} row {n}, field 'completions': expected a non-empty list of steps")
            if need_labels and len(row["labels"]) != len(row["completions"]):
                raise UserError(f"{path} row {n}, field 'labels': {len(row['labels'])} labels for "
                                f"{len(row['completions'])} steps")
            rows.append(row)
    if not rows:
        raise UserError(f"{path}: no rows")
    return rows


def encode(row: dict[str, Any], tokenizer: Any, separator: str, max_length: int | None) -> dict[str, list[int]]:
    """Token ids and per-token labels exactly as TRL's PRMTrainer builds them (its own `tokenize_row`).

    A step label of None (a masked step, e.g. where two label sources disagree) becomes -100, which the
    loss ignores, like every non-final token of a step.
    """
    from trl.experimental.prm import PRMTrainer

    raw = row.get("labels") or [True] * len(row["completions"])
    masked = [label is None for label in raw]
    features = {"prompt": row["prompt"], "completions": row["completions"],
                "labels": [bool(label) if label is not None else False for label in raw]}
    out = PRMTrainer.tokenize_row(features, tokenizer, separator, max_length, None, False, False)
    if any(masked):
        positions = [i for i, t in enumerate(out["labels"]) if t != -100]
        for step, pos in enumerate(positions):
            if masked[step]:
                out["labels"][pos] = -100
    return out


def label_positions(labels: list[int]) -> list[int]:
    """Token positions that carry a step label (the last token of each step + separator)."""
    return [i for i, t in enumerate(labels) if t != -100]


# --- models ----------------------------------------------------------------------------------------
def tiny_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on the data itself (no download): for from-scratch test models."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def tiny_model(tokenizer: Any, cfg: dict[str, Any]) -> Any:
    """A small Llama-architecture token classifier initialised from scratch (seconds to train on CPU)."""
    from transformers import LlamaConfig, LlamaForTokenClassification

    hidden = int(cfg.get("tiny_hidden", 64))
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=int(cfg.get("tiny_layers", 2)), num_attention_heads=4, num_key_value_heads=4,
        max_position_embeddings=int(cfg.get("max_length") or 1024) + 8, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, num_labels=2,
        id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1},
    )
    return LlamaForTokenClassification(config)


def pretrained_model(path: str, cfg: dict[str, Any]) -> tuple[Any, Any]:
    """A local Hugging Face causal LM folder loaded as a 2-label token classifier (new score head)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    if not Path(path, "config.json").is_file():
        raise UserError(f"{path}: not a Hugging Face model folder (no config.json); pass a local folder or 'tiny'")
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForTokenClassification.from_pretrained(
        path, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1}, dtype="float32")
    model.config.pad_token_id = tokenizer.pad_token_id
    freeze = int(cfg.get("freeze_layers") or 0)
    if freeze:
        base = getattr(model, model.base_model_prefix)
        for p in base.embed_tokens.parameters():
            p.requires_grad = False
        for layer in base.layers[:freeze]:
            for p in layer.parameters():
                p.requires_grad = False
    return model, tokenizer


def load_checkpoint(path: str) -> tuple[Any, Any]:
    """Load a trained PRM; a folder that is not a 2-label token-classification model is a UserError."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    if not Path(path, "config.json").is_file():
        raise UserError(f"{path}: not a model checkpoint (no config.json)")
    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as exc:  # transformers raises OSError/ValueError/KeyError for malformed configs
        raise UserError(f"{path}: unreadable config.json ({str(exc).splitlines()[0]})") from None
    archs = config.architectures or []
    if not any(a.endswith("ForTokenClassification") for a in archs):
        raise UserError(f"{path}: not a token-classification model (architectures: {', '.join(archs) or 'none'}); "
                        "pass a checkpoint saved by `radprm train prm`")
    if config.num_labels != 2:
        raise UserError(f"{path}: token classifier has {config.num_labels} labels, a PRM has 2 (bad, good)")
    model = AutoModelForTokenClassification.from_pretrained(path, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model.eval()
    return model, tokenizer


# --- train -----------------------------------------------------------------------------------------
def train(cfg: dict[str, Any]) -> dict[str, Any]:
    """Train a PRM on TRL rows with PRMTrainer; save model + tokenizer to cfg['out']."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback, set_seed
    from trl.experimental.prm import PRMConfig, PRMTrainer

    start = time.perf_counter()
    torch.set_num_threads(int(cfg.get("threads") or max(1, (os.cpu_count() or 1))))
    set_seed(int(cfg["seed"]))
    rows = read_rows(cfg["data"], need_labels=True)
    log(f"train: {len(rows)} chains from {cfg['data']}")
    if cfg["model"] == "tiny":
        texts = [r["prompt"] for r in rows] + [s for r in rows for s in r["completions"]]
        tokenizer = tiny_tokenizer(texts, int(cfg.get("tiny_vocab", 2000)))
        model = tiny_model(tokenizer, cfg)
    else:
        model, tokenizer = pretrained_model(cfg["model"], cfg)
    separator, max_length = cfg["step_separator"], cfg.get("max_length")
    encoded = [encode(r, tokenizer, separator, max_length) for r in rows]
    n_good = sum(t == 1 for e in encoded for t in e["labels"])
    n_bad = sum(t == 0 for e in encoded for t in e["labels"])
    if n_good + n_bad == 0:
        raise UserError(f"{cfg['data']}: no step label left to train on (all masked or truncated)")
    dataset = Dataset.from_list(encoded)

    losses: list[dict[str, float]] = []

    class LossLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 - HF callback signature
            if logs and "loss" in logs:
                losses.append({"step": state.global_step, "loss": float(logs["loss"])})
                log(f"train: step {state.global_step}/{state.max_steps} loss {logs['loss']:.4f}")

    out = Path(cfg["out"])
    work = out.parent / f".{out.name}.trainer"
    args = PRMConfig(
        output_dir=str(work), max_steps=int(cfg["steps"]), per_device_train_batch_size=int(cfg["batch_size"]),
        gradient_accumulation_steps=int(cfg.get("grad_accum") or 1), learning_rate=float(cfg["learning_rate"]),
        lr_scheduler_type="constant_with_warmup", warmup_steps=int(cfg.get("warmup_steps") or 0),
        logging_steps=int(cfg["logging_steps"]), save_strategy="no", report_to=[], seed=int(cfg["seed"]),
        max_length=max_length, step_separator=separator, use_cpu=True, disable_tqdm=True,
        dataloader_num_workers=0, remove_unused_columns=False,
    )
    trainer = PRMTrainer(model=model, args=args, processing_class=tokenizer, train_dataset=dataset,
                         callbacks=[LossLog()])
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"checkpoint": str(out), "chains": len(rows), "step_labels": {"good": n_good, "bad": n_bad},
            "steps": int(cfg["steps"]), "losses": losses, "parameters": params, "trainable_parameters": trainable,
            "model": cfg["model"], "seconds": round(time.perf_counter() - start, 2),
            "versions": versions()}


# --- score -----------------------------------------------------------------------------------------
def score(cfg: dict[str, Any]) -> dict[str, Any]:
    """P(good) for every step of every row, read at the label positions PRMTrainer trains on."""
    import torch

    start = time.perf_counter()
    torch.set_num_threads(int(cfg.get("threads") or max(1, (os.cpu_count() or 1))))
    model, tokenizer = load_checkpoint(cfg["checkpoint"])
    rows = read_rows(cfg["data"], need_labels=False)
    separator, max_length = cfg["step_separator"], cfg.get("max_length")
    out_rows, truncated = [], 0
    with torch.no_grad():
        for row in rows:
            enc = encode({**row, "labels": None}, tokenizer, separator, max_length)
            positions = label_positions(enc["labels"])
            logits = model(input_ids=torch.tensor([enc["input_ids"]])).logits[0]
            probs = torch.softmax(logits.float(), dim=-1)[:, 1].tolist()
            scores: list[float | None] = [probs[p] for p in positions]
            missing = len(row["completions"]) - len(scores)
            truncated += missing
            scores += [None] * missing  # steps cut by max_length get no score
            out_rows.append({"key": row.get("key"), "scores": scores})
    with open(cfg["out"], "w", encoding="utf-8") as fh:
        for r in out_rows:
            fh.write(json.dumps(r) + "\n")
    return {"rows": len(out_rows), "steps_truncated": truncated, "seconds": round(time.perf_counter() - start, 2),
            "model_type": model.config.model_type}


def versions() -> dict[str, str]:
    """Versions of the training stack, recorded with every checkpoint."""
    import torch
    import transformers
    import trl

    return {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
            "python": sys.version.split()[0]}


def watch_parent(interval: float = 1.0) -> None:
    """Exit as soon as the process that started this worker is gone (killed, even with -9).

    An orphaned worker would hold the CPUs for minutes, training or scoring for no one.
    """
    parent = os.getppid()

    def run() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=run, name="watch-parent", daemon=True).start()


def main(argv: list[str]) -> int:
    """`worker.py train|score CONFIG.json`."""
    if len(argv) != 2 or argv[0] not in ("train", "score", "versions"):
        print("usage: worker.py train|score CONFIG.json", file=sys.stderr)
        return 64
    watch_parent()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded at run time
    try:
        cfg = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        result = {"train": train, "score": score, "versions": lambda _: versions()}[argv[0]](cfg)
    except UserError as exc:
        print(f"radprm-error: {exc}", file=sys.stderr)
        return USER_ERROR
    print(json.dumps(result, allow_nan=False, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
