"""The corpora against the paper's: size and vocabulary of the text this build analyses."""

from __future__ import annotations

from lit_rnn.analysis.scorecard import Claim, judge
from lit_rnn.data import Corpus

# The paper's corpora: bytes and distinct bytes. Its Linux corpus came from a 2015 kernel; this
# project's is rebuilt from Linux 6.1 to the same size (data.build_linux_corpus), with 110 symbols.
PAPER_CORPORA = {"warpeace": (3_258_246, 87), "linux": (6_206_996, 101)}


def corpus_claim(corpus: Corpus) -> Claim:
    """The corpus analysed here against the paper's: the same size and vocabulary, or what differs."""
    name = f"The {corpus.name} corpus has the paper's size and vocabulary"
    if corpus.name not in PAPER_CORPORA:
        return Claim("Corpora", name, f"{len(corpus):,} bytes, {corpus.vocab_size} symbols: not one of the paper's",
                     judge(None))
    size, vocabulary = PAPER_CORPORA[corpus.name]
    measured = (f"{len(corpus):,} bytes and {corpus.vocab_size} symbols, against the paper's {size:,} and "
                f"{vocabulary}")
    return Claim("Corpora", name, measured,
                 judge(len(corpus) == size and corpus.vocab_size == vocabulary, partly=len(corpus) == size))
