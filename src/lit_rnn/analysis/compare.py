"""Comparing models (the paper's Table 1 and Figure 2): test loss over the grid, agreement, t-SNE."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lit_rnn.predictions import Predictions, check_aligned

# The paper's best test cross-entropies (nats per byte), the only ones it states in the text.
PAPER_BEST_LSTM = {"warpeace": 1.077, "linux": 0.84}


def loss_table(predictions: list[Predictions], configs: list, parameters: list[int],
               corpus_name: str | None = None) -> pd.DataFrame:
    """Table 1: one row per model (architecture, layers, hidden, parameters, dropout) with its test loss.

    ``configs`` are the models' :class:`~lit_rnn.models.ModelConfig` and ``parameters`` their
    parameter counts (from the runs' results), aligned with ``predictions``. The ``paper`` column
    holds the paper's best LSTM loss on the best LSTM's row, where known.
    """
    rows = [
        dict(
            model=p.name,
            architecture=c.architecture,
            layers=c.n_layers,
            hidden=c.hidden_size,
            parameters=count,
            dropout=c.dropout,
            test_loss=p.cross_entropy,
            error_rate=float(p.errors.mean()),
        )
        for p, c, count in zip(predictions, configs, parameters, strict=True)
    ]
    table = pd.DataFrame(rows).sort_values(["architecture", "layers", "parameters"]).reset_index(drop=True)
    table["paper"] = np.nan
    lstm = table[table.architecture == "lstm"]
    if corpus_name in PAPER_BEST_LSTM and len(lstm):
        table.loc[lstm.test_loss.idxmin(), "paper"] = PAPER_BEST_LSTM[corpus_name]
    return table


def finite_horizon_table(ngrams: dict[int, Predictions], nnns: dict[int, Predictions],
                         best: Predictions | None = None) -> pd.DataFrame:
    """Table 2: test cross-entropy of the n-gram and n-NN models by n, beside the best recurrent model."""
    orders = sorted(set(ngrams) | set(nnns))
    table = pd.DataFrame({
        "n": orders,
        "n-gram": [ngrams[n].cross_entropy if n in ngrams else np.nan for n in orders],
        "n-NN": [nnns[n].cross_entropy if n in nnns else np.nan for n in orders],
    }).set_index("n")
    if best is not None:
        table[best.name] = best.cross_entropy
    return table


def agreement_matrix(predictions: list[Predictions]) -> pd.DataFrame:
    """How often each pair of models agrees on the most likely next byte (fraction of positions)."""
    check_aligned(predictions)
    top = np.stack([p.probs.argmax(axis=1) for p in predictions])
    agree = (top[:, None, :] == top[None, :, :]).mean(axis=2)
    names = [p.name for p in predictions]
    return pd.DataFrame(agree, index=names, columns=names)


def model_embedding(predictions: list[Predictions], seed: int = 0) -> pd.DataFrame:
    """2-D t-SNE of models, each described by the probabilities it gives the test bytes (Figure 2 right)."""
    from sklearn.manifold import TSNE

    check_aligned(predictions)
    features = np.stack([p.target_probs for p in predictions])
    if len(predictions) < 3:
        raise ValueError("a t-SNE embedding needs at least 3 models")
    perplexity = min(30.0, (len(predictions) - 1) / 3)
    coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
    return pd.DataFrame({"model": [p.name for p in predictions], "kind": [p.kind for p in predictions],
                         "x": coords[:, 0], "y": coords[:, 1]})
