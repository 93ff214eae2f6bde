"""The synthetic corpus: its recorded truth against an independent parse of its text."""

from __future__ import annotations

import numpy as np
import pytest

from lit_rnn.data import load_corpus
from lit_rnn.errors import UserError
from lit_rnn.synthetic import VARIABLES, SyntheticConfig, generate, read_truth, write

CONFIG = SyntheticConfig(n_bytes=30_000, seed=3)


def _parse(text: bytes, name_length: int, letters: str) -> dict[str, list[int]]:
    """Each byte's state after reading it, from the text alone (a plain state machine, one byte at a time)."""
    stack, quote, column, pending, recall, parity, walk = [], False, 0, False, -1, 0, 0
    values = {name: [] for name in ("paren_depth", "bracket_depth", "in_quotes", "line_position", "name_pending",
                                    "letter_parity", "letter_walk")}
    for char in text.decode():
        if char == '"':
            quote = not quote
        elif char in "([":
            stack.append(char)
        elif char in ")]":
            assert stack and stack.pop() == {")": "(", "]": "["}[char], "a closing bracket that does not match"
        elif char == "@":
            pending = True
        elif char == "#":
            recall = name_length
        elif recall > 0:
            recall -= 1
            pending = pending and recall > 0
        column = 0 if char == "\n" else column + 1
        walk = 0 if char == "\n" else walk + (char == letters[0]) - (char == letters[1])
        parity ^= char == letters[-1]
        for name, value in zip(values, (stack.count("("), stack.count("["), quote, column, pending, parity, walk)):
            values[name].append(int(value))
    return values


def test_recorded_truth_matches_an_independent_parse():
    text, truth = generate(CONFIG)
    assert len(text) == CONFIG.n_bytes and set(truth) == set(VARIABLES)
    for name, parsed in _parse(text, CONFIG.name_length, CONFIG.letters).items():
        mismatch = np.flatnonzero(np.asarray(parsed) != truth[name])
        assert not len(mismatch), f"{name} differs from the parse first at byte {mismatch[:1]}"


def test_every_variable_varies_and_stays_in_bounds():
    _, truth = generate(CONFIG)
    for name, values in truth.items():
        assert values.min() < values.max(), name
    assert truth["paren_depth"].max() + truth["bracket_depth"].max() <= 2 * CONFIG.max_depth
    assert (truth["paren_depth"] + truth["bracket_depth"]).max() <= CONFIG.max_depth
    assert truth["line_position"].max() <= CONFIG.line_lengths[1]


def _span_lengths(on: np.ndarray) -> np.ndarray:
    on = on.astype(bool)
    starts = np.flatnonzero(on & ~np.r_[False, on[:-1]])
    ends = np.flatnonzero(on & ~np.r_[on[1:], False])
    return ends - starts + 1


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_the_share_of_quoted_spans_beyond_the_horizon_is_controlled(share):
    config = SyntheticConfig(n_bytes=60_000, seed=1, long_share=share)
    lengths = _span_lengths(generate(config)[1]["in_quotes"])[:-1]  # the last may be cut
    beyond = np.mean(lengths > 100)
    assert abs(beyond - share) < 0.12, (beyond, len(lengths))


def test_unknowable_controls_are_independent_of_the_text():
    text, truth = generate(CONFIG)
    other_text, other = generate(SyntheticConfig(n_bytes=CONFIG.n_bytes, seed=CONFIG.seed, control_seed=99))
    assert other_text == text
    assert not np.array_equal(other["noise_flag"], truth["noise_flag"])
    assert all(np.array_equal(other[n], truth[n]) for n in ("paren_depth", "in_quotes", "name_pending"))


def test_written_corpus_loads_by_path_with_its_truth(tmp_path):
    path = write(CONFIG, tmp_path)
    corpus = load_corpus(str(path), tmp_path)
    truth = read_truth(path)
    assert len(corpus) == CONFIG.n_bytes and len(truth["in_quotes"]) == CONFIG.n_bytes
    assert write(CONFIG, tmp_path) == path  # written once per config


def test_bad_configs_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="line_lengths"):
        SyntheticConfig(line_lengths=(5, 10))
    with pytest.raises(UserError, match="long_share"):
        SyntheticConfig(long_share=1.5)
    with pytest.raises(UserError, match="no recorded truth"):
        read_truth(tmp_path / "missing.txt")


@pytest.mark.slow  # trains two tiny models and ablates their cells: 10-40 s
def test_the_tiny_truth_study_searches_and_keeps_its_false_positive_rate(tmp_path):
    from lit_rnn.truth_study import TruthStudy, false_positive_note

    study = TruthStudy.open(preset="tiny", device="cpu", artifacts=str(tmp_path), generator={"seed": 5})
    assert study.corpus.path.parent.parent.parent == tmp_path and len(study.runs) == 2
    search = study.analyse(study.runs[0], draws=2)
    assert set(search.variables.signal) == set(VARIABLES)
    assert len(search.controls) == 4 + 2 * 2  # the recorded controls and two more draws of the unknowable two
    assert false_positive_note(tmp_path, "tiny") is None  # only the preset's own generator is read by chapter 3
    study = TruthStudy.open(preset="tiny", device="cpu", artifacts=str(tmp_path))
    from lit_rnn.analysis.groundtruth import false_positive_rate

    study.save_false_positives(false_positive_rate(search.controls))
    assert "of 8 searches" in false_positive_note(tmp_path, "tiny")
    with pytest.raises(UserError, match="no parameter"):
        TruthStudy.open(preset="tiny", artifacts=str(tmp_path), generator={"depth": 3})
