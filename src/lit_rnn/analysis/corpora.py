"""The corpora against the paper's: size and vocabulary of the text this build analyses."""

from __future__ import annotations

from lit_rnn.analysis.scorecard import CORPUS_NAMES, SETUP, Claim, judge
from lit_rnn.data import Corpus

# The paper's corpora: bytes and distinct bytes. Its Linux corpus came from a 2015 kernel; this
# project's is rebuilt from Linux 6.1 to the same size (data.build_linux_corpus), with 110 symbols.
PAPER_CORPORA = {"warpeace": (3_258_246, 87), "linux": (6_206_996, 101)}
BUILT_TO_SIZE = ("linux",)  # cut to the paper's size: its size matches by construction, not as a finding


def corpus_claim(corpus: Corpus) -> Claim:
    """The corpus analysed here against the paper's: the same size and vocabulary, or what differs (a setup check,
    tallied apart: a corpus of another kernel is no finding against the paper)."""
    name = f"The {CORPUS_NAMES.get(corpus.name, corpus.name)} corpus has the paper's size and vocabulary"
    if corpus.name not in PAPER_CORPORA:
        return Claim(SETUP, name, f"{len(corpus):,} bytes, {corpus.vocab_size} symbols: not one of the paper's",
                     judge(None))
    size, vocabulary = PAPER_CORPORA[corpus.name]
    measured = f"{len(corpus):,} bytes and {corpus.vocab_size} symbols, against the paper's {size:,} and {vocabulary}"
    if corpus.name in BUILT_TO_SIZE:  # the size cannot fail: the vocabulary alone decides
        return Claim(SETUP, name, f"{measured} (the size by construction: the corpus is cut to the paper's length)",
                     judge(corpus.vocab_size == vocabulary),
                     threshold="the same number of distinct bytes (the size, cut to the paper's, is not evidence)")
    return Claim(SETUP, name, measured,
                 judge(len(corpus) == size and corpus.vocab_size == vocabulary, partly=len(corpus) == size),
                 threshold="the same size in bytes and number of distinct bytes (partly: the same size only)")
