"""Headless Chromium for the book tests: the DOM after scripts ran, and a screenshot, of a page."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=20000",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(page: Path, *extra: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                                capture_output=True, text=True, timeout=180)
    return result.stdout


def rendered_dom(page: Path) -> str:
    """The page's DOM after its JavaScript ran (plotly and widgets draw into it)."""
    return _run(page, "--dump-dom")


def screenshot(page: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _run(page, f"--screenshot={target.resolve()}", "--window-size=1280,4000", "--hide-scrollbars")
