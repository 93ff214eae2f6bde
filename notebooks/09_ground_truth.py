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
# # 9. Ground truth for the cell search
#
# Chapter 3 ranks every cell of a model against reference signals and declares that a cell
# *tracks* a signal from $|\rho| \ge 0.5$ (counts) or $\mathrm{AUC} \ge 0.9$ (on/off), *partly*
# from $0.3$ or $0.75$. On War and Peace and Linux nobody knows what the model really holds, so two
# questions stay open: how often does the best of hundreds of weak correlations cross those
# thresholds by chance, and how often does the search miss something the model has?
#
# Here the text is written by a generator that records, at every byte, the true value of every
# latent variable behind it: how deeply two kinds of brackets are nested, whether the byte is
# inside a quoted span (a quarter of the spans run past the 100-byte unroll horizon), the
# position in the line (line lengths are drawn, so the newline depends on it), and whether a
# name introduced as `@xyz` is still waiting to be repeated as `#xyz`. Beside them are **controls**
# no model needs: two variables drawn independently of the text, which no model can know, and two
# it could compute from the text but that never help (a letter's parity, the balance of two
# letters in the line). We train LSTMs on this text with the project's recipe and run chapter 3's
# search with the true variables as signals, ranking and scoring the cells on the same test text
# (chapter 3 ranks on validation and scores on test; the same text for both is the harsher case for
# chance, which is what this chapter measures). The controls give the chance level and the
# false-positive rate of the thresholds; a linear probe over all cells at once says what the model
# holds, so a miss of the single-cell search is visible; chapter 8's ablations say which cells the
# model uses.

# %% tags=["parameters"]
preset = "core"  # tiny (the tests: seconds), small, core or paper: the CPU-sized models for all but tiny
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
# The generator (lit_rnn.synthetic.SyntheticConfig); None keeps the preset's value.
n_bytes = None  # the corpus's length
seed = None  # the text's seed
line_lengths = None  # (low, high): each line's length is drawn uniformly from it
max_depth = None  # the deepest bracket nesting
quote_lengths = None  # (low, high) bytes of a short quoted span
long_quote_lengths = None  # (low, high) bytes of a long one
long_share = None  # the share of spans drawn long (beyond the 100-byte horizon)
name_distances = None  # (low, high) bytes from a name's introduction to its repeat
control_seed = None  # the seed of the controls drawn independently of the text
control_draws = 10  # more independent draws of each such control, per model: the false-positive rate's sample

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import HTML, Markdown, display

from lit_rnn.analysis import groundtruth, scorecard
from lit_rnn.analysis.causal import scores_table
from lit_rnn.analysis.cells import CellView
from lit_rnn.synthetic import HORIZON
from lit_rnn.truth_study import TruthStudy
from lit_rnn.viz import notebook
from lit_rnn.viz.explorer import cell_view_html

notebook.setup()
generator = dict(n_bytes=n_bytes, seed=seed, line_lengths=line_lengths, max_depth=max_depth,
                 quote_lengths=quote_lengths, long_quote_lengths=long_quote_lengths, long_share=long_share,
                 name_distances=name_distances, control_seed=control_seed)
study = TruthStudy.open(preset=preset, device=device, precision=precision, data_dir=data_dir, artifacts=artifacts,
                        generator=generator)

# %% [markdown]
# ## The text and its truth

# %%
summary = groundtruth.corpus_summary(study.truth, study.roles)
Markdown(f"The generator wrote **{len(study.corpus):,} bytes** (`{study.corpus.path.name}`, {study.corpus.vocab_size} "
         f"distinct bytes). Of its {study.spans['spans']:,} quoted spans, **{100 * study.spans['beyond']:.0f}%** are "
         f"longer than the {HORIZON}-byte horizon (the longest in the whole text: {study.spans['longest']:,} bytes; "
         "the tables below measure the test split's).")

# %%
summary.round(3)

# %% [markdown]
# A stretch of the text, coloured by the true `in_quotes` (blue inside a quoted span):

# %%
start, length = study.window("in_quotes", 600)
values = study.truth["in_quotes"][start : start + length].astype(float)
display(HTML(cell_view_html(CellView("in_quotes (the truth)", 0, "truth", 0, start,
                                     study.corpus.data[start : start + length].tobytes(), values))))

# %% [markdown]
# ## The models
#
# Two-layer LSTMs of a few widths, trained with the small preset's recipe (the paper's RMSprop,
# batches of 100 × 100 bytes, 1,000 steps), with their weights kept at a few early steps.

# %%
study.model_table()

# %% [markdown]
# ## The search against the truth
#
# For each model: chapter 3's ranking with every true variable as a signal, the best cell and what
# the thresholds declare; `probe`, the score of a ridge regression over all cells at once, fitted
# on the first half of the test text and scored on the second (the model *holds* a variable when
# the probe reaches the "tracks" threshold); *first used*, the rank in the search of the first cell
# whose ablation moves the loss on the bytes that need the variable beyond the layer's random cells
# (chapter 8's test; the top three cells of each needed variable are ablated).

# %%
searches = study.analyse_all(control_draws)
tables = pd.concat([s.variables.assign(hidden=s.run.config.model.hidden_size) for s in searches], ignore_index=True)
wide = tables.pivot(index=["role", "signal"], columns="hidden", values=["score", "declared", "probe", "first_used"])
wide.infer_objects().round(2)  # a pivot over text and numbers leaves every column text until inferred

# %%
largest = searches[-1]
model = largest.run.name
Markdown(f"The largest model, **{model}**, cell by cell:")

# %%
largest.variables.assign(layer=lambda t: t.layer + 1, holds=lambda t: t.holds.map({True: "yes", False: "no"})).round(3)

# %% [markdown]
# ## Chance: what the search finds in variables no model needs
#
# Every model is searched against its own independent draws of the two unknowable controls, and
# against the two computable ones. The best cell of each such search is what the thresholds see
# when nothing is there. First, the distribution of every cell's score on the controls, then the
# best of each search:

# %%
controls = pd.concat([s.controls for s in searches], ignore_index=True)
pd.concat([groundtruth.chance_quantiles(s.ranking, list(s.controls.signal)).assign(model=s.run.name)
           for s in searches], ignore_index=True).round(3)

# %%
controls.groupby("kind").score.describe().round(3).astype({"count": int})

# %%
rates = groundtruth.false_positive_rate(controls)
study.save_false_positives(rates)
rates.round(3)

# %% tags=["hide-input"]
top = controls.groupby("kind").score.max()
Markdown(f"Over {len(controls)} control searches ({len(searches)} models, each searched against "
         f"{len(controls) // len(searches)} control variables: the computable controls, and the unknowable ones in "
         f"{control_draws + 1} independent draws each) the best cell reached "
         f"AUC **{top.get('binary', float('nan')):.3f}** "
         f"and |ρ| **{top.get('count', float('nan')):.3f}**: chance on {len(study.trace(largest.run).positions):,} "
         f"bytes of test text, against chapter 3's *partly* thresholds of AUC {groundtruth.PARTLY_TRACKS['binary']} "
         f"and |ρ| {groundtruth.PARTLY_TRACKS['count']}.")

# %% [markdown]
# ## Precision and recall of the thresholds
#
# Over the variables of each model: a declaration on a needed variable the probe says the model
# holds is a true positive, one on a control a false positive; recall is over the needed variables
# the model holds.

# %%
pd.concat([groundtruth.precision_recall(s.variables).assign(model=s.run.name) for s in searches],
          ignore_index=True).round(2)

# %% [markdown]
# ## Does the model use the cells the search finds?
#
# The top cells of each needed variable in the largest model, ablated and tested as chapter 8 tests
# them (a cell is *used* when it passes every test).

# %%
scores_table(largest.causal)

# %% [markdown]
# ## Beyond the unroll horizon
#
# The best quote cell of each model, on all bytes of the test split and only on the bytes more than
# 100 bytes into their span (against every byte outside a span), as chapter 3 measures it;
# `longest_span` is the test split's longest.

# %%
beyond = {s.run.name: study.beyond(s) for s in searches}
pd.DataFrame(beyond.values(), index=list(beyond)).drop(columns="longest_end").round(3)

# %% [markdown]
# ## When do the cells appear?
#
# The best cell and the probe for each needed variable across model width and the training steps
# whose weights were kept; the last step of each width is the step of its best weights (its lowest
# validation loss), kept whether or not it is among the snapshots. First the best cell's score, by
# training step:

# %%
emergence = study.emergence()
emergence.pivot(index=["signal", "hidden"], columns="step", values="score").round(2)

# %% [markdown]
# The probe's score, at the same steps:

# %%
emergence.pivot(index=["signal", "hidden"], columns="step", values="probe").round(2)

# %% [markdown]
# ## The claims, checked
#
# Each claim but the first (which pools the control searches of every model) is judged on the
# largest model, whose name leads what it measured; the tables above show the smaller ones.

# %%
variables = largest.variables
claims = [
    groundtruth.control_claim(rates),
    groundtruth.needed_claim(variables, model),
    groundtruth.probe_claim(variables, model),
    groundtruth.used_claim(largest.used, model),
    groundtruth.horizon_claim(beyond[model], model),
]
study.save_claims(claims)
scorecard.table(claims)
