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
# # Long-range interactions
#
# Where does the LSTM beat models that see only the last $n$ bytes? We count a byte as an **error**
# when the model gives it probability below 0.5, and compare the best LSTM with the best n-NN and
# the 20-gram: which errors they share, which bytes the LSTM predicts better, how well each
# predicts a closing bracket as a function of how far back its opening bracket is, and how the
# LSTM's predictions move through those of the n-NNs while it trains.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "small"  # tiny, small or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # for the reference signals: auto (a guess), text (prose) or a Pygments lexer name (python, c, ...)

# %%
from IPython.display import Markdown, display

from lit_rnn.analysis import longrange
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
ngrams, nnns = study.baselines()
lstm = study.predictions(study.cell_run)
top_order = max(ngrams)
ngram = ngrams[top_order]
nnn = min(nnns.values(), key=lambda p: p.cross_entropy)

# %% [markdown]
# ## Error overlap

# %%
overlap = longrange.error_overlap([lstm, nnn, ngram])
figures.error_overlap(overlap)

# %%
shared = overlap[overlap[[lstm.name, nnn.name, ngram.name]].all(axis=1)]["share"].sum()
only_lstm = overlap[overlap.models == lstm.name]["count"].sum()
Markdown(f"{shared:.0%} of the errors are made by all three models; {only_lstm:,} are the LSTM's alone.")

# %% [markdown]
# ## Which bytes does the LSTM predict better?

# %%
per_byte = longrange.per_byte_probability([lstm, ngram], study.corpus.vocab)
advantage = longrange.byte_advantage(per_byte, lstm.name, ngram.name)
figures.byte_advantage(advantage, lstm.name, ngram.name)

# %%
Markdown("The LSTM's largest advantages over the " + ngram.name + " are on "
         + ", ".join(f"`{row.label}` ({row.advantage:+.3f})" for row in advantage.head(5).itertuples()) + ".")

# %% [markdown]
# ## Closing brackets and quotes
#
# For every closing byte the distance back to its opening partner is measured over the whole
# text; the curves show the mean probability each model gives the closer, by distance. (Code has
# braces; prose mostly parentheses and quotes. A closer that never occurs in the test split is
# skipped.)

# %%
for closer in (b"}", b")", b'"'):
    table = longrange.closer_probability_by_distance([lstm, ngram], study.syntax, closer)
    if table["count"].sum() >= 20:
        display(figures.closer_by_distance(table, [lstm.name, ngram.name], closer.decode()))

# %% [markdown]
# ## Training dynamics
#
# At its early checkpoints we compare the LSTM's predictions with each n-NN's by the symmetric
# KL divergence $\mathrm{KL}(p\|q) + \mathrm{KL}(q\|p)$, averaged over the test bytes, and by the
# difference of their losses. The paper found that the LSTM first behaves like the 1-NN, then
# like the 2-NN, and so on: it learns short dependencies first.

# %%
dynamics = longrange.training_dynamics(study.snapshot_predictions(study.dynamics_run), nnns)
figures.training_dynamics(dynamics)

# %%
closest = dynamics.loc[dynamics.groupby("step").symmetric_kl.idxmin()][["step", "n"]]
Markdown("The n-NN closest to the LSTM at each checkpoint: "
         + ", ".join(f"step {row.step}: {row.n}-NN" for row in closest.itertuples()) + ".")
