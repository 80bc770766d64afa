"""Headless Chromium for the browser tests (review page, QA report), found on the system, never downloaded.

Needs the Python `playwright` package (the `test` extras) and a system Chromium (Debian: `apt-get
install chromium`; or set RADPRM_CHROMIUM to a Chrome/Chromium binary). Playwright's own browser
download is not used. `MISSING` says why a browser test must skip; with RADPRM_REQUIRE_BROWSER=1 (CI,
`.ci/run`) `require_browser()` fails instead.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRED = os.environ.get("RADPRM_REQUIRE_BROWSER") == "1"
try:
    import playwright.sync_api as playwright_api
except ImportError:  # pragma: no cover - depends on the environment
    playwright_api = None
CHROMIUM = next(
    (p for p in map(shutil.which, (os.environ.get("RADPRM_CHROMIUM", ""), "chromium", "chromium-browser",
                                   "google-chrome")) if p),
    None,
)
MISSING = (
    "needs `pip install playwright` (test extras)" if playwright_api is None
    else "needs a system Chromium (apt-get install chromium, or RADPRM_CHROMIUM=/path)" if CHROMIUM is None
    else None
)
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def require_browser() -> list:
    """pytest marks for a browser test module: skip with the reason, or fail at import in CI."""
    if MISSING and REQUIRED:
        pytest.fail(f"RADPRM_REQUIRE_BROWSER=1 but the browser test {MISSING}", pytrace=False)
    return [pytest.mark.skipif(MISSING is not None, reason=MISSING or ""), pytest.mark.timeout(180)]
