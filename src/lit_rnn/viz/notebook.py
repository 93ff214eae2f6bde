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
MISSING = "—"  # a value a table lacks (a model not trained yet, a signal never used): "NaN" reads as a failure
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


def _whole_with_missing(column: pd.Series) -> bool:
    """Integers (a rank, a count) that pandas stores as floats because one of them is missing."""
    present = column.dropna()
    return column.dtype.kind == "f" and 0 < len(present) < len(column) and bool((present % 1 == 0).all())


def _integers(column: pd.Series) -> bool:
    """A column of integers, or of whole numbers stored as floats because one is missing."""
    return column.dtype.kind in "iu" or _whole_with_missing(column)


HEADER_WORDS = {"auc": "AUC", "se": "s.e.", "val": "validation", "s": "(s)"}  # a code name's parts, as read


def _words(label: object) -> object:
    """A column name as a reader reads it: the library's ``test_loss`` is ``test loss``, ``auc_beyond`` is ``AUC
    beyond`` and ``wall_s`` is ``wall (s)`` on a page."""
    if not isinstance(label, str):
        return label
    return " ".join(HEADER_WORDS.get(part, part) for part in label.split("_"))


def html_table(frame: pd.DataFrame) -> str:
    """A table as pandas draws it in a notebook, with ``MISSING`` in place of NaN, integers kept integers and grouped
    by thousands (1,335,599 parameters), no negative zero (a value rounded to -0.0 shows a sign not there), its
    column and axis names in words (the table itself keeps the names the code uses), and no row numbers where the
    index is only that (an unnamed integer index: pandas' row count, or what is left of it after a filter)."""
    frame = frame.rename(columns=_words).rename_axis(index=_words, columns=_words)
    frame = frame.apply(lambda column: column + 0.0 if column.dtype.kind == "f" else column)  # -0.0 + 0.0 is 0.0
    whole = [(lambda v: f"{v:,.0f}") if _integers(frame.iloc[:, j]) else None for j in range(frame.shape[1])]
    numbered = frame.index.nlevels == 1 and frame.index.name is None and frame.index.dtype.kind in "iu"
    return frame.to_html(notebook=True, na_rep=MISSING, formatters=whole, index=not numbered,
                         max_rows=pd.get_option("display.max_rows"),
                         max_cols=pd.get_option("display.max_columns"),
                         show_dimensions=pd.get_option("display.show_dimensions"),
                         float_format=pd.get_option("display.float_format"))


def setup() -> None:
    """Set the figure renderer (book build or not), let tables show whole sentences, and in this kernel (IPython
    only) draw a missing value as ``MISSING`` and show UserError as one line."""
    use_renderer(book=os.environ.get(BOOK_ENV) == "1")
    pd.set_option("display.max_colwidth", None)  # the scorecard's and the run descriptions' text, uncut
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, html_table)
        shell.set_custom_exc((UserError,), _one_line)
