"""The error breakdown on a constructed text where each error is built for one oracle."""

from __future__ import annotations

import numpy as np
import pytest

from lit_rnn.analysis.oracles import (
    NOT_AN_ERROR,
    OracleConfig,
    error_breakdown,
    example_spans,
    side_by_side,
    train_word_counts,
    word_spans,
)
from lit_rnn.errors import UserError
from lit_rnn.predictions import Predictions

TRAIN = b"gamma gamma gamma zeta. " + b"0" * 60 + b"\n"
TEST = b"we saw Mary, then 0000000000 Mary went by gamma; ok ok quokka zeta!"
DATA = TRAIN + TEST
CONFIG = OracleConfig(memory_sizes=(20, 40), rare_thresholds=(0, 1), boosts=(0.1, 0.3))


def at(text: bytes, occurrence: int = 1, offset: int = 0) -> int:
    """Corpus offset of the ``occurrence``-th ``text`` in the test part, plus ``offset``."""
    start = len(TRAIN) - 1
    for _ in range(occurrence):
        start = DATA.index(text, start + 1)
    return start + offset


# The mispredicted bytes, the probability the model gave each and the step that must claim it.
ERRORS = {
    at(b"!"): (0.2, "n-gram"),  # also punctuation: the n-gram oracle comes first
    at(b"ok", 2, 1): (0.3, "20-memory"),  # "ok" 3 bytes earlier; its second byte
    at(b"Mary", 2, 1): (0.3, "40-memory"),  # "Mary" 22 bytes earlier
    at(b"quokka"): (0.3, "0-train"),  # never seen; also a word start: rare comes first
    at(b"zeta", 1, 2): (0.3, "1-train"),  # once in training, > 40 bytes back
    at(b"gamma"): (0.3, "word"),  # common word, first byte after a space
    at(b";"): (0.3, "punctuation"),
    at(b"0000", 1, 2): (0.45, "boost-0.1"),
    at(b"0000", 1, 4): (0.25, "boost-0.3"),
    at(b"0000", 1, 6): (0.05, "remaining"),
}


def predictions(name: str, target_probs: dict[int, float], default: float) -> Predictions:
    """Predictions over the test part: ``target_probs[offset]`` for the byte at offset, else ``default``."""
    vocab = np.unique(np.frombuffer(DATA, np.uint8))
    ids = np.searchsorted(vocab, np.frombuffer(DATA, np.uint8))
    positions = np.arange(len(TRAIN) - 1, len(DATA) - 1)
    p = np.array([target_probs.get(int(o), default) for o in positions + 1])
    targets = ids[positions + 1]
    probs = np.zeros((len(positions), len(vocab)))
    probs[:, 0] = 1 - p  # the rest on byte id 0, or on id 1 where the target is id 0
    probs[targets == 0, 1], probs[targets == 0, 0] = 1 - p[targets == 0], 0
    probs[np.arange(len(positions)), targets] = p
    with np.errstate(divide="ignore"):
        return Predictions.from_log_probs(np.log(probs), targets, positions, name, "lstm", "sha", "test")


@pytest.fixture(scope="module")
def breakdown():
    model = predictions("lstm", {offset: p for offset, (p, _) in ERRORS.items()}, default=0.9)
    ngrams = [predictions("1-gram", {}, default=0.1), predictions("5-gram", {at(b"!"): 0.8}, default=0.1)]
    return error_breakdown(model, ngrams, DATA, np.arange(len(TRAIN)), CONFIG)


def test_the_layout_is_what_the_errors_assume():
    assert at(b"Mary", 2) - at(b"Mary") == 22
    assert at(b"zeta") - TRAIN.index(b"zeta") > 40 and at(b"gamma") - TRAIN.rindex(b"gamma") > 40
    assert TEST.count(b"gamma") == 1 and TEST.count(b"quokka") == 1


def test_each_error_is_claimed_by_its_oracle_in_order(breakdown):
    offsets = breakdown.offsets
    for offset, (_, step) in ERRORS.items():
        assert breakdown.labels[np.flatnonzero(offsets == offset)[0]] == step, (offset, step)
    errors = np.isin(offsets, list(ERRORS))
    assert (breakdown.labels[~errors] == NOT_AN_ERROR).all()


def test_the_table_counts_one_error_per_step(breakdown):
    table = breakdown.table
    assert table["step"].tolist() == [
        "n-gram", "20-memory", "40-memory", "0-train", "1-train", "word", "punctuation",
        "boost-0.1", "boost-0.3", "remaining",
    ]
    assert table["category"].tolist()[:4] == ["n-gram", "memory", "memory", "rare"]
    assert table["errors"].tolist() == [1] * 10
    assert table["remaining"].tolist() == [9, 8, 7, 6, 5, 4, 3, 2, 1, 1]
    assert table["share"].sum() == pytest.approx(1.0)


def test_the_memory_oracle_forgives_a_repeated_word_from_its_second_byte_on_and_within_the_segment():
    repeated = {at(b"Mary", 2): 0.3, at(b"Mary", 2, 1): 0.3}  # "Mary" again, 22 bytes on: its M and its a
    result = error_breakdown(predictions("lstm", repeated, default=0.9), [], DATA, np.arange(len(TRAIN)), CONFIG)
    label = {o: result.labels[np.flatnonzero(result.offsets == o)[0]] for o in repeated}
    assert label[at(b"Mary", 2, 1)] == "40-memory"
    assert label[at(b"Mary", 2)] != "40-memory"  # a word's first byte is the next word's choice, not memory
    # Cut the test split in two segments between the two "Mary"s (three bytes belong to no segment): the
    # second segment is read from a fresh state, so its "Mary" was never seen by the model.
    model = predictions("lstm", repeated, default=0.9)
    keep = (model.positions < at(b"then")) | (model.positions >= at(b"then") + 3)
    cut = Predictions(model.probs[keep], model.target_log_probs[keep], model.targets[keep], model.positions[keep],
                      "lstm", "lstm", "sha", "test")
    result = error_breakdown(cut, [], DATA, np.arange(len(TRAIN)), CONFIG)
    assert result.labels[np.flatnonzero(result.offsets == at(b"Mary", 2, 1))[0]] != "40-memory"


def test_without_the_ngram_oracle_punctuation_claims_the_exclamation_mark():
    model = predictions("lstm", {offset: p for offset, (p, _) in ERRORS.items()}, default=0.9)
    result = error_breakdown(model, [], DATA, np.arange(len(TRAIN)), CONFIG)
    assert result.labels[np.flatnonzero(result.offsets == at(b"!"))[0]] == "punctuation"
    assert result.table.set_index("step").loc["n-gram", "errors"] == 0


def test_words_are_letter_runs_joined_by_inner_apostrophes():
    text = "don't 'Mary's' café x''y 42".encode()
    words = [text[a:b] for a, b in zip(*word_spans(text))]
    assert words == [b"don't", b"Mary's", "café".encode(), b"x", b"y"]


def test_training_word_counts_keep_segments_apart():
    data = b"abcde12345fghij"
    counts = train_word_counts(data, np.array([[0, 1, 2, 3, 4], [10, 11, 12, 13, 14]]))
    assert counts == {b"abcde": 1, b"fghij": 1}


def test_example_spans_show_the_error_in_context(breakdown):
    examples = example_spans(breakdown, DATA, "40-memory", context=5)
    assert len(examples) == 1
    row = examples.iloc[0]
    assert row["offset"] == at(b"Mary", 2, 1)
    assert row["text"] == DATA[row["offset"] - 5 : row["offset"] + 6]
    assert DATA[row["word_start"] : row["word_stop"]] == b"Mary"
    assert len(example_spans(breakdown, DATA, "remaining", k=5)) == 1
    with pytest.raises(UserError):
        example_spans(breakdown, DATA, "no-such-step")


def test_side_by_side_puts_two_models_in_one_table(breakdown):
    model = predictions("small", {offset: 0.3 for offset in ERRORS}, default=0.9)
    other = error_breakdown(model, [], DATA, np.arange(len(TRAIN)), CONFIG)
    table = side_by_side(breakdown, other)
    assert table["step"].tolist() == breakdown.table["step"].tolist()
    assert table["lstm errors"].tolist() == breakdown.table["errors"].tolist()
    assert table["small errors"].sum() == len(ERRORS)
    assert table["small share of its errors"].sum() == pytest.approx(1)  # each model's own mix of errors
    with pytest.raises(UserError):
        side_by_side(breakdown, breakdown)


def test_config_rejects_unordered_parameters():
    with pytest.raises(UserError):
        OracleConfig(memory_sizes=(500, 100))
