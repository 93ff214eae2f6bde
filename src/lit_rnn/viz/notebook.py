"""What every chapter does first: the figure renderer for where it runs, and the project's errors as one line.

A chapter run on a user's own text (papermill, JupyterLab) should stop at a bad parameter with the
same one-line message the command line prints, not a traceback through the library. Figures are
plotly's MIME type, which JupyterLab draws; when the book build runs the chapter (``lit_rnn.book.execute``
sets ``BOOK_ENV``) they also carry an HTML copy that draws with the site's one shared plotly.js
(``_static/plotly/plotly.min.js``), never a copy of plotly.js inlined, so pages and the notebooks
the site offers for download stay small.
"""

from __future__ import annotations

import os
import sys

import pandas as pd
import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer

from lit_rnn.errors import UserError

ERROR_PREFIX = "lit-rnn: error: "
BOOK_ENV = "LIT_RNN_BOOK"  # "1" in the kernels of the book build
SITE_RENDERER = "lit_rnn_site"


class SiteHtmlRenderer(MimetypeRenderer):
    """A figure as HTML for the book's pages: a div and the call that draws it, plotly.js left to the site.

    Jupyter Book 1 drops plotly's MIME type; the site loads plotly.js once on every page
    (``html_js_files`` in ``_config.yml``), so each figure carries only its data.
    """

    def to_mimebundle(self, fig_dict: dict) -> dict:
        return {"text/html": pio.to_html(fig_dict, include_plotlyjs=False, full_html=False, validate=False)}


def use_renderer(book: bool) -> None:
    """Show figures as plotly's MIME type (JupyterLab draws it); in the book build also as the site's HTML."""
    pio.renderers[SITE_RENDERER] = SiteHtmlRenderer()
    pio.renderers.default = f"plotly_mimetype+{SITE_RENDERER}" if book else "plotly_mimetype"


def _one_line(shell, etype, value, tb, tb_offset=None) -> None:
    """IPython's handler for UserError: the message alone, on stderr; the cell still fails."""
    print(f"{ERROR_PREFIX}{value}", file=sys.stderr)


def setup() -> None:
    """Set the figure renderer (book build or not), let tables show whole sentences, and show UserError as one
    line in this kernel (IPython only)."""
    use_renderer(book=os.environ.get(BOOK_ENV) == "1")
    pd.set_option("display.max_colwidth", None)  # the scorecard's and the run descriptions' text, uncut
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((UserError,), _one_line)
