"""The cell explorer: pick a run, layer, quantity and cell; scroll the test text coloured by it.

Built from ipywidgets whose output is plain HTML (the text heatmap and an SVG activation curve),
so the widget's saved state shows the last view in the static book as well as live in JupyterLab.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np

from lit_rnn.analysis.cells import CellView, Trace, cell_window, rank_cells, span_query
from lit_rnn.analysis.signals import Signal
from lit_rnn.data import Corpus
from lit_rnn.viz.heatmap import text_heatmap_html


def activation_curve_svg(values: np.ndarray, width: int = 900, height: int = 80) -> str:
    """A cell's activation as an inline SVG polyline (no JavaScript needed to show it)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = high - low or 1.0
    xs = np.linspace(0, width, len(values))
    ys = height - (values - low) / span * (height - 4) - 2
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    return (f"<svg width='{width}' height='{height}' style='border:1px solid #ddd;margin-top:6px'>"
            f"<polyline fill='none' stroke='#d62728' stroke-width='1.2' points='{points}'/>"
            f"<text x='4' y='12' font-size='10'>{high:+.2f}</text>"
            f"<text x='4' y='{height - 4}' font-size='10'>{low:+.2f}</text></svg>")


def colour_bounds(quantity: str, values: np.ndarray) -> tuple[float, float]:
    """The colour scale of a quantity: gates on [0, 1], hidden values on [-1, 1], cell states scaled to the window."""
    if quantity == "c":  # cell states are unbounded: scale to this window
        bound = float(np.abs(values).max()) or 1.0
        return -bound, bound
    return (0.0, 1.0) if quantity in "ifozr" else (-1.0, 1.0)


def cell_view_html(view: CellView) -> str:
    """A cell's window of text coloured by its activation, with the activation curve below."""
    low, high = colour_bounds(view.quantity, view.values)
    return text_heatmap_html(view.text, view.values, low, high, view.label) + activation_curve_svg(view.values)


class CellExplorer:
    """Widgets over one or more runs' traces; ``.widget`` is what a notebook displays.

    ``traces`` maps a run's name to its test-split trace (:class:`~lit_rnn.analysis.cells.Trace`);
    ``signals`` are the reference signals cells can be ranked by (``Study.signals()``).
    """

    def __init__(self, corpus: Corpus, traces: Mapping[str, Trace], signals: Mapping[str, Signal],
                 length: int = 600):
        self.corpus, self.traces = corpus, dict(traces)
        self.signals = dict(signals)
        first = next(iter(self.traces.values()))
        self.run = widgets.Dropdown(options=list(self.traces), description="run")
        self.layer = widgets.Dropdown(options=list(range(len(first))), description="layer")
        self.quantity = widgets.Dropdown(options=list(first[0]), value="c" if "c" in first[0] else "h",
                                         description="quantity")
        self.cell = widgets.Dropdown(options=list(range(first[0]["h"].shape[1])), description="cell")
        self.rank_by = widgets.Dropdown(options=["(cell number)", *self.signals, "marked span"],
                                        description="rank by")
        self.start = widgets.IntSlider(0, 0, max(0, len(first.positions) - length), step=length // 4,
                                       description="position", continuous_update=False,
                                       layout=widgets.Layout(width="60%"))
        self.span = widgets.IntRangeSlider(value=(0, 0), min=0, max=length, description="marked",
                                           continuous_update=False, layout=widgets.Layout(width="60%"))
        self.ranking = widgets.HTML()
        self.view = widgets.HTML()
        self.length = length
        for control in (self.run, self.layer, self.quantity, self.cell, self.start):
            control.observe(lambda _: self.draw(), names="value")
        self.rank_by.observe(lambda _: self.rank(), names="value")
        self.span.observe(lambda _: self.rank() if self.rank_by.value == "marked span" else None, names="value")
        self.run.observe(lambda _: self._reset_choices(), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.run, self.layer, self.quantity, self.cell]),
            widgets.HBox([self.rank_by, self.ranking]),
            self.start, self.span, self.view,
        ])
        self.draw()

    @property
    def trace(self) -> Trace:
        return self.traces[self.run.value]

    def _reset_choices(self) -> None:
        self.layer.options = list(range(len(self.trace)))
        self.quantity.options = list(self.trace[0])

    def rank(self) -> None:
        """Reorder the cell menu by how well cells track the chosen signal or the marked span."""
        choice = self.rank_by.value
        if choice == "(cell number)":
            table = None
        elif choice == "marked span":
            low, high = self.span.value
            if high <= low:
                self.ranking.value = "<i>mark a span with the slider below</i>"
                return
            start = self.start.value
            on = np.zeros(len(self.trace.positions), bool)
            on[start + low : start + high] = True
            table = span_query(self.trace, on, quantities=(self.quantity.value,))
        else:
            table = rank_cells(self.trace, [self.signals[choice]], self.trace.positions,
                               quantities=(self.quantity.value,))
        if table is None:
            cells = list(range(self.trace[0]["h"].shape[1]))
        else:
            table = table[table.layer == self.layer.value]
            cells = table.cell.tolist()
            top = table.head(3)
            self.ranking.value = "top: " + ", ".join(f"cell {c} ({s:.2f})" for c, s in zip(top.cell, top.score))
        self.cell.options = cells
        self.cell.value = cells[0]
        self.draw()

    def draw(self) -> None:
        layer, quantity, cell, start = self.layer.value, self.quantity.value, self.cell.value, self.start.value
        text, values = cell_window(self.corpus.data, self.trace, layer, quantity, cell, start, self.length)
        label = f"{self.run.value} · layer {layer} · {quantity}[{cell}]"
        self.view.value = cell_view_html(CellView(label, layer, quantity, cell, start, text, values))
