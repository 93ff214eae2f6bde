"""Training with the paper's recipe, resuming exactly where a run stopped.

The recipe (:class:`lit_rnn.runs.Recipe`): uniform initialisation in [-0.08, 0.08], RMSProp
(lr 2e-3, decay 0.95), batches of 100 rows × 100 steps with each row's state carried from batch
to batch, element-wise gradient clipping at 5, learning rate × 0.95 after every epoch from epoch
10 on, and early stopping on validation loss.

``checkpoint.pt`` holds all that training needs to continue (weights, optimiser, progress,
carried state, random generators), so a killed run resumes and ends bit-identical on CPU.
:func:`train` reads top to bottom: restore, then step / log / evaluate / checkpoint until the
recipe ends, then write the result. :mod:`lit_rnn.packed` trains many runs as one computation with
the same pieces (``initialise``, ``restore``, ``record_validation``, ``save_checkpoint``, ``finish``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from lit_rnn.data import Batcher, Corpus
from lit_rnn.devices import autocast, describe, training_precision
from lit_rnn.errors import UserError
from lit_rnn.evaluate import split_loss
from lit_rnn.models import Model, build_model, init_normal, init_uniform, load_checkpoint, weights
from lit_rnn.runs import Recipe, Run, RunConfig, RunResult
from lit_rnn.store import append_jsonl, atomic_save_torch, atomic_write_text


@dataclass(frozen=True)
class TrainOptions:
    """How a run is executed, which does not change its result (so is not hashed)."""

    device: torch.device = torch.device("cpu")
    precision: str = "fp32"  # resolved: fp32, tf32 or bf16 (lit_rnn.devices.resolve_precision)
    checkpoint_every: int = 200  # steps between resumable checkpoints
    snapshot_steps: tuple[int, ...] = ()  # steps whose weights are kept (training dynamics)
    progress: bool = True
    log_every: int = 50  # steps between host syncs for the progress bar and divergence check


@dataclass
class Progress:
    """Where training stands, besides weights, optimiser, carried state and random generators."""

    step: int = 0
    best_val: float = math.inf
    best_step: int = 0
    bad_evals: int = 0  # evaluations since the last improvement
    loss_sum: float = 0.0  # training loss summed since the last evaluation
    loss_steps: int = 0
    wall_s: float = 0.0  # training time over every session


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def learning_rate(recipe: Recipe, epoch: int) -> float:
    """Learning rate during (0-based) ``epoch``: × ``lr_decay`` after each epoch from ``lr_decay_after``."""
    return recipe.learning_rate * recipe.lr_decay ** max(0, epoch - recipe.lr_decay_after + 1)


def step_learning_rate(recipe: Recipe, step: int, steps: int, n_train: int) -> float:
    """Learning rate of (0-based) ``step`` of ``steps``: the epoch's (paper), or linear warm-up then cosine decay
    to a tenth (``schedule="cosine"``)."""
    if recipe.schedule == "epochs":
        return learning_rate(recipe, step // n_train)
    if step < recipe.warmup_steps:
        return recipe.learning_rate * (step + 1) / recipe.warmup_steps
    progress = (step - recipe.warmup_steps) / max(1, steps - recipe.warmup_steps)
    return recipe.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress))))


def total_steps(recipe: Recipe, n_train_batches: int) -> int:
    steps = math.ceil(recipe.epochs * n_train_batches)
    return min(steps, recipe.max_steps) if recipe.max_steps is not None else steps


def evaluates_at(step: int, steps: int, recipe: Recipe, n_train: int) -> bool:
    """Whether training validates after ``step``: every ``eval_every`` steps, at each epoch's end and at the last."""
    return step % recipe.eval_every == 0 or step == steps or step % n_train == 0


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def _state_list(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def check_corpus(config: RunConfig, corpus: Corpus) -> None:
    if corpus.sha256 != config.corpus_sha256:
        raise UserError(f"run {config.run_id} is for corpus sha256 {config.corpus_sha256[:12]}…, not {corpus.name}")
    if config.model.vocab_size != corpus.vocab_size:
        raise UserError(f"model vocabulary {config.model.vocab_size} does not match corpus {corpus.name!r} "
                        f"({corpus.vocab_size})")


def initialise(config: RunConfig, device: torch.device) -> tuple[Model, torch.optim.Optimizer]:
    """The seeded, initialised model on ``device`` and its optimiser (the paper's: uniform and RMSProp)."""
    recipe = config.recipe
    torch.manual_seed(config.seed)
    model = build_model(config.model)
    if recipe.initialisation == "normal":
        init_normal(model, 0.02)
    else:
        init_uniform(model, recipe.init_range)
    model.to(device).train()
    return model, rmsprop(model.parameters(), recipe) if recipe.optimizer == "rmsprop" else adamw(model, recipe)


def adamw(model: Model, recipe: Recipe) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.95) with weight decay on the weight matrices, none on biases, norms and embeddings."""
    decayed = [p for name, p in model.named_parameters()
               if p.ndim >= 2 and "embed" not in name and "position" not in name]
    rest = [p for p in model.parameters() if all(p is not q for q in decayed)]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": recipe.weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=recipe.learning_rate, betas=(0.9, 0.95))


def rmsprop(parameters, recipe: Recipe) -> torch.optim.RMSprop:
    """The recipe's optimiser over ``parameters``, at the recipe's initial learning rate."""
    return torch.optim.RMSprop(parameters, lr=recipe.learning_rate, alpha=recipe.rmsprop_decay, eps=recipe.rmsprop_eps)


def default_generators(device: torch.device) -> dict[str, torch.Generator]:
    """PyTorch's default generators, which training draws from, by the name a checkpoint keeps their state under."""
    found = {"rng_cpu": torch.default_generator}
    if device.type == "cuda":
        torch.cuda.init()
        found["rng_cuda"] = torch.cuda.default_generators[device.index if device.index is not None
                                                          else torch.cuda.current_device()]
    return found


def save_checkpoint(run: Run, model: Model, optimizer: torch.optim.Optimizer, progress: Progress, state,
                    generators: dict[str, torch.Generator]) -> None:
    """Everything training needs to continue exactly, written atomically."""
    atomic_save_torch({
        **weights(model),
        "optimizer": optimizer.state_dict(),
        "progress": dataclasses.asdict(progress),
        "state": [s.cpu() for s in _state_list(state)],
        **{name: generator.get_state() for name, generator in generators.items()},
    }, run.checkpoint_path)


def restore(run: Run, model: Model, optimizer: torch.optim.Optimizer, generators: dict[str, torch.Generator],
            device: torch.device) -> tuple[Progress, object]:
    """Load the last checkpoint into ``model``, ``optimizer`` and ``generators``; returns the progress and
    carried state.

    Metrics logged after the checkpoint are dropped: training writes them again.
    """
    checkpoint = load_checkpoint(run.checkpoint_path, map_location=device)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    progress = Progress(**checkpoint["progress"])
    tensors = [s.to(device) for s in checkpoint["state"]]
    state = tuple(tensors) if len(tensors) > 1 else tensors[0]  # (h, c) of an LSTM, (bytes, count) of a Transformer
    for name, generator in generators.items():
        if name in checkpoint:
            generator.set_state(checkpoint[name].cpu())
    kept = [r for r in run.metrics if r["step"] <= progress.step]
    atomic_write_text(run.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))
    return progress, state


def batch_tensors(batch: tuple[np.ndarray, np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's inputs and targets as int64 tensors on ``device``."""
    return tuple(torch.from_numpy(a.astype(np.int64)).to(device, non_blocking=True) for a in batch)


def train_step(model: Model, optimizer: torch.optim.Optimizer, batch: tuple[np.ndarray, np.ndarray], state,
               recipe: Recipe, options: TrainOptions) -> tuple[torch.Tensor, object]:
    """One optimisation step on one batch, state carried in (detached) and out; returns the loss."""
    inputs, targets = batch_tensors(batch, options.device)
    with autocast(options.precision, options.device):
        logits, state = model(inputs, detach(state))
        loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_value_(model.parameters(), recipe.grad_clip)
    optimizer.step()
    return loss.detach(), detach(state)


def validate(run: Run, model: Model, batcher: Batcher, progress: Progress, device: torch.device) -> dict:
    """Validation loss, best weights kept, one metrics line; updates ``progress`` (early-stopping count)."""
    return record_validation(run, model, batcher, progress, split_loss(model, batcher, "val", device))


def record_validation(run: Run, model: Model, batcher: Batcher, progress: Progress, val: float) -> dict:
    """Keep the weights if ``val`` is the best validation loss yet, log one metrics line, count toward early
    stopping (a pack of runs measures all its runs' losses in one pass, then records each)."""
    recipe, step = run.config.recipe, progress.step
    if val < progress.best_val:
        progress.best_val, progress.best_step, progress.bad_evals = val, step, 0
        atomic_save_torch(weights(model), run.best_path)
    else:
        progress.bad_evals += 1
    lr = step_learning_rate(recipe, step - 1, total_steps(recipe, batcher.n_train), batcher.n_train)
    record = {"step": step, "epoch": step / batcher.n_train, "lr": lr,
              "train_loss": progress.loss_sum / progress.loss_steps, "val_loss": val, "time": time.time()}
    append_jsonl(run.metrics_path, record)
    progress.loss_sum, progress.loss_steps = 0.0, 0
    return record


def finish(run: Run, model: Model, optimizer: torch.optim.Optimizer, progress: Progress, state,
           generators: dict[str, torch.Generator], options: TrainOptions, *, stopped_early: bool, n_train: int,
           **provenance) -> None:
    """The last checkpoint, the provenance (how and where it trained, with any ``provenance`` facts) and the
    result: the run is finished."""
    save_checkpoint(run, model, optimizer, progress, state, generators)
    atomic_write_text(run.provenance_path, json.dumps({
        "device": describe(options.device), "precision": options.precision, "torch": torch.__version__,
        "wall_s": round(progress.wall_s, 1), **provenance}, indent=2))
    run.write_result(RunResult(
        best_val_loss=progress.best_val, best_step=progress.best_step, steps=progress.step,
        epochs=progress.step / n_train, stopped_early=stopped_early,
        parameters=sum(p.numel() for p in model.parameters()), precision=options.precision,
    ))


def train(config: RunConfig, corpus: Corpus, options: TrainOptions = TrainOptions(), artifacts=None,
          on_eval: Callable[[dict], None] | None = None) -> Run:
    """Train (or resume) ``config`` on ``corpus``; returns the finished :class:`Run`."""
    check_corpus(config, corpus)
    run = Run(config, artifacts)
    if run.is_finished:
        return run
    run.write_config()
    recipe, device = config.recipe, options.device
    batcher = config.batcher(corpus)
    steps = total_steps(recipe, batcher.n_train)
    model, optimizer = initialise(config, device)
    generators = default_generators(device)
    progress, state = Progress(), model.initial_state(recipe.batch_size, device)
    if run.checkpoint_path.exists():
        progress, state = restore(run, model, optimizer, generators, device)

    running = torch.tensor(progress.loss_sum, device=device)  # summed on the device: no per-step sync
    window, window_steps, window_start = torch.zeros((), device=device), 0, time.time()
    session_start, stopped_early = time.time() - progress.wall_s, False
    bar = tqdm(total=steps, initial=progress.step, disable=not options.progress, unit="step", desc=config.model.name,
               dynamic_ncols=True)
    with training_precision(options.precision), deferred_interrupt() as interrupted:
        while progress.step < steps:
            batch_index = progress.step % batcher.n_train
            if batch_index == 0:  # rows start afresh each epoch
                state = model.initial_state(recipe.batch_size, device)
            for group in optimizer.param_groups:
                group["lr"] = step_learning_rate(recipe, progress.step, steps, batcher.n_train)
            loss, state = train_step(model, optimizer, batcher.batch(batch_index), state, recipe, options)
            running += loss
            window += loss
            progress.step += 1
            progress.loss_steps += 1
            window_steps += 1
            step = progress.step
            bar.update(1)

            if step % options.log_every == 0 or step == steps:  # one host sync per log window
                mean = float(window) / window_steps
                if not math.isfinite(mean):
                    raise TrainingDiverged(
                        f"{config.model.name}: training loss became {mean} near step {step}; the last good "
                        f"checkpoint is kept in {run.dir} (try a lower learning rate or more clipping)")
                rate = window_steps * batcher.bytes_per_batch / max(time.time() - window_start, 1e-9)
                bar.set_postfix(loss=f"{mean:.3f}", bytes_per_s=f"{rate:,.0f}")
                window.zero_()
                window_steps, window_start = 0, time.time()
            if step in options.snapshot_steps:
                run.snapshot_path(step).parent.mkdir(parents=True, exist_ok=True)
                atomic_save_torch(weights(model), run.snapshot_path(step))
            if evaluates_at(step, steps, recipe, batcher.n_train):
                progress.loss_sum = float(running)
                running.zero_()
                record = validate(run, model, batcher, progress, device)
                if on_eval is not None:
                    on_eval(record)
                stopped_early = progress.bad_evals >= recipe.patience
                if stopped_early:
                    break
            progress.wall_s = time.time() - session_start
            if step % options.checkpoint_every == 0 or interrupted():
                progress.loss_sum = float(running)
                save_checkpoint(run, model, optimizer, progress, state, generators)
            if interrupted():
                bar.close()
                raise KeyboardInterrupt
    bar.close()
    progress.loss_sum, progress.wall_s = float(running), time.time() - session_start
    finish(run, model, optimizer, progress, state, generators, options, stopped_early=stopped_early,
           n_train=batcher.n_train)
    return run


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C into a flag checked between steps, so a checkpoint is never taken mid-step."""
    flag = {"set": False}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        flag["set"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: flag["set"]
    finally:
        signal.signal(signal.SIGINT, previous)


def get_or_train(config: RunConfig, corpus: Corpus, options: TrainOptions = TrainOptions(), artifacts=None) -> Run:
    """The finished run for ``config``: from the store if it is there, else trained (or resumed)."""
    run = Run(config, artifacts)
    return run if run.is_finished else train(config, corpus, options, artifacts)
