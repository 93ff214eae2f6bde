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
# # Visualizing and Understanding Recurrent Networks, reproduced
#
# This book is an executable reproduction of Karpathy, Johnson & Fei-Fei (2015), *Visualizing and
# Understanding Recurrent Networks*. It trains byte-level RNN, LSTM and GRU language models on
# Tolstoy's *War and Peace* and on the Linux kernel's C source, with the paper's recipe, and
# repeats its analyses:
#
# - the **comparison of architectures** at matched parameter budgets (Table 1, Figure 2);
# - **interpretable long-range cells** (line length, quotes, brackets, comments, indentation),
#   found here automatically by ranking every cell against reference signals;
# - **gate saturation** statistics (Figure 3);
# - **finite-horizon baselines**, KenLM n-gram models and n-NN networks (Table 2), and where the
#   LSTM beats them: special characters, closing braces far from their opening brace (Figures 4-5);
# - the **training dynamics** of the LSTM against the n-NN models (Figure 5, right);
# - the **error analysis** that peels the LSTM's errors with a sequence of oracles (Figure 6).
#
# Every number on these pages is computed by the build that produced them; none is typed in.

# %% tags=["parameters"]
corpora = ["warpeace", "linux"]
preset = "small"
device = "auto"
precision = "auto"
data_dir = None
artifacts = None
language = "auto"

# %%
from IPython.display import Markdown

from lit_rnn.analysis.compare import PAPER_BEST_LSTM
from lit_rnn.study import Study
from lit_rnn.viz import notebook

notebook.setup()

studies = {name: Study.open(corpus=name, preset=preset, device=device, precision=precision, data_dir=data_dir,
                            artifacts=artifacts, language=language, progress=False) for name in corpora}
chosen = next(iter(studies.values())).preset
recipe = chosen.recipe

# %% [markdown]
# ## This build

# %%
Markdown(
    f"Built with the **{preset}** preset: {len(chosen.grid)} recurrent models per corpus, "
    f"up to {recipe.epochs:g} epochs each"
    + (f" (at most {recipe.max_steps} steps)" if recipe.max_steps else "")
    + (f", on the first {chosen.max_bytes:,} bytes of each corpus" if chosen.max_bytes else "")
    + ". The paper trains the full 36-model grid per corpus for 50 epochs (the `paper` preset, meant for a GPU), "
    "so the absolute losses here are higher; the qualitative findings are what the chapters examine."
)

# %%
rows = []
for name, study in studies.items():
    best = study.cell_run
    loss = study.predictions(best).cross_entropy
    paper = PAPER_BEST_LSTM.get(name)
    rows.append(f"| {name} | {best.config.model.name} | {loss:.3f} | {paper if paper is not None else '—'} |")
Markdown("| corpus | best LSTM here | test loss (nats/byte) | paper's best LSTM |\n| --- | --- | --- | --- |\n"
         + "\n".join(rows))

# %% [markdown]
# ## Rerun a chapter on your own text
#
# Every chapter is a notebook with a `parameters` cell. To run one on any text file:
#
# ```bash
# papermill notebooks/<chapter>.ipynb out.ipynb -p corpus my.txt -p preset small
# ```
#
# (`jupytext --to ipynb notebooks/<chapter>.py` makes the `.ipynb` from the source.) Models
# are trained on first use and kept in `artifacts/`, so later chapters and reruns reuse them.
# `make lab` opens the chapters in JupyterLab, where the cell explorers are live.
