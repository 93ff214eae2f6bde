"""The packed trainer against the single-run trainer: losses, weights, dropout masks, early stopping, the
run store, resume; and the grid's choice of trainer.

How close is close enough: a pack sums the same products in another order, so its runs agree with the
runs trained alone within fp32 reassociation. Training amplifies rounding (RMSProp divides by the root
of small averages), so the bound is set by the run itself: the run alone in fp32 ends some distance
from the same run computed in fp64; a packed run, rounded as finely but in another order, should end
no further from the fp32 run than twice that distance (if both are as far from fp64, the triangle
inequality gives 2x). ``bench/packed_equality.py`` measures it (5 runs of each architecture): after 25
steps at the paper's learning rate, packing moved the weights 0-1.6x the fp32-fp64 distance (LSTMs not
at all: oneDNN accumulates each product in the same order whatever the width) and each step's loss by
at most 2 ulps; after 60 steps at 5x that rate, 0-1.7x and up to 61 ulps (where fp64 is 1.9e-4 away).
The tests allow 2x and, over 25 steps, 8 ulps.
"""

import dataclasses
import importlib.util
import json
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from lit_rnn.errors import UserError
from lit_rnn.grid import packs_for, train_runs
from lit_rnn.models import RECURRENT, ModelConfig
from lit_rnn.packed import Packed, pack_groups, prepare_member, train_packed, train_streams
from lit_rnn.presets import get_preset
from lit_rnn.probe import graph_check
from lit_rnn.runs import Recipe, Run, RunConfig
from lit_rnn.train import TrainingDiverged, TrainOptions, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster

QUIET = TrainOptions(progress=False)
CPU = torch.device("cpu")


def _bench(name: str):
    """A script of bench/ as a module: the tests check what it measures."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EQUALITY = _bench("packed_equality")


def _configs(wp40k, architecture, recipe, runs=((8, 0.0, 1), (12, 0.3, 2), (10, 0.0, 3))):
    """Runs of one architecture, two layers deep, differing in width, dropout and seed."""
    return [RunConfig(wp40k.sha256, ModelConfig(architecture, 2, hidden, wp40k.vocab_size, dropout), recipe, seed)
            for hidden, dropout, seed in runs]


@pytest.mark.parametrize("architecture", RECURRENT)
def test_a_pack_steps_as_its_runs_alone(wp40k, architecture):
    for row in EQUALITY.distances(architecture, wp40k, steps=25, learning_rate=2e-3, runs=EQUALITY.RUNS[:3]):
        assert row["outside"] == 0, "the pack grew weights outside its runs' blocks"
        assert row["loss_ulps"] <= 8, row
        assert row["packed"] <= 2 * row["rounding"], row


@pytest.mark.parametrize("architecture", RECURRENT)
def test_packed_runs_stop_and_land_in_the_store_as_runs_alone(wp40k, tmp_path, architecture):
    # Validation after every step (so the metrics hold every step's loss) and patience 1: the runs stop early
    # at different steps, leaving the pack one by one.
    recipe = Recipe(batch_size=10, seq_length=20, epochs=1, eval_every=1, patience=1, max_steps=60,
                    learning_rate=1e-2)
    configs = _configs(wp40k, architecture, recipe)
    options = dataclasses.replace(QUIET, snapshot_steps=(3, 6))
    alone = [train(c, wp40k, options, artifacts=tmp_path / "alone") for c in configs]
    packed = train_packed(configs, wp40k, options, artifacts=tmp_path / "packed")
    assert len({run.result.steps for run in alone}) > 1 and all(run.result.stopped_early for run in alone)
    assert max(json.loads(run.provenance_path.read_text())["pack_size"] for run in packed) == len(configs)
    for a, p in zip(alone, packed):
        name = a.name
        assert sorted(f.name for f in p.dir.iterdir()) == sorted(f.name for f in a.dir.iterdir()), name
        assert (p.dir / "config.json").read_text() == (a.dir / "config.json").read_text()
        assert sorted(p.snapshots()) == sorted(a.snapshots()) == [3, 6]
        assert dataclasses.replace(p.result, best_val_loss=0.0) == dataclasses.replace(a.result, best_val_loss=0.0)
        assert p.result.best_val_loss == pytest.approx(a.result.best_val_loss, abs=4e-6), name
        assert [r["step"] for r in p.metrics] == [r["step"] for r in a.metrics], name
        for key in ("train_loss", "val_loss", "lr", "epoch"):  # within 8 ulps of losses near 3
            np.testing.assert_allclose([r[key] for r in p.metrics], [r[key] for r in a.metrics], atol=4e-6, rtol=0)
        for weights in ("checkpoint_path", "best_path"):  # final and best weights (measured: <= 4.3e-6 apart)
            packed_model, alone_model = (run.load_model(path=getattr(run, weights)) for run in (p, a))
            assert EQUALITY.largest_difference(packed_model, alone_model) < 1e-4, name


def _final_weights(run: Run) -> dict:
    return run.load_model(path=run.checkpoint_path).state_dict()


@pytest.mark.parametrize("how", ["killed", "ctrl-c"])
def test_packed_resume_after_interruption_is_identical(wp40k, tmp_path, how):
    recipe = Recipe(batch_size=10, seq_length=20, epochs=1, eval_every=10, max_steps=40)
    configs = _configs(wp40k, "lstm", recipe, runs=((8, 0.3, 1), (12, 0.0, 2)))
    options = dataclasses.replace(QUIET, checkpoint_every=7, log_every=5, snapshot_steps=(10, 30))
    whole = train_packed(configs, wp40k, options, artifacts=tmp_path / "whole")

    def interrupt(record):
        if record["step"] == 20:
            if how == "killed":  # the process dies: only the last periodic checkpoint (step 14) survives
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: checkpoints are taken at the end of the step

    with pytest.raises(KeyboardInterrupt):
        train_packed(configs, wp40k, options, artifacts=tmp_path / "cut", on_eval=interrupt)
    assert not any(Run(c, tmp_path / "cut").is_finished for c in configs)
    resumed = train_packed(configs, wp40k, options, artifacts=tmp_path / "cut")
    for w, r in zip(whole, resumed):
        assert r.result == w.result
        assert [(m["step"], m["train_loss"], m["val_loss"]) for m in r.metrics] == [
            (m["step"], m["train_loss"], m["val_loss"]) for m in w.metrics]
        for name, tensor in _final_weights(w).items():
            assert torch.equal(tensor, _final_weights(r)[name]), name
        assert sorted(r.snapshots()) == [10, 30]


def test_a_run_alone_resumes_a_packed_checkpoint(wp40k, tmp_path):
    recipe = Recipe(batch_size=10, seq_length=20, epochs=1, eval_every=10, max_steps=30)
    configs = _configs(wp40k, "gru", recipe, runs=((8, 0.3, 1), (12, 0.0, 2)))
    options = dataclasses.replace(QUIET, checkpoint_every=5)
    whole = train_packed(configs, wp40k, options, artifacts=tmp_path / "whole")

    def die(record):
        if record["step"] == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_packed(configs, wp40k, options, artifacts=tmp_path / "cut", on_eval=die)
    for config, packed in zip(configs, whole):  # dropout masks, RMSProp state, rows' state all carry over
        alone = train(config, wp40k, options, artifacts=tmp_path / "cut")
        assert alone.result.steps == packed.result.steps == 30
        assert alone.result.best_val_loss == pytest.approx(packed.result.best_val_loss, abs=4e-6)
        assert EQUALITY.largest_difference(alone.load_model(path=alone.checkpoint_path),
                                   packed.load_model(path=packed.checkpoint_path)) < 1e-4


def test_runs_are_grouped_by_what_a_pack_shares(wp40k, tmp_path):
    recipe = Recipe(batch_size=10, seq_length=20)
    lstm = _configs(wp40k, "lstm", recipe)
    gru = _configs(wp40k, "gru", recipe)
    deeper = [dataclasses.replace(c, model=dataclasses.replace(c.model, n_layers=3)) for c in lstm[:2]]
    longer = [dataclasses.replace(c, recipe=dataclasses.replace(recipe, epochs=2)) for c in lstm[:1]]
    nnn = RunConfig(wp40k.sha256, ModelConfig("nnn", 1, 16, wp40k.vocab_size, context=3), recipe)
    groups = pack_groups([*lstm, *gru, nnn, *deeper, *longer])
    assert groups == [lstm, gru, [nnn], deeper, longer]
    with pytest.raises(UserError, match="one corpus, recipe, architecture and depth"):
        train_packed([*lstm, *gru], wp40k, QUIET, tmp_path)


def test_runs_are_grouped_by_model_or_alone_on_request(wp40k):
    recipe = Recipe(batch_size=10, seq_length=20)
    configs = _configs(wp40k, "lstm", recipe, runs=((8, 0.0, 1), (12, 0.0, 1), (8, 0.3, 1)))
    assert pack_groups(configs, by="model") == [[configs[0], configs[2]], [configs[1]]]
    assert pack_groups(configs, by="run") == [[c] for c in configs]
    with pytest.raises(UserError, match="unknown pack grouping 'width'"):
        pack_groups(configs, by="width")


def test_packs_on_concurrent_threads_land_as_packs_trained_one_after_another(wp40k, tmp_path):
    recipe = Recipe(batch_size=10, seq_length=20, epochs=1, eval_every=10, max_steps=30)
    configs = _configs(wp40k, "gru", recipe, runs=((8, 0.0, 1), (12, 0.3, 2), (8, 0.3, 3), (12, 0.0, 4)))
    options = dataclasses.replace(QUIET, snapshot_steps=(10,))
    one_by_one = [run for group in pack_groups(configs, by="model")
                  for run in train_packed(group, wp40k, options, artifacts=tmp_path / "one")]
    together = train_streams(configs, wp40k, options, artifacts=tmp_path / "together", by="model")
    assert [run.config for run in together] == configs
    by_id = {run.config.run_id: run for run in one_by_one}
    for run in together:
        alone = by_id[run.config.run_id]
        assert run.result == alone.result, run.name
        assert [{k: v for k, v in r.items() if k != "time"} for r in run.metrics] == [
            {k: v for k, v in r.items() if k != "time"} for r in alone.metrics], run.name
        for name, tensor in _final_weights(alone).items():
            assert torch.equal(tensor, _final_weights(run)[name]), (run.name, name)
        assert sorted(run.snapshots()) == [10]


@pytest.mark.parametrize("architecture", RECURRENT)
def test_assembling_a_pack_leaves_the_global_generator_alone(wp40k, tmp_path, architecture):
    # Another thread may be seeding a run from it (train.prepare): a draw here would change that run's weights or masks.
    members = [prepare_member(c, tmp_path, CPU) for c in _configs(wp40k, architecture, Recipe(batch_size=10))]
    before = torch.get_rng_state()
    Packed(members, QUIET)
    assert torch.equal(torch.get_rng_state(), before)


def test_ctrl_c_checkpoints_every_concurrent_pack_and_resumes(wp40k, tmp_path):
    recipe = Recipe(batch_size=10, seq_length=20, epochs=1000, eval_every=10_000)
    configs = _configs(wp40k, "rnn", recipe, runs=((8, 0.0, 1), (12, 0.3, 2)))
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        train_streams(configs, wp40k, QUIET, artifacts=tmp_path, by="run")
    timer.cancel()
    for config in configs:
        run = Run(config, tmp_path)
        assert run.checkpoint_path.exists() and not run.is_finished
        assert torch.load(run.checkpoint_path, weights_only=True)["progress"]["step"] > 0


def test_a_diverging_pack_stops_with_a_clear_message(wp40k, tmp_path):
    recipe = Recipe(batch_size=10, seq_length=20, learning_rate=float("inf"), max_steps=20)
    configs = _configs(wp40k, "rnn", recipe, runs=((8, 0.0, 1), (12, 0.0, 2)))
    with pytest.raises(TrainingDiverged, match="became nan .* pack of 2"):
        train_packed(configs, wp40k, dataclasses.replace(QUIET, log_every=5), artifacts=tmp_path)
    assert not any(Run(c, tmp_path).is_finished for c in configs)
    with pytest.raises(TrainingDiverged, match="became nan .* pack of 1"):  # raised once both threads stopped
        train_streams(configs, wp40k, dataclasses.replace(QUIET, log_every=5), artifacts=tmp_path / "side", by="run")


def test_the_grid_trains_in_packs_on_a_gpu_by_default(wp_slice, artifacts):
    assert packs_for("auto", torch.device("cuda")) and not packs_for("auto", CPU)
    assert packs_for("packed", CPU) and not packs_for("per-run", torch.device("cuda"))
    tiny = get_preset("tiny")
    preset = dataclasses.replace(tiny, grid=tuple(dataclasses.replace(spec, dropouts=(0.0, 0.3)) for spec in tiny.grid))
    configs = preset.grid_configs(wp_slice)
    runs = train_runs(configs, wp_slice, QUIET, artifacts, packed=True)
    assert all(run.is_finished for run in runs)
    assert {run.provenance["pack_size"] for run in runs} == {2}  # each grid entry's two dropouts, one pack
    mtimes = [run.result_path.stat().st_mtime for run in runs]
    again = train_runs(configs, wp_slice, QUIET, artifacts, packed=True)
    assert [run.result_path.stat().st_mtime for run in again] == mtimes


def test_the_grid_trains_packs_side_by_side_on_streams(wp_slice, artifacts):
    tiny = get_preset("tiny")
    preset = dataclasses.replace(tiny, grid=tuple(dataclasses.replace(spec, dropouts=(0.0, 0.3)) for spec in tiny.grid))
    configs = preset.grid_configs(wp_slice)
    runs = train_runs(configs, wp_slice, QUIET, artifacts, packed=True, pack_by="run", streams=3)
    assert all(run.is_finished for run in runs)
    assert {run.provenance["pack_size"] for run in runs} == {1}
    with pytest.raises(UserError, match="--streams trains packs side by side in this process"):
        train_runs(configs, wp_slice, QUIET, artifacts, jobs=2, packed=True, streams=2)


def test_cuda_graphs_are_refused_off_a_gpu_and_without_packs_in_one_line(wp40k, tmp_path):
    graphs = dataclasses.replace(QUIET, cuda_graphs=True)
    members = [prepare_member(c, tmp_path, CPU) for c in _configs(wp40k, "lstm", Recipe(batch_size=4, seq_length=8))]
    with pytest.raises(UserError, match="CUDA graphs need a CUDA GPU, not cpu"):
        Packed(members, graphs)
    with pytest.raises(UserError, match="--cuda-graphs replays packs' steps on a CUDA GPU"):
        train_runs(_configs(wp40k, "lstm", Recipe()), wp40k, graphs, tmp_path, packed=True)


@pytest.mark.slow
def test_the_graph_check_reports_a_failure_from_its_own_process():
    """On a CPU the check's process meets the refusal above: reported, so a window trains without graphs."""
    result = graph_check(CPU)
    assert result["passed"] is False and result["error"].startswith("UserError: CUDA graphs need a CUDA GPU")
    assert graph_check(CPU, timeout_s=0.01)["error"] == "the check took over 0.01 s and was stopped"
