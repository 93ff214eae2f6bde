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
# # Error analysis: peeling the onion
#
# The paper breaks the LSTM's remaining errors into categories with a sequence of **oracles**,
# each removing the errors that the ones before it left:
#
# 1. **n-gram**: some n-gram model ($n = 1..9$) predicts the byte (probability $\ge 0.5$);
# 2. **dynamic n-memory**: the byte is in a word that occurs in the previous $n$ bytes;
# 3. **rare words**: the byte is in a word seen at most $t$ times in training;
# 4. **word model**: the byte starts a word (after a space, quote or newline);
# 5. **punctuation**: the byte is punctuation;
# 6. **boost**: the error would vanish if the correct byte's probability were raised by a fixed amount.
#
# The categories are made for prose (the paper uses War and Peace only); on code they still run,
# but "words" are identifiers. Comparing a large and a small LSTM shows which errors scaling removes.

# %% tags=["parameters"]
corpus = "warpeace"  # a registered corpus (warpeace, linux) or the path of any text file
preset = "small"  # tiny, small or paper
device = "auto"  # auto, cpu, cuda or cuda:N
precision = "auto"  # training precision: auto, fp32, tf32 or bf16
data_dir = None  # default: $LIT_RNN_DATA or ./data
artifacts = None  # default: $LIT_RNN_HOME or ./artifacts
language = "auto"  # for the reference signals: auto (a guess), text (prose) or a Pygments lexer name (python, c, ...)

# %%
from IPython.display import HTML, Markdown, display

from lit_rnn.analysis.oracles import OracleConfig, error_breakdown, example_spans, side_by_side
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook
from lit_rnn.viz.heatmap import error_examples_html

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
oracle = OracleConfig()
ngrams = study.oracle_ngrams(oracle)
breakdowns = [error_breakdown(study.predictions(run), ngrams, study.corpus.data, study.train_positions(), oracle)
              for run in study.error_runs]

# %%
figures.error_breakdown(breakdowns)

# %%
side_by_side(*breakdowns).round(3)

# %%
first = breakdowns[0]
total = int(first.table.errors.sum())
share = first.table.set_index("step").share
Markdown(
    f"{first.name} makes {total:,} errors on {len(first.labels):,} test bytes. The n-gram oracle removes "
    f"{share['n-gram']:.0%} of them; the word-model oracle {share['word']:.0%}; {share['remaining']:.0%} remain."
    + (f" The smaller {breakdowns[1].name} makes {int(breakdowns[1].table.errors.sum()):,} errors, of which the "
       f"n-gram oracle removes {breakdowns[1].table.set_index('step').share['n-gram']:.0%}."
       if len(breakdowns) > 1 else "")
)

# %% [markdown]
# ## Examples of each kind of error
#
# The mispredicted byte is dark blue, the rest of its word light blue.

# %%
for step in first.table.step:
    examples = example_spans(first, study.corpus.data, step, k=3, context=30)
    if len(examples):
        display(HTML(error_examples_html(examples, step)))
