"""Shared fixtures. The full shared data sets are read by path (../shared), never copied in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RADPRM_SHARED", ROOT.parent / "shared"))
IU_REPORTS = SHARED / "data" / "iu-xray" / "indiana_reports.csv"
IU_PROJECTIONS = SHARED / "data" / "iu-xray" / "indiana_projections.csv"
GOLD_LABELS = SHARED / "data" / "labels" / "openi_chestxray14_dev.csv"
CHEXPERT_LEXICONS = SHARED / "data" / "lexicons" / "chexpert"
NEGEX_DEV = SHARED / "data" / "negex" / "negex_annotations_dev.tsv"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the repo; set RADPRM_SHARED to move it)")
    return path


@pytest.fixture
def iu_reports() -> Path:
    """Path to the real IU X-ray reports CSV."""
    return _require(IU_REPORTS)


@pytest.fixture
def iu_projections() -> Path:
    """Path to the IU projections CSV (image file names per uid)."""
    return _require(IU_PROJECTIONS)


@pytest.fixture
def gold_labels() -> Path:
    """Path to the ChestX-ray14 dev gold labels for 3,080 IU reports."""
    return _require(GOLD_LABELS)


@pytest.fixture
def fixtures() -> Path:
    """Folder of tiny per-case input files."""
    return FIXTURES


@pytest.fixture(scope="module")
def parts():
    """(findings extractor, step validator), built once per test module (building medspaCy takes seconds)."""
    from radprm.validators.findings import FindingsExtractor
    from radprm.validators.steps import StepValidator

    extractor = FindingsExtractor()
    return extractor, StepValidator(extractor=extractor)


# --- LLM server fixtures (fake OpenAI-compatible server; real local vLLM) ---------------------------


@pytest.fixture
def fake_openai_server():
    """A local fake OpenAI-compatible server (tests/fakes/openai_server.py), closed after the test."""
    from fakes.openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        yield server


def _vllm_state_url() -> str | None:
    """Base URL from the state file `serving/serve.sh start` writes, if that server answers /health."""
    import json
    import urllib.request

    cache = Path(os.environ.get("RADPRM_CACHE", Path.home() / ".cache" / "radprm"))
    state = cache / "serve" / "server.json"
    try:
        base_url = json.loads(state.read_text())["base_url"]
    except (OSError, ValueError, KeyError):
        return None
    try:
        with urllib.request.urlopen(base_url.rstrip("/").removesuffix("/v1") + "/health", timeout=5) as r:
            return base_url if r.status == 200 else None
    except OSError:
        return None


@pytest.fixture(scope="session")
def vllm_base_url() -> str:
    """Base URL of a real vLLM server: $RADPRM_VLLM_BASE_URL, else the one `make serve` started.

    Skips when there is none, except under RADPRM_REQUIRE_VLLM=1 (CI), where it fails.
    """
    url = os.environ.get("RADPRM_VLLM_BASE_URL") or _vllm_state_url()
    if url:
        return url
    reason = "no vLLM server: run `make serve` (or set RADPRM_VLLM_BASE_URL to an OpenAI-compatible /v1 URL)"
    if os.environ.get("RADPRM_REQUIRE_VLLM") == "1":
        pytest.fail(reason + " [RADPRM_REQUIRE_VLLM=1]")
    pytest.skip(reason)


# --- object stores (tests/object_stores.py) ----------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint():
    """host:port of a moto S3 server with one bucket (`object_stores.BUCKET`), shared by the session."""
    from object_stores import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(monkeypatch):
    """Credentials moto accepts, in the environment of the test (and of the subprocesses it starts)."""
    from object_stores import S3_ENV

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def gcs_endpoint():
    """host:port of a GCS emulator with one bucket (`object_stores.BUCKET`), shared by the session."""
    from object_stores import gcs_server

    with gcs_server() as endpoint:
        yield endpoint


# --- the train venv (torch + TRL) for real PRM runs ------------------------------------------------
@pytest.fixture(scope="session")
def train_py() -> str:
    """The train Python (`bash training/build_env.sh`); skips without it, fails under RADPRM_REQUIRE_TRAIN=1."""
    import subprocess

    from radprm.errors import InputError
    from radprm.training.api import train_python

    try:
        py = train_python()
        subprocess.run([py, "-c", "import torch, trl.experimental.prm"], check=True, capture_output=True, timeout=300)
        return py
    except (InputError, Exception) as exc:  # noqa: BLE001 - any failure means no usable train venv
        reason = f"no train venv with torch + TRL ({exc}); build it with: bash training/build_env.sh"
        if os.environ.get("RADPRM_REQUIRE_TRAIN") == "1":
            pytest.fail(reason + " [RADPRM_REQUIRE_TRAIN=1]")
        pytest.skip(reason)
