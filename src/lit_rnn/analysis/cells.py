"""Which cells track what: rank cells against reference signals and against a user's selection.

A trace is ``{layer: {quantity: (positions, hidden) array}}`` in the text's order, with the
corpus offset of every row in ``positions`` (:class:`Trace`; ``lit_rnn.evaluate.StoredTrace`` is
one). A cell is one column of one quantity (``c``, ``h``, a gate) of one layer. Signals are
per-byte arrays over the corpus (``lit_rnn.analysis.signals``), read at the trace's ``positions``.

Scores: a count signal is scored by the absolute Pearson correlation with the cell; a binary
signal by the ROC AUC of the cell's activation as a detector of the "on" bytes, reported as
``max(auc, 1 - auc)``, with ``direction`` +1 when the cell is higher where the signal is on and
-1 when lower. A constant cell or signal scores chance (0 for correlation, 0.5 for AUC) with
direction 0. AUCs are computed on activations rounded to float16, the precision traces are
stored in, which turns ranking into a 65,536-bin histogram instead of a sort per cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from lit_rnn.analysis.scorecard import Claim, judge, listed
from lit_rnn.analysis.signals import SIGNAL_KINDS, Signal, signal_words
from lit_rnn.errors import UserError

TraceLike = Mapping[int, Mapping[str, np.ndarray]]  # or a Trace: indexable by layer 0..n-1


class Trace(Protocol):
    """The trace contract the analyses and figures read: layers of named arrays and their corpus offsets."""

    positions: np.ndarray  # (positions,) corpus offset of every row, increasing

    def __len__(self) -> int: ...

    def __getitem__(self, layer: int) -> Mapping[str, np.ndarray]: ...

_FLOAT16_KEYS = 1 << 16


def _cells(trace: TraceLike, quantities: Sequence[str]) -> Iterable[tuple[int, str, np.ndarray]]:
    """Every (layer, quantity, array) of ``trace`` whose quantity is in ``quantities``."""
    for layer in range(len(trace)):
        arrays = trace[layer]  # read once: a stored trace opens its files on each access
        for quantity in quantities:
            if quantity in arrays:
                yield layer, quantity, arrays[quantity]


def _aligned(signals: Iterable[Signal], positions: np.ndarray | None, n: int) -> list[Signal]:
    """The signals read at ``positions`` (or as they are), checked to have one value per trace row."""
    signals = list(signals)
    if positions is not None:
        signals = [Signal(s.name, s.kind, np.asarray(s.values)[positions]) for s in signals]
    for signal in signals:
        if len(signal.values) != n:
            raise UserError(
                f"signal {signal.name!r} has {len(signal.values):,} values for {n:,} trace positions; "
                "compute it over the corpus and pass the trace's positions"
            )
    return signals


def _float16_keys(x: np.ndarray) -> np.ndarray:
    """An order-preserving uint16 for each value of ``x`` rounded to float16 (by integer ops)."""
    bits = np.array(x, dtype=np.float16).view(np.uint16)  # a copy, safe to change
    bits[bits == 0x8000] = 0  # -0 is 0
    # Negative values: flip every bit (larger magnitude, smaller key); others: set the sign bit.
    return bits ^ ((bits >> 15) * np.uint16(0x7FFF) | np.uint16(0x8000))


def _correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``x`` with each of ``y``, as (signals, cells); 0 if constant."""
    # float32 products (BLAS) around float64 means, so a constant column centres to exact zeros
    x = np.asarray(x, np.float32)
    xc = x - x.mean(axis=0, dtype=np.float64).astype(np.float32)
    yc = (y - y.mean(axis=0)).astype(np.float32)
    norms = np.sqrt(np.outer((yc**2).sum(axis=0, dtype=np.float64), (xc**2).sum(axis=0, dtype=np.float64)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, (xc.T @ yc).T / norms, 0.0)  # x.T @ y: BLAS is slow at y.T @ x here


def _aucs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC of each column of ``x`` detecting each 0/1 column of ``y``: (signals, cells); 0.5 if undefined.

    AUC is the Mann-Whitney statistic: the rank sum of the "on" rows, ranks taken from a
    histogram of float16 values with ties at their mid-rank. Each signal sums over its
    smaller side (on or off) and the other follows from the total.
    """
    n = len(y)
    on = y.astype(bool)
    positives = on.sum(axis=0)
    smaller = [np.flatnonzero(col if count <= n / 2 else ~col) for col, count in zip(on.T, positives)]
    keys = np.ascontiguousarray(_float16_keys(x).T)  # (cells, positions): one contiguous row per cell
    rank_sums = np.empty((y.shape[1], len(keys)))
    for cell, key in enumerate(keys):
        counts = np.bincount(key, minlength=_FLOAT16_KEYS)
        mid_rank = np.cumsum(counts) - (counts - 1) / 2
        for signal, rows in enumerate(smaller):
            rank_sums[signal, cell] = mid_rank[key[rows]].sum()
    rank_sums = np.where((positives <= n / 2)[:, None], rank_sums, n * (n + 1) / 2 - rank_sums)
    negatives = n - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sums - (positives * (positives + 1) / 2)[:, None]) / (positives * negatives)[:, None]
    return np.where(((positives > 0) & (negatives > 0))[:, None], auc, 0.5)


def rank_cells(
    trace: TraceLike,
    signals: Iterable[Signal],
    positions: np.ndarray | None = None,
    quantities: Sequence[str] = ("c", "h"),
    chunk: int = 32,
) -> pd.DataFrame:
    """Score every cell of ``quantities`` against every signal; best cells first within each signal.

    ``positions`` are the corpus offsets of the trace rows (signals are over the whole corpus);
    leave it out when the signals already have one value per trace row. Columns: signal, kind,
    layer, quantity, cell, score, direction. Cells are read ``chunk`` columns at a time.
    """
    arrays = list(_cells(trace, quantities))
    if not arrays:
        raise UserError(f"the trace holds none of the quantities {list(quantities)}")
    signals = _aligned(signals, positions, len(arrays[0][2]))
    if not signals:
        raise UserError("give at least one signal to rank cells against")
    groups = [
        (group, np.stack([np.asarray(s.values, np.float64) for s in group], axis=1), centred)
        for kind, centred in (("count", _correlations), ("binary", lambda x, y: _aucs(x, y) - 0.5))
        if (group := [s for s in signals if s.kind == kind])
    ]
    frames = []
    for layer, quantity, array in arrays:
        for start in range(0, array.shape[1], chunk):
            x = np.ascontiguousarray(array[:, start : start + chunk])  # native dtype: no rounding for keys
            for group, y, centred in groups:
                # Correlation, or AUC - 0.5: either way 0 is chance and the sign is the direction.
                for signal, row in zip(group, centred(x, y)):
                    frames.append(pd.DataFrame({
                        "signal": signal.name,
                        "kind": signal.kind,
                        "layer": layer,
                        "quantity": quantity,
                        "cell": np.arange(start, start + x.shape[1]),
                        "score": np.abs(row) + (0.5 if signal.kind == "binary" else 0.0),
                        "direction": np.sign(row).astype(np.int8),
                    }))
    table = pd.concat(frames, ignore_index=True)
    table["signal"] = pd.Categorical(table["signal"], categories=[s.name for s in signals], ordered=True)
    order = ["signal", "score", "layer", "quantity", "cell"]
    table = table.sort_values(order, ascending=[True, False, True, True, True])
    return table.reset_index(drop=True).astype({"signal": str})


def span_mask(positions: np.ndarray, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    """Boolean mask over trace rows: True where the row's corpus offset lies in a ``[start, stop)`` span."""
    positions = np.asarray(positions)
    mask = np.zeros(len(positions), bool)
    for start, stop in spans:
        mask[np.searchsorted(positions, start) : np.searchsorted(positions, stop)] = True
    return mask


def _surroundings(on: np.ndarray, window: int) -> np.ndarray:
    """Rows within ``window`` rows of an "on" row that are not "on" themselves."""
    near = np.concatenate([[0], np.cumsum(on)])
    index = np.arange(len(on))
    lo, hi = np.maximum(index - window, 0), np.minimum(index + window + 1, len(on))
    return (near[hi] - near[lo] > 0) & ~on


def span_query(
    trace: TraceLike,
    on: np.ndarray,
    window: int = 20,
    quantities: Sequence[str] = ("c", "h"),
    chunk: int = 32768,
) -> pd.DataFrame:
    """Cells high inside the selected rows and low around them (LSTMVis-style), best first.

    ``on`` marks the selected trace rows (e.g. from ``span_mask``). The score is the mean
    activation over the "on" rows minus the mean over their surroundings: the rows within
    ``window`` rows of a selected row that are not selected. Columns: layer, quantity, cell,
    inside, around, score.
    """
    on = np.asarray(on, bool)
    around = _surroundings(on, window)
    if not on.any() or not around.any():
        raise UserError("the selection must mark some positions and leave some around them unmarked")
    weights = np.stack([on / on.sum(), around / around.sum()], axis=1)  # (positions, 2): mean-taking columns
    frames = []
    for layer, quantity, array in _cells(trace, quantities):
        if len(array) != len(on):
            raise UserError(f"the selection has {len(on):,} positions, the trace {len(array):,}")
        means = sum(
            np.asarray(array[start : start + chunk], np.float64).T @ weights[start : start + chunk]
            for start in range(0, len(array), chunk)
        ).T
        frames.append(pd.DataFrame({
            "layer": layer, "quantity": quantity, "cell": np.arange(array.shape[1]),
            "inside": means[0], "around": means[1], "score": means[0] - means[1],
        }))
    if not frames:
        raise UserError(f"the trace holds none of the quantities {list(quantities)}")
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class CellView:
    """One cell over one window of the traced text: what a text heatmap draws."""

    label: str
    layer: int
    quantity: str
    cell: int
    start: int  # first trace row of the window
    text: bytes
    values: np.ndarray  # one activation per byte of ``text``


def cell_window(data: np.ndarray, trace: Trace, layer: int, quantity: str, cell: int, start: int,
                length: int) -> tuple[bytes, np.ndarray]:
    """The bytes of trace rows ``[start, start + length)`` and one cell's values there."""
    stop = min(start + length, len(trace.positions))
    values = np.asarray(trace[layer][quantity][start:stop, cell], dtype=np.float64)
    return np.asarray(data)[np.asarray(trace.positions[start:stop])].tobytes(), values


def busiest_window(values: np.ndarray, length: int) -> int:
    """Start of the ``length``-long window where a signal varies most: where its cells show most."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) <= length:
        return 0
    total = np.concatenate([[0.0], np.cumsum(values)])
    squares = np.concatenate([[0.0], np.cumsum(values**2)])
    mean = (total[length:] - total[:-length]) / length
    variance = (squares[length:] - squares[:-length]) / length - mean**2
    return int(np.argmax(variance))


def held_out(chosen_on: pd.DataFrame, scored_on: pd.DataFrame) -> pd.DataFrame:
    """``scored_on``'s rows (every cell's score on one split, a :func:`rank_cells` table) in the order in which
    ``chosen_on`` (the same cells ranked on another split) ranks them, its score kept as ``chosen_score``: cells chosen
    on validation and scored on test, so that a cell's test score is not the largest of many on the bytes that chose
    it. Signals ranked on one split only are left out."""
    key = ["signal", "layer", "quantity", "cell"]
    table = scored_on.merge(chosen_on[key + ["score"]].rename(columns={"score": "chosen_score"}), on=key)
    table["signal"] = pd.Categorical(table["signal"], categories=list(dict.fromkeys(chosen_on["signal"])),
                                     ordered=True)
    table = table.sort_values(["signal", "chosen_score", "layer", "quantity", "cell"],
                              ascending=[True, False, True, True, True])
    return table.reset_index(drop=True).astype({"signal": str})


def shared_leaders(leaders: pd.DataFrame, signals: Mapping[str, Signal], positions: np.ndarray) -> str:
    """Where one cell leads several signals, a sentence saying so with how the signals correlate with each other at
    ``positions`` (signals that move together may be one finding counted twice); empty if every cell leads one."""
    sentences = []
    for (layer, quantity, cell), group in leaders.groupby(["layer", "quantity", "cell"], sort=False):
        names = list(group.signal)
        if len(names) < 2:
            continue
        values = np.stack([np.asarray(signals[name].values, np.float64)[positions] for name in names])
        rho = np.corrcoef(values)
        pairs = [f"{a} and {b}, ρ = {rho[i, j]:.2f}" for i, a in enumerate(names) for j, b in enumerate(names) if i < j]
        pairs = [f"ρ = {rho[0, 1]:.2f}"] if len(names) == 2 else pairs
        sentences.append(f"The same cell, layer {layer + 1} {quantity}[{cell}], leads {listed(names)}; the signals "
                         f"themselves correlate on the test split ({'; '.join(pairs)}), so the claims below that rest "
                         "on them may be one finding counted more than once.")
    return " ".join(sentences)


def top_cells(ranking: pd.DataFrame, per_signal: int = 3) -> pd.DataFrame:
    """The best ``per_signal`` cells for each signal of a :func:`rank_cells` table."""
    return ranking.groupby("signal", sort=False).head(per_signal).reset_index(drop=True)


def signal_views(ranking: pd.DataFrame, trace: Trace, data: np.ndarray, signals: Mapping[str, Signal],
                 per_signal: int = 1, length: int = 500) -> list[CellView]:
    """The best ``per_signal`` cells of every signal, each over the window where its signal varies most."""
    best = top_cells(ranking, per_signal)
    views = []
    for rank, row in zip(best.groupby("signal", sort=False).cumcount() + 1, best.itertuples()):
        start = busiest_window(np.asarray(signals[row.signal].values)[trace.positions], length)
        text, values = cell_window(data, trace, row.layer, row.quantity, row.cell, start, length)
        score = "|ρ|" if row.kind == "count" else "AUC"
        label = f"{row.signal} #{rank}: layer {row.layer + 1} {row.quantity}[{row.cell}] ({score} {row.score:.2f})"
        views.append(CellView(label, row.layer, row.quantity, row.cell, start, text, values))
    return views


# -- Cells beyond the unroll horizon -----------------------------------------------------------


def depth_in_span(on: np.ndarray) -> np.ndarray:
    """For a binary per-byte signal: how many bytes each "on" byte lies after the start of its span (0 off)."""
    on = np.asarray(on, bool)
    index = np.arange(len(on))
    starts = on & ~np.concatenate([[False], on[:-1]])
    start = np.maximum.accumulate(np.where(starts, index, -1))
    return np.where(on, index - start, 0)


@dataclass(frozen=True)
class BeyondHorizon:
    """One cell against a binary signal, overall and deeper than ``horizon`` bytes into the signal's spans."""

    signal: str
    horizon: int  # bytes: the unroll length of truncated backpropagation
    auc: float  # overall, as max(AUC, 1 - AUC): the cell's direction is the side it takes
    auc_beyond: float  # beyond the horizon, scored in the overall direction (< 0.5: it flips there); NaN if none
    bytes_beyond: int  # "on" bytes deeper than the horizon
    longest_span: int  # bytes
    longest_end: int  # trace row where the longest span ends (-1 if none)


def beyond_horizon(trace: Trace, signal: Signal, layer: int, quantity: str, cell: int,
                   horizon: int) -> BeyondHorizon:
    """How well one cell separates a binary signal overall and more than ``horizon`` bytes into its spans.

    The paper's point: quote and comment cells stay on across spans much longer than the unroll length of
    truncated backpropagation (the recipe's ``seq_length``). ``auc_beyond`` scores the cell on the "on" bytes
    deeper than ``horizon`` into their span against every "off" byte, in the direction the cell takes overall:
    a cell that flips below its off level deep in long spans scores below 0.5 there. Spans are found over the
    whole corpus, so one that began before a test segment counts from its real start.
    """
    positions = np.asarray(trace.positions)
    depth = depth_in_span(signal.values)[positions]
    on = np.asarray(signal.values, bool)[positions]
    values = np.asarray(trace[layer][quantity][:, cell])[:, None]
    overall = float(_aucs(values, on[:, None])[0, 0])
    deep = depth > horizon
    keep = deep | ~on
    beyond = float(_aucs(values[keep], deep[keep][:, None])[0, 0]) if deep.any() else np.nan
    ends = np.flatnonzero(on & ~np.concatenate([on[1:], [False]]))  # last row of every span in the trace
    longest = int(ends[np.argmax(depth[ends])]) if len(ends) else -1
    return BeyondHorizon(signal.name, horizon, max(overall, 1 - overall),
                         beyond if overall >= 0.5 else 1 - beyond, int(deep.sum()),
                         int(depth[longest]) + 1 if longest >= 0 else 0, longest)


# -- The paper's claims about cells --------------------------------------------------------------

TRACKS = {"count": 0.5, "binary": 0.9}  # a cell tracks a signal at |rho| >= 0.5 or AUC >= 0.9 (our thresholds)
PARTLY_TRACKS = {"count": 0.3, "binary": 0.75}
CELL_CLAIMS = {  # the paper's interpretable cells: the signals that stand for them, the corpora it showed them on
    "line length": (("line_position",), ("warpeace", "linux")),
    "quotes": (("in_quotes",), ("warpeace", "linux")),
    "brackets": (("paren_depth", "bracket_depth", "brace_depth"), ("linux",)),
    "comments": (("in_comment",), ("linux",)),
    "indentation": (("indentation",), ("linux",)),
}
BEYOND_SIGNALS = ("in_quotes", "in_comment")  # the paper's cells that stay on beyond the horizon


def tracking(leaders: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``leaders`` (top cells) that track their signal at least partly: the cells worth showing
    (chapter 3) and the interpretable cells whose use is tested (chapter 8)."""
    return leaders[leaders.score >= leaders.kind.map(PARTLY_TRACKS)]


def _chance(kind: str, cells: int) -> str:
    """What an unrelated cell would score, for one cell chosen on validation and scored on test."""
    one = "AUC 0.5" if kind == "binary" else "|ρ| 0"
    return (f"{one}: the cell is the best of {cells:,} states (each cell's c and h) on the validation split and "
            "scored on test, so its score is not a maximum over them")


def _threshold(kind: str) -> str:
    measure = "|ρ|" if kind == "count" else "AUC"
    return f"{measure} >= {TRACKS[kind]} (partly >= {PARTLY_TRACKS[kind]}), this book's choice"


def cell_claims(ranking: pd.DataFrame, silent: Sequence[str], beyond: Sequence[BeyondHorizon] = ()) -> list[Claim]:
    """Claims that some cell tracks line length, quotes, brackets, comments and indentation (from a :func:`held_out`
    table: cells chosen on validation, scored on test; ``silent`` signals never vary in the text), and that a quote
    or comment cell stays on beyond the unroll horizon (from :func:`beyond_horizon` results)."""
    best = ranking.groupby("signal", sort=False).head(1).set_index("signal")
    cells = int(ranking.groupby("signal", sort=False).size().max()) if len(ranking) else 0
    claims = []
    for concept, (names, corpora) in CELL_CLAIMS.items():
        present = [n for n in names if n in best.index]
        kind = SIGNAL_KINDS[names[0]]
        if not present:
            silent_here = ", ".join(n for n in names if n in silent)
            why = f"{silent_here} never changes" if silent_here else f"its language has no {', '.join(names)}"
            claims.append(Claim("Cells", f"A cell tracks {concept}", f"not in this text ({why})",
                                judge(None), _threshold(kind), corpora=corpora))
            continue
        row = best.loc[max(present, key=lambda n: best.loc[n, "score"] - TRACKS[best.loc[n, "kind"]])]
        kind, score = row["kind"], row["score"]
        measure = "|ρ|" if kind == "count" else "AUC"
        claims.append(Claim("Cells", f"A cell tracks {concept}",
                            f"layer {row.layer + 1} {row.quantity}[{row.cell}] follows {signal_words(row.name)} "
                            f"({measure} {score:.2f})",
                            judge(score >= TRACKS[kind], partly=score >= PARTLY_TRACKS[kind]), _threshold(kind),
                            _chance(kind, cells), corpora, f"{measure} {score:.2f}"))
    return claims + [_beyond_claim(beyond)]


def _beyond_claim(beyond: Sequence[BeyondHorizon]) -> Claim:
    """Some quote or comment cell still separates its signal deeper than the horizon, in its overall direction."""
    horizon = beyond[0].horizon if beyond else None
    name = "A quote or comment cell stays on beyond the " + (f"{horizon}-byte " if horizon else "") + "unroll horizon"
    threshold = (f"AUC beyond the horizon, in the cell's overall direction, >= {TRACKS['binary']} (partly >= "
                 f"{PARTLY_TRACKS['binary']}); below 0.5 the cell flips there")
    deep = [b for b in beyond if b.signal in BEYOND_SIGNALS and b.bytes_beyond > 0 and np.isfinite(b.auc_beyond)]
    if not deep:
        return Claim("Cells", name, f"no quote or comment span longer than {horizon or 'the horizon'} bytes in the "
                     "test text", judge(None), threshold, "AUC 0.5")
    top = max(deep, key=lambda b: b.auc_beyond)
    short = [b.signal for b in beyond if b.signal in BEYOND_SIGNALS and b not in deep]
    return Claim("Cells", name, "; ".join(f"{b.signal}: AUC {b.auc_beyond:.2f} beyond {b.horizon} bytes "
                                          f"({b.bytes_beyond:,} bytes), {b.auc:.2f} overall" for b in deep)
                 + "".join(f"; {signal}: no span longer than {horizon} bytes" for signal in short),
                 judge(top.auc_beyond >= TRACKS["binary"], partly=top.auc_beyond >= PARTLY_TRACKS["binary"]),
                 threshold, "AUC 0.5", finding=f"AUC {top.auc_beyond:.2f} beyond {top.horizon} bytes")
