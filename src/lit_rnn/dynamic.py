"""Dynamic evaluation (Krause et al., 2018): the model keeps learning from the text it has just been scored on.

The split is read as :func:`lit_rnn.evaluate.split_pass` reads it, in windows of ``window`` bytes
of every row with the state carried. Each window is scored with the current weights first; then one
gradient step is taken on that window's mean cross-entropy, and the next window is scored with the
updated weights. Two update rules, both with a decay λ back to the trained weights θ₀:

- ``rms`` (Krause et al.'s RMS-normalised rule, the default): each gradient is divided by the root
  mean square of that parameter's gradient over windows of the training split (``r``, computed once
  per run), and the decay is weighted by ``r`` relative to its mean over all parameters (at most 1/λ):

      θ ← θ − η ∇L / max(r, 0.01 r̄) + λ (θ₀ − θ) ⊙ min(r / r̄, 1/λ)

- ``sgd``: θ ← θ − η ∇L + λ (θ₀ − θ).

The window, η and λ are chosen on the validation split from a small grid of the ``rms`` rule
(:data:`GRID`), never on test.

char-rnn's split reads its rows in parallel (War and Peace: 100 rows of 3,300 test bytes, far apart
in the book), and all rows share one set of weights: each step's gradient is the mean loss over the
window just scored in *every* row (100 × ``window`` bytes), so each row adapts on what all rows have
read. No byte is ever scored after a step whose gradient contained it: a window's scores are taken
before the step on that window, and every later step sees only bytes already scored.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from lit_rnn.atomic import atomic_save_torch, atomic_write_text, cached
from lit_rnn.data import Batcher, Corpus
from lit_rnn.devices import exact_fp32
from lit_rnn.errors import UserError
from lit_rnn.evaluate import collect_predictions, model_predictions, split_loss, split_pass
from lit_rnn.hashing import config_hash
from lit_rnn.models import CharLM, detach, load_checkpoint
from lit_rnn.predictions import Predictions
from lit_rnn.runs import Run

RULES = ("rms", "sgd")
RMS_FLOOR = 0.01  # a gradient's RMS is taken as at least this share of the mean RMS (bytes rare in training)
RMS_WINDOWS = 100  # training windows the gradient RMS is measured over


@dataclass(frozen=True)
class DynamicConfig:
    """One dynamic evaluation: update rule, step size η, decay λ back to the trained weights, bytes per row
    between steps."""

    learning_rate: float
    decay: float = 0.0
    window: int = 50
    rule: str = "rms"

    def __post_init__(self) -> None:
        if self.learning_rate < 0 or not 0 <= self.decay <= 1 or self.window < 1 or self.rule not in RULES:
            raise UserError(f"dynamic evaluation needs learning_rate >= 0, decay in [0, 1], window >= 1 and a rule "
                            f"in {RULES}, got {self}")


# Measured on War and Peace's 3x241 LSTM (validation, first 1,000 bytes per row): rms η = 1e-3 is worse than no
# step, 3e-3 diverges, plain SGD gains least; shorter windows gain more (10 bytes: 1.1100, 50: 1.1109, none: 1.1130).
GRID = tuple(DynamicConfig(rate, decay, window)
             for window in (10, 50) for rate in (1e-4, 3e-4) for decay in (0.0, 0.01))


def _window_gradients(adapted: CharLM, batcher: Batcher, split: str, device: torch.device, window: int,
                      length: int | None) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """``split_pass`` over ``adapted`` (state carried), leaving the gradient of each window's mean loss in its
    parameters' ``.grad`` before yielding the window's logits."""

    def scored(ids, state):
        with torch.enable_grad(), exact_fp32():
            return adapted(ids, None if state is None else detach(state))

    for columns, targets, logits in split_pass(scored, batcher, split, device, window, length=length):
        with exact_fp32():
            adapted.zero_grad(set_to_none=True)
            F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten()).backward()
        yield columns, targets, logits.detach()


def _adaptable(model: CharLM, device: torch.device) -> CharLM:
    """A copy of ``model`` to take gradient steps on: dropout off, as in evaluation, but in training mode,
    since cuDNN computes an RNN's backward pass only in training mode."""
    adapted = copy.deepcopy(model).to(device)
    adapted.rnn.dropout, adapted.drop.p = 0.0, 0.0
    return adapted.train()


def gradient_rms(model: CharLM, batcher: Batcher, device: torch.device, window: int,
                 windows: int = RMS_WINDOWS) -> list[torch.Tensor]:
    """Root mean square of each parameter's gradient over the first ``windows`` windows of the training split."""
    adapted = _adaptable(model, device)
    squares, count = [torch.zeros_like(p) for p in adapted.parameters()], 0
    for _ in _window_gradients(adapted, batcher, "train", device, window, window * windows):
        for total, parameter in zip(squares, adapted.parameters()):
            total += parameter.grad**2
        count += 1
    return [(total / count).sqrt() for total in squares]


def dynamic_pass(model: CharLM, batcher: Batcher, split: str, device: torch.device, config: DynamicConfig,
                 length: int | None = None,
                 rms: list[torch.Tensor] | None = None) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """Like :func:`~lit_rnn.evaluate.split_pass` over ``model``, but adapting a copy of it after every window.

    Yields ``(columns, targets, logits)`` per window, the logits computed with the weights of before
    the step on that window. ``model`` itself is never changed. ``length`` scores only the first bytes
    of each row. The ``rms`` rule needs the gradient RMS of every parameter (:func:`gradient_rms`).
    """
    adapted = _adaptable(model, device)
    parameters = list(adapted.parameters())
    trained = [p.detach().clone() for p in parameters]
    if config.rule == "rms":
        if rms is None:
            raise UserError("the rms rule of dynamic evaluation needs the gradient RMS (gradient_rms)")
        mean = torch.cat([r.flatten() for r in rms]).mean()
        divisors = [r.clamp(min=RMS_FLOOR * float(mean)) for r in rms]
        pulls = [(r / mean).clamp(max=1 / config.decay) if config.decay else r for r in rms]
    else:
        divisors = pulls = [torch.ones((), device=device)] * len(parameters)
    for columns, targets, logits in _window_gradients(adapted, batcher, split, device, config.window, length):
        yield columns, targets, logits
        with torch.no_grad():
            for parameter, start, divisor, pull in zip(parameters, trained, divisors, pulls):
                step = config.learning_rate * parameter.grad / divisor
                parameter.add_(config.decay * pull * (start - parameter) - step)


def dynamic_loss(model: CharLM, batcher: Batcher, split: str, device: torch.device, config: DynamicConfig,
                 length: int | None = None, rms: list[torch.Tensor] | None = None) -> float:
    """Mean cross-entropy (nats/byte) under dynamic evaluation over ``split`` (the first ``length`` bytes per row)."""
    total, count = 0.0, 0
    for _, targets, logits in dynamic_pass(model, batcher, split, device, config, length, rms):
        total += float(F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum"))
        count += targets.numel()
    return total / count


def dynamic_predictions(model: CharLM, batcher: Batcher, split: str, name: str, device: torch.device,
                        config: DynamicConfig, rms: list[torch.Tensor] | None = None) -> Predictions:
    """Next-byte distributions at every position of ``split`` under dynamic evaluation (same format as any model's)."""
    windows = dynamic_pass(model, batcher, split, device, config, rms=rms)
    return collect_predictions(windows, batcher, split, name, model.config)


@dataclass(frozen=True)
class DynamicResult:
    """Dynamic evaluation of one run: the configuration validation chose, and what it gave on test at what cost."""

    config: DynamicConfig
    validation: pd.DataFrame  # learning_rate, decay, window, rule, val_loss: every configuration (η = 0: plain)
    predictions: Predictions  # on test, with the chosen configuration
    seconds: float  # wall time of the dynamic pass over test
    plain_seconds: float  # wall time of the plain pass over test, measured right before it on the same machine
    validation_length: int | None  # bytes per validation row the grid was scored on (None: all)

    @property
    def slowdown(self) -> float:
        return self.seconds / self.plain_seconds


def dynamic_evaluation(run: Run, corpus: Corpus, device: torch.device = torch.device("cpu"),
                       grid: Sequence[DynamicConfig] = GRID, validation_length: int | None = 1000) -> DynamicResult:
    """Choose a configuration on validation (its first ``validation_length`` bytes per row; no step at all is one of
    them), then evaluate test.

    Cached in the run folder's ``dynamic/``: the gradient RMS per window length, every configuration's
    validation loss, and the test result under a hash of the grid and validation length.
    """
    if run.config.corpus_sha256 != corpus.sha256:
        raise UserError(f"run {run.config.run_id} was trained on another corpus than {corpus.name!r}")
    if not grid:
        raise UserError("give at least one dynamic-evaluation configuration to choose from")
    key = config_hash({"grid": [asdict(c) for c in grid], "validation_length": validation_length})
    summary_path = run.dir / "dynamic" / f"test-{key}.json"
    predictions_path = summary_path.with_suffix(".npz")  # written first: the summary, written last, vouches for it

    def build(path: Path) -> None:
        predictions, summary = _evaluate(run, corpus, device, grid, validation_length)
        predictions.save(predictions_path)
        atomic_write_text(path, json.dumps(summary, indent=1))

    def load(path: Path) -> DynamicResult:
        summary = json.loads(path.read_text())
        return DynamicResult(DynamicConfig(**summary["config"]), pd.DataFrame(summary["validation"]),
                             Predictions.load(predictions_path), summary["seconds"], summary["plain_seconds"],
                             summary["validation_length"])

    return cached(summary_path, build, load)


def _evaluate(run: Run, corpus: Corpus, device: torch.device, grid: Sequence[DynamicConfig],
              validation_length: int | None) -> tuple[Predictions, dict]:
    """:func:`dynamic_evaluation` computed: the test predictions, and the summary of how they were chosen."""
    batcher = run.config.batcher(corpus)
    model = run.load_model(device)
    rms = {window: _gradient_rms(run, model, batcher, device, window)
           for window in sorted({c.window for c in grid if c.rule == "rms"})}
    configs = (DynamicConfig(0.0, 0.0, grid[0].window, "sgd"), *grid)  # no step at all (η = 0) may win too
    rows = [{**asdict(config), "val_loss": _validation_loss(run, model, batcher, device, config, validation_length,
                                                            rms.get(config.window))}
            for config in configs]
    validation = pd.DataFrame(rows)
    chosen = configs[int(validation["val_loss"].to_numpy().argmin())]
    start = time.perf_counter()
    model_predictions(model, batcher, "test", run.name, device)
    plain_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions = dynamic_predictions(model, batcher, "test", f"{run.name} + dynamic evaluation", device, chosen,
                                      rms.get(chosen.window))
    seconds = time.perf_counter() - start
    return predictions, {"config": asdict(chosen), "validation": rows, "seconds": seconds,
                         "plain_seconds": plain_seconds, "validation_length": validation_length}


def _gradient_rms(run: Run, model: CharLM, batcher: Batcher, device: torch.device, window: int) -> list[torch.Tensor]:
    """:func:`gradient_rms` for ``window``, cached in the run folder."""
    path = run.dir / "dynamic" / f"rms-{config_hash({'window': window, 'windows': RMS_WINDOWS})}.pt"
    rms = cached(path, lambda p: atomic_save_torch([r.cpu() for r in gradient_rms(model, batcher, device, window)], p),
                 load_checkpoint)
    return [r.to(device) for r in rms]


def _validation_loss(run: Run, model: CharLM, batcher: Batcher, device: torch.device, config: DynamicConfig,
                     length: int | None, rms: list[torch.Tensor] | None) -> float:
    """One configuration's validation loss (η = 0: the plain model's), cached in the run folder."""
    path = run.dir / "dynamic" / f"val-{config_hash({'config': asdict(config), 'length': length})}.json"

    def build(target: Path) -> None:
        if config.learning_rate == 0:
            loss = split_loss(model, batcher, "val", device, length=length)
        else:
            loss = dynamic_loss(model, batcher, "val", device, config, length, rms)
        atomic_write_text(target, json.dumps({"config": asdict(config), "length": length, "val_loss": loss}))

    return cached(path, build, lambda target: json.loads(target.read_text())["val_loss"])
