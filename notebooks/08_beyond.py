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
# # 8. Beyond the paper: do the cells matter, and does dynamic evaluation fix the memory errors?
#
# The paper leaves two questions open that its own models can answer.
#
# **Are the interpretable cells used?** A cell that turns on inside quotes *correlates* with the
# quotes; that does not show the model relies on it to close them. Here we silence (ablate) the cell
# that the automatic search of chapter 3 ranks first for each signal — its value held at 0 at every
# step, the rest of the network untouched — and measure the change in test loss on the bytes that
# signal concerns: closing quotes for the quote cell, line breaks for the line-length cell, closing
# brackets and braces for the depth cells, the ends of comments, the leading whitespace of indented
# lines. A change means little on its own (any cell removed costs something), so each cell is set
# against many cells of the same layer drawn at random and ablated in the same way: its z-score and
# its rank among them, with a bootstrap over the scored rows of the test split for the uncertainty.
# Then we hold cells at a value (clamp them) while the model writes, and measure what it writes.
#
# **Does dynamic evaluation fix the "dynamic memory" errors?** The paper's error analysis finds
# errors on words that occurred a few hundred bytes earlier ("yelled Mary … Mary") and suggests that
# dynamic evaluation — letting the model train on the test text as it reads it, each byte scored
# before it is learned from — could remove them. We measure it: the test loss it reaches, and which
# of the oracle categories of chapter 7 its improvements fall in.

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

from lit_rnn import interventions
from lit_rnn.analysis import scorecard
from lit_rnn.analysis.causal import (
    causal_claim,
    causal_scores,
    clamp_values,
    line_lengths,
    quiet_prime,
    scores_table,
    signal_in_samples,
)
from lit_rnn.analysis.cells import tracking
from lit_rnn.analysis.compare import paired_bootstrap_std
from lit_rnn.analysis.oracles import (
    OracleConfig,
    dynamic_claim,
    error_breakdown,
    fixed_errors,
    fixed_share,
    net_change,
    scaling_difference,
)
from lit_rnn.analysis.signals import varying
from lit_rnn.interventions import Intervention
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook
from lit_rnn.viz.heatmap import colour_key_html
from lit_rnn.viz.interventions import InterventionExplorer, causal_scores_figure, readings_html

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)

# %% tags=["hide-input"]
run = study.cell_run
model = run.load_model(study.settings.device)
Markdown(f"We examine the model chapter 3 reads: **{study.about(run)}**."
         + "".join(f"\n\n*{note}*" for note in study.notes))

# %% [markdown]
# ## Ablating the interpretable cells
#
# The search ranks every cell of every layer against the reference signals on the validation split
# and scores them on the test split (as in chapter 3); the first cell of each signal is ablated, on
# test bytes, and put to the test where its test score tracks its signal at least partly (chapter 3's
# threshold: the interpretable cells). Ablations run the
# model's own weights: the layers below the ablated one through the fused kernel, once for all
# ablations; the ablated layer through the written-out step equations with the cell held at 0; the
# tested cells and all random cells of a layer side by side in one batch.

# %%
trace = study.trace(run)
signals = varying(study.signals(), trace.positions)
leaders = study.leading_cells(run)
ablated = study.ablations(run, leaders)
scores = causal_scores(tracking(leaders), ablated, signals, study.corpus.data)
untracked = leaders[~leaders.signal.isin(scores.table.get("signal", []))]
Markdown(f"Not tested, as no cell tracks {'it' if len(untracked) == 1 else 'them'} (chapter 3): " + ", ".join(
    f"{r.signal} (best {'|ρ|' if r.kind == 'count' else 'AUC'} {r.score:.2f})" for r in untracked.itertuples())
    + "." if len(untracked) else "Every signal's first cell tracks it at least partly, and is tested.")

# %% tags=["hide-input"]
scored, draws = next(iter(ablated.values())).plain, len(next(iter(ablated.values())).random)
Markdown(f"Scored on {scored.shape[0]} of the test split's {study.batcher.batch_size} rows, spread through the "
         f"text ({scored.size:,} bytes); {draws} random cells of each tested cell's layer form its null "
         "distribution, each ablated alone.")

# %%
scores_table(scores)

# %%
causal_scores_figure(scores).for_each_trace(  # the star's colour, keyed: red used, blue not used
    lambda trace: trace.update(name="the signal's cell: red used, blue not used"), selector=dict(type="scatter")
).update_layout(yaxis_title="signal")

# %% [markdown]
# The test is two-sided. A cell the model uses can make its bytes *easier* to predict when it is
# silenced: a line-length cell that holds back line breaks until the line is long enough, once
# removed, leaves the model expecting a line break everywhere — the true ones included — at a cost on
# every other byte (*Δ loss on other bytes*). A cell is counted as used when at most 5% of the random
# cells lie as far from their mean as its change does (*rank p* ≤ 0.05: with 32 random cells, none
# does), its z-score's two-sided p-value stays within 0.05 after Holm's correction for the
# cells tested (*Holm p*), and the bootstrap interval of its excess over them excludes zero (*excess
# over random*); a cell whose ablation makes its bytes easier must also cost the other bytes more than
# random cells do (*excess on other bytes* above zero). A signal
# with fewer than 20 target bytes in the scored rows is not measured. The bootstrap resamples the
# 10 scored rows, so its intervals are rough ones.

# %% tags=["hide-input"]
measured = scores.table[scores.table.measured]
used = measured[measured.causal]
Markdown(
    (f"**{len(used)} of {len(measured)}** measurable signals' top cells are causally used: "
     + "; ".join(f"{r.signal} — layer {r.layer + 1} `{r.quantity}[{r.cell}]`: {r.delta:+.3f} nats/byte on the "
                 f"{r.target} (random cells {scorecard.signed(r.random_mean)} ± {r.random_sd:.3f}, z = {r.z:.1f}), "
                 f"{r.delta_other:+.3f} on the other bytes" for r in used.itertuples())
     + "." if len(used) else f"None of the {len(measured)} measurable signals' top cells is causally used by that test."
     if len(measured) else "No cell is tested.")
    + (f" Not measured (too few target bytes): {', '.join(scores.table[~scores.table.measured].signal)}."
       if len(measured) < len(scores.table) else "")
    + "".join(
        f" The same cell, layer {layer + 1} `{quantity}[{cell}]`, ranks first for "
        + " and ".join(f"{r.signal} ({'used' if r.causal else 'not used'}, z = {r.z:.1f})" for r in group.itertuples())
        + ". The verdicts differ because each signal scores the cell on its own bytes: the model relies on it for "
        f"{' and '.join(group[group.causal].signal)}, and not, by this test, for "
        f"{' and '.join(group[~group.causal].signal)}, where one of the conditions above fails (the table shows "
        "which)."
        for (layer, quantity, cell), group in measured.groupby(["layer", "quantity", "cell"])
        if len(group) > 1 and group.causal.nunique() > 1)
)

# %% [markdown]
# ## Clamping cells while the model writes
#
# Ablation silences a cell; clamping holds it at a value. A cell is held at the value it takes when
# its signal is high ("on": the 95th or 5th percentile of its values over the test text, whichever
# side the signal puts it on) or low ("off"), or ablated, and the model samples 32 texts from the
# same start (test text ending at a line break outside any quote) with the same seed under each.
#
# **The line-length cell.** If the model uses it to decide when a line ends, holding it at its
# end-of-line value should break lines early, and at its start-of-line value let them run on.

# %%
prime = quiet_prime(study.corpus.data, trace.positions, signals.get("in_quotes"))


def _against_plain(table, column: str, what: str, form: str) -> str:
    """Each intervention's ``column`` against the plain model's, in standard errors of the difference, in words."""
    base = table.iloc[0]
    parts = []
    for row in table.iloc[1:].itertuples():
        se = float(np.hypot(getattr(row, column + "_se"), base[column + "_se"]))
        z = (getattr(row, column) - base[column]) / se if se > 0 else np.nan
        verdict = "beyond the noise" if abs(z) >= 2 else "within the noise"
        parts.append(f"{row.samples}: {form.format(getattr(row, column))} ({z:+.1f} standard errors, {verdict})")
    return (f"The {what}: plain {form.format(base[column])}; " + "; ".join(parts) + ". A difference of less than "
            "two standard errors (over the 32 samples) is not evidence that the clamp moves it.")

if "line_position" in signals:
    line = leaders.set_index("signal").loc["line_position"]
    late, early = clamp_values(trace, line.layer, line.quantity, line.cell, signals["line_position"])
    lines = interventions.intervention_samples(model, study.corpus, {
        "plain": Intervention(),
        f"held at its end-of-line value ({line.quantity} = {late:+.2f})":
            Intervention.clamp(line.layer, [line.cell], late, line.quantity),
        f"held at its start-of-line value ({line.quantity} = {early:+.2f})":
            Intervention.clamp(line.layer, [line.cell], early, line.quantity),
        "ablated": Intervention.ablate(line.layer, [line.cell], line.quantity),
    }, prime, n=600, count=32, seed=0)
    lengths = line_lengths(lines)
    display(lengths.round(1))
    display(Markdown(_against_plain(lengths, "mean_length", "mean line length", "{:.1f} bytes")))
    cell = (line.layer, line.quantity, line.cell)
    display(HTML(colour_key_html(line.quantity, f"layer {line.layer + 1} {line.quantity}[{line.cell}], as the "
                                                "unmodified model reads each sample")))
    shown = interventions.sample_readings(model, study.corpus, lines, cell, prime, per_set=1)
    display(HTML(readings_html(shown, cell)))
else:
    display(Markdown("This test text has no line breaks, so there is no line-length cell to clamp."))

# %% [markdown]
# **The quote cell.** Each set of samples is measured by the quote signal read from the sample's
# first byte: the share of bytes inside quotes, the share of samples that end inside an unclosed
# quote, and how often quotes open or close. Samples are coloured by the quote cell as the
# *unmodified* model reads them.

# %%
if "in_quotes" in signals:
    quote = leaders.set_index("signal").loc["in_quotes"]
    on, off = clamp_values(trace, quote.layer, quote.quantity, quote.cell, signals["in_quotes"])
    quotes = interventions.intervention_samples(model, study.corpus, {
        "plain": Intervention(),
        f"clamped on ({quote.quantity} = {on:+.2f})": Intervention.clamp(quote.layer, [quote.cell], on,
                                                                         quote.quantity),
        f"clamped off ({quote.quantity} = {off:+.2f})": Intervention.clamp(quote.layer, [quote.cell], off,
                                                                           quote.quantity),
    }, prime, n=300, count=32, seed=0)
    in_quotes = signal_in_samples(quotes, "in_quotes", study.settings.language)
    display(in_quotes.round(3))
    display(Markdown(_against_plain(in_quotes, "bytes_on", "share of bytes inside quotes", "{:.3f}")))
    display(HTML(colour_key_html(quote.quantity, f"layer {quote.layer + 1} {quote.quantity}[{quote.cell}], as the "
                                                 "unmodified model reads each sample")))
    cell = (quote.layer, quote.quantity, quote.cell)
    display(HTML(readings_html(interventions.sample_readings(model, study.corpus, quotes, cell, prime), cell)))
else:
    display(Markdown("Quotes never open and close in this test text, so there is no quote cell to clamp."))

# %% [markdown]
# ## Try it
#
# In JupyterLab (`make lab`) the controls are live: pick a cell, ablate it or clamp it to a value,
# and resample; the plain and the intervened model sample from the same seed. In the static book
# the widget shows its first view.

# %%
InterventionExplorer(leaders, interventions.resampler(model, study.corpus, prime)).widget

# %% [markdown]
# ## Dynamic evaluation
#
# The model reads the test split as evaluation does (every row in parallel, state carried) and,
# after scoring each window of a few bytes per row, takes one gradient step on that window's loss. The
# step is Krause et al.'s RMS-normalised rule: each parameter's gradient is divided by its root mean
# square over windows of the training split, and a decay pulls the weights back towards the trained
# ones, θ ← θ − η ∇L / r + λ (θ₀ − θ) ⊙ r / r̄ (with r floored at 1% of r̄ and r / r̄ capped at 1/λ;
# plain SGD, θ ← θ − η ∇L + λ (θ₀ − θ), is the other rule the library offers). All rows share the
# weights, so each step learns from the window just scored in every row — here stretches of text far
# apart in the corpus — and no byte is ever scored after a step that saw it. The window, the step size
# η and the decay λ are chosen on the validation split (its first bytes per row, to bound the cost),
# never on test; taking no step at all (the first row of the table, η = 0) is one of the choices.

# %%
dynamic = study.dynamic(run)
plain = study.predictions(run)
dynamic.validation.round(4)

# %% tags=["hide-input"]
chosen = dynamic.config
Markdown(
    ("Validation chose to take no step at all: no configuration beat plain evaluation" if not chosen.learning_rate
     else f"Validation chose the {chosen.rule} rule with η = {chosen.learning_rate:g}, λ = {chosen.decay:g} and a "
     f"step every {chosen.window} bytes per row")
    + f" (scored on the first {f'{dynamic.validation_length:,}' if dynamic.validation_length else 'all'} bytes of "
    "each validation row). On test, the "
    f"loss goes from **{plain.cross_entropy:.3f}** to **{dynamic.predictions.cross_entropy:.3f}** nats/byte "
    f"(bootstrap standard deviation of the difference {paired_bootstrap_std(dynamic.predictions, plain):.4f}), and "
    f"the errors (p < 0.5) from {int(plain.errors.sum()):,} to {int(dynamic.predictions.errors.sum()):,}. It costs "
    f"**{dynamic.slowdown:.1f}×** the time of plain evaluation ({dynamic.seconds:.1f} s against "
    f"{dynamic.plain_seconds:.1f} s, measured one after the other on {study.settings.device.type})."
    + (" The loss falls while the number of errors rises: dynamic evaluation puts more probability on bytes the "
       "model already predicted, and a few more bytes drop below one half than rise above it; the loss counts "
       "every byte's probability, the errors only which side of one half it lies."
       if dynamic.predictions.cross_entropy < plain.cross_entropy and dynamic.predictions.errors.sum() >
       plain.errors.sum() else "")
    + (f" The chosen η is the largest in the grid ({dynamic.validation.learning_rate.max():g}), so a larger step "
       "might do better still: the grid (`lit_rnn.dynamic.GRID`) stops there, and whether a larger step helps on "
       "this corpus is not measured here."
       if chosen.learning_rate and chosen.learning_rate == dynamic.validation.learning_rate.max() else "")
)

# %% [markdown]
# ### Which errors it removes
#
# The oracles of chapter 7 sort the plain model's errors into categories. For each category: how
# many of its errors dynamic evaluation predicts correctly (probability ≥ 0.5), and how much the
# log-probability of the true byte changes on average over all of the category's errors, fixed or not
# (`gain`, nats; positive is better). If the paper's conjecture holds, the memory category is fixed
# at a higher rate than the other errors that short context cannot fix (every category but the
# n-gram's, which any better model fixes many of).

# %%
oracle = OracleConfig()
ngrams = study.oracle_ngrams(oracle)
before = error_breakdown(plain, ngrams, study.corpus.data, study.train_positions(), oracle)
after = error_breakdown(dynamic.predictions, ngrams, study.corpus.data, study.train_positions(), oracle)
fixes = fixed_errors(before, plain, dynamic.predictions)
figures.error_fixes(fixes, "Errors of the plain model that dynamic evaluation fixes,<br>by oracle category")

# %%
fixes.assign(fixed_share=fixes.fixed_share.map("{:.2%}".format)).round(3)

# %% [markdown]
# Both evaluations' errors peeled by the same oracles, by category, and the change: the dynamic
# evaluation's errors less the plain model's (negative: dynamic evaluation makes fewer). The share of the change
# per category is left out: where the errors fall in some categories and rise in others, shares of a
# small net difference have no meaning.

# %%
scaling_difference(before, after).drop(columns="share of difference", errors="ignore").rename(
    columns={"difference": "change"}).assign(change=lambda t: t.change.map("{:+,}".format))[
    ["category", before.name, after.name, "change"]]

# %% tags=["hide-input"]
gap = fixed_share(before, plain, dynamic.predictions, "memory")
Markdown(f"Dynamic evaluation {gap.text('the memory-oracle errors')}. The intervals are over the test segments, and "
         "rough: under dynamic evaluation the segments share the weights they adapt. The n-gram oracle's errors are "
         "left out of the comparison: short context fixes them, so any better model fixes many. The verdict below "
         "rests on errors (a byte whose probability rises but stays under 0.5 is still one): those fixed, and the "
         "memory-oracle errors left in all.")

# %% [markdown]
# ## What this chapter found
#
# These claims are this book's, beyond the paper's, and are tallied apart. A cell is *used* when its
# ablation moves the loss on its bytes beyond the layer's random cells: its rank among them within
# 5%, its z-score's p-value within 5% after Holm's correction over the cells tested, and the 95%
# bootstrap interval of its excess over them excluding zero; a cell whose ablation makes its bytes
# *easier* counts only if it costs the other bytes more than random cells do. The rank and the z-score
# compare the cell with the random cells on the same bytes; the bootstrap resamples the scored rows,
# so it carries how much the excess varies from one stretch of text to another: a large z beside an
# interval that includes zero is a cell that stands out on these bytes, but not reliably across them.
# Dynamic evaluation is judged by two tests, each passed when its 95% bootstrap interval excludes zero: whether it fixes
# memory-oracle errors at a higher rate than the errors short context cannot fix either (those of the
# oracles after the n-gram's), and whether it leaves fewer memory-oracle errors in all, both models'
# errors peeled by the same oracles (fixing some errors may make others); a test loss higher beyond
# the noise (|z| > 2) goes against it. The log-probability gains are stated, not judged.

# %%
claims = scorecard.applicable([
    causal_claim(scores), dynamic_claim(gap, plain.cross_entropy, dynamic.predictions.cross_entropy,
                                        paired_bootstrap_std(dynamic.predictions, plain),
                                        net_change(before, plain, after, dynamic.predictions, "memory"))],
    study.corpus.name, models=[run])
study.save_claims("08_beyond", claims)
display(Markdown(scorecard.findings(claims, study.corpus.name)))
scorecard.table(claims)
