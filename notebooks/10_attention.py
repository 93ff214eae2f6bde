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
# # 10. Does attention fix what the LSTM cannot?
#
# The paper ends its error analysis with a conjecture. The LSTM's "dynamic memory" errors are bytes
# of a rare word it has just seen: it mispredicts the second "Mary" as it did the first. A model
# "allowed to attend to recent history", in the manner of memory networks, should fix them.
# Chapter 8 tested the other remedy the paper names, dynamic evaluation. Here is the direct test: a
# byte-level **Transformer**, matched to the paper's parameter budgets, read through the same analyses.
#
# **The model.** A decoder-only Transformer over bytes: learned byte and position embeddings,
# pre-LayerNorm blocks of causal multi-head attention and a 4x-wide GELU MLP, a final LayerNorm and a
# linear read-out. It sees a *window* of W bytes, the end of its name: W = 100 (`-w100`), the LSTM's
# unroll, for all but one; the preset also names a 4-layer one with W = 512 (`-w512`), to be trained
# on a GPU. The table below lists those this build has, each with how long it trained. Its width is chosen so
# that its parameter count matches a budget of the paper (the 1-layer LSTM of 64, 128, 256 or 512
# cells), as the recurrent models' are.
#
# **Training.** The same batches (100 rows × 100 bytes) and split as the LSTM's, through the same
# training loop, with a recipe suited to a Transformer: AdamW (β = 0.9, 0.95, weight decay 0.1 on the
# weight matrices), a linear warm-up and a cosine decay to a tenth, GPT-2's initialisation, dropout 0.
# Each 100-byte batch is read as one window, the usual GPT objective.
#
# **Evaluation.** A sliding window: the text is read in blocks of W/4 bytes, each byte predicted from
# the sequence that starts 3W/4 bytes before its block, so from between 3W/4 + 1 and W bytes of the
# text before it (fewer only at a row's start). A recurrent model sees the whole row; the
# Transformer sees exactly its window and nothing beyond. Its predictions take the same form as every
# other model's, so every analysis of the earlier chapters runs on them unchanged; its trace is its
# attention.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "core"  # tiny, small, core or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # the corpus's language for the reference signals: auto, text, or a Pygments lexer name

# %% tags=["hide-input"]
import numpy as np
from IPython.display import HTML, Markdown, display

from lit_rnn.analysis import attention, compare, longrange, scorecard
from lit_rnn.analysis.oracles import (
    OracleConfig,
    error_breakdown,
    fixed_errors,
    side_by_side,
)
from lit_rnn.attention import attention_over, repeated_bytes, split_attention
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook
from lit_rnn.viz.attention import attention_text_html, induction_heatmap, mark_window
from lit_rnn.viz.figures import budget_label

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
run = study.transformer_run
lstm_run = study.matched_lstm(run)  # trained alike, the best of its budget on validation, where there is one
window = run.config.model.context
transformer, lstm = study.predictions(run), study.predictions(lstm_run)
ngrams, nnns = study.baselines()
ngram = ngrams[max(ngrams)]
runs = [*study.recurrent_runs, *study.transformer_runs]  # the table's models below, their notes here
Markdown(f"The Transformer: **{study.about(run)}**, a window of {window} bytes. The LSTM beside it: "
         f"**{study.about(lstm_run)}**, {study.matched_how(run)}. The n-gram: {ngram.name}."
         + "".join(f"\n\n*{note}*" for note in study.notes))

# %% [markdown]
# ## The Transformers beside the LSTMs of the same budgets
#
# Every Transformer this build has, beside Table 1's models (the grid, trained for as many steps, and
# the large ones); the training time is its run's own record, beside the machine it trained on, so it
# compares runs only where they trained on the same machine under the same load.

# %%
table = compare.loss_table([compare.ScoredModel(study.predictions(r), r.config.model, r.result.parameters, r.training)
                            for r in runs], study.budgets, study.corpus.name)
labels, budgets = {r.name: study.about(r) for r in runs}, dict(enumerate(map(budget_label, study.budgets)))
minutes = {r.name: round(r.provenance.get("wall_s", np.nan) / 60, 1) for r in runs}
machines = {r.name: r.provenance.get("device", "not recorded") for r in runs}
table.assign(model=table.model.map(labels), budget=table.budget_index.map(budgets), minutes=table.model.map(minutes),
             machine=table.model.map(machines))[
    ["model", "budget", "test_loss", "std", "error_rate", "minutes", "machine"]].rename(columns={
        "test_loss": "test loss (nats/byte)", "std": "± (bootstrap)", "error_rate": "error rate",
        "minutes": "training (min)", "machine": "trained on"}).round(3)

# %% [markdown]
# ## Against Table 2's finite horizons
#
# The paper's Table 2 sets the n-gram and the n-NN, which see n bytes, against the LSTM. The
# Transformer sees up to W bytes: far more than any of them, far fewer than the LSTM can carry.
# Both are drawn as levels, each labelled with how long it trained.

# %%
horizon = compare.finite_horizon_table(ngrams, nnns)
figures.finite_horizon(horizon, {study.about(lstm_run): lstm.cross_entropy,
                                 study.about(run): transformer.cross_entropy})

# %% tags=["hide-input"]
Markdown(f"Test loss: {transformer.name} **{transformer.cross_entropy:.3f}**, {lstm.name} **{lstm.cross_entropy:.3f}** "
         f"nats/byte: {compare.comparison(transformer, lstm, paper_expects=False)}; "
         f"{ngram.name} {ngram.cross_entropy:.3f}. "
         + " ".join(f"{p.name} {compare.horizon_worth(horizon, p.cross_entropy)}." for p in (transformer, lstm)))

# %% [markdown]
# ## Whose errors are whose (the paper's Figure 4, left)

# %%
compared = [lstm, transformer, ngram]
overlap = longrange.error_overlap(compared)
figures.error_overlap(overlap)

# %% tags=["hide-input"]
Markdown(longrange.overlap_summary(overlap, compared))

# %% [markdown]
# ## Which bytes does attention predict better than the LSTM?
#
# The mean probability of the correct byte per byte value, the Transformer against the LSTM, sorted
# by the Transformer's advantage.

# %%
per_byte = longrange.per_byte_probability([transformer, lstm], study.corpus.vocab)
advantage = longrange.byte_advantage(per_byte, transformer.name, lstm.name)
figures.byte_advantage(advantage, transformer.name, lstm.name)

# %% [markdown]
# ## The closing bracket by distance, and the window's edge
#
# Within its window the Transformer can look back at the opening bracket; beyond it, it sees
# nothing of it, and must guess from what is inside the window. The dashed line marks the window.
# (A closer that occurs fewer than 20 times in the test text is not drawn.)

# %%
closers = {}
for closer in (b"}", b")", b'"'):
    closers[closer] = longrange.closer_probability_by_distance(compared, study.syntax, closer)
    if closers[closer]["count"].sum() >= 20:
        figure = figures.closer_by_distance(closers[closer], [p.name for p in compared], closer.decode())
        display(mark_window(figure, closers[closer], window))

# %% [markdown]
# ## The oracle breakdown, and the memory errors
#
# Chapter 7's oracles peel each model's errors in order: n-gram, dynamic memory, rare words, word
# model, punctuation, boost. Then, of the LSTM's errors in each category, the share the Transformer
# predicts correctly (probability ≥ 0.5). The conjecture predicts that attention fixes the memory
# errors whose earlier occurrence it can see more often than the other errors that short context
# cannot fix (every category but the n-gram's, many of which any better model fixes, and the memory
# errors themselves), and more often than the memory errors beyond its window: attention cannot
# reach those, so what it fixes of them measures what any better model would fix.

# %%
oracle = OracleConfig()
oracle_ngrams = study.oracle_ngrams(oracle)
breakdowns = [error_breakdown(p, oracle_ngrams, study.corpus.data, study.train_positions(), oracle)
              for p in (lstm, transformer)]
figures.error_breakdown(breakdowns)

# %%
side_by_side(*breakdowns).round(3)

# %%
fixes = fixed_errors(breakdowns[0], lstm, transformer)
figures.error_fixes(fixes, f"Errors of {lstm.name} that {transformer.name} fixes, by oracle category")

# %% tags=["hide-input"]
gap, control = attention.memory_tests(breakdowns[0], lstm, transformer, oracle, window)  # gap.group: what it sees
Markdown(f"Only the memory errors whose earlier occurrence lies within {window} bytes ({gap.group or 'none'}) "
         f"are ones a window of {window} bytes can mostly see (it reaches {3 * window // 4 + 1} to {window} bytes "
         f"back); those are tested. The Transformer {gap.text('those errors of the LSTM')}: the n-gram oracle's "
         "errors are left out, since short context fixes them."
         + ("" if control is None else " The control: the memory errors beyond the window, whose earlier occurrence "
            "it cannot see, so attention cannot be what fixes them; against those, it "
            f"{control.text('the memory errors within the window')}.")
         + " Chapter 8 runs a similar test for dynamic evaluation, over every memory size.")

# %% [markdown]
# ## Looking inside: induction heads
#
# A head that copies attends from the current byte to the byte that *followed* an earlier occurrence
# of it, so the model can predict the same continuation again: an induction head (Olsson et al.,
# 2022). The standard probe: random bytes, repeated once within the window; a head's score is the
# mean attention each byte of the repeat puts on the byte after its first occurrence.

# %%
model = run.load_model(study.settings.device)
period = window // 2
probe = repeated_bytes(study.corpus.vocab_size, period, rows=16)
scores = attention.induction_scores(attention_over(model, probe), period)
induction_heatmap(scores)

# %% [markdown]
# **Do the memory errors fall where such heads copy?** Over the first bytes of some test rows, the
# attention of the head with the highest induction score on the bytes that follow an earlier
# occurrence of the current two bytes inside the window (its *copying mass*), by the oracle category
# of the LSTM's error there;
# "copying" is the share of those bytes where that mass is at least 0.3, and the last two columns the
# share the Transformer predicts correctly there and elsewhere.

# %%
rows = np.linspace(0, study.batcher.batch_size - 1, min(8, study.batcher.batch_size)).astype(int)
length = min(1500, study.batcher.split_inputs("test").shape[1])
positions, ids, layers = split_attention(model, study.batcher, "test", rows, length)
top_layer, top_head = (int(scores.loc[0, "layer"]), int(scores.loc[0, "head"]))  # the highest induction score
mass = attention.row_copy_mass(layers[top_layer][:, top_head], ids, len(rows))
picked = np.searchsorted(lstm.positions, positions)
category = attention.error_categories(breakdowns[0])[picked]
fixed = (lstm.errors & ~transformer.errors)[picked]
heads_table = attention.memory_errors_and_heads(category, fixed, mass)
heads_table.round(3)

# %% [markdown]
# ## Attention over the text
#
# As chapter 3 draws a cell over the text, here is that head's attention drawn over
# the window a prediction sees (the predicting byte underlined, the most attended bytes darkest): at
# the LSTM's memory errors that the Transformer fixed, where the head puts the most attention on
# the bytes to copy (whether or not it copies at all: see the score above).

# %% tags=["hide-input"]
candidates = np.flatnonzero((category == "memory") & fixed)
candidates = candidates[np.argsort(-mass[candidates])][:3]
head = layers[top_layer][:, top_head]
for index in candidates:
    offset = int(positions[index])
    seen = study.corpus.data[max(0, offset - window + 1): offset + 1]
    display(HTML(attention_text_html(seen, head[index], title=(
        f"layer {top_layer + 1}, head {top_head + 1}: predicting the byte after offset {offset} "
        f"(LSTM p = {lstm.target_probs[picked[index]]:.2f}, Transformer p = "
        f"{transformer.target_probs[picked[index]]:.2f})"))))
if not len(candidates):
    display(Markdown("No memory-oracle error of the LSTM in these rows is fixed by the Transformer."))

# %% [markdown]
# ## The paper's conjecture, checked
#
# The conjecture is judged on two differences: the share of the LSTM's memory-oracle errors within
# the window that the Transformer predicts correctly, less the share of its other errors that short
# context cannot fix, and less the share of its memory errors beyond the window. Reproduced when the
# 95% bootstrap intervals of both (over the test segments) lie above zero; not reproduced when either
# lies below. The second decides whether attention is what helps: a model that is simply better may
# fix memory errors more often than other errors; only attention should fix more of those within its
# window than beyond it. So if the second does not pass, the verdict is inconclusive at best (partly, where the
# text has no memory errors beyond the window to compare with). Chance is 0, no preference for the
# memory errors it can see. Read it with the comparison it rests
# on: the LSTM set beside the Transformer (how it was chosen is said above), and whether any head
# copies at all, measured above.

# %%
claims = scorecard.applicable(
    [attention.attention_claim(gap, control, lstm.cross_entropy, transformer.cross_entropy,
                               (lstm.name, transformer.name))],
    study.corpus.name, models=study.judged_beside(run, lstm_run))
study.save_claims("10_attention", claims)
best_induction = scores.induction_score.iloc[0]
even = attention.even_induction_score(period)
display(Markdown(
    scorecard.findings(claims, study.corpus.name)
    + ("" if lstm_run.paper_recipe else f" The LSTM compared, {study.about(lstm_run)}, scores {lstm.cross_entropy:.3f} "
       f"nats/byte against the {ngram.name}'s {ngram.cross_entropy:.3f}: the errors the Transformer fixes are that "
       "LSTM's, not the paper-scale model's.")
    + f" The head with the highest induction score puts {best_induction:.3f} of its attention on "
    f"the byte to copy, {best_induction / even:.1f} times what attention spread evenly over the bytes before each "
    "query would put there" + (": no head of this model copies." if best_induction / even < 2 else ".")))
scorecard.table(claims)
