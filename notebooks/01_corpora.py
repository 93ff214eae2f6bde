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
# # 1. The corpora
#
# The paper studies two texts at opposite ends of a spectrum of structure: Tolstoy's *War and
# Peace*, almost entirely English prose, and the source code of the Linux kernel, whose braces,
# comments and indentation nest over hundreds of bytes. Both are modelled as **bytes**: the
# vocabulary is the set of byte values that occur, so a UTF-8 character outside ASCII is two to
# four symbols.

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
from lit_rnn.analysis.corpora import corpus_claim
from lit_rnn.analysis.signals import language_name
from lit_rnn.data import byte_label, character_table
from lit_rnn.study import Study
from lit_rnn.viz import figures, notebook

notebook.setup()
study = Study.open(corpus=corpus, preset=preset, device=device, precision=precision, data_dir=data_dir,
                   artifacts=artifacts, language=language)
settings, text, batcher = study.settings, study.corpus, study.batcher

# %% tags=["hide-input"]
Markdown(
    f"**{text.name}** has {len(text):,} bytes and {text.vocab_size} distinct byte values "
    f"(sha256 `{text.sha256[:16]}…`)"
    + (f", the first {len(text):,} bytes of {text.path.name} (the {settings.preset.name} preset's limit)"
       if settings.preset.max_bytes is not None and text.path.stat().st_size > len(text) else "")
    + ". Its first bytes:\n\n```\n"
    + text.data[:400].tobytes().decode("utf-8", errors="replace").replace("\r", "")
    + "\n```"
)

# %% [markdown]
# ## The split
#
# The split follows char-rnn: the text is trimmed to a multiple of $B \times T$ bytes (batch
# $B$ rows, $T$ steps), viewed as $B$ contiguous rows, and each row is cut into $T$-byte chunks. A
# batch is one chunk from every row; the first 80% of batches train, the next 10% validate and
# the rest test. The test set is therefore not one contiguous block but $B$ segments spread
# evenly through the text, and a model carries each row's state from batch to batch.

# %% tags=["hide-input"]
sizes = {split: batcher.split_bytes(split) for split in ("train", "val", "test")}
Markdown(
    f"With B = {batcher.batch_size} rows and T = {batcher.seq_length} steps there are {batcher.n_batches} batches: "
    f"{batcher.n_train} train ({sizes['train']:,} bytes), {batcher.n_val} validation "
    f"({sizes['val']:,} bytes) and {batcher.n_test} test ({sizes['test']:,} bytes), "
    f"in {batcher.batch_size} segments of {batcher.segment_bytes('test'):,} bytes."
)

# %%
figures.split_map(batcher)

# %% [markdown]
# ## Byte frequencies

# %%
figures.byte_frequencies(text)

# %% tags=["hide-input"]
counts = sorted(((int((text.data == b).sum()), byte_label(int(b))) for b in text.vocab), reverse=True)
Markdown("The most frequent bytes: " + ", ".join(f"`{label}` ({n / len(text):.1%})" for n, label in counts[:8]) + ".")

# %% [markdown]
# ## The vocabulary as characters
#
# Read as UTF-8, the bytes make characters: a character outside ASCII is two to four bytes, each
# a symbol of its own to the models (its lead byte first). A byte that is part of no valid
# sequence counts as itself.

# %% tags=["hide-input"]
characters = character_table(text.data)
wide = characters[characters.kind != "ascii"]
Markdown(f"The reference signals of chapter 3 read this text as {language_name(settings.language)}. "
         f"Its {text.vocab_size} byte values make {len(characters)} distinct characters"
         + (f"; the {len(wide)} that are not ASCII, most frequent first:" if len(wide) else ", all of them ASCII."))

# %%
wide.head(40)

# %% [markdown]
# ## Against the paper
#
# A check of the setup, not one of the paper's findings: the scorecard tallies it apart.

# %%
claims = scorecard.applicable([corpus_claim(text)], study.corpus.name)
study.save_claims("01_corpora", claims)
display(Markdown(scorecard.findings(claims, study.corpus.name)))
scorecard.table(claims)
