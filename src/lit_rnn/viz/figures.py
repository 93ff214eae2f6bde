"""Plotly figures for the book's chapters; each takes an analysis's plain data and returns a Figure."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lit_rnn.analysis.cells import CellView
from lit_rnn.data import Batcher, Corpus, byte_label
from lit_rnn.viz.heatmap import COLOURSCALE, colour_range, glyphs, shown_name, shown_values, tooltip

KIND_COLOURS = {"rnn": "#1f77b4", "lstm": "#d62728", "gru": "#2ca02c", "nnn": "#9467bd", "ngram": "#7f7f7f"}


def byte_frequencies(corpus: Corpus, top: int | None = None) -> go.Figure:
    """Bar chart of how often each byte value occurs, most frequent first."""
    counts = np.bincount(corpus.data, minlength=256)[corpus.vocab]
    order = np.argsort(-counts)[:top]
    labels = [byte_label(int(corpus.vocab[i])) for i in order]
    figure = go.Figure(go.Bar(x=labels, y=counts[order] / counts.sum()))
    figure.update_layout(title=f"Byte frequencies in {corpus.name}", xaxis_title="byte", yaxis_title="fraction",
                         xaxis_type="category")
    return figure


def split_map(batcher: Batcher) -> go.Figure:
    """Where train, validation and test lie in the text: one horizontal bar per char-rnn row."""
    figure = go.Figure()
    for split, colour in (("train", "#c7d7ea"), ("val", "#f2b134"), ("test", "#d62728")):
        positions = batcher.positions(split)
        figure.add_bar(x=[positions.shape[1]] * batcher.batch_size, y=list(range(batcher.batch_size)),
                       base=positions[:, 0], orientation="h", name=split, marker_color=colour)
    figure.update_layout(title="Where each split lies in the text (one bar per row)", barmode="overlay",
                         xaxis_title="byte offset", yaxis_title="row", height=420)
    return figure


def training_curves(metrics: dict[str, list[dict]]) -> go.Figure:
    """Validation (solid) and training (dotted) loss against epochs, one colour per model."""
    figure = go.Figure()
    for i, (name, records) in enumerate(metrics.items()):
        colour = f"hsl({(i * 47) % 360},65%,45%)"
        epochs = [r["epoch"] for r in records]
        figure.add_scatter(x=epochs, y=[r["val_loss"] for r in records], name=name, line_color=colour)
        figure.add_scatter(x=epochs, y=[r["train_loss"] for r in records], name=f"{name} (train)",
                           line=dict(color=colour, dash="dot"), showlegend=False)
    figure.update_layout(title="Training curves", xaxis_title="epoch", yaxis_title="loss (nats/byte)")
    return figure


def loss_heatmap(table: pd.DataFrame, budgets: list[int]) -> go.Figure:
    """The loss grid (the paper's Figure 1, left): rows architecture × depth, columns the four parameter
    budgets; a cell holds the test loss of the model trained at that budget (blank where none was)."""
    table = table.assign(row=table.architecture.str.upper() + " " + table.layers.astype(str) + "L")
    best = table.loc[table.groupby(["row", "budget"]).test_loss.idxmin()]
    grid = best.pivot(index="row", columns="budget", values="test_loss").reindex(columns=range(len(budgets)))
    labels = [f"~{b / 1000:,.0f}K parameters" for b in budgets]
    figure = go.Figure(go.Heatmap(z=grid.values, x=labels, y=list(grid.index), colorscale="Viridis_r",
                                  texttemplate="%{z:.3f}", colorbar_title="nats/byte", hoverongaps=False))
    figure.update_layout(title="Test cross-entropy by architecture, depth and budget (the paper's Figure 1, left)",
                         xaxis=dict(type="category"))
    return figure


def finite_horizon(table: pd.DataFrame, recurrent: str) -> go.Figure:
    """Table 2 as lines: n-gram and n-NN test loss against n, the recurrent model as a level."""
    figure = go.Figure()
    for column, colour in (("n-gram", KIND_COLOURS["ngram"]), ("n-NN", KIND_COLOURS["nnn"])):
        if table[column].isna().all():  # a build without n-NNs (or n-grams): no empty line in the legend
            continue
        figure.add_scatter(x=[str(n) for n in table.index], y=table[column], name=column, mode="lines+markers",
                           line_color=colour)
    if recurrent in table:
        figure.add_hline(y=float(table[recurrent].iloc[0]), line_dash="dash", line_color=KIND_COLOURS["lstm"],
                         annotation_text=recurrent)
    figure.update_layout(title="Test cross-entropy of finite-horizon models", xaxis_title="n (bytes of context)",
                         yaxis_title="nats/byte", xaxis_type="category")
    return figure


def agreement_heatmap(matrix: pd.DataFrame) -> go.Figure:
    figure = go.Figure(go.Heatmap(z=matrix.values, x=list(matrix.columns), y=list(matrix.index),
                                  colorscale="Blues", zmin=float(matrix.values.min()), zmax=1.0,
                                  texttemplate="%{z:.2f}"))
    figure.update_layout(title="How often two models agree on the most likely next byte")
    return figure


def model_embedding(embedding: pd.DataFrame, table: pd.DataFrame) -> go.Figure:
    """The t-SNE of models from their agreement (the paper's Figure 1, right): colour the architecture,
    size the parameter budget, marker the depth, as in the paper. ``table`` is the loss table of the models."""
    rows = embedding.merge(table[["model", "architecture", "layers", "budget"]], on="model")
    markers = {1: "circle", 2: "square", 3: "diamond"}
    figure = go.Figure()
    for (architecture, layers), group in rows.groupby(["architecture", "layers"]):
        figure.add_scatter(x=group.x, y=group.y, mode="markers", name=f"{architecture.upper()} {layers} layer(s)",
                           text=group.model, hovertemplate="%{text}<extra></extra>",
                           marker=dict(color=KIND_COLOURS.get(architecture), size=8 + 6 * group.budget,
                                       symbol=markers.get(layers, "circle"), opacity=0.8,
                                       line=dict(width=1, color="white")))
    figure.update_layout(title="Models placed by how often they agree on the most likely next byte "
                               "(t-SNE; the paper's Figure 1, right)", xaxis_visible=False, yaxis_visible=False)
    return figure


SELECTOR_FONT = 12  # px: the heatmap's characters, legible at the book's width (~730 px for 80 columns)
SELECTOR_ROW = 18  # px per line of text


def cell_selector(views: list[CellView], width: int = 80) -> go.Figure:
    """Text heatmaps of several cells in one figure, with a menu to switch: explorable without a kernel.

    ``views`` are e.g. the top-ranked cells of every signal (``analysis.cells.signal_views``).
    Colours follow the heatmaps' conventions (``viz.heatmap``): tanh(c) and the other quantities
    on their fixed scales in the paper's colours. The title sits above the menu, the menu above the text.
    """
    figure = go.Figure()
    heights = []
    for index, view in enumerate(views):
        z, labels, tips = _wrap(view.text, shown_values(view.quantity, view.values), width)
        heights.append(len(z))
        low, high = colour_range(view.quantity)
        figure.add_heatmap(z=z, text=labels, texttemplate="%{text}", customdata=tips, colorscale=COLOURSCALE,
                           zmin=low, zmax=high, textfont=dict(family="monospace", size=SELECTOR_FONT),
                           hovertemplate="%{customdata}<extra></extra>", xgap=1, ygap=1, name=view.label,
                           visible=index == 0, colorbar=dict(title=dict(text=shown_name(view.quantity)),
                                                             thickness=12, len=1.0))
    buttons = [dict(label=view.label, method="update", args=[{"visible": [i == j for j in range(len(views))]},
                                                             {"title.text": view.label}])
               for i, view in enumerate(views)]
    top = 90  # the title's line, then the menu's
    figure.update_layout(
        updatemenus=[dict(buttons=buttons, x=0, xanchor="left", y=1, yanchor="bottom", pad=dict(b=6),
                          showactive=True, direction="down")],
        title=dict(text=views[0].label if views else "", x=0, xanchor="left", y=1, yanchor="top", yref="container",
                   pad=dict(t=8), font=dict(size=14)),
        margin=dict(t=top, b=10, l=10, r=10), height=top + 20 + SELECTOR_ROW * max(heights, default=1),
        plot_bgcolor="white",
    )
    figure.update_yaxes(autorange="reversed", visible=False)
    figure.update_xaxes(visible=False)
    return figure


def gate_saturation(table: pd.DataFrame, title: str) -> go.Figure:
    """The paper's Figure 3: per layer, each gate of each cell at (fraction left-, right-saturated)."""
    from plotly.subplots import make_subplots

    layers = sorted(table.layer.unique())
    figure = make_subplots(rows=1, cols=len(layers), subplot_titles=[f"layer {layer + 1}" for layer in layers],
                           shared_yaxes=True)
    colours = {"i": "#1f77b4", "f": "#2ca02c", "o": "#d62728", "r": "#9467bd", "z": "#ff7f0e"}
    names = {"i": "input gate", "f": "forget gate", "o": "output gate", "r": "reset gate",
             "z": "update gate (the paper's z)"}
    for column, layer in enumerate(layers, start=1):
        for gate, group in table[table.layer == layer].groupby("gate", sort=False):
            figure.add_scatter(x=group.left, y=group.right, mode="markers", name=names.get(gate, gate),
                               legendgroup=gate, showlegend=column == 1, row=1, col=column,
                               marker=dict(color=colours.get(gate), size=6, opacity=0.6),
                               text=[f"cell {c}" for c in group.cell])
        figure.add_scatter(x=[0, 1], y=[1, 0], mode="lines", line=dict(color="#bbb", dash="dot"), showlegend=False,
                           row=1, col=column, hoverinfo="skip")
        figure.update_xaxes(range=[0, 1], title_text="fraction left-saturated (< 0.1)", row=1, col=column)
    figure.update_yaxes(range=[0, 1], title_text="fraction right-saturated (> 0.9)", row=1, col=1)
    figure.update_layout(title=title, height=420)
    return figure


def error_overlap(table: pd.DataFrame) -> go.Figure:
    """Errors made by exactly each combination of models (the paper's Figure 4 left, as bars)."""
    figure = go.Figure(go.Bar(x=table["count"], y=table["models"], orientation="h",
                              text=[f"{s:.1%}" for s in table["share"]], textposition="auto"))
    figure.update_layout(title="Test errors by which models make them", xaxis_title="errors",
                         yaxis=dict(autorange="reversed"), height=120 + 30 * len(table))
    return figure


def byte_advantage(table: pd.DataFrame, model: str, baseline: str, top: int = 15) -> go.Figure:
    """Mean probability of the correct byte, for the bytes where ``model`` gains and loses most."""
    shown = pd.concat([table.head(top), table.tail(top)]).drop_duplicates("byte")
    figure = go.Figure()
    for name, colour in ((model, KIND_COLOURS["lstm"]), (baseline, KIND_COLOURS["ngram"])):
        figure.add_bar(x=shown.label, y=shown[name], name=name, marker_color=colour)
    figure.update_layout(title=f"Mean probability of the correct byte: {model} against {baseline}",
                         xaxis=dict(title="byte (sorted by advantage)", type="category"),
                         yaxis_title="mean probability", barmode="group")
    return figure


def closer_by_distance(table: pd.DataFrame, models: list[str], closer: str) -> go.Figure:
    """Mean probability of a closing byte by distance to its opener (the paper's Figure 5 left)."""
    figure = go.Figure()
    for i, name in enumerate(models):
        figure.add_scatter(x=table.bucket, y=table[name], name=name, mode="lines+markers",
                           line_color=[KIND_COLOURS["lstm"], KIND_COLOURS["ngram"], KIND_COLOURS["nnn"]][i % 3],
                           text=[f"{c} closers" for c in table["count"]])
    figure.update_layout(title=f"Probability of {closer} by distance back to its opener",
                         xaxis=dict(title="distance (bytes)", type="category"), yaxis_title="mean probability")
    return figure


def training_dynamics(table: pd.DataFrame) -> go.Figure:
    """Symmetric KL to each n-NN and the loss difference, along the LSTM's training (Figure 5 right)."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=["symmetric KL to the n-NN", "Δ loss (n-NN − LSTM)"])
    for i, (n, group) in enumerate(table.groupby("n")):
        colour = f"hsl({(i * 55) % 360},65%,45%)"
        figure.add_scatter(x=group.step, y=group.symmetric_kl, name=f"{n}-NN", line_color=colour, legendgroup=str(n),
                           row=1, col=1)
        figure.add_scatter(x=group.step, y=group.delta_loss, name=f"{n}-NN", line_color=colour, legendgroup=str(n),
                           showlegend=False, row=1, col=2)
    figure.add_hline(y=0, line_dash="dot", line_color="#999", row=1, col=2)
    figure.update_xaxes(title_text="training step", type="log")
    figure.update_layout(title="How the LSTM's predictions move through the n-NNs' during training")
    return figure


def error_breakdown(breakdowns: list) -> go.Figure:
    """Share of each model's errors removed by each oracle, in the order applied (Figure 6 left)."""
    figure = go.Figure()
    steps = list(breakdowns[0].table.step)
    for i, step in enumerate(steps):
        figure.add_bar(y=[b.name for b in breakdowns],
                       x=[int(b.table.set_index("step").errors.get(step, 0)) for b in breakdowns],
                       name=step, orientation="h", marker_color=f"hsl({(i * 360 // len(steps))},55%,55%)")
    figure.update_layout(barmode="stack", title="The model's errors, peeled by the oracles in order",
                         xaxis_title="errors", height=160 + 60 * len(breakdowns))
    return figure


def error_fixes(table: pd.DataFrame, title: str) -> go.Figure:
    """Share of each error category that another evaluation fixes (rows of ``oracles.fixed_errors``)."""
    figure = go.Figure(go.Bar(x=table["category"], y=table["fixed_share"],
                              text=[f"{f:,} of {e:,}" for f, e in zip(table["fixed"], table["errors"])],
                              marker_color=["#d62728" if c == "memory" else "#7f7f7f" for c in table["category"]]))
    figure.update_layout(title=title, xaxis_title="error category (the oracle that removes it)",
                         yaxis_title="share of the category's errors fixed", yaxis_tickformat=".0%")
    return figure


def _wrap(text: bytes, values: np.ndarray, width: int) -> tuple[list[list], list[list[str]], list[list[str]]]:
    """Lay characters out in lines (at newlines or ``width``), padding short lines with blanks.

    Returns the value of each cell (a character's last byte), its glyph and its tooltip (every byte's value).
    """
    rows, row = [], []
    for start, stop, shown in glyphs(text):
        if not shown:
            continue
        # plotly draws text, not HTML: the character itself
        row.append((float(values[stop - 1]), html.unescape(shown), tooltip(text[start:stop], values[start:stop])))
        if text[start:stop] == b"\n" or len(row) == width:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    padded = [row + [(None, "", "")] * (width - len(row)) for row in rows]
    return tuple([[cell[k] for cell in row] for row in padded] for k in range(3))
