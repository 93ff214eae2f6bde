"""Building the site: Jupyter Book 1.x over the executed notebooks, warnings as errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from lit_rnn.errors import UserError


def build_site(project: Path = Path(".")) -> Path:
    """Run ``jupyter-book build`` (no execution, warnings as errors); returns the HTML folder."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", str(project),
               "--warningiserror", "--nitpick", "--keep-going"]
    html = project / "_build" / "html"
    shutil.rmtree(project / "_build", ignore_errors=True)
    if subprocess.run(command).returncode != 0:
        raise UserError("jupyter-book build failed (see the warnings above)")
    pages = list(html.rglob("*.html"))
    if not (html / "index.html").exists() or len(pages) < 2:
        raise UserError(f"jupyter-book produced no pages in {html}")
    return html
