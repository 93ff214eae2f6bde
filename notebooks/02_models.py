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
# # 2. Models and training
#
# Three recurrent networks read one byte per step as a one-hot vector $x_t$ and predict the next
# byte with a softmax over the read-out $y_t = W_y h_t^L$ of the top layer $L$; layer $l$ reads the
# layer below, $h_t^{l-1}$ (with $h_t^0 = x_t$), and its own previous state $h_{t-1}^l$. Written as
# the code computes them (biases included, as PyTorch's fused kernels hold them), in the paper's
# convention for the GRU's update gate $z$:
#
# - **RNN**: $h_t^l = \tanh(W_{ih} h_t^{l-1} + b_{ih} + W_{hh} h_{t-1}^l + b_{hh})$
# - **LSTM**: gates $i, f, o = \sigma(\cdot)$ and candidate $g = \tanh(\cdot)$ of
#   $W_{ih} h_t^{l-1} + b_{ih} + W_{hh} h_{t-1}^l + b_{hh}$ (one block each),
#   then $c_t^l = f \odot c_{t-1}^l + i \odot g$ and $h_t^l = o \odot \tanh c_t^l$
# - **GRU**: reset $r$ and update $z$ gates $\sigma(\cdot)$ of the same sum, candidate
#   $\tilde h = \tanh(W_{in} h_t^{l-1} + b_{in} + r \odot (W_{hn} h_{t-1}^l + b_{hn}))$, and
#   $h_t^l = (1 - z) \odot h_{t-1}^l + z \odot \tilde h$
#
# The RNN and LSTM are the paper's, and the GRU's $z$ is the paper's everywhere in this book: a high
# $z$ takes the new candidate, a low $z$ keeps the previous state. PyTorch's kernel, and the code below
# (`gru_step`), compute the other gate, $1 - z$, under the name `z`; chapter 4's gate statistics
# turn it back into the paper's $z$. One difference remains: the paper's candidate is
# $\tilde h = \tanh(W_x h_t^{l-1} + W_g (r \odot h_{t-1}^l))$, the reset gate applied *before* the
# recurrent matrix; PyTorch (following cuDNN) applies it after, to $W_{hn} h_{t-1}^l + b_{hn}$. That
# is a slightly different function, which this book trains and traces as it is.
#
# The paper compares the three at equal parameter budgets: the budgets of a 1-layer LSTM with 64,
# 128, 256 and 512 cells, matched for every architecture and depth. Training follows the paper's
# recipe: uniform initialisation in $[-0.08, 0.08]$, RMSProp at learning rate $2\cdot10^{-3}$ (decay
# 0.95), batches of 100 rows × 100 steps with state carried across batches, learning-rate decay 0.95
# per epoch after epoch 10, dropout chosen on validation (which dropouts this build trained is listed
# under its models below), early stopping on validation. Gradients are
# clipped element-wise at 5: char-rnn's number, which the paper does not state (char-rnn clips a
# gradient summed over the 100 steps, this one is their mean, so its clipping is looser).
#
# Every weight and bias starts in that range, the LSTM's forget-gate biases too: char-rnn, the paper's
# code, set those to 1 only from September 2015, after the paper (its commit 0dfeaa4).

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "core"  # tiny, small, core or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # the corpus's language for the reference signals: auto, text, or a Pygments lexer name

# %% tags=["hide-input"]
import inspect

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from lit_rnn.analysis import compare, scorecard
from lit_rnn.evaluate import sample
from lit_rnn.models import gru_step, lstm_step, parameter_matched_grid, rnn_step
from lit_rnn.runs import Recipe
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook
from lit_rnn.viz.figures import budget_label

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
# $W_{ih} x_t + b_{ih}$, computed for all steps at once. A test checks them against the fused
# kernel one step at a time, from the kernel's own state.

# %% tags=["hide-input"]
Markdown("```python\n" + "\n\n".join(inspect.getsource(step) for step in (rnn_step, lstm_step, gru_step)) + "```")

# %% [markdown]
# ## The parameter-matched grid
#
# Each budget is named by its parameter count; a cell holds the hidden size that meets it and the
# parameters that size gives.

# %%
grid = pd.DataFrame(parameter_matched_grid(study.corpus.vocab_size, reference_sizes=study.preset.reference_sizes))
grid["budget"] = grid["budget_index"].map(dict(enumerate(budget_label(b) for b in study.budgets)))
grid.pivot(index=["architecture", "n_layers"], columns="budget", values=["hidden_size", "parameters"]).reindex(
    columns=[budget_label(b) for b in study.budgets], level=1).rename_axis(index=["architecture", "layers"])

# %% [markdown]
# ## The models of this build
#
# The preset decides which models are trained and how. Every run lives in the run store under a
# hash of what determines its result (corpus, model, recipe, seed), so rebuilding reuses it. Pages
# name a model by its architecture, layers × cells, parameters, dropout and training, e.g.
# `lstm-3x241 · 1.27M · d0.25 · 50 epochs` (War and Peace's large LSTM); where and how each was
# trained is in this table, the book's one record of it (wall time "not timed" where a run was not
# timed in one piece). Its precision *bf16* is PyTorch's bf16 autocast, which decides per operation:
# the read-out computes in bf16, the recurrent layers on a CPU in bf16 (LSTM, RNN) or fp32 (GRU), and
# on an NVIDIA GPU in fp16, whatever the autocast's dtype (PyTorch casts cuDNN's recurrent layers to
# fp16), where the loss is scaled by 2^8 for the backward pass so that small gradients do not flush to zero
# (runs trained on a GPU before that change went without). Every evaluation is in fp32.

# %% tags=["hide-input"]
runs = study.recurrent_runs
grid_ids = {run.config.run_id for run in study.grid_runs}
display(Markdown(f"Preset **{study.preset.name}**." + "".join(f"\n\n*{note}*" for note in study.notes)
                 + f"\n\n{study.dropout_note()} Early stopping: {study.preset.recipe.stopping}."))
study.provenance_table()

# %% [markdown]
# ### Training curves
#
# One panel per training length where the build holds more than one (the paper's 50 epochs, a
# preset's shorter grid), so a short run is not squashed into the start of a long one's axis.

# %%
curves = {}
for run in runs:
    curves.setdefault(run.config.recipe.length, {})[study.about(run)] = run.metrics
figures.training_curves(curves)

# %% tags=["hide-input"]
plateau = study.plateau  # the loss of predicting each byte by its frequency alone
rises = compare.validation_rises({study.about(run): run.metrics for run in runs  # one stuck at the plateau (named
                                  if not study.did_not_train(run)})  # below) has no spikes to speak of
Markdown("No run's validation loss rose by 0.05 nats/byte or more from one evaluation to the next." if rises.empty
         else "Where a validation loss rises, the runs' logs (`metrics.jsonl`) record it so; the curves draw them as "
         "they are: " + "; ".join(
             f"{r.model} from {r.val_before:.2f} at epoch {r.epoch_before:.4g} to {r.val_after:.2f} at epoch "
             f"{r.epoch:.4g}, while its training loss (the mean over the steps since the evaluation before) "
             + compare.moved(r.train_before, r.train_after)
             + ("" if np.isnan(r.val_next) else f"; its validation loss is {r.val_next:.2f} at the next evaluation")
             for r in rises.itertuples())
         + f". Predicting every byte by its frequency alone costs {plateau:.2f} "
         "nats/byte on this corpus: a model near that loss has not yet learned to use its context. Each point is "
         "one evaluation of the whole validation split, so a rise between two of them is a spike of the weights at "
         "that moment, not noise of the measurement; the training loss, averaged over the steps between two "
         "evaluations, smooths it out.")

# %% [markdown]
# ## Test losses (the paper's Figure 1, left)
#
# The test cross-entropy of every model, in nats per byte, with its standard deviation over 1,000
# bootstrap resamplings of the test split's 100 segments. The error rate is the paper's: the share of
# test bytes to which the model gives the true next byte a probability below 0.5 (a model that is
# right but unsure makes an error too).

# %%
predictions = {run.name: study.predictions(run) for run in runs}
table = compare.loss_table([compare.ScoredModel(predictions[run.name], run.config.model, run.result.parameters,
                                                 run.training) for run in runs], study.budgets, study.corpus.name)
labels = {run.name: study.about(run) for run in runs}
budget_labels = dict(enumerate(map(budget_label, study.budgets)))
table.assign(model=table.model.map(labels), budget=table.budget_index.map(budget_labels))[
    ["model", "budget", "test_loss", "std", "error_rate"]].rename(
    columns={"test_loss": "test loss (nats/byte)", "std": "± (bootstrap)", "error_rate": "error rate"}).round(3)

# %% tags=["hide-input"]
untrained = [m for m in table.model if compare.did_not_train(predictions[m].cross_entropy, plateau)]
its, it = ("its", "it") if len(untrained) == 1 else ("their", "them")
lengths = {run.name: run.result.describe(run.config.recipe) for run in runs}  # "1,000 steps", "early-stopped at ..."
Markdown(f"Every model ends below {plateau:.3f} nats/byte, the cost of predicting each byte by its frequency alone."
         if not untrained else
         f"**Did not train:** {', '.join(untrained)}: test loss at or above {plateau:.3f} nats/byte, the cost of "
         f"predicting each byte by its frequency alone. The training failed, so {its} place in the table says nothing "
         f"of {its} architecture, and the architecture comparisons below name {it} without judging {it}. Why: with "
         "the paper's recipe, "
         "RMSProp's first step moves every weight by about 4.5 times the learning rate (its running average of "
         "squared gradients starts at zero, as in char-rnn's optimiser), which pushes a wide RNN's units to ±1, "
         "where they pass almost no gradient; the LSTM and GRU, whose gates decide what a unit keeps, go on "
         "learning. This is one run with one seed, but not an accident: a benchmark outside this build "
         "(`bench/rnn_recipe.py`, its numbers from a CPU in `bench/rnn-recipe.md` in the repository) found that over "
         "their first 200 steps five of the grid's twelve War and Peace RNNs (every one of 531 units or more, and the "
         "3-layer ones of 257 and 487) stay at this plateau, every GRU and LSTM leaves it, and at a learning rate of "
         "5e-4 nine of the twelve RNNs leave it. The paper reports RNNs of every size in its Table 1 and says its "
         "settings \"work robustly with all of our models\": this build does not reproduce that. How "
         f"{it} ended: " + "; ".join(f"{m}, {lengths[m]}" for m in untrained) + ", by the early stopping given "
         "with the models above (the paper gives no patience); a model may stay on the plateau for an epoch "
         "or two before leaving it, so whether more epochs would have moved "
         f"{it} is not measured here. The figures below draw {it} as {its} training left {it}; the test losses' "
         "heatmap names the recipe's length in its rows, not where a run stopped.")

# %%
figures.loss_heatmap(table, study.budgets)

# %% tags=["hide-input"]
best = table.loc[table.test_loss.idxmin()]
best_of = table.loc[table.groupby("architecture").test_loss.idxmin()]
paper = compare.PAPER.get(study.corpus.name, {})
Markdown(
    f"The best model here is **{labels[best.model]}** at {best.test_loss:.3f} ± {best['std']:.3f} nats per byte; "
    "the best "
    "of each architecture, with its size and how long it trained: "
    + ", ".join(f"{r.architecture.upper()} {r.test_loss:.3f} ({labels[r.model]})" for r in best_of.itertuples())
    + ". "
    + (f"The paper's best LSTM reached {paper['best LSTM']:.3f} (the paper's value, for comparison)"
       + (" on its own Linux corpus, built from a 2015 kernel with 101 symbols against this one's "
          f"{study.corpus.vocab_size}: chapter 5 compares Linux by the ratio to the 20-gram instead."
          if study.corpus.name == "linux" else ".")
       if "best LSTM" in paper else "The paper gives no value for this corpus.")
)

# %% [markdown]
# ## Do the models agree? (the paper's Figure 1, right)
#
# The paper places models by how often they agree on the most likely next byte: t-SNE over the
# pairwise disagreement (here the fraction of test bytes where two models put different bytes
# first). Colour is the architecture, size the parameter budget, marker the depth. Models of one
# size agree with each other more than with models of another, whatever their type, so the claim
# below tests the paper's cluster within each depth and budget: there the LSTM and the GRU should
# agree more with each other than either does with the RNN.

# %%
agreement = compare.agreement_matrix(list(predictions.values()))
if scope := compare.agreement_scope(list(predictions.values())):
    display(Markdown(scope))
if len(agreement) >= 3:
    display(figures.model_embedding(compare.model_embedding(agreement), table, labels))
figures.agreement_heatmap(agreement)

# %% [markdown]
# ## Samples from the best model

# %%
best_run = min((run for run in runs if not run.weightless), key=lambda run: predictions[run.name].cross_entropy)
generated = sample(best_run.load_model(study.settings.device), study.corpus, b"\n", 400, temperature=0.8)
Markdown("```text\n" + generated.decode("utf-8", errors="replace").replace("\r", "") + "\n```")

# %% [markdown]
# ## How far a seed moves a model
#
# The bootstrap above resamples the test text; it cannot see the seed, which draws a model's
# initial weights (and its dropout masks), so a model trained once gives no measure of what its seed
# decided. The `paper` preset trains a few of the grid's models again with other seeds (its
# *replicates*, with the paper's full recipe). Where this build's store holds them, the table gives
# each one's test loss across its seeds (nats/byte) beside the bootstrap's standard deviation of
# one run, and compares the gated model with the RNN of its depth and budget by their means.

# %% tags=["hide-input"]
replicates = [[compare.ScoredModel(study.predictions(run), run.config.model, run.result.parameters, run.training)
               for run in seeded] for seeded in study.replicate_runs.values()]
spread = compare.seed_spread(replicates)
seed_std = None  # how far a seed moves a model, where measured: the claims below count it in their caveats
if study.replicates_missing:
    display(Markdown(study.replicates_missing))
if not spread.empty:
    widest = spread.loc[spread["std"].idxmax()]
    seed_std = widest["std"]
    seeded = compare.seed_comparisons(replicates, study.budgets)
    display(Markdown(
        f"Retrained with another seed, a model's test loss moves with a standard deviation of up to {seed_std:.4f} "
        f"nats/byte ({widest.model}, over {widest.seeds} seeds), less than Table 1's ± for one model "
        f"({widest.bootstrap:.4f} here), which measures how the loss would change on other test text. Table 1's "
        "comparisons, though, are paired: both models are scored on the same bytes, so the test text's share of "
        "their difference mostly cancels (each claim's z is the difference over what is left, the paired bootstrap's "
        "standard deviation), while the seeds' share does not: two models trained once each differ by their seeds "
        f"alone with a standard deviation of √2 × {seed_std:.4f} = {np.sqrt(2) * seed_std:.4f}. The verdicts below "
        "are the bootstrap's; a claim's caveat names its pairs beyond the bootstrap's noise that fall within it once "
        "both shares are counted (a difference under twice √(s² + 2σ²), s the paired bootstrap's standard deviation "
        "and σ the seeds'), and what the verdict would then read where it changes. σ is measured on "
        + scorecard.listed(spread.model) + f" of {scorecard.CORPUS_NAMES.get(study.corpus.name, study.corpus.name)} "
        "only; larger and deeper models may spread more or less."
        + ("" if not seeded else " Compared by their means over the seeds (the standard error of a mean over n "
           "seeds is σ/√n; z: the difference over the standard error of both means, a rough test with so few "
           "seeds): " + "; ".join(map(str, seeded)) + ".")))
    display(spread.rename(columns={"mean": "mean test loss", "std": "± (seeds)",
                                   "bootstrap": "± (bootstrap, one run)"}).round(4))

# %% [markdown]
# ## What this chapter found
#
# Each verdict is computed from the numbers above. Every comparison names the better model and says
# whether the difference is beyond the noise: more than twice its paired bootstrap standard
# deviation (|z| > 2), the bootstrap resampling the test split's segments (not seeds: Table 1 holds
# one run per model, and the section above measures what a seed moves). A reversal beyond the noise
# makes a claim *not reproduced*; differences all within the noise make it *inconclusive*. The
# paper's "between 2 and 3 layers the results are mixed" is the one claim of an effect going both
# ways: it is reproduced when a 3-layer model is better than the 2-layer model of its type and
# budget beyond the noise somewhere and worse beyond it elsewhere, not reproduced when every pair
# beyond the noise goes the same way, inconclusive when none is beyond it, and not measured with
# fewer than two pairs. Only models trained alike are compared (the end of each model's name says
# how long it trained), so a model trained longer never stands in for a deeper or gated one, and a
# claim judged only on models not trained with the paper's recipe is counted apart, as *not at the
# paper's scale*. A pair with a model that did not train (its test loss at or above the byte
# frequencies' entropy) is named but not judged. The t-SNE of models is the paper's on War and Peace
# only.

# %%
architectures = {run.name: run.config.model.architecture for run in runs}
paper_training = Recipe().length
recipe_runs = [run for run in runs if run.paper_recipe]  # the recipe claim names those of them cut short
claims = [
    *scorecard.applicable([compare.depth_claim(table, predictions, paper_training, plateau, seed_std),
                           compare.three_layers_claim(table, predictions, paper_training, plateau, seed_std),
                           compare.gated_claim(table, predictions, paper_training, plateau, seed_std)],
                          study.corpus.name),
    *scorecard.applicable([compare.recipe_claim(predictions, plateau, [run.name for run in recipe_runs],
                                                architectures)], study.corpus.name, models=recipe_runs),
    *scorecard.applicable([compare.cluster_claim(table, predictions, paper_training, plateau)], study.corpus.name)]
study.save_claims("02_models", claims)
display(Markdown(scorecard.findings(claims, study.corpus.name)))
scorecard.table(claims)
