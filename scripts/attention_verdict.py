"""Chapter 10's measurements for two stored runs, without building the chapter: the figures a note quotes.

    .venv/bin/python scripts/attention_verdict.py LSTM_RUN TRANSFORMER_RUN --corpus warpeace \\
        --artifacts STORE --contexts 1 2 3 4

Prints both test losses, the error overlap with the n-gram seeing the most bytes, both oracle breakdowns,
the LSTM's errors the Transformer fixes by category, the conjecture's claim, the Transformer's induction
scores and where its best induction head copies. ``--contexts``: the n-grams the oracle consults (bytes
of context; the chapter's default is 1-9), estimated with KenLM if the store lacks them.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from lit_rnn.analysis import attention, compare, longrange, oracles
from lit_rnn.attention import attention_over, repeated_bytes, split_attention
from lit_rnn.data import load_corpus
from lit_rnn.evaluate import predictions
from lit_rnn.ngram import ngram_predictions
from lit_rnn.runs import Run, RunConfig
from lit_rnn.settings import resolve_artifacts, resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lstm")
    parser.add_argument("transformer")
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--artifacts", default=None)
    parser.add_argument("--contexts", type=int, nargs="+", default=list(oracles.OracleConfig().ngram_contexts))
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus, store = load_corpus(args.corpus, resolve_data_dir()), resolve_artifacts(args.artifacts)
    runs = [Run(RunConfig.from_dict(json.loads((store / "runs" / i / "config.json").read_text())), store)
            for i in (args.lstm, args.transformer)]
    lstm, transformer = (predictions(run, corpus) for run in runs)
    batcher = corpus.batcher(100, 100)
    ngrams = [ngram_predictions(batcher, n + 1, "test", store) for n in args.contexts]
    print(f"test: {lstm.name} {lstm.cross_entropy:.4f}, {transformer.name} {transformer.cross_entropy:.4f} nats/byte "
          f"(paired bootstrap std {compare.paired_bootstrap_std(transformer, lstm):.4f})")
    print(longrange.error_overlap([lstm, transformer, ngrams[-1]]).to_string())
    oracle = oracles.OracleConfig(ngram_contexts=tuple(args.contexts))
    breakdowns = [oracles.error_breakdown(p, ngrams, corpus.data, batcher.positions("train").ravel(), oracle)
                  for p in (lstm, transformer)]
    print(oracles.side_by_side(*breakdowns).round(3).to_string())
    print(oracles.fixed_errors(breakdowns[0], lstm, transformer).round(3).to_string())
    model = runs[1].load_model()
    gap, control = attention.memory_tests(breakdowns[0], lstm, transformer, oracle, model.config.context)
    print(attention.attention_claim(gap, control, lstm.cross_entropy, transformer.cross_entropy,
                                    (lstm.name, transformer.name)))
    period = model.config.context // 2
    scores = attention.induction_scores(attention_over(model, repeated_bytes(corpus.vocab_size, period)), period)
    print(scores.round(3).to_string())
    rows = np.linspace(0, batcher.batch_size - 1, 8).astype(int)
    positions, ids, layers = split_attention(model, batcher, "test", rows, 1500)
    layer, head = int(scores.loc[0, "layer"]), int(scores.loc[0, "head"])
    mass = attention.row_copy_mass(layers[layer][:, head], ids, len(rows))
    picked = np.searchsorted(lstm.positions, positions)
    category = attention.error_categories(breakdowns[0])[picked]
    fixed = (lstm.errors & ~transformer.errors)[picked]
    print(attention.memory_errors_and_heads(category, fixed, mass).round(3).to_string())


if __name__ == "__main__":
    main()
