"""Cell interventions: the empty one is the plain model, clamps hold what they say, ablations are bookkept."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from lit_rnn.atomic import atomic_save_torch
from lit_rnn.data import Corpus
from lit_rnn.devices import exact_fp32
from lit_rnn.errors import UserError
from lit_rnn.evaluate import sample, samples, split_pass
from lit_rnn.interventions import (
    AblationConfig,
    Clamp,
    Intervened,
    Intervention,
    ablations,
    intervention_samples,
    layer_ablations,
    random_cells,
    resampler,
    sample_readings,
    scored_rows,
)
from lit_rnn.models import RECURRENT, CharLM, ModelConfig, init_uniform, weights
from lit_rnn.runs import Recipe, Run, RunConfig
from lit_rnn.viz.interventions import InterventionExplorer, readings_html

WRITTEN_OUT_ATOL = 1e-5  # the written-out equations against the fused kernel on a CPU (see test_models)


def _model(architecture: str, n_layers: int, hidden: int = 24, vocab: int = 30, seed: int = 0) -> CharLM:
    torch.manual_seed(seed)
    model = CharLM(ModelConfig(architecture, n_layers, hidden, vocab)).eval()
    init_uniform(model, 0.3)  # strong enough that cells matter
    return model


def _states(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def _run(model, ids, chunk=25):
    """Logits over ``ids`` in windows with the state carried, and the final state."""
    logits, state = [], None
    with torch.no_grad(), exact_fp32():
        for start in range(0, ids.shape[1], chunk):
            out, state = model(ids[:, start : start + chunk], state)
            logits.append(out)
    return torch.cat(logits, dim=1), state


@pytest.mark.parametrize("architecture", RECURRENT)
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_the_empty_intervention_is_the_plain_model_exactly(architecture, n_layers):
    model = _model(architecture, n_layers)
    ids = torch.randint(0, 30, (3, 60))
    plain_logits, plain_state = _run(model, ids)
    logits, state = _run(Intervened(model, Intervention()), ids)
    assert torch.equal(logits, plain_logits)
    for mine, theirs in zip(_states(state), _states(plain_state)):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize("architecture", RECURRENT)
def test_interventions_side_by_side_do_not_touch_each_other(architecture):
    """An empty intervention batched with an ablation of layer 1 gives the plain model (written-out layer: 1e-5)."""
    model = _model(architecture, 3)
    ids = torch.randint(0, 30, (4, 50))
    plain_logits, plain_state = _run(model, ids)
    both = Intervened(model, [Intervention.ablate(1, [3, 7]), Intervention()])
    logits, state = _run(both, ids)
    assert logits.shape == (8, 50, 30)
    torch.testing.assert_close(logits[4:], plain_logits, atol=WRITTEN_OUT_ATOL, rtol=0)
    assert (logits[:4] - plain_logits).abs().max() > 1e-3  # the ablation does something
    for mine, theirs in zip(_states(state), _states(plain_state)):
        assert torch.equal(mine[0, :4], theirs[0]) and torch.equal(mine[0, 4:], theirs[0])  # below: shared, exact
        torch.testing.assert_close(mine[1:, 4:], theirs[1:], atol=WRITTEN_OUT_ATOL, rtol=WRITTEN_OUT_ATOL)


@pytest.mark.parametrize("architecture", RECURRENT)
@pytest.mark.parametrize("layer", [0, 1])
def test_ablating_h_is_removing_the_cells_outgoing_weights(architecture, layer):
    """An independent check: h_j = 0 at every step is the fused model with column j of W_hh and of the next W cut."""
    model = _model(architecture, 2)
    ids = torch.randint(0, 30, (3, 40))
    cells = [2, 11]
    logits, _ = _run(Intervened(model, Intervention.ablate(layer, cells)), ids)
    cut = _model(architecture, 2)
    with torch.no_grad():
        getattr(cut.rnn, f"weight_hh_l{layer}")[:, cells] = 0
        reader = cut.readout.weight if layer == 1 else cut.rnn.weight_ih_l1
        reader[:, cells] = 0
    expected, _ = _run(cut, ids)
    torch.testing.assert_close(logits, expected, atol=WRITTEN_OUT_ATOL, rtol=0)


def test_clamps_hold_their_cells_and_only_them():
    model = _model("lstm", 2)
    ids = torch.randint(0, 30, (2, 30))
    _, (plain_h, plain_c) = _run(model, ids)
    on_c = Intervention((Clamp(1, "c", (5,), 2.0), Clamp(0, "h", (1, 4), -0.5)))
    _, (h, c) = _run(Intervened(model, on_c), ids)
    assert torch.all(c[1, :, 5] == 2.0) and torch.all(h[0, :, [1, 4]] == -0.5)
    assert torch.all(h[1, :, 5].abs() <= np.tanh(2.0) + 1e-6)  # h = o·tanh(c) of the clamped cell state
    free = [j for j in range(24) if j not in (1, 4)]
    assert (h[0, :, free] - plain_h[0, :, free]).abs().max() > 1e-4  # the clamp reaches the other cells


def test_an_intervention_leaves_the_model_as_it_was():
    model = _model("lstm", 2)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    ids = torch.randint(0, 30, (2, 30))
    plain, _ = _run(model, ids)
    intervened = Intervened(model, [Intervention.ablate(0, [0]), Intervention.clamp(1, [3], 1.5, "c")])
    _run(intervened, ids)
    assert {id(p) for p in intervened.parameters()} == {id(p) for p in model.parameters()}  # shared, not copied
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, before[name]), name
    again, _ = _run(model, ids)
    assert torch.equal(again, plain)


@pytest.mark.parametrize(("intervention", "message"), [
    (Intervention.ablate(2, [0]), "layer 3 does not exist: the model has layers 1..2"),
    (Intervention.ablate(0, [24]), "not all among the layer's cells"),
    (Intervention.ablate(0, []), "not all among the layer's cells"),
    (Intervention.clamp(0, [1], 1.0, "f"), "no quantity 'f'"),
])
def test_bad_interventions_are_one_line_errors(intervention, message):
    with pytest.raises(UserError, match=message):
        Intervened(_model("lstm", 2), intervention)


def test_a_gru_has_no_cell_state_to_clamp():
    with pytest.raises(UserError, match="a gru has no quantity 'c'"):
        Intervened(_model("gru", 1), Intervention.ablate(0, [1], "c"))


def test_random_cells_are_reproducible_distinct_and_avoid_the_tested_ones():
    first = random_cells(50, 20, exclude=[3, 7], seed=(0, 1))
    assert np.array_equal(first, random_cells(50, 20, exclude=[3, 7], seed=(0, 1)))
    assert not np.array_equal(first, random_cells(50, 20, exclude=[3, 7], seed=(0, 2)))
    assert len(set(first)) == 20 and not {3, 7} & set(first) and first.max() < 50
    with pytest.raises(UserError, match="cannot draw 49 random cells"):
        random_cells(50, 49, exclude=[3, 7])


def test_scored_rows_spread_through_the_split():
    assert scored_rows(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert scored_rows(4, 10).tolist() == [0, 1, 2, 3]


def _corpus(n_bytes: int = 6000, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    return Corpus("synthetic", Path("synthetic"), rng.integers(97, 127, n_bytes).astype(np.uint8))


def test_layer_ablations_bookkeeping():
    corpus = _corpus()
    batcher = corpus.batcher(6, 10)
    model = _model("lstm", 2, vocab=corpus.vocab_size)
    config = AblationConfig(rows=3, length=40, draws=5, seed=4)
    result = layer_ablations(model, batcher, 1, [9, 2], config, torch.device("cpu"))
    assert result.layer == 1 and result.tested.tolist() == [2, 9]
    assert len(result.random) == 5 and not {2, 9} & set(result.random.tolist())
    assert np.array_equal(result.random, random_cells(24, 5, exclude=[2, 9], seed=(4, 1)))
    rows = scored_rows(6, 3)
    assert result.plain.shape == (3, 40) and result.tested_losses.shape == (2, 3, 40)
    assert result.random_losses.shape == (5, 3, 40)
    assert np.array_equal(result.positions, batcher.positions("test")[rows, :40])
    # The plain row is the plain model's loss over those rows and bytes.
    expected = np.concatenate([
        F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(3, -1).numpy()
        for _, targets, logits in split_pass(model, batcher, "test", torch.device("cpu"), 10, rows=rows, length=40)
    ], axis=1)
    np.testing.assert_allclose(result.plain, expected, atol=1e-5)
    assert np.abs(result.tested_losses - result.plain).max() > 1e-4


def test_samples_side_by_side_and_under_the_empty_intervention_are_the_plain_samples():
    corpus = _corpus(2000)
    model = _model("lstm", 2, vocab=corpus.vocab_size)
    prime = corpus.data[:20].tobytes()
    one = sample(model, corpus, prime, 60, temperature=0.9, seed=3)
    assert samples(model, corpus, prime, 60, count=1, temperature=0.9, seed=3) == [one]
    drawn = intervention_samples(model, corpus, {"plain": Intervention(), "ablated": Intervention.ablate(1, [0, 1])},
                                 prime, 60, count=4, temperature=0.9, seed=3)
    assert drawn["plain"] == samples(model, corpus, prime, 60, count=4, temperature=0.9, seed=3)
    assert len(drawn["ablated"]) == 4 and all(len(text) == 60 for text in drawn["ablated"])
    assert drawn["ablated"] != drawn["plain"]


def test_ablations_of_a_run_are_cached_by_their_configuration(tmp_path, monkeypatch):
    corpus = _corpus()
    model = _model("lstm", 2, vocab=corpus.vocab_size)
    run = Run(RunConfig(corpus.sha256, model.config, Recipe(batch_size=6, seq_length=10)), tmp_path)
    run.write_config()
    atomic_save_torch(weights(model), run.best_path)
    config = AblationConfig(rows=2, length=20, draws=3)
    first = ablations(run, corpus, {1: [4], 0: [2, 9]}, config)
    assert sorted(first) == [0, 1] and first[0].tested.tolist() == [2, 9] and first[1].tested.tolist() == [4]
    monkeypatch.setattr("lit_rnn.interventions.layer_ablations", lambda *a, **k: pytest.fail("not cached"))
    again = ablations(run, corpus, {1: [4], 0: [9, 2]}, config)
    np.testing.assert_array_equal(again[0].random_losses, first[0].random_losses)
    assert again[1].layer == 1 and np.array_equal(again[1].random, first[1].random)
    with pytest.raises(pytest.fail.Exception, match="not cached"):  # another configuration is computed afresh
        ablations(run, corpus, {1: [4]}, AblationConfig(rows=2, length=20, draws=3, seed=1))


def test_the_explorer_draws_what_the_resampler_reads_plain_and_intervened_from_one_seed():
    corpus = _corpus(2000)
    model = _model("lstm", 2, vocab=corpus.vocab_size)
    prime = corpus.data[:20].tobytes()
    resample = resampler(model, corpus, prime)
    readings = resample((1, "c", 3), "clamp", 0.7, 40, 0.9, 5)
    drawn = intervention_samples(model, corpus, {"plain": Intervention(),
                                                 "x": Intervention.clamp(1, [3], 0.7, "c")}, prime, 40, 1, 0.9, 5)
    assert list(readings) == ["plain", "layer 2 c[3] = 0.7"]
    assert [text for text, _ in readings["plain"]] == drawn["plain"]
    assert [text for text, _ in readings["layer 2 c[3] = 0.7"]] == drawn["x"]
    assert sample_readings(model, corpus, drawn, (1, "c", 3), prime, per_set=1)["plain"][0][1].tolist() == \
        readings["plain"][0][1].tolist()  # coloured as the plain model reads it
    cells = pd.DataFrame({"signal": ["s"], "layer": [1], "quantity": ["c"], "cell": [3]})
    explorer = InterventionExplorer(cells, resample, length=50)  # its first view: ablated, temperature 1, seed 0
    assert explorer.view.value == readings_html(resample((1, "c", 3), "ablate", 0.0, 50, 1.0, 0), (1, "c", 3))


def test_samples_are_coloured_on_the_fixed_scale_red_low_blue_high():
    """A cell state is drawn as tanh(c) on [-1, 1], never rescaled to the sample's own range."""
    shown = readings_html({"s": [(b"abc", np.array([-20.0, 0.05, 20.0]))]}, (0, "c", 1))
    colours = re.findall(r"background:(rgb\(\d+,\d+,\d+\))", shown)
    assert colours[0] == "rgb(255,0,0)" and colours[2] == "rgb(0,0,255)"  # red low, blue high
    faint = readings_html({"s": [(b"ab", np.array([0.05, 0.05]))]}, (0, "c", 1))
    assert re.findall(r"background:(rgb\(\d+,\d+,\d+\))", faint)[0] == colours[1] == "rgb(242,242,255)"
    gate = readings_html({"s": [(b"ab", np.array([0.0, 1.0]))]}, (0, "i", 1))
    assert re.findall(r"background:(rgb\(\d+,\d+,\d+\))", gate) == ["rgb(255,0,0)", "rgb(0,0,255)"]
