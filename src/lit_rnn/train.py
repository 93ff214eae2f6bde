"""Training with the paper's recipe, in a run store that resumes exactly where it stopped.

The recipe (Section 3.3 of the paper, following char-rnn): uniform initialisation in
[-0.08, 0.08], RMSProp (lr 2e-3, decay 0.95), batches of 100 rows × 100 steps with each row's
state carried from batch to batch, element-wise gradient clipping at 5, learning rate × 0.95
after every epoch from epoch 10 on, and early stopping on validation loss.

A run lives in ``<artifacts>/runs/<hash>/``, the hash covering everything that determines its
result. ``checkpoint.pt`` holds all that training needs to continue (weights, optimiser,
step, carried state, random generators), so a killed run resumes and ends bit-identical on CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from lit_rnn.data import Batcher, Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import CharLM, ModelConfig, init_uniform, load_checkpoint
from lit_rnn.nnn import NNN
from lit_rnn.store import (
    append_jsonl,
    artifacts_root,
    atomic_save_torch,
    atomic_write_text,
    canonical_json,
    config_hash,
    read_jsonl,
)


@dataclass(frozen=True)
class Recipe:
    """How a model is trained; the defaults are the paper's."""

    learning_rate: float = 2e-3
    rmsprop_decay: float = 0.95
    rmsprop_eps: float = 1e-8
    batch_size: int = 100
    seq_length: int = 100
    init_range: float = 0.08
    grad_clip: float = 5.0
    epochs: float = 50.0
    lr_decay: float = 0.95
    lr_decay_after: int = 10  # epochs after which the learning rate starts to decay
    eval_every: int = 1000  # steps between validation evaluations (and at the end)
    patience: int = 5  # evaluations without improvement before early stopping
    max_steps: int | None = None  # cap on optimisation steps (for the tiny preset)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a trained run's result: its hash names the run's folder."""

    corpus_sha256: str
    model: ModelConfig
    recipe: Recipe = field(default_factory=Recipe)
    seed: int = 0

    @property
    def run_id(self) -> str:
        return config_hash(self)


@dataclass(frozen=True)
class TrainOptions:
    """How a run is executed, which does not change its result (so is not hashed)."""

    device: str = "cpu"
    autocast_bf16: bool = False
    checkpoint_every: int = 200  # steps between resumable checkpoints
    snapshot_steps: tuple[int, ...] = ()  # steps whose weights are kept (training dynamics)
    progress: bool = True
    log_every: int = 50  # steps between host syncs for the progress bar and divergence check


def build_model(config: ModelConfig) -> CharLM | NNN:
    """The network a model config describes: a recurrent CharLM or an n-NN."""
    return NNN(config) if config.cell == "nnn" else CharLM(config)


def load_model(path: str | Path, map_location: str | torch.device = "cpu",
               vocab_size: int | None = None) -> CharLM | NNN:
    """The model in a checkpoint holding ``model_config`` and ``model`` (weights-only load), in eval mode."""
    checkpoint = load_checkpoint(path, map_location)
    config = ModelConfig(**checkpoint["model_config"])
    if vocab_size is not None and config.vocab_size != vocab_size:
        raise UserError(
            f"checkpoint {path} is for a vocabulary of {config.vocab_size} bytes, but this corpus "
            f"has {vocab_size}: it was trained on another corpus"
        )
    model = build_model(config)
    model.load_state_dict(checkpoint["model"])
    return model.to(map_location).eval()


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without a GPU is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    return torch.device(device)


def fast_bf16(device: str | torch.device) -> bool:
    """Whether bf16 autocast is native here: a bf16 GPU, or a CPU with AMX or AVX-512 bf16.

    Measured on a 2-core AMX CPU (bench/train_throughput.py): bf16 trains LSTMs ~1.5-1.9x faster.
    """
    device = resolve_device(str(device))
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return "amx_bf16" in flags or "avx512_bf16" in flags


def learning_rate(recipe: Recipe, epoch: int) -> float:
    """Learning rate during (0-based) ``epoch``: × ``lr_decay`` after each epoch from ``lr_decay_after``."""
    return recipe.learning_rate * recipe.lr_decay ** max(0, epoch - recipe.lr_decay_after + 1)


def total_steps(recipe: Recipe, n_train_batches: int) -> int:
    steps = math.ceil(recipe.epochs * n_train_batches)
    return min(steps, recipe.max_steps) if recipe.max_steps is not None else steps


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def state_to_list(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def state_from_list(tensors: list[torch.Tensor], cell: str):
    return tuple(tensors) if cell == "lstm" else tensors[0]


@torch.no_grad()
def split_loss(model: CharLM | NNN, batcher: Batcher, split: str, device: torch.device, chunk: int = 1000) -> float:
    """Mean cross-entropy (nats/byte) over a split, state carried across the whole of each row."""
    was_training = model.training
    model.eval()
    inputs = torch.from_numpy(batcher.split_inputs(split).astype(np.int64)).to(device)
    targets = torch.from_numpy(batcher.split_targets(split).astype(np.int64)).to(device)
    total = torch.zeros((), dtype=torch.float64, device=device)
    state = None
    for start in range(0, inputs.shape[1], chunk):
        logits, state = model(inputs[:, start : start + chunk], state)
        total += nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), targets[:, start : start + chunk].flatten(), reduction="sum"
        ).double()
    model.train(was_training)
    return float(total / targets.numel())


class Run:
    """A run's folder: its config, resumable checkpoint, best weights, snapshots and metrics log."""

    def __init__(self, config: RunConfig, root: str | Path | None = None):
        self.config = config
        self.dir = artifacts_root(root) / "runs" / config.run_id

    checkpoint_path = property(lambda self: self.dir / "checkpoint.pt")
    best_path = property(lambda self: self.dir / "best.pt")
    metrics_path = property(lambda self: self.dir / "metrics.jsonl")
    result_path = property(lambda self: self.dir / "result.json")

    @property
    def is_finished(self) -> bool:
        return self.result_path.exists()

    @property
    def result(self) -> dict:
        """Final summary: best validation loss, its step, steps run and why training stopped."""
        return json.loads(self.result_path.read_text())

    @property
    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_path)

    def snapshot_path(self, step: int) -> Path:
        return self.dir / "snapshots" / f"step{step:08d}.pt"

    def snapshots(self) -> dict[int, Path]:
        """Kept early checkpoints by step (for the training-dynamics analysis)."""
        folder = self.dir / "snapshots"
        return {int(p.stem[4:]): p for p in sorted(folder.glob("step*.pt"))} if folder.exists() else {}

    def load_model(self, device: str | torch.device = "cpu", path: Path | None = None) -> CharLM | NNN:
        """The best model (or the weights at ``path``), on ``device``, in eval mode."""
        return load_model(path or self.best_path, device)

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / "config.json", canonical_json(self.config))


def _weights(model: CharLM | NNN) -> dict:
    return {"model_config": dataclasses.asdict(model.config), "model": model.state_dict()}


def train(
    config: RunConfig,
    corpus: Corpus,
    options: TrainOptions = TrainOptions(),
    root: str | Path | None = None,
    on_eval: Callable[[dict], None] | None = None,
) -> Run:
    """Train (or resume) ``config`` on ``corpus``; returns the finished :class:`Run`."""
    if corpus.sha256 != config.corpus_sha256:
        raise UserError(f"run {config.run_id} is for corpus sha256 {config.corpus_sha256[:12]}…, not {corpus.name}")
    if config.model.vocab_size != corpus.vocab_size:
        raise UserError(
            f"model vocabulary {config.model.vocab_size} does not match corpus {corpus.name!r} ({corpus.vocab_size})"
        )
    run = Run(config, root)
    if run.is_finished:
        return run
    run.write_config()
    recipe, device = config.recipe, resolve_device(options.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    batcher = corpus.batcher(recipe.batch_size, recipe.seq_length)
    n_train = batcher.n_train
    steps = total_steps(recipe, n_train)

    torch.manual_seed(config.seed)
    model = build_model(config.model)
    init_uniform(model, recipe.init_range)
    model.to(device).train()
    optimizer = torch.optim.RMSprop(
        model.parameters(), lr=recipe.learning_rate, alpha=recipe.rmsprop_decay, eps=recipe.rmsprop_eps
    )
    # Everything the loop needs besides weights, optimiser, carried state and RNG.
    progress = {"step": 0, "best_val": math.inf, "best_step": 0, "bad_evals": 0, "loss_sum": 0.0, "loss_steps": 0}
    state = model.initial_state(recipe.batch_size, device)

    if run.checkpoint_path.exists():  # resume
        checkpoint = load_checkpoint(run.checkpoint_path, map_location=device)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        progress = dict(checkpoint["progress"])
        state = state_from_list([s.to(device) for s in checkpoint["state"]], config.model.cell)
        torch.set_rng_state(checkpoint["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in checkpoint:
            torch.cuda.set_rng_state(checkpoint["rng_cuda"].cpu())
        # Drop log lines written after the checkpoint: they will be written again.
        kept = [r for r in run.metrics if r["step"] <= progress["step"]]
        atomic_write_text(run.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def save_checkpoint() -> None:
        progress["loss_sum"] = float(running)
        atomic_save_torch(
            {
                **_weights(model),
                "optimizer": optimizer.state_dict(),
                "progress": progress,
                "state": [s.cpu() for s in state_to_list(state)],
                "rng_cpu": torch.get_rng_state(),
                **({"rng_cuda": torch.cuda.get_rng_state()} if device.type == "cuda" else {}),
            },
            run.checkpoint_path,
        )

    def evaluate(step: int, train_loss: float) -> bool:
        """Validate, keep the best weights, log; returns True when early stopping triggers."""
        val = split_loss(model, batcher, "val", device)
        improved = val < progress["best_val"]
        if improved:
            progress.update(best_val=val, best_step=step, bad_evals=0)
            atomic_save_torch(_weights(model), run.best_path)
        else:
            progress["bad_evals"] += 1
        record = {"step": step, "epoch": step / n_train, "lr": learning_rate(recipe, (step - 1) // n_train),
                  "train_loss": train_loss, "val_loss": val, "time": time.time()}
        append_jsonl(run.metrics_path, record)
        if on_eval is not None:
            on_eval(record)
        return progress["bad_evals"] >= recipe.patience

    bar = tqdm(total=steps, initial=progress["step"], disable=not options.progress, unit="step",
               desc=config.model.name, dynamic_ncols=True)
    # Train loss summed since the last evaluation, kept on the device (no per-step sync).
    running = torch.tensor(progress["loss_sum"], device=device)
    window_loss, window_steps, window_start = torch.zeros((), device=device), 0, time.time()
    stopped_early = False
    with deferred_interrupt() as interrupted:
        while progress["step"] < steps:
            step = progress["step"]
            epoch, batch_index = divmod(step, n_train)
            if batch_index == 0:
                state = model.initial_state(recipe.batch_size, device)  # rows start afresh each epoch
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(recipe, epoch)
            inputs, targets = (torch.from_numpy(a.astype(np.int64)).to(device, non_blocking=True)
                               for a in batcher.batch(batch_index))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.autocast_bf16):
                logits, new_state = model(inputs, detach(state))
                loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_value_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            state = detach(new_state)
            running += loss.detach()
            window_loss += loss.detach()
            progress["loss_steps"] += 1
            window_steps += 1
            progress["step"] = step = step + 1
            bar.update(1)

            if step % options.log_every == 0 or step == steps:
                mean = float(window_loss) / window_steps  # one host sync per log window
                if not math.isfinite(mean):
                    raise TrainingDiverged(
                        f"{config.model.name}: training loss became {mean} near step {step}; the last good "
                        f"checkpoint is kept in {run.dir} (try a lower learning rate or more clipping)"
                    )
                elapsed = max(time.time() - window_start, 1e-9)
                bar.set_postfix(loss=f"{mean:.3f}", bytes_per_s=f"{window_steps * batcher.bytes_per_batch / elapsed:,.0f}")
                window_loss.zero_()
                window_steps, window_start = 0, time.time()
            if step in options.snapshot_steps:
                run.snapshot_path(step).parent.mkdir(parents=True, exist_ok=True)
                atomic_save_torch(_weights(model), run.snapshot_path(step))
            if step % recipe.eval_every == 0 or step == steps or step % n_train == 0:
                stopped_early = evaluate(step, float(running) / progress["loss_steps"])
                running.zero_()
                progress["loss_steps"] = 0
                if stopped_early:
                    save_checkpoint()
                    break
            if step % options.checkpoint_every == 0 or interrupted():
                save_checkpoint()
            if interrupted():
                bar.close()
                raise KeyboardInterrupt
    bar.close()
    save_checkpoint()
    result = {
        "best_val_loss": progress["best_val"],
        "best_step": progress["best_step"],
        "steps": progress["step"],
        "epochs": progress["step"] / n_train,
        "stopped_early": stopped_early,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    atomic_write_text(run.result_path, json.dumps(result, indent=2))
    return run


@contextlib.contextmanager
def deferred_interrupt():
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


def get_or_train(config: RunConfig, corpus: Corpus, options: TrainOptions = TrainOptions(),
                 root: str | Path | None = None) -> Run:
    """The finished run for ``config``: from the store if it is there, else trained (or resumed)."""
    run = Run(config, root)
    return run if run.is_finished else train(config, corpus, options, root)
