"""Cell interventions: the same trained network with chosen cells clamped to a value or ablated (zeroed).

A :class:`Clamp` holds some cells of one layer at a value at every step, the initial state
included: the LSTM's cell state ``c`` or any model's hidden state ``h``. Ablating is clamping to 0.
An :class:`Intervention` is a set of clamps; the empty one is the plain model.

:class:`Intervened` runs a :class:`~lit_rnn.models.CharLM`'s own weights (shared, never copied or
changed) under one or several interventions side by side. Layers that no intervention touches run
the fused kernel, one layer at a time (on a CPU bitwise the model's own forward); a layer with a
clamp runs the written-out step equations (:data:`lit_rnn.models.STEPS`), the clamp applied after
every step. Several interventions share one batch, intervention-major: the layers below the lowest
clamped one run once for all of them. It is called like the model, so scoring
(:func:`lit_rnn.evaluate.split_pass`) and sampling (:func:`lit_rnn.evaluate.samples`) take it as
they take the model. Like a trace, it runs without dropout.

Ablating an LSTM cell's ``c`` or its ``h`` is the same to the rest of the network: ``h = o ⊙ tanh(c)``
is 0 when ``c`` is, and ``c`` reaches nothing but ``h``. Ablations here zero ``h``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lit_rnn.atomic import atomic_save_npz, cached
from lit_rnn.data import Batcher, Corpus
from lit_rnn.errors import UserError
from lit_rnn.evaluate import samples, split_pass
from lit_rnn.hashing import config_hash
from lit_rnn.models import FUSED_LAYERS, STEPS, CharLM, ModelConfig
from lit_rnn.runs import Run

CLAMPABLE = {"rnn": ("h",), "lstm": ("c", "h"), "gru": ("h",)}


@dataclass(frozen=True)
class Clamp:
    """Cells of one layer's ``quantity`` (``c`` or ``h``) held at ``value`` at every step; 0 ablates them."""

    layer: int
    quantity: str
    cells: tuple[int, ...]
    value: float = 0.0


@dataclass(frozen=True)
class Intervention:
    """A set of clamps applied together; no clamps is the plain model."""

    clamps: tuple[Clamp, ...] = ()

    @classmethod
    def ablate(cls, layer: int, cells: Sequence[int], quantity: str = "h") -> Intervention:
        return cls((Clamp(layer, quantity, tuple(int(c) for c in cells)),))

    @classmethod
    def clamp(cls, layer: int, cells: Sequence[int], value: float, quantity: str = "h") -> Intervention:
        return cls((Clamp(layer, quantity, tuple(int(c) for c in cells), float(value)),))

    @property
    def label(self) -> str:
        """E.g. ``layer 2 c[17] = 0.8`` or ``plain``: layers counted from 1, as the pages count them."""
        parts = [f"layer {c.layer + 1} {c.quantity}[{','.join(map(str, c.cells))}] = {c.value:g}" for c in self.clamps]
        return "; ".join(parts) or "plain"

    def check(self, config: ModelConfig) -> None:
        """Raise a one-line error unless every clamp names a layer, quantity and cells the model has."""
        for clamp in self.clamps:
            if not 0 <= clamp.layer < config.n_layers:
                raise UserError(f"layer {clamp.layer + 1} does not exist: the model has layers 1..{config.n_layers}")
            if clamp.quantity not in CLAMPABLE[config.architecture]:
                raise UserError(f"a {config.architecture} has no quantity {clamp.quantity!r} to clamp; choose "
                                f"{' or '.join(CLAMPABLE[config.architecture])}")
            if not clamp.cells or not all(0 <= c < config.hidden_size for c in clamp.cells):
                raise UserError(f"cells {list(clamp.cells)} are not all among the layer's cells "
                                f"0..{config.hidden_size - 1}")


def _fused_layer(model: CharLM, layer: int) -> nn.Module:
    """A one-layer fused module (nn.LSTM/GRU/RNN) whose parameters *are* ``layer``'s of ``model``."""
    config = model.config
    single = FUSED_LAYERS[config.architecture](config.vocab_size if layer == 0 else config.hidden_size,
                                               config.hidden_size, batch_first=True)
    for name, parameter in zip(("weight_ih", "bias_ih", "weight_hh", "bias_hh"), model.layer_weights(layer)):
        setattr(single, f"{name}_l0", parameter)  # RNNBase keeps its flat weight list in step
    return single


class Intervened(nn.Module):
    """``model`` under ``interventions``: called like the model, with every intervention's rows in one batch.

    ``forward(ids, state)`` takes ids (batch, time), read by every intervention alike, and returns
    logits (interventions × batch, time, vocab), intervention-major (rows ``k·batch … (k+1)·batch - 1``
    are intervention ``k``), and the state in the model's form for that many rows. With one
    intervention it is a drop-in for the model.
    """

    def __init__(self, model: CharLM, interventions: Intervention | Sequence[Intervention]):
        super().__init__()
        if not isinstance(model, CharLM):
            raise UserError(f"interventions act on the cells of a recurrent model, not on a {type(model).__name__}")
        self.interventions = (interventions,) if isinstance(interventions, Intervention) else tuple(interventions)
        if not self.interventions:
            raise UserError("give at least one intervention (Intervention() is the plain model)")
        for intervention in self.interventions:
            intervention.check(model.config)
        self.model, self.config = model, model.config
        self.fused = nn.ModuleList(_fused_layer(model, layer) for layer in range(model.config.n_layers))
        device = model.readout.weight.device
        # Per clamped (layer, quantity): which cells each intervention holds, and at what value.
        self.masks: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}
        for k, intervention in enumerate(self.interventions):
            for clamp in intervention.clamps:
                key = (clamp.layer, clamp.quantity)
                if key not in self.masks:
                    shape = (len(self.interventions), model.config.hidden_size)
                    self.masks[key] = (torch.zeros(shape, dtype=torch.bool, device=device),
                                       torch.zeros(shape, device=device))
                held, values = self.masks[key]
                held[k, list(clamp.cells)] = True
                values[k, list(clamp.cells)] = clamp.value
        self.clamped_layers = sorted({layer for layer, _ in self.masks})
        self.first_clamped = self.clamped_layers[0] if self.clamped_layers else model.config.n_layers

    def forward(self, ids: torch.Tensor, state=None):
        count, batch = len(self.interventions), ids.shape[0]
        lstm = self.config.architecture == "lstm"
        if state is None:
            state = self.model.initial_state(count * batch, ids.device)
        hs, cs = state if lstm else (state, None)
        x = self.model.one_hot(ids)
        final_h, final_c = [], []
        for layer in range(self.config.n_layers):
            shared = layer < self.first_clamped  # below every clamp: one run serves every intervention
            if layer == self.first_clamped:
                x = x.repeat(count, 1, 1)
            rows = slice(0, batch) if shared else slice(None)  # shared layers keep identical copies; read the first
            h, c = hs[layer, rows].contiguous(), (cs[layer, rows].contiguous() if lstm else None)
            run = self._written_out if layer in self.clamped_layers else self._fused
            x, h, c = run(layer, x, h, c, batch)
            final_h.append(h.repeat(count, 1) if shared else h)
            final_c.append((c.repeat(count, 1) if shared else c) if lstm else None)
        logits = self.model.readout(x)
        if logits.shape[0] != count * batch:
            logits = logits.repeat(count, 1, 1)
        h_n = torch.stack(final_h)
        return logits, ((h_n, torch.stack(final_c)) if lstm else h_n)

    def _fused(self, layer: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None, batch: int):
        with warnings.catch_warnings():  # cuDNN notes that the shared weights are not one flat buffer
            warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
            if c is None:
                output, h_n = self.fused[layer](x, h[None])
                return output, h_n[0], None
            output, (h_n, c_n) = self.fused[layer](x, (h[None], c[None]))
            return output, h_n[0], c_n[0]

    def _clamp(self, layer: int, quantity: str, batch: int):
        """``x -> x`` with this layer's clamped cells held at their values, per intervention's rows; None if none."""
        if (layer, quantity) not in self.masks:
            return None
        held, values = (m.repeat_interleave(batch, dim=0) for m in self.masks[layer, quantity])
        return lambda x: torch.where(held, values, x)

    def _written_out(self, layer: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None, batch: int):
        w_ih, b_ih, w_hh, b_hh = self.model.layer_weights(layer)
        step = STEPS[self.config.architecture]
        clamp_h, clamp_c = self._clamp(layer, "h", batch), self._clamp(layer, "c", batch)
        if clamp_c is not None:
            c = clamp_c(c)
        if clamp_h is not None:
            h = clamp_h(h)
        x_proj = x @ w_ih.T + b_ih
        outputs = []
        for t in range(x.shape[1]):
            values = step(x_proj[:, t], h, c, w_hh, b_hh)
            h, c = values["h"], values.get("c")
            if clamp_c is not None:
                c = clamp_c(c)
                h = values["o"] * torch.tanh(c)  # the LSTM's output equation, from the clamped cell state
            if clamp_h is not None:
                h = clamp_h(h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h, c


def random_cells(hidden_size: int, draws: int, exclude: Sequence[int] = (),
                 seed: int | Sequence[int] = 0) -> np.ndarray:
    """``draws`` distinct cells of a ``hidden_size``-cell layer, none of ``exclude``, drawn reproducibly by ``seed``."""
    pool = np.setdiff1d(np.arange(hidden_size), np.asarray(exclude, dtype=np.int64))
    if draws > len(pool):
        raise UserError(f"cannot draw {draws} random cells from the {len(pool)} of the layer left to draw from")
    return np.sort(np.random.default_rng(seed).choice(pool, size=draws, replace=False))


def scored_rows(batch_size: int, rows: int) -> np.ndarray:
    """``rows`` of a split's ``batch_size`` rows, evenly spread through the text (all of them if fewer)."""
    return np.unique(np.linspace(0, batch_size - 1, min(rows, batch_size)).round().astype(np.int64))


def intervention_losses(model: CharLM, batcher: Batcher, split: str, interventions: Sequence[Intervention],
                        rows: np.ndarray, device: torch.device, length: int | None = None,
                        chunk: int = 100) -> np.ndarray:
    """Per-byte cross-entropy (interventions, rows, bytes) of ``model`` under each intervention, in one batch.

    Scores the split's ``rows`` over their first ``length`` bytes (all, if None), state carried.
    """
    intervened = Intervened(model.to(device).eval(), interventions)
    count, vocab = len(interventions), model.config.vocab_size
    full = batcher.split_inputs(split).shape[1]
    width = full if length is None else min(length, full)
    losses = np.empty((count, len(rows), width), dtype=np.float32)
    for columns, targets, logits in split_pass(intervened, batcher, split, device, chunk, rows=rows, length=width):
        per_byte = F.cross_entropy(logits.float().reshape(-1, vocab), targets.repeat(count, 1).reshape(-1),
                                   reduction="none")
        losses[:, :, columns] = per_byte.view(count, len(rows), -1).cpu().numpy()
    return losses


@dataclass(frozen=True)
class AblationConfig:
    """How causal scores are measured: which rows, how many bytes of each, how many random cells per layer."""

    rows: int = 10  # rows of the split scored, evenly spread (char-rnn's split has 100)
    length: int | None = None  # bytes scored per row from the split's start; None: the whole row
    draws: int = 32  # random cells ablated one at a time per layer: the null distribution
    seed: int = 0
    split: str = "test"


@dataclass(frozen=True)
class LayerAblations:
    """Per-byte losses over the scored rows with nothing, each tested cell, and each random cell of a layer ablated."""

    layer: int
    tested: np.ndarray  # (t,) the cells under test
    random: np.ndarray  # (d,) the random cells, the null distribution
    plain: np.ndarray  # (rows, bytes) per-byte loss of the plain model (same code path as the ablations)
    tested_losses: np.ndarray  # (t, rows, bytes)
    random_losses: np.ndarray  # (d, rows, bytes)
    positions: np.ndarray  # (rows, bytes) corpus offset of each scored input; the byte predicted is the next


def layer_ablations(model: CharLM, batcher: Batcher, layer: int, tested: Sequence[int], config: AblationConfig,
                    device: torch.device) -> LayerAblations:
    """Ablate each tested cell of ``layer`` and ``config.draws`` random others, one at a time, in one batched pass."""
    tested = np.asarray(sorted(set(int(c) for c in tested)), dtype=np.int64)
    draws = min(config.draws, model.config.hidden_size - len(tested))
    random = random_cells(model.config.hidden_size, draws, exclude=tested, seed=(config.seed, layer))
    rows = scored_rows(batcher.batch_size, config.rows)
    interventions = [Intervention(), *(Intervention.ablate(layer, [c]) for c in (*tested, *random))]
    losses = intervention_losses(model, batcher, config.split, interventions, rows, device, config.length)
    positions = batcher.positions(config.split)[rows, : losses.shape[2]]
    return LayerAblations(layer, tested, random, losses[0], losses[1 : 1 + len(tested)], losses[1 + len(tested) :],
                          positions)


def ablations(run: Run, corpus: Corpus, cells: Mapping[int, Sequence[int]], config: AblationConfig = AblationConfig(),
              device: torch.device = torch.device("cpu")) -> dict[int, LayerAblations]:
    """:func:`layer_ablations` for each layer's tested ``cells`` of the run's best model, cached in the run folder."""
    if run.config.corpus_sha256 != corpus.sha256:
        raise UserError(f"run {run.config.run_id} was trained on another corpus than {corpus.name!r}")
    model = functools.cache(lambda: run.load_model(device))  # loaded once, and only if a layer is not cached

    def build(path: Path, layer: int, tested: Sequence[int]) -> None:
        result = layer_ablations(model(), run.config.batcher(corpus), layer, tested, config, device)
        atomic_save_npz(path, **{f.name: np.asarray(getattr(result, f.name)) for f in fields(LayerAblations)})

    found = {}
    for layer, tested in sorted(cells.items()):
        key = config_hash({"layer": int(layer), "tested": sorted(int(c) for c in tested), "config": asdict(config)})
        found[layer] = cached(run.dir / "ablations" / f"{key}.npz",
                              functools.partial(build, layer=layer, tested=tested), _load_ablations)
    return found


def _load_ablations(path: Path) -> LayerAblations:
    try:
        with np.load(path, allow_pickle=False) as stored:
            values = {f.name: stored[f.name] for f in fields(LayerAblations)}
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"cannot read ablations {path}: {error}; delete it to recompute") from error
    return LayerAblations(**{**values, "layer": int(values["layer"])})


@torch.no_grad()
def cell_reading(model: CharLM, corpus: Corpus, text: bytes, layer: int, quantity: str, cell: int,
                 prime: bytes = b"") -> np.ndarray:
    """One cell's value at every byte of ``text`` as the (plain) model reads it after ``prime``: what a sample is
    coloured by."""
    device = model.readout.weight.device
    ids = torch.from_numpy(corpus.encode(prime + text).astype(np.int64))[None].to(device)
    (layers, _), _ = model.eval().trace(ids)
    return layers[layer][quantity][0, len(prime):, cell].cpu().numpy()


def intervention_samples(model: CharLM, corpus: Corpus, interventions: Mapping[str, Intervention], prime: bytes,
                         n: int = 300, count: int = 32, temperature: float = 1.0,
                         seed: int = 0) -> dict[str, list[bytes]]:
    """``count`` samples of ``n`` bytes after ``prime`` under each named intervention (the same seed for each)."""
    return {name: samples(Intervened(model, intervention), corpus, prime, n, count, temperature, seed)
            for name, intervention in interventions.items()}


Readings = dict[str, list[tuple[bytes, np.ndarray]]]  # per set of samples: each text and a cell's value at its bytes


def sample_readings(model: CharLM, corpus: Corpus, samples: Mapping[str, list[bytes]], cell: tuple[int, str, int],
                    prime: bytes, per_set: int = 2) -> Readings:
    """The first ``per_set`` samples of each set, each with ``cell`` (layer, quantity, index) at every byte as the
    plain model reads it after ``prime`` (the text they were sampled after): what
    :func:`lit_rnn.viz.interventions.readings_html` draws."""
    layer, quantity, index = cell
    return {label: [(text, cell_reading(model, corpus, text, layer, quantity, index, prime))
                    for text in texts[:per_set]] for label, texts in samples.items()}


def resampler(model: CharLM, corpus: Corpus, prime: bytes) -> Callable[..., Readings]:
    """What :class:`lit_rnn.viz.interventions.InterventionExplorer` calls on every change of its controls:
    ``resample(cell, action, value, length, temperature, seed)`` samples the plain model and the one with ``cell``
    ablated (``action`` "ablate") or clamped to ``value`` from the same seed, and returns one reading of each."""

    def resample(cell: tuple[int, str, int], action: str, value: float, length: int, temperature: float,
                 seed: int) -> Readings:
        layer, quantity, index = cell
        intervention = Intervention.clamp(layer, [index], 0.0 if action == "ablate" else value, quantity)
        drawn = intervention_samples(model, corpus, {"plain": Intervention(), intervention.label: intervention},
                                     prime, length, count=1, temperature=temperature, seed=seed)
        return sample_readings(model, corpus, drawn, cell, prime, per_set=1)

    return resample
