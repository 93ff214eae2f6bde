"""Runs that move between machines: export, import (only what checks out), and the store's listing."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from lit_rnn.analysis.compare import ScoredModel, agreement_matrix, bootstrap_std, loss_table
from lit_rnn.atomic import atomic_save_torch
from lit_rnn.cli import main
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.evaluate import predictions
from lit_rnn.hashing import canonical_json, config_hash
from lit_rnn.models import ModelConfig, load_checkpoint
from lit_rnn.predictions import Predictions
from lit_rnn.presets import PRESETS
from lit_rnn.runs import (
    TEST_PREDICTIONS,
    WEIGHTLESS,
    Recipe,
    Run,
    RunConfig,
    export_run,
    export_weightless,
    import_run,
    import_shipped,
    run_table,
    stored_runs,
)
from lit_rnn.study import Study
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


# -- Weightless runs: what Table 1 and Figure 1 need, without the weights -------------------------


@pytest.fixture(scope="module")
def grid(corpus, tmp_path_factory) -> list[Run]:
    """Three tiny finished runs (one per architecture) with their test predictions computed."""
    store = tmp_path_factory.mktemp("grid-box")
    recipe = Recipe(batch_size=10, seq_length=20, epochs=1, eval_every=10, max_steps=20)
    runs = []
    for architecture in ("lstm", "gru", "rnn"):
        config = RunConfig(corpus.sha256, ModelConfig(architecture, 1, 12, corpus.vocab_size), recipe, seed=1)
        run = get_or_train(config, corpus, TrainOptions(progress=False), store)
        predictions(run, corpus)
        runs.append(run)
    return runs


def weightless_copy(run: Run, folder) -> Run:
    """``run`` exported weightless and imported into the store at ``folder``."""
    test = Predictions.load(run.dir / TEST_PREDICTIONS)
    exported = export_weightless(run, folder / "out", bootstrap_std(test))
    return import_run(exported, folder / "store")[0]


def test_a_weightless_run_round_trips_without_weights_and_says_so(grid, tmp_path):
    run = grid[0]
    exported = export_weightless(run, tmp_path / "out", 0.01)
    assert not list(exported.rglob("*.pt")) and (exported / WEIGHTLESS).exists()
    imported, what = import_run(exported, tmp_path / "store")
    assert what == "imported weightless" and imported.weightless and not run.weightless
    assert imported.result == run.result and imported.metrics == run.metrics and imported.config == run.config
    full, summary = Predictions.load(run.dir / TEST_PREDICTIONS), Predictions.load(imported.dir / TEST_PREDICTIONS)
    kept = full.at(summary.positions)
    assert summary.is_summarised and np.array_equal(summary.most_likely, kept.probs.argmax(axis=1))
    assert np.array_equal(summary.target_log_probs, kept.target_log_probs) and summary.vocab_size == full.vocab_size
    assert summary.cross_entropy == pytest.approx(full.cross_entropy, abs=1e-12)
    assert summary.error_rate == full.error_rate
    with pytest.raises(UserError, match="weightless"):
        imported.load_model()
    with pytest.raises(UserError, match="export it with --weightless"):
        export_run(imported, tmp_path / "again")
    assert run_table(tmp_path / "store").loc[0, "weightless"]
    assert import_run(exported, tmp_path / "store")[1] == "already in the store"  # never overwritten
    full_copy = export_run(run, tmp_path / "full")  # the run with its weights replaces its weightless copy
    assert import_run(full_copy, tmp_path / "store")[1] == "imported (its weights replace the weightless copy)"
    assert not imported.weightless and imported.load_model().config == run.config.model


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda f: (f / "config.json").write_text((f / "config.json").read_text().replace('"seed":1', '"seed":2')),
     "does not hash"),
    (lambda f: (f / WEIGHTLESS).write_text(json.dumps({**json.loads((f / WEIGHTLESS).read_text()), "test_loss": 0.5})),
     "stated test loss"),
    (lambda f: (f / WEIGHTLESS).write_text(json.dumps({**json.loads((f / WEIGHTLESS).read_text()), "error_rate": 0.5})),
     "error rate"),
    (lambda f: (f / TEST_PREDICTIONS).unlink(), "lacks"),
    (lambda f: (f / "result.json").unlink(), "no result.json"),
    (lambda f: (f / "best.pt").write_bytes(b""), "both"),
])
def test_an_inconsistent_weightless_run_is_refused_in_one_line(grid, tmp_path, tamper, message):
    exported = export_weightless(grid[1], tmp_path / "out", 0.01)
    tamper(exported)
    with pytest.raises(UserError, match=message) as error:
        import_run(exported, tmp_path / "store")
    assert "\n" not in str(error.value) and not (tmp_path / "store" / "runs" / grid[1].config.run_id).exists()


def test_table_1_from_weightless_runs_equals_the_full_runs_and_so_does_the_agreement_on_kept_bytes(grid, tmp_path):
    weightless = [weightless_copy(run, tmp_path) for run in grid]
    tables, tests = [], []
    for runs in (grid, weightless):
        test = [Predictions.load(run.dir / TEST_PREDICTIONS) for run in runs]
        scored = [ScoredModel(p, r.config.model, r.result.parameters, r.training) for p, r in zip(test, runs)]
        tables.append(loss_table(scored, [300, 600, 1200, 2400]))
        tests.append(test)
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=False, rtol=1e-12)
    kept = tests[1][0].positions  # the agreement: the full runs' at the bytes a summary keeps
    assert len(kept) < len(tests[0][0].positions)
    pd.testing.assert_frame_equal(agreement_matrix(tests[1]), agreement_matrix([p.at(kept) for p in tests[0]]))


def test_runs_export_weightless_computes_the_predictions_it_needs(trained, corpus, tmp_path, capsys):
    shutil.copytree(trained.dir, tmp_path / "a" / "runs" / trained.config.run_id)
    shutil.rmtree(tmp_path / "a" / "runs" / trained.config.run_id / "predictions", ignore_errors=True)
    corpus_file = tmp_path / "cats.txt"
    corpus_file.write_bytes(corpus.data.tobytes())
    assert main(["runs", "export", trained.config.run_id, str(tmp_path / "out"), "--weightless", "--corpus",
                 str(corpus_file), "--device", "cpu", "--artifacts", str(tmp_path / "a")]) == 0
    assert main(["runs", "import", str(tmp_path / "out" / trained.config.run_id), "--artifacts",
                 str(tmp_path / "b")]) == 0
    assert "imported weightless" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / trained.config.run_id / WEIGHTLESS).read_text())
    test = Predictions.load(tmp_path / "a" / "runs" / trained.config.run_id / TEST_PREDICTIONS)
    assert summary["test_loss"] == pytest.approx(test.cross_entropy, abs=1e-12) and summary["error_rate"] == (
        test.error_rate) and summary["test_std"] == bootstrap_std(test) > 0


def test_table_1_takes_the_full_recipe_grid_wherever_the_store_holds_it(reference_data_dir, tmp_path, monkeypatch):
    tiny = PRESETS["tiny"]
    longer = dataclasses.replace(tiny.recipe, max_steps=tiny.recipe.max_steps + 10)
    monkeypatch.setitem(PRESETS, "paper", dataclasses.replace(tiny, name="paper", recipe=longer, grid=tiny.grid[:1]))
    study = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                       artifacts=str(tmp_path / "store"), progress=False)
    [config] = PRESETS["paper"].grid_configs(study.corpus)  # the "full recipe" of this test: 50 steps, not 40
    run = get_or_train(config, study.corpus, TrainOptions(progress=False), tmp_path / "gpu-box")
    predictions(run, study.corpus)
    import_run(export_weightless(run, tmp_path / "out", 0.0), study.artifacts)
    grid = study.grid_runs
    assert grid[0].config == config and grid[0].weightless and study.predictions(grid[0]).is_summarised
    own = {c.run_id for c in tiny.grid_configs(study.corpus)[1:]}
    assert {r.config.run_id for r in grid[1:]} == own  # the preset's grid for the models the full grid lacks
    assert any(f"grid of 1 model (its Table 1 and Figure 1), this build has {len(grid)}: 1 with the paper's "
               "recipe (1 of them shipped without weights: their results and a summary of their test predictions "
               f"only; {grid[0].name}), "
               f"{len(own)} with this preset's (" in note for note in study.every_note)
    assert all(not r.weightless for r in study.large_runs.values()) and not study.small_run.weightless
    assert "the other models of the paper's grid at its recipe (1 model): 0, the only dropout trained;" in (
        study.dropout_note())
