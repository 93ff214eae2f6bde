"""The networks: byte-level RNN, LSTM and GRU language models with exact gate traces, and the n-NN.

Training and evaluation run PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (cuDNN on a GPU).
:meth:`CharLM.trace` runs the *same weights* through the per-step equations written out
(:func:`rnn_step`, :func:`lstm_step`, :func:`gru_step`), so the analyses can read every gate, cell
and hidden value the fused kernels never expose. The n-NN (:class:`NNN`) sees only the last n
bytes; it is trained, carried and evaluated exactly like the recurrent models.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lit_rnn.errors import UserError

RECURRENT = ("rnn", "lstm", "gru")
ARCHITECTURES = (*RECURRENT, "nnn")  # "nnn": the n-NN baseline
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per layer, in PyTorch's gate order
FUSED_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}  # PyTorch's fused modules (cuDNN on a GPU)
# Quantities that trace() records per layer, in PyTorch's gate order.
TRACE_QUANTITIES = {
    "rnn": ("h",),
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("r", "z", "n", "h"),
}
REFERENCE_LSTM_SIZES = (64, 128, 256, 512)  # the paper's 1-layer LSTM sizes that set the budgets
NNN_HIDDEN = 512  # the n-NN's tanh units (fixed; see chapter 5)


@dataclass(frozen=True)
class ModelConfig:
    """What a model is: architecture, depth, width, vocabulary, dropout (and the n of an n-NN)."""

    architecture: str
    n_layers: int
    hidden_size: int
    vocab_size: int
    dropout: float = 0.0
    context: int = 0  # bytes an n-NN sees; 0 for recurrent models, which see everything

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise UserError(f"unknown architecture {self.architecture!r}: choose one of {', '.join(ARCHITECTURES)}")
        if (self.architecture == "nnn") != (self.context > 0):
            raise UserError("an n-NN needs context >= 1 and a recurrent model context 0")
        if not self.n_layers >= 1:
            raise UserError(f"n_layers must be at least 1, got {self.n_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """A config from its JSON form, including the form of lit-rnn <= 0.1 (``cell`` for the architecture)."""
        values = dict(values)
        if "cell" in values:
            values["architecture"] = values.pop("cell")
        return cls(**values)

    @property
    def name(self) -> str:
        if self.architecture == "nnn":
            return f"{self.context}-NN"
        return f"{self.architecture}-{self.n_layers}x{self.hidden_size}"


def nnn_config(context: int, vocab_size: int, dropout: float = 0.0, hidden_size: int = NNN_HIDDEN) -> ModelConfig:
    """The n-NN that sees the last ``context`` bytes."""
    return ModelConfig("nnn", 1, hidden_size, vocab_size, dropout, context=context)


def parameter_count(architecture: str, n_layers: int, hidden_size: int, vocab_size: int) -> int:
    """Parameters of a CharLM, counted as PyTorch stores them (two bias vectors per layer)."""
    gates = GATE_BLOCKS[architecture] * hidden_size
    first = gates * (vocab_size + hidden_size + 2)
    deeper = (n_layers - 1) * gates * (2 * hidden_size + 2)
    readout = (hidden_size + 1) * vocab_size
    return first + deeper + readout


def matched_hidden_size(architecture: str, n_layers: int, budget: int, vocab_size: int) -> int:
    """The hidden size whose parameter count is closest to ``budget``."""
    sizes = np.arange(1, 4097)
    counts = np.array([parameter_count(architecture, n_layers, int(h), vocab_size) for h in sizes])
    return int(sizes[np.argmin(np.abs(counts - budget))])


def budget(size: int, vocab_size: int, reference_sizes: tuple[int, ...] = REFERENCE_LSTM_SIZES) -> int:
    """Parameters of the paper's ``size``-th budget: a 1-layer LSTM of ``reference_sizes[size]`` cells."""
    return parameter_count("lstm", 1, reference_sizes[size], vocab_size)


def parameter_matched_grid(
    vocab_size: int,
    architectures: tuple[str, ...] = RECURRENT,
    depths: tuple[int, ...] = (1, 2, 3),
    reference_sizes: tuple[int, ...] = REFERENCE_LSTM_SIZES,
) -> list[dict]:
    """The paper's grid: per architecture and depth, hidden sizes matching the 1-layer LSTM budgets.

    Each row: architecture, n_layers, size (0..3), hidden_size, parameters, budget.
    """
    rows = []
    for size in range(len(reference_sizes)):
        target = budget(size, vocab_size, reference_sizes)
        for architecture in architectures:
            for depth in depths:
                hidden = matched_hidden_size(architecture, depth, target, vocab_size)
                rows.append(dict(architecture=architecture, n_layers=depth, size=size, hidden_size=hidden,
                                 parameters=parameter_count(architecture, depth, hidden, vocab_size), budget=target))
    return rows


class CharLM(nn.Module):
    """One-hot bytes → stacked RNN/LSTM/GRU → linear read-out to next-byte logits.

    Dropout (as in char-rnn) acts between layers and on the top layer before the read-out.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.rnn = FUSED_LAYERS[config.architecture](
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
        return (h, torch.zeros_like(h)) if self.config.architecture == "lstm" else h

    def one_hot(self, ids: torch.Tensor) -> torch.Tensor:
        return F.one_hot(ids.long(), self.config.vocab_size).to(self.readout.weight.dtype)

    def forward(self, ids: torch.Tensor, state=None):
        """Logits (batch, time, vocab) for ids (batch, time), and the state after the last step."""
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        hidden, state = self.rnn(self.one_hot(ids), state)
        return self.readout(self.drop(hidden)), state

    def layer_weights(self, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(W_ih, b_ih, W_hh, b_hh)`` of one layer, the fused kernel's own tensors."""
        return tuple(getattr(self.rnn, f"{name}_l{layer}") for name in ("weight_ih", "bias_ih", "weight_hh", "bias_hh"))

    @torch.no_grad()
    def trace(self, ids: torch.Tensor, state=None) -> tuple[tuple[list[dict[str, torch.Tensor]], torch.Tensor], object]:
        """Explicit per-step equations over ids (batch, time) with the fused path's weights.

        Returns ``((layers, logits), state)``: per layer, a dict of (batch, time, hidden) tensors
        named as in ``TRACE_QUANTITIES``; the logits; and the final state in ``forward``'s form,
        so a trace carries its state exactly as ``forward`` does. Runs without dropout, as
        evaluation does.
        """
        architecture = self.config.architecture
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        hs, cs = state if architecture == "lstm" else (state, None)
        step = STEPS[architecture]
        layer_input = self.one_hot(ids)
        layers, final_h, final_c = [], [], []
        for layer in range(self.config.n_layers):
            w_ih, b_ih, w_hh, b_hh = self.layer_weights(layer)
            x_proj = layer_input @ w_ih.T + b_ih  # every step's input term at once
            h, c = hs[layer], (cs[layer] if cs is not None else None)
            records: dict[str, list[torch.Tensor]] = {name: [] for name in TRACE_QUANTITIES[architecture]}
            for t in range(ids.shape[1]):
                values = step(x_proj[:, t], h, c, w_hh, b_hh)
                h, c = values["h"], values.get("c")
                for name, value in values.items():
                    records[name].append(value)
            layers.append({name: torch.stack(seq, dim=1) for name, seq in records.items()})
            final_h.append(h)
            final_c.append(c)
            layer_input = layers[-1]["h"]
        h_n = torch.stack(final_h)
        return (layers, self.readout(layer_input)), ((h_n, torch.stack(final_c)) if architecture == "lstm" else h_n)


# The equations that traces run, one time step of one layer. ``x_proj`` is the input term
# W_ih x_t + b_ih (computed for all steps at once); ``h``, ``c`` the previous step's state.


def rnn_step(x_proj, h, c, w_hh, b_hh):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
    return {"h": torch.tanh(x_proj + h @ w_hh.T + b_hh)}


def lstm_step(x_proj, h, c, w_hh, b_hh):
    """Gates i, f, o = σ(·), candidate g = tanh(·); c_t = f ⊙ c_{t-1} + i ⊙ g; h_t = o ⊙ tanh(c_t)."""
    i, f, g, o = (x_proj + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * torch.tanh(c)}


def gru_step(x_proj, h, c, w_hh, b_hh):
    """PyTorch's GRU: r, z = σ(·); n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}."""
    x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}


STEPS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


class NNN(nn.Module):
    """The n-NN: the concatenated one-hot vectors of the last n bytes → tanh hidden layer → logits.

    The first layer multiplies a one-hot vector, so it is computed as a sum of looked-up
    rows (``hidden = tanh(b + Σ_j W_j[byte_{t-j}])``): the same function, without n·K-wide inputs,
    in one fused ``embedding_bag`` (about 4x faster to train than a loop over the n offsets at n = 20).
    Before a row's start there is no byte; its one-hot vector is all zeros (a per-sample weight of 0).
    Its "state" is the last n-1 input ids of each row, so it is batched and carried like a
    recurrent model's.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n, vocab, hidden = config.context, config.vocab_size, config.hidden_size
        self.input_weight = nn.Parameter(torch.empty(n * vocab, hidden))  # rows: (offset, byte)
        self.input_bias = nn.Parameter(torch.empty(hidden))
        self.drop = nn.Dropout(config.dropout)
        self.readout = nn.Linear(hidden, vocab)
        nn.init.uniform_(self.input_weight, -0.08, 0.08)  # the paper's init (training redoes it)
        nn.init.uniform_(self.input_bias, -0.08, 0.08)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """No bytes seen yet: n-1 'absent' ids (-1) per row."""
        return torch.full((batch_size, self.config.context - 1), -1, dtype=torch.long, device=device)

    def forward(self, ids: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (batch, time, vocab) for ids (batch, time); the state is the last n-1 ids."""
        n, vocab = self.config.context, self.config.vocab_size
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        history = torch.cat([state, ids.long()], dim=1)  # (batch, n-1+time)
        windows = history.unfold(1, n, 1)  # (batch, time, n): oldest byte first, the current one last
        rows = windows.clamp(min=0) + torch.arange(n - 1, -1, -1, device=ids.device) * vocab  # (offset, byte)
        present = (windows >= 0).to(self.input_weight.dtype)
        pre_activation = F.embedding_bag(rows.reshape(-1, n), self.input_weight, mode="sum",
                                         per_sample_weights=present.reshape(-1, n))
        hidden = torch.tanh(pre_activation.view(*windows.shape[:2], -1) + self.input_bias)
        return self.readout(self.drop(hidden)), history[:, history.shape[1] - (n - 1) :]


Model = CharLM | NNN


def build_model(config: ModelConfig) -> Model:
    """The network a model config describes: a recurrent CharLM or an n-NN."""
    return NNN(config) if config.architecture == "nnn" else CharLM(config)


def init_uniform(model: nn.Module, scale: float) -> None:
    """The paper's initialisation: every parameter uniform in [-scale, scale]."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-scale, scale)


def detach(state):
    """A carried state cut from the graph that made it (a tensor, or the LSTM's (h, c))."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def weights(model: Model) -> dict:
    """What a weights file holds: the model's config (to rebuild it) and its state."""
    return {"model_config": dataclasses.asdict(model.config), "model": model.state_dict()}


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


def load_model(path: str | Path, device: torch.device = torch.device("cpu"), vocab_size: int | None = None) -> Model:
    """The model in a weights file (weights-only load), in fp32 on ``device``, in eval mode.

    Weights stored in a lower precision (the shipped runs keep fp16) are widened to fp32.
    """
    checkpoint = load_checkpoint(path, device)
    config = ModelConfig.from_dict(checkpoint["model_config"])
    if vocab_size is not None and config.vocab_size != vocab_size:
        raise UserError(
            f"checkpoint {path} is for a vocabulary of {config.vocab_size} bytes, but this corpus "
            f"has {vocab_size}: it was trained on another corpus"
        )
    model = build_model(config)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise UserError(f"the weights in {path} do not fit a {config.name} ({str(error).splitlines()[0]})") from error
    return model.to(device).eval()
