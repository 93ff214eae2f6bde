"""Chapter 3's cell search scored against a corpus whose latent state is known (``lit_rnn.synthetic``).

The search is :func:`lit_rnn.analysis.cells.rank_cells` with the true variables as signals and its
thresholds :data:`~lit_rnn.analysis.cells.TRACKS` ("tracks") and :data:`~lit_rnn.analysis.cells.PARTLY_TRACKS`
("partly"). Against the truth it is scored four ways:

- **the best cell** per variable, and whether the thresholds declare it;
- **chance**: the same search on control variables no model needs (independent of the text, or
  computable but useless), so a declaration there is a false positive; :func:`false_positive_rate`
  gives its rate with a Wilson interval over many independent controls;
- **what the model holds**: a linear probe over every cell at once, fitted on the first half of the
  traced text and scored on the second by the same score. A variable the probe reads but no
  single cell tracks is held in a distributed way: the cell search misses it;
- **what the model uses**: chapter 8's ablations of the top cells against random cells of their
  layer (:func:`lit_rnn.analysis.causal.causal_scores`) on the bytes that need the variable;
  :func:`first_used` gives the rank of the first cell the model uses.

Plain data in (traces, per-byte arrays, ranking tables), plain data out (tables, dicts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lit_rnn.analysis.cells import PARTLY_TRACKS, TRACKS, TraceLike, rank_cells
from lit_rnn.analysis.scorecard import Claim, judge
from lit_rnn.analysis.signals import Signal

ROLES = ("needed", "unknowable", "unneeded")  # what a variable is to the model: the controls are the last two


def signals(values: Mapping[str, np.ndarray], kinds: Mapping[str, str]) -> dict[str, Signal]:
    """The variables as reference signals, each of its kind ("count" or "binary")."""
    return {name: Signal(name, kinds[name], np.asarray(v)) for name, v in values.items()}


def declared(score: float, kind: str) -> str:
    """What chapter 3's thresholds declare for a best-cell score: "tracks", "partly" or "none"."""
    return "tracks" if score >= TRACKS[kind] else "partly" if score >= PARTLY_TRACKS[kind] else "none"


def span_lengths(on: np.ndarray) -> np.ndarray:
    """The length in bytes of every span where a binary per-byte variable is on, in order."""
    on = np.asarray(on, bool)
    starts = np.flatnonzero(on & ~np.r_[False, on[:-1]])
    ends = np.flatnonzero(on & ~np.r_[on[1:], False])
    return ends - starts + 1


def corpus_summary(truth: Mapping[str, np.ndarray], roles: Mapping[str, str]) -> pd.DataFrame:
    """Per variable: its role, the range of its values, their mean, and how often it changes (per 1,000 bytes)."""
    return pd.DataFrame([{
        "variable": name, "role": roles[name], "min": int(np.min(v)), "max": int(np.max(v)),
        "mean": float(np.mean(v)), "changes_per_1000": 1000 * float(np.count_nonzero(np.diff(v))) / len(v),
    } for name, v in truth.items()])


def best_cells(ranking: pd.DataFrame) -> pd.DataFrame:
    """Per signal of a ``rank_cells`` table: its best cell, score and what the thresholds declare."""
    best = ranking.groupby("signal", sort=False).head(1).reset_index(drop=True)
    return best.assign(declared=[declared(s, k) for s, k in zip(best.score, best.kind)])


def _features(trace: TraceLike, quantities: Sequence[str]) -> np.ndarray:
    """Every cell of ``quantities`` of every layer side by side: (positions, cells)."""
    return np.concatenate([np.asarray(trace[layer][q], np.float32) for layer in range(len(trace))
                           for q in quantities if q in trace[layer]], axis=1)


def probe_scores(trace: TraceLike, variables: Mapping[str, Signal], positions: np.ndarray,
                 quantities: Sequence[str] = ("c", "h"), ridge: float = 1e-3) -> pd.DataFrame:
    """How well all cells at once hold each variable: a ridge regression fitted on the first half of the trace,
    scored on the second half by ``rank_cells``'s score (|ρ| or AUC). Columns: signal, kind, probe."""
    x = _features(trace, quantities)  # float32: the products are BLAS's, the solve float64
    half = len(x) // 2
    mean, scale = x[:half].mean(axis=0, dtype=np.float64), x[:half].std(axis=0, dtype=np.float64) + 1e-6
    x = np.concatenate([(x - mean.astype(np.float32)) / scale.astype(np.float32), np.ones((len(x), 1), np.float32)],
                       axis=1)
    gram = (x[:half].T @ x[:half]).astype(np.float64) + ridge * half * np.eye(x.shape[1])
    rows = []
    for name, signal in variables.items():
        y = np.asarray(signal.values, np.float64)[positions]
        weights = np.linalg.solve(gram, (x[:half].T @ y[:half].astype(np.float32)).astype(np.float64))
        read = {0: {"probe": (x[half:] @ weights.astype(np.float32))[:, None]}}
        held_out = Signal(name, signal.kind, y[half:].astype(bool) if signal.kind == "binary" else y[half:])
        score = rank_cells(read, [held_out], quantities=("probe",)).score.iloc[0]
        rows.append({"signal": name, "kind": signal.kind, "probe": float(score)})
    return pd.DataFrame(rows)


def first_used(ranking: pd.DataFrame, causal: pd.DataFrame) -> pd.DataFrame:
    """Per signal: the rank (1 = best) in the search of the first cell that ablation shows the model uses.

    Cells are ranked by their best row (``c`` or ``h``) for the signal; ``causal`` is
    :func:`~lit_rnn.analysis.causal.causal_scores`'s table (ablated cells only). ``first_used`` is NaN
    when none of the ablated cells is used; ``ablated`` says how many of the top cells were tried.
    """
    rows = []
    for name, group in causal.groupby("signal", sort=False):
        cells = ranking[ranking.signal == name].drop_duplicates(["layer", "cell"])
        order = {(layer, cell): rank for rank, (layer, cell) in enumerate(zip(cells.layer, cells.cell), start=1)}
        used = [order[(r.layer, r.cell)] for r in group.itertuples() if r.causal]
        rows.append({"signal": name, "ablated": len(group), "used": len(used),
                     "first_used": min(used) if used else np.nan})
    return pd.DataFrame(rows)


def top_distinct(ranking: pd.DataFrame, per_signal: int, names: Sequence[str]) -> pd.DataFrame:
    """The best ``per_signal`` distinct (layer, cell) pairs of each named signal, in the search's order."""
    chosen = ranking[ranking.signal.isin(names)].drop_duplicates(["signal", "layer", "cell"])
    return chosen.groupby("signal", sort=False).head(per_signal).reset_index(drop=True)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) for a rate of ``k`` in ``n``."""
    if n == 0:
        return (np.nan, np.nan)
    p = k / n
    if k == 0:  # the closed form rounds its lower end to a hair above 0
        return (0.0, float(z * z / (n + z * z)))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(centre - half, 0.0)), float(min(centre + half, 1.0)))


def false_positive_rate(control_best: pd.DataFrame) -> pd.DataFrame:
    """Per threshold ("tracks", "partly or better") and kind: how often the search declares a cell for a control.

    ``control_best`` is :func:`best_cells` over control signals only (one row per control search).
    Columns: threshold, kind, declared, searches, rate, low, high (a 95% Wilson interval).
    """
    rows = []
    for kind in [*sorted(control_best.kind.unique()), "all"]:
        rows_of_kind = control_best if kind == "all" else control_best[control_best.kind == kind]
        for threshold, levels in (("tracks", {"tracks"}), ("partly or better", {"tracks", "partly"})):
            k, n = int(rows_of_kind.declared.isin(levels).sum()), len(rows_of_kind)
            low, high = wilson(k, n)
            rows.append({"threshold": threshold, "kind": kind, "declared": k, "searches": n,
                         "rate": k / n if n else np.nan, "low": low, "high": high})
    return pd.DataFrame(rows)


def chance_quantiles(ranking: pd.DataFrame, controls: Sequence[str], q: Sequence[float] = (0.5, 0.99, 1.0)
                     ) -> pd.DataFrame:
    """The distribution of every cell's score on the control signals, per kind: chance level for the search."""
    scores = ranking[ranking.signal.isin(controls)]
    table = scores.groupby("kind").score.quantile(list(q)).unstack()
    table.columns = [f"q{int(round(100 * v))}" for v in q]
    return table.reset_index()


def precision_recall(table: pd.DataFrame) -> pd.DataFrame:
    """Precision and recall of the thresholds over variables: a declaration on a needed variable the probe reads is
    a true positive, one on a control a false positive; recall is over the needed variables the probe reads.

    ``table`` has columns role, declared and holds (the probe reads the variable at the "tracks" threshold).
    """
    rows = []
    for threshold, levels in (("tracks", {"tracks"}), ("partly or better", {"tracks", "partly"})):
        said = table.declared.isin(levels)
        true = (table.role == "needed") & table.holds
        tp, fp = int((said & true).sum()), int((said & (table.role != "needed")).sum())
        rows.append({"threshold": threshold, "true_positives": tp, "false_positives": fp,
                     "precision": tp / (tp + fp) if tp + fp else np.nan,
                     "recall": tp / int(true.sum()) if true.any() else np.nan})
    return pd.DataFrame(rows)


def variable_table(ranking: pd.DataFrame, probes: pd.DataFrame, roles: Mapping[str, str],
                   used: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per variable: role, kind, best cell and score, what the thresholds declare, the probe's score, whether the
    model holds it (probe at the "tracks" threshold) and, where ablated, the rank of the first used cell."""
    best = best_cells(ranking).merge(probes[["signal", "probe"]], on="signal")
    best.insert(1, "role", best.signal.map(roles))
    best["holds"] = [p >= TRACKS[k] for p, k in zip(best.probe, best.kind)]
    if used is not None:
        best = best.merge(used[["signal", "first_used"]], on="signal", how="left")
    return best.drop(columns="direction")


# -- Claims ------------------------------------------------------------------------------------------

CHAPTER = "Ground truth"


def _bar(levels: Mapping[str, float]) -> str:
    """A threshold in words: "AUC >= 0.9 (on/off) or |rho| >= 0.5 (counts)"."""
    return f"AUC ≥ {levels['binary']:g} (on/off) or |ρ| ≥ {levels['count']:g} (counts)"


def control_claim(rates: pd.DataFrame) -> Claim:
    """The thresholds declare no cell for a variable no model needs (from :func:`false_positive_rate`)."""
    rows = rates[rates.kind == "all"].set_index("threshold")
    tracks, partly = rows.loc["tracks"], rows.loc["partly or better"]
    text = "; ".join(f"\"{t}\": {int(r.declared)} of {int(r.searches)} control searches "
                     f"({100 * r.rate:.1f}%, 95% interval {100 * r.low:.1f}–{100 * r.high:.1f}%)"
                     for t, r in rows.iterrows())
    return Claim(CHAPTER, "Chapter 3's thresholds declare no cell for the control variables", text,
                 judge(bool(partly.declared == 0), partly=bool(tracks.declared == 0)),
                 f"no control search's best cell reaches \"partly\" ({_bar(PARTLY_TRACKS)}); partly if none reaches "
                 f"\"tracks\" ({_bar(TRACKS)})", "the control variables are chance by construction")


def needed_claim(table: pd.DataFrame, model: str) -> Claim:
    """Every variable the model needs has a cell the thresholds say tracks it (from :func:`variable_table`)."""
    needed = table[table.role == "needed"]
    text = f"{model}: " + ", ".join(f"{r.signal} {_measure(r.kind)} {r.score:.2f} ({r.declared})"
                                    for r in needed.itertuples())
    return Claim(CHAPTER, "Every variable the model needs has a tracking cell", text,
                 judge(bool((needed.declared == "tracks").all()), partly=bool((needed.declared != "none").any())),
                 f"every needed variable's best cell \"tracks\" ({_bar(TRACKS)}); partly if some reach \"partly\" "
                 f"({_bar(PARTLY_TRACKS)})", "the control searches (above)")


def probe_claim(table: pd.DataFrame, model: str) -> Claim:
    """The one-cell search finds every needed variable the model holds (a linear probe reads it)."""
    held = table[(table.role == "needed") & table.holds]
    if not len(held):
        return Claim(CHAPTER, "The single-cell search finds every variable the model holds",
                     f"{model}: the probe reads none of the needed variables", judge(None))
    found = held.declared == "tracks"
    text = (f"{model}: {int(found.sum())} of {len(held)} held variables have a tracking cell; "
            + ", ".join(f"{r.signal}: best cell {r.score:.2f}, probe {r.probe:.2f}" for r in held.itertuples()))
    return Claim(CHAPTER, "The single-cell search finds every variable the model holds", text,
                 judge(bool(found.all()), partly=bool(found.any())),
                 f"every needed variable the probe reads (its score \"tracks\": {_bar(TRACKS)}) has a cell that "
                 "tracks it; partly if some do")


def horizon_claim(beyond: dict | None, model: str) -> Claim:
    """The best quote cell stays on more than the unroll horizon into spans longer than it."""
    claim = "Quote cells stay on beyond the unroll horizon when spans exceed it"
    if beyond is None or not beyond.bytes_beyond:
        return Claim(CHAPTER, claim, "no quoted span longer than the horizon in the test text", judge(None))
    text = (f"{model}: AUC {beyond.auc_beyond:.2f} on {beyond.bytes_beyond:,} bytes more than {beyond.horizon} bytes "
            f"into their span, {beyond.auc:.2f} overall")
    return Claim(CHAPTER, claim, text, judge(beyond.auc_beyond >= TRACKS["binary"],
                                             partly=beyond.auc_beyond >= PARTLY_TRACKS["binary"]),
                 f"AUC ≥ {TRACKS['binary']:g} beyond the horizon; partly if ≥ {PARTLY_TRACKS['binary']:g}", "AUC 0.5")


def used_claim(used: pd.DataFrame, model: str) -> Claim:
    """The search's best cell is one the model uses (chapter 8's ablation test), for every needed variable."""
    claim = "The search ranks first a cell the model uses"
    if not len(used):
        return Claim(CHAPTER, claim, "nothing was ablated", judge(None))
    first = used.first_used == 1
    text = f"{model}: " + ", ".join(
        f"{r.signal}: " + (f"first used cell at rank {int(r.first_used)}" if r.first_used == r.first_used
                           else f"none of the top {r.ablated} used") for r in used.itertuples())
    return Claim(CHAPTER, claim, text, judge(bool(first.all()), partly=bool(used.used.gt(0).any())),
                 "for every needed variable the first-ranked cell is used (chapter 8's test: its ablation costs the "
                 "bytes that need the variable more than the layer's random cells); partly if some ablated cell is")


def _measure(kind: str) -> str:
    return "|ρ|" if kind == "count" else "AUC"
