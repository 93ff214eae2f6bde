"""Short checks of a training device: do the written-out equations follow its fused kernels, and how fast does it
train a pack of runs against the same runs trained in separate processes, side by side.

- :func:`trace_agreement`: per architecture and depth, one step of the written-out equations
  (:data:`lit_rnn.models.STEPS`) from the fused kernel's own state, and a 300-step trace
  (:meth:`lit_rnn.models.CharLM.trace`) free-running beside it, on ``device`` in fp32 with TF32 off.
  cuDNN sums in another order than oneDNN: over 300 free-running steps the largest |Δh| seen on an H200
  was 1.4e-4 (3-layer RNN), so the GPU bound is 1e-3; one step must agree to 1e-5 everywhere.
- :func:`time_training`: seconds per step and per validation pass of a group of runs trained as the
  window trains it (a pack, or a run alone), on fresh weights.
- :func:`per_run_rate`: the aggregate run-steps/s of the same runs, each trained alone in its own
  process, all started together (the per-run path, ``lit-rnn grid --trainer per-run --jobs N``).
- :func:`streams_rate`: the aggregate run-steps/s of the same runs in smaller packs (one model's dropouts, or
  each run alone), all trained at once in this process, each on its own thread and CUDA stream
  (:func:`lit_rnn.packed.train_streams`, ``lit-rnn grid --pack-by model --streams N``).

- :func:`autocast_rnn_dtypes`: the dtype each architecture's fused recurrent layer computes in under bf16 autocast.
- :func:`graph_check`: whether a pack's step captured as a CUDA graph (:class:`lit_rnn.packed.GraphedStep`)
  trains as its eager step does (in fp32 with TF32 off, and at the training precision on the paper's batch shape
  in a thread on its own stream, every architecture), and whether its replays draw new dropout masks; in a process
  of its own, stopped after a timeout, so that a capture that fails cannot leave this one's CUDA state broken.

``bench/gpu_check.py``, ``bench/grid_throughput.py`` and ``lit-rnn gpu-window`` (:mod:`lit_rnn.window`)
call these.
"""

from __future__ import annotations

import math
import multiprocessing
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from lit_rnn.data import Batcher, Corpus
from lit_rnn.devices import autocast, exact_fp32, training_precision
from lit_rnn.errors import one_line
from lit_rnn.models import RECURRENT, STEPS, CharLM, ModelConfig, init_uniform
from lit_rnn.packed import WARMUP_STEPS, Packed, own_stream, pack_groups, prepare_member
from lit_rnn.runs import Recipe, Run, RunConfig
from lit_rnn.train import Single, Trainee, TrainOptions, evaluates_at, prepare, state_tensors, total_steps

ONE_STEP_ATOL = 1e-5
FREE_RUNNING_ATOL = {"cpu": 1e-5, "cuda": 1e-3}
GRAPH_ATOL = 1e-4  # a captured step against the eager one in fp32: losses and all a step leaves, over GRAPH_STEPS
GRAPH_LOOSE = 0.05  # nats/byte: the same at the training precision and the paper's batch shape (rounding, not logic)
GRAPH_STEPS = 8  # WARMUP_STEPS eager, then the capture and replays; a new epoch (state zeroed in place) midway
PER_RUN_TIMEOUT_S = 120.0  # the per-run probe's limit: its processes start, warm up and time their steps within it
GRAPH_TIMEOUT_S = 120.0  # the whole check, in its own process (on an H200 it should take well under a minute)


def strong_model(architecture: str, n_layers: int, device: torch.device | str) -> CharLM:
    """Strong inputs so that gates really move; a contracting recurrence keeps 300 steps free of chaos."""
    torch.manual_seed(0)
    model = CharLM(ModelConfig(architecture, n_layers, 48, 60)).to(device).eval()
    init_uniform(model, 0.08)
    for name, parameter in model.rnn.named_parameters():
        if "weight_hh" not in name:
            parameter.data.mul_(20)
    return model


def _states(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


@torch.no_grad()
def one_step_gap(model: CharLM, ids: torch.Tensor) -> float:
    """Largest |Δ| between the fused kernel's h (and c) at each step and one written-out step from its own state
    at the step before (every layer reading the fused kernel's own output)."""
    lstm = model.config.architecture == "lstm"
    with exact_fp32():
        states = [_states(model.initial_state(ids.shape[0], ids.device))]
        for t in range(ids.shape[1]):  # the fused kernel one step at a time: every layer's state at every t
            _, state = model.rnn(model.one_hot(ids[:, t : t + 1]), tuple(states[-1]) if lstm else states[-1][0])
            states.append(_states(state))
        worst = 0.0
        for t in range(ids.shape[1]):
            layer_input = model.one_hot(ids[:, t])
            for layer in range(model.config.n_layers):
                w_ih, b_ih, w_hh, b_hh = model.layer_weights(layer)
                before = [s[layer] for s in states[t]]
                values = STEPS[model.config.architecture](layer_input @ w_ih.T + b_ih, before[0], before[-1], w_hh,
                                                          b_hh)
                after = [s[layer] for s in states[t + 1]]
                worst = max(worst, *(float((values[name] - fused).abs().max()) for name, fused in zip("hc", after)))
                layer_input = after[0]
    return worst


@torch.no_grad()
def free_running_gap(model: CharLM, ids: torch.Tensor) -> float:
    """Largest difference between the trace and the fused path over the whole window: |Δ| of the last layer's h
    and of the logits, and |Δ| / (1 + |x|) of the final state (cells integrate: they grow large)."""
    with exact_fp32():
        hidden, _ = model.rnn(model.one_hot(ids))
        logits, state = model(ids)
    (traced, traced_logits), traced_state = model.trace(ids)
    gaps = [float((traced[-1]["h"] - hidden).abs().max()), float((traced_logits - logits).abs().max())]
    gaps += [float(((mine - theirs).abs() / (1 + theirs.abs())).max())
             for mine, theirs in zip(_states(traced_state), _states(state))]
    return max(gaps)


def trace_agreement(device: torch.device, n_layers: tuple[int, ...] = (1, 2, 3), length: int = 300) -> list[dict]:
    """Per architecture and depth on ``device``: the one-step and free-running gaps, and whether both are within
    their bounds."""
    rows = []
    for architecture in RECURRENT:
        for n in n_layers:
            model = strong_model(architecture, n, device)  # seeds the generators the ids are drawn from
            one = one_step_gap(model, torch.randint(0, 60, (3, 40), device=device))
            model = strong_model(architecture, n, device)
            free = free_running_gap(model, torch.randint(0, 60, (3, length), device=device))
            rows.append({"architecture": architecture, "n_layers": n, "one_step": one, "free_running": free,
                         "passed": one < ONE_STEP_ATOL and free < FREE_RUNNING_ATOL[device.type]})
    return rows


@dataclass(frozen=True)
class Timing:
    """Seconds per optimisation step and per validation pass of a group of runs trained together."""

    step_s: float
    validation_s: float

    def parts(self, configs: list[RunConfig], corpus: Corpus, done: int = 0) -> tuple[float, float]:
        """Projected seconds of steps and of validations to train the group's recipe from step ``done`` to its end,
        without early stopping (an upper bound)."""
        recipe = configs[0].recipe
        n_train = recipe.batcher(corpus).n_train
        steps = total_steps(recipe, n_train)
        validations = sum(evaluates_at(s, steps, recipe, n_train) for s in range(done + 1, steps + 1))
        return (steps - done) * self.step_s, validations * self.validation_s

    def seconds(self, configs: list[RunConfig], corpus: Corpus, done: int = 0) -> float:
        """Projected seconds to train the group's recipe from step ``done`` to its end (validations included)."""
        return sum(self.parts(configs, corpus, done))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(call: Callable[[], object], device: torch.device, repeats: int = 1) -> float:
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def time_training(configs: list[RunConfig], corpus: Corpus, options: TrainOptions, steps: int = 5,
                  warmup: int = 2) -> Timing:
    """Seconds per step (after ``warmup`` steps) and per validation pass of ``configs`` trained as one pack (a
    group of one: the run alone), on fresh weights."""
    with tempfile.TemporaryDirectory() as folder:
        members = [prepare_member(c, folder, options.device) for c in configs]
    trainee = Packed(members, options) if len(members) > 1 else Single(members[0], options)
    batcher = configs[0].batcher(corpus)
    batches = iter(range(10**9))
    with training_precision(options.precision):
        step = lambda: trainee.step(batcher.batch(next(batches) % batcher.n_train))  # noqa: E731
        _seconds(step, options.device, warmup)
        step_s = _seconds(step, options.device, steps)
    return Timing(step_s, _seconds(lambda: trainee.val_losses(batcher), options.device))


_BARRIER = None


def _worker_start(barrier) -> None:
    global _BARRIER
    _BARRIER = barrier
    torch.set_num_threads(1)


def _timed_steps(trainee: Trainee, batcher: Batcher, device: torch.device, steps: int, warmup: int,
                 start_together: Callable[[], object]) -> tuple[float, float]:
    """``steps`` steps of ``trainee`` after ``warmup``, started once ``start_together`` returns (a barrier other
    trainings wait at too); their start and end (``time.time()``, comparable between processes)."""
    for index in range(warmup):
        trainee.step(batcher.batch(index % batcher.n_train))
    _sync_stream(device)
    start_together()
    start = time.time()
    for index in range(steps):
        trainee.step(batcher.batch(index % batcher.n_train))
    _sync_stream(device)
    return start, time.time()


def _timed_alone(config: RunConfig, corpus: Corpus, options: TrainOptions, steps: int,
                 warmup: int) -> tuple[float, float]:
    """In a worker: ``config`` trained alone, its timed steps started with the other workers'; their start and end."""
    try:
        with tempfile.TemporaryDirectory() as folder:
            trainee = Single(prepare(Run(config, folder), options.device), options)
        with training_precision(options.precision):
            return _timed_steps(trainee, config.batcher(corpus), options.device, steps, warmup,
                                lambda: _BARRIER.wait(PER_RUN_TIMEOUT_S))
    except BaseException:
        _BARRIER.abort()  # the other workers stop waiting for this one; the first error is raised below
        raise


def per_run_rate(configs: list[RunConfig], corpus: Corpus, options: TrainOptions, processes: int, steps: int = 20,
                 warmup: int = 2) -> float:
    """Aggregate run-steps/s of ``processes`` runs of ``configs`` (repeated if fewer), each trained alone in its
    own process, all started together."""
    chosen = (configs * math.ceil(processes / len(configs)))[:processes]
    context = multiprocessing.get_context("spawn")
    until = time.monotonic() + PER_RUN_TIMEOUT_S  # a worker that died without a word does not hold the window
    with context.Pool(processes, _worker_start, (context.Barrier(processes),)) as pool:
        work = [pool.apply_async(_timed_alone, (c, corpus, options, steps, warmup)) for c in chosen]
        spans, errors = [], []
        for result in work:
            try:
                spans.append(result.get(max(0.0, until - time.monotonic())))
            except Exception as error:
                errors.append(error)
    if errors:  # the worker's own error, not the others' broken barrier
        raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
    return processes * steps / (max(end for _, end in spans) - min(start for start, _ in spans))


def streams_rate(configs: list[RunConfig], corpus: Corpus, options: TrainOptions, by: str, steps: int = 20,
                 warmup: int = 2) -> float:
    """Aggregate run-steps/s of ``configs`` in the packs of :func:`lit_rnn.packed.pack_groups` (``by``), trained at
    once, each on its own thread and CUDA stream, their timed steps started together."""
    with tempfile.TemporaryDirectory() as folder:
        packs = [_packed(group, folder, options) for group in pack_groups(configs, by)]
    _sync(options.device)  # their weights, made on this thread's stream, are read on the packs' own
    batcher = configs[0].batcher(corpus)
    barrier = threading.Barrier(len(packs))

    def timed(pack: Packed) -> tuple[float, float]:
        try:
            with own_stream(options.device):
                return _timed_steps(pack, batcher, options.device, steps, warmup, barrier.wait)
        except BaseException:
            barrier.abort()  # the others stop waiting; the first error is raised below
            raise

    with training_precision(options.precision), ThreadPoolExecutor(max_workers=len(packs)) as pool:
        futures = [pool.submit(timed, pack) for pack in packs]
    spans = [future.result() for future in futures]
    return len(configs) * steps / (max(end for _, end in spans) - min(start for start, _ in spans))


def _sync_stream(device: torch.device) -> None:
    """Wait for the calling thread's CUDA stream (nothing to wait for on a CPU)."""
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()


def autocast_rnn_dtypes(device: torch.device) -> dict[str, str]:
    """Per architecture, the dtype its fused recurrent layer computes in under this project's bf16 autocast on
    ``device``: what "bf16" means there (autocast decides per operation: on a CPU the GRU stays in fp32, and on an
    NVIDIA GPU PyTorch casts cuDNN's recurrent layers to fp16 whatever the dtype asked for)."""
    dtypes = {}
    for architecture in RECURRENT:
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[architecture](8, 8, batch_first=True, device=device)
        with torch.no_grad(), autocast("bf16", device):
            output, _ = layer(torch.zeros(1, 2, 8, device=device))
        dtypes[architecture] = str(output.dtype).removeprefix("torch.")
    return dtypes


def _packed(configs: list[RunConfig], folder: str, options: TrainOptions) -> Packed:
    """``configs`` as one pack, started (or resumed) in the store ``folder``."""
    return Packed([prepare_member(c, folder, options.device) for c in configs], options)


def _batches(recipe: Recipe, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches of random bytes in the recipe's shape (inputs, targets)."""
    ids = torch.randint(0, 60, (count, recipe.batch_size, recipe.seq_length + 1),
                        generator=torch.Generator().manual_seed(0)).numpy()
    return [(b[:, :-1], b[:, 1:]) for b in ids]


def _trained(configs: list[RunConfig], folder: str, options: TrainOptions,
             batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """A pack of ``configs`` stepped over ``batches`` (a new epoch first and midway, a new learning rate every step,
    so that a graph that froze either fails): its losses by step, and what the steps leave behind, flattened (the
    weights, RMSProp's averages and the carried state)."""
    trainee = _packed(configs, folder, options)
    losses = []
    for index, batch in enumerate(batches):
        if index in (0, len(batches) // 2 + 1):
            trainee.new_epoch()
        trainee.set_learning_rate(2e-3 * 0.8**index)
        losses.append(trainee.step(batch).clone())
    averages = [state["square_avg"] for state in trainee.optimizer.state.values()]
    left = [*trainee.pack.parameters(), *averages, *state_tensors(trainee.state)]
    return torch.stack(losses), torch.cat([t.detach().float().flatten() for t in left])


def _gaps(architecture: str, recipe: Recipe, widths: tuple[int, ...], options: TrainOptions, folder: str) -> tuple:
    """The largest |Δ| of the losses, and of what the steps leave behind, between a 2-layer pack of ``widths``
    trained eagerly and with its step captured."""
    configs = [RunConfig("0" * 64, ModelConfig(architecture, 2, width, 60), recipe, seed=seed)
               for seed, width in enumerate(widths)]
    batches = _batches(recipe, GRAPH_STEPS)
    (eager_losses, eager_left), (losses, left) = (
        _trained(configs, f"{folder}/{architecture}-{graphs}", replace(options, cuda_graphs=graphs), batches)
        for graphs in (False, True))
    return (eager_losses - losses).abs().max().item(), (eager_left - left).abs().max().item()


def _graph_gaps(device: torch.device, precision: str) -> dict:
    """Per architecture: the gaps (:func:`_gaps`) in fp32 with TF32 off on small batches, which must stay within
    :data:`GRAPH_ATOL`; and at the training ``precision`` on the paper's batches of 100 x 100 in a thread on its own
    stream, as packs train, whose losses must stay within :data:`GRAPH_LOOSE`. Then whether, with dropout, replays
    on one batch at learning rate 0 draw new masks (the same masks every replay would be silent, wrong training)."""
    exact = TrainOptions(device=device, precision="fp32", progress=False)
    small = Recipe(batch_size=8, seq_length=16)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        with training_precision("fp32"):
            for architecture in RECURRENT:
                loss_gap, state_gap = _gaps(architecture, small, (24, 40), exact, f"{folder}/exact")
                rows.append({"architecture": architecture, "loss_gap": loss_gap, "state_gap": state_gap})

        def at_scale() -> list[float]:
            with own_stream(device), training_precision(precision):
                return [_gaps(architecture, Recipe(), (64, 512), replace(exact, precision=precision),
                              f"{folder}/scale")[0] for architecture in RECURRENT]

        with ThreadPoolExecutor(1) as pool:
            for row, gap in zip(rows, pool.submit(at_scale).result()):
                row["scale_loss_gap"] = gap
        configs = [RunConfig("0" * 64, ModelConfig("lstm", 2, 32, 60, dropout=0.5), small, seed=seed)
                   for seed in range(2)]
        trainee = _packed(configs, f"{folder}/dropout", replace(exact, cuda_graphs=True))
        batches = _batches(small, WARMUP_STEPS + 2)
        with training_precision("fp32"):
            for batch in batches[:-1]:
                trainee.step(batch)
            trainee.set_learning_rate(0.0)
            replays = []
            for _ in range(3):
                trainee.new_epoch()
                replays.append(trainee.step(batches[-1]).clone())
    masks_change = all(not torch.equal(replays[0], replay) for replay in replays[1:])
    passed = masks_change and all(r["loss_gap"] < GRAPH_ATOL and r["state_gap"] < GRAPH_ATOL
                                  and r["scale_loss_gap"] < GRAPH_LOOSE for r in rows)
    return {"passed": passed, "precision": precision, "architectures": rows, "masks_change": masks_change,
            "error": None}


def _graph_failed(error: str) -> dict:
    return {"passed": False, "architectures": [], "masks_change": False, "error": error}


def _graph_check_worker(device: str, precision: str, connection) -> None:
    """In the check's own process: :func:`_graph_gaps`, or the error met (any failure to capture or replay), sent
    back."""
    try:
        result = _graph_gaps(torch.device(device), precision)
    except Exception as error:
        result = _graph_failed(one_line(error))
    connection.send(result)


def graph_check(device: torch.device, precision: str = "fp32", timeout_s: float = GRAPH_TIMEOUT_S) -> dict:
    """Whether packs may train at ``precision`` with their step captured as a CUDA graph on ``device``
    (``passed``), with the gaps measured (:func:`_graph_gaps`) or the error met; in a process of its own, stopped
    after ``timeout_s``, so that neither a failed capture (which can leave CUDA's state unusable) nor a hung one
    reaches the caller."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_graph_check_worker, args=(str(device), precision, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            return _graph_failed(f"the check took over {timeout_s:g} s and was stopped")
        return receiver.recv()
    except EOFError:
        return _graph_failed(f"the check's process died (exit code {process.exitcode})")
    finally:
        if process.is_alive():
            process.terminate()
        process.join(10)
