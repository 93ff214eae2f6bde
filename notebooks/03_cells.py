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
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "small"  # tiny, small or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # for the reference signals: auto (a guess), text (prose) or a Pygments lexer name (python, c, ...)

# %%
from IPython.display import HTML, Markdown, display

from lit_rnn.analysis.cells import rank_cells, signal_views, top_cells
from lit_rnn.analysis.signals import varying
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook
from lit_rnn.viz.explorer import CellExplorer, cell_view_html

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
run = study.cell_run
trace = study.trace(run)
all_signals = study.signals()
signals = varying(all_signals, trace.positions)
silent = sorted(set(all_signals) - set(signals))
Markdown(f"We examine **{run.config.model.name}**, the best LSTM of this build, over the {len(trace.positions):,} "
         f"bytes of the test split, with the signals of **{study.settings.language}**."
         + (f" These signals never change in this test text and are left out: {', '.join(silent)}." if silent else ""))

# %% [markdown]
# ## Ranking the cells

# %%
ranking = rank_cells(trace, signals.values(), trace.positions, quantities=("c", "h"))
best_cells = top_cells(ranking, per_signal=3)
best_cells.round(3)

# %%
leaders = top_cells(ranking, per_signal=1)
Markdown("The best cell for each signal: " + "; ".join(
    f"**{row.signal}** — layer {row.layer} `{row.quantity}[{row.cell}]` "
    f"({'|ρ|' if row.kind == 'count' else 'AUC'} = {row.score:.2f})" for row in leaders.itertuples()) + ".")

# %% [markdown]
# ## The best cell for each signal, on the text
#
# Each view shows the stretch of test text where the signal changes most, coloured by the cell
# (blue low, red high), with the activation curve underneath.

# %%
for view in signal_views(ranking, trace, study.corpus.data, signals, per_signal=1, length=500):
    display(HTML(cell_view_html(view)))

# %% [markdown]
# ## Explore without a kernel
#
# The menu switches between the top cells of every signal.

# %%
figures.cell_selector(signal_views(ranking, trace, study.corpus.data, signals, per_signal=3, length=400))

# %% [markdown]
# ## The explorer
#
# In JupyterLab (`make lab`) every control is live: choose a run, layer, quantity (cell state,
# hidden state or a gate) and cell; slide through the test text; rank cells by a reference signal,
# or mark a span with the second slider and rank the cells that are high inside it and low around
# it (as LSTMVis does). In the static book the widget shows its last state.

# %%
explorer = CellExplorer(study.corpus, {run.config.model.name: trace}, signals)
explorer.rank_by.value = leaders.signal.iloc[0]
explorer.widget
