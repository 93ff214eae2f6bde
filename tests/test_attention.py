"""The Transformer: causal, its sliding-window evaluation, its attention trace, its budgets, its training."""

import dataclasses

import numpy as np
import pytest
import torch

from lit_rnn.analysis.attention import copy_keys, even_induction_score, induction_mass, induction_scores
from lit_rnn.attention import attention_over, repeated_bytes
from lit_rnn.evaluate import model_predictions
from lit_rnn.hashing import canonical_json, config_hash
from lit_rnn.models import (
    ModelConfig,
    Transformer,
    budget,
    init_normal,
    matched_transformer,
    transformer_parameter_count,
)
from lit_rnn.presets import TRANSFORMER_RECIPE, get_preset
from lit_rnn.runs import Recipe, RunConfig, identity
from lit_rnn.train import TrainOptions, step_learning_rate, train


def transformer(window=12, n_layers=2, heads=2, width=16, vocab=11, seed=0) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(ModelConfig("transformer", n_layers, width, vocab, context=window, n_heads=heads))
    init_normal(model, 0.3)  # large weights: attention far from uniform, so differences show
    return model.eval()


def chunked(model, ids, chunk):
    """The logits of a pass over ``ids`` in calls of ``chunk`` bytes, state carried (as evaluation runs)."""
    state, out = None, []
    with torch.no_grad():
        for start in range(0, ids.shape[1], chunk):
            logits, state = model(ids[:, start:start + chunk], state)
            out.append(logits)
    return torch.cat(out, dim=1)


def test_no_prediction_changes_when_later_bytes_change():
    model, ids = transformer(), torch.randint(0, 11, (3, 40))
    before = chunked(model, ids, 7)
    for t in (0, 5, 11, 12, 23, 38):
        changed = ids.clone()
        changed[:, t + 1:] = torch.randint(0, 11, changed[:, t + 1:].shape)
        after = chunked(model, changed, 7)
        torch.testing.assert_close(after[:, :t + 1], before[:, :t + 1], rtol=0, atol=0)


@pytest.mark.parametrize("chunk", [1, 5, 12, 40])
def test_predictions_do_not_depend_on_how_a_pass_cuts_the_text(chunk):
    model, ids = transformer(), torch.randint(0, 11, (2, 40))
    torch.testing.assert_close(chunked(model, ids, chunk), chunked(model, ids, 40), rtol=1e-5, atol=1e-5)


def test_sliding_window_equals_full_context_where_the_window_covers_the_row():
    model, ids = transformer(window=12), torch.randint(0, 11, (2, 40))
    sliding = chunked(model, ids, 5)
    with torch.no_grad():
        hidden, _ = model.hidden(ids[:, :12])
        full = model.readout(hidden)  # every byte of the first window from the row's start, one causal pass
        torch.testing.assert_close(sliding[:, :12], full, rtol=1e-5, atol=1e-5)
        # Beyond it, byte t sees from the start of its block's sequence: bytes [kS - (W - S), t].
        stride, t = model.stride, 30
        start = (t // stride) * stride - (12 - stride)
        hidden, _ = model.hidden(ids[:, start:t + 1])
        torch.testing.assert_close(sliding[:, t], model.readout(hidden[:, -1]), rtol=1e-5, atol=1e-5)
    assert 12 - stride + 1 <= t - start + 1 <= 12


def test_evaluation_through_the_split_pass_matches_one_pass(wp_slice):
    batcher = wp_slice.batcher(4, 25)
    model = transformer(window=20, vocab=wp_slice.vocab_size)
    predictions = model_predictions(model, batcher, "test", "t", torch.device("cpu"), chunk=13)
    rows = batcher.split_inputs("test")
    logits = chunked(model, torch.from_numpy(rows.astype(np.int64)), rows.shape[1])
    expected = torch.log_softmax(logits, -1).gather(-1, torch.from_numpy(
        batcher.split_targets("test").astype(np.int64))[..., None])[..., 0].reshape(-1).numpy()
    np.testing.assert_allclose(predictions.target_log_probs, expected, rtol=1e-4, atol=1e-5)
    assert predictions.architecture == "transformer"


def test_trace_shapes_and_weights():
    model, ids = transformer(window=12, n_layers=3, heads=4), torch.randint(0, 11, (2, 30))
    (layers, logits), _ = model.trace(ids)
    assert len(layers) == 3 and all(set(layer) == {"attention"} for layer in layers)
    assert all(layer["attention"].shape == (2, 30, 4, 12) for layer in layers)
    torch.testing.assert_close(logits, chunked(model, ids, 30), rtol=1e-5, atol=1e-5)
    attention = layers[0]["attention"]
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 30, 4))  # each row a distribution
    assert (attention[:, 3, :, 4:] == 0).all()  # byte 3 of a row has nothing 4 or more back
    traced = attention_over(model, ids.numpy(), chunk=7)
    np.testing.assert_allclose(traced[0], attention.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("vocab_size", [65, 87, 101])
@pytest.mark.parametrize("budget_index", [0, 1, 2, 3])
def test_parameter_matching_per_budget(vocab_size, budget_index):
    target = budget(budget_index, vocab_size)
    n_layers, heads = ((2, 2), (2, 2), (4, 4), (4, 4))[budget_index]
    for window in (100, 512):
        config = matched_transformer(n_layers, heads, target, vocab_size, window)
        counted = sum(p.numel() for p in Transformer(config).parameters())
        assert counted == transformer_parameter_count(n_layers, config.hidden_size, vocab_size, window)
        assert abs(counted / target - 1) < 0.07  # ±1 step of the width (a multiple of the heads)
        assert config.hidden_size % heads == 0


def test_new_recipe_and_model_fields_leave_existing_run_ids_unchanged():
    config = RunConfig("0" * 64, ModelConfig("lstm", 2, 128, 87, 0.25))
    old_form = {**dataclasses.asdict(config)}
    for name in ("optimizer", "weight_decay", "schedule", "warmup_steps", "initialisation"):
        old_form["recipe"].pop(name)
    old_form["model"].pop("n_heads")
    assert config.run_id == config_hash(old_form) == config_hash(identity(config))
    assert canonical_json(identity(config)) == canonical_json(old_form)
    changed = dataclasses.replace(config, recipe=Recipe(optimizer="adamw"))
    assert changed.run_id != config.run_id and "optimizer" in identity(changed)["recipe"]


def test_cosine_schedule_warms_up_then_decays_to_a_tenth():
    recipe = TRANSFORMER_RECIPE
    rates = [step_learning_rate(recipe, s, 1000, 260) for s in range(1000)]
    assert rates[0] == pytest.approx(recipe.learning_rate / recipe.warmup_steps)
    assert max(rates) == pytest.approx(recipe.learning_rate)
    assert rates[-1] == pytest.approx(0.1 * recipe.learning_rate, rel=1e-3)
    assert step_learning_rate(Recipe(), 2600, 5000, 260) == pytest.approx(2e-3 * 0.95)  # the paper's, epoch 10


def test_a_transformer_trains_and_resumes_through_the_one_loop(wp40k, artifacts):
    preset = get_preset("tiny")
    config = preset.transformer_config(preset.transformers[0], wp40k)
    run = train(config, wp40k, TrainOptions(progress=False, checkpoint_every=10), artifacts)
    metrics = run.metrics
    assert run.is_finished and metrics[-1]["val_loss"] < metrics[0]["val_loss"] + 0.5
    assert run.result.parameters == transformer_parameter_count(
        config.model.n_layers, config.model.hidden_size, wp40k.vocab_size, config.model.context)
    assert config.run_id == run.dir.name and "optimizer" in (run.dir / "config.json").read_text()


def test_a_perfect_induction_head_scores_one_and_copy_keys_find_it():
    period, window = 6, 12
    ids = repeated_bytes(20, period, rows=2)
    attention = np.zeros((2, 2 * period, 1, window))
    attention[:, :, 0, 0] = 1.0  # head 0 of layer 0 attends to itself
    attention[:, period:, 0, :] = 0.0
    attention[:, period:, 0, period - 1] = 1.0  # ... and, in the repeat, to the byte after the earlier occurrence
    scores = induction_scores([attention], period)
    assert scores.iloc[0].induction_score == pytest.approx(1.0)
    keys = copy_keys(ids[0], window, match=1)
    assert keys[period:, period - 1].all() and not keys[:period].any()
    np.testing.assert_allclose(induction_mass(attention[0, :, 0], keys)[period:], 1.0)
    even = np.zeros((1, 2 * period, 1, window))  # attention spread over the query and every byte before it
    for t in range(2 * period):
        even[:, t, 0, :t + 1] = 1 / (t + 1)
    assert induction_scores([even], period).iloc[0].induction_score == pytest.approx(even_induction_score(period))
    text = np.array([1, 2, 3, 1, 2, 9])  # at byte 4 ("2" after "1"), "3" (2 back) followed "1 2" earlier
    assert copy_keys(text, 5, match=2)[4].tolist() == [False, False, True, False, False]
