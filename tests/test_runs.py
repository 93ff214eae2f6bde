"""Runs that move between machines: export, import (only what checks out), and the store's listing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from lit_rnn.cli import main
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import ModelConfig, load_checkpoint
from lit_rnn.runs import Recipe, Run, RunConfig, export_run, import_run, import_shipped, run_table, stored_runs
from lit_rnn.store import atomic_save_torch, canonical_json, config_hash
from lit_rnn.train import TrainOptions, get_or_train


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    data = np.frombuffer((b"the cat sat on the mat. " * 2000)[:40_000], np.uint8)
    return Corpus("cats", None, data)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Run:
    config = RunConfig(corpus.sha256, ModelConfig("lstm", 1, 16, corpus.vocab_size),
                       Recipe(batch_size=10, seq_length=20, epochs=1, eval_every=10, max_steps=30), seed=3)
    return get_or_train(config, corpus, TrainOptions(progress=False, snapshot_steps=(10,)),
                        tmp_path_factory.mktemp("gpu-box"))


@pytest.fixture
def exported(trained, tmp_path):
    return export_run(trained, tmp_path / "out")


def test_an_exported_run_imports_whole_and_identical(trained, exported, tmp_path):
    run, what = import_run(exported, tmp_path / "store")
    assert what == "imported" and run.config == trained.config and run.is_finished
    assert run.result == trained.result and run.metrics == trained.metrics
    assert sorted(run.snapshots()) == [10]
    for name, tensor in load_checkpoint(trained.best_path)["model"].items():
        assert torch.equal(load_checkpoint(run.best_path)["model"][name], tensor)
    assert not list((tmp_path / "store" / "runs").glob(".import-*"))  # no staging folder left behind


def test_fp16_export_halves_the_weights_and_loads_back_in_fp32(trained, tmp_path):
    folder = export_run(trained, tmp_path / "half", half=True)
    assert all(t.dtype == torch.float16 for t in load_checkpoint(folder / "best.pt")["model"].values())
    run, _ = import_run(folder, tmp_path / "store")
    assert all(p.dtype == torch.float32 for p in run.load_model().parameters())


def test_a_run_whose_config_was_edited_is_refused(exported, tmp_path):
    config = json.loads((exported / "config.json").read_text())
    config["model"]["dropout"] = 0.5  # the weights would be presented as something they are not
    (exported / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="does not hash to its folder's name"):
        import_run(exported, tmp_path / "store")
    assert not stored_runs(tmp_path / "store")


def test_weights_of_another_shape_are_refused(trained, exported, tmp_path):
    checkpoint = load_checkpoint(exported / "best.pt")
    checkpoint["model"]["readout.weight"] = torch.zeros(3, 3)
    atomic_save_torch(checkpoint, exported / "best.pt")
    with pytest.raises(UserError, match="do not fit"):
        import_run(exported, tmp_path / "store")
    assert not stored_runs(tmp_path / "store")


def test_weights_of_another_model_are_refused(exported, tmp_path):
    checkpoint = load_checkpoint(exported / "best.pt")
    checkpoint["model_config"]["dropout"] = 0.3
    atomic_save_torch(checkpoint, exported / "best.pt")
    with pytest.raises(UserError, match="describes a lstm-1x16"):
        import_run(exported, tmp_path / "store")


def test_an_existing_run_is_never_overwritten(trained, exported, tmp_path):
    store = tmp_path / "store"
    run, _ = import_run(exported, store)
    stamp = run.best_path.stat().st_mtime_ns
    again, what = import_run(exported, store)
    assert what == "already in the store" and run.best_path.stat().st_mtime_ns == stamp
    shutil.rmtree(run.dir / "predictions", ignore_errors=True)
    run.result_path.unlink()  # an unfinished run of the same id in the store
    with pytest.raises(UserError, match="in the store but unfinished"):
        import_run(exported, store)


def test_a_run_cut_short_imports_only_when_accepted_and_is_marked(exported, tmp_path):
    (exported / "result.json").unlink()
    with pytest.raises(UserError, match="--accept-incomplete"):
        import_run(exported, tmp_path / "store")
    run, what = import_run(exported, tmp_path / "store", accept_incomplete=True,
                           provenance={"note": "stopped by a time limit"})
    assert not run.result.complete and "cut short" in what
    assert run.provenance["note"] == "stopped by a time limit"
    assert run.training == run.config.recipe.length + ", cut short"  # never compared with runs that finished


def test_a_config_of_the_old_format_imports_under_the_current_id(trained, exported, tmp_path):
    config = json.loads((exported / "config.json").read_text())
    config["model"]["cell"] = config["model"].pop("architecture")  # lit-rnn <= 0.1 wrote "cell"
    folder = tmp_path / "legacy" / config_hash(config)
    shutil.copytree(exported, folder)
    (folder / "config.json").write_text(canonical_json(config))
    run, _ = import_run(folder, tmp_path / "store")
    assert run.config == trained.config and run.dir.name == trained.config.run_id
    assert folder.name in run.provenance["imported_as"]


def test_shipped_runs_are_imported_when_needed_and_listed(trained, exported, tmp_path):
    store = tmp_path / "store"
    assert [r.config for r in import_shipped([trained.config], exported.parent, store)] == [trained.config]
    assert import_shipped([trained.config], exported.parent, store) == []  # already there
    table = run_table(store)
    assert table.loc[0, "model"] == "lstm-1x16" and table.loc[0, "best_val"] == round(trained.result.best_val_loss, 4)


def test_the_runs_commands(trained, tmp_path, capsys):
    shutil.copytree(trained.dir, tmp_path / "a" / "runs" / trained.config.run_id)
    assert main(["runs", "export", trained.config.run_id, str(tmp_path / "out"), "--artifacts",
                 str(tmp_path / "a")]) == 0
    assert main(["runs", "import", str(tmp_path / "out" / trained.config.run_id), "--artifacts",
                 str(tmp_path / "b")]) == 0
    assert main(["runs", "list", "--artifacts", str(tmp_path / "b")]) == 0
    assert "lstm-1x16" in capsys.readouterr().out
    assert main(["runs", "export", "nonesuch", str(tmp_path / "x"), "--artifacts", str(tmp_path / "a")]) == 2
    assert "no run nonesuch" in capsys.readouterr().err
