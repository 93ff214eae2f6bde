"""Wall time of the KenLM n-gram baseline on War and Peace: estimation, then every test distribution, against
asking KenLM at every position.

    LIT_RNN_DATA=/path/to/data .venv/bin/python bench/ngram_speed.py            # the 20-gram
    LIT_RNN_DATA=/path/to/data .venv/bin/python bench/ngram_speed.py --order 5

Everything runs in a fresh temporary artifacts root, so nothing is read from a cache: ``train_ngram`` (lmplz
piped into build_binary), ``ngram_predictions`` over the test split (each distinct KenLM state's distribution
asked once), and, as the baseline side by side, the same distributions asked of KenLM at every position (what
``lit_rnn.ngram`` did before), which must agree exactly.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import kenlm
import numpy as np
from _models import SMOKE_BYTES

from lit_rnn.data import load_corpus
from lit_rnn.ngram import ngram_predictions, tokens, train_ngram
from lit_rnn.predictions import Predictions
from lit_rnn.settings import resolve_data_dir


def every_position(model: kenlm.Model, words: list[str], rows: np.ndarray) -> np.ndarray:
    """KenLM's distribution after every byte of every row, asked afresh at each position (the baseline)."""
    unseen = [k for k, word in enumerate(words) if word not in model]
    log10_probs = np.empty((rows.size, len(words)))
    position, scratch = 0, kenlm.State()
    for row in rows:
        state, following = kenlm.State(), kenlm.State()
        model.BeginSentenceWrite(state)
        for word in row.tolist():
            model.BaseScore(state, word, following)
            log10_probs[position] = [model.BaseScore(following, w, scratch) for w in words]
            state, following, position = following, state, position + 1
    if unseen:
        log10_probs[:, unseen] -= np.log10(len(unseen))
    probs = 10.0**log10_probs
    return probs / probs.sum(axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--order", type=int, default=21, help="KenLM's order: 21 is the paper's 20-gram")
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus, resolve_data_dir())
    if args.smoke:
        corpus, args.order = corpus.head(SMOKE_BYTES), 3
    batcher = corpus.batcher()
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        binary = train_ngram(batcher, args.order, root)
        estimated = time.perf_counter()
        result = ngram_predictions(batcher, args.order, "test", root)
        scored = time.perf_counter()
        words = tokens(corpus)
        baseline = every_position(kenlm.Model(str(binary)), words, np.array(words)[batcher.split_inputs("test")])
        asked = time.perf_counter()
        size = binary.stat().st_size
    reference = Predictions.from_log_probs(np.log(baseline), result.targets, result.positions, result.name,
                                           "ngram", corpus.sha256, "test")
    agree = np.array_equal(result.probs, reference.probs) and np.array_equal(result.target_log_probs,
                                                                             reference.target_log_probs)
    n, k = result.probs.shape
    print(f"{args.order - 1}-gram (KenLM order {args.order}) on {args.corpus}: train split "
          f"{batcher.split_bytes('train'):,} bytes; test {n:,} positions x {k} bytes")
    print(f"estimation                  {estimated - start:6.1f} s  lmplz | build_binary trie, {size / 2**20:.0f} MiB")
    print(f"test, each state once       {scored - estimated:6.1f} s  (ngram_predictions, saving included)")
    print(f"test, every position asked  {asked - scored:6.1f} s  baseline: "
          f"{(asked - scored) / (scored - estimated):.1f}x the time; the same distributions: {agree}")
    print(f"test cross-entropy {result.cross_entropy:.4f} nats/byte")


if __name__ == "__main__":
    main()
