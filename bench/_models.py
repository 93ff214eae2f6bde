"""What several benchmarks time: a trained model from a weights file, or an untrained paper-scale LSTM."""

from __future__ import annotations

import torch

from lit_rnn.data import Corpus
from lit_rnn.models import CharLM, ModelConfig, init_uniform, load_model

SMOKE_BYTES = 100_000  # --smoke: the corpus's first bytes, the fewest that split into 100 x 100 batches


def benchmark_model(path: str | None, corpus: Corpus, hidden: int = 241) -> CharLM:
    """The model in ``path`` (a ``best.pt``), or, without one, a 3-layer LSTM of ``hidden`` cells initialised as
    the recipe does (seed 0)."""
    if path:
        return load_model(path, vocab_size=corpus.vocab_size)
    torch.manual_seed(0)
    model = CharLM(ModelConfig("lstm", 3, hidden, corpus.vocab_size)).eval()
    init_uniform(model, 0.08)
    return model
