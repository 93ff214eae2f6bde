# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Interpretable long-range cells
#
# An LSTM cell could, in principle, keep count of anything: how far into the line the text is,
# whether it is inside a quotation, how deeply brackets are nested. The paper showed, by looking at
# cells one by one, that trained networks do grow such cells. Here the search is automatic: we
# compute **reference signals** over the test text and rank every cell of every layer by how well
# its activation tracks each one — the absolute Pearson correlation $|\rho|$ for counts (position
# in line, nesting depths, indentation) and the ROC AUC for on/off signals (inside quotes, inside a
# comment), reported as $\max(\mathrm{AUC}, 1-\mathrm{AUC})$.
#
# Quotes and line length matter in prose; brackets, comments and indentation in code. Every signal
# is computed on any corpus; one that never varies in a text simply ranks nothing.

# %% tags=["parameters"]
corpus = "warpeace"
preset = "small"
device = "cpu"
data_dir = None
artifacts = None

# %%
from IPython.display import HTML, Markdown, display

from lit_rnn.analysis.cells import rank_cells
from lit_rnn.analysis.signals import reference_signals
from lit_rnn.study import Study
from lit_rnn.viz import figures
from lit_rnn.viz.explorer import CellExplorer, busiest_window, cell_view_html, cell_window, top_cells

figures.use_book_renderer()
study = Study.open(corpus, preset, data_dir, artifacts, device)
run = study.best("lstm")
trace = study.trace(run)
all_signals = reference_signals(study.corpus.data)
signals = {name: s for name, s in all_signals.items() if s.values[trace.positions].min() < s.values[trace.positions].max()}
silent = sorted(set(all_signals) - set(signals))
Markdown(f"We examine **{run.config.model.name}**, the best LSTM of this build, over the {len(trace.positions):,} "
         f"bytes of the test split."
         + (f" These signals never change in this test text and are left out: {', '.join(silent)}." if silent else ""))

# %% [markdown]
# ## Ranking the cells

# %%
ranking = rank_cells(trace, signals.values(), trace.positions, quantities=("c", "h"))
best_cells = top_cells(ranking, per_signal=3)
best_cells.round(3)

# %%
leaders = best_cells.groupby("signal", sort=False).head(1)
Markdown("The best cell for each signal: " + "; ".join(
    f"**{row.signal}** — layer {row.layer} `{row.quantity}[{row.cell}]` "
    f"({'|ρ|' if row.kind == 'count' else 'AUC'} = {row.score:.2f})" for row in leaders.itertuples()) + ".")

# %% [markdown]
# ## The best cell for each signal, on the text
#
# Each view shows the stretch of test text where the signal changes most, coloured by the cell
# (blue low, red high), with the activation curve underneath.

# %%
views = []
for row in leaders.itertuples():
    values_at_positions = signals[row.signal].values[trace.positions]
    start = busiest_window(values_at_positions, 500)
    text, values, _ = cell_window(study.corpus, trace, row.layer, row.quantity, row.cell, start, 500)
    views.append((f"{row.signal}: layer {row.layer} {row.quantity}[{row.cell}] (score {row.score:.2f})", text, values))
    display(HTML(cell_view_html(study.corpus, trace, row.layer, row.quantity, row.cell, start, 500, views[-1][0])))

# %% [markdown]
# ## Explore without a kernel
#
# The menu switches between the top cells of every signal.

# %%
top_views = []
for row in best_cells.itertuples():
    start = busiest_window(signals[row.signal].values[trace.positions], 400)
    text, values, _ = cell_window(study.corpus, trace, row.layer, row.quantity, row.cell, start, 400)
    top_views.append((f"{row.signal} #{len([v for v in top_views if v[0].startswith(row.signal)]) + 1}: "
                      f"layer {row.layer} {row.quantity}[{row.cell}]", text, values))
figures.cell_selector(top_views)

# %% [markdown]
# ## The explorer
#
# In JupyterLab (`make lab`) every control is live: choose a run, layer, quantity (cell state,
# hidden state or a gate) and cell; slide through the test text; rank cells by a reference signal,
# or mark a span with the second slider and rank the cells that are high inside it and low around
# it (as LSTMVis does). In the static book the widget shows its last state.

# %%
explorer = CellExplorer(study.corpus, {run.config.model.name: trace})
explorer.rank_by.value = leaders.signal.iloc[0]
explorer.widget
