"""Are the interpretable cells used? Causal scores from ablations, the bytes each signal concerns, clamp values.

A cell found for a signal (``cells.rank_cells``) correlates with it; ablating it (its value held at
0, :mod:`lit_rnn.interventions`) shows whether the model *uses* it. The score of a cell is the change
in mean loss on the bytes its signal concerns (:func:`target_mask`: closing quotes for the quote
signal, line breaks for the line position, …), set against the changes that ablating random cells
of the same layer gives: its z-score and empirical rank among them, with a bootstrap over the scored
rows for the uncertainty of both. The test is two-sided: a cell the model uses may make its bytes
*easier* when ablated (a line-length cell that holds back line breaks until a line is long: without
it the model expects them everywhere, the true ones included), at a cost on every other byte.

Every function here reads numbers (per-byte losses, signals, traces); none runs a model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lit_rnn.analysis import segments
from lit_rnn.analysis.cells import Trace
from lit_rnn.analysis.scorecard import BEYOND, Claim, judge, signed
from lit_rnn.analysis.segments import interval
from lit_rnn.analysis.signals import Signal, as_bytes, lex, reference_signals
from lit_rnn.errors import UserError

# What each signal's cell should help predict: the bytes of :func:`target_mask`.
TARGETS = {
    "line_position": "line breaks",
    "in_quotes": "closing quotes",
    "in_comment": "comment ends",
    "paren_depth": "closing parentheses",
    "bracket_depth": "closing brackets",
    "brace_depth": "closing braces",
    "indentation": "indentation",
}


def target_mask(signal: Signal, data: bytes | np.ndarray) -> np.ndarray:
    """Per corpus byte: whether it is one of the bytes ``signal`` concerns (see :data:`TARGETS`).

    Signals hold the state after reading each byte, so a byte that ends a span is where the signal
    falls: a closing quote (not a blank line that ends a quotation in prose), the ``/`` of ``*/`` (or
    the newline after a ``//`` comment), a closing bracket; a closing mark of several UTF-8 bytes
    (”, ») counts at its first byte, where the model chooses it. A line ends at its line break: the
    newline, or the carriage return of a CRLF, which is where the choice to end the line is made (the
    ``\\n`` after it is certain). Indentation concerns the leading whitespace of each indented line and
    the byte that ends it.
    """
    if signal.name not in TARGETS:
        raise UserError(f"no target bytes are defined for signal {signal.name!r}; choose one of {', '.join(TARGETS)}")
    data = as_bytes(data)
    values = np.asarray(signal.values).astype(np.int64)
    if len(values) != len(data):
        raise UserError(f"signal {signal.name!r} has {len(values):,} values for {len(data):,} bytes")
    previous = np.concatenate([[0], values[:-1]])
    if signal.name == "line_position":
        newline = data == ord("\n")
        after_cr = newline & (np.concatenate([[0], data[:-1]]) == ord("\r"))
        return (newline & ~after_cr) | np.concatenate([after_cr[1:], [False]])
    if signal.name == "indentation":
        rises = values > previous
        return rises | (np.concatenate([[False], rises[:-1]]) & ~rises & (values > 0))
    falls = values < previous
    if signal.name == "in_quotes":
        falls &= ~np.isin(data, list(b" \t\r\n"))
    return _first_bytes(data, falls)


def _first_bytes(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask`` moved from the last byte of each UTF-8 character it marks to the character's first byte."""
    index = np.arange(len(data))
    lead = np.maximum.accumulate(np.where((data & 0xC0) != 0x80, index, 0))  # the lead byte at or before each
    moved = np.zeros(len(data), bool)
    moved[lead[mask]] = True
    return moved


def _at_predicted(mask: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``mask`` read at the byte each position predicts (the next one; char-rnn's last target wraps to byte 0)."""
    return np.append(mask, mask[:1])[np.asarray(positions) + 1]


@dataclass(frozen=True)
class CausalScores:
    """One row per tested cell (``table``) and, per signal, the loss changes of its random cells (``random``)."""

    table: pd.DataFrame
    random: dict[str, np.ndarray]


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` (family-wise error held at the level they are compared with)."""
    p_values = np.asarray(p_values, np.float64)
    order = np.argsort(p_values)
    adjusted = np.maximum.accumulate(np.minimum(p_values[order] * (len(p_values) - np.arange(len(p_values))), 1))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def _score_cell(cell, ablated, on: np.ndarray, samples: int, seed: int) -> tuple[dict, np.ndarray]:
    """One tested cell against its layer's random cells, on its target bytes (``on``) and on the others: its row
    of scores and the random cells' loss changes on the target bytes."""
    own = ablated.tested_losses[list(ablated.tested).index(cell.cell)]
    # Per row: loss change summed over target bytes, and over the other bytes, for the cell and each random cell.
    change = np.concatenate([own[None], ablated.random_losses]) - ablated.plain  # (1 + d, rows, bytes)
    on_sums, off_sums = (change * on).sum(axis=2), (change * ~on).sum(axis=2)
    n_on, n_off = on.sum(axis=1), (~on).sum(axis=1)
    deltas = on_sums.sum(axis=1) / max(n_on.sum(), 1)
    resampled = segments.bootstrap(np.concatenate([on_sums, off_sums, n_on[None], n_off[None]]), samples, seed)
    d = len(on_sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        targets, others_bytes = resampled[:, :d] / resampled[:, -2:-1], resampled[:, d : 2 * d] / resampled[:, -1:]
    delta, others = deltas[0], deltas[1:]
    sd = others.std(ddof=1) if len(others) > 1 else np.nan
    z = (delta - others.mean()) / sd if sd > 0 else np.nan
    excess = interval(targets[:, 0] - targets[:, 1:].mean(axis=1))
    other_excess = interval(others_bytes[:, 0] - others_bytes[:, 1:].mean(axis=1))
    return {
        "signal": cell.signal, "target": TARGETS.get(cell.signal, "given bytes"), "layer": cell.layer,
        "quantity": cell.quantity,
        "cell": cell.cell, "score": cell.score, "targets": int(n_on.sum()),
        "plain": float((ablated.plain * on).sum() / max(n_on.sum(), 1)),
        "delta": float(delta), "delta_low": interval(targets[:, 0])[0], "delta_high": interval(targets[:, 0])[1],
        "random_mean": float(others.mean()), "random_sd": float(sd), "z": float(z),
        "p": float(math.erfc(abs(z) / math.sqrt(2))) if np.isfinite(z) else np.nan,
        "rank_p": float((1 + np.sum(np.abs(others - others.mean()) >= abs(delta - others.mean()))) / (1 + len(others))),
        "excess_low": excess[0], "excess_high": excess[1],
        "delta_other": float(off_sums[0].sum() / max(n_off.sum(), 1)),
        "other_excess_low": other_excess[0], "other_excess_high": other_excess[1],
        "effect": "hurts" if delta > others.mean() else "helps",
    }, others


ALPHA = 0.05  # the family-wise error rate of the tests that call a cell used
SCORES = ("signal", "target", "layer", "quantity", "cell", "score", "targets", "plain", "delta", "delta_low",
          "delta_high", "random_mean", "random_sd", "z", "p", "rank_p", "excess_low", "excess_high", "delta_other",
          "other_excess_low", "other_excess_high", "effect")  # a tested cell's row (:func:`_score_cell`)


def causal_scores(tested: pd.DataFrame, ablations: Mapping, signals: Mapping[str, Signal], data: bytes | np.ndarray,
                  bootstrap: int = 1000, alpha: float = ALPHA, min_targets: int = 20, seed: int = 0,
                  targets: Mapping[str, np.ndarray] | None = None) -> CausalScores:
    """Score each ``tested`` cell (rows of ``cells.top_cells``: signal, layer, quantity, cell, score) by ablation.

    ``ablations`` maps a layer to its :class:`~lit_rnn.interventions.LayerAblations`, which must hold
    the cell. Per cell, on its signal's target bytes among the scored ones: ``delta``, the change
    in mean loss (nats/byte) when the cell is ablated; ``random_mean``, ``random_sd`` of the same
    change over the layer's random cells; ``z`` and its two-sided normal ``p``, Holm-adjusted over the
    measured cells (``p_holm``); ``rank_p``, the share of random cells (counting the cell itself) at least
    as far from the random mean (two-sided); 95% bootstrap intervals over the scored rows of ``delta``
    and of its ``excess`` over the random mean; ``delta_other``, the change on all other bytes, and the
    interval of its excess over the random cells' (``other_excess_*``). A cell is ``causal`` when it has at
    least ``min_targets`` target bytes (``measured``), ``rank_p <= alpha``, ``p_holm <= alpha`` and the
    excess's interval excludes 0; a cell whose ablation makes its target bytes easier (``effect`` "helps")
    must also cost the other bytes more than random cells do (their excess's interval above 0). ``targets``
    gives a signal's target bytes directly (a per-byte mask, e.g. from a corpus whose truth is known) in place of
    :func:`target_mask`.
    """
    data = as_bytes(data)
    rows, random = [], {}
    for cell in tested.itertuples():
        if cell.layer not in ablations or cell.cell not in ablations[cell.layer].tested:
            raise UserError(f"no ablation of layer {cell.layer} cell {cell.cell} was given")
        ablated = ablations[cell.layer]
        mask = targets[cell.signal] if targets and cell.signal in targets else target_mask(signals[cell.signal], data)
        on = _at_predicted(np.asarray(mask, bool), ablated.positions)  # (rows, bytes)
        row, random[cell.signal] = _score_cell(cell, ablated, on, bootstrap, seed)
        rows.append({**row, "measured": row["targets"] >= min_targets})
    table = pd.DataFrame(rows, columns=[*SCORES, "measured"]).astype({"measured": bool})
    table["p_holm"], table["causal"] = np.nan, False
    if len(table):
        measured = table["measured"].to_numpy(bool)
        table.loc[measured, "p_holm"] = _holm(table.loc[measured, "p"].fillna(1).to_numpy())
        table["causal"] = (table.measured & _tests(table, alpha).all(axis=1)).astype(bool)
    return CausalScores(table, random)


def _tests(table: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Per tested cell, whether it passes each test that counts a cell as used (:func:`causal_scores`)."""
    return pd.DataFrame({"rank": table.rank_p <= alpha, "holm": table.p_holm <= alpha,
                         "beyond": (table.excess_low > 0) | (table.excess_high < 0),
                         "costs": (table.effect == "hurts") | (table.other_excess_low > 0)}, index=table.index)


CORRECTION = "Holm over the measured cells, on the z-score's two-sided normal p, family-wise α = 0.05"
P_FLOOR = 1e-6  # below it a normal tail fitted to a few dozen random cells says only "very small"


def p_text(p: float) -> str:
    """A p-value as pages show it: two significant figures (a Holm p of 4e-18 is not 0), "< 1e-06" below
    :data:`P_FLOOR`, where the normal approximation's digits mean nothing, or "not measured"."""
    if not np.isfinite(p):
        return "not measured"
    return f"< {P_FLOOR:g}" if p < P_FLOOR else f"{p:.2g}"


def scores_table(scores: CausalScores) -> pd.DataFrame:
    """The tested cells as chapter 8 shows them: layers counted from 1, each test's columns named as the text names
    them, intervals as "low to high", p-values as :func:`p_text` writes them, "yes"/"no", other numbers to 3
    decimals."""

    def between(low: pd.Series, high: pd.Series) -> list[str]:
        return [f"{signed(a)} to {signed(b)}" if np.isfinite(a) and np.isfinite(b) else "not measured"
                for a, b in zip(low, high)]

    table, passed = scores.table, _tests(scores.table)
    shown = table.assign(layer=table.layer + 1, cell=[f"{q}[{c}]" for q, c in zip(table.quantity, table.cell)],
                         excess=between(table.excess_low, table.excess_high),
                         other_excess=between(table.other_excess_low, table.other_excess_high),
                         rank_p=[p_text(p) for p in table.rank_p], p_holm=[p_text(p) for p in table.p_holm],
                         causal=table.causal.map({True: "yes", False: "no"}),
                         why_not=[_why_not(row, passed.loc[i]) for i, row in table.iterrows()])
    return shown[["signal", "target", "layer", "cell", "targets", "delta", "random_mean", "random_sd", "z", "rank_p",
                  "p_holm", "excess", "delta_other", "other_excess", "causal", "why_not"]].rename(columns={
        "target": "target bytes", "targets": "target bytes (count)", "delta": "Δ loss on them (nats/byte)",
        "random_mean": "random cells' Δ (mean)", "random_sd": "random cells' Δ (sd)", "rank_p": "rank p",
        "p_holm": "Holm p", "excess": "excess over random (95%)", "delta_other": "Δ loss on other bytes",
        "other_excess": "excess on other bytes (95%)", "causal": "used", "why_not": "why not used"}).round(3)


def causal_claim(scores: CausalScores) -> Claim:
    """This book: the interpretable cells keep track of what the model needs (the paper's line-length cell
    "seems particularly well-tuned" to predicting the carriage return). Tested: each signal's top cell, ablated,
    moves the loss on its target bytes beyond the random cells of its layer (:func:`causal_scores`); one that
    makes its bytes easier counts only if it costs the other bytes more than random cells do."""
    claim = "The interpretable cells are what the model uses for the bytes they track"
    threshold = (f"per cell: rank among 1 + the layer's random cells <= 5%, {CORRECTION}, and the 95% bootstrap "
                 "interval (over scored rows) of its excess over random cells excluding 0; a cell whose ablation "
                 "helps its bytes must cost the other bytes more than random cells (interval above 0); reproduced "
                 "if every measured cell is used, partly if some; Δ: the loss on the target bytes with the cell "
                 "ablated less without (positive: ablation hurts), z: Δ in standard deviations of the random cells'")
    measured = scores.table[scores.table.measured]
    if not len(measured):
        why = "no signal has enough target bytes in the scored rows" if len(scores.table) else \
            "no cell tracks a signal at least partly (chapter 3's threshold)"
        return Claim(BEYOND, claim, why, judge(None), threshold)
    used, passed = measured.causal, _tests(measured)
    cells = len(measured[["layer", "quantity", "cell"]].drop_duplicates())
    text = (f"{int(used.sum())} of {len(measured)} signals' top cells causally used"
            + (f" ({cells} distinct cell{'s' if cells != 1 else ''}: a cell may lead two signals, used for one)"
               if cells < len(measured) else "")
            + ": " + ", ".join(f"{r.signal} (layer {r.layer + 1} {r.quantity}[{r.cell}], "
                               f"{'used' if r.causal else 'not used: ' + _failed(r, passed.loc[r.Index])}"
                               f") Δ{r.delta:+.3f} nats/byte on the {r.target}, z {r.z:.1f}, Holm p {p_text(r.p_holm)}"
                               + (f", {r.delta_other:+.3f} nats/byte on other bytes" if r.effect == "helps" else "")
                               for r in measured.itertuples()))
    chance = f"{len(measured)} × 5% = {0.05 * len(measured):.2f} cells by chance before the correction"
    return Claim(BEYOND, claim, text, judge(bool(used.all()), partly=bool(used.any())), threshold, chance,
                 finding=f"{int(used.sum())} of {len(measured)} signals' top cells used")


def _why_not(row: pd.Series, passed: pd.Series) -> str:
    """Why a tested cell is not counted as used, or "" where it is."""
    if row.causal:
        return ""
    return _failed(row, passed) if row.measured else "too few target bytes to test"


def _failed(row, passed: pd.Series) -> str:
    """Why a measured cell is not counted as used: in words, every one of its :func:`_tests` it fails."""
    reasons = {"rank": f"rank p {row.rank_p:.2g} > {ALPHA:g}", "holm": f"Holm p {row.p_holm:.2g} > {ALPHA:g}",
               "beyond": f"the bootstrap interval of its excess over random cells ({signed(row.excess_low)} to "
                         f"{signed(row.excess_high)}) includes 0",
               "costs": "it makes its bytes easier but costs the other bytes no more than random cells"}
    return "; ".join(reasons[test] for test, ok in passed.items() if not ok)


def cells_to_ablate(tested: pd.DataFrame) -> dict[int, list[int]]:
    """The cells to ablate per layer for a table of tested cells (e.g. ``cells.top_cells(ranking, 1)``)."""
    return {int(layer): sorted(set(group.cell.astype(int))) for layer, group in tested.groupby("layer")}


def clamp_values(trace: Trace, layer: int, quantity: str, cell: int, signal: Signal,
                 percentile: float = 5) -> tuple[float, float]:
    """Values to hold a cell at to push its ``signal`` high (on) and low (off), in that order.

    They are the cell's ``percentile``-th and ``100 - percentile``-th percentiles over the trace: first
    the one on the side the cell takes while the signal is high (a binary signal on, by the medians; a
    count, by the sign of the correlation).
    """
    at = np.asarray(signal.values, dtype=np.float64)[trace.positions]
    values = np.asarray(trace[layer][quantity][:, cell], dtype=np.float64)
    if at.min() == at.max() or values.min() == values.max():
        raise UserError(f"signal {signal.name!r} or layer {layer} {quantity}[{cell}] never changes in the trace")
    if signal.kind == "binary":
        rises = np.median(values[at > 0]) >= np.median(values[at == 0])
    else:
        rises = np.corrcoef(values, at)[0, 1] >= 0
    low, high = (float(v) for v in np.percentile(values, [percentile, 100 - percentile]))
    return (high, low) if rises else (low, high)


def quiet_prime(data: bytes | np.ndarray, positions: np.ndarray, signal: Signal | None = None,
                length: int = 200) -> bytes:
    """``length`` bytes of text ending at a line break among ``positions`` where ``signal`` is off.

    A start for samples whose measure is the signal (e.g. quotes), read from the sample's first byte:
    the signal is off where the sample begins, and of all such line breaks the prime is the one whose
    ``length`` bytes change the signal most often (the first of those), so the model starts in text
    where the signal is in use, not in a stretch without it (a table of ``#define``s has no quotes).
    Without a signal: the first line break.
    """
    data = as_bytes(data)
    positions = np.asarray(positions).ravel()
    off = np.ones(len(positions), bool) if signal is None else np.asarray(signal.values)[positions] == 0
    quiet = positions[off & (positions + 1 >= length)]
    if not len(quiet):
        raise UserError(f"no {length} bytes of text end at the given positions"
                        + ("" if signal is None else f" with signal {signal.name!r} off"))
    breaks = quiet[data[quiet] == ord("\n")]
    candidates = breaks if len(breaks) else quiet[:1]
    if signal is None:
        end = int(candidates[0])
    else:
        changes = np.flatnonzero(np.diff(np.asarray(signal.values) != 0)) + 1  # bytes where it turns on or off
        # Changes at the prime's second byte to its last: each compares two bytes of the prime.
        inside = np.searchsorted(changes, candidates, side="right") - np.searchsorted(changes, candidates + 2 - length)
        end = int(candidates[np.argmax(inside)])
    return data[end + 1 - length : end + 1].tobytes()


def _standard_error(per_sample: list[float]) -> float:
    """Standard error of a mean over samples (NaN for fewer than two)."""
    return float(np.std(per_sample, ddof=1) / np.sqrt(len(per_sample))) if len(per_sample) > 1 else np.nan


def line_lengths(samples: Mapping[str, Iterable[bytes]]) -> pd.DataFrame:
    """The lines of samples, per named set: how many end in a line break, their mean and longest length in bytes.

    A carriage return before the newline is not counted in the length. ``mean_length_se`` is the
    standard error over the samples of their own mean line lengths (lines within a sample are not
    independent).
    """
    rows = []
    for label, texts in samples.items():
        per_text = [[len(line.removesuffix(b"\r")) for line in text.split(b"\n")[:-1]] for text in texts]
        lengths = [length for text in per_text for length in text]
        rows.append({"samples": label, "lines": len(lengths),
                     "mean_length": float(np.mean(lengths)) if lengths else np.nan,
                     "mean_length_se": _standard_error([float(np.mean(t)) for t in per_text if t]),
                     "longest": max(lengths, default=0)})
    return pd.DataFrame(rows)


def signal_in_samples(samples: Mapping[str, Iterable[bytes]], name: str, language: str) -> pd.DataFrame:
    """How a binary signal (e.g. ``in_quotes``) behaves in samples, per named set: each sample lexed in
    ``language`` from its first byte.

    Columns: samples, count, bytes_on (share of bytes where it is on), open_at_end (share of samples
    that end with it on: a quote never closed), switches (times it turns on or off, per 1,000 bytes),
    and the standard errors over samples of the first two.
    """
    rows = []
    for label, texts in samples.items():
        values = [np.asarray(reference_signals(lex(text, language), [name])[name].values, bool)
                  for text in texts if text]
        if not values:
            raise UserError(f"no non-empty samples under {label!r}")
        joined = np.concatenate(values)
        switches = sum(int(np.count_nonzero(np.diff(np.concatenate([[False], v]).astype(np.int8)))) for v in values)
        ends = [float(v[-1]) for v in values]
        rows.append({"samples": label, "count": len(values), "bytes_on": float(joined.mean()),
                     "bytes_on_se": _standard_error([float(v.mean()) for v in values]),
                     "open_at_end": float(np.mean(ends)), "open_at_end_se": _standard_error(ends),
                     "switches_per_1000": 1000 * switches / len(joined)})
    return pd.DataFrame(rows)
