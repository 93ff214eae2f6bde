"""The test split's segments and the one bootstrap over them."""

from __future__ import annotations

import numpy as np
import pytest

from lit_rnn.analysis import segments


def test_segments_break_wherever_offsets_are_not_consecutive():
    positions = np.array([5, 6, 7, 20, 21, 40])
    assert segments.segment_ids(positions).tolist() == [0, 0, 0, 1, 1, 2]
    assert segments.segment_starts(positions).tolist() == [5, 5, 5, 20, 20, 40]
    assert segments.segment_ids(np.array([], int)).tolist() == []
    assert segments.segment_sums(segments.segment_ids(positions), np.ones(6), np.arange(6)).tolist() == [
        [3, 2, 1], [3, 7, 5]]


def test_the_bootstrap_resamples_whole_segments_and_pairs_every_quantity():
    sums = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    resampled = segments.bootstrap(sums, samples=200, seed=1)
    assert resampled.shape == (200, 2) and np.array_equal(resampled[:, 0], resampled[:, 1])  # the same segments
    assert set(np.round(resampled[:, 0] / 1)).issubset(set(range(4, 17)))
    constant = segments.bootstrap(np.stack([np.full(10, 2.0), np.ones(10)]), samples=50)
    assert np.allclose(constant[:, 0] / constant[:, 1], 2.0)  # a ratio of resampled totals
    low, high = segments.interval(resampled[:, 0])
    assert 4 <= low < high <= 16 and segments.interval(np.full(5, np.nan)) == (pytest.approx(np.nan, nan_ok=True),
                                                                               pytest.approx(np.nan, nan_ok=True))
