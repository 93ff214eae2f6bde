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

from lit_rnn.analysis.scorecard import NOISE, Claim, judge
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
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
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


def segment_starts(positions: np.ndarray) -> np.ndarray:
    """For each prediction, the corpus offset where its contiguous test segment (char-rnn row) begins."""
    positions = np.asarray(positions)
    first = np.concatenate([[True], np.diff(positions) != 1])
    return positions[np.maximum.accumulate(np.where(first, np.arange(len(positions)), 0))]


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
        table[f"{b.name} share"] = steps["share"].to_numpy()
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


def breakdown_claim(breakdown: ErrorBreakdown) -> Claim:
    """The paper: after the n-gram oracle, most of the remaining errors come at the start of a word (after a
    space, quote or newline). Tested: the word category is the largest of the categories after the n-gram."""
    shares = breakdown.table.groupby("category", sort=False)["share"].sum()
    rest = shares.drop(["n-gram", REMAINING], errors="ignore")
    measured = ", ".join(f"{category} {share:.0%}" for category, share in shares.items())
    return Claim("Errors", "After the n-gram oracle, most errors are at the start of a word",
                 f"{breakdown.name}: {measured}",
                 judge(rest.idxmax() == "word" and rest["word"] > rest.drop("word").sum(),
                       partly=rest.idxmax() == "word"))


def scaling_claim(difference: pd.DataFrame, large: str, small: str, ratio: float) -> Claim:
    """The paper: scaling the model up removes almost only n-gram errors (and some boost ones). Tested on
    :func:`scaling_difference`'s table: the n-gram category holds most of the small model's extra errors."""
    rows = difference.set_index("category")
    total = int(rows["difference"].sum())
    if total <= 0:
        return Claim("Errors", "Scaling up removes mostly n-gram errors",
                     f"{small} makes no more errors than {large}", judge(None))
    share = float(rows.loc["n-gram", "share of difference"])
    measured = (f"{large} has {ratio:.0f}x the parameters of {small} and makes {total:,} fewer errors; "
                + ", ".join(f"{c} {s:.0%}" for c, s in rows["share of difference"].items()))
    return Claim("Errors", "Scaling up removes mostly n-gram errors", measured,
                 judge(share >= 0.5, partly=rows["share of difference"].idxmax() == "n-gram"))


def _categories(breakdown: ErrorBreakdown, model: Predictions, other: Predictions) -> np.ndarray:
    """The oracle category of each of ``model``'s errors ("" where it made none), checked against ``other``."""
    check_aligned([model, other])
    if not np.array_equal(model.positions + 1, breakdown.offsets):
        raise UserError(f"the breakdown of {breakdown.name!r} is not of the predictions of {model.name!r}")
    categories = {**dict(zip(breakdown.table["step"], breakdown.table["category"])), NOT_AN_ERROR: NOT_AN_ERROR}
    return np.array([categories[step] for step in breakdown.labels], dtype=object)


def fixed_errors(breakdown: ErrorBreakdown, model: Predictions, other: Predictions) -> pd.DataFrame:
    """Per category of the errors ``breakdown`` found in ``model``'s predictions: how many ``other`` predicts.

    Columns: category, errors, fixed (``other`` gives the byte probability >= 0.5), fixed_share, and gain:
    the mean change in the log-probability of those bytes from ``model`` to ``other`` (nats; > 0 is better).
    """
    category = _categories(breakdown, model, other)
    change = other.target_log_probs.astype(np.float64) - model.target_log_probs
    rows = []
    for name in dict.fromkeys(breakdown.table["category"]):
        errors = category == name
        count, fixed = int(errors.sum()), int((errors & ~other.errors).sum())
        rows.append((name, count, fixed, fixed / max(count, 1), float(change[errors].mean()) if count else np.nan))
    return pd.DataFrame(rows, columns=["category", "errors", "fixed", "fixed_share", "gain"])


def fixed_share(breakdown: ErrorBreakdown, model: Predictions, other: Predictions, category: str = "memory",
                samples: int = 1000, seed: int = 0) -> tuple[float, float, float, float]:
    """How much more of ``category``'s errors ``other`` fixes than of all the others together.

    Returns the share of ``category``'s errors fixed, the share of the other errors fixed, and a 95%
    interval of their difference from a bootstrap over the split's segments (char-rnn's rows); NaN where
    ``category`` has no errors.
    """
    labels = _categories(breakdown, model, other)
    errors = labels != NOT_AN_ERROR
    inside, fixed = labels == category, errors & ~other.errors
    segments = np.unique(segment_starts(model.positions), return_inverse=True)[1]
    # Per segment: errors and fixed errors, inside the category and outside it.
    counts = np.stack([np.bincount(segments, weights=w, minlength=segments.max() + 1)
                       for w in (inside, inside & fixed, errors & ~inside, fixed & ~inside)])
    picks = np.random.default_rng(seed).integers(0, counts.shape[1], size=(samples, counts.shape[1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        share, rest = counts[1].sum() / counts[0].sum(), counts[3].sum() / counts[2].sum()
        resampled = counts[:, picks].sum(axis=2)  # (4, samples)
        gaps = resampled[1] / resampled[0] - resampled[3] / resampled[2]
    if not counts[0].sum():
        return np.nan, float(rest), np.nan, np.nan
    low, high = np.nanpercentile(gaps, [2.5, 97.5])
    return float(share), float(rest), float(low), float(high)


def dynamic_claim(fixes: pd.DataFrame, gap: tuple[float, float, float, float], plain_loss: float,
                  dynamic_loss: float, loss_std: float) -> Claim:
    """The paper: a dynamic evaluation scheme could mitigate the dynamic-memory errors. Tested: it lowers the test
    loss by more than the noise (``loss_std``: the paired bootstrap std of the difference) and fixes a larger share
    of the memory-oracle errors than of the others, beyond the bootstrap interval (``gap`` from
    :func:`fixed_share`; ``fixes`` from :func:`fixed_errors` for the gains)."""
    claim = "Dynamic evaluation could mitigate the dynamic-memory errors"
    memory, others, low, high = gap
    if np.isnan(memory):
        return Claim("Beyond the paper", claim, "the plain model makes no memory-oracle errors", judge(None))
    rest = fixes[(fixes["category"] != "memory") & (fixes["errors"] > 0)]
    gain = float(fixes.set_index("category").loc["memory", "gain"])
    rest_gain = float((rest["gain"] * rest["errors"]).sum() / max(int(rest["errors"].sum()), 1))
    measured = (f"test loss {plain_loss:.3f} → {dynamic_loss:.3f} nats/byte; it fixes {memory:.1%} of the "
                f"memory-oracle errors and {others:.1%} of the others (difference {memory - others:+.1%}, 95% "
                f"interval {low:+.1%} to {high:+.1%}); log-probability of those bytes {gain:+.3f} and "
                f"{rest_gain:+.3f} nats on average")
    lower = plain_loss - dynamic_loss > NOISE * loss_std
    return Claim("Beyond the paper", claim, measured, judge(lower and low > 0, partly=lower or memory > others))
