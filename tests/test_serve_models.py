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
