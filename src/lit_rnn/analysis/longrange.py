"""Long-range interactions (the paper's Figures 4 and 5): where the LSTM beats finite-horizon models.

Every function takes ``Predictions`` of several models over the same split: which errors they
share, which bytes each predicts better, how well each predicts a closing brace as a function
of the distance to its opener, and how an LSTM's predictions drift away from those of the
n-NN baselines during training. Index ``i`` of a ``Predictions`` predicts the byte at corpus
offset ``positions[i] + 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lit_rnn.analysis.scorecard import Claim, judge
from lit_rnn.analysis.signals import Syntax, nesting_depth
from lit_rnn.data import byte_label
from lit_rnn.errors import UserError
from lit_rnn.predictions import Predictions, check_aligned

DISTANCE_EDGES = (1, 20, 40, 60, 80, 100, 150, 200, 300, 500, np.inf)
OPENERS = {b"}": b"{", b")": b"(", b"]": b"[", b'"': b'"'}


def _check_names(predictions: Sequence[Predictions]) -> list[str]:
    """The models' names, which label columns and so must be distinct."""
    check_aligned(predictions)
    names = [p.name for p in predictions]
    if len(set(names)) != len(names):
        raise UserError(f"model names must be distinct to label columns, got {names}")
    return names


def error_overlap(predictions: Sequence[Predictions]) -> pd.DataFrame:
    """Errors made by exactly each combination of models (an upset / Venn table), largest first.

    One boolean column per model says whether it is in the combination; ``count`` is the number
    of positions where exactly those models err, ``share`` its fraction of all positions where
    any model errs. Single-model rows are errors unique to that model.
    """
    names = _check_names(predictions)
    code = sum(p.errors.astype(np.int64) << k for k, p in enumerate(predictions))
    counts = np.bincount(code, minlength=1 << len(predictions))
    combos = np.arange(1, 1 << len(predictions))
    table = pd.DataFrame({name: (combos >> k) & 1 == 1 for k, name in enumerate(names)})
    table["models"] = [" & ".join(n for k, n in enumerate(names) if c >> k & 1) for c in combos]
    table["count"] = counts[1:]
    table["share"] = table["count"] / max(counts[1:].sum(), 1)
    return table.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def per_byte_probability(predictions: Sequence[Predictions], vocab: np.ndarray) -> pd.DataFrame:
    """Mean probability each model gives the correct byte, per byte value that occurs as a target.

    ``vocab`` maps vocabulary ids to byte values (``Corpus.vocab``). Columns: byte, label,
    count, then one column per model.
    """
    _check_names(predictions)
    targets = predictions[0].targets.astype(np.int64)
    counts = np.bincount(targets, minlength=len(vocab))
    present = np.flatnonzero(counts)
    table = pd.DataFrame({
        "byte": np.asarray(vocab)[present].astype(int),
        "label": [byte_label(int(b)) for b in np.asarray(vocab)[present]],
        "count": counts[present],
    })
    for p in predictions:
        sums = np.bincount(targets, weights=p.target_probs, minlength=len(vocab))
        table[p.name] = sums[present] / counts[present]
    return table


def byte_advantage(per_byte: pd.DataFrame, model: str, baseline: str) -> pd.DataFrame:
    """``per_byte_probability``'s table with ``advantage`` = model minus baseline, largest first."""
    missing = [m for m in (model, baseline) if m not in per_byte.columns]
    if missing:
        raise UserError(f"no column for {missing} in the per-byte table")
    table = per_byte.assign(advantage=per_byte[model] - per_byte[baseline])
    return table.sort_values("advantage", ascending=False, kind="stable").reset_index(drop=True)


def bracket_pairs(syntax: Syntax, closer: bytes = b"}") -> np.ndarray:
    """Offsets (opener, closer) of every matched pair of ``closer``'s kind over the whole text, by closer.

    Pairs follow the text's lexing in its language (``signals.lex``), as the depth signals do:
    brackets count only in code (not in comments, strings or character literals; everywhere in
    prose), and ``"`` pairs are the string literals delimited by ``"`` (in prose, the quotations).
    A closer with nothing open is dropped.
    """
    if closer not in OPENERS:
        raise UserError(f"closer {closer!r} not supported: choose one of {b''.join(OPENERS).decode()}")
    if closer == b'"':
        return syntax.quote_pairs
    data, opener = syntax.data, OPENERS[closer]
    depth = nesting_depth(data, opener, closer, syntax.code)
    before = np.concatenate([[0], depth[:-1]])
    openers = np.flatnonzero((data == ord(opener)) & syntax.code)
    closers = np.flatnonzero((data == ord(closer)) & syntax.code & (before > 0))
    # At each level, events alternate opener, closer: a closer's predecessor at its level is its opener.
    offsets = np.concatenate([openers, closers])
    levels = np.concatenate([depth[openers], before[closers]])
    order = np.lexsort((offsets, levels))
    is_closer = np.concatenate([np.zeros(len(openers), bool), np.ones(len(closers), bool)])[order]
    pairs = np.stack([offsets[order][np.flatnonzero(is_closer) - 1], offsets[order][is_closer]], axis=1)
    return pairs[np.argsort(pairs[:, 1])]


def closer_probability_by_distance(
    predictions: Sequence[Predictions],
    syntax: Syntax,
    closer: bytes = b"}",
    edges: Sequence[float] = DISTANCE_EDGES,
) -> pd.DataFrame:
    """Mean probability each model gives ``closer`` per bucket of distance back to its opener (Figure 5 left).

    ``syntax`` is the whole corpus lexed in its language (``Study.syntax``): matching is computed
    over the whole text, so an opener before the split's segment counts.
    Buckets are ``[edges[k], edges[k+1])`` in bytes; empty ones are left out. Columns: bucket,
    low, high, count, then one column per model.
    """
    _check_names(predictions)
    pairs = bracket_pairs(syntax, closer)
    distance_at = np.full(len(syntax.data) + 1, -1, np.int64)  # +1: the wrapped last target has none
    distance_at[pairs[:, 1]] = pairs[:, 1] - pairs[:, 0]
    distance = distance_at[predictions[0].positions + 1]
    bucket = np.digitize(distance, edges) - 1
    valid = (distance > 0) & (bucket >= 0) & (bucket < len(edges) - 1)
    counts = np.bincount(bucket[valid], minlength=len(edges) - 1)
    kept = np.flatnonzero(counts)
    table = pd.DataFrame({
        "bucket": [f"[{edges[k]:g}, {edges[k + 1]:g})" for k in kept],
        "low": [float(edges[k]) for k in kept],
        "high": [float(edges[k + 1]) for k in kept],
        "count": counts[kept],
    })
    for p in predictions:
        sums = np.bincount(bucket[valid], weights=p.target_probs[valid], minlength=len(edges) - 1)
        table[p.name] = sums[kept] / counts[kept]
    return table


def symmetric_kl(p: Predictions, q: Predictions, eps: float = 1e-7, chunk: int = 65536) -> float:
    """Mean over positions of KL(p||q) + KL(q||p), in nats; exactly 0 for identical predictions.

    Probabilities are floored at ``eps`` (float16 rounds small ones to 0) and renormalised, then
    summed as ``sum((p - q) * (log p - log q))``, whose every term is non-negative.
    """
    check_aligned([p, q])
    total = 0.0
    for start in range(0, len(p.targets), chunk):
        a, b = (np.maximum(np.asarray(x.probs[start : start + chunk], np.float64), eps) for x in (p, q))
        a /= a.sum(axis=1, keepdims=True)
        b /= b.sum(axis=1, keepdims=True)
        total += float(((a - b) * (np.log(a) - np.log(b))).sum())
    return total / len(p.targets)


def delta_loss(model: Predictions, baseline: Predictions) -> float:
    """Baseline's cross-entropy minus the model's (nats per byte): positive when the model is better."""
    check_aligned([model, baseline])
    return baseline.cross_entropy - model.cross_entropy


def training_dynamics(
    checkpoints: Sequence[tuple[int, Predictions]], baselines: Mapping[int, Predictions]
) -> pd.DataFrame:
    """For each LSTM checkpoint and n-NN baseline: symmetric KL and delta loss (Figure 5 right).

    ``checkpoints`` are (training step, predictions) of one model; ``baselines`` maps the
    context ``n`` to an n-NN's predictions. Columns: step, n, symmetric_kl, delta_loss.
    """
    rows = [
        {"step": step, "n": n, "symmetric_kl": symmetric_kl(model, baseline),
         "delta_loss": delta_loss(model, baseline)}
        for step, model in checkpoints
        for n, baseline in sorted(baselines.items())
    ]
    return pd.DataFrame(rows, columns=["step", "n", "symmetric_kl", "delta_loss"])


# -- The paper's claims about long-range interactions ---------------------------------------------

STRUCTURAL = frozenset(b" \t\n\r{}()[];,")  # the bytes that structure code: whitespace, brackets, separators
TOP = 10  # the bytes with the largest advantages that a claim looks at


def overlap_claim(overlap: pd.DataFrame, names: Sequence[str]) -> Claim:
    """The paper: most errors are shared by all three models (LSTM, n-NN, n-gram), and each model also has errors
    of its own. ``names``: the models of :func:`error_overlap`'s table (two where a build has no n-NN)."""
    shared = float(overlap[overlap[list(names)].all(axis=1)]["share"].sum())
    unique = {name: int(overlap[overlap.models == name]["count"].sum()) for name in names}
    alone = ", ".join(f"{name} {count:,}" for name, count in unique.items())
    measured = f"{shared:.0%} of the errors are shared by all {len(names)} models; errors of one model alone: {alone}"
    if len(names) < 3:  # without the n-NN, sharing between two models is a weaker claim than the paper's
        return Claim("Long range", "Most errors are shared, and every model has errors of its own",
                     measured + " (no n-NN in this build)", judge(None))
    return Claim("Long range", "Most errors are shared, and every model has errors of its own", measured,
                 judge(shared > 0.5 and all(unique.values()), partly=shared > 0.5 or all(unique.values())))


def advantage_claim(advantage: pd.DataFrame, prose: bool) -> Claim:
    """The paper: over the 20-gram, the LSTM gains most on the carriage return in War and Peace (prose) and
    on the bytes that structure code in Linux. ``advantage`` is :func:`byte_advantage`'s table."""
    top = advantage.head(TOP)
    listed = ", ".join(f"{row.label} ({row.advantage:+.3f})" for row in top.head(5).itertuples())
    if prose:
        rank = advantage.index[advantage.byte == 13]
        if not len(rank):
            return Claim("Long range", "The LSTM's largest advantage is on the carriage return",
                         "no carriage return in this text", judge(None))
        position = int(rank[0]) + 1
        return Claim("Long range", "The LSTM's largest advantage is on the carriage return",
                     f"\\r ranks {position} of {len(advantage)} bytes by advantage; the top: {listed}",
                     judge(position <= 3, partly=position <= TOP))
    structural = int(top.byte.isin(STRUCTURAL).sum())
    return Claim("Long range", "The LSTM's largest advantages are on the bytes that structure code",
                 f"{structural} of the top {len(top)} bytes by advantage are whitespace, brackets or separators; "
                 f"the top: {listed}", judge(structural >= len(top) / 2, partly=structural > 0))


def closer_claim(table: pd.DataFrame, model: str, baseline: str) -> Claim:
    """The paper: the LSTM's advantage on a closing brace grows with the distance to its opening brace, then
    slowly decays. ``table`` is :func:`closer_probability_by_distance`'s."""
    name = "The advantage on a closing brace grows with distance, then decays"
    if len(table) < 3:
        return Claim("Long range", name, f"{int(table['count'].sum())} closing braces in too few distance buckets",
                     judge(None))
    gain = (table[model] - table[baseline]).to_numpy()
    peak = int(np.argmax(gain))
    measured = "advantage by distance: " + ", ".join(f"{b} {g:+.2f}" for b, g in zip(table.bucket, gain))
    grows, decays = peak > 0 and gain[peak] > gain[0], peak < len(gain) - 1 and gain[-1] < gain[peak]
    return Claim("Long range", name, measured, judge(grows and decays, partly=grows))


def dynamics_claim(dynamics: pd.DataFrame) -> Claim:
    """The paper: during training the LSTM first behaves like the 1-NN, then like the 2-, 3-, 4-NN in turn.
    ``dynamics`` is :func:`training_dynamics`'s table; the nearest n-NN is the one of least symmetric KL."""
    name = "During training the LSTM behaves like the 1-NN, then the 2-, 3-, 4-NN in turn"
    if dynamics.empty:
        return Claim("Long range", name, "no early snapshots of the LSTM, or no n-NN to compare them with",
                     judge(None))
    if dynamics.n.nunique() < 3:  # a progression through the n-NNs needs at least three of them
        return Claim("Long range", name, "only the n-NNs for n = " + ", ".join(map(str, sorted(dynamics.n.unique())))
                     + " in this build: too few to show a progression", judge(None))
    nearest = dynamics.loc[dynamics.groupby("step").symmetric_kl.idxmin()].sort_values("step")
    sequence = nearest.n.tolist()
    measured = "nearest n-NN by step: " + ", ".join(f"{s}: {n}" for s, n in zip(nearest.step, sequence))
    ordered = all(a <= b for a, b in zip(sequence, sequence[1:]))
    return Claim("Long range", name, measured,
                 judge(ordered and sequence[0] == 1 and len(set(sequence)) >= 3,
                       partly=sequence[-1] > sequence[0]))
