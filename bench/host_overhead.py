"""The host's share of a training step, and whether threads stepping side by side share it out.

    .venv/bin/python bench/host_overhead.py            # every architecture, 1 and 3 layers (about a minute)
    .venv/bin/python bench/host_overhead.py --smoke    # one case, few steps (seconds)

On a GPU a step's kernels run while the host goes on, so the host's own time per step (Python, PyTorch's
dispatcher, autograd, the optimiser's loop) bounds how many steps one process can issue a second, whatever the GPU.
Measured here on tiny shapes (width 4-15, a batch of 2 x 4 bytes, one CPU thread), where the arithmetic is nothing
and the time is that share: per step of a run alone, of a pack of 3 runs (``--pack-by model``: one model's
dropouts) and of 12 (``depth``), then the run-steps/s of 1, 2 and 4 runs of one pack each stepped on their own
threads at once, as :func:`lit_rnn.packed.train_streams` steps them. If threads do not add up, streams of small
packs in one process are held to the host's rate, and only fewer launches a step (a CUDA graph,
:class:`lit_rnn.packed.GraphedStep`) lifts it.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

import numpy as np
import torch

from lit_rnn.models import ModelConfig
from lit_rnn.packed import Packed, prepare_member
from lit_rnn.runs import Recipe, RunConfig
from lit_rnn.train import TrainOptions

RECIPE = Recipe(batch_size=2, seq_length=4)
OPTIONS = TrainOptions(progress=False)
BATCH = tuple(np.random.default_rng(0).integers(0, 87, (2, RECIPE.batch_size, RECIPE.seq_length)))


def trainee(architecture: str, n_layers: int, runs: int, folder: str) -> Packed:
    """A pack of ``runs`` tiny runs (widths 4, 5, ...; dropout 0.25, so each draws its masks)."""
    configs = [RunConfig("0" * 64, ModelConfig(architecture, n_layers, 4 + run, 87, 0.25), RECIPE, seed=run)
               for run in range(runs)]
    return Packed([prepare_member(c, folder, torch.device("cpu")) for c in configs], OPTIONS)


def steps(pack: Packed, n: int) -> None:
    with torch.autograd.set_multithreading_enabled(False):
        for _ in range(n):
            pack.step(BATCH)


def milliseconds_per_step(pack: Packed, n: int) -> float:
    steps(pack, 10)
    start = time.perf_counter()
    steps(pack, n)
    return (time.perf_counter() - start) / n * 1e3


def threaded_rate(packs: list[Packed], n: int) -> float:
    """Steps/s in all of ``packs`` each stepped ``n`` times on its own thread, all at once."""
    for pack in packs:
        steps(pack, 10)
    threads = [threading.Thread(target=steps, args=(pack, n)) for pack in packs]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(packs) * n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per case")
    parser.add_argument("--smoke", action="store_true", help="one case, few steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [("lstm", 1)] if args.smoke else [(a, n) for a in ("lstm", "gru", "rnn") for n in (1, 3)]
    n = 5 if args.smoke else args.steps
    print(f"torch {torch.__version__}, one CPU thread, {n} steps a case\n")
    print("| model | ms a step: run alone | pack of 3 | pack of 12 | run-steps/s: 1 thread | 2 threads | 4 threads |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for architecture, n_layers in cases:
            times = [milliseconds_per_step(trainee(architecture, n_layers, runs, folder), n) for runs in (1, 3, 12)]
            rates = [threaded_rate([trainee(architecture, n_layers, 1, folder) for _ in range(k)], n)
                     for k in (1, 2, 4)]
            print(f"| {architecture}-{n_layers} | " + " | ".join(f"{t:.2f}" for t in times) + " | "
                  + " | ".join(f"{r:,.0f} ({r / rates[0]:.2f}x)" for r in rates) + " |")


if __name__ == "__main__":
    main()
