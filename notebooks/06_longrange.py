# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Long-range interactions
#
# Where does the LSTM beat models that see only the last $n$ bytes? We count a byte as an **error**
# when the model gives it probability below 0.5, and compare the 3-layer LSTM with the best n-NN
# (chosen on validation) and the 20-gram (the n-gram that sees 20 bytes): which errors they share, which bytes the
# LSTM predicts better, how well each predicts a closing bracket as a function of how far back its
# opening bracket is, and how the LSTM's predictions move through those of the n-NNs while it trains.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "core"  # tiny, small, core or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # the corpus's language for the reference signals: auto, text, or a Pygments lexer name

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from lit_rnn.analysis import longrange, scorecard
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
ngrams, nnns = study.baselines()
lstm = study.predictions(study.cell_run)
ngram = ngrams[max(ngrams)]
nnn_run = study.best_nnn()
compared = [lstm, *([nnns[nnn_run.config.model.context]] if nnn_run else []), ngram]
Markdown(f"The LSTM: {study.about(study.cell_run)}. "
         + (f"The n-NN of lowest validation loss: {study.about(nnn_run)}. " if nnn_run else
            "This build has no n-NN, so the comparisons below leave it out. ")
         + f"The n-gram: the {ngram.name}, which sees {max(ngrams)} bytes."
         + "".join(f"\n\n*{n}*" for n in study.notes))

# %% [markdown]
# ## Error overlap (the paper's Figure 4, left)

# %%
overlap = longrange.error_overlap(compared)
figures.error_overlap(overlap)

# %% tags=["hide-input"]
only_lstm = overlap[overlap.models == lstm.name]["count"].sum()
only_ngram = overlap[overlap.models == ngram.name]["count"].sum()
Markdown(
    longrange.overlap_summary(overlap, compared)
    + (f" The LSTM has more errors of its own than the {ngram.name} has: the two fail on partly different bytes"
       + (f", although the LSTM's loss is the lower ({lstm.cross_entropy:.3f} against {ngram.cross_entropy:.3f} "
          "nats/byte): it gains on the bytes both predict, not by erring on a subset of the n-gram's bytes."
          if lstm.cross_entropy < ngram.cross_entropy else ".") if only_lstm > only_ngram else "")
)

# %% [markdown]
# ## Which bytes does the LSTM predict better? (the paper's Figure 4, middle and right)

# %%
per_byte = longrange.per_byte_probability([lstm, ngram], study.corpus.vocab)
advantage = longrange.byte_advantage(per_byte, lstm.name, ngram.name)
figures.byte_advantage(advantage, lstm.name, ngram.name)

# %% tags=["hide-input"]
frequent = longrange.frequent_bytes(advantage)  # as the claim below ranks them
Markdown(f"The chart shows the {figures.TOP_BYTES} largest and the {figures.TOP_BYTES} smallest advantages among "
         f"all {len(advantage)} distinct bytes of the test text, rare ones included. Of the {len(frequent)} bytes it "
         f"holds at least {longrange.MIN_COUNT} times, the LSTM's largest advantages over the {ngram.name} are on "
         + ", ".join(f"`{row.label}` ({row.advantage:+.3f})" for row in frequent.head(5).itertuples())
         + " (differences in the mean probability of the correct byte).")

# %% [markdown]
# ## Closing brackets and quotes (the paper's Figure 5, left)
#
# For every closing byte the distance back to its opening partner is measured over the whole
# text; the curves show the mean probability each model gives the closer, by distance, and under
# each distance the number of closers $n$ its points average (few closers make a noisy point). (Code
# has braces; prose mostly parentheses and quotes. A closing byte that occurs fewer than 20 times in
# all of the test split is skipped; a point of few closers, though drawn, is a noisy one.)

# %%
closers = {}
for closer in (b"}", b")", b'"'):
    closers[closer] = table = longrange.closer_probability_by_distance([lstm, ngram], study.syntax, closer)
    if table["count"].sum() < 20:
        display(Markdown(f"`{closer.decode()}`: {int(table['count'].sum())} in the test split, too few to plot."))
        continue
    display(figures.closer_by_distance(table, [lstm.name, ngram.name], closer.decode()))
    behind = table[table[lstm.name] < table[ngram.name]]
    display(Markdown(
        f"`{closer.decode()}`: the LSTM gives the closer a higher probability than the {ngram.name} at every distance."
        if behind.empty else
        f"`{closer.decode()}`: the LSTM falls below the {ngram.name} at " + ", ".join(
            f"{bucket} bytes ({count:,} closer{'s' if count != 1 else ''})"
            for bucket, count in zip(behind.bucket, behind["count"])) + "."))

# %% [markdown]
# ## Training dynamics (the paper's Figure 5, right)
#
# At early snapshots of the LSTM's training we compare its predictions with each n-NN's by the
# symmetric KL divergence $\mathrm{KL}(p\|q) + \mathrm{KL}(q\|p)$, averaged over the test bytes, and by
# the difference of their losses. The paper found that the LSTM first behaves like the 1-NN, then
# like the 2-NN, and so on: it learns short dependencies first.

# %%
if study.dynamics_run is not None and nnns:
    checkpoints = study.snapshot_predictions(study.dynamics_run)
    dynamics = longrange.training_dynamics(checkpoints, nnns)
    separate = study.dynamics_run.config.run_id != study.cell_run.config.run_id
    whole = len(next(iter(nnns.values())).targets)
    sampled = min((len(p.targets) for _, p in checkpoints), default=whole)
    on_sample = f", measured on {sampled:,} of the {whole:,} test bytes" if sampled < whole else ""
    display(Markdown(f"Snapshots of **{study.about(study.dynamics_run)}**"
                     + (": a separate, shorter run of the analysed model's architecture and recipe, kept for its early "
                        "weights (the analysed model's are not kept), so the curves show how such a model learns, not "
                        "that model's own history." if separate else ", the analysed model itself.")
                     + (f" Its snapshots were shipped as their predictions on a fixed sample of test bytes, not as "
                        f"weights: the KL and the loss difference are measured on those {sampled:,} bytes (a stretch "
                        f"of every test segment) of the {whole:,}." if sampled < whole else "")))
    display(figures.training_dynamics(dynamics))
else:
    dynamics, on_sample = pd.DataFrame(columns=["step", "n", "symmetric_kl", "delta_loss"]), ""
    display(Markdown("This build has no early snapshots of the LSTM." if study.dynamics_run is None else
                     f"This build has snapshots of {study.about(study.dynamics_run)}, but no n-NN to compare them "
                     "with."))

# %% [markdown]
# ## What this chapter found
#
# The error overlap is decided by the share of errors all three models make (above half, beyond
# its bootstrap interval); the byte advantage ranks only bytes seen at least 100 times in the test
# split, against the ranks chance would give; the closing brace needs at least 20 closers in each of
# the three ranges (nearer than 20 bytes, 20–100, farther), a gain at 20–100 bytes above both the
# nearer and the farther gain beyond their bootstrap intervals, and its peak there, the peak taken over
# the distance buckets of at least 20 closers (the paper's is near 60 bytes: a Linux claim); the training
# dynamics must show the progression in at least 97.5% of bootstrap resamplings. Every bootstrap
# resamples the test split's segments, not seeds. The dynamics claim is about the first epochs, so it
# is judged on a run of just those epochs of the paper-scale LSTM, and counts as at the paper's scale
# whenever the analysed LSTM was trained with the paper's recipe.

# %%
claims = scorecard.applicable([
    longrange.overlap_claim(compared),
    longrange.advantage_claim(advantage, prose=study.prose),
    longrange.closer_claim(lstm, ngram, study.syntax),
], study.corpus.name, models=[study.cell_run])
# the dynamics are the first epochs of the large LSTM: at the paper's scale where the large LSTM is
snapshots = f"snapshots of {study.about(study.dynamics_run)}{on_sample}" if study.dynamics_run is not None else ""
claims.append(scorecard.at_scale(longrange.dynamics_claim(dynamics, snapshots), study.cell_run.paper_recipe))
study.save_claims("06_longrange", claims)
display(Markdown(scorecard.findings(claims, study.corpus.name)))
scorecard.table(claims)
