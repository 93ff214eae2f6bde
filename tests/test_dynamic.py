"""Dynamic evaluation: it learns a repeat from one reading, and it never scores a byte it has trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lit_rnn.atomic import atomic_save_torch
from lit_rnn.data import Corpus
from lit_rnn.dynamic import DynamicConfig, dynamic_evaluation, dynamic_pass, dynamic_predictions, gradient_rms
from lit_rnn.errors import UserError
from lit_rnn.evaluate import model_predictions, split_loss, split_pass
from lit_rnn.models import CharLM, ModelConfig, init_uniform, weights
from lit_rnn.runs import Recipe, Run, RunConfig

CPU = torch.device("cpu")
LETTERS = np.frombuffer(b"abcdefghij", np.uint8)


def _reservoir(vocab: int, seed: int = 0) -> CharLM:
    """A tiny random LSTM whose input drives its state hard, so its read-out can learn a text from one reading."""
    torch.manual_seed(seed)
    model = CharLM(ModelConfig("lstm", 1, 64, vocab)).eval()
    init_uniform(model, 0.1)
    with torch.no_grad():
        model.rnn.weight_ih_l0.uniform_(-3, 3)
    return model


def _losses(windows, shape) -> np.ndarray:
    out = np.zeros(shape)
    for columns, targets, logits in windows:
        out[:, columns] = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(
            shape[0], -1).numpy()
    return out


@pytest.mark.parametrize(("config", "gain"), [(DynamicConfig(1.0, 0.0, 5, "sgd"), 0.08),
                                              (DynamicConfig(0.01, 0.0, 5, "rms"), 0.15)])
def test_dynamic_evaluation_learns_a_repeated_text_on_its_repeats(config, gain):
    rng = np.random.default_rng(0)
    segment = 60
    rows = [np.concatenate([s, s, s, rng.choice(LETTERS, segment)]) for s in (rng.choice(LETTERS, segment)
                                                                            for _ in range(2))]
    corpus = Corpus("repeats", Path("repeats"), np.concatenate(rows))
    batcher = corpus.batcher(2, 10)  # the train split is each row's first 192 bytes: three copies of its segment
    model = _reservoir(corpus.vocab_size)
    shape = batcher.split_inputs("train").shape
    plain = _losses(split_pass(model, batcher, "train", CPU, 10), shape)
    rms = gradient_rms(model, batcher, CPU, 5, windows=10)
    dynamic = _losses(dynamic_pass(model, batcher, "train", CPU, config, rms=rms), shape)
    copy = [slice(k * segment, (k + 1) * segment) for k in range(3)]
    plain_by_copy = [plain[:, c].mean() for c in copy]
    dynamic_by_copy = [dynamic[:, c].mean() for c in copy]
    assert max(plain_by_copy) - min(plain_by_copy) < 0.02  # the plain model does not notice the repeat
    assert dynamic_by_copy[1] < plain_by_copy[1] - gain and dynamic_by_copy[2] < plain_by_copy[2] - 2 * gain
    assert dynamic_by_copy[2] < dynamic_by_copy[1] < dynamic_by_copy[0]


def test_the_gradient_rms_is_measured_on_the_training_split():
    rng = np.random.default_rng(5)
    corpus = Corpus("text", Path("text"), rng.choice(LETTERS, 2000))
    batcher = corpus.batcher(4, 10)
    model = _reservoir(corpus.vocab_size)
    rms = gradient_rms(model, batcher, CPU, window=7, windows=3)
    squares, state = [torch.zeros_like(p) for p in model.parameters()], None
    inputs, targets = (torch.from_numpy(a[:, :21].astype(np.int64)) for a in batcher.grid)  # train: the rows' start
    for start in range(0, 21, 7):
        model.zero_grad()
        logits, state = model(inputs[:, start : start + 7], state)
        F.cross_entropy(logits.flatten(0, 1), targets[:, start : start + 7].flatten()).backward()
        state = tuple(s.detach() for s in state)
        squares = [s + p.grad**2 for s, p in zip(squares, model.parameters())]
    for mine, theirs in zip(rms, squares):
        torch.testing.assert_close(mine, (theirs / 3).sqrt())


def test_the_rms_rule_with_unit_rms_is_plain_sgd():
    rng = np.random.default_rng(6)
    corpus = Corpus("text", Path("text"), rng.choice(LETTERS, 2000))
    batcher = corpus.batcher(4, 10)
    model = _reservoir(corpus.vocab_size)
    ones = [torch.ones_like(p) for p in model.parameters()]
    scores = [torch.cat([logits for _, _, logits in dynamic_pass(model, batcher, "test", CPU,
                                                                 DynamicConfig(0.5, 0.1, 5, rule), rms=ones)], dim=1)
              for rule in ("rms", "sgd")]
    assert torch.equal(*scores)
    with pytest.raises(UserError, match="needs the gradient RMS"):
        next(dynamic_pass(model, batcher, "test", CPU, DynamicConfig(0.5)))


def test_no_byte_is_scored_after_a_step_that_saw_it():
    """Changing one row from column m on leaves every row's scores before m unchanged, and changes later ones."""
    rng = np.random.default_rng(1)
    data = rng.choice(LETTERS, 3 * 400)
    changed = data.copy()
    m = 23  # inside the window [20, 25): a step on it would see the changed byte 23 as the target of 22
    changed[m:400] = np.roll(LETTERS, 3)[np.searchsorted(LETTERS, changed[m:400])]  # row 0 only, same vocabulary
    scores = []
    for text in (data, changed):
        corpus = Corpus("stream", Path("stream"), text)
        batcher = corpus.batcher(3, 10)
        model = _reservoir(corpus.vocab_size)
        scores.append(torch.cat([logits for _, _, logits in dynamic_pass(model, batcher, "train", CPU,
                                                                           DynamicConfig(1.0, 0.01, 5, "sgd"))], dim=1))
    before, after = scores
    assert torch.equal(before[:, :m], after[:, :m])
    assert not torch.equal(before[1, 25:], after[1, 25:])  # other rows feel it after the step on that window


def test_no_step_is_plain_evaluation_and_the_model_is_left_as_it_was():
    rng = np.random.default_rng(2)
    corpus = Corpus("text", Path("text"), rng.choice(LETTERS, 2000))
    batcher = corpus.batcher(4, 10)
    model = _reservoir(corpus.vocab_size)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    plain = model_predictions(model, batcher, "test", "m", CPU)
    still = dynamic_predictions(model, batcher, "test", "m", CPU, DynamicConfig(0.0, 0.0, 7, "sgd"))
    np.testing.assert_allclose(still.target_log_probs, plain.target_log_probs, atol=1e-6)
    adapted = dynamic_predictions(model, batcher, "test", "m", CPU, DynamicConfig(1.0, 0.0, 7, "sgd"))
    assert np.abs(adapted.target_log_probs - plain.target_log_probs).max() > 1e-3
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_split_loss_over_the_first_bytes_of_each_row():
    rng = np.random.default_rng(3)
    corpus = Corpus("text", Path("text"), rng.choice(LETTERS, 2000))
    batcher = corpus.batcher(4, 10)
    model = _reservoir(corpus.vocab_size)
    losses = _losses(split_pass(model, batcher, "val", CPU, 10), batcher.split_inputs("val").shape)
    assert split_loss(model, batcher, "val", CPU, chunk=7, length=13) == pytest.approx(losses[:, :13].mean(), abs=1e-6)
    assert split_loss(model, batcher, "val", CPU) == pytest.approx(losses.mean(), abs=1e-6)


def test_dynamic_evaluation_of_a_run_chooses_on_validation_and_is_cached(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    corpus = Corpus("text", Path("text"), rng.choice(LETTERS, 4000))
    model = _reservoir(corpus.vocab_size)
    run = Run(RunConfig(corpus.sha256, model.config, Recipe(batch_size=4, seq_length=10)), tmp_path)
    run.write_config()
    atomic_save_torch(weights(model), run.best_path)
    grid = (DynamicConfig(0.3, 0.0, 5, "sgd"), DynamicConfig(0.01, 0.0, 5, "rms"), DynamicConfig(3.0, 0.0, 5, "sgd"))
    result = dynamic_evaluation(run, corpus, CPU, grid, validation_length=None)
    assert result.validation["learning_rate"].tolist() == [0.0, 0.3, 0.01, 3.0]
    assert result.validation["rule"].tolist() == ["sgd", "sgd", "rms", "sgd"]
    assert len(list((run.dir / "dynamic").glob("rms-*.pt"))) == 1
    configs = [DynamicConfig(0.0, 0.0, 5, "sgd"), *grid]
    assert result.config == configs[result.validation["val_loss"].idxmin()]
    assert result.validation["val_loss"].iloc[0] == pytest.approx(split_loss(model, run.config.batcher(corpus), "val",
                                                                             CPU), abs=1e-6)
    assert len(result.predictions.targets) == run.config.batcher(corpus).split_bytes("test")
    assert result.seconds > 0 and result.plain_seconds > 0
    monkeypatch.setattr("lit_rnn.dynamic.dynamic_predictions", lambda *a, **k: pytest.fail("not cached"))
    again = dynamic_evaluation(run, corpus, CPU, grid, validation_length=None)
    assert again.config == result.config
    np.testing.assert_array_equal(again.predictions.target_log_probs, result.predictions.target_log_probs)
    with pytest.raises(UserError, match="decay in"):
        DynamicConfig(0.1, 2.0)
    with pytest.raises(UserError, match="a rule in"):
        DynamicConfig(0.1, rule="adam")
