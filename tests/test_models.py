import numpy as np
import pytest
import torch

from lit_rnn.errors import UserError
from lit_rnn.models import (
    CELL_TYPES,
    TRACE_QUANTITIES,
    CharLM,
    ModelConfig,
    init_uniform,
    load_checkpoint,
    parameter_count,
    parameter_matched_grid,
)
from lit_rnn.store import atomic_save_torch
from lit_rnn.train import load_model

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_reference_lstm_parameter_counts():
    counts = [parameter_count("lstm", 1, h, 87) for h in (64, 128, 256, 512)]
    assert counts == [44_823, 122_327, 375_639, 1_275_479]


@pytest.mark.parametrize("cell", CELL_TYPES)
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_parameter_count_matches_the_module(cell, layers):
    model = CharLM(ModelConfig(cell, layers, 23, 87))
    assert sum(p.numel() for p in model.parameters()) == parameter_count(cell, layers, 23, 87)


def test_grid_matches_the_budgets_for_any_vocabulary():
    for vocab in (87, 110, 40):
        grid = parameter_matched_grid(vocab)
        assert len(grid) == 36
        for row in grid:
            assert abs(row["parameters"] - row["budget"]) / row["budget"] < 0.02, row
        lstm1 = [r["hidden_size"] for r in grid if r["cell"] == "lstm" and r["n_layers"] == 1]
        assert lstm1 == [64, 128, 256, 512]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cell", CELL_TYPES)
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_trace_equals_the_fused_path(cell, layers, device):
    torch.manual_seed(0)
    model = CharLM(ModelConfig(cell, layers, 48, 60)).to(device).eval()
    init_uniform(model, 0.08)
    for name, parameter in model.rnn.named_parameters():  # strong inputs so gates really move; a
        if "weight_hh" not in name:  # contracting recurrence keeps 300 steps free of chaos
            parameter.data.mul_(20)
    ids = torch.randint(0, 60, (3, 300), device=device)
    with torch.no_grad():
        hidden, _ = model.rnn(model.one_hot(ids))
        logits, state = model(ids)
    traced, traced_logits, traced_state = model.trace(ids)
    assert len(traced) == layers and set(traced[0]) == set(TRACE_QUANTITIES[cell])
    torch.testing.assert_close(traced[-1]["h"], hidden, atol=1e-5, rtol=0)
    torch.testing.assert_close(traced_logits, logits, atol=1e-5, rtol=0)
    for mine, theirs in zip(traced_state if cell == "lstm" else [traced_state], state if cell == "lstm" else [state]):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)  # cells integrate: grow large
    if cell == "lstm":
        gates = torch.cat([traced[0][g] for g in "ifo"])
        assert gates.min() >= 0 and gates.max() <= 1 and gates.std() > 0.1


def test_trace_continues_from_a_carried_state():
    torch.manual_seed(1)
    model = CharLM(ModelConfig("lstm", 2, 16, 20)).eval()
    ids = torch.randint(0, 20, (2, 40))
    whole, _, _ = model.trace(ids)
    first, _, state = model.trace(ids[:, :25])
    second, _, _ = model.trace(ids[:, 25:], state)
    torch.testing.assert_close(torch.cat([first[1]["c"], second[1]["c"]], dim=1), whole[1]["c"])


def test_unknown_cell_type_is_a_clear_error():
    with pytest.raises(UserError, match="unknown cell type 'transformer'"):
        ModelConfig("transformer", 1, 10, 10)


def _saved_model(path, vocab):
    model = CharLM(ModelConfig("lstm", 1, 8, vocab))
    atomic_save_torch({"model_config": model.config.__dict__, "model": model.state_dict()}, path)
    return model


def test_checkpoint_round_trip_and_other_vocabulary(tmp_path):
    path = tmp_path / "best.pt"
    model = _saved_model(path, vocab=30)
    loaded = load_model(path, vocab_size=30)
    for a, b in zip(model.parameters(), loaded.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(UserError, match="vocabulary of 30 bytes, but this corpus has 87"):
        load_model(path, vocab_size=87)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "best.pt"
    _saved_model(path, vocab=30)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="damaged or not a lit-rnn checkpoint"):
        load_checkpoint(path)
    with pytest.raises(UserError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_init_is_uniform_in_range():
    model = CharLM(ModelConfig("gru", 2, 32, 50))
    init_uniform(model, 0.08)
    values = torch.cat([p.flatten() for p in model.parameters()]).detach().numpy()
    assert values.min() >= -0.08 and values.max() <= 0.08
    assert np.std(values) == pytest.approx(0.16 / np.sqrt(12), rel=0.05)
