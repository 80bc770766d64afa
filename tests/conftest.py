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
