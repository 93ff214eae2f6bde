"""Time to compute every reference signal of a whole corpus (lexed cold, then read from the cache), and what each is.

    .venv/bin/python bench/signals_speed.py --corpus linux
    .venv/bin/python bench/signals_speed.py --corpus my_code.py --language auto

Cold lexes the corpus with Pygments (into a fresh cache folder); cached reads the lexed corpus
back, as every chapter after the first does. Both then compute all the signals of its language.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lit_rnn.analysis.signals import lex, reference_signals, resolve_language
from lit_rnn.data import load_corpus
from lit_rnn.settings import resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="linux")
    parser.add_argument("--language", default="auto")
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus, resolve_data_dir())
    corpus = corpus.head(20_000) if args.smoke else corpus
    language = resolve_language(args.language, corpus)
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold", "cached"):
            start = time.perf_counter()
            signals = reference_signals(lex(corpus.data, language, cache=Path(cache)))
            seconds = time.perf_counter() - start
            print(f"{label:<7} {len(signals)} signals of {corpus.name} ({len(corpus):,} bytes, {language}) "
                  f"in {seconds:.1f} s")
    for signal in signals.values():
        values = signal.values
        print(f"  {signal.name:<16} {signal.kind:<8} non-zero on {np.mean(values != 0):6.1%} of the bytes, "
              f"largest {values.max():g}")


if __name__ == "__main__":
    main()
