"""Wall time of the KenLM n-gram baseline on War and Peace: estimation, then every test distribution.

    LIT_RNN_DATA=/path/to/data .venv/bin/python bench/ngram_speed.py            # the 20-gram
    LIT_RNN_DATA=/path/to/data .venv/bin/python bench/ngram_speed.py --order 9

Both steps run in a fresh temporary artifacts root, so nothing is read from a cache:
``train_ngram`` (lmplz piped into build_binary) and ``ngram_predictions`` over the test split
(loading the binary, 330,000 positions x 87 bytes through KenLM, saving the predictions).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _models import SMOKE_BYTES

from lit_rnn.data import load_corpus
from lit_rnn.ngram import ngram_predictions, train_ngram
from lit_rnn.settings import resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--order", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus, resolve_data_dir())
    if args.smoke:
        corpus, args.order = corpus.head(SMOKE_BYTES), 3
    batcher = corpus.batcher()
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        size = train_ngram(batcher, args.order, root).stat().st_size
        estimated = time.perf_counter()
        result = ngram_predictions(batcher, args.order, "test", root)
        scored = time.perf_counter()
    n, k = result.probs.shape
    scoring = scored - estimated
    print(f"{args.order}-gram on {args.corpus} (train split {batcher.split_bytes('train'):,} bytes)")
    print(f"estimation {estimated - start:6.1f} s  lmplz | build_binary trie, binary {size / 2**20:.0f} MiB")
    print(f"test pass  {scoring:6.1f} s  {n:,} positions x {k} bytes, {n * k / scoring / 1e6:.2f}M scores/s")
    print(f"test cross-entropy {result.cross_entropy:.4f} nats/byte")


if __name__ == "__main__":
    main()
