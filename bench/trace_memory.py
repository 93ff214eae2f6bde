"""Time and peak memory of tracing a whole test split with a 3-layer, 512-cell LSTM (untrained).

    /usr/bin/time -v .venv/bin/python bench/trace_memory.py --corpus warpeace

The trace streams to float16 files on disk (6 quantities x 3 layers x positions x 512 cells), so
memory stays at one chunk of steps whatever the split's length.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch

from lit_rnn.data import load_corpus
from lit_rnn.evaluate import Trace, write_trace
from lit_rnn.models import CharLM, ModelConfig, init_uniform
from lit_rnn.settings import resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus, resolve_data_dir())
    torch.manual_seed(0)
    model = CharLM(ModelConfig("lstm", 3, 512, corpus.vocab_size)).eval()
    init_uniform(model, 0.08)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_trace(model, corpus.batcher(), args.split, Path(tmp) / "trace")
        seconds = time.perf_counter() - start
        trace = Trace(Path(tmp) / "trace", "lstm", 3)
        size = sum(p.stat().st_size for p in (Path(tmp) / "trace").iterdir())
        print(f"traced {len(trace.positions):,} positions x 3 layers x 6 quantities x 512 cells in {seconds:.0f} s; "
              f"{size / 2**30:.2f} GiB on disk; peak resident memory "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
