"""Comparing models: test losses with bootstrap uncertainty (Tables 1 and 2), agreement, and the t-SNE
of models (the paper's Figure 1), with the claims the paper draws from them.

Uncertainty: the test split is char-rnn's 100 (``batch_size``) contiguous segments spread through
the text. A test loss's standard deviation is estimated by the bootstrap over those segments
(resampled with replacement, each segment's bytes kept together), as the paper estimates its own
from bootstrap samples; a difference between two models on the same bytes is bootstrapped paired
(the same resampled segments for both), and called within noise when smaller than twice its
standard deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lit_rnn.analysis.scorecard import NOISE, Claim, judge
from lit_rnn.predictions import Predictions, check_aligned

if TYPE_CHECKING:
    from lit_rnn.models import ModelConfig

# The paper's test cross-entropies (nats per byte) that the book compares with: its best LSTMs and,
# for Linux, its 20-gram. The paper's Linux corpus was built from a 2015 kernel (101 symbols) and
# this one from Linux 6.1 (110 symbols), so Linux is compared by the ratio of LSTM to 20-gram.
PAPER = {"warpeace": {"best LSTM": 1.077}, "linux": {"best LSTM": 0.84, "20-gram": 0.889}}
BOOTSTRAP_SAMPLES = 1000


def segment_losses(predictions: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Summed loss and byte count of each contiguous segment of the split (char-rnn's rows)."""
    breaks = np.flatnonzero(np.diff(predictions.positions) != 1) + 1
    starts = np.concatenate([[0], breaks])
    losses = -np.add.reduceat(predictions.target_log_probs.astype(np.float64), starts)
    return losses, np.diff(np.concatenate([starts, [len(predictions.positions)]]))


def _bootstrap_means(losses: np.ndarray, counts: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Mean loss per byte of ``samples`` bootstrap resamplings of the segments (columns of ``losses``)."""
    picks = np.random.default_rng(seed).integers(0, len(counts), size=(samples, len(counts)))
    return losses[..., picks].sum(axis=-1) / counts[picks].sum(axis=-1)


def bootstrap_std(predictions: Predictions, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> float:
    """Standard deviation of the test loss under resampling of the split's segments."""
    losses, counts = segment_losses(predictions)
    return float(_bootstrap_means(losses, counts, samples, seed).std())


def paired_bootstrap_std(a: Predictions, b: Predictions, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> float:
    """Standard deviation of the loss difference ``a - b`` under the same resampled segments for both."""
    check_aligned([a, b])
    (loss_a, counts), (loss_b, _) = segment_losses(a), segment_losses(b)
    return float(_bootstrap_means(loss_a - loss_b, counts, samples, seed).std())


@dataclass(frozen=True)
class ScoredModel:
    """One row of Table 1's input: a model's test predictions, its config, parameter count and how long it trained
    (``Run.training``, e.g. "50 epochs"; the claims compare only models trained alike)."""

    predictions: Predictions
    config: ModelConfig
    parameters: int
    training: str = ""


def loss_table(models: Sequence[ScoredModel], budgets: Sequence[int], corpus_name: str | None = None) -> pd.DataFrame:
    """Table 1: one row per model (architecture, layers, budget, hidden, parameters, dropout, training) with its
    test loss and bootstrap standard deviation.

    ``budgets`` are the paper's four parameter budgets, and ``budget`` is the index of the one nearest each
    model. The ``paper`` column holds the paper's best LSTM loss on the best LSTM's row, where known.
    """
    rows = [
        dict(model=m.predictions.name, architecture=m.config.architecture, layers=m.config.n_layers,
             budget=int(np.argmin(np.abs(np.log(m.parameters) - np.log(budgets)))), hidden=m.config.hidden_size,
             parameters=m.parameters, dropout=m.config.dropout, training=m.training,
             test_loss=m.predictions.cross_entropy, std=bootstrap_std(m.predictions),
             error_rate=float(m.predictions.errors.mean()))
        for m in models
    ]
    table = pd.DataFrame(rows).sort_values(["architecture", "layers", "parameters"]).reset_index(drop=True)
    table["paper"] = np.nan
    lstm = table[table.architecture == "lstm"]
    reference = PAPER.get(corpus_name, {}).get("best LSTM")
    if reference is not None and len(lstm):
        table.loc[lstm.test_loss.idxmin(), "paper"] = reference
    return table


def validation_rises(metrics: dict[str, list[dict]], at_least: float = 0.05) -> pd.DataFrame:
    """Where a run's validation loss rose by ``at_least`` nats/byte or more from one evaluation to the next:
    run, epochs, losses before and after, the training loss over the same stretch, and the validation loss at
    the evaluation after (NaN where there is none)."""
    rows = [dict(model=name, epoch_before=a["epoch"], epoch=b["epoch"], val_before=a["val_loss"],
                 val_after=b["val_loss"], train_before=a["train_loss"], train_after=b["train_loss"],
                 val_next=records[k + 2]["val_loss"] if k + 2 < len(records) else np.nan)
            for name, records in metrics.items() for k, (a, b) in enumerate(zip(records, records[1:]))
            if b["val_loss"] - a["val_loss"] >= at_least]
    return pd.DataFrame(rows, columns=["model", "epoch_before", "epoch", "val_before", "val_after", "train_before",
                                       "train_after", "val_next"])


def byte_entropy(data: np.ndarray) -> float:
    """The loss of predicting every byte by its frequency alone (nats/byte): the plateau a model starts from."""
    frequencies = np.bincount(np.asarray(data, np.uint8), minlength=256) / len(data)
    frequencies = frequencies[frequencies > 0]
    return float(-(frequencies * np.log(frequencies)).sum())


def finite_horizon_table(ngrams: dict[int, Predictions], nnns: dict[int, Predictions],
                         recurrent: Predictions | None = None) -> pd.DataFrame:
    """Table 2: test cross-entropy by bytes of context ``n``: the n-gram seeing n bytes (KenLM order n + 1)
    and the n-NN seeing n bytes, with bootstrap standard deviations, beside a recurrent model."""
    contexts = sorted(set(ngrams) | set(nnns))

    def column(models: dict[int, Predictions], value) -> list[float]:
        return [value(models[n]) if n in models else np.nan for n in contexts]

    table = pd.DataFrame({
        "n": contexts,
        "n-gram": column(ngrams, lambda p: p.cross_entropy),
        "n-gram std": column(ngrams, bootstrap_std),
        "n-NN": column(nnns, lambda p: p.cross_entropy),
        "n-NN std": column(nnns, bootstrap_std),
    }).set_index("n")
    if recurrent is not None:
        table[recurrent.name] = recurrent.cross_entropy
    return table


def agreement_matrix(predictions: list[Predictions]) -> pd.DataFrame:
    """How often each pair of models agrees on the most likely next byte (fraction of positions)."""
    check_aligned(predictions)
    top = np.stack([p.probs.argmax(axis=1) for p in predictions])
    agree = (top[:, None, :] == top[None, :, :]).mean(axis=2)
    names = [p.name for p in predictions]
    return pd.DataFrame(agree, index=names, columns=names)


def model_embedding(agreement: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """2-D t-SNE of models from their pairwise agreement on the most likely next byte (the paper's
    Figure 1, right): the distance between two models is the fraction of test bytes where they disagree."""
    from sklearn.manifold import TSNE

    if len(agreement) < 3:
        raise ValueError("a t-SNE embedding needs at least 3 models")
    distance = 1.0 - agreement.to_numpy()
    np.fill_diagonal(distance, 0.0)
    perplexity = min(30.0, (len(agreement) - 1) / 3)
    coords = TSNE(n_components=2, perplexity=perplexity, metric="precomputed", init="random",
                  random_state=seed).fit_transform(distance)
    return pd.DataFrame({"model": agreement.index, "x": coords[:, 0], "y": coords[:, 1]})


# -- The paper's claims about the comparison -----------------------------------------------------


def _differences(table: pd.DataFrame, predictions: dict[str, Predictions], better: pd.DataFrame,
                 worse: pd.DataFrame) -> list[tuple[str, str, float, bool]]:
    """For aligned rows: (better model, worse model, loss difference, whether it exceeds the noise)."""
    out = []
    for (_, b), (_, w) in zip(better.iterrows(), worse.iterrows()):
        delta = w.test_loss - b.test_loss
        noise = NOISE * paired_bootstrap_std(predictions[w.model], predictions[b.model])
        out.append((b.model, w.model, delta, delta > noise))
    return out


def depth_claim(table: pd.DataFrame, predictions: dict[str, Predictions]) -> Claim:
    """The paper: depth of at least 2 is beneficial. Tested at every (training, architecture, budget) with a
    1-layer model: the best deeper model is better by more than the noise."""
    pairs = []
    for _, group in table.groupby(["training", "architecture", "budget"]):
        one, deeper = group[group.layers == 1], group[group.layers >= 2]
        if len(one) and len(deeper):
            pairs.append((deeper.loc[[deeper.test_loss.idxmin()]], one.loc[[one.test_loss.idxmin()]]))
    results = [r for better, worse in pairs for r in _differences(table, predictions, better, worse)]
    if not results:
        return Claim("Models", "Depth of at least 2 helps", "no budget has both a 1-layer and a deeper model",
                     judge(None))
    wins = sum(significant for *_, significant in results)
    measured = "; ".join(f"{b} beats {w} by {d:+.3f}" + ("" if s else " (within noise)") for b, w, d, s in results)
    return Claim("Models", "Depth of at least 2 helps", measured,
                 judge(wins == len(results), partly=wins > 0))


def gated_claim(table: pd.DataFrame, predictions: dict[str, Predictions]) -> Claim:
    """The paper: the LSTM and the GRU significantly outperform the RNN. Tested at every (training, depth,
    budget) where an RNN and a gated model were both trained."""
    results = []
    for _, group in table.groupby(["training", "layers", "budget"]):
        rnn = group[group.architecture == "rnn"]
        for gated in ("lstm", "gru"):
            rival = group[group.architecture == gated]
            if len(rnn) and len(rival):
                results += _differences(table, predictions, rival.iloc[[0]], rnn.iloc[[0]])
    if not results:
        return Claim("Models", "The LSTM and the GRU beat the RNN", "no RNN beside a gated model of its size",
                     judge(None))
    wins = sum(significant for *_, significant in results)
    measured = "; ".join(f"{b} vs {w}: {d:+.3f}" + ("" if s else " (within noise)") for b, w, d, s in results)
    return Claim("Models", "The LSTM and the GRU beat the RNN", measured, judge(wins == len(results), partly=wins > 0))


def cluster_claim(agreement: pd.DataFrame, architectures: dict[str, str],
                  trainings: dict[str, str] | None = None) -> Claim:
    """The paper: LSTM and GRU predictions are similar and the RNNs form a cluster of their own. Tested on
    agreement: gated models agree with each other more than with any RNN, and RNNs with each other
    (where there are two) more than with any gated model. With ``trainings`` (model → how long it trained),
    only the largest group of models trained alike is compared, so training time does not pose as type."""
    if trainings:
        common = pd.Series(trainings).value_counts().idxmax()
        alike = [m for m in agreement.index if trainings[m] == common]
        agreement = agreement.loc[alike, alike]
    gated = [m for m in agreement.index if architectures[m] in ("lstm", "gru")]
    rnns = [m for m in agreement.index if architectures[m] == "rnn"]
    if len(gated) < 2 or not rnns:
        return Claim("Models", "LSTM and GRU predictions cluster apart from the RNN's",
                     "needs two gated models and an RNN", judge(None))
    within = agreement.loc[gated, gated].to_numpy()[~np.eye(len(gated), dtype=bool)]
    across = agreement.loc[gated, rnns].to_numpy()
    holds = within.min() > across.max()
    measured = (f"gated models agree with each other on {within.min():.1%}–{within.max():.1%} of bytes, with an "
                f"RNN on {across.min():.1%}–{across.max():.1%}")
    if len(rnns) >= 2:
        among = agreement.loc[rnns, rnns].to_numpy()[~np.eye(len(rnns), dtype=bool)]
        holds = holds and among.min() > across.max()
        measured += f"; RNNs with each other on {among.min():.1%}–{among.max():.1%}"
    if trainings:
        measured = f"models trained for {common}: {measured}"
    return Claim("Models", "LSTM and GRU predictions cluster apart from the RNN's", measured,
                 judge(holds, partly=within.mean() > across.mean()))


SIMILAR = 0.02  # "nearly identical" losses: within 2% of each other


def finite_horizon_claims(ngrams: dict[int, Predictions], nnns: dict[int, Predictions], recurrent: Predictions,
                          corpus_name: str | None = None) -> list[Claim]:
    """The paper's claims about Table 2: n-NN and n-gram nearly identical at small n; the n-NN overfitting,
    and the n-gram ahead, at large n; the best recurrent model ahead of the 20-byte-context n-gram."""
    both = sorted(set(ngrams) & set(nnns))
    small = [n for n in both if n <= 3]
    if small:
        gaps = {n: nnns[n].cross_entropy / ngrams[n].cross_entropy - 1 for n in small}
        close = [abs(g) <= SIMILAR for g in gaps.values()]
        similar = Claim("Baselines", "n-NN and n-gram nearly identical at small n",
                        "; ".join(f"n = {n}: n-NN {g:+.1%} against the n-gram" for n, g in gaps.items()),
                        judge(all(close), partly=any(close)))
    else:
        similar = Claim("Baselines", "n-NN and n-gram nearly identical at small n", "no n <= 3 with both",
                        judge(None))
    if both and max(both) > 3:
        n = max(both)
        delta = nnns[n].cross_entropy - ngrams[n].cross_entropy
        noise = NOISE * paired_bootstrap_std(nnns[n], ngrams[n])
        best_n = min(nnns, key=lambda k: nnns[k].cross_entropy)
        overfit = Claim("Baselines", "At large n the n-NN overfits and the n-gram is better",
                        f"n = {n}: n-gram {ngrams[n].cross_entropy:.3f}, n-NN {nnns[n].cross_entropy:.3f} "
                        f"({delta:+.3f}); the best n-NN is at n = {best_n}",
                        judge(delta > noise and best_n < n, partly=delta > noise or best_n < n))
    else:
        overfit = Claim("Baselines", "At large n the n-NN overfits and the n-gram is better", "no large n with both",
                        judge(None))
    top = max(ngrams, default=None)
    if top is None:
        return [similar, overfit, Claim("Baselines", "The best recurrent model beats the 20-gram", "no n-gram",
                                        judge(None))]
    gram = ngrams[top]
    delta = gram.cross_entropy - recurrent.cross_entropy
    noise = NOISE * paired_bootstrap_std(gram, recurrent)
    measured = (f"{recurrent.name} {recurrent.cross_entropy:.3f} against the n-gram with {top} bytes of context "
                f"{gram.cross_entropy:.3f} ({-delta:+.3f})")
    paper = PAPER.get(corpus_name, {})
    if "20-gram" in paper:
        measured += (f"; ratio {recurrent.cross_entropy / gram.cross_entropy:.3f}, the paper's "
                     f"{paper['best LSTM'] / paper['20-gram']:.3f} (its own corpus)")
    beats = Claim("Baselines", "The best recurrent model beats the 20-gram", measured, judge(delta > noise))
    return [similar, overfit, beats]
