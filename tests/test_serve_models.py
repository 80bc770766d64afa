"""serving/serve.sh model choice: RADPRM_SERVE_MODEL picks the model, each model has its own state file, and the
default (smollm2) keeps the state file the tests and the toolkit read. No server is started here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SERVE = Path(__file__).resolve().parents[1] / "serving" / "serve.sh"


def serve(args: list[str], cache: Path, model: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "RADPRM_CACHE": str(cache)}
    env.pop("RADPRM_SERVE_MODEL", None)
    if model is not None:
        env["RADPRM_SERVE_MODEL"] = model
    return subprocess.run(["bash", str(SERVE), *args], env=env, capture_output=True, text=True, timeout=60)


def test_each_model_has_its_own_state_file(tmp_path):
    default = serve(["status"], tmp_path)
    assert default.returncode == 3 and f"{tmp_path}/serve/server.json" in default.stderr
    gemma = serve(["status"], tmp_path, "gemma3-270m")
    assert gemma.returncode == 3 and f"{tmp_path}/serve/server-gemma3-270m.json" in gemma.stderr
    # a recorded default server is not the candidate's: stopping the candidate leaves it alone
    (tmp_path / "serve").mkdir(exist_ok=True)
    (tmp_path / "serve" / "server.json").write_text('{"pid": 999999999, "port": 1, "base_url": "x"}')
    stop = serve(["stop"], tmp_path, "gemma3-270m")
    assert stop.returncode == 0 and "no server recorded" in stop.stderr
    assert (tmp_path / "serve" / "server.json").exists()


def test_unknown_model_is_a_one_line_error(tmp_path):
    r = serve(["status"], tmp_path, "gpt-17")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["Error: RADPRM_SERVE_MODEL=gpt-17: unknown model (smollm2, gemma3-270m)"]


def test_an_older_conversion_is_redone(tmp_path):
    """serve.sh reconverts a model folder whose marker predates the current converter (e.g. Gemma without <bos>)."""
    import json
    import sys

    convert = SERVE.with_name("convert_gguf.py")

    def up_to_date(marker: dict | None) -> int:
        folder = tmp_path / "model"
        folder.mkdir(exist_ok=True)
        if marker is not None:
            (folder / ".radprm-converted").write_text(json.dumps(marker))
        return subprocess.run([sys.executable, str(convert), "--up-to-date", str(folder)], timeout=60).returncode

    assert up_to_date(None) == 1
    assert up_to_date({"source": "x.gguf", "converted_at": 0}) == 1  # converter 1: special-token flags dropped
    current = int(subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                                  "import convert_gguf; print(convert_gguf.CONVERTER)", str(SERVE.parent)],
                                 capture_output=True, text=True, timeout=60).stdout)
    assert up_to_date({"source": "x.gguf", "converter": current, "converted_at": 0}) == 0
