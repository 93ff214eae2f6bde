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
# # 5. Finite-horizon baselines
#
# If the LSTM's strength is long-range memory, models that see only the last $n$ bytes should fall
# behind it. The paper compares two such families, row by row, at the same context $n$:
#
# - the **n-NN**: the one-hot vectors of the last $n$ bytes, concatenated, into one hidden layer of
#   tanh units and a softmax, trained with the same recipe and early stopping as the recurrent models;
# - the **n-gram**: an unpruned byte model with modified Kneser-Ney smoothing, estimated with
#   KenLM, $p(x_{t+1} \mid x_{t-n+1..t})$, which also conditions on $n$ bytes. The book names it
#   as the paper does, by the $n$ bytes of context it sees; KenLM counts the predicted byte too and
#   calls it order $n + 1$ (the paper's 20-gram is KenLM's order 21). Every page uses the paper's name.
#
# Both walk each test row from its start, exactly as the recurrent models carry their state, and
# give a full distribution over the corpus's bytes at every position. The paper cross-validated the
# n-NN's hidden size; this book fixes it at 512 units (and dropout at 0) for every $n$, so that the
# n-NNs cost one training each: with the full recipe there are ten per corpus.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "core"  # tiny, small, core or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # the corpus's language for the reference signals: auto, text, or a Pygments lexer name

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from lit_rnn.analysis import compare, scorecard
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
ngrams, nnns = study.baselines()
best_run = study.best_recurrent()
best = study.predictions(best_run)

# %% [markdown]
# ## Table 2
#
# Test cross-entropy in nats per byte, by bytes of context $n$, with bootstrap standard deviations
# over the test segments. The figure draws the recurrent model with the lowest validation loss as a
# level: it reads the whole row of text before each byte, whatever $n$.

# %%
table = compare.finite_horizon_table(ngrams, nnns)
table.round(3)

# %%
figures.finite_horizon(table, {best.name: best.cross_entropy})

# %%
best_ngram = table["n-gram"].idxmin()
Markdown(
    f"On the test split, the best n-gram is the {best_ngram}-gram at {table['n-gram'].min():.3f} nats per byte, "
    + (f"the best n-NN{' at hand' if table['n-NN'].isna().any() else ''} is the {table['n-NN'].idxmin()}-NN at "
       f"{table['n-NN'].min():.3f}" if nnns else
       "and there is no n-NN in this build")
    + f"; the best recurrent model, {study.about(best_run)}, reaches {best.cross_entropy:.3f}. "
    + "".join(f"\n\n*{note}*" for note in study.notes)
)

# %% [markdown]
# These are models that stop learning when training ends. A model that keeps learning from the text
# it has just read, *dynamic evaluation*, goes further: [chapter 8](08_beyond.ipynb) measures it,
# and the introduction sets its loss beside the 20-gram's.

# %% [markdown]
# ## What this chapter found
#
# "Nearly identical" means within 2% here, with the 95% bootstrap interval inside that band; any
# other difference counts where it exceeds twice its paired bootstrap standard deviation (|z| > 2),
# the bootstrap resampling the test split's segments (not seeds).

# %%
similar, overfit, beats = compare.finite_horizon_claims(ngrams, nnns, best, study.corpus.name)
claims = scorecard.applicable([similar, overfit], study.corpus.name) + scorecard.applicable([beats], study.corpus.name,
                                                                                           models=[best_run])
study.save_claims("05_baselines", claims)
display(Markdown(scorecard.findings(claims, study.corpus.name)))
scorecard.table(claims)
