"""Interventions on the page: causal scores as a figure, samples under a clamp as text heatmaps, and a live widget.

The widget (:class:`InterventionExplorer`) clamps or ablates one cell, resamples, and redraws the
samples of the plain and the intervened model side by side, each byte coloured by the chosen cell as
the *plain* model reads that text (the clamped model's own value would be the constant it is held at).
Its output is plain HTML, so the static book keeps the last view.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lit_rnn.analysis.causal import CausalScores
from lit_rnn.data import Corpus
from lit_rnn.interventions import Intervention, cell_reading, intervention_samples
from lit_rnn.models import CharLM
from lit_rnn.viz.heatmap import text_heatmap_html


def causal_scores(scores: CausalScores) -> go.Figure:
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


def samples_html(texts: list[bytes], readings: list[np.ndarray], title: str) -> str:
    """Samples one under another, each byte coloured by a cell's reading of it (blue low, red high)."""
    bound = max((float(np.abs(v).max()) for v in readings if len(v)), default=1.0) or 1.0
    body = "".join(f"<div style='margin:4px 0;border-left:3px solid #ddd;padding-left:6px'>"
                   f"{text_heatmap_html(text, values, -bound, bound)}</div>" for text, values in zip(texts, readings))
    return f"<div><div style='font-weight:bold'>{html.escape(title)}</div>{body}</div>"


def sample_views_html(model: CharLM, corpus: Corpus, samples: dict[str, list[bytes]], cell: tuple[int, str, int],
                      prime: bytes, per_set: int = 2) -> str:
    """The first ``per_set`` samples of each set, coloured by ``cell`` (layer, quantity, index) as the plain model
    reads them after ``prime`` (the text they were sampled after)."""
    layer, quantity, index = cell
    parts = []
    for label, texts in samples.items():
        shown = texts[:per_set]
        readings = [cell_reading(model, corpus, text, layer, quantity, index, prime) for text in shown]
        parts.append(samples_html(shown, readings, f"{label} — coloured by layer {layer + 1} {quantity}[{index}]"))
    return "".join(parts)


class InterventionExplorer:
    """Clamp or ablate a cell and resample; ``.widget`` is what a notebook displays.

    ``cells`` are the cells offered (rows with signal, layer, quantity, cell, e.g. ``cells.top_cells``);
    ``prime`` starts every sample.
    """

    def __init__(self, model: CharLM, corpus: Corpus, cells: pd.DataFrame, prime: bytes, length: int = 300):
        self.model, self.corpus, self.prime = model, corpus, prime
        options = [(f"{r.signal}: layer {r.layer + 1} {r.quantity}[{r.cell}]",
                    (int(r.layer), str(r.quantity), int(r.cell)))
                   for r in cells.itertuples()]
        self.cell = widgets.Dropdown(options=options, description="cell")
        self.mode = widgets.ToggleButtons(options=["ablate", "clamp"], description="action")
        self.value = widgets.FloatSlider(0.0, min=-5.0, max=5.0, step=0.05, description="clamp to",
                                         continuous_update=False)
        self.temperature = widgets.FloatSlider(1.0, min=0.2, max=1.5, step=0.1, description="temperature",
                                               continuous_update=False)
        self.seed = widgets.IntText(0, description="seed")
        self.length = widgets.IntSlider(length, min=50, max=1000, step=50, description="bytes",
                                        continuous_update=False)
        self.resample = widgets.Button(description="resample", button_style="primary")
        self.view = widgets.HTML()
        self.resample.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        for control in (self.cell, self.mode, self.value, self.temperature, self.length, self.seed):
            control.observe(lambda _: self.draw(), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.cell, self.mode, self.value]),
            widgets.HBox([self.temperature, self.length, self.seed, self.resample]),
            self.view,
        ])
        self.draw()

    @property
    def intervention(self) -> Intervention:
        layer, quantity, cell = self.cell.value
        value = 0.0 if self.mode.value == "ablate" else self.value.value
        return Intervention.clamp(layer, [cell], value, quantity)

    def draw(self) -> None:
        """Sample the plain and the intervened model from the same seed and show both."""
        intervention = self.intervention
        drawn = intervention_samples(self.model, self.corpus,
                                     {"plain": Intervention(), intervention.label: intervention}, self.prime,
                                     self.length.value, count=1, temperature=self.temperature.value,
                                     seed=self.seed.value)
        self.view.value = sample_views_html(self.model, self.corpus, drawn, self.cell.value, self.prime, per_set=1)
