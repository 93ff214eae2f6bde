"""The test split's segments and the one bootstrap over them that every claim's noise comes from.

char-rnn splits the text into ``batch_size`` contiguous rows; the test split is one stretch of
each, so its positions fall into segments of consecutive offsets. Bytes within a segment are not
independent (a quotation, a function), so the uncertainty of any mean over the split is estimated
by resampling whole segments with replacement, as the paper estimates its own from bootstrap
samples. It covers which text is tested, not which seed trained a model.
"""

from __future__ import annotations

import numpy as np

SAMPLES = 1000  # bootstrap resamplings


def segment_ids(positions: np.ndarray) -> np.ndarray:
    """For each position, the index of its contiguous segment (a break wherever offsets are not consecutive)."""
    positions = np.asarray(positions)
    if not len(positions):
        return np.zeros(0, np.int64)
    return np.concatenate([[0], np.cumsum(np.diff(positions) != 1)]).astype(np.int64)


def segment_count(positions: np.ndarray) -> int:
    """How many contiguous segments ``positions`` fall into."""
    ids = segment_ids(positions)
    return int(ids[-1]) + 1 if len(ids) else 0


def segment_starts(positions: np.ndarray) -> np.ndarray:
    """For each position, the corpus offset where its contiguous segment begins."""
    ids = segment_ids(positions)
    return np.asarray(positions)[np.searchsorted(ids, ids)]  # ids never decrease: the first row of each


def segment_sums(segments: np.ndarray, *values: np.ndarray) -> np.ndarray:
    """Per segment, the sum of each of ``values`` (per-position arrays): shape (len(values), segments)."""
    count = int(segments.max()) + 1 if len(segments) else 0
    return np.stack([np.bincount(segments, weights=np.asarray(v, np.float64), minlength=count) for v in values])


def bootstrap(sums: np.ndarray, samples: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """Totals over segments resampled with replacement: ``sums`` is (..., segments), the result (samples, ...).

    Ratios of resampled totals (a mean loss, a share) are the bootstrap distribution of the ratio;
    every quantity resampled in one call sees the same segments (a paired bootstrap).
    """
    sums = np.asarray(sums, np.float64)
    segments = sums.shape[-1]
    picks = np.random.default_rng(seed).integers(0, segments, size=(samples, segments))
    counts = np.stack([np.bincount(row, minlength=segments) for row in picks]).astype(np.float64)  # (samples, segs)
    return np.moveaxis(np.tensordot(sums, counts, axes=([-1], [1])), -1, 0)


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap ``values`` (NaNs ignored; NaN, NaN if none is finite)."""
    values = np.asarray(values, np.float64)
    if not np.isfinite(values).any():
        return np.nan, np.nan
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)
