"""Aggregate training throughput of a pack of runs against the same runs in smaller packs on concurrent CUDA streams
and in concurrent single-run processes, side by side on one device, and the projected wall time of the paper's grid
and of the core set: the device check of ``lit-rnn gpu-window`` (:func:`lit_rnn.window.measure`), without its
training.

    .venv/bin/python bench/grid_throughput.py --device cuda     # the paper's shapes, both corpora (minutes)
    .venv/bin/python bench/grid_throughput.py --smoke           # a CPU, tiny runs on random bytes (seconds)

Measured: the written-out equations against the device's fused kernels; per pack the window would train (the
``core`` preset's runs, then the ``paper`` grid, per corpus), seconds per step and per validation pass on fresh
weights; for the grid's largest pack (12 runs: a model's four budgets x three dropouts), its aggregate
run-steps/s packed, as a pack per model and as each run alone on concurrent CUDA streams (one thread each), and in
``--processes`` concurrent processes, one run each. Projection: per pack, the recipe's steps and validations without
early stopping (an upper bound), packs one after another; the other paths at the probe's ratio of rates.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

from lit_rnn.data import Corpus, load_corpus
from lit_rnn.devices import describe, resolve_device, resolve_precision
from lit_rnn.folders import resolve_data_dir
from lit_rnn.presets import ModelSpec, get_preset
from lit_rnn.train import TrainOptions
from lit_rnn.window import Report, markdown, measure

TINY = get_preset("tiny")
SMOKE_CORE = dataclasses.replace(TINY, grid=(ModelSpec("lstm", 1, 0),), large=(ModelSpec("lstm", 1, 0),),
                                 small=ModelSpec("lstm", 1, 0), nnn_contexts=(1,))
SMOKE_GRID = dataclasses.replace(TINY, grid=(ModelSpec("lstm", 2, 0, (0.0, 0.25)),))


def random_text(name: str, n_bytes: int, vocab: int = 87, seed: int = 0) -> Corpus:
    """Random bytes with War and Peace's vocabulary size: speed does not depend on what the bytes say."""
    data = (np.random.default_rng(seed).integers(0, vocab, n_bytes) + 32).astype(np.uint8)
    return Corpus(name, Path(name), data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="auto", help="as lit-rnn's (auto: bf16 where native)")
    parser.add_argument("--corpus", nargs="+", default=["warpeace", "linux"], help="corpora (LIT_RNN_DATA)")
    parser.add_argument("--processes", type=int, default=None,
                        help="concurrent per-run processes (default: one per run of the probed pack; 0: skip)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per pack")
    parser.add_argument("--smoke", action="store_true", help="a CPU, tiny runs on random bytes, 2 processes")
    args = parser.parse_args(argv)
    if args.smoke:
        device, core, grid, processes = torch.device("cpu"), SMOKE_CORE, SMOKE_GRID, 2
        corpora = [random_text("random", 40_000)]
        torch.set_num_threads(1)
    else:
        device, core, grid, processes = resolve_device(args.device), get_preset("core"), get_preset("paper"), None
        corpora = [load_corpus(name, resolve_data_dir()) for name in args.corpus]
    options = TrainOptions(device=device, precision=resolve_precision(args.precision, device), progress=False)
    report = Report(describe(device), options.precision, 0.0, "grid_throughput")
    measure(corpora, core, grid, options, args.processes if args.processes is not None else processes, report,
            steps=args.steps)
    print(markdown(report).split("\n| training")[0])
    return 0 if all(row["passed"] for row in report.trace) else 1


if __name__ == "__main__":
    sys.exit(main())
