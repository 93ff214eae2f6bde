"""What every chapter does first: the figure renderer for where it runs, and the project's errors as one line.

A chapter run on a user's own text (papermill, JupyterLab) should stop at a bad parameter with the
same one-line message the command line prints, not a traceback through the library. Figures carry
plotly.js inlined only when the book build runs the chapter (``lit_rnn.book.execute`` sets
``BOOK_ENV``); in JupyterLab they are plotly's MIME type alone, so a saved chapter stays small.
"""

from __future__ import annotations

import os
import sys

import pandas as pd

from lit_rnn.errors import UserError
from lit_rnn.viz import figures

ERROR_PREFIX = "lit-rnn: error: "
BOOK_ENV = "LIT_RNN_BOOK"  # "1" in the kernels of the book build


def _one_line(shell, etype, value, tb, tb_offset=None) -> None:
    """IPython's handler for UserError: the message alone, on stderr; the cell still fails."""
    print(f"{ERROR_PREFIX}{value}", file=sys.stderr)


def setup() -> None:
    """Set the figure renderer (book build or not), let tables show whole sentences, and show UserError as one
    line in this kernel (IPython only)."""
    figures.use_renderer(book=os.environ.get(BOOK_ENV) == "1")
    pd.set_option("display.max_colwidth", None)  # the scorecard's and the run descriptions' text, uncut
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((UserError,), _one_line)
