"""KenLM n-gram baselines: real lmplz, build_binary and kenlm on small texts, against KenLM's scoring."""

from __future__ import annotations

import sys

import kenlm
import numpy as np
import pytest

from lit_rnn import ngram
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.ngram import ngram_predictions, tokens, train_ngram


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def batcher(wp_slice):
    """200,000 bytes as 10 rows: 16,000 training bytes and 2,000 test bytes per row."""
    return wp_slice.batcher(batch_size=10, seq_length=100)


def kenlm_unnormalised(model, words, unseen, history, order):
    """KenLM's p(each byte | history), scored statelessly from the last order-1 bytes (from <s> if fewer)."""
    start = max(0, len(history) - (order - 1))
    sentences = [" ".join([*history[start:], word]) for word in words]
    raw = np.array([10.0 ** list(model.full_scores(s, bos=start == 0, eos=False))[-1][0] for s in sentences])
    raw[unseen] /= len(unseen) or 1  # bytes KenLM never saw share its <unk> probability
    return raw


def check_against_kenlm(result, batcher, order, root, columns):
    """At ``columns`` of every row of the split: each byte's probability is KenLM's, renormalised over bytes.

    The observed byte is checked against KenLM's own left-to-right scoring of the row as one
    sentence (state carried from <s>); every byte against stateless scoring of its context.
    """
    model = kenlm.Model(str(train_ngram(batcher, order, root)))
    words = tokens(batcher.corpus)
    unseen = [k for k, w in enumerate(words) if w not in model]
    inputs, targets = batcher.split_inputs(result.split), batcher.split_targets(result.split)
    for r in range(len(inputs)):
        row = [words[k] for k in inputs[r]]
        sentence = " ".join([*row, words[targets[r, -1]]])
        scores = [score for score, _, _ in model.full_scores(sentence, bos=True, eos=False)]
        observed = 10.0 ** np.array(scores[1:])  # p(target i | <s> and the row up to input i)
        observed[np.isin(targets[r], unseen)] /= len(unseen) or 1
        for i in columns:
            raw = kenlm_unnormalised(model, words, unseen, row[: i + 1], order)
            got = result.probs[r * len(row) + i].astype(np.float64)  # stored in float16
            np.testing.assert_allclose(got, raw / raw.sum(), rtol=1e-3, atol=1e-7)
            exact = result.target_probs[r * len(row) + i]  # the true byte's, kept in float32 logs
            assert exact == pytest.approx(observed[i] / raw.sum(), rel=1e-5)


@pytest.mark.parametrize("order", [1, 2, 5])
def test_distributions_are_kenlms_renormalised_over_bytes(batcher, root, order):
    result = ngram_predictions(batcher, order, "test", root)
    n = batcher.split_inputs("test").size
    assert result.probs.shape == (n, batcher.corpus.vocab_size) and result.probs.dtype == np.float16
    assert result.name == f"{order}-gram" and result.architecture == "ngram" and result.split == "test"
    np.testing.assert_array_equal(result.positions, batcher.positions("test").ravel())
    np.testing.assert_array_equal(result.targets, batcher.split_targets("test").ravel())
    assert np.all(np.isfinite(result.probs)) and np.all(result.target_probs > 0)
    np.testing.assert_allclose(result.probs.astype(np.float64).sum(axis=1), 1.0, atol=2e-3)
    row_length = batcher.split_inputs("test").shape[1]
    columns = [*range(order + 2), *np.random.default_rng(order).integers(0, row_length, 10)]
    check_against_kenlm(result, batcher, order, root, columns)


@pytest.mark.slow
def test_higher_orders_fit_the_training_text_at_least_as_well(wp_slice, root):
    batcher = Corpus("wp30k", wp_slice.path, wp_slice.data[:30_000]).batcher(batch_size=10, seq_length=100)
    orders = [1, 2, 3, 5, 9, 20]
    train = [ngram_predictions(batcher, order, "train", root).cross_entropy for order in orders]
    assert np.all(np.diff(train) <= 0), dict(zip(orders, train, strict=True))
    assert train[-1] < 0.5 * train[0]


def test_predictions_come_from_the_cache_the_second_time(batcher, root):
    first = ngram_predictions(batcher, 2, "test", root)
    cached = ngram.NgramConfig.of(batcher, 2).folder(root) / "predictions-test.npz"
    stamp = cached.stat().st_mtime_ns
    again = ngram_predictions(batcher, 2, "test", root)
    assert cached.stat().st_mtime_ns == stamp and again.cross_entropy == first.cross_entropy
    assert first.cross_entropy < ngram_predictions(batcher, 1, "test", root).cross_entropy


@pytest.mark.parametrize("order", [0, 22])
def test_an_order_outside_1_to_21_is_refused_before_any_work(batcher, tmp_path, order):
    with pytest.raises(UserError, match=r"outside 1\.\.21"):
        ngram_predictions(batcher, order, "test", tmp_path)
    assert not (tmp_path / "ngram").exists()


def test_a_test_byte_never_seen_in_training_gets_a_finite_share(tmp_path):
    """'Z' and 'Q' occur only in the test split: they share KenLM's <unk> probability."""
    text = np.random.default_rng(0).choice(np.frombuffer(b"ab c\n", np.uint8), 20_000)
    for offset in (9_500, 19_500):  # column 500 of each row's test part (its last 1,000 bytes)
        text[offset : offset + 4] = np.frombuffer(b"ZbQa", np.uint8)
    corpus = Corpus("unseen", tmp_path / "unseen.txt", text)
    batcher = corpus.batcher(batch_size=2, seq_length=100)
    result = ngram_predictions(batcher, 3, "test", tmp_path)
    z, q = corpus.encode(b"ZQ")
    assert np.all(np.isfinite(result.probs)) and np.all(result.probs[:, [z, q]] > 0)
    np.testing.assert_allclose(result.probs.astype(np.float64).sum(axis=1), 1.0, atol=2e-3)
    np.testing.assert_array_equal(result.probs[:, z], result.probs[:, q])
    assert np.any(result.targets == z) and np.isfinite(result.cross_entropy)
    check_against_kenlm(result, batcher, 3, tmp_path, columns=range(497, 506))


def test_missing_lmplz_says_make_setup_builds_it(batcher, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="lmplz.*`make setup`"):
        train_ngram(batcher, 3, tmp_path)


def test_an_interrupted_build_leaves_nothing_that_looks_finished(batcher, tmp_path, monkeypatch):
    def interrupted(programs, text, order, out, tmp):
        out.write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(ngram, "_check_max_order", lambda programs, order: None)
    monkeypatch.setattr(ngram, "_estimate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_ngram(batcher, 2, tmp_path)
    folder = ngram.NgramConfig.of(batcher, 2).folder(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json"]
