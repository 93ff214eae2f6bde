"""Drawing a Transformer's attention: over text (as chapter 3 draws cells), per head, and the window's edge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lit_rnn.viz.heatmap import text_heatmap_html


def attention_text_html(text: bytes, weights: np.ndarray, title: str = "") -> str:
    """``text`` (the bytes a prediction sees, the predicting byte last) shaded by the attention ``weights`` it puts
    on each (index d: the byte d back from the last), the last byte underlined. White is none, blue the most."""
    shown = np.asarray(weights, dtype=np.float64)[: len(text)][::-1]
    top = max(float(shown.max()), 1e-9)
    return text_heatmap_html(text, shown, low=-top, high=top, title=title, start=0,
                             marked=(len(text) - 1, len(text)))


def induction_heatmap(scores: pd.DataFrame) -> go.Figure:
    """Each head's induction score (rows of ``analysis.attention.induction_scores``), layer by head, both counted
    from 1; the colours span the scores at hand, which the colour bar states."""
    grid = scores.pivot(index="layer", columns="head", values="induction_score").sort_index()
    figure = go.Figure(go.Heatmap(z=grid.values, x=[f"head {h + 1}" for h in grid.columns],
                                  y=[f"layer {layer + 1}" for layer in grid.index], colorscale="Blues", zmin=0,
                                  zmax=max(float(np.nanmax(grid.values)), 1e-3),  # the scale of the scores at hand
                                  text=np.round(grid.values, 3), texttemplate="%{text}",
                                  colorbar=dict(title="induction score")))
    figure.update_layout(title="Induction score per head:<br>attention to the byte after the earlier occurrence",
                         xaxis_title="attention head", yaxis=dict(title="layer", autorange="reversed"),
                         height=160 + 40 * len(grid))
    return figure


def mark_window(figure: go.Figure, table: pd.DataFrame, window: int) -> go.Figure:
    """Mark, on a by-distance figure over ``table``'s buckets (``low``, ``high``), where the window ends."""
    beyond = np.flatnonzero(table["low"].to_numpy() >= window)
    if len(beyond):
        figure.add_vline(x=int(beyond[0]) - 0.5, line_dash="dash", line_color="#444",
                         annotation_text=f"window: {window} bytes", annotation_position="top left")
    return figure
