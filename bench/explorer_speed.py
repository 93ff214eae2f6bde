"""How fast the cell explorer answers on a paper-scale trace: a cell change, a first and a cached ranking.

    .venv/bin/python bench/explorer_speed.py                      # 3 layers x 241 cells x War and Peace's test split
    .venv/bin/python bench/explorer_speed.py --positions 100000   # smaller

Writes a synthetic float16 trace of an LSTM (i f g o c h per layer, random values) as a StoredTrace
in a temporary folder (3 x 241 x 330,000: 2.9 GB), over the real test split's positions, so the
reference signals are War and Peace's own; then drives the explorer's controls as a user does and
times each change (the median of ``--repeats``). The trace has just been written, so it is read
from the page cache: these are warm timings.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from _models import SMOKE_BYTES

from lit_rnn.analysis.signals import lex, reference_signals, resolve_language
from lit_rnn.data import load_corpus
from lit_rnn.evaluate import StoredTrace
from lit_rnn.models import TRACE_QUANTITIES
from lit_rnn.settings import resolve_data_dir
from lit_rnn.viz.explorer import CELL_NUMBER, MARKED_SPAN, CellExplorer


def write_synthetic_trace(folder: Path, positions: np.ndarray, n_layers: int, cells: int, chunk: int = 32768) -> None:
    """A StoredTrace folder of random float16 values: gates in [0, 1], c ~ N(0, 2), the rest in [-1, 1]."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    np.save(folder / "positions.npy", positions)
    for layer in range(n_layers):
        for name in TRACE_QUANTITIES["lstm"]:
            array = np.lib.format.open_memmap(folder / f"layer{layer}_{name}.npy", mode="w+", dtype=np.float16,
                                              shape=(len(positions), cells))
            for start in range(0, len(positions), chunk):
                shape = (min(chunk, len(positions) - start), cells)
                block = (rng.random(shape, np.float32) if name in "ifo"
                         else 2 * rng.standard_normal(shape, np.float32) if name == "c"
                         else rng.uniform(-1, 1, shape).astype(np.float32))
                array[start : start + shape[0]] = block
            array.flush()
            del array


def timed(action, repeats: int = 1, reset=None) -> float:
    """The median wall time of ``action()`` over ``repeats`` calls, in seconds (``reset()`` untimed after each)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
        if reset is not None:
            reset()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--layers", dest="n_layers", type=int, default=3)
    parser.add_argument("--cells", type=int, default=241)
    parser.add_argument("--positions", type=int, default=None, help="default: the whole test split")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    corpus = load_corpus(args.corpus, resolve_data_dir())
    if args.smoke:
        corpus, args.n_layers, args.cells, args.positions, args.repeats = corpus.head(SMOKE_BYTES), 1, 8, 2000, 1
    positions = corpus.batcher().positions("test").reshape(-1)[: args.positions]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_synthetic_trace(Path(tmp) / "trace", positions, args.n_layers, args.cells)
        size = sum(p.stat().st_size for p in (Path(tmp) / "trace").iterdir())
        print(f"synthetic trace: {args.n_layers} layers x {args.cells} cells x {len(positions):,} positions x 6 "
              f"quantities, {size / 1e9:.2f} GB, written in {time.perf_counter() - start:.0f} s")
        trace = StoredTrace(Path(tmp) / "trace", "lstm", args.n_layers)
        start = time.perf_counter()
        signals = reference_signals(lex(corpus.data, resolve_language("auto", corpus)))
        explorer = CellExplorer(corpus, {"lstm": trace}, signals)
        seconds = time.perf_counter() - start
        print(f"explorer built (reference signals over {len(corpus.data):,} bytes, first view): {seconds:.2f} s")
        cells = iter(range(1, args.cells))
        def next_cell() -> None:
            explorer.cell.value = next(cells)

        def next_position() -> None:
            explorer.start.value += 150

        print(f"cell change (draw one cell's window): {timed(next_cell, args.repeats) * 1000:.0f} ms")
        print(f"position change: {timed(next_position, args.repeats) * 1000:.0f} ms")
        explorer.layer.value = args.n_layers - 1
        no_ranking = partial(setattr, explorer.rank_by, "value", CELL_NUMBER)
        for signal in ("in_quotes", "line_position"):  # a binary signal (AUC) and a count (correlation)
            choose = partial(setattr, explorer.rank_by, "value", signal)
            first = timed(choose, reset=no_ranking)
            print(f"ranking by {signal}, one layer x {args.cells} cells: first {first:.2f} s, "
                  f"cached {timed(choose, args.repeats, reset=no_ranking) * 1000:.0f} ms")
        explorer.rank_by.value = MARKED_SPAN
        marked = int(explorer.start.value)
        mark = partial(setattr, explorer.text, "span", [marked + 10, marked + 60])
        unmark = partial(setattr, explorer.text, "span", [])
        first = timed(mark, reset=unmark)
        print(f"ranking by a marked span of 50 bytes: first {first:.2f} s, "
              f"cached {timed(mark, args.repeats, reset=unmark) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
