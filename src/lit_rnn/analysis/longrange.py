"""Long-range interactions (the paper's Figures 4 and 5): where the LSTM beats finite-horizon models.

Every function takes ``Predictions`` of several models over the same split: which errors they
share, which bytes each predicts better, how well each predicts a closing brace as a function
of the distance to its opener, and how an LSTM's predictions drift away from those of the
n-NN baselines during training. Index ``i`` of a ``Predictions`` predicts the byte at corpus
offset ``positions[i] + 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lit_rnn.analysis import scorecard
from lit_rnn.analysis.scorecard import FOR, INTERVAL_TEXT, WITHIN, Claim, judge, verdict
from lit_rnn.analysis.segments import bootstrap, interval, segment_ids, segment_sums
from lit_rnn.analysis.signals import Syntax, nesting_depth
from lit_rnn.data import byte_label
from lit_rnn.errors import UserError
from lit_rnn.predictions import Predictions, check_aligned

DISTANCE_EDGES = (1, 20, 40, 60, 80, 100, 150, 200, 300, 500, np.inf)
OPENERS = {b"}": b"{", b")": b"(", b"]": b"[", b'"': b'"'}


def _check_names(predictions: Sequence[Predictions]) -> list[str]:
    """The models' names, which label columns and so must be distinct."""
    check_aligned(predictions)
    names = [p.name for p in predictions]
    if len(set(names)) != len(names):
        raise UserError(f"model names must be distinct to label columns, got {names}")
    return names


def error_overlap(predictions: Sequence[Predictions]) -> pd.DataFrame:
    """Errors made by exactly each combination of models (an upset / Venn table), largest first.

    One boolean column per model says whether it is in the combination; ``count`` is the number
    of positions where exactly those models err, ``share`` its fraction of all positions where
    any model errs. Single-model rows are errors unique to that model.
    """
    names = _check_names(predictions)
    code = sum(p.errors.astype(np.int64) << k for k, p in enumerate(predictions))
    counts = np.bincount(code, minlength=1 << len(predictions))
    combos = np.arange(1, 1 << len(predictions))
    table = pd.DataFrame({name: (combos >> k) & 1 == 1 for k, name in enumerate(names)})
    table["models"] = [" & ".join(n for k, n in enumerate(names) if c >> k & 1) for c in combos]
    table["count"] = counts[1:]
    table["share"] = table["count"] / max(counts[1:].sum(), 1)
    return table.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def overlap_summary(overlap: pd.DataFrame, predictions: Sequence[Predictions]) -> str:
    """An :func:`error_overlap` table in two sentences: the share of errors every model makes, then each model's
    errors in all and those of its own."""
    names = _check_names(predictions)
    shared = overlap[overlap[names].all(axis=1)]["share"].sum()
    every = "both models" if len(names) == 2 else f"all {len(names)} models"
    own = {name: int(overlap[overlap.models == name]["count"].sum()) for name in names}
    return (f"{shared:.1%} of the errors are made by {every}. In all, "
            + "; ".join(f"{p.name} makes {int(p.errors.sum()):,} errors, {own[p.name]:,} of them its own"
                        for p in predictions) + ".")


def per_byte_probability(predictions: Sequence[Predictions], vocab: np.ndarray) -> pd.DataFrame:
    """Mean probability each model gives the correct byte, per byte value that occurs as a target.

    ``vocab`` maps vocabulary ids to byte values (``Corpus.vocab``). Columns: byte, label,
    count, then one column per model.
    """
    _check_names(predictions)
    targets = predictions[0].targets.astype(np.int64)
    counts = np.bincount(targets, minlength=len(vocab))
    present = np.flatnonzero(counts)
    table = pd.DataFrame({
        "byte": np.asarray(vocab)[present].astype(int),
        "label": [byte_label(int(b)) for b in np.asarray(vocab)[present]],
        "count": counts[present],
    })
    for p in predictions:
        sums = np.bincount(targets, weights=p.target_probs, minlength=len(vocab))
        table[p.name] = sums[present] / counts[present]
    return table


def byte_advantage(per_byte: pd.DataFrame, model: str, baseline: str) -> pd.DataFrame:
    """``per_byte_probability``'s table with ``advantage`` = model minus baseline, largest first."""
    missing = [m for m in (model, baseline) if m not in per_byte.columns]
    if missing:
        raise UserError(f"no column for {missing} in the per-byte table")
    table = per_byte.assign(advantage=per_byte[model] - per_byte[baseline])
    return table.sort_values("advantage", ascending=False, kind="stable").reset_index(drop=True)


def bracket_pairs(syntax: Syntax, closer: bytes = b"}") -> np.ndarray:
    """Offsets (opener, closer) of every matched pair of ``closer``'s kind over the whole text, by closer.

    Pairs follow the text's lexing in its language (``signals.lex``), as the depth signals do:
    brackets count only in code (not in comments, strings or character literals; everywhere in
    prose), and ``"`` pairs are the string literals delimited by ``"`` (in prose, the quotations).
    A closer with nothing open is dropped.
    """
    if closer not in OPENERS:
        raise UserError(f"closer {closer!r} not supported: choose one of {b''.join(OPENERS).decode()}")
    if closer == b'"':
        return syntax.quote_pairs
    data, opener = syntax.data, OPENERS[closer]
    depth = nesting_depth(data, opener, closer, syntax.code)
    before = np.concatenate([[0], depth[:-1]])
    openers = np.flatnonzero((data == ord(opener)) & syntax.code)
    closers = np.flatnonzero((data == ord(closer)) & syntax.code & (before > 0))
    # At each level, events alternate opener, closer: a closer's predecessor at its level is its opener.
    offsets = np.concatenate([openers, closers])
    levels = np.concatenate([depth[openers], before[closers]])
    order = np.lexsort((offsets, levels))
    is_closer = np.concatenate([np.zeros(len(openers), bool), np.ones(len(closers), bool)])[order]
    pairs = np.stack([offsets[order][np.flatnonzero(is_closer) - 1], offsets[order][is_closer]], axis=1)
    return pairs[np.argsort(pairs[:, 1])]


def closer_distances(positions: np.ndarray, syntax: Syntax, closer: bytes = b"}") -> np.ndarray:
    """Per prediction: bytes back from the ``closer`` it predicts to its opener (-1 where it predicts none)."""
    pairs = bracket_pairs(syntax, closer)
    distance_at = np.full(len(syntax.data) + 1, -1, np.int64)  # +1: the wrapped last target has none
    distance_at[pairs[:, 1]] = pairs[:, 1] - pairs[:, 0]
    return distance_at[np.asarray(positions) + 1]


def closer_probability_by_distance(
    predictions: Sequence[Predictions],
    syntax: Syntax,
    closer: bytes = b"}",
    edges: Sequence[float] = DISTANCE_EDGES,
) -> pd.DataFrame:
    """Mean probability each model gives ``closer`` per bucket of distance back to its opener (Figure 5 left).

    ``syntax`` is the whole corpus lexed in its language (``Study.syntax``): matching is computed
    over the whole text, so an opener before the split's segment counts.
    Buckets are ``[edges[k], edges[k+1])`` in bytes; empty ones are left out. Columns: bucket,
    low, high, count, then one column per model.
    """
    _check_names(predictions)
    distance = closer_distances(predictions[0].positions, syntax, closer)
    bucket = np.digitize(distance, edges) - 1
    valid = (distance > 0) & (bucket >= 0) & (bucket < len(edges) - 1)
    counts = np.bincount(bucket[valid], minlength=len(edges) - 1)
    kept = np.flatnonzero(counts)
    table = pd.DataFrame({
        "bucket": [bucket_label(edges[k], edges[k + 1]) for k in kept],
        "low": [float(edges[k]) for k in kept],
        "high": [float(edges[k + 1]) for k in kept],
        "count": counts[kept],
    })
    for p in predictions:
        sums = np.bincount(bucket[valid], weights=p.target_probs[valid], minlength=len(edges) - 1)
        table[p.name] = sums[kept] / counts[kept]
    return table


def _symmetric_kl_positions(p: Predictions, q: Predictions, eps: float = 1e-7, chunk: int = 65536) -> np.ndarray:
    """Per position: KL(p||q) + KL(q||p), in nats (see :func:`symmetric_kl`)."""
    check_aligned([p, q])
    out = np.empty(len(p.targets))
    for start in range(0, len(p.targets), chunk):
        a, b = (np.maximum(np.asarray(x.probs[start : start + chunk], np.float64), eps) for x in (p, q))
        a /= a.sum(axis=1, keepdims=True)
        b /= b.sum(axis=1, keepdims=True)
        out[start : start + chunk] = ((a - b) * (np.log(a) - np.log(b))).sum(axis=1)
    return out


def symmetric_kl(p: Predictions, q: Predictions, eps: float = 1e-7, chunk: int = 65536) -> float:
    """Mean over positions of KL(p||q) + KL(q||p), in nats; exactly 0 for identical predictions.

    Probabilities are floored at ``eps`` (float16 rounds small ones to 0) and renormalised, then
    summed as ``sum((p - q) * (log p - log q))``, whose every term is non-negative.
    """
    return float(_symmetric_kl_positions(p, q, eps, chunk).mean())


def delta_loss(model: Predictions, baseline: Predictions) -> float:
    """Baseline's cross-entropy minus the model's (nats per byte): positive when the model is better."""
    check_aligned([model, baseline])
    return baseline.cross_entropy - model.cross_entropy


def training_dynamics(
    checkpoints: Sequence[tuple[int, Predictions]], baselines: Mapping[int, Predictions]
) -> pd.DataFrame:
    """For each LSTM checkpoint and n-NN baseline: symmetric KL and delta loss (Figure 5 right).

    ``checkpoints`` are (training step, predictions) of one model; ``baselines`` maps the
    context ``n`` to an n-NN's predictions. Columns: step, n, symmetric_kl, delta_loss, and
    segment_kl (the KL summed per test segment, for the noise: one array per row). Checkpoints kept in the sampled
    form (fewer positions: :meth:`Predictions.sample`) are compared with the baselines at their positions only.
    """
    rows, aligned = [], {}  # the baselines at each set of checkpoint positions (one set, usually), restricted once
    for step, model in checkpoints:
        segments = segment_ids(model.positions)
        key = model.positions.tobytes()
        if key not in aligned:
            aligned[key] = {n: b if len(b.positions) == len(model.positions) else b.at(model.positions)
                            for n, b in baselines.items()}
        for n, baseline in sorted(aligned[key].items()):
            kl = _symmetric_kl_positions(model, baseline)
            rows.append({"step": step, "n": n, "symmetric_kl": float(kl.mean()),
                         "delta_loss": delta_loss(model, baseline), "segment_kl": segment_sums(segments, kl)[0]})
    return pd.DataFrame(rows, columns=["step", "n", "symmetric_kl", "delta_loss", "segment_kl"])


# -- The paper's claims about long-range interactions ---------------------------------------------

STRUCTURAL = frozenset(b" \t\n\r{}()[];,")  # the bytes that structure code: whitespace, brackets, separators
TOP = 10  # the bytes with the largest advantages that a claim looks at
MIN_COUNT = 100  # a byte is ranked by advantage only if it is the target this many times in the test split
def bucket_label(low: float, high: float) -> str:
    """A distance bucket as pages show it: ``[20, 40)``, or ``≥ 500`` for the last, open one."""
    return f"[{low:g}, {high:g})" if np.isfinite(high) else f"≥ {low:g}"


MIN_CLOSERS = 20  # closers a distance bucket (or region) needs to be judged
SHARED = 0.5  # "most errors": more than half of the errors any model makes
ALPHA = 0.05


def overlap_claim(predictions: Sequence[Predictions]) -> Claim:
    """The paper: most errors are shared by all three models (LSTM, n-NN, n-gram), and each model also has errors
    of its own. The shared share decides: errors made by all three over errors made by any, against 50%, with a
    95% bootstrap interval over the test segments; errors of one model alone are near certain and only reported."""
    names = _check_names(predictions)
    name = "Most errors are shared, and every model has errors of its own"
    threshold = f"errors made by all three models > {SHARED:.0%} of the errors any makes; {INTERVAL_TEXT.format('50%')}"
    errors = np.stack([p.errors for p in predictions])
    alone = {n: int((errors[k] & (errors.sum(axis=0) == 1)).sum()) for k, n in enumerate(names)}
    shared_sum, any_sum = segment_sums(segment_ids(predictions[0].positions), errors.all(axis=0), errors.any(axis=0))
    share = shared_sum.sum() / max(any_sum.sum(), 1)
    resampled = bootstrap(np.stack([shared_sum, any_sum]))
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = interval(resampled[:, 0] / resampled[:, 1])
    every = "both" if len(names) == 2 else f"all {len(names)}"
    measured = (f"{share:.1%} of the errors are shared by {every} models (95% interval {low:.1%} to "
                f"{high:.1%}); errors of one model alone: " + ", ".join(f"{n} {c:,}" for n, c in alone.items()))
    if len(names) < 3:  # without the n-NN, sharing between two models is a weaker claim than the paper's
        return Claim("Long range", name, measured + " (no n-NN in this build)", judge(None), threshold)
    outcome = scorecard.outcome_interval(low, high, SHARED)
    judged = verdict([outcome]) if outcome != FOR or all(alone.values()) else scorecard.PARTLY
    return Claim("Long range", name, measured, judged, threshold, finding=f"{share:.1%} shared")


def _hypergeometric_tails(population: int, marked: int, drawn: int, observed: int) -> tuple[float, float]:
    """P(X >= observed) and P(X <= observed) for X marked items among ``drawn`` drawn without replacement."""
    from scipy.stats import hypergeom

    law = hypergeom(population, marked, drawn)
    return float(law.sf(observed - 1)), float(law.cdf(observed))


def frequent_bytes(advantage: pd.DataFrame, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """The rows of a byte-advantage table whose byte is the target at least ``min_count`` times: the ones the
    advantage claim ranks (a rare byte's mean is noise)."""
    return advantage[advantage["count"] >= min_count]


def advantage_claim(advantage: pd.DataFrame, prose: bool, min_count: int = MIN_COUNT) -> Claim:
    """The paper: over the 20-gram, the LSTM gains most on the carriage return in War and Peace (prose) and
    on the bytes that structure code in Linux. ``advantage`` is :func:`byte_advantage`'s table; only bytes that are
    the target at least ``min_count`` times are ranked (a rare byte's mean is noise)."""
    ranked = frequent_bytes(advantage, min_count).reset_index(drop=True)
    top = ranked.head(TOP)
    listed = ", ".join(f"{row.label} ({row.advantage:+.3f})" for row in top.head(5).itertuples())
    eligible = f"{len(ranked)} bytes seen >= {min_count} times"
    if prose:
        name = "The LSTM's largest advantage is on the carriage return"
        threshold = f"\\r among the top 3 of the {eligible} (partly: top {TOP})"
        rank = ranked.index[ranked.byte == 13]
        if not len(rank):
            return Claim("Long range", name, f"no carriage return among the {eligible}", judge(None), threshold,
                         corpora=("warpeace",))
        position = int(rank[0]) + 1
        chance = f"a random rank: top 3 with p = {min(3 / len(ranked), 1):.3f}, top {TOP} with p = " \
                 f"{min(TOP / len(ranked), 1):.3f}"
        return Claim("Long range", name, f"\\r ranks {position} of {len(ranked)} by advantage; the top: {listed}",
                     judge(position <= 3, partly=position <= TOP), threshold, chance, ("warpeace",),
                     f"\\r ranks {position} of {len(ranked)}")
    name = "The LSTM's largest advantages are on the bytes that structure code"
    structural = int(top.byte.isin(STRUCTURAL).sum())
    marked = int(ranked.byte.isin(STRUCTURAL).sum())
    threshold = (f"at least half of the top {TOP} of the {eligible} are whitespace, brackets or separators, more than "
                 f"chance (hypergeometric p <= {ALPHA}); partly: more than chance only")
    if len(top) < TOP:
        return Claim("Long range", name, f"only {eligible}", judge(None), threshold, corpora=("linux",))
    more, fewer = _hypergeometric_tails(len(ranked), marked, len(top), structural)
    chance = f"{len(top) * marked / len(ranked):.1f} of {len(top)} by chance ({marked} of the {len(ranked)} are)"
    outcome = FOR if more <= ALPHA else scorecard.AGAINST if fewer <= ALPHA else WITHIN
    judged = scorecard.PARTLY if outcome == FOR and structural < len(top) / 2 else verdict([outcome])
    return Claim("Long range", name, f"{structural} of the top {len(top)} bytes by advantage are whitespace, brackets "
                 f"or separators (p = {more:.3f}); the top: {listed}", judged, threshold, chance, ("linux",),
                 f"{structural} of the top {len(top)}")


RISE, FALL = 20, 100  # the paper's closing-brace curve rises over its first bucket up to ~60 bytes, then decays


def closer_gain_claim(distance: np.ndarray, model_probs: np.ndarray, baseline_probs: np.ndarray,
                      segments: np.ndarray, edges: Sequence[float] = DISTANCE_EDGES,
                      min_count: int = MIN_CLOSERS) -> Claim:
    """The closing-brace test on per-prediction arrays (distance to the opener, -1 for none; each model's
    probability of the true byte; the test segment): the gain (model minus baseline) over closers at [RISE, FALL)
    bytes is larger than over the nearer ones (the rise) and than over the farther ones (the fall), each beyond
    a 95% bootstrap interval, and the bucket of largest gain lies in [RISE, FALL)."""
    name = "The advantage on a closing brace grows with distance, then decays"
    threshold = (f"mean gain at {RISE}-{FALL} bytes above the gain nearer and the gain farther, "
                 f"{INTERVAL_TEXT.format(0)}; the peak bucket (of those with >= {min_count} closers) within "
                 f"{RISE}-{FALL} bytes")
    distance = np.asarray(distance)
    gain = np.asarray(model_probs, np.float64) - np.asarray(baseline_probs, np.float64)
    regions = [(distance > 0) & (distance < RISE), (distance >= RISE) & (distance < FALL), distance >= FALL]
    counts = [int(r.sum()) for r in regions]
    bucket = np.digitize(distance, edges) - 1
    buckets = [(edges[k], edges[k + 1], int((bucket == k).sum()), float(gain[bucket == k].mean()))
               for k in range(len(edges) - 1) if (distance > 0)[bucket == k].sum() >= min_count]
    measured = "gain by distance: " + ", ".join(f"{bucket_label(a, b)} {g:+.2f} ({n:,})" for a, b, n, g in buckets)
    if min(counts) < min_count or not buckets:
        found = (f"closing braces nearer, within and beyond {RISE}-{FALL} bytes: {', '.join(map(str, counts))}, "
                 f"fewer than {min_count} in one" if sum(counts) else
                 "no closing brace with its opening brace in the test split")
        return Claim("Long range", name, found, judge(None), threshold, "0", ("linux",))
    sums = segment_sums(segments, *(gain * r for r in regions), *regions)
    resampled = bootstrap(sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = resampled[:, :3] / resampled[:, 3:]
    rise, fall = interval(means[:, 1] - means[:, 0]), interval(means[:, 1] - means[:, 2])
    peak = max(buckets, key=lambda b: b[3])
    judged = verdict([scorecard.outcome_interval(*rise), scorecard.outcome_interval(*fall)])
    if judged == scorecard.REPRODUCED and not RISE <= peak[0] < FALL:
        judged = scorecard.PARTLY
    measured += (f"; rise {rise[0]:+.3f} to {rise[1]:+.3f}, fall {fall[0]:+.3f} to {fall[1]:+.3f} (95% intervals); "
                 f"peak at {bucket_label(*peak[:2])}")
    return Claim("Long range", name, measured, judged, threshold, "0 (no change with distance)", ("linux",),
                 f"peak at {bucket_label(*peak[:2])} bytes")


def closer_claim(model: Predictions, baseline: Predictions, syntax: Syntax, closer: bytes = b"}",
                 min_count: int = MIN_CLOSERS) -> Claim:
    """The paper (Linux, Figure 5 left): the LSTM's advantage on a closing brace grows with the distance to its
    opening brace up to about 60 bytes, then slowly decays (:func:`closer_gain_claim`)."""
    _check_names([model, baseline])
    return closer_gain_claim(closer_distances(model.positions, syntax, closer), model.target_probs,
                             baseline.target_probs, segment_ids(model.positions), min_count=min_count)


def _progression(kl: np.ndarray, ns: np.ndarray) -> tuple[bool, bool]:
    """For the nearest n-NN at each step (least KL, steps in order): whether it starts at the smallest n and never
    goes back, and whether it ends at a larger n than it starts."""
    nearest = ns[np.argmin(kl, axis=-1)]
    return bool(nearest[0] == ns.min() and np.all(np.diff(nearest) >= 0)), bool(nearest[-1] > nearest[0])


def _stretches(steps, nearest) -> str:
    """The nearest n-NN snapshot by snapshot, in stretches: "the 1-NN at the snapshots of steps 10 to 261, the 2-NN
    at the snapshot of step 325, ..."."""
    parts, start = [], 0
    for i in range(1, len(nearest) + 1):
        if i == len(nearest) or nearest[i] != nearest[start]:
            where = (f"the snapshot of step {steps[start]:,}" if i - 1 == start else
                     f"the snapshots of steps {steps[start]:,} to {steps[i - 1]:,}")
            parts.append(f"the {nearest[start]}-NN at {where}")
            start = i
    return ", ".join(parts)


def dynamics_claim(dynamics: pd.DataFrame, snapshots: str = "") -> Claim:
    """The paper: during training the LSTM first behaves like the 1-NN, then like the 2-, 3-, 4-NN in turn.
    ``dynamics`` is :func:`training_dynamics`'s table, measured on ``snapshots`` (the run they come from, in words,
    for the claim's caveat); the nearest n-NN is the one of least symmetric KL. Two tests,
    each on the share of bootstrap resamplings of the test segments in which it holds: the nearest n-NN starts at the
    smallest n and never goes back (order), and it moves to a larger n (growth); reproduced only if it also visits
    three n, as the paper's 1, 2, 3, 4 does."""
    name = "During training the LSTM behaves like the 1-NN, then the 2-, 3-, 4-NN in turn"
    threshold = ("order (starts at the smallest n, never goes back) and growth (ends at a larger n), each in >= 97.5% "
                 "of bootstrap resamplings of the test segments (against: in <= 2.5%, with the sequence found "
                 "recurring in >= 97.5%); reproduced if it also visits three n, else partly")
    if dynamics.empty:
        return Claim("Long range", name, "no early snapshots of the LSTM, or no n-NN to compare them with",
                     judge(None), threshold)
    if dynamics.n.nunique() < 3:  # a progression through the n-NNs needs at least three of them
        return Claim("Long range", name, "only the n-NNs for n = " + ", ".join(map(str, sorted(dynamics.n.unique())))
                     + " in this build: too few to show a progression", judge(None), threshold)
    grid = dynamics.pivot(index="step", columns="n", values="symmetric_kl").sort_index()
    ns = grid.columns.to_numpy()
    nearest = ns[np.argmin(grid.to_numpy(), axis=1)]
    measured = f"nearest of the n-NNs for n = {', '.join(map(str, ns))}: {_stretches(list(grid.index), nearest)}"
    if "segment_kl" not in dynamics or grid.isna().any().any():
        return Claim("Long range", name, measured + " (no per-segment KL: the noise is not measured)", judge(None),
                     threshold)
    cells = dynamics.set_index(["step", "n"])["segment_kl"]
    sums = np.stack([[cells[(step, n)] for n in ns] for step in grid.index])  # (steps, ns, segments)
    resampled = bootstrap(sums)  # (samples, steps, ns): the same segments for every step and n
    holds = np.mean([_progression(sample, ns) for sample in resampled], axis=0)  # (order, growth)
    stable = float(np.mean([np.array_equal(ns[np.argmin(sample, axis=-1)], nearest) for sample in resampled]))
    # Against: a test fails in nearly every resampling and the sequence that contradicts it is itself beyond the noise.
    outcomes = [FOR if share >= 0.975 else scorecard.AGAINST if share <= 0.025 and stable >= 0.975 else WITHIN
                for share in holds]
    judged = verdict(outcomes)
    if judged == scorecard.REPRODUCED and len(np.unique(nearest)) < 3:
        judged = scorecard.PARTLY
    claim = Claim("Long range", name, f"{measured}; order holds in {holds[0]:.0%} of resamplings, growth in "
                  f"{holds[1]:.0%}", judged, threshold,
                  finding="nearest n-NN " + " → ".join(str(n) for i, n in enumerate(nearest)
                                                       if i == 0 or n != nearest[i - 1]))
    return scorecard.judged_on(claim, snapshots) if snapshots else claim
