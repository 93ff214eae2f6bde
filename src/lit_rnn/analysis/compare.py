"""Comparing models: test losses with bootstrap uncertainty (Tables 1 and 2), agreement, and the t-SNE
of models (the paper's Figure 1), with the claims the paper draws from them.

Uncertainty: the test split is char-rnn's 100 (``batch_size``) contiguous segments spread through
the text. A test loss's standard deviation is estimated by the bootstrap over those segments
(resampled with replacement, each segment's bytes kept together), as the paper estimates its own
from bootstrap samples; a difference between two models on the same bytes is bootstrapped paired
(the same resampled segments for both: :mod:`lit_rnn.analysis.segments`). A comparison
(:class:`~lit_rnn.analysis.scorecard.Comparison`) names the better model and is beyond the noise
when the difference exceeds twice its standard deviation either way, so a reversal reads as one.
The bootstrap covers which text is tested, not which seed trained a model: each configuration is
trained once.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from lit_rnn.analysis import scorecard
from lit_rnn.analysis.scorecard import INTERVAL_TEXT, NOISE_TEXT, Claim, Comparison, judge, signed, verdict
from lit_rnn.analysis.segments import SAMPLES, bootstrap, interval, segment_ids, segment_sums
from lit_rnn.errors import UserError
from lit_rnn.predictions import SUMMARY_STRETCH, Predictions, check_aligned, on_common_positions

if TYPE_CHECKING:
    from lit_rnn.models import ModelConfig

# The paper's test cross-entropies (nats per byte) that the book compares with: its best LSTMs and,
# for Linux, its 20-gram. The paper's Linux corpus was built from a 2015 kernel (101 symbols) and
# this one from Linux 6.1 (110 symbols), so Linux is compared by the ratio of LSTM to 20-gram.
PAPER = {"warpeace": {"best LSTM": 1.077}, "linux": {"best LSTM": 0.84, "20-gram": 0.889}}


def paper_ratio(corpus_name: str) -> float | None:
    """The paper's best LSTM loss over its 20-gram's on ``corpus_name`` (None where the paper gives no 20-gram): how
    Linux compares, since the paper's Linux corpus is not this one."""
    paper = PAPER.get(corpus_name, {})
    return paper["best LSTM"] / paper["20-gram"] if {"best LSTM", "20-gram"} <= paper.keys() else None


def segment_losses(predictions: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Summed loss and byte count of each contiguous segment of the split (char-rnn's rows)."""
    losses, counts, _ = predictions.totals()
    return losses, counts


def bootstrap_std(predictions: Predictions, samples: int = SAMPLES, seed: int = 0) -> float:
    """Standard deviation of the test loss under resampling of the split's segments."""
    losses, counts = bootstrap(segment_losses(predictions), samples, seed).T
    return float((losses / counts).std())


def _paired_losses(a: Predictions, b: Predictions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment, ``a``'s and ``b``'s summed losses and the bytes: refused unless both cover the same bytes (the
    same segments' totals, where one is summarised)."""
    (loss_a, counts), (loss_b, counts_b) = segment_losses(a), segment_losses(b)
    if not np.array_equal(counts, counts_b):
        raise UserError(f"predictions of {a.name!r} and {b.name!r} cover different segments")
    if not (a.is_summarised or b.is_summarised):
        check_aligned([a, b])
    return loss_a, loss_b, counts


def paired_bootstrap_std(a: Predictions, b: Predictions, samples: int = SAMPLES, seed: int = 0) -> float:
    """Standard deviation of the loss difference ``a - b`` under the same resampled segments for both."""
    loss_a, loss_b, counts = _paired_losses(a, b)
    difference, total = bootstrap(np.stack([loss_a - loss_b, counts]), samples, seed).T
    return float((difference / total).std())


def comparison(expected: Predictions, other: Predictions, paper_expects: bool = True) -> Comparison:
    """``expected`` (the model the paper expects to be better, where ``paper_expects``) against ``other`` on the same
    bytes."""
    return Comparison(expected.name, other.name, other.cross_entropy - expected.cross_entropy,
                      paired_bootstrap_std(other, expected), paper_expects)


def against_ngram(corpus: str, model: Predictions, dynamic: Predictions, ngram: Predictions) -> str:
    """One sentence: whether the model beats the n-gram beyond the noise, as trained and under dynamic evaluation,
    each difference in paired bootstrap standard deviations (|z|, said in words for readers who meet it here)."""
    def verb(c: Comparison) -> str:
        return {scorecard.FOR: "beats", scorecard.AGAINST: "loses to"}.get(c.outcome, "is within the noise of")

    plain, adapted = comparison(model, ngram), comparison(dynamic, ngram)
    sentence = (f"On {corpus} the LSTM {verb(plain)} the {ngram.name} ({model.cross_entropy:.3f} against "
                f"{ngram.cross_entropy:.3f} nats/byte, a difference of {abs(plain.z):.1f} paired bootstrap standard "
                "deviations)")
    under = f"({dynamic.cross_entropy:.3f}, {abs(adapted.z):.1f} standard deviations)"
    if adapted.outcome == plain.outcome:
        return f"{sentence}, as it does under dynamic evaluation {under}."
    return f"{sentence}; under dynamic evaluation it {verb(adapted)} it {under}."


@dataclass(frozen=True)
class ScoredModel:
    """One row of Table 1's input: a model's test predictions, its config, parameter count and how long it trained
    (``Run.training``, e.g. "50 epochs"; the claims compare only models trained alike)."""

    predictions: Predictions
    config: ModelConfig
    parameters: int
    training: str = ""


def budget_index(parameters: int, budgets: Sequence[int]) -> int:
    """Which of the paper's parameter ``budgets`` a model of ``parameters`` is nearest, in log-parameters."""
    return int(np.argmin(np.abs(np.log(parameters) - np.log(budgets))))


def loss_table(models: Sequence[ScoredModel], budgets: Sequence[int], corpus_name: str | None = None) -> pd.DataFrame:
    """Table 1: one row per model (architecture, n_layers, budget_index, hidden, parameters, dropout, training)
    with its test loss and bootstrap standard deviation.

    ``budgets`` are the paper's four parameter budgets (parameter counts), and ``budget_index`` is the index of
    the one nearest each model. The ``paper`` column holds the paper's best LSTM loss on the best LSTM's row, where
    known.
    """
    rows = [
        dict(model=m.predictions.name, architecture=m.config.architecture, n_layers=m.config.n_layers,
             budget_index=budget_index(m.parameters, budgets), hidden=m.config.hidden_size,
             parameters=m.parameters, dropout=m.config.dropout, training=m.training,
             test_loss=m.predictions.cross_entropy, std=bootstrap_std(m.predictions),
             error_rate=m.predictions.error_rate)
        for m in models
    ]
    table = pd.DataFrame(rows).sort_values(["architecture", "n_layers", "parameters"]).reset_index(drop=True)
    table["paper"] = np.nan
    lstm = table[table.architecture == "lstm"]
    reference = PAPER.get(corpus_name, {}).get("best LSTM")
    if reference is not None and len(lstm):
        table.loc[lstm.test_loss.idxmin(), "paper"] = reference
    return table


def moved(before: float, after: float) -> str:
    """A loss's change in words, as a page shows it (two decimals): "fell from 1.34 to 1.31", "rose from 1.33 to
    1.34", "stayed at 1.33"."""
    if f"{before:.2f}" == f"{after:.2f}":
        return f"stayed at {after:.2f}"
    return f"{'fell' if after < before else 'rose'} from {before:.2f} to {after:.2f}"


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


def finite_horizon_table(ngrams: dict[int, Predictions], nnns: dict[int, Predictions]) -> pd.DataFrame:
    """Table 2: test cross-entropy by bytes of context ``n``: the n-gram seeing n bytes (KenLM order n + 1)
    and the n-NN seeing n bytes, with bootstrap standard deviations."""
    contexts = sorted(set(ngrams) | set(nnns))

    def column(models: dict[int, Predictions], value) -> list[float]:
        return [value(models[n]) if n in models else np.nan for n in contexts]

    return pd.DataFrame({
        "n": contexts,
        "n-gram": column(ngrams, lambda p: p.cross_entropy),
        "n-gram std": column(ngrams, bootstrap_std),
        "n-NN": column(nnns, lambda p: p.cross_entropy),
        "n-NN std": column(nnns, bootstrap_std),
    }).set_index("n")


def horizon_worth(table: pd.DataFrame, loss: float) -> str:
    """What a test ``loss`` is worth in Table 2's terms (``table`` from :func:`finite_horizon_table`): the n-gram of
    fewest bytes of context that does better, and the one just before it, which does not."""
    ngrams = table["n-gram"].dropna()
    better = ngrams.index[ngrams < loss]
    if not len(better):
        return f"beats every n-gram here, up to the {ngrams.index.max()}-gram ({ngrams.iloc[-1]:.3f})"
    worse = ngrams.index[ngrams.index < better.min()]
    return (f"does worse than the {better.min()}-gram ({ngrams[better.min()]:.3f})"
            + (f" and better than the {worse.max()}-gram ({ngrams[worse.max()]:.3f})" if len(worse) else ""))


def agreement_matrix(predictions: list[Predictions]) -> pd.DataFrame:
    """How often each pair of models agrees on the most likely next byte (fraction of positions; of those a
    summarised form keeps, where one is)."""
    predictions = on_common_positions(predictions)
    check_aligned(predictions)
    top = np.stack([p.most_likely for p in predictions])
    agree = (top[:, None, :] == top[None, :, :]).mean(axis=2)
    names = [p.name for p in predictions]
    return pd.DataFrame(agree, index=names, columns=names)


def agreement_scope(predictions: list[Predictions]) -> str:
    """What :func:`agreement_matrix` measured over, in a sentence, where a summarised form limited it ("" if not)."""
    summarised = [p.name for p in predictions if p.is_summarised]
    if not summarised:
        return ""
    kept, split = len(on_common_positions(predictions)[0].positions), predictions[0].split_bytes
    which = "one model" if len(summarised) == 1 else f"{len(summarised)} models"
    return (f"Agreement here is measured on {kept:,} of the {split:,} test bytes ({SUMMARY_STRETCH} consecutive bytes "
            f"of each test segment, at seeded offsets): {which} of the table came without weights, with their most "
            "likely bytes kept at those bytes only (their losses and error rates above are over every byte).")


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

def _seed_losses(seeded: Sequence[ScoredModel]) -> np.ndarray:
    return np.array([m.predictions.cross_entropy for m in seeded])


def seed_spread(replicates: Sequence[Sequence[ScoredModel]]) -> pd.DataFrame:
    """Per model trained with several seeds (one scored model per seed), the spread of its test loss across the
    seeds beside the bootstrap's over the test segments: how much of a difference between models a seed can make,
    which the bootstrap does not see."""
    rows = []
    for seeded in replicates:
        losses = _seed_losses(seeded)
        rows.append(dict(model=seeded[0].config.name, seeds=len(losses), mean=losses.mean(), std=losses.std(ddof=1),
                         lowest=losses.min(), highest=losses.max(),
                         bootstrap=float(np.mean([bootstrap_std(m.predictions) for m in seeded]))))
    return pd.DataFrame(rows, columns=["model", "seeds", "mean", "std", "lowest", "highest", "bootstrap"])


def seed_comparisons(replicates: Sequence[Sequence[ScoredModel]], budgets: Sequence[int]) -> list[Comparison]:
    """Each gated model against the RNN of its depth and parameter budget (of ``budgets``), trained alike, where both
    were trained with several seeds: the difference of their mean test losses over its standard error across the
    seeds (unpooled, as Welch's; judged at |z| > 2 like every comparison, a rough test with so few seeds), the
    paper's way when the gated model is better."""
    def key(seeded: Sequence[ScoredModel]) -> tuple:
        first = seeded[0]
        return first.config.n_layers, budget_index(first.parameters, budgets), first.training

    out = []
    for gated, rnn in itertools.product(replicates, replicates):
        if gated[0].config.architecture != "rnn" and rnn[0].config.architecture == "rnn" and key(gated) == key(rnn):
            (gated_losses, rnn_losses) = map(_seed_losses, (gated, rnn))
            std = np.sqrt(gated_losses.var(ddof=1) / len(gated_losses) + rnn_losses.var(ddof=1) / len(rnn_losses))
            out.append(Comparison(gated[0].config.name, rnn[0].config.name, rnn_losses.mean() - gated_losses.mean(),
                                  float(std)))
    return out


def did_not_train(loss: float, plateau: float) -> bool:
    """Whether a model learned nothing beyond the byte frequencies: its loss (test, or its best on validation) at or
    above their entropy, ``plateau`` (:func:`byte_entropy`)."""
    return loss >= plateau


class _Pair(NamedTuple):
    """One comparison of a claim on Table 1: whether its models trained with the paper's recipe, the names of those
    that did not train at all, and the budget they share (0: the smallest)."""

    scaled: bool
    comparison: Comparison | Closeness
    untrained: list[str]
    budget_index: int


BUDGET_WORDS = ("smallest", "second", "third", "largest")  # the paper's four budgets, in a sentence
NAMED_CLOSE = 4  # a claim's caveat names its pairs within the seeds' noise up to this many, else counts them


def _scaled(name: str, pairs: list[_Pair], threshold: str, finding: str, judged=verdict, detail=None,
            by_budget: str | None = None, seed_std: float | None = None) -> Claim:
    """A claim from its comparisons: judged (``judged``: outcomes to verdict) on those at the paper's scale whose
    models trained, or counted "not at the paper's scale" when there are none; "not measured" without any. A
    comparison with a model that did not train is named, not judged: it says nothing of the architectures, only that
    the training failed. ``finding`` is formatted with the counts ``beyond``, ``against``, ``within`` and ``total``,
    for all the counted comparisons and, where they span budgets, ``by_budget`` (default: ``finding``) for each
    budget; ``detail(counted)`` (the counted comparisons), where given, adds a few words to it. ``seed_std``: how far
    a seed moves one model's test loss (:func:`seed_spread`), where measured: see :func:`_counting_seeds`."""
    if not pairs:
        return Claim("Models", name, "no pair of models to compare", judge(None), threshold)
    trained = [pair for pair in pairs if not pair.untrained]
    at_scale = [pair for pair in trained if pair.scaled]
    mixed = 0 < len(at_scale) < len(trained)  # else the verdict says it for every comparison at once
    measured = "; ".join(
        str(pair.comparison) + (f" [not judged: {' and '.join(pair.untrained)} did not train]" if pair.untrained else
                                " [not at the paper's scale]" if mixed and not pair.scaled else "")
        for pair in pairs)
    if not trained:
        return Claim("Models", name, measured, judge(None), threshold)
    counted = [pair.comparison for pair in at_scale or trained]
    skipped, apart = len(pairs) - len(trained), len(trained) - len(counted)

    def tallied(comparisons, words: str = finding) -> str:
        outcomes = [c.outcome for c in comparisons]
        return words.format(beyond=outcomes.count(scorecard.FOR), against=outcomes.count(scorecard.AGAINST),
                              within=outcomes.count(scorecard.WITHIN), total=len(outcomes))

    words = detail(counted) if detail else ""
    tally = tallied(counted) + (f": {words}" if words else "")
    spanned = sorted({pair.budget_index for pair in at_scale or trained})
    if len(spanned) > 1:  # an effect may turn with size: each budget's own count
        tally += "; by budget: " + "; ".join(
            f"{BUDGET_WORDS[b]}, " + tallied([p.comparison for p in at_scale or trained if p.budget_index == b],
                                             by_budget or finding)
            for b in spanned)
    budgets = sorted({pair.budget_index for pair in at_scale})
    if at_scale and len(budgets) < len(BUDGET_WORDS):  # say which budgets the verdict rests on
        only = f"{scorecard.listed(BUDGET_WORDS[b] for b in budgets)} budget{'s' if len(budgets) > 1 else ''}"
        tally = f"judged on models trained with the paper's recipe at the {only} only: {tally}"
    if apart:
        tally = f"{tally}; {apart} more trained with a shorter recipe, not counted"
    claim = Claim("Models", name, measured, judged([c.outcome for c in counted]), threshold,
                  finding=tally + (f"; {skipped} not judged, as "
                                   + ("one of its models" if skipped == 1 else "a model in each") + " did not train"
                                   if skipped else ""))
    if seed_std is not None:
        claim = _counting_seeds(claim, counted, seed_std, judged)
    return claim if at_scale else scorecard.at_scale(claim, False)


def _counting_seeds(claim: Claim, counted: list[Comparison], seed_std: float, judged) -> Claim:
    """``claim`` with a caveat naming its comparisons beyond the bootstrap's noise that are within it once two
    seeds' share is counted too (a difference's standard deviation √(s² + 2 ``seed_std``²), s the paired
    bootstrap's), and the verdict ``judged`` would then give where it differs."""
    with_seeds = [dataclasses.replace(c, std=float(np.hypot(c.std, np.sqrt(2) * seed_std))) for c in counted]
    decided = [c.outcome in (scorecard.FOR, scorecard.AGAINST) for c in counted]
    close = [c for c, seeded, beyond in zip(counted, with_seeds, decided)
             if beyond and seeded.outcome == scorecard.WITHIN]
    if not close:
        return claim
    named = scorecard.listed("{} over {}".format(*c.ranked) + f" by {abs(c.difference):.3f}"
                             for c in close) if len(close) <= NAMED_CLOSE else ""
    caveat = (f"within the noise once the seeds' share is counted too ({seed_std:.4f} nats/byte a model, as chapter 2 "
              f"measured it on a few small models): {len(close)} of the {sum(decided)} pairs beyond it"
              + (f", {named}" if named else ""))
    again = judged([c.outcome for c in with_seeds])
    return scorecard.with_caveat(claim, caveat + ("" if again == claim.verdict else
                                                  f"; counting the seeds, the verdict would read: {again}"))


def _paired(table: pd.DataFrame, predictions: dict[str, Predictions], key: str, pick, paper_training: str | None,
            plateau: float | None, measure=comparison) -> list[_Pair]:
    """Comparisons within each group of models trained alike with the same ``key`` and budget: ``pick(group)`` gives
    tuples of rows (by default (expected, other)), each compared by ``measure`` on their predictions; each is flagged
    whether its models trained with ``paper_training`` (None: all are), with the names of those that did not train
    (test loss at or above ``plateau``; None: every model counts)."""
    out = []
    for (training, _, budget), group in table.groupby(["training", key, "budget_index"]):
        for rows in pick(group):
            models = [predictions[row.model] for row in rows]
            untrained = [p.name for p in models if plateau is not None and did_not_train(p.cross_entropy, plateau)]
            out.append(_Pair(paper_training is None or training == paper_training, measure(*models), untrained,
                             int(budget)))
    return out


def depth_claim(table: pd.DataFrame, predictions: dict[str, Predictions], paper_training: str | None = None,
                plateau: float | None = None, seed_std: float | None = None) -> Claim:
    """The paper: depth of at least 2 is beneficial (and at 3 layers results are mixed). Tested at every
    (training, architecture, budget) with a 1-layer and a 2-layer model: the 2-layer model is better beyond the
    noise. ``paper_training``: the paper's recipe's ``training`` (e.g. "50 epochs"); other models are counted apart.
    ``plateau``: the byte frequencies' entropy; a pair with a model at or above it is named, not judged.
    ``seed_std``: how far a seed moves a model's test loss, where measured (pairs within the noise once it is
    counted are named in the caveat)."""
    def pick(group):
        one, two = group[group.n_layers == 1], group[group.n_layers == 2]
        return [(two.iloc[0], one.iloc[0])] if len(one) and len(two) else []

    return _scaled("Depth of at least 2 helps (2 layers against 1)", _paired(table, predictions, "architecture", pick,
                                                        paper_training, plateau),
                   f"each 2-layer model better than the 1-layer model of its type and budget; {NOISE_TEXT}",
                   "{beyond} of {total} pairs better beyond the noise, {against} reversed", seed_std=seed_std)


def three_layers_claim(table: pd.DataFrame, predictions: dict[str, Predictions], paper_training: str | None = None,
                       plateau: float | None = None, seed_std: float | None = None) -> Claim:
    """The paper: between 2 and 3 layers the results are mixed. Tested at every (training, architecture, budget) with
    a 2-layer and a 3-layer model: mixed when the 3-layer model is better beyond the noise in some and worse beyond
    it in others (:func:`~lit_rnn.analysis.scorecard.mixed`). ``paper_training``, ``plateau``, ``seed_std``: as
    :func:`depth_claim`'s."""
    def pick(group):
        two, three = group[group.n_layers == 2], group[group.n_layers == 3]
        return [(three.iloc[0], two.iloc[0])] if len(two) and len(three) else []

    def which(counted: list[Comparison]) -> str:
        """The architectures 3 layers helped and those they hurt, beyond the noise."""
        kinds = {outcome: sorted({predictions[c.expected].architecture.upper() for c in counted
                                  if c.outcome == outcome})
                 for outcome in (scorecard.FOR, scorecard.AGAINST)}
        return " and ".join(f"{words} {scorecard.listed(kinds[outcome])}" for outcome, words in
                         ((scorecard.FOR, "better for the"), (scorecard.AGAINST, "worse for the")) if kinds[outcome])

    return _scaled("Between 2 and 3 layers the results are mixed",
                   _paired(table, predictions, "architecture", pick, paper_training, plateau,
                           measure=lambda three, two: comparison(three, two, paper_expects=False)),
                   "the 3-layer model better than the 2-layer model of its type and budget beyond the noise in some "
                   "pairs and worse beyond it in others (not reproduced when all pairs beyond the noise go one way; "
                   f"not measured with fewer than two pairs); {NOISE_TEXT}",
                   "3 layers better beyond the noise in {beyond} of {total} pairs, worse in {against}",
                   judged=scorecard.mixed, detail=which, by_budget="{beyond} of {total} better, {against} worse",
                   seed_std=seed_std)


def gated_claim(table: pd.DataFrame, predictions: dict[str, Predictions], paper_training: str | None = None,
                plateau: float | None = None, seed_std: float | None = None) -> Claim:
    """The paper: the LSTM and the GRU significantly outperform the RNN. Tested at every (training, depth, budget)
    where an RNN and a gated model were both trained: the gated model is better beyond the noise. ``plateau``: as
    :func:`depth_claim`'s (an RNN that did not train loses for that reason, not its architecture); ``seed_std``
    too."""
    def pick(group):
        rnn = group[group.architecture == "rnn"]
        return [(group[group.architecture == gated].iloc[0], rnn.iloc[0]) for gated in ("lstm", "gru")
                if len(rnn) and (group.architecture == gated).any()]

    return _scaled("The LSTM and the GRU beat the RNN", _paired(table, predictions, "n_layers",
                                                                pick, paper_training, plateau),
                   f"each LSTM and GRU better than the RNN of its depth and budget; {NOISE_TEXT}",
                   "{beyond} of {total} pairs better beyond the noise, {against} reversed", seed_std=seed_std)


def recipe_claim(predictions: dict[str, Predictions], plateau: float, paper_models: list[str] | None = None,
                 architectures: dict[str, str] | None = None) -> Claim:
    """The paper: its optimisation settings "work robustly with all of our models". Tested on every model trained
    with the paper's recipe (``paper_models``, cut short or not; the others only if there are none, counted "not at
    the paper's scale"): each ends below the byte frequencies' entropy ``plateau``, the loss of a model that learned
    nothing but them (a floor: a model that learned anything at all passes it). ``architectures`` (by model name): an
    architecture of the paper's that no tested model has leaves the claim partly reproduced at best."""
    name = "The paper's recipe trains every model"
    threshold = (f"every model's test loss below the byte frequencies' entropy ({plateau:.3f} nats/byte), a floor "
                 "that any model which learned something passes; partly if an architecture is not tested")
    models = paper_models or list(predictions)
    if not models:
        return Claim("Models", name, "no model", judge(None), threshold)
    failed = [m for m in models if did_not_train(predictions[m].cross_entropy, plateau)]
    passed = [m for m in models if m not in failed]
    tested = {architectures[m] for m in models} if architectures else {"rnn", "lstm", "gru"}
    absent = " or ".join(a.upper() for a in ("rnn", "lstm", "gru") if a not in tested)
    counted = f"{len(models)} model{'s' if len(models) > 1 else ''}"
    measured = (f"{len(passed)} of {counted} below {plateau:.3f}" + (f" ({', '.join(passed)})" if passed else "")
                + (f"; did not train: {', '.join(f'{m} ({predictions[m].cross_entropy:.3f})' for m in failed)}"
                   if failed else "")
                + (f"; no {absent} was trained with the paper's recipe" if absent else ""))
    claim = Claim("Models", name, measured, judge(not failed and not absent, partly=not failed), threshold,
                  finding=(f"{len(failed)} of {counted} did not train" if failed else
                           f"the one model, {models[0]}, trained" if len(models) == 1 else
                           "both models trained" if len(models) == 2 else f"all {counted} trained")
                  + (f"; no {absent} tested" if absent else ""))
    return scorecard.at_scale(claim, bool(paper_models))


def agreement_bootstrap(predictions: list[Predictions], samples: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """Bootstrap over the test segments of :func:`agreement_matrix`: (samples, models, models)."""
    predictions = on_common_positions(predictions)
    check_aligned(predictions)
    top = np.stack([p.most_likely for p in predictions])
    segments = segment_ids(predictions[0].positions)
    m = len(predictions)
    pairs = [(top[i] == top[j]) for i in range(m) for j in range(m)]
    sums = segment_sums(segments, *pairs, np.ones(len(segments)))
    resampled = bootstrap(sums, samples, seed)  # (samples, m * m + 1)
    return (resampled[:, :-1] / resampled[:, -1:]).reshape(samples, m, m)


@dataclass(frozen=True)
class Closeness:
    """An LSTM, a GRU and an RNN of one depth and budget: how often the two gated models agree on the most likely
    byte, against the most either agrees with the RNN, with the 95% bootstrap interval of that margin."""

    lstm: str
    gru: str
    rnn: str
    gated: float  # the LSTM's and the GRU's agreement
    across: float  # the most agreement between either of them and the RNN
    low: float  # the margin's (gated - across) 95% bootstrap interval
    high: float

    @property
    def outcome(self) -> str | None:
        return scorecard.outcome_interval(self.low, self.high)

    def __str__(self) -> str:
        def points(value: float) -> str:
            return signed(100 * value, 2)

        return (f"{self.lstm} and {self.gru} agree on {self.gated:.1%} of bytes, either with {self.rnn} on at most "
                f"{self.across:.1%}: margin {points(self.gated - self.across)} points (95% interval "
                f"{points(self.low)} to {points(self.high)})")


def closeness(lstm: Predictions, gru: Predictions, rnn: Predictions) -> Closeness:
    """How much closer an LSTM's and a GRU's predictions are to each other than either's to an RNN's
    (:class:`Closeness`), on the bytes all three keep."""
    agree, resampled = agreement_matrix([lstm, gru, rnn]).to_numpy(), agreement_bootstrap([lstm, gru, rnn])
    margins = resampled[:, 0, 1] - np.maximum(resampled[:, 0, 2], resampled[:, 1, 2])
    return Closeness(lstm.name, gru.name, rnn.name, float(agree[0, 1]), float(max(agree[0, 2], agree[1, 2])),
                     *interval(margins))


def cluster_claim(table: pd.DataFrame, predictions: dict[str, Predictions], paper_training: str | None = None,
                  plateau: float | None = None) -> Claim:
    """The paper (Figure 1 right, on War and Peace): LSTM and GRU predictions are similar and the RNNs form a
    cluster of their own. Tested at every (training, depth, budget) with an LSTM, a GRU and an RNN, on agreement on
    the most likely byte: the LSTM and the GRU agree more with each other than either does with the RNN, beyond
    the noise (:class:`Closeness`). Models of one depth and budget are compared, as the other claims compare them,
    so that size, which makes models agree as much as type does, never poses as type. ``paper_training``,
    ``plateau``: as :func:`depth_claim`'s."""
    def pick(group):
        rows = [group[group.architecture == a] for a in ("lstm", "gru", "rnn")]
        return [] if any(row.empty for row in rows) else [tuple(row.iloc[0] for row in rows)]

    claim = _scaled("LSTM and GRU predictions cluster apart from the RNN's",
                    _paired(table, predictions, "n_layers", pick, paper_training, plateau, measure=closeness),
                    "the LSTM and the GRU of each depth and budget agree more on the most likely byte with each other "
                    "than either with the RNN; " + INTERVAL_TEXT.format(0),
                    "the LSTM and the GRU closer to each other than to the RNN beyond the noise at {beyond} of "
                    "{total} depths and budgets, one of them closer to the RNN at {against}, within the noise at "
                    "{within}", by_budget="{beyond} of {total} closer, {against} reversed, {within} within the noise")
    return dataclasses.replace(claim, corpora=("warpeace",))


SIMILAR = 0.02  # "nearly identical" losses: within 2% of each other


def _relative_gap(a: Predictions, b: Predictions) -> tuple[float, float, float]:
    """``a``'s loss relative to ``b``'s, minus 1, with its 95% paired bootstrap interval."""
    loss_a, loss_b, _ = _paired_losses(a, b)
    resampled = bootstrap(np.stack([loss_a, loss_b]))
    low, high = interval(resampled[:, 0] / resampled[:, 1] - 1)
    return a.cross_entropy / b.cross_entropy - 1, low, high


def _similar_claim(ngrams: dict[int, Predictions], nnns: dict[int, Predictions]) -> Claim:
    """n-NN and n-gram within SIMILAR of each other at every n <= 3, beyond the noise."""
    name = "n-NN and n-gram nearly identical at small n"
    threshold = f"|n-NN / n-gram - 1| <= {SIMILAR:.0%} at each n <= 3: its 95% bootstrap interval inside (for) or " \
                "outside (against) that band"
    small = [n for n in sorted(set(ngrams) & set(nnns)) if n <= 3]
    if not small:
        return Claim("Baselines", name, "no n <= 3 with both", judge(None), threshold)
    gaps = {n: _relative_gap(nnns[n], ngrams[n]) for n in small}
    outcomes = [scorecard.FOR if low >= -SIMILAR and high <= SIMILAR else
                scorecard.AGAINST if low > SIMILAR or high < -SIMILAR else scorecard.WITHIN
                for _, low, high in gaps.values()]
    measured = "; ".join(f"n = {n}: n-NN {signed(g, 2, percent=True)} against the n-gram "
                         f"({signed(low, 2, percent=True)} to {signed(high, 2, percent=True)})"
                         for n, (g, low, high) in gaps.items())
    outside = [str(n) for n, outcome in zip(gaps, outcomes) if outcome == scorecard.AGAINST]
    unsure = [str(n) for n, outcome in zip(gaps, outcomes) if outcome == scorecard.WITHIN]
    finding = "; ".join([*([f"beyond {SIMILAR:.0%} at n = {', '.join(outside)}"] if outside else []),
                         *([f"undecided at n = {', '.join(unsure)}"] if unsure else [])]) or \
        f"within {SIMILAR:.0%} at n = {', '.join(map(str, gaps))}"
    return Claim("Baselines", name, measured, verdict(outcomes), threshold, finding=finding)


def finite_horizon_claims(ngrams: dict[int, Predictions], nnns: dict[int, Predictions], recurrent: Predictions,
                          corpus_name: str | None = None) -> list[Claim]:
    """The paper's claims about Table 2: n-NN and n-gram nearly identical at small n; the n-NN overfitting,
    and the n-gram ahead, at large n (judged when every row of Table 2 has its n-NN, or when the rows at hand already
    show a smaller n-NN better beyond the noise, which a missing row cannot undo); the best recurrent model ahead of
    the 20-gram (the n-gram seeing 20 bytes). ``ngrams`` and ``nnns`` map the bytes of context n to predictions."""
    overfit_name = "At large n the n-NN overfits and the n-gram is better"
    overfit_threshold = (f"at the largest n, the n-gram better than the n-NN, and the n-NN worse than at a smaller n; "
                         f"{NOISE_TEXT}")
    largest = max(ngrams, default=0)  # Table 2's largest n: the claim is about it, not the largest n-NN at hand
    lacking = [n for n in sorted(ngrams) if n not in nnns]  # rows of Table 2 without their n-NN
    tests, best_n = None, None
    if largest > 3 and largest in nnns and any(k < largest for k in nnns):
        best_n = min((k for k in nnns if k < largest), key=lambda k: nnns[k].cross_entropy)
        tests = comparison(ngrams[largest], nnns[largest]), comparison(nnns[best_n], nnns[largest])
    # A missing row may be the smaller n that the largest falls behind; so without every row only a fall already
    # beyond the noise is judged (one smaller n-NN better is the claim; a missing row cannot undo it).
    if tests and (not lacking or tests[1].outcome == scorecard.FOR):
        overfit = Claim("Baselines", overfit_name, f"n = {largest}: {tests[0]}; {tests[1]}"
                        + (f" (without the n-NN at n = {', '.join(map(str, lacking))}: the claim needs one smaller "
                           f"n-NN better than the {largest}-NN, as the {best_n}-NN is, and a missing row cannot undo "
                           "that)" if lacking else ""),
                        verdict([test.outcome for test in tests]), overfit_threshold)
    else:
        overfit = Claim("Baselines", overfit_name,
                        f"no n-NN at n = {', '.join(map(str, lacking))} of Table 2's rows" if lacking else
                        f"Table 2's largest n is {largest}: no large n to overfit at", judge(None), overfit_threshold)
    beats_name, beats_threshold = "The best recurrent model beats the 20-gram", f"better than the n-gram; {NOISE_TEXT}"
    top = max(ngrams, default=None)
    if top is None:
        return [_similar_claim(ngrams, nnns), overfit,
                Claim("Baselines", beats_name, "no n-gram", judge(None), beats_threshold)]
    gram = ngrams[top]
    versus = comparison(recurrent, gram)
    measured = f"{versus} (the {top}-gram: {gram.cross_entropy:.3f}, {recurrent.name}: {recurrent.cross_entropy:.3f})"
    if (ratio := paper_ratio(corpus_name)) is not None:
        measured += (f"; ratio {recurrent.cross_entropy / gram.cross_entropy:.3f}, the paper's {ratio:.3f} "
                     "(its own corpus)")
    beats = Claim("Baselines", beats_name, measured, verdict([versus.outcome]), beats_threshold,
                  finding=f"{'better' if versus.difference >= 0 else 'worse'} than the {top}-gram by "
                          f"{abs(versus.difference):.3f} nats/byte")
    return [_similar_claim(ngrams, nnns), overfit, beats]
