"""The paper's error breakdown: peel a model's errors with oracles, in order, like an onion.

An error is a test byte given probability below 0.5. Oracles are applied in the paper's
order; each removes only the errors that earlier ones left:

1. ``n-gram``: at least one of the given n-gram models (n = 1..9) predicts the byte correctly
   (probability >= 0.5): short context alone would have fixed it.
2. ``{n}-memory``, for each memory size ``n`` in increasing order: the byte lies in a word, is not
   its first byte, and the word occurs as a substring of the ``n`` bytes before the word starts —
   within the test segment the model is reading, which it has seen since its fresh start (the
   "yelled Mary ... Mary" failure: the history repeats and the model does not copy it).
3. ``{t}-train``, for each threshold ``t`` in increasing order: the byte lies in a word seen at
   most ``t`` times in the training split (more data or pretraining might fix it).
4. ``word``: the byte follows a space, a quote or a newline: the first byte of a word, where
   the model must choose the next word.
5. ``punctuation``: the byte is punctuation.
6. ``boost-{a}``, for each amount ``a`` in increasing order: adding ``a`` to the probability of
   the correct byte would make it no error.

What is left is ``remaining``. A *word* is a maximal run of letters (ASCII letters, and bytes
>= 0x80, which in UTF-8 text are the pieces of non-ASCII letters) possibly joined by single
apostrophes between letters ("don't", "Mary's"); a quote before or after a word is not part of
it, and words are case-sensitive. A byte is "in a word" when its offset lies inside one.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lit_rnn.analysis.scorecard import (
    AGAINST,
    BEYOND,
    FOR,
    INTERVAL_TEXT,
    NOISE,
    NOT_REPRODUCED,
    Claim,
    judge,
    outcome_interval,
    outcome_z,
    verdict,
)
from lit_rnn.analysis.segments import SAMPLES, bootstrap, interval, segment_ids, segment_starts, segment_sums
from lit_rnn.analysis.signals import as_bytes
from lit_rnn.errors import UserError
from lit_rnn.predictions import ERROR_THRESHOLD, Predictions, check_aligned

NOT_AN_ERROR = ""
REMAINING = "remaining"


@dataclass(frozen=True)
class OracleConfig:
    """The oracles' parameters; every sequence is applied in increasing order."""

    ngram_contexts: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9)  # the n-grams the first oracle consults, by
    # bytes of context (Table 2's rows; the one seeing n bytes has order n + 1)
    memory_sizes: tuple[int, ...] = (100, 500, 1000, 5000)
    rare_thresholds: tuple[int, ...] = (0, 1, 2, 5)
    boosts: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)
    word_start_after: bytes = b' "\n'
    punctuation: bytes = string.punctuation.encode()

    def __post_init__(self) -> None:
        for name in ("ngram_contexts", "memory_sizes", "rare_thresholds", "boosts"):
            values = getattr(self, name)
            if list(values) != sorted(set(values)) or (values and values[0] < 0):
                raise UserError(f"oracle {name} must be distinct, non-negative and increasing, got {values}")


@dataclass(frozen=True)
class ErrorBreakdown:
    """Which oracle removed each of a model's errors, and the totals per oracle step."""

    name: str  # the model's
    table: pd.DataFrame  # step, category, errors (attributed to the step), share, remaining (after it)
    labels: np.ndarray  # per prediction: the step that removed its error, "remaining", or "" (no error)
    offsets: np.ndarray  # per prediction: corpus offset of the predicted byte (positions + 1)


def word_spans(data: bytes | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[start, stop)`` offsets of every word of ``data``, in order (see the module's definition)."""
    data = as_bytes(data)
    letter = np.zeros(256, bool)
    letter[list(string.ascii_letters.encode())] = True
    letter[0x80:] = True
    is_letter = letter[data]
    joined = np.zeros_like(is_letter)
    joined[1:-1] = (data[1:-1] == ord("'")) & is_letter[:-2] & is_letter[2:]
    inside = np.concatenate([[False], is_letter | joined, [False]]).astype(np.int8)
    edges = np.diff(inside)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _word_of(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop of the word holding each offset, or -1 and -1 (an offset may be ``len(data)``)."""
    starts, stops = (np.concatenate([[-1], s]) for s in word_spans(data))  # an empty word before the text
    run = np.searchsorted(starts, offsets, side="right") - 1
    inside = offsets < stops[run]
    return np.where(inside, starts[run], -1), np.where(inside, stops[run], -1)


def train_word_counts(data: bytes | np.ndarray, train_positions: np.ndarray) -> Counter[bytes]:
    """How often each word occurs in the training split (its contiguous segments, each counted apart)."""
    data = as_bytes(data)
    positions = np.asarray(train_positions).ravel()
    breaks = np.flatnonzero(np.diff(segment_ids(positions))) + 1
    text = b"\n".join(data[segment].tobytes() for segment in np.split(positions, breaks) if len(segment))
    return Counter(text[a:b] for a, b in zip(*word_spans(text)))


def _memory_lookback(text: bytes, starts: np.ndarray, stops: np.ndarray, floors: np.ndarray,
                     horizon: int) -> np.ndarray:
    """Bytes back from each word's start to its latest earlier occurrence (inf if none within ``horizon``).

    The search never reaches before ``floors`` (the start of the test segment the model is reading),
    so it looks only at text the model has seen. One ``bytes.rfind`` per distinct word occurrence.
    """
    spans, inverse = np.unique(np.stack([starts, stops, floors], axis=1), axis=0, return_inverse=True)
    found = np.full(len(spans), np.inf)
    for k, (start, stop, floor) in enumerate(spans):
        at = text.rfind(text[start:stop], max(floor, start - horizon), start)
        if at >= 0:
            found[k] = start - at
    return found[inverse.ravel()]


def _oracle_steps(
    model: Predictions,
    ngrams: Sequence[Predictions],
    data: np.ndarray,
    counts: Counter[bytes],
    config: OracleConfig,
) -> list[tuple[str, str, np.ndarray]]:
    """Every oracle step in order as (step, category, mask of predictions it could remove)."""
    offsets = model.positions + 1
    target = np.append(data, data[:1])[offsets]  # char-rnn's last target wraps to the first byte
    # Word oracles look only at errors: per error word, one substring search and one count.
    errors = np.flatnonzero(model.errors)
    starts, stops = _word_of(data, offsets[errors])
    errors, starts, stops = errors[starts >= 0], starts[starts >= 0], stops[starts >= 0]
    text = data.tobytes()
    lookback = np.full(len(offsets), np.inf)
    later = offsets[errors] > starts  # the memory oracle forgives a word's bytes from its second one on
    if config.memory_sizes and later.any():
        floors = segment_starts(model.positions)[errors[later]]
        lookback[errors[later]] = _memory_lookback(text, starts[later], stops[later], floors, config.memory_sizes[-1])
    seen = np.full(len(offsets), np.inf)
    seen[errors] = [counts.get(text[a:b], 0) for a, b in zip(starts, stops)]
    correct_by_ngram = np.zeros(len(offsets), bool)
    for ngram in ngrams:
        correct_by_ngram |= ~ngram.errors
    return [
        ("n-gram", "n-gram", correct_by_ngram),
        *((f"{n}-memory", "memory", lookback <= n) for n in config.memory_sizes),
        *((f"{t}-train", "rare", seen <= t) for t in config.rare_thresholds),
        ("word", "word", np.isin(data[model.positions], list(config.word_start_after))),
        ("punctuation", "punctuation", np.isin(target, list(config.punctuation))),
        *((f"boost-{a:g}", "boost", model.target_probs + a >= ERROR_THRESHOLD) for a in config.boosts),
    ]


def error_breakdown(
    model: Predictions,
    ngrams: Sequence[Predictions],
    data: bytes | np.ndarray,
    train_positions: np.ndarray,
    config: OracleConfig = OracleConfig(),
) -> ErrorBreakdown:
    """Peel ``model``'s errors with the oracles in order (Figure 6 left).

    ``ngrams`` are n-gram predictions over the same positions (n = 1..9 in the paper);
    ``data`` is the corpus and ``train_positions`` its training split's offsets
    (``Batcher.positions("train")``), whose words the rare-word oracle counts.
    """
    check_aligned([model, *ngrams])
    data = as_bytes(data)
    steps = _oracle_steps(model, ngrams, data, train_word_counts(data, train_positions), config)
    left = model.errors.copy()
    total = int(left.sum())
    labels = np.full(len(left), NOT_AN_ERROR, dtype=object)
    rows = []
    for step, category, removable in steps:
        removed = left & removable
        labels[removed] = step
        left &= ~removed
        rows.append((step, category, int(removed.sum()), int(left.sum())))
    labels[left] = REMAINING
    rows.append((REMAINING, REMAINING, int(left.sum()), int(left.sum())))
    table = pd.DataFrame(rows, columns=["step", "category", "errors", "remaining"])
    table.insert(3, "share", table["errors"] / max(total, 1))
    return ErrorBreakdown(name=model.name, table=table, labels=labels, offsets=model.positions + 1)


def example_spans(
    breakdown: ErrorBreakdown,
    data: bytes | np.ndarray,
    step: str,
    k: int = 5,
    context: int = 40,
    seed: int = 0,
) -> pd.DataFrame:
    """Up to ``k`` errors of ``step`` (e.g. "500-memory", "remaining") with ``context`` bytes either side.

    Columns: index (into the predictions), offset (of the mispredicted byte), start, stop (of
    the span), text (the span's bytes), word_start, word_stop (the error's word, -1 if none).
    """
    if step not in set(breakdown.table["step"]):
        raise UserError(f"unknown step {step!r}: choose one of {', '.join(breakdown.table['step'])}")
    data = as_bytes(data)
    candidates = np.flatnonzero(breakdown.labels == step)
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(candidates, size=min(k, len(candidates)), replace=False))
    offsets = breakdown.offsets[index]
    starts, stops = np.maximum(offsets - context, 0), np.minimum(offsets + context + 1, len(data))
    word_start, word_stop = _word_of(data, offsets)
    return pd.DataFrame({
        "index": index,
        "offset": offsets,
        "start": starts,
        "stop": stops,
        "text": [data[a:b].tobytes() for a, b in zip(starts, stops)],
        "word_start": word_start,
        "word_stop": word_stop,
    })


def side_by_side(*breakdowns: ErrorBreakdown) -> pd.DataFrame:
    """Several models' breakdowns in one table: errors and share per step, one column pair per model."""
    names = [b.name for b in breakdowns]
    if len(set(names)) != len(names):
        raise UserError(f"breakdowns need distinct model names, got {names}")
    categories = {step: c for b in breakdowns for step, c in zip(b.table["step"], b.table["category"])}
    table = pd.DataFrame({"step": list(categories), "category": list(categories.values())})
    for b in breakdowns:
        steps = b.table.set_index("step").reindex(table["step"])
        table[f"{b.name} errors"] = steps["errors"].to_numpy()
        table[f"{b.name} share of its errors"] = steps["share"].to_numpy()
    return table


def scaling_difference(large: ErrorBreakdown, small: ErrorBreakdown) -> pd.DataFrame:
    """Which categories the small model's extra errors fall into: per category, each model's errors, the
    difference (small - large) and its share of the total difference (the paper's point about scaling)."""
    by_category = {b.name: b.table.groupby("category", sort=False)["errors"].sum() for b in (large, small)}
    table = pd.DataFrame(by_category)
    table["difference"] = table[small.name] - table[large.name]
    total = int(table["difference"].sum())  # of either sign; no shares when the two make as many errors
    table["share of difference"] = table["difference"] / total if total else np.nan
    return table.rename_axis("category").reset_index()


WORD_DENOMINATOR = ("word", "punctuation", "boost", REMAINING)  # what the n-gram, memory and rare oracles leave


def _category_bootstrap(breakdown: ErrorBreakdown, groups: Sequence[Sequence[str]]) -> np.ndarray:
    """Bootstrap over the test segments of the error counts of each group of categories: (samples, groups)."""
    categories = {**dict(zip(breakdown.table["step"], breakdown.table["category"])), NOT_AN_ERROR: NOT_AN_ERROR}
    labels = np.array([categories[step] for step in breakdown.labels], dtype=object)
    segments = segment_ids(breakdown.offsets)
    return bootstrap(segment_sums(segments, *(np.isin(labels, list(group)) for group in groups)))


def breakdown_claim(breakdown: ErrorBreakdown) -> Claim:
    """The paper (War and Peace): after the n-gram, dynamic-memory and rare-word oracles, the majority of the
    remaining errors follow a space, a quote or a newline. Tested: word-start errors over all the errors those three
    oracles leave (word, punctuation, boost and "remaining"), above 50% beyond a bootstrap over the test segments."""
    name = "After the n-gram, memory and rare-word oracles, most remaining errors are at the start of a word"
    threshold = (f"word-start errors / errors left after the n-gram, memory and rare-word oracles "
                 f"({' + '.join(WORD_DENOMINATOR)}) > 50%; {INTERVAL_TEXT.format('50%')}")
    errors = breakdown.table.groupby("category", sort=False)["errors"].sum()
    left = int(errors.reindex(list(WORD_DENOMINATOR)).fillna(0).sum())
    shares = ", ".join(f"{category} {count / max(int(errors.sum()), 1):.0%}" for category, count in errors.items())
    if not left or "word" not in errors:
        return Claim("Errors", name, f"{breakdown.name}: no errors left after those oracles", judge(None), threshold,
                     corpora=("warpeace",))
    share = float(errors["word"] / left)
    resampled = _category_bootstrap(breakdown, [["word"], WORD_DENOMINATOR])
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = interval(resampled[:, 0] / resampled[:, 1])
    measured = (f"{breakdown.name}: word starts are {share:.0%} of the {left:,} errors left after those oracles "
                f"(95% interval {low:.0%} to {high:.0%}); of all errors: {shares}")
    return Claim("Errors", name, measured, verdict([outcome_interval(low, high, 0.5)]), threshold,
                 corpora=("warpeace",), finding=f"word starts {share:.0%} of what is left")


def scaling_claim(large: ErrorBreakdown, small: ErrorBreakdown, ratio: float) -> Claim:
    """The paper (War and Peace): scaling the model up removes almost only n-gram errors (and some boost ones).
    Tested: the larger model makes fewer errors, and the n-gram category holds more than half of the difference,
    each beyond a bootstrap over the test segments; a larger model with more errors goes against the paper."""
    name = "Scaling up removes mostly n-gram errors"
    threshold = (f"the larger model makes fewer errors, and n-gram errors are > 50% of the difference; "
                 f"{INTERVAL_TEXT.format('0 and 50%')}")
    if not np.array_equal(large.offsets, small.offsets):
        raise UserError(f"the breakdowns of {large.name!r} and {small.name!r} cover different positions")
    categories = list(dict.fromkeys(large.table["category"]))
    resampled = np.stack([_category_bootstrap(b, [["n-gram"], [c for c in categories if c != NOT_AN_ERROR]])
                          for b in (large, small)])  # (2, samples, 2): n-gram and all errors, same segments
    difference = resampled[1] - resampled[0]  # (samples, 2): small minus large
    table = scaling_difference(large, small)
    total, ngram = int(table["difference"].sum()), int(table.set_index("category").loc["n-gram", "difference"])
    fewer = interval(difference[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        share_interval = interval(difference[:, 0] / difference[:, 1])
    outcomes = [outcome_interval(*fewer)]
    measured = (f"{large.name} has {ratio:.1f} times the parameters of {small.name} and makes "
                + (f"{total:,} fewer errors" if total >= 0 else f"{-total:,} more errors")
                + f" (95% interval of the difference {fewer[0]:+,.0f} to {fewer[1]:+,.0f})")
    if total > 0:
        outcomes.append(outcome_interval(*share_interval, 0.5))
        measured += (f"; n-gram errors are {ngram / total:.0%} of the difference ({share_interval[0]:.0%} to "
                     f"{share_interval[1]:.0%}); " + ", ".join(
                         f"{c} {s:.0%}" for c, s in zip(table.category, table["share of difference"])))
    return Claim("Errors", name, measured, verdict(outcomes), threshold, corpora=("warpeace",),
                 finding=f"{total:,} fewer errors, {ngram / total:.0%} of them n-gram" if total > 0 else
                 f"{-total:,} more errors in the larger model")


def _categories(breakdown: ErrorBreakdown, model: Predictions, other: Predictions) -> np.ndarray:
    """The oracle category of each of ``model``'s errors ("" where it made none), checked against ``other``."""
    check_aligned([model, other])
    if not np.array_equal(model.positions + 1, breakdown.offsets):
        raise UserError(f"the breakdown of {breakdown.name!r} is not of the predictions of {model.name!r}")
    categories = {**dict(zip(breakdown.table["step"], breakdown.table["category"])), NOT_AN_ERROR: NOT_AN_ERROR}
    return np.array([categories[step] for step in breakdown.labels], dtype=object)


def _log_gain(model: Predictions, other: Predictions) -> np.ndarray:
    """Per byte, how much ``other`` raises the log-probability of the true byte over ``model`` (nats)."""
    return other.target_log_probs.astype(np.float64) - model.target_log_probs


def fixed_errors(breakdown: ErrorBreakdown, model: Predictions, other: Predictions) -> pd.DataFrame:
    """Per category of the errors ``breakdown`` found in ``model``'s predictions: how many ``other`` predicts.

    Columns: category, errors, fixed (``other`` gives the byte probability >= 0.5), fixed_share, and gain:
    the mean change in the log-probability of those bytes from ``model`` to ``other`` (nats; > 0 is better).
    """
    category = _categories(breakdown, model, other)
    change = _log_gain(model, other)
    rows = []
    for name in dict.fromkeys(breakdown.table["category"]):
        errors = category == name
        count, fixed = int(errors.sum()), int((errors & ~other.errors).sum())
        rows.append((name, count, fixed, fixed / max(count, 1), float(change[errors].mean()) if count else np.nan))
    return pd.DataFrame(rows, columns=["category", "errors", "fixed", "fixed_share", "gain"])


SHORT_CONTEXT = "n-gram"  # the oracle category of errors short context fixes: not the baseline of FixedShare
BASELINE_TEXT = "the other errors that short context cannot fix"


@dataclass(frozen=True)
class FixedShare:
    """How much more of one group of errors a second model fixes than of a baseline group (by default the errors
    short context cannot fix either: every later oracle's), and how much more it raises their log-probability."""

    group: str  # the oracle category, or its steps, tested
    share: float  # of the group's errors fixed (NaN where it has none)
    rest: float  # of the baseline's errors fixed: those of the other categories the n-gram oracle leaves
    low: float  # 95% bootstrap interval over the test segments of share - rest
    high: float
    gain: float = np.nan  # mean change in the log-probability of the group's erring bytes (nats; > 0 is better)
    rest_gain: float = np.nan  # the same over the baseline's errors
    gain_low: float = np.nan  # 95% bootstrap interval of gain - rest_gain, from the same resampled segments
    gain_high: float = np.nan
    baseline: str = BASELINE_TEXT  # the baseline group in words

    @property
    def outcome(self) -> str | None:
        """Whether the group is fixed at a higher rate than the baseline, beyond the noise."""
        return outcome_interval(self.low, self.high)

    @property
    def gain_outcome(self) -> str | None:
        """Whether the group's log-probability rises more than the baseline's, beyond the noise."""
        return outcome_interval(self.gain_low, self.gain_high)

    def text(self, errors: str) -> str:
        """Both comparisons as a claim states them: ``errors`` names the group's errors (e.g. "the memory-oracle
        errors")."""
        return (f"fixes {self.share:.2%} of {errors} and {self.rest:.2%} of {self.baseline} (difference "
                f"{points(self.share - self.rest)}, 95% interval {100 * self.low:+.2f} to {100 * self.high:+.2f} "
                f"points); on average it {_moves(self.gain)} the log-probability of their true bytes by "
                f"{abs(self.gain):.3f} nats and {_moves(self.rest_gain)} that of the others' by "
                f"{abs(self.rest_gain):.3f} (difference {self.gain - self.rest_gain:+.3f} nats, 95% interval "
                f"{self.gain_low:+.3f} to {self.gain_high:+.3f})")


def _moves(change: float) -> str:
    """The verb of a change of log-probability: raises (0 or more) or lowers."""
    return "raises" if change >= 0 else "lowers"


def points(difference: float) -> str:
    """A difference of two shares in percentage points: ``+0.76 points``."""
    return f"{difference * 100:+.2f} points"


def fixed_share(breakdown: ErrorBreakdown, model: Predictions, other: Predictions, category: str = "memory",
                steps: Sequence[str] | None = None, against: Sequence[str] | None = None, samples: int = SAMPLES,
                seed: int = 0) -> FixedShare:
    """How much more of ``category``'s errors (or of its oracle ``steps`` alone) ``other`` fixes than of the errors
    that neither the n-gram oracle nor ``category`` takes (or than of the oracle steps ``against``), and how much more
    it raises their log-probability, each difference with a 95% interval from one bootstrap over the split's
    segments (char-rnn's rows).

    The default baseline leaves out the n-gram oracle's errors: short context fixes them, so any better model fixes
    many, and a remedy for long-range errors would look worse against them than it is.
    """
    labels = _categories(breakdown, model, other)
    inside = labels == category if steps is None else np.isin(breakdown.labels, list(steps))
    if against is None:
        baseline, words = (labels != NOT_AN_ERROR) & (labels != SHORT_CONTEXT) & (labels != category), BASELINE_TEXT
    else:
        baseline, words = np.isin(breakdown.labels, list(against)), f"the {', '.join(against)} errors"
    fixed, change = ~other.errors, _log_gain(model, other)
    counts = segment_sums(segment_ids(model.positions), inside, inside & fixed, baseline, baseline & fixed,
                          np.where(inside, change, 0.0), np.where(baseline, change, 0.0))
    group = category if steps is None else ", ".join(steps)
    if not counts[0].sum() or not counts[2].sum():
        return FixedShare(group, np.nan, np.nan, np.nan, np.nan, baseline=words)
    with np.errstate(invalid="ignore", divide="ignore"):
        totals, resampled = counts.sum(axis=1), bootstrap(counts, samples, seed)  # (6,), (samples, 6)
        shares = resampled[:, 1] / resampled[:, 0] - resampled[:, 3] / resampled[:, 2]
        gains = resampled[:, 4] / resampled[:, 0] - resampled[:, 5] / resampled[:, 2]
    return FixedShare(group, float(totals[1] / totals[0]), float(totals[3] / totals[2]), *interval(shares),
                      float(totals[4] / totals[0]), float(totals[5] / totals[2]), *interval(gains), words)


def memory_steps(config: OracleConfig, window: int, beyond: bool = False) -> list[str]:
    """The memory oracle's steps a model seeing ``window`` bytes back can act on: those of memories up to it (with
    ``beyond``: the others, whose earlier occurrence it cannot see)."""
    return [f"{size}-memory" for size in config.memory_sizes if (size > window) == beyond]


@dataclass(frozen=True)
class NetChange:
    """How many errors of one oracle category a model makes before and after a change (each model's errors peeled by
    the same oracles), with the 95% bootstrap interval over the test segments of after - before."""

    before: int
    after: int
    low: float
    high: float

    @property
    def outcome(self) -> str | None:
        """Whether the change leaves fewer errors in the category (after - before below 0), beyond the noise."""
        return outcome_interval(-self.high, -self.low)

    def text(self, errors: str) -> str:
        """The counts and their difference as a claim states them: ``errors`` names them."""
        return (f"{errors} {self.before:,} → {self.after:,} (change {self.after - self.before:+,}, 95% interval "
                f"{self.low:+,.0f} to {self.high:+,.0f})")


def net_change(before: ErrorBreakdown, model: Predictions, after: ErrorBreakdown, other: Predictions,
               category: str = "memory", samples: int = SAMPLES, seed: int = 0) -> NetChange:
    """How many of ``category``'s errors ``model`` makes (peeled in ``before``) and ``other`` makes (in ``after``),
    with one bootstrap over the split's segments of the change: fixing some errors may make others."""
    ours, theirs = _categories(before, model, other) == category, _categories(after, other, model) == category
    counts = segment_sums(segment_ids(model.positions), ours, theirs)
    resampled = bootstrap(counts, samples, seed)  # (samples, 2)
    return NetChange(int(ours.sum()), int(theirs.sum()), *interval(resampled[:, 1] - resampled[:, 0]))


def dynamic_claim(gap: FixedShare, plain_loss: float, dynamic_loss: float, loss_std: float, net: NetChange) -> Claim:
    """This book, after the paper's suggestion that a dynamic evaluation scheme could mitigate the dynamic-memory
    errors. Two tests: it fixes a larger share of the memory-oracle errors than of the errors short context cannot fix
    either (``gap`` from :func:`fixed_share`), and it leaves fewer memory-oracle errors in all (``net`` from
    :func:`net_change`: fixing some errors may make others), each beyond its bootstrap interval. The log-probability
    gains are stated with their interval, not judged. A test loss higher beyond the noise (``loss_std``: the paired
    bootstrap std of the difference) goes against it."""
    claim = "Dynamic evaluation could mitigate the dynamic-memory errors"
    threshold = (f"memory-oracle errors fixed at a higher rate than {BASELINE_TEXT}, and fewer of them in all (each "
                 "model's errors peeled by the same oracles), each difference beyond the noise: its 95% bootstrap "
                 f"interval over the test segments (not seeds) excludes 0; a test loss higher by |z| > {NOISE:g} goes "
                 "against it (z > 0: dynamic evaluation's loss is lower)")
    if np.isnan(gap.share):
        return Claim(BEYOND, claim, "the plain model makes no memory-oracle errors, or no other errors beyond short "
                     "context", judge(None), threshold)
    lower = outcome_z(plain_loss - dynamic_loss, loss_std)
    z = (plain_loss - dynamic_loss) / loss_std if loss_std > 0 else np.nan
    measured = (f"test loss {plain_loss:.3f} → {dynamic_loss:.3f} nats/byte (z {z:+.1f}); it "
                f"{gap.text('the memory-oracle errors')}; {net.text('memory-oracle errors, each model peeled alike,')}")
    judged = NOT_REPRODUCED if lower == AGAINST else verdict([gap.outcome, net.outcome])
    count = {FOR: "fewer memory errors in all", AGAINST: "more memory errors in all"}.get(
        net.outcome, "memory errors in all the same within the noise")
    return Claim(BEYOND, claim, measured, judged, threshold,
                 finding=f"{gap_finding(gap)}; {count}, {net.before:,} → {net.after:,}")


def gap_finding(gap: FixedShare) -> str:
    """The short finding of a memory-error test: the shares fixed, and the log-probability gain where it differs
    beyond the noise."""
    finding = f"memory errors fixed {gap.share:.2%} against {gap.rest:.2%}"
    if gap.gain_outcome in (FOR, AGAINST):
        finding += (f"; their log-probability rises {'more' if gap.gain_outcome == FOR else 'less'} than the others', "
                    f"by {abs(gap.gain - gap.rest_gain):.3f} nats, beyond the noise")
    return finding
