import numpy as np
import pytest
import torch

from lit_rnn import devices
from lit_rnn.atomic import atomic_save_torch
from lit_rnn.devices import exact_fp32, training_precision
from lit_rnn.errors import UserError
from lit_rnn.models import (
    RECURRENT,
    TRACE_QUANTITIES,
    CharLM,
    ModelConfig,
    init_uniform,
    load_checkpoint,
    load_model,
    parameter_count,
    parameter_matched_grid,
    weights,
)
from lit_rnn.probe import FREE_RUNNING_ATOL, ONE_STEP_ATOL, autocast_rnn_dtypes, one_step_gap, strong_model
from lit_rnn.train import state_tensors

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_reference_lstm_parameter_counts():
    counts = [parameter_count("lstm", 1, h, 87) for h in (64, 128, 256, 512)]
    assert counts == [44_823, 122_327, 375_639, 1_275_479]


@pytest.mark.parametrize("architecture", RECURRENT)
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_parameter_count_matches_the_module(architecture, n_layers):
    model = CharLM(ModelConfig(architecture, n_layers, 23, 87))
    assert sum(p.numel() for p in model.parameters()) == parameter_count(architecture, n_layers, 23, 87)


def test_grid_matches_the_budgets_for_any_vocabulary():
    for vocab in (87, 110, 40):
        grid = parameter_matched_grid(vocab)
        assert len(grid) == 36
        for row in grid:
            assert abs(row["parameters"] - row["budget"]) / row["budget"] < 0.02, row
        lstm1 = [r["hidden_size"] for r in grid if r["architecture"] == "lstm" and r["n_layers"] == 1]
        assert lstm1 == [64, 128, 256, 512]


# The bounds and the strong, contracting model are lit_rnn.probe's (what `lit-rnn gpu-window` checks a device with).
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("architecture", RECURRENT)
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_one_written_out_step_reproduces_the_fused_kernel(architecture, n_layers, device):
    """From the fused path's own state at step t-1, one step of the equations gives its h (and c) at t."""
    model = strong_model(architecture, n_layers, device)
    assert one_step_gap(model, torch.randint(0, 60, (3, 40), device=device)) < ONE_STEP_ATOL


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("architecture", RECURRENT)
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_trace_follows_the_fused_path_over_a_whole_window(architecture, n_layers, device):
    model = strong_model(architecture, n_layers, device)
    ids = torch.randint(0, 60, (3, 300), device=device)
    atol = FREE_RUNNING_ATOL[torch.device(device).type]
    with torch.no_grad(), exact_fp32():
        hidden, _ = model.rnn(model.one_hot(ids))
        logits, state = model(ids)
    (traced, traced_logits), traced_state = model.trace(ids)
    assert len(traced) == n_layers and set(traced[0]) == set(TRACE_QUANTITIES[architecture])
    torch.testing.assert_close(traced[-1]["h"], hidden, atol=atol, rtol=0)
    torch.testing.assert_close(traced_logits, logits, atol=atol, rtol=0)
    for mine, theirs in zip(state_tensors(traced_state), state_tensors(state)):
        torch.testing.assert_close(mine, theirs, atol=atol, rtol=atol)  # cells integrate: grow large
    if architecture == "lstm":
        gates = torch.cat([traced[0][g] for g in "ifo"])
        assert gates.min() >= 0 and gates.max() <= 1 and gates.std() > 0.1


def test_precision_scopes_restore_what_the_caller_set():
    saved = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    exact = lambda: not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32  # noqa: E731
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        with exact_fp32():
            assert exact() and torch.get_float32_matmul_precision() == "highest"
            with training_precision("bf16"):
                assert exact()  # the strictest of the open blocks: an evaluation's
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert torch.get_float32_matmul_precision() == "high"
        # Blocks of several threads close in any order: a training's evaluation in one, packs training in another.
        training, evaluation = training_precision("bf16"), exact_fp32()
        torch.set_float32_matmul_precision("highest")
        training.__enter__()
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        evaluation.__enter__()
        assert exact()
        training.__exit__(None, None, None)
        assert exact()
        evaluation.__exit__(None, None, None)
        assert torch.get_float32_matmul_precision() == "highest" and torch.backends.cudnn.allow_tf32  # as before
        evaluation, training = exact_fp32(), training_precision("bf16")
        evaluation.__enter__()
        training.__enter__()
        evaluation.__exit__(None, None, None)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32  # the training's alone
        training.__exit__(None, None, None)
        assert not torch.backends.cuda.matmul.allow_tf32
    finally:
        devices._OPEN.clear()  # a failed assertion between the manual enters and exits leaves none open
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]


def test_what_bf16_autocast_computes_each_recurrent_layer_in_on_a_cpu():
    """As the README and chapter 2 say: autocast decides per operation, and on a CPU leaves the GRU in fp32."""
    assert autocast_rnn_dtypes(torch.device("cpu")) == {"rnn": "bfloat16", "lstm": "bfloat16", "gru": "float32"}


def test_trace_continues_from_a_carried_state():
    torch.manual_seed(1)
    model = CharLM(ModelConfig("lstm", 2, 16, 20)).eval()
    ids = torch.randint(0, 20, (2, 40))
    (whole, _), _ = model.trace(ids)
    (first, _), state = model.trace(ids[:, :25])
    (second, _), _ = model.trace(ids[:, 25:], state)
    torch.testing.assert_close(torch.cat([first[1]["c"], second[1]["c"]], dim=1), whole[1]["c"])


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(UserError, match="unknown architecture 'mamba'"):
        ModelConfig("mamba", 1, 10, 10)
    with pytest.raises(UserError, match="a Transformer needs context"):
        ModelConfig("transformer", 1, 10, 10)
    with pytest.raises(UserError, match="n_heads >= 1 dividing its width"):
        ModelConfig("transformer", 1, 10, 10, context=8, n_heads=3)


def _saved_model(path, vocab):
    model = CharLM(ModelConfig("lstm", 1, 8, vocab))
    atomic_save_torch(weights(model), path)
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
