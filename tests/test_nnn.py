import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lit_rnn.data import Corpus
from lit_rnn.models import NNN, nnn_config
from lit_rnn.runs import Recipe, RunConfig
from lit_rnn.train import TrainOptions, get_or_train


def test_nnn_is_a_layer_over_concatenated_one_hot_windows():
    torch.manual_seed(0)
    model = NNN(nnn_config(3, 10, hidden_size=16))
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter)
    ids = torch.randint(0, 10, (2, 12))
    logits, _ = model(ids)
    one_hot = torch.cat([torch.zeros(2, 2, 10), F.one_hot(ids, 10).float()], dim=1)  # nothing before the row
    windows = torch.stack([one_hot[:, 2 + t - torch.arange(3)].flatten(1) for t in range(12)], dim=1)
    expected = model.readout(torch.tanh(windows @ model.input_weight + model.input_bias))
    torch.testing.assert_close(logits, expected)


def test_nnn_state_carries_the_window_across_batches():
    model = NNN(nnn_config(4, 7, hidden_size=8))
    ids = torch.randint(0, 7, (3, 20))
    whole, _ = model(ids)
    first, state = model(ids[:, :6])
    second, _ = model(ids[:, 6:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    assert torch.equal(state, ids[:, 3:6])


def _runs_of_a_then_b(n: int, length: int = 20_000) -> Corpus:
    pattern = b"a" * n + b"b"
    data = np.frombuffer((pattern * (length // len(pattern) + 1))[:length], dtype=np.uint8)
    return Corpus(f"a{n}b", None, data)


@pytest.mark.parametrize("n", [3])
def test_n_nn_learns_what_a_shorter_window_cannot(n, artifacts):
    """After a run of n 'a's comes 'b': only a window of n bytes can tell where the run ends."""
    corpus = _runs_of_a_then_b(n)
    recipe = Recipe(batch_size=10, seq_length=20, epochs=3, eval_every=40, learning_rate=1e-2)
    losses = {}
    for context in (n - 1, n):
        config = RunConfig(corpus.sha256, nnn_config(context, corpus.vocab_size, hidden_size=32), recipe)
        losses[context] = get_or_train(config, corpus, TrainOptions(progress=False), artifacts).result.best_val_loss
    assert losses[n] < 0.05
    assert losses[n - 1] > 0.3
