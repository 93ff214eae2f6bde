"""The n-NN baseline: a feed-forward network that sees only the last n bytes.

Input: the one-hot vectors of the previous n bytes, concatenated (n·K values); one hidden layer
of 512 tanh units; a softmax read-out over the K bytes. Its "state" is the last n-1 input ids of
each row, so it is batched, carried, trained (by :mod:`lit_rnn.train`), evaluated and cached
exactly like the recurrent models, and its predictions take the same form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lit_rnn.models import ModelConfig

NNN_HIDDEN = 512


def nnn_config(context: int, vocab_size: int, dropout: float = 0.0, hidden_size: int = NNN_HIDDEN) -> ModelConfig:
    return ModelConfig("nnn", 1, hidden_size, vocab_size, dropout, context=context)


class NNN(nn.Module):
    """Concatenated one-hot window of n bytes → tanh hidden layer → next-byte logits.

    The first layer multiplies a one-hot vector, so it is computed as a sum of looked-up
    rows (``hidden = tanh(b + Σ_j W_j[byte_{t-j}])``): the same function, without n·K-wide inputs,
    in one fused ``embedding_bag`` (about 4x faster to train than a loop over the n offsets at n = 20).
    Before a row's start there is no byte; its one-hot vector is all zeros (a per-sample weight of 0).
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
