"""Plotly figures for the book's chapters; each takes an analysis's plain data and returns a Figure."""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from lit_rnn.analysis.cells import CellView
from lit_rnn.data import Batcher, Corpus, byte_label
from lit_rnn.viz.heatmap import COLOURSCALE, colour_range, glyphs, shown_name, shown_values, tooltip

ARCHITECTURE_COLOURS = {"rnn": "#1f77b4", "lstm": "#d62728", "gru": "#2ca02c", "nnn": "#9467bd", "ngram": "#7f7f7f"}
SERIES_COLOURS = qualitative.Dark24  # distinct colours for series that are not architectures (runs, n-NNs)
LEGEND_ROW = 22  # px per legend entry: a figure is at least this tall per entry, so its whole legend shows
BASE_HEIGHT = 450  # px: plotly's default figure height
MARGINS = 180  # px: plotly's default top and bottom margins, which a vertical legend cannot use
TOP_BYTES = 15  # bytes of largest and of smallest advantage a per-byte chart shows


def count_label(count: int) -> str:
    """A parameter count as pages show it: ``1.27M``, ``130K``, ``45K``."""
    return f"{count / 1e6:.2f}M" if count >= 1e6 else f"{count / 1e3:.0f}K"


def budget_label(count: int) -> str:
    """A parameter budget rounded as the paper's grid is named: ``≈50K``, ``≈130K``, ``≈400K``, ``≈1.3M``."""
    if count >= 1e6:
        return f"≈{count / 1e6:.1f}M"
    return f"≈{round(count, -4 if count >= 1e5 else -3) / 1e3:.0f}K"


def legend_height(entries: int, base: int = BASE_HEIGHT) -> int:
    """A figure height that shows a vertical legend of ``entries`` entries whole."""
    return max(base, MARGINS + LEGEND_ROW * entries)


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


def training_curves(groups: dict[str, dict[str, list[dict]]]) -> go.Figure:
    """Validation (solid) and training (dotted) loss against epochs, one colour per model and one panel per
    training length (``groups``: e.g. "50 epochs" and "1,000 steps", each {model: metrics records}), so a
    short run is not squashed into the start of a long one's axis."""
    groups = {title: runs for title, runs in groups.items() if runs}
    figure = make_subplots(rows=1, cols=max(len(groups), 1), subplot_titles=list(groups), shared_yaxes=True,
                           horizontal_spacing=0.06)
    i = 0
    for column, runs in enumerate(groups.values(), start=1):
        for name, records in runs.items():
            colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
            i += 1
            epochs = [r["epoch"] for r in records]
            figure.add_scatter(x=epochs, y=[r["val_loss"] for r in records], name=name, line_color=colour,
                               legendgroup=name, row=1, col=column)
            figure.add_scatter(x=epochs, y=[r["train_loss"] for r in records], name=name, legendgroup=name,
                               line=dict(color=colour, dash="dot"), showlegend=False, row=1, col=column)
        figure.update_xaxes(title_text="epoch", row=1, col=column)
    for dash, meaning in (("solid", "validation (solid)"), ("dot", "training, mean over the epoch (dotted)")):
        figure.add_scatter(x=[None], y=[None], name=meaning, mode="lines", line=dict(color="#444", dash=dash),
                           legendgroup="key", row=1, col=1)
    figure.update_yaxes(title_text="loss (nats/byte)", row=1, col=1)
    rows = -(-(i + 2) // 2)  # the legend under the panels, about two entries a row, so the panels keep the width
    figure.update_layout(title="Training curves", height=440 + LEGEND_ROW * rows, margin=dict(b=80 + LEGEND_ROW * rows),
                         legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom"))
    return figure


def loss_heatmap(table: pd.DataFrame, budgets: list[int]) -> go.Figure:
    """The loss grid (the paper's Figure 1, left): rows architecture × depth, columns the four parameter
    budgets; a cell holds the test loss of the model trained at that budget (blank where none was)."""
    # models trained for different lengths on separate rows
    table = table.assign(row=table.architecture.str.upper() + " " + table.n_layers.astype(str) + "L · "
                         + table.training.astype(str))
    best = table.loc[table.groupby(["row", "budget_index"]).test_loss.idxmin()]
    grid = best.pivot(index="row", columns="budget_index", values="test_loss").reindex(columns=range(len(budgets)))
    labels = [budget_label(b) for b in budgets]
    figure = go.Figure(go.Heatmap(z=grid.values, x=labels, y=list(grid.index), colorscale="Viridis_r",
                                  texttemplate="%{z:.3f}", colorbar_title="nats/byte", hoverongaps=False))
    figure.update_layout(title="Test loss by architecture, depth, training and budget<br>(the paper's Figure 1, "
                               "left; blank: not in this build)",
                         xaxis=dict(type="category", title="parameter budget (parameters)"),
                         yaxis=dict(title="architecture, layers · training", type="category"),
                         height=max(BASE_HEIGHT, 160 + 40 * len(grid)), margin=dict(t=90))
    return figure


def finite_horizon(table: pd.DataFrame, levels: dict[str, float]) -> go.Figure:
    """Table 2 as lines: n-gram and n-NN test loss against n, each of ``levels`` (a model's test loss) as a level."""
    figure = go.Figure()
    for column, colour in (("n-gram", ARCHITECTURE_COLOURS["ngram"]), ("n-NN", ARCHITECTURE_COLOURS["nnn"])):
        if table[column].isna().all():  # a build without n-NNs (or n-grams): no empty line in the legend
            continue
        figure.add_scatter(x=[str(n) for n in table.index], y=table[column], name=column, mode="lines+markers",
                           line_color=colour)  # the n-gram seeing n bytes: KenLM order n + 1
    colours, sides = (ARCHITECTURE_COLOURS["lstm"], *SERIES_COLOURS), ("top right", "bottom right")
    for i, (name, loss) in enumerate(levels.items()):  # labels alternate above and below: close levels stay legible
        figure.add_hline(y=loss, line_dash="dash", line_color=colours[i], annotation_text=f"{name}: {loss:.3f}",
                         annotation_position=sides[i % 2])
    figure.update_layout(title="Test loss of finite-horizon models", xaxis_title="n (bytes of context)",
                         yaxis_title="test loss (nats/byte)", xaxis_type="category")
    return figure


def agreement_heatmap(matrix: pd.DataFrame) -> go.Figure:
    """The fraction of test bytes on which two models put the same byte first (a symmetric matrix)."""
    figure = go.Figure(go.Heatmap(z=matrix.values, x=list(matrix.columns), y=list(matrix.index),
                                  colorscale="Blues", zmin=float(matrix.values.min()), zmax=1.0,
                                  texttemplate="%{z:.2f}", colorbar_title="fraction"))
    figure.update_layout(title="How often two models agree on the most likely next byte",
                         xaxis=dict(title="model", type="category"), yaxis=dict(title="model", type="category"),
                         height=max(BASE_HEIGHT, 200 + 30 * len(matrix)))
    return figure


def model_embedding(embedding: pd.DataFrame, table: pd.DataFrame, labels: Mapping[str, str] | None = None) -> go.Figure:
    """The t-SNE of models from their agreement (the paper's Figure 1, right): colour the architecture,
    size the parameter budget, marker the depth, as in the paper. ``table`` is the loss table of the models;
    ``labels`` name them on hover (by default, by name)."""
    rows = embedding.merge(table[["model", "architecture", "n_layers", "budget_index"]], on="model")
    rows["label"] = rows.model.map(labels or {}).fillna(rows.model)
    markers = {1: "circle", 2: "square", 3: "diamond"}
    figure = go.Figure()
    for (architecture, n_layers), group in rows.groupby(["architecture", "n_layers"]):
        layers = f"{n_layers} layer" + ("s" if n_layers > 1 else "")
        figure.add_scatter(x=group.x, y=group.y, mode="markers", name=f"{architecture.upper()} {layers}",
                           text=group.label, hovertemplate="%{text}<extra></extra>",
                           marker=dict(color=ARCHITECTURE_COLOURS.get(architecture), size=8 + 6 * group.budget_index,
                                       symbol=markers.get(n_layers, "circle"), opacity=0.8,
                                       line=dict(width=1, color="white")))
    figure.update_layout(title="Models placed by how often they agree<br>on the most likely next byte "
                               "(t-SNE; the paper's Figure 1, right)", xaxis_visible=False, yaxis_visible=False,
                         margin=dict(t=90), height=legend_height(len(figure.data)))
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
    layers = sorted(table.layer.unique())
    figure = make_subplots(rows=1, cols=len(layers), subplot_titles=[f"layer {layer + 1}" for layer in layers],
                           shared_yaxes=True, horizontal_spacing=0.04)
    for column, layer in enumerate(layers, start=1):
        here = table[table.layer == layer]
        for gate in sorted(here.gate.unique(), key=lambda g: GATE_ORDER.index(g) if g in GATE_ORDER else 0):
            group = here[here.gate == gate]  # output gates first, so they do not cover the forget and input gates
            figure.add_scatter(x=group.left, y=group.right, mode="markers", name=GATE_NAMES.get(gate, gate),
                               legendgroup=gate, showlegend=column == 1, row=1, col=column,
                               marker=dict(color=GATE_COLOURS.get(gate), size=7, opacity=0.55,
                                           symbol=GATE_SYMBOLS.get(gate, "circle")),
                               text=[f"cell {c}" for c in group.cell])
        figure.add_scatter(x=[0, 1], y=[1, 0], mode="lines", line=dict(color="#bbb", dash="dot"), showlegend=False,
                           row=1, col=column, hoverinfo="skip")
        figure.update_xaxes(range=[0, 1], title_text="fraction < 0.1", row=1, col=column)
    figure.update_yaxes(range=[0, 1], title_text="fraction of positions > 0.9 (right-saturated)", row=1, col=1)
    figure.update_layout(title=dict(text=f"{title}<br><sup>x: fraction of positions left-saturated (< 0.1)</sup>"),
                         height=460, margin=dict(t=100), legend=dict(orientation="h", y=-0.18))
    return figure


GATE_ORDER = "orzif"  # drawing order: the last drawn is on top
GATE_COLOURS = {"i": "#1f77b4", "f": "#2ca02c", "o": "#d62728", "r": "#9467bd", "z": "#ff7f0e"}
GATE_SYMBOLS = {"i": "circle", "f": "diamond", "o": "x", "r": "square", "z": "triangle-up"}
GATE_NAMES = {"i": "input gate", "f": "forget gate", "o": "output gate", "r": "reset gate",
              "z": "update gate (the paper's z)"}


def error_overlap(table: pd.DataFrame) -> go.Figure:
    """Errors made by exactly each combination of models (the paper's Figure 4 left, as bars)."""
    figure = go.Figure(go.Bar(x=table["count"], y=table["models"], orientation="h",
                              text=[f"{c:,} ({s:.1%})" for c, s in zip(table["count"], table["share"])],
                              textposition="auto"))
    figure.update_layout(title="Test errors by which models make them", xaxis_title="errors (test bytes)",
                         yaxis=dict(autorange="reversed", automargin=True, title="made by exactly", type="category"),
                         height=max(320, 140 + 40 * len(table)))
    return figure


def byte_advantage(table: pd.DataFrame, model: str, baseline: str, top: int = TOP_BYTES) -> go.Figure:
    """Mean probability of the correct byte, for the bytes where ``model`` gains and loses most: two panels,
    the ``top`` largest advantages and the ``top`` smallest (the bytes between them are left out)."""
    gains = table.head(top)
    losses = table.tail(top)[lambda t: ~t.byte.isin(gains.byte)]
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05, subplot_titles=[
        f"the {len(gains)} bytes it gains most on", f"the {len(losses)} it gains least on (of {len(table)})"])
    for column, shown in enumerate((gains, losses), start=1):
        for name, colour in ((model, ARCHITECTURE_COLOURS["lstm"]), (baseline, ARCHITECTURE_COLOURS["ngram"])):
            figure.add_bar(x=shown.label, y=shown[name], name=name, marker_color=colour, legendgroup=name,
                           showlegend=column == 1, row=1, col=column)
        figure.update_xaxes(title_text="byte (by advantage)", type="category", row=1, col=column)
    figure.update_yaxes(title_text="mean probability of the byte", row=1, col=1)
    figure.update_layout(title=f"Mean probability of the correct byte:<br>{model} against {baseline}",
                         barmode="group", margin=dict(t=100), legend=dict(orientation="h", y=-0.25))
    return figure


def closer_by_distance(table: pd.DataFrame, models: list[str], closer: str) -> go.Figure:
    """Mean probability of a closing byte by distance to its opener (the paper's Figure 5 left)."""
    figure = go.Figure()
    buckets = [f"{b}<br>n={c:,}" for b, c in zip(table.bucket, table["count"])]  # each point's number of closers
    for i, name in enumerate(models):
        figure.add_scatter(x=buckets, y=table[name], name=name, mode="lines+markers",
                           line_color=ARCHITECTURE_COLOURS[("lstm", "ngram", "nnn")[i % 3]],
                           text=[f"{c} closers" for c in table["count"]])
    figure.update_layout(title=f"Probability of {closer} by distance back to its opener",
                         xaxis=dict(title="distance to the opener (bytes); n: closers at that distance",
                                    type="category"),
                         yaxis_title="mean probability of the closer", margin=dict(b=90))
    return figure


def training_dynamics(table: pd.DataFrame) -> go.Figure:
    """Symmetric KL to each n-NN and the loss difference, along the LSTM's training (Figure 5 right)."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=["symmetric KL to the n-NN", "Δ loss (n-NN − LSTM)"])
    for i, (n, group) in enumerate(table.groupby("n")):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        figure.add_scatter(x=group.step, y=group.symmetric_kl, name=f"{n}-NN", line_color=colour, legendgroup=str(n),
                           row=1, col=1)
        figure.add_scatter(x=group.step, y=group.delta_loss, name=f"{n}-NN", line_color=colour, legendgroup=str(n),
                           showlegend=False, row=1, col=2)
    figure.add_hline(y=0, line_dash="dot", line_color="#999", row=1, col=2)
    figure.update_xaxes(title_text="training step (log scale)", type="log")
    figure.update_yaxes(title_text="symmetric KL (nats/byte)", row=1, col=1)
    figure.update_yaxes(title_text="Δ loss (nats/byte)", row=1, col=2)
    figure.update_layout(title="How the LSTM's predictions move through the n-NNs'<br>during training",
                         margin=dict(t=90), height=legend_height(table.n.nunique()))
    return figure


def error_breakdown(breakdowns: list) -> go.Figure:
    """Share of each model's errors removed by each oracle, in the order applied (Figure 6 left)."""
    figure = go.Figure()
    table = breakdowns[0].table
    colours = _step_colours(list(table.step), list(table.category))
    for step in table.step:
        figure.add_bar(y=[b.name for b in breakdowns],
                       x=[int(b.table.set_index("step").errors.get(step, 0)) for b in breakdowns],
                       name=step, orientation="h", marker_color=colours[step])
    figure.update_layout(barmode="stack", title="The model's errors, peeled by the oracles in order",
                         xaxis_title="errors (test bytes)", yaxis=dict(title="model", type="category"),
                         height=legend_height(len(table), base=160 + 60 * len(breakdowns)),
                         legend=dict(traceorder="normal"))
    return figure


CATEGORY_HUES = {"n-gram": 0, "memory": 210, "rare": 120, "word": 280, "punctuation": 30, "boost": 180}


def _step_colours(steps: list[str], categories: list[str]) -> dict[str, str]:
    """One colour per oracle step: a hue per category, lighter for its later steps; what remains is black."""
    colours = {}
    for category in dict.fromkeys(categories):
        members = [s for s, c in zip(steps, categories) if c == category]
        hue = CATEGORY_HUES.get(category)
        for k, step in enumerate(members):
            lightness = 30 + 45 * k / max(len(members), 2)
            colours[step] = "#222" if hue is None else f"hsl({hue},65%,{lightness:.0f}%)"
    return colours


def error_fixes(table: pd.DataFrame, title: str) -> go.Figure:
    """Share of each error category that another evaluation fixes (rows of ``oracles.fixed_errors``)."""
    figure = go.Figure(go.Bar(x=table["category"], y=table["fixed_share"],
                              text=[f"{f:,} of {e:,}" for f, e in zip(table["fixed"], table["errors"])],
                              marker_color=["#d62728" if c == "memory" else "#7f7f7f" for c in table["category"]]))
    figure.update_layout(title=title, xaxis=dict(title="error category (the oracle that removes it)", type="category"),
                         yaxis_title="share of the category's errors fixed (%)", yaxis_tickformat=".1%")
    return figure


def _wrap(text: bytes, values: np.ndarray, width: int) -> tuple[list[list], list[list[str]], list[list[str]]]:
    """Lay characters out in lines (at newlines or ``width``), padding short lines with blanks.

    Returns the value of each cell (a character's last byte, to 3 decimals: finer than any colour step, and a
    third of the page's weight), its glyph and its tooltip (every byte's value).
    """
    rows, row = [], []
    for start, stop, shown in glyphs(text):
        if not shown:
            continue
        # plotly draws text, not HTML: the character itself
        value = round(float(values[stop - 1]), 3)
        row.append((value, html.unescape(shown), tooltip(text[start:stop], values[start:stop])))
        if text[start:stop] == b"\n" or len(row) == width:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    padded = [row + [(None, "", "")] * (width - len(row)) for row in rows]
    return tuple([[cell[k] for cell in row] for row in padded] for k in range(3))
