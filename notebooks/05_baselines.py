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
# # Finite-horizon baselines
#
# If the LSTM's strength is long-range memory, models that see only the last $n$ bytes should fall
# behind it. The paper compares two such families:
#
# - **n-gram** models: unpruned, modified Kneser-Ney smoothing, estimated with KenLM over byte tokens,
#   $p(x_{t+1} \mid x_{t-n+2..t})$;
# - **n-NN** networks: the one-hot vectors of the last $n$ bytes, concatenated, into one hidden layer
#   of 512 tanh units and a softmax, trained with the same optimiser and early stopping as the LSTM.
#
# Both walk each test row from its start, exactly as the recurrent models carry their state, and
# give a full distribution over the corpus's bytes at every position.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "small"  # tiny, small or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # for the reference signals: auto (a guess), text (prose) or a Pygments lexer name (python, c, ...)

# %%
from IPython.display import Markdown

from lit_rnn.analysis.compare import finite_horizon_table
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
ngrams, nnns = study.baselines()
best = study.predictions(study.best("lstm"))

# %% [markdown]
# ## Table 2

# %%
table = finite_horizon_table(ngrams, nnns, best)
table.round(3)

# %%
figures.finite_horizon(table, best.name)

# %%
best_ngram = table["n-gram"].idxmin()
best_nnn = table["n-NN"].idxmin()
Markdown(
    f"The best n-gram is the {best_ngram}-gram at {table['n-gram'].min():.3f} nats per byte and the best n-NN the "
    f"{best_nnn}-NN at {table['n-NN'].min():.3f}; the best LSTM of this build, {best.name}, reaches "
    f"{best.cross_entropy:.3f}. "
    + ("It beats every finite-horizon baseline here." if best.cross_entropy < table[["n-gram", "n-NN"]].min().min()
       else "At this preset it does not yet beat the best finite-horizon baseline: the paper's LSTMs trained "
            "for 50 epochs; see the `paper` preset.")
)
