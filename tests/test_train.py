import dataclasses
import os
import queue
import signal
import threading
from concurrent.futures import Future

import numpy as np
import pytest
import torch

from lit_rnn import devices, evaluate
from lit_rnn.devices import scaled_backward
from lit_rnn.grid import _follow, choose_dropout, train_runs
from lit_rnn.models import ModelConfig, nnn_config
from lit_rnn.packed import train_packed
from lit_rnn.presets import get_preset
from lit_rnn.runs import Recipe, Run, RunConfig
from lit_rnn.train import TrainingDiverged, TrainOptions, get_or_train, learning_rate, train

QUIET = TrainOptions(progress=False)


def _config(corpus, **recipe):
    base = dict(batch_size=20, seq_length=50, epochs=5, eval_every=50, max_steps=150, learning_rate=1e-2)
    return RunConfig(corpus.sha256, ModelConfig("lstm", 1, 64, corpus.vocab_size), Recipe(**{**base, **recipe}), seed=1)


def test_training_beats_the_unigram_entropy(wp_slice, artifacts):
    frequencies = np.bincount(wp_slice.ids) / len(wp_slice)
    unigram = float(-(frequencies * np.log(frequencies)).sum())
    run = get_or_train(_config(wp_slice), wp_slice, QUIET, artifacts)
    assert run.result.best_val_loss < unigram - 0.7
    losses = [record["val_loss"] for record in run.metrics]
    assert losses == sorted(losses, reverse=True)
    predictions = evaluate.predictions(run, wp_slice, "val")
    assert predictions.cross_entropy == pytest.approx(run.result.best_val_loss, abs=2e-3)
    np.testing.assert_allclose(predictions.probs.astype(np.float64).sum(1), 1, atol=1e-2)


def _final_weights(run: Run):
    return run.load_model(path=run.checkpoint_path).state_dict()


@pytest.mark.parametrize("how", ["killed", "ctrl-c"])
def test_resume_after_interruption_is_identical(wp_slice, tmp_path, how):
    config = _config(wp_slice, max_steps=60, eval_every=20)
    options = dataclasses.replace(QUIET, checkpoint_every=7, log_every=5, snapshot_steps=(10, 30))
    whole = train(config, wp_slice, options, artifacts=tmp_path / "whole")

    def interrupt(record):
        if record["step"] == 40:
            if how == "killed":  # the process dies: only the last periodic checkpoint (step 35) survives
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: a checkpoint is taken at the end of the step

    with pytest.raises(KeyboardInterrupt):
        train(config, wp_slice, options, artifacts=tmp_path / "cut", on_eval=interrupt)
    interrupted = Run(config, tmp_path / "cut")
    assert not interrupted.is_finished
    resumed = train(config, wp_slice, options, artifacts=tmp_path / "cut")
    assert resumed.result == whole.result
    assert [r["val_loss"] for r in resumed.metrics] == [r["val_loss"] for r in whole.metrics]
    assert [r["train_loss"] for r in resumed.metrics] == [r["train_loss"] for r in whole.metrics]
    for name, tensor in _final_weights(whole).items():
        assert torch.equal(tensor, _final_weights(resumed)[name]), name
    assert sorted(resumed.snapshots()) == [10, 30]


def test_config_hash_follows_result_determining_fields(wp_slice):
    config = _config(wp_slice)
    assert config.run_id == _config(wp_slice).run_id
    changed = [
        dataclasses.replace(config, seed=2),
        dataclasses.replace(config, corpus_sha256="0" * 64),
        dataclasses.replace(config, model=dataclasses.replace(config.model, dropout=0.25)),
        dataclasses.replace(config, model=dataclasses.replace(config.model, hidden_size=65)),
        dataclasses.replace(config, recipe=dataclasses.replace(config.recipe, learning_rate=2e-3)),
        dataclasses.replace(config, recipe=dataclasses.replace(config.recipe, grad_clip=1.0)),
    ]
    assert len({c.run_id for c in changed} | {config.run_id}) == len(changed) + 1
    # How a run is executed (device, checkpoint cadence, progress bar) is not part of its identity.
    assert not {f.name for f in dataclasses.fields(TrainOptions)} & {f.name for f in dataclasses.fields(RunConfig)}


def test_learning_rate_schedule_is_the_papers():
    recipe = Recipe()
    assert [learning_rate(recipe, e) for e in range(10)] == [2e-3] * 10  # the first 10 epochs
    assert learning_rate(recipe, 10) == pytest.approx(2e-3 * 0.95)  # decayed after the 10th
    assert learning_rate(recipe, 19) == pytest.approx(2e-3 * 0.95**10)


def test_diverging_run_stops_with_a_clear_message(wp_slice, artifacts):
    config = _config(wp_slice, learning_rate=float("inf"), max_steps=40)
    with pytest.raises(TrainingDiverged, match="became nan"):
        train(config, wp_slice, dataclasses.replace(QUIET, log_every=5), artifacts)
    assert not Run(config, artifacts).is_finished


def test_tiny_grid_trains_once_and_chooses_dropout(wp_slice, artifacts):
    tiny = get_preset("tiny")
    preset = dataclasses.replace(tiny, grid=tuple(dataclasses.replace(spec, dropouts=(0.0, 0.3)) for spec in tiny.grid))
    runs = train_runs(preset.grid_configs(wp_slice), wp_slice, QUIET, artifacts)
    assert len(runs) == 2 * len(preset.grid) and all(r.is_finished for r in runs)
    mtimes = [r.result_path.stat().st_mtime for r in runs]
    again = train_runs(preset.grid_configs(wp_slice), wp_slice, QUIET, artifacts)
    assert [r.result_path.stat().st_mtime for r in again] == mtimes  # reused, not retrained
    chosen = choose_dropout(runs)
    assert len(chosen) == len(preset.grid)
    for run in chosen:
        rivals = [r for r in runs if r.config.model.name == run.config.model.name]
        assert run.result.best_val_loss == min(r.result.best_val_loss for r in rivals)


def test_training_tells_a_follower_its_steps_at_each_progress_line(wp_slice, artifacts):
    config, told = _config(wp_slice, max_steps=25, eval_every=10), []
    options = dataclasses.replace(QUIET, log_every=10, on_step=lambda *said: told.append(said))
    train(config, wp_slice, options, artifacts)
    assert told == [(config.run_id, 10), (config.run_id, 20), (config.run_id, 25)]


@pytest.mark.slow
def test_trainings_in_processes_are_the_runs_trained_here_followed_by_one_bar_in_steps(wp_slice, tmp_path, capsys):
    configs = [dataclasses.replace(_config(wp_slice, max_steps=30, eval_every=10), seed=seed) for seed in (1, 2)]
    here = train_runs(configs, wp_slice, QUIET, tmp_path / "here")
    capsys.readouterr()
    pool = train_runs(configs, wp_slice, TrainOptions(log_every=10), tmp_path / "pool", jobs=2)
    for alone, side_by_side in zip(here, pool):
        assert side_by_side.result.best_val_loss == pytest.approx(alone.result.best_val_loss, abs=1e-5)
    last = capsys.readouterr().err.split("\r")[-1]
    assert "training on wp200k" in last and "60/60" in last and "trainings=2 of 2 done" in last


def test_the_bar_over_trainings_in_processes_counts_the_steps_they_tell_and_a_resumed_runs_start(wp_slice, tmp_path,
                                                                                                  capsys):
    resumed, fresh = (dataclasses.replace(_config(wp_slice, max_steps=100), seed=seed) for seed in (1, 2))
    Run(resumed, tmp_path).dir.mkdir(parents=True)
    Run(resumed, tmp_path).metrics_path.write_text('{"step": 30}\n')  # its last evaluation before a cut
    told, training = queue.Queue(), Future()
    for said in [(fresh.run_id, 10), (resumed.run_id, 40), (fresh.run_id, 20)]:
        told.put(said)
    threading.Timer(1.5, training.set_result, [None]).start()
    _follow({training: [resumed, fresh]}, told, wp_slice, tmp_path, label="training", progress=True)
    counts = [line.split("/200")[0].split()[-1] for line in capsys.readouterr().err.split("\r") if "/200" in line]
    assert counts[0] == "30" and "60" in counts and counts[-1] == "200", counts


@pytest.mark.slow
def test_a_training_that_fails_in_a_process_stops_the_pool_from_starting_another(wp_slice, tmp_path):
    """A pool process takes its next training after an exception (a Ctrl-C's too): a grid once trained on."""
    diverging = _config(wp_slice, learning_rate=float("inf"), max_steps=40)
    others = [dataclasses.replace(_config(wp_slice, max_steps=300, eval_every=100), seed=seed) for seed in (1, 2, 3)]
    with pytest.raises(TrainingDiverged, match="became nan"):
        train_runs([diverging, *others], wp_slice, dataclasses.replace(QUIET, log_every=20), tmp_path, jobs=2)
    assert not any(Run(c, tmp_path).dir.exists() for c in others[1:])  # whichever process is free, none started


def test_dropout_is_chosen_per_model_and_every_n_nn_is_a_model_of_its_own(wp_slice, artifacts):
    recipe = Recipe(batch_size=20, seq_length=50, epochs=1, eval_every=20, max_steps=20)
    configs = [RunConfig(wp_slice.sha256, nnn_config(n, wp_slice.vocab_size, dropout, hidden_size=16), recipe)
               for n in (1, 2, 3) for dropout in (0.0, 0.5)]
    chosen = choose_dropout(train_runs(configs, wp_slice, QUIET, artifacts))
    assert sorted(run.config.model.context for run in chosen) == [1, 2, 3]


def test_trace_of_a_split_is_streamed_to_disk_in_text_order(wp_slice, artifacts):
    run = get_or_train(_config(wp_slice, max_steps=20, eval_every=10), wp_slice, QUIET, artifacts)
    trace = evaluate.trace(run, wp_slice, "test")
    batcher = wp_slice.batcher(20, 50)
    assert np.all(np.diff(trace.positions) > 0) and len(trace.positions) == batcher.split_bytes("test")
    model = run.load_model()
    inputs = torch.from_numpy(batcher.split_inputs("test").astype(np.int64))
    with torch.no_grad():
        hidden, _ = model.rnn(model.one_hot(inputs))
    np.testing.assert_allclose(trace[0]["h"], hidden.reshape(-1, 64).numpy(), atol=1e-3)
    assert trace[0]["c"].dtype == np.float16 and set(trace[0]) == set("ifgoch")


def test_scaled_backward_keeps_a_gradient_fp16_would_flush_to_zero():
    weight = torch.ones(1, requires_grad=True)
    tiny = torch.tensor([2.0**-14], dtype=torch.float16)  # the gradient in fp16, 2^-12 x 2^-14, is below 2^-24

    def gradient(precision: str) -> float:
        weight.grad = None
        scaled_backward((weight.half() * tiny).float().sum() * 2.0**-12, [weight], precision)
        return weight.grad.item()

    assert gradient("fp32") == 0.0
    assert gradient("bf16") == 2.0**-26


def _scaling_configs(corpus, kind: str) -> list[RunConfig]:
    """A few steps' runs of ``kind``: an LSTM with dropout, an n-NN, a Transformer, or two GRUs to pack."""
    if kind == "transformer":
        preset = get_preset("tiny")
        return [preset.transformer_config(preset.transformers[0], corpus)]
    base = _config(corpus, max_steps=30, eval_every=15)
    models = {"lstm": [ModelConfig("lstm", 2, 32, corpus.vocab_size, dropout=0.2)],
              "n-nn": [nnn_config(3, corpus.vocab_size)],
              "pack": [ModelConfig("gru", 2, h, corpus.vocab_size, dropout=0.2) for h in (16, 24)]}[kind]
    return [dataclasses.replace(base, model=model) for model in models]


@pytest.mark.parametrize("kind", ["lstm", "n-nn", "transformer", "pack"])
def test_loss_scaling_changes_nothing_on_a_cpu(wp_slice, tmp_path, monkeypatch, kind):
    configs, options = _scaling_configs(wp_slice, kind), dataclasses.replace(QUIET, precision="bf16")

    def trained(folder: str) -> list[Run]:
        if kind == "pack":
            return train_packed(configs, wp_slice, options, artifacts=tmp_path / folder)
        return [train(configs[0], wp_slice, options, artifacts=tmp_path / folder)]

    scaled = trained("scaled")
    monkeypatch.setattr(devices, "LOSS_SCALE", 1.0)
    for with_scale, without in zip(scaled, trained("unscaled")):
        assert with_scale.result == without.result
        for name, tensor in _final_weights(with_scale).items():
            assert torch.equal(tensor, _final_weights(without)[name]), name
