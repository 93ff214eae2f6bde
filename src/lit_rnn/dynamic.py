"""Dynamic evaluation (Krause et al., 2018): the model keeps learning from the text it has just been scored on.

The split is read as :func:`lit_rnn.evaluate.split_pass` reads it, in windows of ``window`` bytes
of every row with the state carried. Each window is scored with the current weights first; then one
gradient step is taken on that window's mean cross-entropy, and the next window is scored with the
updated weights. The update is plain SGD with a decay back to the trained weights θ₀:

    θ ← θ − η ∇L(window) + λ (θ₀ − θ)

(Krause et al.'s "SGD" variant with a global prior; their RMS-normalised update needs gradient
statistics from the training set, which this project does not keep). η and λ are chosen on the
validation split from a small grid (:data:`GRID`), never on test.

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

import pandas as pd
import torch
import torch.nn.functional as F

from lit_rnn.data import Batcher, Corpus
from lit_rnn.devices import exact_fp32
from lit_rnn.errors import UserError
from lit_rnn.evaluate import collect_predictions, model_predictions, split_loss, split_pass
from lit_rnn.models import CharLM
from lit_rnn.predictions import Predictions
from lit_rnn.runs import Run
from lit_rnn.store import atomic_write_text, config_hash


@dataclass(frozen=True)
class DynamicConfig:
    """One dynamic evaluation: step size η, decay λ back to the trained weights, bytes per row between steps."""

    learning_rate: float
    decay: float = 0.0
    window: int = 50

    def __post_init__(self) -> None:
        if self.learning_rate < 0 or not 0 <= self.decay <= 1 or self.window < 1:
            raise UserError(f"dynamic evaluation needs learning_rate >= 0, decay in [0, 1] and window >= 1, got {self}")


GRID = tuple(DynamicConfig(rate, decay) for rate in (0.1, 0.3, 1.0) for decay in (0.0, 0.01))


def _detached(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def dynamic_pass(model: CharLM, batcher: Batcher, split: str, device: torch.device, config: DynamicConfig,
                 length: int | None = None) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """Like :func:`~lit_rnn.evaluate.split_pass` over ``model``, but adapting a copy of it after every window.

    Yields ``(columns, targets, logits)`` per window, the logits computed with the weights of before
    the step on that window. ``model`` itself is never changed. ``length`` scores only the first bytes of each row.
    """
    adapted = copy.deepcopy(model).to(device).eval()  # no dropout, as in evaluation
    parameters = list(adapted.parameters())
    trained = [p.detach().clone() for p in parameters]

    def scored(ids, state):
        with torch.enable_grad():
            return adapted(ids, None if state is None else _detached(state))

    for columns, targets, logits in split_pass(scored, batcher, split, device, config.window, length=length):
        yield columns, targets, logits.detach()
        with exact_fp32():
            adapted.zero_grad(set_to_none=True)
            F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten()).backward()
        with torch.no_grad():
            for parameter, start in zip(parameters, trained):
                parameter.add_(config.decay * (start - parameter) - config.learning_rate * parameter.grad)


def dynamic_loss(model: CharLM, batcher: Batcher, split: str, device: torch.device, config: DynamicConfig,
                 length: int | None = None) -> float:
    """Mean cross-entropy (nats/byte) under dynamic evaluation over ``split`` (the first ``length`` bytes per row)."""
    total, count = 0.0, 0
    for _, targets, logits in dynamic_pass(model, batcher, split, device, config, length):
        total += float(F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum"))
        count += targets.numel()
    return total / count


def dynamic_predictions(model: CharLM, batcher: Batcher, split: str, name: str, device: torch.device,
                        config: DynamicConfig) -> Predictions:
    """Next-byte distributions at every position of ``split`` under dynamic evaluation (same format as any model's)."""
    return collect_predictions(dynamic_pass(model, batcher, split, device, config), batcher, split, name, model.config)


@dataclass(frozen=True)
class DynamicResult:
    """Dynamic evaluation of one run: the configuration validation chose, and what it gave on test at what cost."""

    config: DynamicConfig
    validation: pd.DataFrame  # learning_rate, decay, window, val_loss: every configuration tried (η = 0 is plain)
    predictions: Predictions  # on test, with the chosen configuration
    seconds: float  # wall time of the dynamic pass over test
    plain_seconds: float  # wall time of the plain pass over test, measured right before it on the same machine
    validation_length: int | None  # bytes per validation row the grid was scored on (None: all)

    @property
    def slowdown(self) -> float:
        return self.seconds / self.plain_seconds


def dynamic_evaluation(run: Run, corpus: Corpus, device: torch.device = torch.device("cpu"),
                       grid: Sequence[DynamicConfig] = GRID, validation_length: int | None = 1000) -> DynamicResult:
    """Choose η and λ on validation (its first ``validation_length`` bytes per row), then evaluate test; cached.

    Every configuration's validation loss is cached on its own, and the test result under a hash of
    the grid and validation length, in the run folder's ``dynamic/``.
    """
    if run.config.corpus_sha256 != corpus.sha256:
        raise UserError(f"run {run.config.run_id} was trained on another corpus than {corpus.name!r}")
    if not grid:
        raise UserError("give at least one dynamic-evaluation configuration to choose from")
    folder = run.dir / "dynamic"
    key = config_hash({"grid": [asdict(c) for c in grid], "validation_length": validation_length})
    summary_path, predictions_path = folder / f"test-{key}.json", folder / f"test-{key}.npz"
    batcher = run.config.batcher(corpus)
    if summary_path.exists() and predictions_path.exists():
        summary = json.loads(summary_path.read_text())
        return DynamicResult(DynamicConfig(**summary["config"]), pd.DataFrame(summary["validation"]),
                             Predictions.load(predictions_path), summary["seconds"], summary["plain_seconds"],
                             summary["validation_length"])
    model = run.load_model(device)
    rows = [{**asdict(config), "val_loss": _validation_loss(run, model, batcher, device, config, validation_length)}
            for config in (DynamicConfig(0.0, 0.0, grid[0].window), *grid)]
    validation = pd.DataFrame(rows)
    chosen = grid[int(validation["val_loss"].iloc[1:].to_numpy().argmin())]
    start = time.perf_counter()
    model_predictions(model, batcher, "test", run.name, device)
    plain_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions = dynamic_predictions(model, batcher, "test", f"{run.name} + dynamic evaluation", device, chosen)
    seconds = time.perf_counter() - start
    predictions.save(predictions_path)
    atomic_write_text(summary_path, json.dumps({"config": asdict(chosen), "validation": rows, "seconds": seconds,
                                                "plain_seconds": plain_seconds,
                                                "validation_length": validation_length}, indent=1))
    return DynamicResult(chosen, validation, predictions, seconds, plain_seconds, validation_length)


def _validation_loss(run: Run, model: CharLM, batcher: Batcher, device: torch.device, config: DynamicConfig,
                     length: int | None) -> float:
    """One configuration's validation loss (η = 0: the plain model's), cached in the run folder."""
    path = run.dir / "dynamic" / f"val-{config_hash({'config': asdict(config), 'length': length})}.json"
    if path.exists():
        return json.loads(path.read_text())["val_loss"]
    if config.learning_rate == 0:
        loss = split_loss(model, batcher, "val", device, length=length)
    else:
        loss = dynamic_loss(model, batcher, "val", device, config, length)
    atomic_write_text(path, json.dumps({"config": asdict(config), "length": length, "val_loss": loss}))
    return loss
