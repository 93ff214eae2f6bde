"""Aggregate training throughput of packed runs against concurrent single-run processes, side by side, and
the projected wall time of the paper's grid and of the core set.

    .venv/bin/python bench/grid_throughput.py --device cuda    # a GPU: the paper's shapes (minutes)
    .venv/bin/python bench/grid_throughput.py                  # a CPU: small shapes, to see it work
    .venv/bin/python bench/grid_throughput.py --processes 1 --threads 1   # a busy CPU: one core each way

The models are the parameter-matched grid (3 architectures x 3 depths x 4 budgets) on War and Peace's
87-byte vocabulary, each at dropout 0, 0.25 and 0.5, trained on batches of 100 x 100 (the paper's
shapes; ``--sizes``, ``--batch-size`` and ``--seq-length`` shrink them for a CPU). The text is random
bytes with that vocabulary and War and Peace's length: speed does not depend on what the bytes say.

Measured, one after another on the same device, per group of runs (a pack):

- alone: the single-run trainer's step (``lit_rnn.train.train_step``) on the group's widest run;
- per-process: the group's runs in ``--processes`` concurrent processes, one run each, started together,
  each running ``train_step``: aggregate run-steps/s, and one validation pass each, also concurrent;
- packed: the packed trainer's step (``lit_rnn.packed.pack_step``) on the group's pack, and one packed
  validation pass; packs are formed two ways: per architecture and depth (12 runs, the trainer's
  default) and per model (its 3 dropouts), to weigh the block-diagonal pack's wasted arithmetic
  (zero blocks) against fewer, wider steps.

Projection: per corpus, the recipe's steps (13,000 on War and Peace, 24,800 on Linux) and its
validations (every 1,000 steps and at each epoch's end, a validation pass scaled to the corpus's
validation split), with no early stopping (so an upper bound); packs one after another (``--jobs 1``),
single runs ``--processes`` at a time. The core set, per corpus: the 3-layer LSTM of the largest
budget at dropout 0.25 and 0.5, the 3-layer LSTM of the smallest budget, the 3-layer GRU and RNN of
the largest budget, and the n-NN for n = 1..9 and 20 (the bench trains these at dropout 0).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lit_rnn.data import KNOWN_CORPORA, Corpus
from lit_rnn.devices import describe, resolve_device, resolve_precision, training_precision
from lit_rnn.evaluate import split_loss, split_losses
from lit_rnn.models import REFERENCE_LSTM_SIZES, ModelConfig, nnn_config
from lit_rnn.packed import assemble, pack_groups, pack_step, prepare_member
from lit_rnn.presets import GridEntry, Preset, full_grid
from lit_rnn.runs import Recipe, RunConfig
from lit_rnn.train import TrainOptions, evaluates_at, initialise, total_steps, train_step

VOCAB = 87  # War and Peace's distinct bytes
DROPOUTS = (0.0, 0.25, 0.5)
PAPER_RECIPE = Recipe()  # the paper's: batch 100 x 100, 50 epochs, validation every 1,000 steps


def synthetic_text(n_bytes: int, seed: int = 0) -> Corpus:
    """Random bytes with War and Peace's vocabulary size."""
    data = (np.random.default_rng(seed).integers(0, VOCAB, n_bytes) + 32).astype(np.uint8)
    return Corpus("synthetic", Path("synthetic"), data)


@functools.cache
def schedule(corpus: str) -> tuple[int, int, int]:
    """The paper's recipe on ``corpus``: steps, validations (without early stopping) and validation bytes."""
    batcher = PAPER_RECIPE.batcher(Corpus(corpus, Path(corpus), np.zeros(KNOWN_CORPORA[corpus].n_bytes, np.uint8)))
    steps = total_steps(PAPER_RECIPE, batcher.n_train)
    evaluations = sum(evaluates_at(s, steps, PAPER_RECIPE, batcher.n_train) for s in range(1, steps + 1))
    return steps, evaluations, batcher.split_bytes("val")


def grid_configs(text: Corpus, recipe: Recipe, sizes: tuple[int, ...]) -> list[RunConfig]:
    """The paper's grid at its three dropouts."""
    return Preset("bench", recipe, full_grid(), dropouts=DROPOUTS, reference_sizes=sizes).run_configs(text)


def core_configs(text: Corpus, recipe: Recipe, sizes: tuple[int, ...]) -> list[RunConfig]:
    """The core set: the models the book's chapters analyse."""
    preset = Preset("bench", recipe, (), reference_sizes=sizes)

    def deep(architecture: str, size: int, dropout: float = 0.0) -> ModelConfig:
        hidden = preset.hidden_size(GridEntry(architecture, 3, size), VOCAB)
        return ModelConfig(architecture, 3, hidden, VOCAB, dropout)

    largest = len(sizes) - 1
    models = [deep("lstm", largest, 0.25), deep("lstm", largest, 0.5), deep("lstm", 0), deep("gru", largest),
              deep("rnn", largest), *(nnn_config(n, VOCAB) for n in (*range(1, 10), 20))]
    return [RunConfig(text.sha256, model, recipe) for model in models]


def per_model_packs(group: list[RunConfig]) -> list[list[RunConfig]]:
    """``group`` cut into packs of one model each (its dropouts)."""
    packs: dict[ModelConfig, list[RunConfig]] = {}
    for config in group:
        packs.setdefault(dataclasses.replace(config.model, dropout=0.0), []).append(config)
    return list(packs.values())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_steps(step, batcher, device: torch.device, steps: int, warmup: int) -> float:
    """Seconds per call of ``step(batch)`` after ``warmup`` calls, the device synchronised around."""
    for index in range(warmup):
        step(batcher.batch(index % batcher.n_train))
    _sync(device)
    start = time.perf_counter()
    for index in range(steps):
        step(batcher.batch(index % batcher.n_train))
    _sync(device)
    return (time.perf_counter() - start) / steps


def _timed(call, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    call()
    _sync(device)
    return time.perf_counter() - start


def measure_alone(config: RunConfig, text: Corpus, options: TrainOptions, steps: int, warmup: int):
    """Seconds per step and per validation pass of ``config`` trained alone by the single-run trainer."""
    model, optimizer = initialise(config, options.device)
    batcher = config.batcher(text)
    carried = {"state": model.initial_state(config.recipe.batch_size, options.device)}

    def step(batch):
        _, carried["state"] = train_step(model, optimizer, batch, carried["state"], config.recipe, options)

    with training_precision(options.precision):
        seconds = _timed_steps(step, batcher, options.device, steps, warmup)
    return seconds, _timed(lambda: split_loss(model, batcher, "val", options.device), options.device)


def measure_pack(group: list[RunConfig], text: Corpus, options: TrainOptions, steps: int, warmup: int):
    """Seconds per step and per validation pass of ``group`` trained as the packed trainer trains it (a group of
    one, such as an n-NN, is trained alone)."""
    if len(group) == 1:
        return measure_alone(group[0], text, options, steps, warmup)
    recipe, device = group[0].recipe, options.device
    with tempfile.TemporaryDirectory() as folder:
        members = [prepare_member(config, folder, device) for config in group]
    pack, optimizer = assemble(members, recipe, device)
    batcher = recipe.batcher(text)
    carried = {"state": pack.join_state([m.state for m in members])}

    def step(batch):
        _, carried["state"] = pack_step(pack, optimizer, batch, carried["state"], recipe, options)

    with training_precision(options.precision):
        seconds = _timed_steps(step, batcher, device, steps, warmup)
    return seconds, _timed(lambda: split_losses(pack, batcher, "val", device), device)


# -- Concurrent single-run processes --------------------------------------------------------------------------

_BARRIER = None


def _worker_start(barrier, threads: int) -> None:
    global _BARRIER
    _BARRIER = barrier
    torch.set_num_threads(threads)


def _concurrent_run(config: RunConfig, text: Corpus, options: TrainOptions, steps: int, warmup: int):
    """In a worker: ``config`` trained alone, its timed steps and validation started with the other workers'."""
    model, optimizer = initialise(config, options.device)
    batcher = config.batcher(text)
    state = model.initial_state(config.recipe.batch_size, options.device)
    with training_precision(options.precision):
        for index in range(warmup):
            _, state = train_step(model, optimizer, batcher.batch(index), state, config.recipe, options)
        _sync(options.device)
        _BARRIER.wait()
        start = time.time()
        for index in range(steps):
            _, state = train_step(model, optimizer, batcher.batch(index % batcher.n_train), state, config.recipe,
                                  options)
        _sync(options.device)
        end = time.time()
    _BARRIER.wait()
    return start, end, _timed(lambda: split_loss(model, batcher, "val", options.device), options.device)


def measure_processes(configs: list[RunConfig], text: Corpus, options: TrainOptions, steps: int, warmup: int,
                      processes: int, threads: int) -> dict[RunConfig, tuple[float, float]]:
    """Per run, seconds per step and per validation pass while ``processes`` runs train at once (runs in order,
    ``processes`` at a time; the last round is filled up with runs measured again)."""
    context = multiprocessing.get_context("spawn")
    measured = {}
    with context.Pool(processes, _worker_start, (context.Barrier(processes), threads)) as pool:
        for start in range(0, len(configs), processes):
            batch = configs[start : start + processes]
            filled = batch + configs[: processes - len(batch)]
            times = pool.starmap(_concurrent_run, [(c, text, options, steps, warmup) for c in filled], chunksize=1)
            for config, (begin, end, validation) in zip(batch, times):
                measured[config] = ((end - begin) / steps, validation)
    return measured


# -- The report -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Group:
    """One group of runs: per path, seconds per step (of the whole group) and per validation pass."""

    name: str
    runs: int
    width: int
    alone: float  # steps/s of its widest run, alone
    processes: float  # seconds to step every run once, ``n`` processes at a time (per-process path)
    processes_validation: float
    packs: dict[str, tuple[float, float]]  # packing -> (seconds per step of every pack, per validation)


def projected_hours(group: Group, path: str, val_scale: dict[str, float]) -> dict[str, float]:
    """Hours the group takes on each corpus by ``path`` (per-process, or a packing)."""
    step, validation = (group.processes, group.processes_validation) if path == "per-process" else group.packs[path]
    hours = {}
    for corpus in ("warpeace", "linux"):
        steps, evaluations, _ = schedule(corpus)
        hours[corpus] = (steps * step + evaluations * validation * val_scale[corpus]) / 3600
    return hours


def measure_groups(configs: list[RunConfig], text: Corpus, options: TrainOptions, args, packings: dict) -> list[Group]:
    """Every group of ``configs`` (as the packed trainer groups them), measured on every path."""
    concurrent = measure_processes(configs, text, options, args.steps, args.warmup, args.processes, args.workers)
    groups = []
    for group in pack_groups(configs):
        model = group[0].model
        widest = max(group, key=lambda c: c.model.hidden_size)
        alone = measure_alone(widest, text, options, args.steps, args.warmup)
        packs = {}
        for packing, regroup in packings.items():
            timings = [alone if part == [widest] else measure_pack(part, text, options, args.steps, args.warmup)
                       for part in regroup(group)]
            packs[packing] = tuple(sum(t[i] for t in timings) for i in range(2))
        per_run = [concurrent[c] for c in group]
        name = model.name if model.architecture == "nnn" else f"{model.architecture}-{model.n_layers} layers"
        groups.append(Group(name, len(group), sum(c.model.hidden_size for c in group), 1 / alone[0],
                            sum(s for s, _ in per_run) / args.processes, sum(v for _, v in per_run) / args.processes,
                            packs))
        print(f"  measured {name} ({len(group)} runs)", flush=True)
    return groups


def report(title: str, groups: list[Group], packings: list[str], val_scale: dict[str, float]) -> None:
    print(f"\n{title}: aggregate training steps per second (runs x steps / s)")
    columns = ["per-process", *packings]
    print(f"{'group':<16}{'runs':>5}{'width':>7}{'alone':>8}" + "".join(f"{c:>26}" for c in columns)
          + f"{'best packed / per-process':>27}")
    for g in groups:
        rates = [g.runs / g.processes] + [g.runs / g.packs[p][0] for p in packings]
        print(f"{g.name:<16}{g.runs:>5}{g.width:>7}{g.alone:>8.1f}" + "".join(f"{r:>26.1f}" for r in rates)
              + f"{max(rates[1:]) / rates[0]:>26.2f}x")
    print("projected wall time, hours (no early stopping; validation included):")
    for path in columns:
        hours = [projected_hours(g, path, val_scale) for g in groups]
        totals = {c: sum(h[c] for h in hours) for c in ("warpeace", "linux")}
        print(f"  {path:<26} War and Peace {totals['warpeace']:8.2f}   Linux {totals['linux']:8.2f}   "
              f"both {sum(totals.values()):8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="auto", help="as lit-rnn's (auto: bf16 where native)")
    parser.add_argument("--sizes", type=int, nargs=4, default=None,
                        help="the 1-layer LSTM sizes that set the budgets (default: the paper's 64 128 256 512 on a "
                             "GPU, 8 16 32 64 on a CPU)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 100 on a GPU, 20 on a CPU")
    parser.add_argument("--seq-length", type=int, default=None, help="default: 100 on a GPU, 20 on a CPU")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default: 20 GPU, 5 CPU)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--processes", type=int, default=None,
                        help="concurrent single-run processes (default: 12 on a GPU, the CPU cores on a CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of every process (default: all cores for alone and packed, the cores shared "
                             "out among the processes of the per-process path, as lit-rnn grid does)")
    parser.add_argument("--only", choices=["grid", "core"], default=None, help="measure one workload")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    sizes = tuple(args.sizes or (REFERENCE_LSTM_SIZES if gpu else (8, 16, 32, 64)))
    recipe = dataclasses.replace(PAPER_RECIPE, batch_size=args.batch_size or (100 if gpu else 20),
                                 seq_length=args.seq_length or (100 if gpu else 20))
    args.steps = args.steps or (20 if gpu else 5)
    args.processes = args.processes or (12 if gpu else os.cpu_count() or 1)
    options = TrainOptions(device=device, precision=resolve_precision(args.precision, device), progress=False)
    text_bytes = KNOWN_CORPORA["warpeace"].n_bytes if gpu else 200_000
    text = synthetic_text(text_bytes)
    measured_val = recipe.batcher(text).split_bytes("val")
    val_scale = {corpus: schedule(corpus)[2] / measured_val for corpus in ("warpeace", "linux")}
    paper = sizes == REFERENCE_LSTM_SIZES and (recipe.batch_size, recipe.seq_length) == (100, 100)

    print(f"device      {describe(device)}, torch {torch.__version__}, precision {options.precision}")
    print(f"shapes      budgets of 1-layer LSTMs {sizes}, batch {recipe.batch_size}x{recipe.seq_length}"
          + ("  (the paper's)" if paper else "  (NOT the paper's: the projection only shows the arithmetic)"))
    args.workers = 1 if gpu else args.threads or max(1, (os.cpu_count() or 1) // args.processes)  # as lit-rnn grid
    print(f"measured    {args.steps} steps after {args.warmup} warm-up per measurement; per-process: "
          f"{args.processes} processes at a time" + (f", {args.workers} threads each; alone and packed: "
                                                     f"{torch.get_num_threads()} threads" if not gpu else ""))
    for corpus in ("warpeace", "linux"):
        steps, evaluations, _ = schedule(corpus)
        print(f"schedule    {corpus}: {steps:,} steps, {evaluations} validations")
    whole = {"packed, per arch x depth": lambda group: [group]}
    per_model = {"packed, per model": per_model_packs}
    if args.only in (None, "grid"):
        groups = measure_groups(grid_configs(text, recipe, sizes), text, options, args, {**whole, **per_model})
        report("full grid (36 models x 3 dropouts)", groups, [*whole, *per_model], val_scale)
    if args.only in (None, "core"):
        groups = measure_groups(core_configs(text, recipe, sizes), text, options, args, whole)
        report("core set", groups, list(whole), val_scale)


if __name__ == "__main__":
    main()
