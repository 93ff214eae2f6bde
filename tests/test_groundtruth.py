"""The cell search scored against known truth: planted cells, chance controls, probes, the thresholds' error rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lit_rnn.analysis import groundtruth
from lit_rnn.analysis.cells import rank_cells

N = 4000


def _planted(seed: int = 0):
    """A trace whose layer-0 cell 3 is a noisy copy of a binary variable and cell 5 of a count; a variable
    spread over cells 0 and 1 (their sum) that no single cell tracks; and an unknowable control."""
    rng = np.random.default_rng(seed)
    quote = (np.sin(np.arange(N) / 40) > 0).astype(int)
    depth = np.cumsum(rng.choice([-1, 1], N)) % 5
    spread = rng.normal(size=N)
    c = rng.normal(size=(N, 8))
    c[:, 3] = quote + 0.2 * rng.normal(size=N)
    c[:, 5] = depth + 0.5 * rng.normal(size=N)
    c[:, 0], c[:, 1] = spread + 3 * c[:, 0], -3 * c[:, 0] + 0.1 * c[:, 1]  # sum: spread, each alone: mostly noise
    trace = {0: {"c": c.astype(np.float32)}}
    values = {"in_quotes": quote, "paren_depth": depth, "spread": spread.round(1),
              "noise_flag": (np.cos(np.arange(N) / 37 + 1) > 0.3).astype(int)}
    kinds = {"in_quotes": "binary", "paren_depth": "count", "spread": "count", "noise_flag": "binary"}
    return trace, groundtruth.signals(values, kinds)


def test_planted_cells_are_found_and_declared():
    trace, signals = _planted()
    best = groundtruth.best_cells(rank_cells(trace, signals.values())).set_index("signal")
    assert best.loc["in_quotes", "cell"] == 3 and best.loc["in_quotes", "declared"] == "tracks"
    assert best.loc["paren_depth", "cell"] == 5 and best.loc["paren_depth", "declared"] == "tracks"
    assert best.loc["noise_flag", "declared"] == "none"


def test_the_probe_reads_a_variable_spread_over_cells_that_no_single_cell_tracks():
    trace, signals = _planted()
    probes = groundtruth.probe_scores(trace, signals, np.arange(N)).set_index("signal").probe
    best = groundtruth.best_cells(rank_cells(trace, signals.values())).set_index("signal").score
    assert probes["spread"] > 0.9 and best["spread"] < 0.5
    assert probes["noise_flag"] < 0.75  # held out: no more than chance where nothing is there


def test_false_positive_rate_counts_declarations_with_a_wilson_interval():
    best = pd.DataFrame({"kind": ["binary"] * 3 + ["count"],
                         "declared": ["none", "partly", "tracks", "none"]})
    rates = groundtruth.false_positive_rate(best).set_index(["threshold", "kind"])
    assert rates.loc[("tracks", "all"), "declared"] == 1 and rates.loc[("partly or better", "all"), "declared"] == 2
    assert rates.loc[("partly or better", "binary"), "rate"] == pytest.approx(2 / 3)
    low, high = groundtruth.wilson(0, 40)
    assert low == 0 and 0.05 < high < 0.1
    low, high = groundtruth.wilson(10, 100)
    assert low < 0.1 < high


def test_precision_and_recall_over_variables():
    table = pd.DataFrame({"role": ["needed", "needed", "needed", "unknowable"],
                          "declared": ["tracks", "none", "partly", "partly"], "holds": [True, True, False, False]})
    rows = groundtruth.precision_recall(table).set_index("threshold")
    assert rows.loc["tracks", "precision"] == 1 and rows.loc["tracks", "recall"] == 0.5
    assert rows.loc["partly or better", "false_positives"] == 1


def test_first_used_is_the_search_rank_of_the_first_causal_cell():
    ranking = pd.DataFrame({"signal": ["a"] * 4, "layer": [0, 0, 1, 0], "cell": [2, 2, 7, 9],
                            "quantity": ["c", "h", "c", "c"]})
    causal = pd.DataFrame({"signal": ["a", "a", "a"], "layer": [0, 1, 0], "cell": [2, 7, 9],
                           "causal": [False, True, True]})
    used = groundtruth.first_used(ranking, causal).iloc[0]
    assert used.first_used == 2 and used.used == 2 and used.ablated == 3


def test_span_lengths():
    assert list(groundtruth.span_lengths(np.array([0, 1, 1, 0, 1, 0, 1, 1, 1]))) == [2, 1, 3]
