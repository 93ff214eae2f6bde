"""Training-dynamics snapshots shipped light: each snapshot's test distributions on a fixed sample of positions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from lit_rnn.analysis.longrange import training_dynamics
from lit_rnn.analysis.segments import segment_ids
from lit_rnn.cli import main
from lit_rnn.data import load_corpus
from lit_rnn.errors import UserError
from lit_rnn.evaluate import predictions, sampled_snapshots
from lit_rnn.models import ModelConfig, load_checkpoint
from lit_rnn.predictions import SAMPLE_STRETCH, Predictions, sample_positions
from lit_rnn.presets import PRESETS
from lit_rnn.runs import Run, RunConfig, export_run, import_run
from lit_rnn.settings import Settings
from lit_rnn.study import Study
from lit_rnn.train import get_or_train

TEXT = b"the cat sat on the mat; the dog ate the log. " * 900  # 40,500 bytes: 10 test segments at the tiny preset


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    folder = tmp_path_factory.mktemp("dyn")
    (folder / "cats.txt").write_bytes(TEXT)
    return Settings.resolve(corpus=str(folder / "cats.txt"), preset="tiny", artifacts=str(folder / "store"),
                            retrain=True, progress=False)


def _config(settings: Settings, architecture: str = "lstm") -> RunConfig:
    corpus = settings.corpus
    return RunConfig(corpus.sha256, ModelConfig(architecture, 1, 16, corpus.vocab_size), settings.preset.recipe)


@pytest.fixture(scope="module")
def dynamics(settings) -> Run:
    """A tiny run with the tiny preset's snapshots (steps 5, 10, 20), their sampled predictions computed."""
    run = get_or_train(_config(settings), settings.corpus, settings.train_options, settings.artifacts)
    sampled_snapshots(run, settings.corpus)
    return run


def test_the_sample_is_a_seeded_stretch_of_every_segment(settings):
    positions = settings.preset.recipe.batcher(settings.corpus).positions("test").ravel()
    sample = sample_positions(positions)
    assert np.array_equal(sample, sample_positions(positions))  # deterministic
    assert not np.array_equal(sample, sample_positions(positions, seed=1))
    assert segment_ids(sample).max() == segment_ids(positions).max() == 9  # every segment, each one stretch
    assert len(sample) == 10 * SAMPLE_STRETCH and np.isin(sample, positions).all()
    assert np.array_equal(sample_positions(np.array([3, 4, 9]), stretch=5), [3, 4, 9])  # short segments: whole


def test_the_snapshot_schedule_leaves_the_run_and_its_best_weights_as_they_were(settings, dynamics, tmp_path):
    other = get_or_train(_config(settings), settings.corpus,
                         replace(settings.train_options, snapshot_steps=(7,)), tmp_path)
    assert other.config.run_id == dynamics.config.run_id and sorted(other.snapshots()) == [7]
    for name, tensor in load_checkpoint(dynamics.best_path)["model"].items():
        assert torch.equal(load_checkpoint(other.best_path)["model"][name], tensor)


def test_the_core_dynamics_runs_keep_their_ids_and_get_twenty_snapshots(reference_data_dir):
    core = PRESETS["core"]
    for name, shipped in (("warpeace", "f883cd65a1ee4416"), ("linux", "af89aa7dca207680")):
        corpus = load_corpus(name, reference_data_dir)
        config = core.dynamics_config(next(c for c in core.large_configs(corpus)["lstm"] if c.model.dropout == 0.25))
        assert config.run_id == shipped
        end = core.dynamics_epochs * core.recipe.batcher(corpus).n_train  # the steps of its 3 epochs
        assert sum(step <= end for step in core.snapshot_steps) >= 20


def test_sampled_snapshots_round_trip_without_weights(dynamics, tmp_path):
    folder = export_run(dynamics, tmp_path / "out", half=True, sampled=True)
    assert not list((folder / "snapshots").glob("*.pt")) and len(list((folder / "snapshots").glob("*.npz"))) == 3
    run, what = import_run(folder, tmp_path / "store")
    assert what == "imported" and run.snapshots() == {} and sorted(run.sampled_snapshots()) == [5, 10, 20]
    for step, path in run.sampled_snapshots().items():
        original = Predictions.load(dynamics.sampled_path(step))
        assert np.array_equal(Predictions.load(path).probs, original.probs)


def test_the_dynamics_table_from_the_light_form_equals_the_one_from_the_weights(settings, dynamics, tmp_path):
    gru = get_or_train(_config(settings, "gru"), settings.corpus, settings.train_options, settings.artifacts)
    baselines = {1: predictions(gru, settings.corpus), 2: predictions(dynamics, settings.corpus)}
    full = Study(settings).snapshot_predictions(dynamics)
    import_run(export_run(dynamics, tmp_path / "out", sampled=True), tmp_path / "store")
    light = Study(replace(settings, artifacts=tmp_path / "store")).snapshot_predictions(
        Run(dynamics.config, tmp_path / "store"))
    positions = light[0][1].positions
    assert len(positions) < len(full[0][1].positions)
    from_light = training_dynamics(light, baselines)
    from_weights = training_dynamics([(step, p.at(positions)) for step, p in full], baselines)
    assert from_light.drop(columns="segment_kl").equals(from_weights.drop(columns="segment_kl"))
    assert all(np.array_equal(a, b) for a, b in zip(from_light.segment_kl, from_weights.segment_kl))
    assert len(from_light.segment_kl[0]) == 10  # every test segment is still there for the bootstrap


def _shift_positions(path):
    p = Predictions.load(path)
    p.__class__(p.probs, p.target_log_probs, p.targets, p.positions + 1, p.name, p.architecture, p.corpus_sha256,
                p.split).save(path)


def _wrong_target(path):
    p = Predictions.load(path)
    p.__class__(p.probs, p.target_log_probs - 1.0, p.targets, p.positions, p.name, p.architecture, p.corpus_sha256,
                p.split).save(path)


@pytest.mark.parametrize(("tamper", "message"), [(_shift_positions, "covers other positions"),
                                                 (_wrong_target, "do not agree with themselves")])
def test_malformed_sampled_snapshots_are_refused_in_one_line(dynamics, tmp_path, tamper, message):
    folder = export_run(dynamics, tmp_path / "out", sampled=True)
    tamper(folder / "snapshots" / "step00000020.npz")
    with pytest.raises(UserError, match=message) as error:
        import_run(folder, tmp_path / "store")
    assert "\n" not in str(error.value) and not (tmp_path / "store" / "runs" / dynamics.config.run_id).exists()


def test_the_commands_train_and_ship_a_dynamics_run_light(settings, tmp_path, capsys):
    """What pretrained/README.md tells the lead to run for the core runs, on the tiny preset."""
    corpus, store = str(settings.corpus.path), str(tmp_path / "a")
    assert main(["train", "--preset", "tiny", "--corpus", corpus, "--architecture", "lstm", "--layers", "1",
                 "--hidden", "16", "--artifacts", store, "--device", "cpu"]) == 0
    run_id = _config(settings).run_id
    assert main(["runs", "export", run_id, str(tmp_path / "out"), "--fp16", "--sampled-snapshots", "--corpus", corpus,
                 "--artifacts", store, "--device", "cpu"]) == 0
    assert main(["runs", "import", str(tmp_path / "out" / run_id), "--artifacts", str(tmp_path / "b")]) == 0
    assert sorted(Run(_config(settings), tmp_path / "b").sampled_snapshots()) == [5, 10, 20]
    assert "exported lstm-1x16" in capsys.readouterr().out
