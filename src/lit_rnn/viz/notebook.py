"""What every chapter does first: figures that survive into the book, and the project's errors as one line.

A chapter run on a user's own text (papermill, JupyterLab) should stop at a bad parameter with the
same one-line message the command line prints, not a traceback through the library.
"""

from __future__ import annotations

import sys

from lit_rnn.errors import UserError
from lit_rnn.viz import figures

ERROR_PREFIX = "lit-rnn: error: "


def _one_line(shell, etype, value, tb, tb_offset=None) -> None:
    """IPython's handler for UserError: the message alone, on stderr; the cell still fails."""
    print(f"{ERROR_PREFIX}{value}", file=sys.stderr)


def setup() -> None:
    """Set the figure renderer and show UserError as one line in this kernel (a no-op outside IPython)."""
    figures.use_book_renderer()
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((UserError,), _one_line)
