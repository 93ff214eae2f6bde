"""Presets are data: the runs each one trains, their sizes, and the roles the chapters read."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import parameter_count
from lit_rnn.presets import PRESETS, TABLE2_CONTEXTS, get_preset
from lit_rnn.runs import Recipe


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    """A corpus with War and Peace's 87-byte vocabulary."""
    return Corpus("eighty-seven", None, np.arange(200_000, dtype=np.int64).astype(np.uint8) % 87 + 32)


def test_every_preset_names_distinct_runs_with_matched_budgets(corpus):
    for preset in PRESETS.values():
        configs = preset.run_configs(corpus)
        assert len({c.run_id for c in configs}) == len(configs), preset.name
        for spec in (*preset.grid, *preset.large, preset.small):
            model = preset.model(spec, 0.0, corpus.vocab_size)
            target = parameter_count("lstm", 1, preset.reference_sizes[spec.budget_index], corpus.vocab_size)
            count = parameter_count(model.architecture, model.n_layers, model.hidden_size, corpus.vocab_size)
            tolerance = 0.05 if preset.name == "tiny" else 0.02  # a dozen cells cannot match a budget within 2%
            assert abs(count - target) / target < tolerance, (preset.name, spec)


def test_the_paper_preset_is_the_papers_grid(corpus):
    paper = PRESETS["paper"]
    assert len(paper.grid_configs(corpus)) == 36 * 3 and paper.recipe == Recipe()
    large = {(s.architecture, s.n_layers, s.budget_index) for s in paper.large}
    assert large == {(a, 3, 3) for a in ("rnn", "lstm", "gru")}


def test_the_paper_preset_retrains_a_few_grid_models_with_other_seeds(corpus):
    paper = PRESETS["paper"]
    replicates = paper.replicate_configs(corpus)
    grid = {dataclasses.replace(c, seed=0) for c in paper.grid_configs(corpus)}
    assert len(replicates) == len(paper.replicates) * len(paper.replicate_seeds) >= 2
    assert all(dataclasses.replace(c, seed=0) in grid and c.seed != paper.seed for c in replicates)
    assert {c.run_id for c in replicates} <= {c.run_id for c in paper.run_configs(corpus)}


def test_a_part_of_table1_is_the_grid_and_replicate_runs_matching_every_value_given(corpus):
    paper = PRESETS["paper"]
    assert paper.table1_configs(corpus) == [*paper.grid_configs(corpus), *paper.replicate_configs(corpus)]
    column = paper.table1_configs(corpus, budgets=(1,), dropouts=(0.0,))
    assert len(column) == 9 and {(c.model.dropout, c.seed) for c in column} == {(0.0, paper.seed)}
    assert {(c.model.architecture, c.model.n_layers) for c in column} == {
        (a, n) for a in ("rnn", "lstm", "gru") for n in (1, 2, 3)}
    assert column == [c for c in paper.grid_configs(corpus) if c in column]  # in the grid's order
    replicates = paper.table1_configs(corpus, seeds=(1, 2, 3, 4))
    assert replicates == paper.replicate_configs(corpus)
    assert [c.seed for c in replicates] == [1, 1, 2, 2, 3, 3, 4, 4]  # seed by seed: a cut leaves each model as many
    one = paper.table1_configs(corpus, architectures=("rnn",), layers=(1,), budgets=(0,), dropouts=(0.0,))
    assert [(c.model.name, c.seed) for c in one] == [("rnn-1x141", s) for s in (0, 1, 2, 3, 4)]
    assert paper.table1_configs(corpus, seeds=(9,)) == [] == paper.table1_configs(corpus, budgets=(7,))


def test_the_core_preset_trains_the_analysed_models_with_the_papers_recipe(corpus):
    core = PRESETS["core"]
    large = core.large_configs(corpus)
    assert [c.model.name for c in large["lstm"]] == ["lstm-3x241", "lstm-3x241"]  # dropout 0.25 and 0.5
    assert all(c.recipe == Recipe() for configs in large.values() for c in configs)
    assert core.small_configs(corpus)[0].model.n_layers == 3 and core.small.budget_index == 0
    assert [c.model.context for c in core.nnn_configs(corpus)] == list(TABLE2_CONTEXTS)
    dynamics = core.dynamics_config(large["lstm"][0])
    assert dynamics.model == large["lstm"][0].model and dynamics.recipe.epochs == 3.0
    assert dynamics.recipe.max_steps is None and dynamics.recipe.lr_decay_after == Recipe().lr_decay_after
    assert not core.train_on_demand and core.grid_recipe.max_steps == 1000
    ids = {c.run_id for c in core.run_configs(corpus)}
    assert {c.run_id for c in core.grid_configs(corpus)} <= ids and dynamics.run_id in ids


def test_recipe_overrides_apply_to_every_recipe_of_a_preset():
    core = get_preset("core", max_steps=7)
    assert core.recipe.max_steps == 7 and core.grid_recipe.max_steps == 7
    with pytest.raises(UserError, match="unknown preset 'huge'"):
        get_preset("huge")
