"""Interventions on the page: causal scores as a figure, samples under a clamp as text heatmaps, and a live widget.

Drawing only: the samples and the cell readings that colour them come from :mod:`lit_rnn.interventions`
(:func:`~lit_rnn.interventions.sample_readings`), and the widget (:class:`InterventionExplorer`) calls a
function that runs the model (:func:`~lit_rnn.interventions.resampler`) on every change of its controls.
It draws the samples of the plain and the intervened model side by side, each byte coloured by the chosen
cell as the *plain* model reads that text (the clamped model's own value would be the constant it is held at).
Its output is plain HTML, so the static book keeps the last view.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lit_rnn.analysis.causal import CausalScores
from lit_rnn.viz.heatmap import colour_range, shown_name, shown_values, text_heatmap_html

Readings = Mapping[str, list[tuple[bytes, np.ndarray]]]  # per set of samples: each text and a cell's values


def causal_scores_figure(scores: CausalScores) -> go.Figure:
    """Per signal: the loss change on its target bytes when random cells are ablated (dots) and its own cell (star)."""
    figure = go.Figure()
    for row in scores.table.itertuples():
        label = f"{row.signal}<br>({row.target})"
        others = scores.random[row.signal]
        figure.add_box(x=others, y=[label] * len(others), name="random cells of the layer", boxpoints="all",
                       jitter=0.4, pointpos=0, marker=dict(color="#7f7f7f", size=5), line_color="#bbbbbb",
                       fillcolor="rgba(0,0,0,0)", orientation="h", legendgroup="random",
                       showlegend=row.Index == 0)
        figure.add_scatter(x=[row.delta], y=[label], mode="markers", name="the signal's cell", legendgroup="cell",
                           marker=dict(symbol="star", size=16, color="#d62728" if row.causal else "#1f77b4"),
                           error_x=dict(type="data", symmetric=False, array=[row.delta_high - row.delta],
                                        arrayminus=[row.delta - row.delta_low]),
                           text=[f"layer {row.layer + 1} {row.quantity}[{row.cell}]: z = {row.z:.1f}, "
                                 f"p = {row.rank_p:.3f}"],
                           hovertemplate="%{text}<extra></extra>", showlegend=row.Index == 0)
    figure.add_vline(x=0, line_dash="dot", line_color="#999")
    figure.update_layout(title="Loss change on each signal's target bytes when one cell is ablated",
                         xaxis_title="Δ loss on the target bytes (nats/byte)", height=160 + 90 * len(scores.table),
                         boxmode="overlay")
    return figure


def samples_html(texts: list[bytes], readings: list[np.ndarray], title: str, quantity: str) -> str:
    """Samples one under another, each byte coloured by a cell's reading of it on the quantity's fixed scale
    (:mod:`lit_rnn.viz.heatmap`: tanh(c) for a cell state; red low, white middle, blue high)."""
    low, high = colour_range(quantity)
    body = "".join(f"<div style='margin:4px 0;border-left:3px solid #ddd;padding-left:6px'>"
                   f"{text_heatmap_html(text, shown_values(quantity, values), low, high)}</div>"
                   for text, values in zip(texts, readings))
    return f"<div><div style='font-weight:bold'>{html.escape(title)}</div>{body}</div>"


def readings_html(readings: Readings, cell: tuple[int, str, int]) -> str:
    """Each set of samples with ``cell``'s readings (:func:`lit_rnn.interventions.sample_readings`), coloured."""
    layer, quantity, index = cell
    return "".join(samples_html([text for text, _ in shown], [values for _, values in shown],
                                f"{label} — coloured by layer {layer + 1} {shown_name(quantity)}[{index}]", quantity)
                   for label, shown in readings.items())


class InterventionExplorer:
    """Clamp or ablate a cell and resample; ``.widget`` is what a notebook displays.

    ``cells`` are the cells offered (rows with signal, layer, quantity, cell, e.g. ``cells.top_cells``);
    ``resample(cell, action, value, length, temperature, seed)`` runs the models and returns their readings
    (:func:`lit_rnn.interventions.resampler`).
    """

    def __init__(self, cells: pd.DataFrame, resample: Callable[..., Readings], length: int = 300):
        self.resample_readings = resample
        options = [(f"{r.signal}: layer {r.layer + 1} {r.quantity}[{r.cell}]",
                    (int(r.layer), str(r.quantity), int(r.cell)))
                   for r in cells.itertuples()]
        label = {"description_width": "initial"}  # every label whole ("temperature", not "temperat…")
        slider = widgets.Layout(width="300px")
        self.cell = widgets.Dropdown(options=options, description="cell", style=label,
                                     layout=widgets.Layout(width="auto"))
        self.mode = widgets.ToggleButtons(options=["ablate", "clamp"], description="action",
                                          style={**label, "button_width": "auto"})
        self.value = widgets.FloatSlider(0.0, min=-5.0, max=5.0, step=0.05, description="clamp to", style=label,
                                         layout=slider, continuous_update=False)
        self.temperature = widgets.FloatSlider(1.0, min=0.2, max=1.5, step=0.1, description="temperature",
                                               style=label, layout=slider, continuous_update=False)
        self.seed = widgets.IntText(0, description="seed", style=label, layout=widgets.Layout(width="120px"))
        self.length = widgets.IntSlider(length, min=50, max=1000, step=50, description="bytes", style=label,
                                        layout=slider, continuous_update=False)
        self.resample = widgets.Button(description="resample", button_style="primary",
                                       layout=widgets.Layout(width="auto"))
        self.view = widgets.HTML()
        self.resample.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        for control in (self.cell, self.mode, self.value, self.temperature, self.length, self.seed):
            control.observe(lambda _: self.draw(), names="value")
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="4px 16px")  # lines at any width
        self.widget = widgets.VBox([
            widgets.HBox([self.cell, self.mode], layout=wrap),
            widgets.HBox([self.value, self.temperature], layout=wrap),
            widgets.HBox([self.length, self.seed, self.resample], layout=wrap),
            self.view,
        ])
        self.draw()

    def draw(self) -> None:
        """Sample the plain and the intervened model from the same seed and show both."""
        readings = self.resample_readings(self.cell.value, self.mode.value, self.value.value, self.length.value,
                                          self.temperature.value, self.seed.value)
        self.view.value = readings_html(readings, self.cell.value)
