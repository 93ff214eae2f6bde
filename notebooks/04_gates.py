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
# # Gate activation statistics
#
# A gate is a sigmoid in $(0, 1)$. Call it **left-saturated** when it is below 0.1 (nearly shut)
# and **right-saturated** when above 0.9 (nearly open). For every gate of every cell we measure the
# fraction of test positions spent in each regime and place the gate at
# (fraction left, fraction right): the paper's Figure 3. A forget gate that is almost always
# right-saturated keeps its cell's value for long stretches — a near-perfect integrator; one that
# is often left-saturated makes its cell work feed-forward. For the GRU,
# $h_t = (1 - z)\odot\tilde h + z\odot h_{t-1}$ here, so the update gate $z$ plays the forget gate's role.

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

from lit_rnn.analysis.gates import gate_saturation, integrator_cells, unsaturated_fraction
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
gated = study.gate_runs
saturation = {architecture: gate_saturation(study.trace(run)) for architecture, run in gated.items()}

# %% [markdown]
# ## LSTM

# %%
if "lstm" in saturation:
    display(figures.gate_saturation(saturation["lstm"], f"Gate saturation of {gated['lstm'].config.model.name}"))
    lstm = saturation["lstm"]
    summary = lstm.groupby(["layer", "gate"])[["left", "right"]].mean().round(3)
    display(summary)
    integrators = integrator_cells(lstm, min_fraction=0.9)
    first, deeper = lstm[lstm.layer == 0], lstm[lstm.layer > 0]
    display(Markdown(
        f"{len(integrators)} cells have a forget gate right-saturated at least 90% of the time (integrators). "
        f"In the first layer {unsaturated_fraction(first):.0%} of the gates are saturated less than 10% of the time "
        "either way"
        + ((f", against {unsaturated_fraction(deeper):.0%} in the layers above: "
            + ("as in the paper, the first layer's activations are the more diffuse."
               if unsaturated_fraction(first) > unsaturated_fraction(deeper)
               else "unlike the paper, the first layer is not the more diffuse here."))
           if len(deeper) else ".")
    ))

# %% [markdown]
# ## GRU

# %%
if "gru" in saturation:
    display(figures.gate_saturation(saturation["gru"], f"Gate saturation of {gated['gru'].config.model.name}"))
    gru = saturation["gru"]
    first = gru[gru.layer == 0]
    display(Markdown(
        "In the GRU's first layer, reset gates are right-saturated on average "
        f"{first[first.gate == 'r'].right.mean():.1%} "
        f"of the time and update gates left-saturated {first[first.gate == 'z'].left.mean():.1%} of the time "
        "(the paper found both nearly never: a first layer that barely uses its previous state)."
    ))
