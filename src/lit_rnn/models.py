"""Character language models: RNN, LSTM and GRU over one-hot bytes, and their exact gate traces.

Training and evaluation run PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (cuDNN on a GPU).
:func:`CharLM.trace` runs the *same weights* through the per-step equations written out, so
the analyses can read every gate, cell and hidden value the fused kernels never expose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lit_rnn.errors import UserError

CELL_TYPES = ("rnn", "lstm", "gru")
MODEL_KINDS = (*CELL_TYPES, "nnn")  # "nnn": the n-NN baseline of lit_rnn.nnn
GATES_PER_CELL = {"rnn": 1, "lstm": 4, "gru": 3}
# Quantities that trace() records per layer, in PyTorch's gate order.
TRACE_QUANTITIES = {
    "rnn": ("h",),
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("r", "z", "n", "h"),
}
REFERENCE_LSTM_SIZES = (64, 128, 256, 512)  # the paper's 1-layer LSTM sizes that set the budgets


@dataclass(frozen=True)
class ModelConfig:
    """What a model is: cell type, depth, width, vocabulary, dropout (and the n of an n-NN)."""

    cell: str
    n_layers: int
    hidden_size: int
    vocab_size: int
    dropout: float = 0.0
    context: int = 0  # bytes an n-NN sees; 0 for recurrent models, which see everything

    def __post_init__(self) -> None:
        if self.cell not in MODEL_KINDS:
            raise UserError(f"unknown cell type {self.cell!r}: choose one of {', '.join(MODEL_KINDS)}")
        if (self.cell == "nnn") != (self.context > 0):
            raise UserError("an n-NN needs context >= 1 and a recurrent model context 0")
        if not 1 <= self.n_layers:
            raise UserError(f"n_layers must be at least 1, got {self.n_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def name(self) -> str:
        if self.cell == "nnn":
            return f"{self.context}-NN"
        return f"{self.cell}-{self.n_layers}x{self.hidden_size}"


def parameter_count(cell: str, n_layers: int, hidden_size: int, vocab_size: int) -> int:
    """Parameters of a CharLM, counted as PyTorch stores them (two bias vectors per layer)."""
    gates = GATES_PER_CELL[cell] * hidden_size
    first = gates * (vocab_size + hidden_size + 2)
    deeper = (n_layers - 1) * gates * (2 * hidden_size + 2)
    readout = (hidden_size + 1) * vocab_size
    return first + deeper + readout


def matched_hidden_size(cell: str, n_layers: int, budget: int, vocab_size: int) -> int:
    """The hidden size whose parameter count is closest to ``budget``."""
    sizes = np.arange(1, 4097)
    counts = np.array([parameter_count(cell, n_layers, int(h), vocab_size) for h in sizes])
    return int(sizes[np.argmin(np.abs(counts - budget))])


def parameter_matched_grid(
    vocab_size: int,
    cells: tuple[str, ...] = CELL_TYPES,
    depths: tuple[int, ...] = (1, 2, 3),
    reference_sizes: tuple[int, ...] = REFERENCE_LSTM_SIZES,
) -> list[dict]:
    """The paper's grid: per type and depth, hidden sizes matching the 1-layer LSTM budgets.

    Each row: cell, n_layers, size (0..3), hidden_size, parameters, budget.
    """
    rows = []
    for size_index, reference in enumerate(reference_sizes):
        budget = parameter_count("lstm", 1, reference, vocab_size)
        for cell in cells:
            for depth in depths:
                hidden = matched_hidden_size(cell, depth, budget, vocab_size)
                rows.append(
                    dict(
                        cell=cell,
                        n_layers=depth,
                        size=size_index,
                        hidden_size=hidden,
                        parameters=parameter_count(cell, depth, hidden, vocab_size),
                        budget=budget,
                    )
                )
    return rows


class CharLM(nn.Module):
    """One-hot bytes → stacked RNN/LSTM/GRU → linear read-out to next-byte logits.

    Dropout (as in char-rnn) acts between layers and on the top layer before the read-out.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        recurrent = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[config.cell]
        self.rnn = recurrent(
            input_size=config.vocab_size,
            hidden_size=config.hidden_size,
            num_layers=config.n_layers,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.readout = nn.Linear(config.hidden_size, config.vocab_size)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu"):
        """Zero state: ``h`` (and ``(h, c)`` for the LSTM) of shape (layers, batch, hidden)."""
        shape = (self.config.n_layers, batch_size, self.config.hidden_size)
        h = torch.zeros(shape, device=device)
        return (h, torch.zeros_like(h)) if self.config.cell == "lstm" else h

    def one_hot(self, ids: torch.Tensor) -> torch.Tensor:
        return F.one_hot(ids.long(), self.config.vocab_size).to(self.readout.weight.dtype)

    def forward(self, ids: torch.Tensor, state=None):
        """Logits (batch, time, vocab) for ids (batch, time), and the state after the last step."""
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        hidden, state = self.rnn(self.one_hot(ids), state)
        return self.readout(self.drop(hidden)), state

    @torch.no_grad()
    def trace(self, ids: torch.Tensor, state=None) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor, object]:
        """Explicit per-step equations over ids (batch, time) with the fused path's weights.

        Returns, per layer, a dict of (batch, time, hidden) tensors named as in
        ``TRACE_QUANTITIES``; the logits; and the final state (same form as ``forward``'s).
        Runs without dropout, as evaluation does.
        """
        cell = self.config.cell
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        hs, cs = (state if cell == "lstm" else (state, None))
        layer_input = self.one_hot(ids)
        layers, final_h, final_c = [], [], []
        for layer in range(self.config.n_layers):
            w_ih = getattr(self.rnn, f"weight_ih_l{layer}")
            w_hh = getattr(self.rnn, f"weight_hh_l{layer}")
            b_ih = getattr(self.rnn, f"bias_ih_l{layer}")
            b_hh = getattr(self.rnn, f"bias_hh_l{layer}")
            x_proj = layer_input @ w_ih.T + b_ih  # every step's input term at once
            step = {"rnn": _rnn_step, "lstm": _lstm_step, "gru": _gru_step}[cell]
            h, c = hs[layer], (cs[layer] if cs is not None else None)
            records: dict[str, list[torch.Tensor]] = {name: [] for name in TRACE_QUANTITIES[cell]}
            for t in range(ids.shape[1]):
                values = step(x_proj[:, t], h, c, w_hh, b_hh)
                h, c = values["h"], values.get("c")
                for name, value in values.items():
                    records[name].append(value)
            layers.append({name: torch.stack(seq, dim=1) for name, seq in records.items()})
            final_h.append(h)
            final_c.append(c)
            layer_input = layers[-1]["h"]
        logits = self.readout(layer_input)
        h_n = torch.stack(final_h)
        return layers, logits, ((h_n, torch.stack(final_c)) if cell == "lstm" else h_n)


def _rnn_step(x_proj, h, c, w_hh, b_hh):
    return {"h": torch.tanh(x_proj + h @ w_hh.T + b_hh)}


def _lstm_step(x_proj, h, c, w_hh, b_hh):
    i, f, g, o = (x_proj + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * torch.tanh(c)}


def _gru_step(x_proj, h, c, w_hh, b_hh):
    x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}


def init_uniform(model: nn.Module, scale: float) -> None:
    """The paper's initialisation: every parameter uniform in [-scale, scale]."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-scale, scale)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """``torch.load(weights_only=True)`` with a clear error for a missing or damaged file."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as error:
        raise UserError(f"checkpoint {path} not found") from error
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise UserError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {str(error)[:120]}); "
            "it is damaged or not a lit-rnn checkpoint: delete it and rerun to retrain"
        ) from error
