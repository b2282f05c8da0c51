"""Debian's chromium driven by Playwright, for the tests that open a page (the review site, the
service's questionnaire).  A missing browser or package skips the test, or fails it when
POLICYDSL_BROWSER=required (`make test`, hence CI)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        why = "Debian's chromium is not installed (apt-get install chromium); the page is not opened"
        if os.environ.get("POLICYDSL_BROWSER") == "required":  # `make test`, hence CI
            pytest.fail(why)
        pytest.skip(why)
    return path


def browser_api() -> Any:
    if os.environ.get("POLICYDSL_BROWSER") == "required":
        import playwright.sync_api

        return playwright.sync_api
    return pytest.importorskip("playwright.sync_api", reason="the `playwright` package is not installed")
