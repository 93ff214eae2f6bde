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
from _models import SMOKE_BYTES

from lit_rnn.data import load_corpus
from lit_rnn.evaluate import StoredTrace, write_trace
from lit_rnn.models import CharLM, ModelConfig, init_uniform
from lit_rnn.settings import resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--split", default="test")
    parser.add_argument("--layers", dest="n_layers", type=int, default=3)
    parser.add_argument("--cells", type=int, default=512)
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus, resolve_data_dir())
    if args.smoke:
        corpus, args.n_layers, args.cells = corpus.head(SMOKE_BYTES), 1, 8
    torch.manual_seed(0)
    model = CharLM(ModelConfig("lstm", args.n_layers, args.cells, corpus.vocab_size)).eval()
    init_uniform(model, 0.08)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "trace"
        start = time.perf_counter()
        write_trace(model, corpus.batcher(), args.split, folder)
        seconds = time.perf_counter() - start
        trace = StoredTrace(folder, "lstm", args.n_layers)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"traced {len(trace.positions):,} positions x {args.n_layers} layers x 6 quantities x {args.cells} cells "
              f"in {seconds:.0f} s; {size / 2**30:.2f} GiB on disk; peak resident memory "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
