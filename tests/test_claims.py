"""The scorecard's verdicts, computed from synthetic numbers where the answer is known.

Every claim function gets a case where the paper's effect is present (it passes) and one where it is absent or
reversed (it fails), including issue 26's misleading cases, each of which must no longer give its old verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lit_rnn.analysis import attention, compare, groundtruth, longrange, scorecard
from lit_rnn.analysis.cells import BeyondHorizon
from lit_rnn.analysis.corpora import corpus_claim
from lit_rnn.analysis.gates import lstm_gate_claims
from lit_rnn.analysis.oracles import ErrorBreakdown, FixedShare, breakdown_claim, scaling_claim, scaling_difference
from lit_rnn.analysis.scorecard import Comparison
from lit_rnn.errors import UserError
from lit_rnn.models import ModelConfig
from lit_rnn.predictions import SUMMARY_STRETCH, Predictions
from lit_rnn.viz import figures

SEGMENTS, LENGTH = 20, 50


def _positions(segments: int = SEGMENTS, length: int = LENGTH) -> np.ndarray:
    return (np.arange(segments)[:, None] * 1000 + np.arange(length)[None]).ravel()


def losses(name: str, mean: float, architecture: str = "lstm", spread: float = 0.2, seed: int = 0) -> Predictions:
    """Predictions over 20 segments of 50 bytes whose per-byte losses average ``mean``."""
    rng = np.random.default_rng(seed)
    loss = np.clip(mean + spread * rng.standard_normal(SEGMENTS * LENGTH), 0.01, None)
    p = np.exp(-loss)
    probs = np.stack([p, 1 - p], axis=1)
    return Predictions(probs.astype(np.float16), np.log(p).astype(np.float32), np.zeros(len(p), np.int64),
                       _positions(), name, architecture, "sha", "test")


def test_bootstrap_std_shrinks_with_agreement_and_pairs_cancel_shared_noise():
    a, b = losses("a", 1.0), losses("b", 1.0, seed=1)
    assert 0 < compare.bootstrap_std(a) < 0.05
    same_bytes = Predictions(a.probs, a.target_log_probs - 0.01, a.targets, a.positions, "a2", "lstm", "sha", "test")
    assert compare.paired_bootstrap_std(same_bytes, a) < 1e-6 < compare.paired_bootstrap_std(a, b)


def test_a_comparison_names_the_better_model_and_a_reversal_as_one():
    assert str(Comparison("lstm-2", "lstm-1", 0.05, 0.01)) == (
        "lstm-2 is better than lstm-1 by 0.050 nats/byte (z 5.0, beyond the noise)")
    reversal = Comparison("lstm-2x86", "lstm-1x128", -0.104, 0.01)  # issue 22's "beats ... by -0.104"
    assert reversal.outcome == "against" and str(reversal) == (
        "lstm-1x128 is better than lstm-2x86 by 0.104 nats/byte (z 10.4, beyond the noise, against the paper)")
    unexpected = Comparison("transformer", "lstm", -0.049, 0.002, paper_expects=False)  # the paper expects neither
    assert str(unexpected) == "lstm is better than transformer by 0.049 nats/byte (z 24.5, beyond the noise)"
    assert Comparison("a", "b", 0.01, 0.01).outcome == "within" and "within the noise" in str(Comparison("a", "b",
                                                                                                         0.01, 0.01))
    assert Comparison("a", "b", np.nan, 0.01).outcome is None and "not measured" in str(Comparison("a", "b", np.nan, 1))


def test_seeds_spread_a_model_the_bootstrap_does_not_see_and_their_means_are_compared_in_standard_errors():
    def seeded(config: ModelConfig, parameters: int, means: tuple[float, ...]) -> list[compare.ScoredModel]:
        return [compare.ScoredModel(losses(config.name, mean, config.architecture, seed=seed), config, parameters,
                                    "50 epochs") for seed, mean in enumerate(means)]

    budgets = [50_000, 130_000]
    lstm = seeded(ModelConfig("lstm", 1, 64, 87), 49_000, (1.40, 1.42, 1.44))
    rnn = seeded(ModelConfig("rnn", 1, 141, 87), 51_000, (1.50, 1.51, 1.52))
    spread = compare.seed_spread([lstm, rnn]).set_index("model")
    assert spread.loc["lstm-1x64", "seeds"] == 3 and spread.loc["lstm-1x64", "lowest"] < 1.42 < spread.highest.max()
    assert spread.loc["lstm-1x64", "std"] > spread.loc["rnn-1x141", "std"] > 0  # 0.02 against 0.01, and sampling noise
    [gated] = compare.seed_comparisons([lstm, rnn], budgets)
    assert (gated.expected, gated.other) == ("lstm-1x64", "rnn-1x141") and gated.outcome == "for"
    assert gated.difference == pytest.approx(spread.loc["rnn-1x141", "mean"] - spread.loc["lstm-1x64", "mean"])
    assert gated.std == pytest.approx(np.sqrt((spread["std"] ** 2 / 3).sum()))
    larger = seeded(ModelConfig("rnn", 1, 300, 87), 125_000, (1.50, 1.51))
    assert compare.seed_comparisons([lstm, larger], budgets) == []  # another budget: no pair


def _table(rows, predictions, trainings=None):
    configs = [type("C", (), dict(architecture=a, n_layers=n_layers, hidden_size=10, dropout=0.0))
               for _, a, n_layers, _ in rows]
    trainings = trainings or [""] * len(rows)
    models = [compare.ScoredModel(predictions[name], config, parameters, training)
              for (name, *_, parameters), config, training in zip(rows, configs, trainings)]
    return compare.loss_table(models, budgets=[100, 1000])


ROWS = [("lstm-1", "lstm", 1, 1000), ("lstm-2", "lstm", 2, 1010), ("rnn-2", "rnn", 2, 990), ("gru-2", "gru", 2, 1000)]


def _models(lstm1: float, lstm2: float, rnn2: float, gru2: float) -> dict[str, Predictions]:
    """Four models over the same bytes: shared per-byte noise, so differences of 0.1 are far beyond the noise."""
    base = losses("base", 1.5)
    return {name: Predictions(base.probs, base.target_log_probs - (loss - 1.5), base.targets, base.positions, name,
                              architecture, "sha", "test")
            for (name, architecture, *_), loss in zip(ROWS, (lstm1, lstm2, rnn2, gru2))}


def test_depth_claim_passes_on_the_papers_effect_and_fails_on_a_reversal():
    better = _models(1.5, 1.3, 1.6, 1.5)
    assert compare.depth_claim(_table(ROWS, better), better).verdict == "reproduced"
    reversed_ = _models(1.396, 1.5, 1.6, 1.5)  # issue 22: the 1-layer model better by 0.104
    claim = compare.depth_claim(_table(ROWS, reversed_), reversed_)
    assert claim.verdict == "not reproduced" and "lstm-1 is better than lstm-2 by 0.104" in claim.measured
    assert "by -" not in claim.measured and "against the paper" in claim.measured
    noisy = {name: losses(name, 1.5, seed=k) for k, (name, *_) in enumerate(ROWS)}  # independent noise, no effect
    assert compare.depth_claim(_table(ROWS, noisy), noisy).verdict == "inconclusive"


def test_pairs_beyond_the_bootstrap_but_within_the_noise_of_their_seeds_are_named_with_the_verdict_they_give():
    close = _models(1.5, 1.49, 1.6, 1.5)  # 0.01 apart on the same bytes: far beyond the bootstrap's noise alone
    claim = compare.depth_claim(_table(ROWS, close), close, seed_std=0.005)  # √2 x 0.005 = 0.0071: z 1.4 with seeds
    assert claim.verdict == "reproduced" and claim.caveat == (
        "within the noise once the seeds' share is counted too (0.0050 nats/byte a model, as chapter 2 measured it "
        "on a few small models): 1 of the 1 pairs beyond it, lstm-2 over lstm-1 by 0.010; counting the seeds, the "
        "verdict would read: inconclusive")
    assert claim.caveat in claim.measured
    assert compare.depth_claim(_table(ROWS, close), close, seed_std=0.002).caveat == ""  # z 3.5 with seeds
    gated = compare.gated_claim(_table(ROWS, close), close, seed_std=0.005)  # 0.11 and 0.1 apart: beyond the seeds'
    assert gated.verdict == "reproduced" and gated.caveat == ""
    both = scorecard.judged_on(claim, "lstm-2 cut short")  # a caveat adds to those the claim has
    assert both.caveat == f"{claim.caveat}; judged on lstm-2 cut short" and both.measured.endswith("(judged on lstm-2 "
                                                                                                  "cut short)")


def test_the_three_layer_claim_is_reproduced_only_when_the_results_go_both_ways():
    """The paper: between 2 and 3 layers the results are mixed. Two 3-layer models, one better and one worse than
    its 2-layer twin beyond the noise, are mixed; both worse is a consistent effect, not a mixed one."""
    rows = [("lstm-2", "lstm", 2, 1000), ("lstm-3", "lstm", 3, 1000), ("gru-2", "gru", 2, 1000),
            ("gru-3", "gru", 3, 1000)]
    base = losses("base", 1.5)

    def models(*means):
        return {name: _shifted(base, name, mean - 1.5, architecture) for (name, architecture, *_), mean in
                zip(rows, means)}

    both = models(1.4, 1.3, 1.4, 1.5)
    claim = compare.three_layers_claim(_table(rows, both), both)
    assert claim.verdict == "reproduced"
    assert claim.finding.endswith(": 3 layers better beyond the noise in 1 of 2 pairs, worse in 1: better for the "
                                  "LSTM and worse for the GRU")
    one = {name: both[name] for name in ("lstm-2", "lstm-3")}
    assert compare.three_layers_claim(_table(rows[:2], one), one).verdict == "not measured"  # never both ways
    sizes = [(name, architecture, layers, 100 if architecture == "gru" else 1000)
             for name, architecture, layers, _ in rows]  # the GRUs at the smallest budget: counted budget by budget
    assert compare.three_layers_claim(_table(sizes, both), both).finding.endswith(
        "; by budget: smallest, 0 of 1 better, 1 worse; second, 1 of 1 better, 0 worse")
    assert "gru-2 is better than gru-3 by 0.100" in claim.measured and "against the paper" not in claim.measured
    worse = models(1.4, 1.5, 1.4, 1.5)
    assert compare.three_layers_claim(_table(rows, worse), worse).verdict == "not reproduced"
    one_way = models(1.4, 1.5, 1.4, 1.4)
    assert compare.three_layers_claim(_table(rows, one_way), one_way).verdict == "partly"
    same = models(1.4, 1.4, 1.4, 1.4)
    assert compare.three_layers_claim(_table(rows, same), same).verdict == "inconclusive"
    assert compare.three_layers_claim(_table(rows[::2], both), both).verdict == "not measured"  # no 3-layer model


def test_gated_claim_a_significant_reversal_is_not_reproduced():
    """Issue 26: the LSTM 0.197 worse than the RNN and the GRU 0.10 better read "partly"."""
    mixed = _models(1.5, 1.797, 1.6, 1.5)
    claim = compare.gated_claim(_table(ROWS, mixed), mixed)
    assert claim.verdict == "not reproduced" and "rnn-2 is better than lstm-2 by 0.197" in claim.measured
    both = _models(1.5, 1.4, 1.6, 1.5)
    assert compare.gated_claim(_table(ROWS, both), both).verdict == "reproduced"


def test_models_not_trained_with_the_papers_recipe_are_counted_apart():
    short = _models(1.5, 1.3, 1.6, 1.5)
    table = _table(ROWS, short, trainings=["1,000 steps"] * 4)
    claim = compare.depth_claim(table, short, paper_training="50 epochs")
    assert claim.verdict == "not at the paper's scale" and "would read: reproduced" in claim.measured
    assert "[not at the paper's scale]" not in claim.measured  # the verdict says it once for all its comparisons
    reversed_ = _models(1.3, 1.5, 1.6, 1.5)
    claim = compare.depth_claim(_table(ROWS, reversed_, ["1,000 steps"] * 4), reversed_,
                                "50 epochs")
    assert claim.verdict == "not at the paper's scale"  # never "not reproduced" from the 1,000-step grid
    assert compare.depth_claim(_table(ROWS, short, ["50 epochs"] * 4), short, "50 epochs").verdict == "reproduced"


def test_a_claim_with_pairs_at_both_scales_counts_only_those_at_the_papers():
    """Chapter 2 once read "2 of 4 pairs better beyond the noise, 1 reversed" where the reversal was a 1,000-step pair
    that the verdict did not count."""
    rows = [*ROWS, ("lstm-1s", "lstm", 1, 1000), ("lstm-2s", "lstm", 2, 1010)]
    models = {**_models(1.5, 1.3, 1.6, 1.5), **{name: _shifted(losses("base", 1.5), name, loss - 1.5, "lstm")
                                               for name, loss in (("lstm-1s", 1.5), ("lstm-2s", 1.7))}}
    claim = compare.depth_claim(_table(rows, models, ["50 epochs"] * 4 + ["1,000 steps"] * 2), models, "50 epochs")
    assert claim.verdict == "reproduced" and "lstm-1s is better than lstm-2s" in claim.measured
    assert claim.finding == ("judged on models trained with the paper's recipe at the second budget only: 1 of 1 pairs "
                             "better beyond the noise, 0 reversed; 1 more trained with a shorter recipe, not counted")


def test_models_trained_for_different_times_are_never_compared():
    """A 3-layer model trained 50 epochs beside a 1-layer one trained 1,000 steps says nothing about depth."""
    predictions = {"lstm-1": losses("lstm-1", 1.9), "lstm-2": losses("lstm-2", 1.5, seed=1),
                   "rnn-2": losses("rnn-2", 1.8, "rnn", seed=2)}
    rows = [("lstm-1", "lstm", 1, 1000), ("lstm-2", "lstm", 2, 1000), ("rnn-2", "rnn", 2, 1000)]
    table = _table(rows, predictions, trainings=["1,000 steps", "50 epochs", "1,000 steps"])
    assert compare.depth_claim(table, predictions).verdict == "not measured"
    assert compare.gated_claim(table, predictions).verdict == "not measured"


def _tops(name: str, architecture: str, top: np.ndarray) -> Predictions:
    """Predictions over 3 bytes whose most likely byte at each position is ``top``."""
    probs = np.full((len(top), 3), 0.1, np.float32)
    probs[np.arange(len(top)), top] = 0.8
    return Predictions(probs.astype(np.float16), np.log(probs[:, 0]), np.zeros(len(top), np.int64), _positions(),
                       name, architecture, "sha", "test")


def test_cluster_claim_is_noise_tested_on_agreement_between_models_of_one_depth_and_budget():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 3, SEGMENTS * LENGTH)

    def noisy(share: float, seed: int) -> np.ndarray:
        r = np.random.default_rng(seed)
        return np.where(r.random(len(base)) < share, r.integers(0, 3, len(base)), base)

    rows = [("lstm", "lstm", 2, 1000), ("gru", "gru", 2, 1000), ("rnn", "rnn", 2, 1000)]

    def claim(lstm, gru, rnn, **kwargs):
        models = {name: _tops(name, name, top) for name, top in zip(("lstm", "gru", "rnn"), (lstm, gru, rnn))}
        return compare.cluster_claim(_table(rows, models, kwargs.pop("trainings", None)), models, **kwargs)

    apart = claim(base, noisy(0.1, 1), noisy(0.8, 2))
    assert apart.verdict == "reproduced" and apart.corpora == ("warpeace",)
    assert apart.measured.startswith("lstm and gru agree on ") and "either with rnn on at most " in apart.measured
    assert claim(base, noisy(0.8, 1), noisy(0.1, 2)).verdict == "not reproduced"
    assert claim(base, noisy(0.3, 1), noisy(0.3, 2)).verdict == "inconclusive"  # the same distance: within the noise
    longer = claim(base, noisy(0.1, 1), noisy(0.8, 2), trainings=["50 epochs", "1,000 steps", "1,000 steps"])
    assert longer.verdict == "not measured"  # models trained for different times are never compared
    short = claim(base, noisy(0.1, 1), noisy(0.8, 2), trainings=["1,000 steps"] * 3, paper_training="50 epochs")
    assert short.verdict == "not at the paper's scale"
    stuck = claim(base, noisy(0.1, 1), noisy(0.8, 2), plateau=0.1)  # every model at or above the plateau
    assert stuck.verdict == "not measured" and "[not judged: lstm and gru and rnn did not train]" in stuck.measured


def test_models_of_other_sizes_never_stand_in_for_another_type():
    """A small LSTM and a large GRU agree less than the small LSTM and a small RNN: size, not type."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 3, SEGMENTS * LENGTH)
    rows = [("lstm-s", "lstm", 1, 100), ("gru-s", "gru", 1, 100), ("rnn-s", "rnn", 1, 100), ("gru-l", "gru", 1, 1000)]
    tops = [base, np.where(np.arange(len(base)) % 10 == 0, (base + 1) % 3, base),
            np.where(np.arange(len(base)) % 5 == 1, (base + 1) % 3, base), (base + 1) % 3]
    models = {name: _tops(name, architecture, top) for (name, architecture, *_), top in zip(rows, tops)}
    claim = compare.cluster_claim(_table(rows, models), models)
    assert claim.verdict == "reproduced" and "gru-l" not in claim.measured  # the large GRU has no LSTM or RNN beside it


def test_agreement_is_embedded_and_bootstrapped():
    rng = np.random.default_rng(0)
    tops = [rng.integers(0, 3, SEGMENTS * LENGTH) for _ in range(3)]
    models = [_tops(name, name, top) for name, top in zip(("lstm", "gru", "rnn"), tops)]
    embedding = compare.model_embedding(compare.agreement_matrix(models))
    assert list(embedding.model) == ["lstm", "gru", "rnn"] and np.isfinite(embedding[["x", "y"]].to_numpy()).all()
    assert compare.agreement_bootstrap(models, samples=10).shape == (10, 3, 3)


def _shifted(p: Predictions, name: str, by: float, architecture: str = "nnn") -> Predictions:
    return Predictions(p.probs, p.target_log_probs - by, p.targets, p.positions, name, architecture, "sha", "test")


def test_the_lstm_against_the_n_gram_reads_as_trained_and_under_dynamic_evaluation():
    gram = losses("20-gram", 1.1, architecture="ngram")
    lstm, dynamic = _shifted(gram, "lstm", 0.04, "lstm"), _shifted(gram, "lstm", -0.1, "lstm")  # worse, then better
    sentence = compare.against_ngram("Linux", lstm, dynamic, gram)
    assert sentence.startswith("On Linux the LSTM loses to the 20-gram (") and "under dynamic evaluation it beats it" \
        in sentence
    assert "as it does under dynamic evaluation" in compare.against_ngram("Linux", dynamic, dynamic, gram)


def test_finite_horizon_claims_pass_on_table_2s_pattern_and_fail_on_its_reverse():
    base = losses("base", 1.5)
    ngrams = {1: _shifted(base, "2-gram", 0.5, "ngram"), 2: _shifted(base, "3-gram", 0.3, "ngram"),
              20: _shifted(base, "21-gram", -0.3, "ngram")}
    nnns = {1: _shifted(base, "1-NN", 0.505), 2: _shifted(base, "2-NN", 0.302), 5: _shifted(base, "5-NN", 0.0),
            20: _shifted(base, "20-NN", 0.2)}
    similar, overfit, beats = compare.finite_horizon_claims(ngrams, nnns, _shifted(base, "lstm", -0.5, "lstm"),
                                                            "linux")
    assert similar.verdict == "reproduced" and similar.finding == "within 2% at n = 1, 2"
    assert overfit.verdict == "reproduced" and "the 21-gram is better than the 20-NN" in overfit.measured
    assert beats.verdict == "reproduced" and "the paper's 0.945" in beats.measured
    far = {1: _shifted(base, "1-NN", 0.8), 2: _shifted(base, "2-NN", 0.6), 5: _shifted(base, "5-NN", 0.0),
           20: _shifted(base, "20-NN", -0.5)}
    similar, overfit, beats = compare.finite_horizon_claims(ngrams, far, _shifted(base, "lstm", 0.0, "lstm"))
    assert similar.verdict == "not reproduced" and overfit.verdict == "not reproduced"
    assert similar.finding == "beyond 2% at n = 1, 2" and "n = 1: n-NN +" in similar.measured
    assert beats.verdict == "not reproduced" and "the 21-gram is better than lstm" in beats.measured


def test_a_build_without_n_nns_measures_only_what_it_has():
    ngrams = {1: losses("2-gram", 2.0), 20: losses("21-gram", 1.2, seed=2)}
    similar, overfit, beats = compare.finite_horizon_claims(ngrams, {}, losses("lstm", 1.0, seed=6), "linux")
    assert similar.verdict == overfit.verdict == "not measured" and beats.verdict == "reproduced"
    up_to_7 = {n: losses(f"{n}-NN", 1.5 - 0.1 * n, seed=n) for n in (1, 7)}  # Table 2's n = 20 missing
    _, overfit, _ = compare.finite_horizon_claims({**ngrams, 7: losses("8-gram", 1.3, seed=3)}, up_to_7,
                                                  losses("lstm", 1.0, seed=6))
    assert overfit.verdict == "not measured" and "no n-NN at n = 20" in overfit.measured
    gap = {n: losses(f"{n}-NN", 1.5 - 0.01 * n, seed=n) for n in (1, 20)}  # the 7-NN, maybe the best, missing
    _, overfit, _ = compare.finite_horizon_claims({**ngrams, 7: losses("8-gram", 1.3, seed=3)}, gap,
                                                  losses("lstm", 1.0, seed=6))
    assert overfit.verdict == "not measured" and "no n-NN at n = 7 of Table 2's rows" in overfit.measured
    fell = {n: losses(f"{n}-NN", loss, seed=n) for n, loss in ((1, 1.5), (20, 1.8))}  # the 7-NN missing, 1-NN better
    _, overfit, _ = compare.finite_horizon_claims({**ngrams, 7: losses("8-gram", 1.3, seed=3)}, fell,
                                                  losses("lstm", 1.0, seed=6))
    assert overfit.verdict == "reproduced" and overfit.measured.endswith(
        "(without the n-NN at n = 7: the claim needs one smaller n-NN better than the 20-NN, as the 1-NN is, and a "
        "missing row cannot undo that)")
    table = compare.finite_horizon_table(ngrams, {})
    assert table["n-NN"].isna().all() and [trace.name for trace in figures.finite_horizon(table, {}).data] == [
        "n-gram"]
    first, second = table.index[:2]
    assert compare.horizon_worth(table, 0.5).startswith("beats every n-gram here, up to the ")
    assert compare.horizon_worth(table, table["n-gram"].iloc[0] + 0.01) == (
        f"does worse than the {first}-gram ({table['n-gram'].iloc[0]:.3f})")
    between = (table["n-gram"].iloc[0] + table["n-gram"].iloc[1]) / 2  # Table 2's n-grams improve with n
    gram = table["n-gram"]
    assert compare.horizon_worth(table, between) == (f"does worse than the {second}-gram ({gram.iloc[1]:.3f}) "
                                                     f"and better than the {first}-gram ({gram.iloc[0]:.3f})")
    levels = figures.finite_horizon(table, {"lstm": 1.0, "transformer": 1.1}).layout.annotations
    assert [a.text for a in levels] == ["lstm: 1.000", "transformer: 1.100"]
    empty = pd.DataFrame(columns=["step", "n", "symmetric_kl", "delta_loss"])
    assert "no n-NN" in longrange.dynamics_claim(empty).measured


def _erring(name: str, errors: np.ndarray) -> Predictions:
    p = np.where(errors, 0.2, 0.9)
    return Predictions(np.stack([p, 1 - p], 1).astype(np.float16), np.log(p).astype(np.float32),
                       np.zeros(len(p), np.int64), _positions(), name, "lstm", "sha", "test")


@pytest.mark.parametrize(("shared", "verdict"), [(0.7, "reproduced"), (0.1, "not reproduced"),
                                                 (0.5, "inconclusive")])
def test_overlap_is_decided_by_the_shared_share(shared, verdict):
    """Issue 26: with 10% shared, "every model has errors of its own" alone read "partly"."""
    rng = np.random.default_rng(0)
    unique = (1 - shared) * 0.1  # each model's errors of its own; all three err together at shared * 0.3
    kind = rng.choice(5, SEGMENTS * LENGTH, p=[shared * 0.3, unique, unique, unique, 1 - shared * 0.3 - 3 * unique])
    models = [_erring(name, (kind == 0) | (kind == k)) for k, name in enumerate(["lstm", "nnn", "gram"], start=1)]
    claim = longrange.overlap_claim(models)
    assert claim.verdict == verdict, claim.measured
    two = longrange.overlap_claim(models[::2])
    assert two.verdict == "not measured" and "shared by both models" in two.measured  # no n-NN


def _advantage(bytes_: list[int], counts: list[int]) -> pd.DataFrame:
    """A byte-advantage table, largest advantage first, in the order given."""
    return pd.DataFrame({"byte": bytes_, "label": [chr(b) for b in bytes_], "count": counts,
                         "advantage": np.linspace(0.3, -0.1, len(bytes_))})


def test_the_carriage_return_claim_ranks_only_frequent_bytes_and_states_chance():
    top = longrange.advantage_claim(_advantage([13, *range(14, 93)], [500] * 80), prose=True)
    assert top.verdict == "reproduced" and "p = 0.037" in top.chance and top.corpora == ("warpeace",)
    rare_first = longrange.advantage_claim(_advantage([200, 201, 202, 203, *range(20, 60), 13], [5] * 4 + [500] * 41),
                                           prose=True)
    assert rare_first.verdict == "not reproduced" and "ranks 41 of 41" in rare_first.measured  # rare bytes dropped


def test_the_structural_bytes_claim_is_a_test_against_chance():
    """Issue 26: on Linux, "partly" came by chance about 74% of the time."""
    structural = sorted(longrange.STRUCTURAL)
    others = list(range(65, 65 + 70))
    ranked = _advantage(structural[:8] + others, [500] * 78)
    assert longrange.advantage_claim(ranked, prose=False).verdict == "reproduced"
    verdicts = []
    for seed in range(20):  # structural bytes placed at random ranks: chance alone
        order = np.random.default_rng(seed).permutation(structural + others)
        verdicts.append(longrange.advantage_claim(_advantage(list(order), [500] * len(order)), prose=False).verdict)
    assert verdicts.count("partly") + verdicts.count("reproduced") <= 2 and "inconclusive" in verdicts
    last = _advantage(others[:12] + structural, [500] * 24)  # half the bytes structural, none in the top 10
    assert longrange.advantage_claim(last, prose=False).verdict == "not reproduced"


def _closers(gain, n: int = 4000, seed: int = 0, spread: float = 0.2):
    """Closers at distances 1-500 bytes over 20 segments, the model's probability above the baseline's by
    ``gain(distance)`` plus noise."""
    rng = np.random.default_rng(seed)
    distance = rng.integers(1, 500, n)
    baseline = rng.uniform(0.2, 0.4, n)
    model = baseline + gain(distance) + spread * rng.standard_normal(n)
    return distance, model, baseline, np.repeat(np.arange(20), n // 20)


def test_the_closing_brace_claim_passes_on_figure_5s_curve():
    paper = lambda d: np.where(d < 60, d / 60 * 0.3, 0.3 * np.exp(-(d - 60) / 300))  # noqa: E731
    claim = longrange.closer_gain_claim(*_closers(paper))
    assert claim.verdict == "reproduced" and claim.corpora == ("linux",), claim.measured
    rising = longrange.closer_gain_claim(*_closers(lambda d: d / 500 * 0.3))
    assert rising.verdict == "not reproduced"  # no decay: the far gain is the largest


def test_the_closing_brace_claim_does_not_pass_on_noise_or_on_a_few_closers():
    """Issue 26: pure noise read "reproduced" 80% of the time, and 2 braces in a middle bucket sufficed."""
    verdicts = [longrange.closer_gain_claim(*_closers(lambda d: 0 * d, seed=seed)).verdict for seed in range(10)]
    assert "reproduced" not in verdicts and verdicts.count("inconclusive") >= 8
    distance, model, baseline, segments = _closers(lambda d: np.where((d > 40) & (d < 60), 0.5, 0.0), n=200)
    keep = (distance < 20) | (distance > 100) | (np.arange(200) < 2)
    few = longrange.closer_gain_claim(distance[keep], model[keep], baseline[keep], segments[keep])
    assert few.verdict == "not measured"
    none = longrange.closer_gain_claim(distance[:0], model[:0], baseline[:0], segments[:0])  # War and Peace: no braces
    assert none.verdict == "not measured"
    assert none.measured == "no closing brace with its opening brace in the test split"


def _dynamics(kl: dict[int, list[float]], noise: float, seed: int = 0) -> pd.DataFrame:
    """A training-dynamics table: per step, each n-NN's KL (per segment: the value plus noise, 20 segments)."""
    rng = np.random.default_rng(seed)
    rows = []
    for n, values in kl.items():
        for step, value in zip((10, 20, 30, 40), values):
            segment_kl = np.clip(value + noise * rng.standard_normal(20), 0, None) * 50
            rows.append({"step": step, "n": n, "symmetric_kl": segment_kl.sum() / 1000, "delta_loss": 0.0,
                         "segment_kl": segment_kl})
    return pd.DataFrame(rows)


def test_the_training_dynamics_claim_is_noise_tested():
    progression = {1: [0.1, 0.4, 0.6, 0.8], 2: [0.4, 0.1, 0.4, 0.6], 3: [0.6, 0.4, 0.1, 0.3], 4: [0.8, 0.6, 0.3, 0.1]}
    assert longrange.dynamics_claim(_dynamics(progression, 0.05)).verdict == "reproduced"
    backwards = {n: values[::-1] for n, values in progression.items()}
    assert longrange.dynamics_claim(_dynamics(backwards, 0.05)).verdict == "not reproduced"
    skips = {1: [0.1, 0.1, 0.6, 0.8], 2: [0.4, 0.4, 0.4, 0.6], 3: [0.6, 0.6, 0.1, 0.1], 4: [0.8, 0.8, 0.3, 0.3]}
    skipping = longrange.dynamics_claim(_dynamics(skips, 0.05), snapshots="snapshots of lstm-3x8 · 3 epochs")
    assert skipping.verdict == "partly"  # 1, 1, 3, 3: in order, two n only
    assert skipping.measured.startswith(
        "nearest of the n-NNs for n = 1, 2, 3, 4: the 1-NN at the snapshots of steps 10 to 20, the 3-NN at the "
        "snapshots of steps 30 to 40; order holds in ")
    assert skipping.finding == "nearest n-NN 1 → 3" and skipping.caveat == "judged on snapshots of lstm-3x8 · 3 epochs"
    flat = {n: [0.5] * 4 for n in progression}
    assert longrange.dynamics_claim(_dynamics(flat, 0.3)).verdict == "inconclusive"  # the nearest n is noise
    one = longrange.dynamics_claim(_dynamics({1: [0.1] * 4}, 0.05))  # a build with only the 1-NN cannot show it
    assert one.verdict == "not measured" and "n = 1 " in one.measured


def _breakdown(name: str, labels: np.ndarray) -> ErrorBreakdown:
    """A breakdown whose steps are their categories, from per-position labels ("" where no error)."""
    steps = ["n-gram", "memory", "rare", "word", "punctuation", "boost", "remaining"]
    errors = [int((labels == step).sum()) for step in steps]
    table = pd.DataFrame({"step": steps, "category": steps, "errors": errors})
    table["share"] = table["errors"] / max(sum(errors), 1)
    return ErrorBreakdown(name, table, labels.astype(object), np.arange(len(labels)) % 500 + 1000 * (
        np.arange(len(labels)) // 500) + 1)


def _labels(counts: dict[str, int], length: int = 10_000, seed: int = 0) -> np.ndarray:
    labels = np.array([label for label, count in counts.items() for _ in range(count)], dtype=object)
    out = np.full(length, "", dtype=object)
    out[np.random.default_rng(seed).choice(length, len(labels), replace=False)] = labels
    return out


def test_word_starts_are_judged_on_what_the_earlier_oracles_leave():
    """Issue 26: War and Peace's word starts were 34% of the errors against 39% for the rest, an unstated
    denominator, yet 55% of what the n-gram, memory and rare-word oracles leave."""
    war_and_peace = _labels({"n-gram": 800, "memory": 100, "rare": 100, "word": 550, "punctuation": 150,
                             "boost": 150, "remaining": 150})
    claim = breakdown_claim(_breakdown("lstm", war_and_peace))
    assert claim.verdict == "reproduced" and "word starts are 55% of the 1,000 errors left" in claim.measured
    assert "remaining" in claim.threshold and claim.corpora == ("warpeace",)
    minority = _labels({"n-gram": 800, "word": 200, "punctuation": 300, "boost": 300, "remaining": 200})
    assert breakdown_claim(_breakdown("lstm", minority)).verdict == "not reproduced"


def test_scaling_claim_is_noise_tested_and_a_larger_model_with_more_errors_fails():
    large = _labels({"n-gram": 400, "memory": 100, "word": 300, "boost": 100, "remaining": 100})
    small = large.copy()
    free = np.random.default_rng(1).permutation(np.flatnonzero(small == ""))
    small[free[:300]] = "n-gram"
    small[free[300:330]] = "boost"
    claim = scaling_claim(_breakdown("large", large), _breakdown("small", small), ratio=26)
    assert claim.verdict == "reproduced" and claim.measured.startswith("large has 26.0 times the parameters")
    more = scaling_claim(_breakdown("small", small), _breakdown("large", large), ratio=26)
    assert more.verdict == "not reproduced"  # issue 26: read "not measured"
    spread = large.copy()
    for k, category in enumerate(["n-gram", "memory", "word", "boost", "remaining"]):
        spread[free[k * 60 : (k + 1) * 60]] = category
    assert scaling_claim(_breakdown("large", large), _breakdown("small", spread), ratio=26).verdict == (
        "not reproduced")  # the extra errors spread evenly: n-gram is a fifth of them
    difference = scaling_difference(_breakdown("large", large), _breakdown("small", small))
    assert difference.set_index("category").loc["n-gram", "difference"] == 300


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_segment_losses_sum_to_the_cross_entropy(value):
    p = losses("x", 1.0 + value)
    total, counts = compare.segment_losses(p)
    assert len(counts) == SEGMENTS and total.sum() / counts.sum() == pytest.approx(p.cross_entropy)


def _long(name: str, seed: int, segments: int = 20, length: int = 300) -> Predictions:
    """Predictions over segments longer than a summary keeps, with errors and varied most likely bytes."""
    probs = np.random.default_rng(seed).dirichlet(np.ones(4), segments * length)
    targets = np.random.default_rng(0).integers(0, 4, segments * length)  # one text for every model
    return Predictions.from_log_probs(np.log(probs), targets, _positions(segments, length), name, "lstm", "sha", "test")


def test_a_summarised_model_is_measured_as_its_whole_predictions_and_agrees_on_the_bytes_it_keeps(tmp_path):
    whole, other = _long("a", 0), _long("b", 1)
    whole.summarised().save(tmp_path / "a.npz")
    summary = Predictions.load(tmp_path / "a.npz")
    assert summary.is_summarised and len(summary.positions) == 20 * SUMMARY_STRETCH and summary.split_bytes == 6000
    assert summary.cross_entropy == pytest.approx(whole.cross_entropy, abs=1e-12)
    assert summary.error_rate == whole.error_rate > 0 and compare.bootstrap_std(summary) == compare.bootstrap_std(whole)
    assert compare.paired_bootstrap_std(other, summary) == compare.paired_bootstrap_std(other, whole) > 0
    kept = [p.at(summary.positions) for p in (whole, other)]
    pd.testing.assert_frame_equal(compare.agreement_matrix([summary, other]), compare.agreement_matrix(kept))
    assert "2,000 of the 6,000 test bytes" in compare.agreement_scope([summary, other])
    assert compare.agreement_scope([whole, other]) == ""
    with pytest.raises(UserError, match="cover different segments"):
        compare.paired_bootstrap_std(summary, _long("c", 2, segments=10))


class _Corpus:
    def __init__(self, name: str, size: int, vocab_size: int):
        self.name, self.size, self.vocab_size = name, size, vocab_size

    def __len__(self) -> int:
        return self.size


def test_corpus_claim_passes_on_the_papers_corpus_and_fails_on_another():
    assert corpus_claim(_Corpus("warpeace", 3_258_246, 87)).verdict == "reproduced"
    rebuilt = corpus_claim(_Corpus("linux", 6_206_996, 110))  # from Linux 6.1, cut to the paper's size
    assert rebuilt.verdict == "not reproduced" and "the size by construction" in rebuilt.measured
    assert corpus_claim(_Corpus("linux", 6_206_996, 101)).verdict == "reproduced"  # the size alone is no evidence
    assert corpus_claim(_Corpus("warpeace", 3_258_246, 90)).verdict == "partly"
    assert corpus_claim(_Corpus("warpeace", 1_000, 50)).verdict == "not reproduced"
    assert corpus_claim(_Corpus("mine", 1_000, 50)).verdict == "not measured"


def test_lstm_gate_claims_fail_when_no_gate_integrates_and_the_first_layer_is_the_sharpest():
    rows = [(layer, gate, cell, *fractions) for layer, fractions in ((0, (0.45, 0.45)), (1, (0.05, 0.05)))
            for gate in "fio" for cell in range(3)]
    saturation = pd.DataFrame(rows, columns=["layer", "gate", "cell", "left", "right"])
    integrators, feed_forward, output, diffuse = lstm_gate_claims(saturation)
    assert integrators.verdict == "not reproduced" and diffuse.verdict == "not reproduced"
    assert feed_forward.verdict == output.verdict == "reproduced" and "90%" in integrators.threshold



@pytest.mark.parametrize(("low", "high", "verdict"), [(0.05, 0.2, "reproduced"), (-0.05, 0.1, "inconclusive"),
                                                      (-0.3, -0.2, "not reproduced")])
def test_the_attention_claim_follows_the_interval_of_the_memory_errors_excess(low, high, verdict):
    gap = FixedShare("memory", 0.3, 0.3 - (low + high) / 2, low, high)
    names = ("lstm", "transformer")
    alone = attention.attention_claim(gap, None, 1.2, 1.1, names).verdict  # no memory errors beyond the window
    assert alone == {"reproduced": "partly"}.get(verdict, verdict)  # attention itself untested: partly at best
    beyond = FixedShare("100-memory", 0.3, 0.29, -0.02, 0.04, baseline="the 500-memory errors")  # fixed as often
    assert attention.attention_claim(gap, beyond, 1.2, 1.1, names).verdict == (
        {"reproduced": "inconclusive"}.get(verdict, verdict))  # attention is not shown to be what fixes them
    seen = FixedShare("100-memory", 0.3, 0.2, 0.05, 0.15, baseline="the 500-memory errors")  # fixed more within
    assert attention.attention_claim(gap, seen, 1.2, 1.1, names).verdict == verdict  # the second passes: the first
    # decides (within the noise: inconclusive, not partly)
    claim = attention.attention_claim(gap, beyond, 1.2, 1.1, names)
    assert "beyond its window" in claim.measured and "30.00% against 29.00% of those beyond" in claim.finding
    assert "attention is not shown to be what fixes them" in claim.finding
    none = FixedShare("memory", float("nan"), 0.1, float("nan"), float("nan"))
    assert attention.attention_claim(none, None, 1.2, 1.1, names).verdict == "not measured"


def _rates(tracks: int, partly: int) -> pd.DataFrame:
    return pd.DataFrame([{"kind": "all", "threshold": t, "declared": d, "searches": 100, "rate": d / 100,
                          "low": 0.0, "high": 0.05} for t, d in (("tracks", tracks), ("partly or better", partly))])


def test_the_ground_truth_claims_pass_on_a_clean_search_and_fail_on_a_wrong_one():
    assert groundtruth.control_claim(_rates(0, 0)).verdict == "reproduced"
    assert groundtruth.control_claim(_rates(3, 9)).verdict == "not reproduced"
    needed = pd.DataFrame({"role": ["needed", "needed", "control"], "signal": ["a", "b", "c"],
                           "kind": ["binary", "count", "binary"], "score": [0.95, 0.6, 0.5],
                           "declared": ["tracks", "tracks", "none"], "holds": [True, True, False],
                           "probe": [0.99, 0.9, 0.1]})
    missed = needed.assign(declared=["none", "none", "none"])
    assert groundtruth.needed_claim(needed, "m").verdict == groundtruth.probe_claim(needed, "m").verdict == "reproduced"
    assert groundtruth.needed_claim(missed, "m").verdict == groundtruth.probe_claim(missed, "m").verdict == \
        "not reproduced"
    assert groundtruth.probe_claim(needed.assign(holds=False), "m").verdict == "not measured"
    deep = BeyondHorizon("in_quotes", 100, 0.97, 0.95, 400, 300, 10)
    assert groundtruth.horizon_claim(deep, "m").verdict == "reproduced"
    judged = [groundtruth.control_claim(_rates(0, 0)), groundtruth.needed_claim(needed, "m"),
              groundtruth.probe_claim(needed, "m"), groundtruth.horizon_claim(deep, "m")]
    assert all("≥" in claim.threshold for claim in judged)  # each names the test behind its verdict
    assert groundtruth.horizon_claim(BeyondHorizon("in_quotes", 100, 0.97, 0.4, 400, 300, 10), "m").verdict == \
        "not reproduced"
    assert groundtruth.horizon_claim(BeyondHorizon("in_quotes", 100, 0.97, float("nan"), 0, 50, 10), "m").verdict \
        == "not measured"
    used = pd.DataFrame({"signal": ["a", "b"], "first_used": [1.0, 1.0], "ablated": [5, 5], "used": [2, 1]})
    assert groundtruth.used_claim(used, "m").verdict == "reproduced"
    unused = used.assign(first_used=[float("nan")] * 2, used=[0, 0])
    assert groundtruth.used_claim(unused, "m").verdict == "not reproduced"
    assert groundtruth.used_claim(used.iloc[:0], "m").verdict == "not measured"


def test_a_pair_with_a_model_that_did_not_train_is_named_not_judged():
    """An RNN stuck at the byte frequencies' entropy loses to every gated model, for its training, not its type."""
    stuck = _models(1.5, 1.4, 3.2, 1.5)
    table = _table(ROWS, stuck)
    assert compare.gated_claim(table, stuck).verdict == "reproduced"  # without the plateau: a win that means nothing
    claim = compare.gated_claim(table, stuck, plateau=3.126)
    assert claim.verdict == "not measured"
    assert claim.measured.count("[not judged: rnn-2 did not train]") == 2
    depth = compare.depth_claim(table, stuck, plateau=3.126)  # the LSTMs trained: judged as before
    assert depth.verdict == "reproduced" and "not judged" not in depth.measured


def test_the_recipe_claim_names_the_models_that_did_not_train():
    trained = _models(1.5, 1.4, 1.6, 1.5)
    assert compare.recipe_claim(trained, 3.126, list(trained)).verdict == "reproduced"
    stuck = _models(1.5, 1.4, 3.2, 1.5)
    claim = compare.recipe_claim(stuck, 3.126, list(stuck))
    assert claim.verdict == "not reproduced" and "did not train: rnn-2 (3.1" in claim.measured
    assert claim.measured.startswith("3 of 4 models below 3.126 (lstm-1, lstm-2, gru-2); did not train: rnn-2")
    assert compare.recipe_claim(stuck, 3.126).verdict == "not at the paper's scale"  # none with the paper's recipe
    judged = compare.recipe_claim(stuck, 3.126, ["lstm-1", "gru-2"])  # judged on the paper's recipe only
    assert judged.verdict == "reproduced" and judged.finding == "both models trained"
    assert compare.recipe_claim(stuck, 3.126, ["lstm-1"]).finding == "the one model, lstm-1, trained"
    kinds = {name: name.split("-")[0] for name in stuck}
    lstms = compare.recipe_claim(stuck, 3.126, ["lstm-1", "lstm-2"], kinds)  # trained, but LSTMs only: partly
    assert lstms.verdict == "partly" and lstms.finding == "both models trained; no RNN or GRU tested"
    assert lstms.measured.endswith("; no RNN or GRU was trained with the paper's recipe")
    every = compare.recipe_claim(stuck, 3.126, list(stuck), kinds)  # every architecture tested, one failed
    assert every.verdict == "not reproduced" and "tested" not in every.finding
