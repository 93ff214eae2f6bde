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
# # Models and training
#
# Three recurrent networks read one byte per step as a one-hot vector $x_t$ and predict the next
# byte with a softmax over the read-out $y_t = W_y h_t^L$ of the top layer $L$:
#
# - **RNN**: $h_t^l = \tanh W^l [h_t^{l-1}; h_{t-1}^l]$
# - **LSTM**: gates $i, f, o = \sigma(\cdot)$ and candidate $g = \tanh(\cdot)$ of $W^l [h_t^{l-1}; h_{t-1}^l]$,
#   then $c_t^l = f \odot c_{t-1}^l + i \odot g$ and $h_t^l = o \odot \tanh c_t^l$
# - **GRU**: reset $r$ and update $z$ gates, candidate $\tilde h = \tanh(W_x h_t^{l-1} + W_h (r \odot h_{t-1}^l))$,
#   and $h_t^l = (1 - z) \odot \tilde h + z \odot h_{t-1}^l$
#
# The paper compares them at equal parameter budgets: the budgets of a 1-layer LSTM with 64, 128,
# 256 and 512 cells, matched for every type and depth. Training follows the paper's recipe:
# uniform initialisation in $[-0.08, 0.08]$, RMSProp at learning rate $2\cdot10^{-3}$ (decay 0.95),
# batches of 100 rows × 100 steps with state carried across batches, element-wise gradient
# clipping at 5, learning-rate decay 0.95 per epoch after epoch 10, early stopping on validation.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "small"  # tiny, small or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # for the reference signals: auto (a guess), text (prose) or a Pygments lexer name (python, c, ...)

# %%
import inspect

import pandas as pd
from IPython.display import Markdown, display

from lit_rnn.analysis import compare
from lit_rnn.evaluate import sample
from lit_rnn.models import gru_step, lstm_step, parameter_matched_grid, rnn_step
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)

# %% [markdown]
# ## The equations that run
#
# Training and evaluation use PyTorch's fused kernels (cuDNN on a GPU), which never expose a gate.
# The analyses read gates from a *trace*: the same weights run through the equations above,
# written out one time step at a time. These are the functions every trace in this book calls
# (`lit_rnn.models`), shown from the library's source; `x_proj` is the input term
# $W_{ih} x_t + b_{ih}$, computed for all steps at once, and a test checks them against the fused
# kernel step by step.

# %%
Markdown("```python\n" + "\n\n".join(inspect.getsource(step) for step in (rnn_step, lstm_step, gru_step)) + "```")

# %% [markdown]
# ## The parameter-matched grid

# %%
grid = pd.DataFrame(parameter_matched_grid(study.corpus.vocab_size))
grid.pivot_table(index=["architecture", "n_layers"], columns="size", values=["hidden_size", "parameters"])

# %% [markdown]
# ## Training
#
# The preset decides which of these models are trained and for how long; every run lives in the
# run store under a hash of its configuration, so rebuilding the book reuses it.

# %%
runs = study.grid_runs
recipe = study.preset.recipe
Markdown(
    f"Preset **{study.preset.name}**: {len(runs)} models, up to {recipe.epochs:g} epochs"
    + (f" (at most {recipe.max_steps} steps)" if recipe.max_steps else "")
    + f", dropout chosen from {list(study.preset.dropouts)} on validation."
)

# %%
figures.training_curves({run.config.model.name: run.metrics for run in runs})

# %% [markdown]
# ## Table 1: test cross-entropy

# %%
predictions = [study.predictions(run) for run in runs]
table = compare.loss_table(predictions, [run.config.model for run in runs], [run.result.parameters for run in runs],
                           study.corpus.name)
table.round(4)

# %%
figures.loss_heatmap(table)

# %%
best = table.loc[table.test_loss.idxmin()]
by_architecture = table.groupby("architecture").test_loss.min()
paper = table.paper.dropna()
Markdown(
    f"The best model is **{best.model}** at {best.test_loss:.3f} nats per byte; the best of each type: "
    + ", ".join(f"{name.upper()} {loss:.3f}" for name, loss in by_architecture.items()) + ". "
    + (f"The paper's best LSTM reached {paper.iloc[0]:.3f} after 50 epochs of the full grid." if len(paper) else
       "The paper gives no reference value for this corpus.")
)

# %% [markdown]
# ## Do the models agree?
#
# Each model is described by the probability it gives every test byte; t-SNE places models with
# similar predictions close together (the paper's Figure 2, right). The matrix counts how often two
# models put the same byte first.

# %%
if len(predictions) >= 3:
    display(figures.model_embedding(compare.model_embedding(predictions)))
figures.agreement_heatmap(compare.agreement_matrix(predictions))

# %% [markdown]
# ## Samples from the best model

# %%
best_run = study.best(best.architecture)
generated = sample(best_run.load_model(study.settings.device), study.corpus, b"\n", 400, temperature=0.8)
Markdown("```\n" + generated.decode("utf-8", errors="replace").replace("\r", "") + "\n```")
