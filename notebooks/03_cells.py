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
# # 3. Interpretable long-range cells
#
# An LSTM cell could, in principle, keep count of anything: how far into the line the text is,
# whether it is inside a quotation, how deeply brackets are nested. The paper showed, by looking at
# cells one by one, that trained networks do grow such cells. Here the search is automatic: we
# compute **reference signals** over the text and rank every cell of every layer by how well its
# activation tracks each one — the absolute Pearson correlation $|\rho|$ for counts (position in
# line, nesting depths, indentation) and the ROC AUC for on/off signals (inside quotes, inside a
# comment), reported as $\max(\mathrm{AUC}, 1-\mathrm{AUC})$. The cells are ranked on the
# validation split and scored, shown and judged on the test split: the best of some 1,500 states on
# the bytes that chose it scores higher than it deserves (chapter 9 measures by how much), while the
# chosen cell's score on other bytes carries no such lift.
#
# Quotes and line length matter in prose; brackets, comments and indentation in code. Every signal
# but the comment signal is computed on prose, and every signal on code; one that never varies in a
# text simply ranks nothing.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "core"  # tiny, small, core or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # the corpus's language for the reference signals: auto, text, or a Pygments lexer name

# %% tags=["hide-input"]
import dataclasses

import pandas as pd
from IPython.display import HTML, Markdown, display

from lit_rnn.analysis import scorecard
from lit_rnn.analysis.cells import (
    PARTLY_TRACKS,
    CellView,
    beyond_horizon,
    cell_claims,
    cell_window,
    shared_leaders,
    signal_views,
    top_cells,
    tracking,
)
from lit_rnn.analysis.signals import language_name, signal_words, varying
from lit_rnn.study import Study
from lit_rnn.truth_study import false_positive_note
from lit_rnn.viz import figures, notebook
from lit_rnn.viz.explorer import CellExplorer, cell_view_html

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)

# %%
run = study.cell_run
trace = study.trace(run)
all_signals = study.signals()
signals = varying(all_signals, trace.positions)
silent = sorted(set(all_signals) - set(signals))
Markdown(f"We examine **{study.about(run)}**, its cells ranked over the "
         f"{study.batcher.positions('val').size:,} bytes of the validation split and scored over the "
         f"{len(trace.positions):,} bytes of the test split, with the reference signals for "
         f"{language_name(study.settings.language)}."
         + (f" These signals never change in this test text and are left out: {', '.join(silent)}." if silent else "")
         + "".join(f"\n\n*{note}*" for note in study.notes))

# %% [markdown]
# ## Ranking the cells
#
# `rank_cells` scores every cell against every signal on one split; `held_out` orders the test
# split's scores by the validation split's ranking (`Study.cell_ranking` does both). Below, the
# three best cells of each signal on validation, with their validation and test scores ($|\rho|$ for
# a count, AUC for an on/off signal: its `kind`); `direction` is +1 where the cell rises with the
# signal (or is higher inside the span) and −1 where it falls.

# %%
ranking = study.cell_ranking(run)  # held_out(rank_cells(validation trace, ...), rank_cells(test trace, ...))
top_cells(ranking, per_signal=3).assign(layer=lambda table: table.layer + 1).rename(  # layers counted from 1
    columns={"chosen_score": "validation", "score": "test"})[
    ["signal", "kind", "layer", "quantity", "cell", "validation", "test", "direction"]].round(3)

# %% tags=["hide-input"]
leaders = top_cells(ranking, per_signal=1)
Markdown("The best cell for each signal on validation, with its test score: " + "; ".join(
    f"**{row.signal}** — layer {row.layer + 1} `{row.quantity}[{row.cell}]` "
    f"({'|ρ|' if row.kind == 'count' else 'AUC'} = {row.score:.2f})" for row in leaders.itertuples()) + ". "
    + shared_leaders(leaders, signals, trace.positions))

# %% [markdown]
# ## The best cell for each signal, on the text (the paper's Figure 2)
#
# Each view shows the stretch of test text where the signal changes most, coloured by the cell as
# in the paper — tanh(c) from red (−1) through white (0) to blue (+1), on that fixed scale — with
# the activation curve underneath. A signal whose best cell scores below the "partly" threshold of
# the claims below has no cell worth showing: it gets a sentence instead.

# %%
shown = tracking(leaders).signal
weak = leaders[~leaders.signal.isin(shown)]
tracked = {name: signal for name, signal in signals.items() if name in set(shown)}
for view in signal_views(ranking[ranking.signal.isin(shown)], trace, study.corpus.data, tracked, length=300):
    display(HTML(cell_view_html(view)))
if len(weak):
    display(Markdown("No cell tracks " + ", ".join(
        f"**{signal_words(row.signal)}** (best: layer {row.layer + 1} `{row.quantity}[{row.cell}]`, "
        f"{'|ρ|' if row.kind == 'count' else 'AUC'} = {row.score:.2f}, below {PARTLY_TRACKS[row.kind]:g})"
        for row in weak.itertuples()) + f": no view is shown for {'it' if len(weak) == 1 else 'them'}."))

# %% [markdown]
# ## Beyond the unroll horizon
#
# Training backpropagates through 100 steps at most, so no gradient ever ties a byte to one more
# than 100 bytes back. Yet the paper saw quote and comment cells stay on across much longer spans.
# For every on/off signal we find its spans in the text and score the best cell twice: on all bytes,
# and only on the bytes more than 100 bytes into their span (against every byte outside a span).

# %%
horizon = run.config.recipe.seq_length  # the unroll length of truncated backpropagation
beyond = [beyond_horizon(trace, signals[row.signal], row.layer, row.quantity, row.cell, horizon)
          for row in leaders.itertuples() if row.kind == "binary"]
(pd.DataFrame([dataclasses.asdict(b) for b in beyond]).drop(columns="longest_end").round(3) if beyond
 else Markdown("No on/off signal varies here."))

# %%
deepest = max(beyond, key=lambda b: b.longest_span, default=None)
if deepest is not None and deepest.longest_span > horizon and deepest.signal in set(shown):
    row = leaders.set_index("signal").loc[deepest.signal]
    length = min(deepest.longest_span + 60, 6 * horizon)  # its end, well beyond the horizon
    start = max(deepest.longest_end + 30 - length, 0)
    text, values = cell_window(study.corpus.data, trace, row.layer, row.quantity, row.cell, start, length)
    label = (f"The longest {deepest.signal} span of the test text ({deepest.longest_span:,} bytes; "
             + ("all of it, with 30 bytes on either side" if length == deepest.longest_span + 60 else
                f"its last {length - 30:,} bytes and the 30 after") + f"), coloured by layer {row.layer + 1} "
             f"{row.quantity}[{row.cell}]")
    display(HTML(cell_view_html(CellView(label, row.layer, row.quantity, row.cell, start, text, values))))

# %% [markdown]
# ## Explore without a kernel
#
# The menu switches between the two top cells of every signal (300 bytes of text each; the live
# explorer below ranks every cell on any stretch of text).

# %%
figures.cell_selector(signal_views(ranking[ranking.signal.isin(shown)], trace, study.corpus.data, tracked,
                                   per_signal=2, length=300)) if len(shown) else Markdown("No cell tracks any signal.")

# %% [markdown]
# ## The explorer
#
# In JupyterLab (`make lab`) every control is live: choose a run (every traced model of this
# chapter and the next: the LSTM above and the LSTM and GRU whose gates chapter 4 measures), a
# layer, a quantity (cell state, hidden state or a gate) and a cell; slide through the test text.
# Rank the cells by a reference signal — only those that vary in this text are offered — or
# select a stretch of the text with the mouse to mark it, then rank by the marked span: the cells
# that are on inside it and off just around it come first (LSTMVis's select-and-match). Colours
# are on fixed scales, as above: tanh(c) for cell states, 0…1 for gates; a dashed line marks where
# one of the test split's separate segments ends and the next begins. It opens on the chapter's
# best cell. In the static book the widget shows its last state.

# %%
explorer = CellExplorer(study.corpus, {r.name: study.trace(r) for r in study.traced_runs}, signals=all_signals)
explorer.show_best(ranking, run=run.name)  # opens on the chapter's best cell, where its signal varies most
explorer.widget

# %% [markdown]
# ## What this chapter found
#
# A cell *tracks* a signal here when $|\rho| \ge 0.5$ (counts) or $\mathrm{AUC} \ge 0.9$ (on/off);
# *partly* from $|\rho| \ge 0.3$ or $\mathrm{AUC} \ge 0.75$, on the test split, for the cell chosen on
# validation. These thresholds are this book's choice: the paper shows cells by eye. The chance level
# is what an unrelated cell would score: chosen on validation, its test score carries no lift from
# picking the best of many. The paper shows its bracket, comment and indentation cells on Linux only; on War and
# Peace those claims are not applicable.

# %% tags=["hide-input"]
measured = false_positive_note(study.artifacts, study.preset.name)  # kept by the ground-truth chapter
Markdown(measured if measured else "How often they declare a cell by chance is measured in the ground-truth chapter.")

# %%
claims = scorecard.applicable(cell_claims(ranking, silent, beyond), study.corpus.name, models=[run])
study.save_claims("03_cells", claims)
display(Markdown(scorecard.findings(claims, study.corpus.name)))
scorecard.table(claims)
