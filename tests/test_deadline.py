"""A training deadline: when it comes, every run is checkpointed and left unfinished, and a rerun resumes it to
the same end as a run never cut."""

import dataclasses
import itertools
import time

import pytest
import torch

from lit_rnn import train as train_module
from lit_rnn.errors import UserError
from lit_rnn.models import ModelConfig
from lit_rnn.packed import train_packed
from lit_rnn.runs import Recipe, Run, RunConfig, export_run, export_unfinished, resume_unfinished
from lit_rnn.train import TrainOptions, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster

QUIET = TrainOptions(progress=False, checkpoint_every=7)
RECIPE = Recipe(batch_size=10, seq_length=20, epochs=1, eval_every=10, max_steps=30)


def _configs(wp40k, *widths):
    return [RunConfig(wp40k.sha256, ModelConfig("lstm", 1, width, wp40k.vocab_size, 0.2), RECIPE, seed)
            for seed, width in enumerate(widths)]


def _cut_after(monkeypatch, steps: int) -> None:
    """The deadline comes after ``steps`` training steps (a clock that ticks once per step)."""
    ticks = itertools.count()
    monkeypatch.setattr(train_module, "past", lambda deadline: deadline is not None and next(ticks) >= steps)


def _same(a: Run, b: Run) -> None:
    assert a.result == b.result
    assert [(m["step"], m["train_loss"], m["val_loss"]) for m in a.metrics] == [
        (m["step"], m["train_loss"], m["val_loss"]) for m in b.metrics]
    ours, theirs = (run.load_model(path=run.checkpoint_path).state_dict() for run in (a, b))
    assert all(torch.equal(tensor, theirs[name]) for name, tensor in ours.items())


def test_a_run_cut_by_the_deadline_is_checkpointed_unfinished_and_resumes_identically(wp40k, tmp_path, monkeypatch):
    (config,) = _configs(wp40k, 16)
    whole = train(config, wp40k, QUIET, artifacts=tmp_path / "whole")
    _cut_after(monkeypatch, 12)
    cut = train(config, wp40k, dataclasses.replace(QUIET, deadline=0.0), artifacts=tmp_path / "cut")
    assert not cut.is_finished and not cut.result_path.exists()
    assert torch.load(cut.checkpoint_path, weights_only=True)["progress"]["step"] == 12  # not the periodic 7
    monkeypatch.undo()
    _same(train(config, wp40k, QUIET, artifacts=tmp_path / "cut"), whole)


def test_a_run_cut_on_one_machine_resumes_identically_on_another(wp40k, tmp_path, monkeypatch):
    """How a run cut by one GPU window's deadline reaches the next, on a fresh machine: exported with its checkpoint
    (``runs.export_unfinished``) and taken up by another store (``runs.resume_unfinished``)."""
    (config,) = _configs(wp40k, 16)
    whole = train(config, wp40k, QUIET, artifacts=tmp_path / "whole")
    _cut_after(monkeypatch, 12)
    cut = train(config, wp40k, dataclasses.replace(QUIET, deadline=0.0), artifacts=tmp_path / "first")
    monkeypatch.undo()
    folder = export_unfinished(cut, tmp_path / "out")
    run = resume_unfinished(folder, tmp_path / "second")
    assert run.step == 12 and not run.is_finished
    assert resume_unfinished(folder, tmp_path / "second") is None  # the store's checkpoint is as far already
    _same(train(config, wp40k, QUIET, artifacts=tmp_path / "second"), whole)
    assert resume_unfinished(folder, tmp_path / "second") is None  # finished in the store already
    with pytest.raises(UserError, match="has finished"):
        export_unfinished(whole, tmp_path / "elsewhere")
    with pytest.raises(UserError, match="no checkpoint.pt: not an unfinished run"):
        resume_unfinished(export_run(whole, tmp_path / "finished"), tmp_path / "third")


def test_a_pack_cut_by_the_deadline_checkpoints_every_member(wp40k, tmp_path, monkeypatch):
    configs = _configs(wp40k, 8, 12)
    whole = train_packed(configs, wp40k, QUIET, artifacts=tmp_path / "whole")
    _cut_after(monkeypatch, 23)
    cut = train_packed(configs, wp40k, dataclasses.replace(QUIET, deadline=0.0), artifacts=tmp_path / "cut")
    assert not any(run.is_finished for run in cut)
    assert [torch.load(r.checkpoint_path, weights_only=True)["progress"]["step"] for r in cut] == [23, 23]
    monkeypatch.undo()
    for resumed, alone in zip(train_packed(configs, wp40k, QUIET, artifacts=tmp_path / "cut"), whole):
        _same(resumed, alone)


def test_a_deadline_already_past_trains_nothing(wp40k, tmp_path):
    (config,) = _configs(wp40k, 16)
    run = train(config, wp40k, dataclasses.replace(QUIET, deadline=time.monotonic()), artifacts=tmp_path)
    assert not run.is_finished and run.metrics == []
    assert torch.load(run.checkpoint_path, weights_only=True)["progress"]["step"] == 0
