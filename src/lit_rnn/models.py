"""The networks: byte-level RNN, LSTM and GRU language models with exact gate traces, the n-NN, and a Transformer.

Training and evaluation run PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (cuDNN on a GPU).
:meth:`CharLM.trace` runs the *same weights* through the per-step equations written out
(:func:`rnn_step`, :func:`lstm_step`, :func:`gru_step`), so the analyses can read every gate, cell
and hidden value the fused kernels never expose. The n-NN (:class:`NNN`) sees only the last n
bytes; it is trained, carried and evaluated exactly like the recurrent models. The
:class:`Transformer` (causal, pre-LN, a window of ``context`` bytes) carries the bytes it may still
attend to as its state, so it too is trained and evaluated like the others; its trace is its attention.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lit_rnn.errors import UserError

RECURRENT = ("rnn", "lstm", "gru")
ARCHITECTURES = (*RECURRENT, "nnn", "transformer")  # "nnn": the n-NN baseline
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per layer, in PyTorch's gate order
FUSED_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}  # PyTorch's fused modules (cuDNN on a GPU)
# Quantities that trace() records per layer, in PyTorch's gate order.
TRACE_QUANTITIES = {
    "rnn": ("h",),
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("r", "z", "n", "h"),
    "transformer": ("attention",),  # (heads, window): weight on the byte d back, d = 0..window-1
}
LATER = {"later": True}  # a field added after runs were stored: left out of a run's identity at its default
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
    context: int = 0  # bytes an n-NN or a Transformer sees; 0 for recurrent models, which see everything
    n_heads: int = field(default=0, metadata=LATER)  # a Transformer's attention heads per layer; 0 otherwise

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise UserError(f"unknown architecture {self.architecture!r}: choose one of {', '.join(ARCHITECTURES)}")
        if (self.architecture in ("nnn", "transformer")) != (self.context > 0):
            raise UserError("an n-NN or a Transformer needs context >= 1 and a recurrent model context 0")
        if (self.architecture == "transformer") != (self.n_heads > 0) or (
                self.n_heads and self.hidden_size % self.n_heads):
            raise UserError(f"a Transformer needs n_heads >= 1 dividing its width ({self.hidden_size}), "
                            "other models n_heads 0")
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
        if self.architecture == "transformer":
            return f"transformer-{self.n_layers}x{self.hidden_size}-w{self.context}"
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


def transformer_parameter_count(n_layers: int, width: int, vocab_size: int, window: int) -> int:
    """Parameters of a :class:`Transformer`: byte and position embeddings, blocks, final norm, read-out."""
    block = 12 * width * width + 13 * width  # attention 4d² + 4d, MLP 8d² + 5d, two norms 4d
    return vocab_size * width + window * width + n_layers * block + 2 * width + (width + 1) * vocab_size


def matched_transformer(n_layers: int, n_heads: int, budget: int, vocab_size: int, window: int,
                        dropout: float = 0.0) -> ModelConfig:
    """The Transformer whose width (a multiple of ``n_heads``) brings its parameter count closest to ``budget``."""
    widths = np.arange(n_heads, 2049, n_heads)
    counts = np.array([transformer_parameter_count(n_layers, int(w), vocab_size, window) for w in widths])
    width = int(widths[np.argmin(np.abs(counts - budget))])
    return ModelConfig("transformer", n_layers, width, vocab_size, dropout, context=window, n_heads=n_heads)


def matched_hidden_size(architecture: str, n_layers: int, budget: int, vocab_size: int) -> int:
    """The hidden size whose parameter count is closest to ``budget``."""
    sizes = np.arange(1, 4097)
    counts = np.array([parameter_count(architecture, n_layers, int(h), vocab_size) for h in sizes])
    return int(sizes[np.argmin(np.abs(counts - budget))])


def budget(budget_index: int, vocab_size: int, reference_sizes: tuple[int, ...] = REFERENCE_LSTM_SIZES) -> int:
    """The parameter count of the paper's ``budget_index``-th budget (0..3): a 1-layer LSTM of
    ``reference_sizes[budget_index]`` cells."""
    return parameter_count("lstm", 1, reference_sizes[budget_index], vocab_size)


def parameter_matched_grid(
    vocab_size: int,
    architectures: tuple[str, ...] = RECURRENT,
    n_layers: tuple[int, ...] = (1, 2, 3),
    reference_sizes: tuple[int, ...] = REFERENCE_LSTM_SIZES,
) -> list[dict]:
    """The paper's grid: per architecture and depth, hidden sizes matching the 1-layer LSTM budgets.

    Each row: architecture, n_layers, budget_index (0..3), hidden_size, parameters, budget (a parameter count).
    """
    rows = []
    for budget_index in range(len(reference_sizes)):
        target = budget(budget_index, vocab_size, reference_sizes)
        for architecture in architectures:
            for n in n_layers:
                hidden = matched_hidden_size(architecture, n, target, vocab_size)
                rows.append(dict(architecture=architecture, n_layers=n, budget_index=budget_index, hidden_size=hidden,
                                 parameters=parameter_count(architecture, n, hidden, vocab_size), budget=target))
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


class Block(nn.Module):
    """One pre-LN Transformer block: x + attention(LN(x)), then x + MLP(LN(x)), causal within its sequence."""

    def __init__(self, width: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block's output for x (sequences, length, width), and its attention weights if ``keep_weights``
        (sequences, heads, query, key), computed then from the softmax written out."""
        n, length, width = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(n, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        attention = None
        if keep_weights:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
            future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
            attention = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
            y = attention @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(n, length, width)))
        return x + self.drop(self.mlp(self.ln2(x))), attention


class Transformer(nn.Module):
    """A byte-level decoder-only Transformer that sees the last ``context`` (= W) bytes.

    Every prediction is a function of the text alone, however a pass cuts it into calls: the text is
    read in blocks of S bytes (``stride``, counted from the start of each row); each byte of block k
    is predicted from the sequence that starts at byte max(0, kS - (W - S)), which holds between
    W - S + 1 and W bytes up to it (fewer near the row's start), at positions 0, 1, … of that sequence.
    Evaluation slides by ``stride`` = W/4 (so each byte sees 3W/4 + 1 to W bytes; W/S times the cost of
    one pass); training reads each call's bytes as one block (S = the call's length: with 100-byte
    batches and W = 100, the usual GPT objective). The state is the last W - 1 bytes (-1 where the
    row has none yet) and how many bytes the row has seen.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        width, window = config.hidden_size, config.context
        self.stride = max(d for d in range(1, max(1, window // 4) + 1) if window % d == 0)  # evaluation's
        self.embed = nn.Embedding(config.vocab_size, width)
        self.position = nn.Embedding(window, width)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(width, config.n_heads, config.dropout) for _ in range(config.n_layers))
        self.ln = nn.LayerNorm(width)
        self.readout = nn.Linear(width, config.vocab_size)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """No bytes seen yet: W - 1 'absent' ids (-1) per row, and a count of 0."""
        history = torch.full((batch_size, self.config.context - 1), -1, dtype=torch.long, device=device)
        return history, torch.zeros(1, dtype=torch.long, device=device)

    def hidden(self, sequences: torch.Tensor, keep_weights: bool = False) -> tuple[torch.Tensor, list]:
        """Final-norm hidden states (n, length, width) of sequences that each start a window at position 0."""
        positions = torch.arange(sequences.shape[1], device=sequences.device)
        x = self.drop(self.embed(sequences) + self.position(positions))
        weights = []
        for block in self.blocks:
            x, attention = block(x, keep_weights)
            weights.append(attention)
        return self.ln(x), weights

    def _blocks(self, ids: torch.Tensor, state) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, object]:
        """The window sequences that predict ``ids`` (batch, blocks, W), per byte its block and place in it,
        and the state after ``ids``."""
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        history, seen = state
        window, time = self.config.context, ids.shape[1]
        stride = time if self.training else self.stride
        if self.training and time > window:
            raise UserError(f"a Transformer of window {window} trains on calls of at most {window} bytes, not {time}")
        buffer = torch.cat([history, ids.long()], dim=1)  # buffer[j] is byte seen - (W - 1) + j of the row
        offset = seen - (window - 1)
        absolute = seen + torch.arange(time, device=ids.device)
        block = absolute // stride if not self.training else torch.zeros_like(absolute)
        first = (block * stride if not self.training else seen) - (window - stride)
        starts = first.clamp(min=0)  # each byte's sequence start, as an offset in the row
        unique, which = torch.unique_consecutive(starts, return_inverse=True)
        padded = torch.cat([buffer, buffer.new_zeros(buffer.shape[0], window)], dim=1)  # past the end: causal, unread
        columns = (unique - offset)[:, None] + torch.arange(window, device=ids.device)
        sequences = padded[:, columns]  # (batch, blocks, W)
        places = absolute - starts
        return sequences, which, places, (buffer[:, -(window - 1):] if window > 1 else buffer[:, :0], seen + time)

    def forward(self, ids: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Logits (batch, time, vocab) for ids (batch, time), and the state after them."""
        sequences, which, places, state = self._blocks(ids, state)
        batch, blocks, window = sequences.shape
        hidden, _ = self.hidden(sequences.reshape(batch * blocks, window).clamp(min=0))
        picked = hidden.view(batch, blocks, window, -1)[:, which, places]  # (batch, time, width)
        return self.readout(picked), state

    @torch.no_grad()
    def trace(self, ids: torch.Tensor, state=None) -> tuple[tuple[list[dict[str, torch.Tensor]], torch.Tensor], object]:
        """Like ``forward``, with each layer's attention: ``((layers, logits), state)``.

        ``layers[l]["attention"]`` is (batch, time, heads, W): the weight each byte's prediction puts on
        the byte d back (d = 0 itself, … W - 1), zero beyond its sequence's start.
        """
        sequences, which, places, state = self._blocks(ids, state)
        batch, blocks, window = sequences.shape
        hidden, weights = self.hidden(sequences.reshape(batch * blocks, window).clamp(min=0), keep_weights=True)
        picked = hidden.view(batch, blocks, window, -1)[:, which, places]
        back = places[:, None] - torch.arange(window, device=ids.device)  # (time, d): the key d back
        layers = []
        for attention in weights:  # (batch * blocks, heads, query, key)
            rows = attention.view(batch, blocks, -1, window, window).transpose(2, 3)[:, which, places]  # (b, t, h, key)
            kept = rows.gather(-1, back.clamp(min=0)[None, :, None].expand_as(rows))
            layers.append({"attention": kept * (back >= 0)[None, :, None]})
        return (layers, self.readout(picked)), state


Model = CharLM | NNN | Transformer


def build_model(config: ModelConfig) -> Model:
    """The network a model config describes: a recurrent CharLM, an n-NN or a Transformer."""
    if config.architecture == "transformer":
        return Transformer(config)
    return NNN(config) if config.architecture == "nnn" else CharLM(config)


def init_uniform(model: nn.Module, scale: float) -> None:
    """The paper's initialisation: every parameter uniform in [-scale, scale]."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-scale, scale)


def detach(state):
    """A carried state cut from the graph that made it (a tensor, or the LSTM's (h, c))."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def init_normal(model: nn.Module, std: float) -> None:
    """GPT-2's initialisation: weights normal with ``std`` (residual projections scaled by 1/sqrt(2 layers)),
    biases 0, layer norms the identity."""
    n_layers = getattr(model.config, "n_layers", 1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim < 2:
                parameter.fill_(1.0 if ".ln" in f".{name}" and name.endswith("weight") else 0.0)
            else:
                residual = name.endswith(("proj.weight", "mlp.2.weight"))
                parameter.normal_(0.0, std / math.sqrt(2 * n_layers) if residual else std)


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
