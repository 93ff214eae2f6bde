"""The scorecard's verdicts, computed from synthetic numbers where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lit_rnn.analysis import compare, longrange
from lit_rnn.analysis.oracles import ErrorBreakdown, breakdown_claim, scaling_claim, scaling_difference
from lit_rnn.predictions import Predictions
from lit_rnn.viz import figures

SEGMENTS, LENGTH = 20, 50


def losses(name: str, mean: float, kind: str = "lstm", spread: float = 0.2, seed: int = 0) -> Predictions:
    """Predictions over 20 segments of 50 bytes whose per-byte losses average ``mean``."""
    rng = np.random.default_rng(seed)
    loss = np.clip(mean + spread * rng.standard_normal(SEGMENTS * LENGTH), 0.01, None)
    positions = (np.arange(SEGMENTS)[:, None] * 1000 + np.arange(LENGTH)[None]).ravel()
    p = np.exp(-loss)
    probs = np.stack([p, 1 - p], axis=1)
    return Predictions(probs.astype(np.float16), np.log(p).astype(np.float32), np.zeros(len(p), np.int64),
                       positions, name, kind, "sha", "test")


def test_bootstrap_std_shrinks_with_agreement_and_pairs_cancel_shared_noise():
    a, b = losses("a", 1.0), losses("b", 1.0, seed=1)
    assert 0 < compare.bootstrap_std(a) < 0.05
    same_bytes = Predictions(a.probs, a.target_log_probs - 0.01, a.targets, a.positions, "a2", "lstm", "sha", "test")
    assert compare.paired_bootstrap_std(same_bytes, a) < 1e-6 < compare.paired_bootstrap_std(a, b)


def _table(rows, predictions, trainings=None):
    configs = [type("C", (), dict(architecture=a, n_layers=layers, hidden_size=10, dropout=0.0))
               for _, a, layers, _ in rows]
    trainings = trainings or [""] * len(rows)
    models = [compare.ScoredModel(predictions[name], config, budget, training)
              for (name, *_, budget), config, training in zip(rows, configs, trainings)]
    return compare.loss_table(models, budgets=[100, 1000])


def test_depth_and_gated_claims():
    predictions = {"lstm-1": losses("lstm-1", 1.5), "lstm-2": losses("lstm-2", 1.3, seed=1),
                   "rnn-2": losses("rnn-2", 1.6, "rnn", seed=2), "gru-2": losses("gru-2", 1.59, "gru", seed=3)}
    rows = [("lstm-1", "lstm", 1, 1000), ("lstm-2", "lstm", 2, 1010), ("rnn-2", "rnn", 2, 990),
            ("gru-2", "gru", 2, 1000)]
    table = _table(rows, predictions)
    assert set(table.budget) == {1} and table.loc[table.model == "lstm-1", "std"].item() > 0
    assert compare.depth_claim(table, predictions).verdict == "reproduced"
    gated = compare.gated_claim(table, predictions)
    assert gated.verdict == "partly" and "within noise" in gated.measured  # the GRU is no better than noise


def test_models_trained_for_different_times_are_never_compared():
    """A 3-layer model trained 50 epochs beside a 1-layer one trained 1,000 steps says nothing about depth."""
    predictions = {"lstm-1": losses("lstm-1", 1.9), "lstm-3": losses("lstm-3", 1.5, seed=1),
                   "rnn-3": losses("rnn-3", 1.8, "rnn", seed=2)}
    rows = [("lstm-1", "lstm", 1, 1000), ("lstm-3", "lstm", 3, 1000), ("rnn-3", "rnn", 3, 1000)]
    table = _table(rows, predictions, trainings=["1,000 steps", "50 epochs", "1,000 steps"])
    assert list(table.training) == ["1,000 steps", "50 epochs", "1,000 steps"]
    assert compare.depth_claim(table, predictions).verdict == "not measured"
    assert compare.gated_claim(table, predictions).verdict == "not measured"
    alike = _table(rows, predictions)
    assert compare.depth_claim(alike, predictions).verdict == compare.gated_claim(alike, predictions).verdict == (
        "reproduced")


def test_cluster_claim_reads_the_agreement_matrix():
    names = ["lstm", "gru", "rnn-a", "rnn-b"]
    kinds = {"lstm": "lstm", "gru": "gru", "rnn-a": "rnn", "rnn-b": "rnn"}
    agree = pd.DataFrame([[1, .8, .5, .5], [.8, 1, .5, .5], [.5, .5, 1, .7], [.5, .5, .7, 1]], names, names)
    assert compare.cluster_claim(agree, kinds).verdict == "reproduced"
    agree.loc["lstm", "rnn-a"] = agree.loc["rnn-a", "lstm"] = 0.9
    assert compare.cluster_claim(agree, kinds).verdict == "partly"
    longer = {"lstm": "50 epochs", "gru": "1,000 steps", "rnn-a": "1,000 steps", "rnn-b": "1,000 steps"}
    assert compare.cluster_claim(agree, kinds, longer).verdict == "not measured"  # one gated model trained alike
    embedding = compare.model_embedding(agree)
    assert list(embedding.model) == names and np.isfinite(embedding[["x", "y"]].to_numpy()).all()


def test_finite_horizon_claims():
    ngrams = {1: losses("2-gram", 2.0), 2: losses("3-gram", 1.8, seed=1), 20: losses("21-gram", 1.2, seed=2)}
    nnns = {1: losses("1-NN", 2.01, "nnn", seed=3), 2: losses("2-NN", 1.81, "nnn", seed=4),
            20: losses("20-NN", 1.5, "nnn", seed=5)}
    similar, overfit, beats = compare.finite_horizon_claims(ngrams, nnns, losses("lstm", 1.0, seed=6), "linux")
    assert similar.verdict == "reproduced" and "n = 1" in similar.measured
    assert overfit.verdict == "partly"  # the n-gram is better at n = 20, but the n-NN still improves with n
    assert beats.verdict == "reproduced" and "the paper's 0.945" in beats.measured


def test_a_build_without_n_nns_measures_only_what_it_has():
    ngrams = {1: losses("2-gram", 2.0), 20: losses("21-gram", 1.2, seed=2)}
    similar, overfit, beats = compare.finite_horizon_claims(ngrams, {}, losses("lstm", 1.0, seed=6), "linux")
    assert similar.verdict == overfit.verdict == "not measured" and beats.verdict == "reproduced"
    table = compare.finite_horizon_table(ngrams, {}, losses("lstm", 1.0, seed=6))
    assert table["n-NN"].isna().all() and [trace.name for trace in figures.finite_horizon(table, "lstm").data] == [
        "n-gram"]
    empty = pd.DataFrame(columns=["step", "n", "symmetric_kl", "delta_loss"])
    assert "no n-NN" in longrange.dynamics_claim(empty).measured


def test_long_range_claims():
    overlap = pd.DataFrame({"a": [True, True, False, False], "b": [True, False, True, False],
                            "c": [True, False, False, True], "models": ["a & b & c", "a", "b", "c"],
                            "count": [70, 10, 10, 10], "share": [0.7, 0.1, 0.1, 0.1]})
    assert longrange.overlap_claim(overlap, ["a", "b", "c"]).verdict == "reproduced"
    two = longrange.overlap_claim(overlap, ["a", "b"])  # a build without the n-NN
    assert two.verdict == "not measured" and "shared by all 2 models" in two.measured
    advantage = pd.DataFrame({"byte": [13, 101, 32], "label": ["\\r", "e", "space"], "advantage": [0.3, 0.1, 0.05]})
    assert longrange.advantage_claim(advantage, prose=True).verdict == "reproduced"
    assert longrange.advantage_claim(advantage.iloc[[1, 0, 2]].reset_index(drop=True), prose=True).verdict == (
        "reproduced")  # second of three is within the top 3
    assert longrange.advantage_claim(advantage, prose=False).verdict == "reproduced"  # \r and space: 2 of 3
    closers = pd.DataFrame({"bucket": ["a", "b", "c", "d"], "count": [9, 9, 9, 9], "lstm": [0.5, 0.7, 0.8, 0.6],
                            "gram": [0.45, 0.4, 0.4, 0.4]})
    assert longrange.closer_claim(closers, "lstm", "gram").verdict == "reproduced"
    dynamics = pd.DataFrame({"step": [10, 10, 20, 20, 30, 30], "n": [1, 2, 1, 2, 2, 3],
                             "symmetric_kl": [0.1, 0.3, 0.4, 0.2, 0.5, 0.1], "delta_loss": [0] * 6})
    assert longrange.dynamics_claim(dynamics).verdict == "reproduced"
    one = longrange.dynamics_claim(dynamics[dynamics.n == 1])  # a build with only the 1-NN cannot show it
    assert one.verdict == "not measured" and "n = 1 " in one.measured


def _breakdown(name: str, errors: dict[str, int]) -> ErrorBreakdown:
    total = sum(errors.values())
    table = pd.DataFrame({"step": list(errors), "category": list(errors), "errors": list(errors.values())})
    table["share"] = table["errors"] / total
    return ErrorBreakdown(name, table, np.array([]), np.array([]))


def test_error_claims():
    large = _breakdown("large", {"n-gram": 100, "memory": 20, "rare": 10, "word": 60, "punctuation": 5,
                                 "boost": 20, "remaining": 30})
    small = _breakdown("small", {"n-gram": 180, "memory": 21, "rare": 10, "word": 62, "punctuation": 5,
                                 "boost": 30, "remaining": 32})
    assert breakdown_claim(large).verdict == "reproduced"
    difference = scaling_difference(large, small)
    assert difference.set_index("category").loc["n-gram", "difference"] == 80
    claim = scaling_claim(difference, "large", "small", ratio=26)
    assert claim.verdict == "reproduced" and claim.measured.startswith("large has 26x")
    assert scaling_claim(scaling_difference(large, large), "large", "large", 1).verdict == "not measured"
    fewer = scaling_difference(small, large)  # the "small" side makes fewer errors: shares keep their sign
    assert fewer.set_index("category").loc["n-gram", "share of difference"] == pytest.approx(80 / 95)
    assert scaling_difference(large, large)["share of difference"].isna().all()


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_segment_losses_sum_to_the_cross_entropy(value):
    p = losses("x", 1.0 + value)
    total, counts = compare.segment_losses(p)
    assert len(counts) == SEGMENTS and total.sum() / counts.sum() == pytest.approx(p.cross_entropy)
