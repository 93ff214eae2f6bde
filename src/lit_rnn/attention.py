"""The Transformer's attention over a text: what its trace is read from (an experiment: it runs the model).

:func:`attention_over` runs :meth:`lit_rnn.models.Transformer.trace` over a stretch of text, carried
window by window exactly as evaluation reads it; :func:`repeated_bytes` is the standard probe for
induction heads: random bytes, repeated, so every byte of the repeat has one earlier occurrence.
"""

from __future__ import annotations

import numpy as np
import torch

from lit_rnn.data import Batcher
from lit_rnn.devices import exact_fp32
from lit_rnn.errors import UserError
from lit_rnn.models import Transformer


def attention_over(model: Transformer, ids: np.ndarray, chunk: int = 200) -> list[np.ndarray]:
    """Per layer, the attention (rows, time, heads, window) of each byte's prediction over the bytes before it
    (index d: the byte d back), for id rows (rows, time) read from their starts."""
    if not isinstance(model, Transformer):
        raise UserError(f"attention is traced for a Transformer, not a {model.config.name}")
    device = next(model.parameters()).device
    inputs = torch.from_numpy(np.asarray(ids, dtype=np.int64)).to(device)
    model.eval()
    state, layers = None, []
    with torch.no_grad(), exact_fp32():
        for start in range(0, inputs.shape[1], chunk):
            (traced, _), state = model.trace(inputs[:, start:start + chunk], state)
            layers.append([values["attention"].cpu().numpy() for values in traced])
    return [np.concatenate(parts, axis=1) for parts in zip(*layers, strict=True)]


def split_attention(model: Transformer, batcher: Batcher, split: str, rows: np.ndarray,
                    length: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The attention over the first ``length`` bytes of some rows of ``split``: (positions, ids, layers), each
    flattened row by row into text order (layers: (positions, heads, window))."""
    inputs = batcher.split_inputs(split)[np.asarray(rows), :length]
    positions = batcher.positions(split)[np.asarray(rows), :length].reshape(-1)
    layers = attention_over(model, inputs)
    return positions, inputs.reshape(-1), [layer.reshape(-1, *layer.shape[2:]) for layer in layers]


def repeated_bytes(vocab_size: int, period: int, rows: int = 16, seed: int = 0) -> np.ndarray:
    """``rows`` sequences of ``period`` random byte ids, each followed by itself: (rows, 2 * period)."""
    if period < 2:
        raise UserError(f"the repeated probe needs a period of at least 2 bytes, got {period}")
    first = np.random.default_rng(seed).integers(0, vocab_size, size=(rows, period))
    return np.concatenate([first, first], axis=1)
