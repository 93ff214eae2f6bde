"""The cell explorer: pick a run, layer, quantity and cell; scroll the test text coloured by it; mark a span.

The text is a small custom widget (:class:`TextView`, an anywidget whose front end ships inside
the ``anywidget`` package, so it works offline in JupyterLab and in the static book): Python draws
it as HTML, and selecting a stretch of it with the mouse marks that span of trace rows, as in
LSTMVis. Everything else is ipywidgets, so the saved widget state shows the last view in the book.

Every ranking is computed for the controls it depends on (run, layer, quantity, signal or marked
span), cached under exactly those, and the ranking text and cell menu are rewritten on every
change of them; a first ranking shows "ranking…" while it runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import anywidget
import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from lit_rnn.analysis.cells import CellView, Trace, busiest_window, cell_window, rank_cells, span_query
from lit_rnn.analysis.signals import Signal, varying
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.viz.heatmap import QUANTITY_NAMES, colour_range, shown_name, shown_values, text_heatmap_html

CELL_NUMBER = "(cell number)"
MARKED_SPAN = "marked span"
RANKING = "<i>ranking…</i>"


JOIN = ("<div class='lit-rnn-join' style='font-size:11px;color:#555;border-top:2px dashed #555;margin:4px 0'>"
        "next test segment (the text jumps here)</div>")


def activation_curve_svg(values: np.ndarray, low: float, high: float, height: int = 80,
                         joins: Sequence[int] = ()) -> str:
    """Shown values as an inline SVG curve, full width, on the fixed scale ``[low, high]`` (no JavaScript).

    The curve breaks at ``joins`` (indices where a new test segment starts), marked by a vertical line.
    The border is inside the width, so the curve fits its box.
    """
    values = np.clip(np.asarray(values, dtype=np.float64), low, high)
    xs = np.linspace(0, 1000, len(values))
    ys = height - (values - low) / (high - low) * (height - 4) - 2
    lines = "".join(f"<polyline fill='none' stroke='#333' stroke-width='1.2' vector-effect='non-scaling-stroke' "
                    f"points='{' '.join(f'{x:.1f},{y:.1f}' for x, y in zip(xs[a:b], ys[a:b]))}'/>"
                    for a, b in _pieces(len(values), joins))
    marks = "".join(f"<line class='lit-rnn-join' x1='{xs[j]:.1f}' x2='{xs[j]:.1f}' y1='0' y2='{height}' stroke='#555' "
                    "stroke-width='2' vector-effect='non-scaling-stroke'/>" for j in joins)
    return (f"<svg viewBox='0 0 1000 {height}' preserveAspectRatio='none' style='display:block;width:100%;"
            f"box-sizing:border-box;height:{height}px;border:1px solid #ddd;margin-top:6px'>"
            f"<line x1='0' x2='1000' y1='{height / 2}' y2='{height / 2}' stroke='#ccc' stroke-dasharray='3,3' "
            f"vector-effect='non-scaling-stroke'/>{marks}{lines}</svg>")


def _pieces(length: int, joins: Sequence[int]) -> list[tuple[int, int]]:
    """``[0, length)`` cut at ``joins``: one ``(first, stop)`` per test segment."""
    cuts = [0, *sorted(j for j in joins if 0 < j < length), length]
    return list(zip(cuts[:-1], cuts[1:]))


def segment_joins(positions: np.ndarray, start: int, stop: int) -> list[int]:
    """Where in trace rows ``[start, stop)`` a new segment begins (its corpus offset does not follow the row
    before), relative to ``start``: the test split is separate stretches of the corpus."""
    offsets = np.asarray(positions[start:stop])
    return [int(k) + 1 for k in np.flatnonzero(np.diff(offsets) != 1)]


def cell_view_html(view: CellView, start: int | None = None, marked: tuple[int, int] | None = None,
                   joins: Sequence[int] = ()) -> str:
    """A cell's window of text coloured on its quantity's fixed scale, with the activation curve below.

    ``start`` and ``marked`` are passed to :func:`~lit_rnn.viz.heatmap.text_heatmap_html` (trace
    rows on every byte, the marked rows underlined). The text and the curve break at ``joins``
    (:func:`segment_joins`), so two test segments are never shown as one text.
    """
    shown = shown_values(view.quantity, view.values)
    low, high = colour_range(view.quantity)
    legend = (f"<div style='font-size:11px;color:#555'>colour and curve: {shown_name(view.quantity)}, "
              f"red (bottom) {low:+g} · white (dashed) {(low + high) / 2:+g} · blue (top) {high:+g}</div>")
    text = JOIN.join(text_heatmap_html(view.text[a:b], shown[a:b], low, high, view.label if a == 0 else None,
                                       start=None if start is None else start + a, marked=marked)
                     for a, b in _pieces(len(shown), joins))
    return text + activation_curve_svg(shown, low, high, joins=joins) + legend


class TextView(anywidget.AnyWidget):
    """HTML drawn by Python; selecting text in it sets ``span`` to the trace rows selected (``[first, stop)``).

    The rows come from the ``data-row`` attribute every byte of the heatmap carries.
    """

    _esm = """
    function render({ model, el }) {
      el.classList.add("lit-rnn-text");
      el.title = "select text to mark a span";
      const draw = () => { el.innerHTML = model.get("html"); };
      const mark = () => {
        const selection = window.getSelection();
        if (!selection || selection.isCollapsed || !el.contains(selection.anchorNode)) return;
        const rows = [...el.querySelectorAll("[data-row]")]
          .filter((byte) => selection.containsNode(byte, true))
          .map((byte) => Number(byte.dataset.row));
        if (rows.length === 0) return;
        model.set("span", [Math.min(...rows), Math.max(...rows) + 1]);
        model.save_changes();
        selection.removeAllRanges();
      };
      draw();
      model.on("change:html", draw);
      el.addEventListener("mouseup", mark);
      el.addEventListener("keyup", mark);
      return () => model.off("change:html", draw);
    }
    export default { render };
    """
    html = traitlets.Unicode("").tag(sync=True)
    span = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)  # [first, stop) trace rows, or []


class CellExplorer:
    """Widgets over one or more runs' traces; ``.widget`` is what a notebook displays.

    ``traces`` maps a run's name to its test-split trace (:class:`~lit_rnn.analysis.cells.Trace`),
    every layer of which is offered; ``signals`` are the reference signals over the corpus
    (``Study.signals()``), of which those that vary in the run's text are offered to rank by.
    """

    def __init__(self, corpus: Corpus, traces: Mapping[str, Trace], signals: Mapping[str, Signal],
                 length: int = 600):
        if not traces:
            raise ValueError("give the explorer at least one trace")
        self.corpus, self.traces, self.length = corpus, dict(traces), length
        self.signals = dict(signals)
        self.rankings: dict[tuple, pd.DataFrame] = {}  # (run, layer, quantity, signal or span) -> table
        self._quiet = False
        wide = widgets.Layout(width="60%")
        self.run = widgets.Dropdown(options=list(self.traces), description="run")
        self.layer = widgets.Dropdown(description="layer")
        self.quantity = widgets.Dropdown(description="quantity")
        self.cell = widgets.Dropdown(description="cell")
        self.rank_by = widgets.Dropdown(description="rank by")
        self.ranking = widgets.HTML()
        self.absent = widgets.HTML()
        self.start = widgets.IntSlider(0, 0, 1, step=max(1, length // 4), description="position",
                                       continuous_update=False, layout=wide)
        self.clear = widgets.Button(description="clear mark", tooltip="forget the marked span")
        self.text = TextView()
        self.run.observe(lambda _: self._unless_quiet(self._run_changed), names="value")
        for control in (self.layer, self.quantity, self.rank_by):
            control.observe(lambda _: self._unless_quiet(self.rank), names="value")
        for control in (self.cell, self.start):
            control.observe(lambda _: self._unless_quiet(self.draw), names="value")
        self.text.observe(lambda _: self.rank() if self.rank_by.value == MARKED_SPAN else self.draw(), names="span")
        self.clear.on_click(lambda _: setattr(self.text, "span", []))
        wrap = widgets.Layout(flex_flow="row wrap")  # controls flow onto a second line at the book's width
        self.widget = widgets.VBox([
            widgets.HBox([self.run, self.layer, self.quantity, self.cell], layout=wrap),
            widgets.HBox([self.rank_by, self.clear, self.ranking], layout=wrap),
            self.absent, self.start, self.text,
        ])
        self.widget.add_class("lit-rnn-explorer")
        self._run_changed()

    @property
    def trace(self) -> Trace:
        return self.traces[self.run.value]

    @property
    def marked(self) -> tuple[int, int] | None:
        """The marked span of trace rows ``(first, stop)``, or None."""
        return tuple(self.text.span) if len(self.text.span) == 2 else None

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change several controls without each change re-ranking or redrawing (nests)."""
        before, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = before

    def _unless_quiet(self, action) -> None:
        if not self._quiet:
            action()

    def show_best(self, ranking: pd.DataFrame, run: str) -> None:
        """Open on the best cell of a :func:`~lit_rnn.analysis.cells.rank_cells` table of ``run``'s trace: its
        layer, quantity and cell, ranked by its signal, at the stretch of text where that signal varies most."""
        best = ranking.loc[ranking.score.idxmax()]
        self.show(run=run, layer=int(best.layer), quantity=best.quantity, rank_by=best.signal, cell=int(best.cell))

    def show(self, run: str | None = None, layer: int | None = None, quantity: str | None = None,
             rank_by: str | None = None, cell: int | None = None) -> None:
        """Set the controls given (the rest as they are) at once, then rank and draw once; ranking by a
        signal moves the text to where that signal varies most."""
        if run is not None and run not in self.traces:
            raise UserError(f"the explorer has no run {run!r}: it has {', '.join(self.traces)}")
        with self._quietly():
            if run is not None:
                self.run.value = run
            self._offer()
            for control, value in ((self.layer, layer), (self.quantity, quantity), (self.rank_by, rank_by)):
                if value is not None and value not in _values(control.options):
                    raise UserError(f"the explorer's {control.description} menu has no {value!r}")
                if value is not None:
                    control.value = value
            if rank_by in self.signals:
                signal = np.asarray(self.signals[rank_by].values)[self.trace.positions]
                self.start.value = min(busiest_window(signal, self.length), self.start.max)
        self.rank(cell)

    def _run_changed(self) -> None:
        self._offer()
        self.rank()

    def _offer(self) -> None:
        """Offer the run's layers, quantities and varying signals (keeping choices it also has)."""
        trace = self.trace
        quantities = list(trace[0])
        offered = varying(self.signals, trace.positions)
        with self._quietly():
            _choose(self.layer, [(f"layer {k + 1}", k) for k in range(len(trace))])
            _choose(self.quantity, [(QUANTITY_NAMES.get(q, q), q) for q in quantities],
                    "c" if "c" in quantities else "h")
            _choose(self.rank_by, [CELL_NUMBER, *offered, MARKED_SPAN])
            self.start.max = max(0, len(trace.positions) - self.length)
        silent = [name for name in self.signals if name not in offered]
        self.absent.value = (f"<small>Not offered: {', '.join(silent)} (never change in this text).</small>"
                             if silent else "")

    def _table(self) -> pd.DataFrame | None:
        """The ranking the controls ask for (cells best first), from the cache or computed; None if there is none."""
        choice, marked = self.rank_by.value, self.marked
        if choice == CELL_NUMBER or (choice == MARKED_SPAN and marked is None):
            return None
        key = (self.run.value, self.layer.value, self.quantity.value, marked if choice == MARKED_SPAN else choice)
        if key not in self.rankings:
            self.ranking.value = RANKING  # reaches the page now, while the kernel computes
            arrays = [self.trace[self.layer.value]]  # one layer: a trace of its own
            if choice == MARKED_SPAN:
                on = np.zeros(len(self.trace.positions), bool)
                on[marked[0] : marked[1]] = True
                table = span_query(arrays, on, quantities=(self.quantity.value,))
            else:
                table = rank_cells(arrays, [self.signals[choice]], self.trace.positions,
                                   quantities=(self.quantity.value,))
            self.rankings[key] = table.reset_index(drop=True)
        return self.rankings[key]

    def rank(self, cell: int | None = None) -> None:
        """Order the cell menu by the chosen ranking, say its best cells, and show the best one (or ``cell``)."""
        table = self._table()
        n_cells = self.trace[self.layer.value][self.quantity.value].shape[1]
        with self._quietly():
            if table is None:
                _choose(self.cell, [(str(k), k) for k in range(n_cells)], self.cell.value if cell is None else cell)
                self.ranking.value = ("<i>select text below to mark a span</i>" if self.rank_by.value == MARKED_SPAN
                                      else "")
            else:
                _choose(self.cell, [(f"{c} ({s:.2f})", int(c)) for c, s in zip(table.cell, table.score)],
                        int(table.cell.iloc[0]) if cell is None else cell)
                self.ranking.value = _ranking_html(table, self.rank_by.value)
        self.draw()

    def draw(self) -> None:
        """Draw the chosen cell over the window at the slider's position, the marked span underlined."""
        layer, quantity, cell, start = self.layer.value, self.quantity.value, self.cell.value, self.start.value
        text, values = cell_window(self.corpus.data, self.trace, layer, quantity, cell, start, self.length)
        label = f"{self.run.value} · layer {layer + 1} · {QUANTITY_NAMES.get(quantity, quantity)} · cell {cell}"
        joins = segment_joins(self.trace.positions, start, start + len(values))
        self.text.html = cell_view_html(CellView(label, layer, quantity, cell, start, text, values),
                                        start=start, marked=self.marked, joins=joins)


def _values(options) -> list:
    """The values of a menu's options (an option is a value or a (label, value) pair)."""
    return [option[1] if isinstance(option, tuple) else option for option in options]


def _choose(menu: widgets.Dropdown, options: list, preferred=None) -> None:
    """Give ``menu`` new options, keeping ``preferred`` (else its current value) if offered, else the first."""
    values = _values(options)
    keep = preferred if preferred in values else menu.value
    menu.options = options
    menu.value = keep if keep in values else values[0]


def _ranking_html(table: pd.DataFrame, choice: str, top: int = 3) -> str:
    """The best cells of a ranking with their scores, saying what the score is."""
    best = table.head(top)
    if choice == MARKED_SPAN:
        cells = ", ".join(f"cell {c} ({s:+.2f})" for c, s in zip(best.cell, best.score))
        return f"on inside the span, off around it (mean inside − around): {cells}"
    binary = best.kind.iloc[0] == "binary"
    sides = {1: "higher inside", -1: "lower inside", 0: "flat"} if binary else {1: "rises", -1: "falls", 0: "flat"}
    cells = ", ".join(f"cell {c} ({s:.2f}, {sides[d]})" for c, s, d in zip(best.cell, best.score, best.direction))
    return f"best for {choice} ({'AUC' if binary else '|ρ|'}): {cells}"
