"""Reading a Transformer's attention: induction heads, where they copy, and the paper's conjecture as a claim.

An induction head attends from the current byte to the byte that followed an earlier occurrence of
the current context, so it can copy what came next then. Its standard score (as in Olsson et al.
2022 and TransformerLens) is measured on random bytes repeated once: the mean attention each byte of
the repeat puts on the byte after its earlier occurrence, ``period - 1`` bytes back. On real text,
:func:`copy_keys` marks the same keys for every byte (an earlier occurrence of its last ``match``
bytes inside the window) and :func:`induction_mass` how much of a head's attention falls on them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lit_rnn.analysis.oracles import ErrorBreakdown, FixedShare, OracleConfig, fixed_share, gap_finding, memory_steps
from lit_rnn.analysis.scorecard import FOR, INCONCLUSIVE, PARTLY, Claim, verdict
from lit_rnn.predictions import Predictions


def induction_scores(layers: list[np.ndarray], period: int) -> pd.DataFrame:
    """Per layer and head, the mean attention from each byte of the repeat to the byte after its earlier
    occurrence (``period - 1`` back), for the trace of :func:`lit_rnn.attention.repeated_bytes`
    (layers: (rows, 2 * period, heads, window)). Sorted best first."""
    rows = []
    for layer, attention in enumerate(layers):
        if period - 1 >= attention.shape[-1]:
            raise ValueError(f"period {period} does not fit the window of {attention.shape[-1]} bytes")
        on_copy = attention[:, period:, :, period - 1]  # (rows, queries, heads)
        for head, score in enumerate(on_copy.mean(axis=(0, 1))):
            rows.append((layer, head, float(score)))
    table = pd.DataFrame(rows, columns=["layer", "head", "induction_score"])
    return table.sort_values("induction_score", ascending=False, kind="stable").reset_index(drop=True)


def even_induction_score(period: int) -> float:
    """The induction score of a head that spreads its attention evenly over every byte up to its query, on the
    probe of :func:`induction_scores`: the query at t (from ``period`` to ``2 * period - 1``) sees t + 1 bytes."""
    return float(np.mean(1 / (np.arange(period, 2 * period) + 1)))


def copy_keys(ids: np.ndarray, window: int, match: int = 2) -> np.ndarray:
    """(n, window) mask over a row's bytes ``ids``: key ``d`` back from byte t follows an earlier occurrence of
    t's last ``match`` bytes (``ids[t-d-1-k] == ids[t-k]`` for k < match), so attending to it copies."""
    n = len(ids)
    padded = np.concatenate([np.full(window + match, -1), np.asarray(ids, dtype=np.int64)])
    t = np.arange(n)[:, None] + window + match
    d = np.arange(window)[None, :]
    keys = np.ones((n, window), dtype=bool)
    for k in range(match):
        earlier = padded[t - d - 1 - k]
        keys &= (earlier == padded[t - k]) & (earlier >= 0)
    return keys & (np.arange(n)[:, None] - d - 1 - (match - 1) >= 0)


def induction_mass(attention: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Per byte, the attention one head (attention: (n, window)) puts on the copying keys (``copy_keys``)."""
    return (attention * keys).sum(axis=1)


def memory_errors_and_heads(category: np.ndarray, fixed: np.ndarray, mass: np.ndarray,
                            threshold: float = 0.3) -> pd.DataFrame:
    """Do the memory errors fall where an induction head copies? Per oracle category of the LSTM's errors (and
    ``""``: bytes it got right): count, the induction head's mean mass, the share of bytes where it puts at least
    ``threshold`` on copying keys, and the share the Transformer fixes there and elsewhere (none for bytes without
    an error)."""
    rows = []
    for name in dict.fromkeys(category):
        inside = category == name
        copies = inside & (mass >= threshold)
        shares = (_share(fixed, copies), _share(fixed, inside & ~copies)) if name else (np.nan, np.nan)  # no error
        rows.append((name or "not an error", int(inside.sum()), float(mass[inside].mean()), copies.sum() / inside.sum(),
                     *shares))
    return pd.DataFrame(rows, columns=["category", "bytes", "mean_mass", "copying", "fixed_copying",
                                       "fixed_elsewhere"])


def _share(mask: np.ndarray, where: np.ndarray) -> float:
    return float(mask[where].mean()) if where.any() else np.nan


def memory_tests(breakdown: ErrorBreakdown, lstm: Predictions, transformer: Predictions, oracle: OracleConfig,
                 window: int) -> tuple[FixedShare, FixedShare | None]:
    """The attention claim's two tests: the LSTM's memory errors within the window against the other errors short
    context cannot fix, and against its memory errors beyond the window (None where the oracle has none longer)."""
    within, beyond = memory_steps(oracle, window), memory_steps(oracle, window, beyond=True)
    gap = fixed_share(breakdown, lstm, transformer, "memory", steps=within)
    return gap, fixed_share(breakdown, lstm, transformer, "memory", steps=within, against=beyond) if beyond else None


def attention_claim(gap: FixedShare, control: FixedShare | None, lstm_loss: float, transformer_loss: float,
                    names: tuple[str, str]) -> Claim:
    """The paper's conjecture: a model allowed to attend to recent history would fix the dynamic-memory errors.
    Tested: the Transformer fixes a larger share of the LSTM's memory-oracle errors within its window (``gap`` from
    :func:`lit_rnn.analysis.oracles.fixed_share` over those steps) than of the errors short context cannot fix
    either, and (``control``, where the oracle has longer memories) than of the memory errors beyond its window,
    whose earlier occurrence it cannot see: attention, not a better model of rare words, is then what fixes them.
    The second test decides: both bootstrap intervals (over test segments) above 0: reproduced; either below 0: not
    reproduced; otherwise inconclusive (a better model of everything also fixes memory errors more than others).
    Without the second test (no memory errors beyond the window), the first alone gives at most partly. The
    log-probability gains are stated with their intervals, not judged."""
    claim = "A model that attends to recent history would fix the dynamic-memory errors"
    if np.isnan(gap.share):
        return Claim("Attention", claim, f"{names[0]} makes no memory-oracle errors within the window, or no other "
                     "errors beyond short context", verdict([None]))
    errors = f"the memory-oracle errors of {names[0]} within its window ({gap.group})"
    measured = f"{names[1]} (test {transformer_loss:.3f} nats/byte, {names[0]} {lstm_loss:.3f}) {gap.text(errors)}"
    finding = gap_finding(gap)
    if control is None or np.isnan(control.rest):
        judged = PARTLY if gap.outcome == FOR else verdict([gap.outcome])  # attention itself untested
    else:
        measured += f"; against the memory errors beyond its window, it {control.text('those within')}"
        finding += f"; {control.share:.2%} against {control.rest:.2%} of those beyond the window"
        judged = verdict([gap.outcome, control.outcome])
        if judged == PARTLY:  # fixed more than the other errors, but no more within its window than beyond it
            judged = INCONCLUSIVE
        if control.outcome != FOR:
            finding += ", so attention is not shown to be what fixes them"
    return Claim("Attention", claim, measured, judged,
                 threshold="the 95% intervals of the differences in shares fixed (points) above 0, against the "
                           "other errors and against the memory errors beyond the window; the second decides (if "
                           "it does not pass, inconclusive at best); the log-probability differences are stated, not "
                           "judged",
                 chance="0 (no preference for memory errors within the window)", finding=finding)


def error_categories(breakdown) -> np.ndarray:
    """Per prediction of an :class:`~lit_rnn.analysis.oracles.ErrorBreakdown`, the oracle category of its error
    (``""`` where the model made none)."""
    categories = {**dict(zip(breakdown.table["step"], breakdown.table["category"], strict=True)), "": ""}
    return np.array([categories[step] for step in breakdown.labels], dtype=object)


def row_copy_mass(attention: np.ndarray, ids: np.ndarray, rows: int, match: int = 2) -> np.ndarray:
    """``induction_mass`` of one head over ``rows`` rows read from their starts, flattened row by row
    (attention: (rows * length, window); ids: (rows * length,)), each row's copying keys found within it."""
    window = attention.shape[-1]
    parts = zip(np.split(attention, rows), np.split(np.asarray(ids), rows), strict=True)
    return np.concatenate([induction_mass(a, copy_keys(i, window, match)) for a, i in parts])
