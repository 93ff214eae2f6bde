"""KenLM n-gram baselines: real lmplz/build_binary/kenlm on small slices, checked against KenLM's own scoring."""

from __future__ import annotations

import sys

import kenlm
import numpy as np
import pytest

from lit_rnn import ngram
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.ngram import ngram_predictions, ngram_table, tokens, train_ngram


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def batcher(wp_slice):
    """200,000 bytes as 10 rows: 16,000 training bytes and 2,000 test bytes per row."""
    return wp_slice.batcher(batch_size=10, seq_length=100)


def kenlm_distribution(model, words, unseen, history, order):
    """p(every byte | history) from KenLM's stateless ``full_scores`` over the last order-1 bytes, renormalised."""
    start = max(0, len(history) - (order - 1))
    context = history[start:]
    raw = np.array([10.0 ** list(model.full_scores(" ".join(context + [w]), bos=start == 0, eos=False))[-1][0]
                    for w in words])
    raw[unseen] /= len(unseen) or 1
    return raw / raw.sum()


@pytest.mark.parametrize("order", [1, 2, 5])
def test_distributions_are_kenlms_renormalised_over_bytes(batcher, root, order):
    result = ngram_predictions(batcher, order, "test", root)
    n = batcher.split_inputs("test").size
    assert result.probs.shape == (n, batcher.corpus.vocab_size) and result.probs.dtype == np.float32
    assert result.model == f"{order}-gram" and result.kind == "ngram" and result.split == "test"
    np.testing.assert_array_equal(result.positions, batcher.positions("test").ravel())
    np.testing.assert_array_equal(result.targets, batcher.split_targets("test").ravel())
    assert np.all(np.isfinite(result.probs)) and np.all(result.probs > 0)
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0, atol=1e-5)

    model = kenlm.Model(str(train_ngram(batcher, order, root)))
    words = tokens(batcher.corpus)
    unseen = [k for k, w in enumerate(words) if w not in model]
    inputs, targets = batcher.split_inputs("test"), batcher.split_targets("test")
    rows, length = inputs.shape
    for r in (0, rows - 1):
        row = [words[k] for k in inputs[r]]
        # KenLM's own left-to-right scoring of the row as one sentence gives each observed byte.
        sentence = " ".join(row + [words[targets[r, -1]]])
        observed = 10.0 ** np.array([score for score, _, _ in model.full_scores(sentence, bos=True, eos=False)][1:])
        observed[np.isin(targets[r], unseen)] /= len(unseen) or 1
        for i in [*range(order + 2), *np.random.default_rng(r).integers(0, length, 40)]:
            expected = kenlm_distribution(model, words, unseen, row[: i + 1], order)
            got = result.probs[r * length + i]
            np.testing.assert_allclose(got, expected, rtol=1e-5)
            assert got[targets[r, i]] == pytest.approx(observed[i] / (observed[i] / expected[targets[r, i]]))
            np.testing.assert_allclose(got[targets[r, i]] * expected.sum(), expected[targets[r, i]], rtol=1e-5)
