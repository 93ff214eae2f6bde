"""Training with the paper's recipe, resuming exactly where a run stopped.

The recipe (:class:`lit_rnn.runs.Recipe`): uniform initialisation in [-0.08, 0.08], RMSProp
(lr 2e-3, decay 0.95), batches of 100 rows × 100 steps with each row's state carried from batch
to batch, element-wise gradient clipping at 5, learning rate × 0.95 after every epoch from epoch
10 on, and early stopping on validation loss.

``checkpoint.pt`` holds all that training needs to continue (weights, optimiser, progress,
carried state, random generators), so a killed run resumes and ends bit-identical on CPU.

The recipe's loop is written once, :func:`train_loop`: step, log, snapshot, validate, checkpoint
until the recipe ends, then write the results. What it trains is a :class:`Trainee`: one run
(:class:`Single`, which :func:`train` builds) or a pack of runs trained as one computation
(:class:`lit_rnn.packed.Packed`); each keeps its runs as :class:`Member` s, saved by the same
functions. With ``TrainOptions.deadline`` the loop checkpoints every run when the time comes and
returns, leaving them unfinished (no ``result.json``) and resumable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from lit_rnn.atomic import append_jsonl, atomic_save_torch, atomic_write_text
from lit_rnn.data import Batcher, Corpus
from lit_rnn.devices import autocast, describe, scaled_backward, training_precision
from lit_rnn.errors import UserError
from lit_rnn.evaluate import split_loss
from lit_rnn.models import Model, build_model, detach, init_normal, init_uniform, load_checkpoint, weights
from lit_rnn.runs import Recipe, Run, RunConfig, RunResult


@dataclass(frozen=True)
class TrainOptions:
    """How a run is executed, which does not change its result (so is not hashed)."""

    device: torch.device = torch.device("cpu")
    precision: str = "fp32"  # resolved: fp32, tf32 or bf16 (lit_rnn.devices.resolve_precision)
    checkpoint_every: int = 200  # steps between resumable checkpoints
    snapshot_steps: tuple[int, ...] = ()  # steps whose weights are kept (training dynamics)
    progress: bool = True
    log_every: int = 50  # steps between host syncs for the progress bar and divergence check
    deadline: float | None = None  # a time.monotonic() time: then training checkpoints every run and returns
    cuda_graphs: bool = False  # a pack's step captured once as a CUDA graph and replayed (lit_rnn.packed.GraphedStep)
    on_step: Callable[[str, int], None] | None = None  # told (run id, step) at each progress line: the bar of a
    # process that follows trainings in others (lit_rnn.grid.train_runs with jobs sets its own)


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


def state_tensors(state) -> list[torch.Tensor]:
    """A carried state's tensors: ``h``, or the LSTM's ``h`` and ``c``."""
    return list(state) if isinstance(state, tuple) else [state]


def check_corpus(config: RunConfig, corpus: Corpus) -> None:
    if corpus.sha256 != config.corpus_sha256:
        raise UserError(f"run {config.run_id} is for corpus sha256 {config.corpus_sha256[:12]}…, not {corpus.name}")
    if config.model.vocab_size != corpus.vocab_size:
        raise UserError(f"model vocabulary {config.model.vocab_size} does not match corpus {corpus.name!r} "
                        f"({corpus.vocab_size})")


_SEEDING = threading.RLock()  # the global generators: seeded for one run at a time


def initialise(config: RunConfig, device: torch.device) -> tuple[Model, torch.optim.Optimizer]:
    """The seeded, initialised model on ``device`` and its optimiser (the paper's: uniform and RMSProp)."""
    recipe = config.recipe
    with _SEEDING:
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


def rmsprop(parameters, recipe: Recipe, device: torch.device | None = None) -> torch.optim.RMSprop:
    """The recipe's optimiser over ``parameters``, at the recipe's initial learning rate; with ``device``, one a CUDA
    graph can capture (its learning rate and step count tensors there, set in place)."""
    if device is None:
        return torch.optim.RMSprop(parameters, lr=recipe.learning_rate, alpha=recipe.rmsprop_decay,
                                   eps=recipe.rmsprop_eps)
    return torch.optim.RMSprop(parameters, lr=torch.tensor(recipe.learning_rate, device=device),
                               alpha=recipe.rmsprop_decay, eps=recipe.rmsprop_eps, capturable=True, foreach=True)


def set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
    """Every parameter group's learning rate, in place where it is a tensor (a captured graph reads it there)."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(learning_rate)
        else:
            group["lr"] = learning_rate


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
        "state": [s.cpu() for s in state_tensors(state)],
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
    scaled_backward(loss, model.parameters(), options.precision)
    nn.utils.clip_grad_value_(model.parameters(), recipe.grad_clip)
    optimizer.step()
    return loss.detach(), detach(state)


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


def train(config: RunConfig, corpus: Corpus, options: TrainOptions, artifacts: str | Path,
          on_eval: Callable[[dict], None] | None = None) -> Run:
    """Train (or resume) ``config`` on ``corpus``; returns its :class:`Run`: finished, or, when
    ``options.deadline`` came first, checkpointed and unfinished (no result yet; a rerun resumes it)."""
    check_corpus(config, corpus)
    run = Run(config, artifacts)
    if run.is_finished:
        return run
    member = prepare(run, options.device)
    train_loop(Single(member, options), config.batcher(corpus), options, on_eval)
    return run


class Trainee(Protocol):
    """What the recipe's loop trains: one run (:class:`Single`) or a pack of runs (:class:`lit_rnn.packed.Packed`)
    whose members stand at the same step and step together."""

    members: list[Member]  # the runs still training
    options: TrainOptions
    label: str  # the progress bar's

    def new_epoch(self) -> None:
        """Rows start afresh (zero state)."""

    def set_learning_rate(self, learning_rate: float) -> None:
        """The learning rate of the next step."""

    def step(self, batch: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
        """One optimisation step of every member on ``batch``; their losses, left on the device."""

    def val_losses(self, batcher: Batcher) -> list[float]:
        """Every member's validation loss."""

    def sync(self) -> None:
        """Write what training holds (weights, optimiser state, carried state) into the members' own, to save them."""

    def drop(self, keep: list[bool]) -> None:
        """Go on with the members ``keep`` marks."""

    def diverged(self, losses: list[tuple[str, float]], step: int) -> TrainingDiverged:
        """The error for members whose training loss became non-finite near ``step``."""

    def provenance(self) -> dict:
        """Facts about the training that a member's provenance keeps."""


@dataclass
class Member:
    """A run in training, with what the loop keeps for it: its own model and optimiser (which checkpoints, best
    weights and snapshots are written from), random generators, progress and carried state."""

    run: Run
    model: Model
    optimizer: torch.optim.Optimizer
    generators: dict[str, torch.Generator]
    progress: Progress
    state: object
    session_start: float = 0.0  # time.time() minus the training time of earlier sessions


def prepare(run: Run, device: torch.device, own_generators: bool = False) -> Member:
    """``run`` initialised by its seed, or resumed from its checkpoint. Its generators are PyTorch's defaults, or
    with ``own_generators`` copies of them, where training left them (each run of a pack draws from its own)."""
    run.write_config()
    with _SEEDING:  # threads may prepare runs together: a run's copies are taken before another run seeds
        model, optimizer = initialise(run.config, device)
        generators = default_generators(device)
        if own_generators:
            generators = {name: _copy(generator) for name, generator in generators.items()}
    progress, state = Progress(), model.initial_state(run.config.recipe.batch_size, device)
    if run.checkpoint_path.exists():
        progress, state = restore(run, model, optimizer, generators, device)
    return Member(run, model, optimizer, generators, progress, state)


def _copy(generator: torch.Generator) -> torch.Generator:
    copy = torch.Generator(generator.device)
    copy.set_state(generator.get_state())
    return copy


class Single:
    """One run as the loop trains it: its member's own model, optimiser and carried state."""

    def __init__(self, member: Member, options: TrainOptions):
        self.members, self.options, self.label = [member], options, member.run.config.model.name

    def new_epoch(self) -> None:
        member = self.members[0]
        member.state = member.model.initial_state(member.run.config.recipe.batch_size, self.options.device)

    def set_learning_rate(self, learning_rate: float) -> None:
        set_learning_rate(self.members[0].optimizer, learning_rate)

    def step(self, batch: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
        member = self.members[0]
        loss, member.state = train_step(member.model, member.optimizer, batch, member.state, member.run.config.recipe,
                                        self.options)
        return loss

    def val_losses(self, batcher: Batcher) -> list[float]:
        return [split_loss(self.members[0].model, batcher, "val", self.options.device)]

    def sync(self) -> None:
        pass  # the member's own model, optimiser and state are what trains

    def drop(self, keep: list[bool]) -> None:
        self.members = [m for m, kept in zip(self.members, keep) if kept]

    def diverged(self, losses: list[tuple[str, float]], step: int) -> TrainingDiverged:
        (name, loss), = losses
        return TrainingDiverged(f"{name}: training loss became {loss} near step {step}; the last good checkpoint is "
                                f"kept in {self.members[0].run.dir} (try a lower learning rate or more clipping)")

    def provenance(self) -> dict:
        return {}


@dataclass
class Tally:
    """Training losses per member, summed on the device (no per-step host sync): since the last validation
    (``running``) and since the last progress line (``window``)."""

    running: torch.Tensor
    window: torch.Tensor
    window_steps: int = 0
    window_start: float = dataclasses.field(default_factory=time.time)

    def add(self, losses: torch.Tensor) -> None:
        self.running += losses
        self.window += losses
        self.window_steps += 1

    def keep(self, keep: list[bool]) -> None:
        kept = torch.tensor(keep, device=self.running.device)
        self.running, self.window = self.running[kept], self.window[kept]


def past(deadline: float | None) -> bool:
    """Whether the ``time.monotonic()`` deadline (if any) has come."""
    return deadline is not None and time.monotonic() >= deadline


def train_loop(trainee: Trainee, batcher: Batcher, options: TrainOptions,
               on_eval: Callable[[dict], None] | None = None) -> bool:
    """The recipe's epoch loop, for one run or a pack: step, log, snapshot, validate (members that stop early
    finish and leave), checkpoint; True when every member finished, False when the deadline came first (every
    member checkpointed, unfinished)."""
    members = trainee.members
    recipe = members[0].run.config.recipe
    steps, step = total_steps(recipe, batcher.n_train), members[0].progress.step
    running = torch.tensor([m.progress.loss_sum for m in members], device=options.device)
    tally = Tally(running, torch.zeros_like(running))
    for member in members:
        member.session_start = time.time() - member.progress.wall_s
    with (tqdm(total=steps, initial=step, disable=not options.progress, unit="step", desc=trainee.label,
               dynamic_ncols=True) as bar, training_precision(options.precision),
          deferred_interrupt() as interrupted):
        while trainee.members and step < steps:
            if past(options.deadline):
                _save(trainee, tally)
                return False
            batch_index = step % batcher.n_train
            if batch_index == 0:  # rows start afresh each epoch
                trainee.new_epoch()
            trainee.set_learning_rate(step_learning_rate(recipe, step, steps, batcher.n_train))
            tally.add(trainee.step(batcher.batch(batch_index)))
            step += 1
            for member in trainee.members:
                member.progress.step += 1
                member.progress.loss_steps += 1
            bar.update(1)

            if step % options.log_every == 0 or step == steps:  # one host sync per log window
                _log(trainee, tally, bar, step, batcher)
                if options.on_step is not None:
                    for member in trainee.members:
                        options.on_step(member.run.config.run_id, step)
            if step in options.snapshot_steps:
                _snapshot(trainee, step)
            if evaluates_at(step, steps, recipe, batcher.n_train):
                _validate(trainee, tally, batcher, on_eval)
            for member in trainee.members:
                member.progress.wall_s = time.time() - member.session_start
            if trainee.members and (step % options.checkpoint_every == 0 or interrupted()):
                _save(trainee, tally)
            if interrupted():
                raise KeyboardInterrupt
    trainee.sync()
    _finish(trainee, trainee.members, tally.running.tolist(), stopped_early=False, n_train=batcher.n_train)
    return True


def _log(trainee: Trainee, tally: Tally, bar: tqdm, step: int, batcher: Batcher) -> None:
    """Stop on a non-finite training loss, else show the mean loss and speed since the last log."""
    means = (tally.window / tally.window_steps).tolist()
    diverged = [(m.run.name, mean) for m, mean in zip(trainee.members, means) if not math.isfinite(mean)]
    if diverged:
        raise trainee.diverged(diverged, step)
    rate = len(means) * tally.window_steps * batcher.bytes_per_batch / max(time.time() - tally.window_start, 1e-9)
    loss = f"{means[0]:.3f}" if len(means) == 1 else f"{min(means):.3f}-{max(means):.3f}"
    bar.set_postfix(loss=loss, bytes_per_s=f"{rate:,.0f}")
    tally.window.zero_()
    tally.window_steps, tally.window_start = 0, time.time()


def _snapshot(trainee: Trainee, step: int) -> None:
    """Keep every member's weights at ``step`` (training dynamics)."""
    trainee.sync()
    for member in trainee.members:
        member.run.snapshot_path(step).parent.mkdir(parents=True, exist_ok=True)
        atomic_save_torch(weights(member.model), member.run.snapshot_path(step))


def _validate(trainee: Trainee, tally: Tally, batcher: Batcher, on_eval: Callable[[dict], None] | None) -> None:
    """Every member's validation loss recorded; the members out of patience finish (stopped early) and leave."""
    losses = trainee.val_losses(batcher)
    trainee.sync()
    for member, loss_sum, loss in zip(trainee.members, tally.running.tolist(), losses):
        member.progress.loss_sum = loss_sum
        record = record_validation(member.run, member.model, batcher, member.progress, loss)
        if on_eval is not None:
            on_eval(record)
    tally.running.zero_()
    stopped = [m.progress.bad_evals >= m.run.config.recipe.patience for m in trainee.members]
    if any(stopped):  # they finish; the others go on
        finished = list(itertools.compress(trainee.members, stopped))
        _finish(trainee, finished, [0.0] * len(finished), stopped_early=True, n_train=batcher.n_train)
        keep = [not s for s in stopped]
        tally.keep(keep)
        trainee.drop(keep)


def _save(trainee: Trainee, tally: Tally) -> None:
    """Every member's checkpoint, where training stands."""
    trainee.sync()
    for member, loss_sum in zip(trainee.members, tally.running.tolist()):
        member.progress.loss_sum = loss_sum
        save_checkpoint(member.run, member.model, member.optimizer, member.progress, member.state, member.generators)


def _finish(trainee: Trainee, members: list[Member], loss_sums: list[float], *, stopped_early: bool,
            n_train: int) -> None:
    """``members`` finished: their last checkpoints, provenance and results."""
    provenance = trainee.provenance()
    for member, loss_sum in zip(members, loss_sums):
        member.progress.loss_sum, member.progress.wall_s = loss_sum, time.time() - member.session_start
        finish(member.run, member.model, member.optimizer, member.progress, member.state, member.generators,
               trainee.options, stopped_early=stopped_early, n_train=n_train, **provenance)


_INTERRUPTED = threading.Event()  # Ctrl-C came while the main thread deferred it; every thread's loop reads it


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C into a flag checked between steps, so a checkpoint is never taken mid-step: set by the main
    thread's handler, read by every training thread (:func:`lit_rnn.packed.train_streams`). A Ctrl-C that no step
    saw (it came after the last one, while the run finished) is raised on leaving, not lost."""
    if threading.current_thread() is not threading.main_thread():
        yield _INTERRUPTED.is_set
        return

    def handler(signum, frame):
        _INTERRUPTED.set()

    _INTERRUPTED.clear()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield _INTERRUPTED.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
        pending = _INTERRUPTED.is_set()
        _INTERRUPTED.clear()
    if pending:
        raise KeyboardInterrupt


def get_or_train(config: RunConfig, corpus: Corpus, options: TrainOptions, artifacts: str | Path) -> Run:
    """The finished run for ``config``: from the store if it is there, else trained (or resumed)."""
    run = Run(config, artifacts)
    return run if run.is_finished else train(config, corpus, options, artifacts)
