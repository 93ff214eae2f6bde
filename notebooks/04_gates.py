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
# # 4. Gate activation statistics
#
# A gate is a sigmoid in $(0, 1)$. Call it **left-saturated** when it is below 0.1 (nearly shut)
# and **right-saturated** when above 0.9 (nearly open). For every gate of every cell we measure the
# fraction of test positions spent in each regime and place the gate at
# (fraction left, fraction right): the paper's Figure 3. A forget gate that is almost always
# right-saturated keeps its cell's value for long stretches — a near-perfect integrator; one that
# is consistently left-saturated makes its cell work feed-forward; an output gate saturated one way
# always reveals, or always hides, its cell.
#
# GRU gates are shown in the paper's convention: the paper's update gate $z$ keeps the previous
# state where it is *low* ($h_t = (1 - z) \odot h_{t-1} + z \odot \tilde h$), and it is $1 - z$ of
# PyTorch's, whose fractions are therefore swapped (chapter 2 gives both forms).

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

from lit_rnn.analysis import scorecard
from lit_rnn.analysis.gates import (
    CONSISTENTLY,
    gate_saturation,
    gru_first_layer_claim,
    lstm_gate_claims,
    saturated_cells,
    unsaturated_fraction,
)
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)

# %% tags=["hide-input"]
gated = study.gate_runs
saturation = {architecture: gate_saturation(study.trace(run)) for architecture, run in gated.items()}
Markdown("Models: " + "; ".join(study.about(run) for run in gated.values()) + "."
         + "".join(f"\n\n*{note}*" for note in study.notes))

# %% [markdown]
# ## LSTM

# %%
lstm = saturation["lstm"]
display(figures.gate_saturation(lstm, f"Gate saturation of {gated['lstm'].name} (the paper's Figure 3)"))
means = lstm.assign(layer=lstm.layer + 1).groupby(["layer", "gate"])[["left", "right"]].mean()  # layers from 1
means.rename(columns={"left": "fraction < 0.1", "right": "fraction > 0.9"}).round(3)

# %% tags=["hide-input"]
counts = {(gate, side): len(saturated_cells(lstm, gate, side)) for gate in "fo" for side in ("left", "right")}
layers = sorted(lstm.layer.unique())
def _where(gate: str, layer: int) -> str:
    """Where a layer's gates of one kind sit on the figure, in words: their mean fractions shut and open."""
    row = means.loc[(layer + 1, gate)]
    return f"{row.left:.0%} shut, {row.right:.0%} open"


Markdown(
    "How to read the figure: each point is one gate of one cell; right along the x-axis it is shut more often, "
    "up the y-axis open more often, and the dotted diagonal is the limit where it is always one or the other. "
    "On average per layer, forget gates are "
    + "; ".join(f"layer {layer + 1} {_where('f', layer)}" for layer in layers)
    + "; input gates " + "; ".join(f"layer {layer + 1} {_where('i', layer)}" for layer in layers)
    + "; output gates " + "; ".join(f"layer {layer + 1} {_where('o', layer)}" for layer in layers)
    + ". The paper's reading: forget gates near the top left are integrators that keep their cell for long "
    "stretches, and a first layer whose gates sit in the middle (rarely saturated) works more diffusely than "
    "the layers above.\n\n"
    f"Saturated one way at {CONSISTENTLY:.0%} of positions or more: {counts['f', 'right']} forget gates open "
    f"(integrators), {counts['f', 'left']} forget gates shut (cells working feed-forward), "
    f"{counts['o', 'right']} output gates always open and {counts['o', 'left']} always shut. Gates saturated "
    "less than 10% of the time either way: "
    + ", ".join(f"layer {layer + 1} {unsaturated_fraction(lstm[lstm.layer == layer]):.0%}" for layer in layers) + "."
)

# %% [markdown]
# ## GRU

# %%
if "gru" in saturation:
    gru = saturation["gru"]
    display(figures.gate_saturation(gru, f"Gate saturation of {gated['gru'].name}<br>(update gate in the paper's "
                                         "convention)"))
    display(gru.assign(layer=gru.layer + 1).groupby(["layer", "gate"])[["left", "right"]].mean().rename(
        columns={"left": "fraction < 0.1", "right": "fraction > 0.9"}).round(3))  # layers counted from 1
else:
    display(Markdown("This build has no GRU."))

# %% [markdown]
# ## What this chapter found
#
# "Consistently" saturated means at 90% of positions or more, "rarely" less than 10% of the time on
# average: this book's thresholds for the paper's words.

# %%
claims = scorecard.applicable(lstm_gate_claims(lstm), study.corpus.name, models=[gated["lstm"]])
if "gru" in saturation:
    claims += scorecard.applicable([gru_first_layer_claim(saturation["gru"])], study.corpus.name,
                                   models=[gated["gru"]])
study.save_claims("04_gates", claims)
display(Markdown(scorecard.findings(claims, study.corpus.name)))
scorecard.table(claims)
