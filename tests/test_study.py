"""Settings resolved once, and a Study that names every chapter's runs: the same runs from every door."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from lit_rnn.analysis import compare
from lit_rnn.book import BookConfig
from lit_rnn.cli import main
from lit_rnn.errors import UserError
from lit_rnn.grid import train_runs
from lit_rnn.presets import PRESETS, ModelSpec, get_preset
from lit_rnn.runs import Run, stored_runs
from lit_rnn.settings import Settings
from lit_rnn.study import Study


def test_settings_cut_the_corpus_to_the_presets_limit_and_resolve_the_device(reference_data_dir):
    settings = Settings.resolve(corpus="warpeace", preset="tiny", device="auto", data_dir=str(reference_data_dir))
    assert len(settings.corpus) == get_preset("tiny").max_bytes
    assert settings.device == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert settings.precision in ("fp32", "bf16")
    assert settings.train_options.device == settings.device
    full = Settings.resolve(corpus="warpeace", preset="small", device="cpu", precision="fp32",
                            data_dir=str(reference_data_dir))
    assert len(full.corpus) == 3_258_246 and full.precision == "fp32"


def test_a_chapter_given_the_settings_parameters_resolves_the_same_settings(reference_data_dir, tmp_path):
    settings = Settings.resolve(corpus="linux", preset="tiny", data_dir=str(reference_data_dir),
                                artifacts=str(tmp_path), trainer="packed", retrain=True)
    again = Settings.resolve(**settings.parameters())
    same = ("preset", "device", "precision", "data_dir", "artifacts", "language")
    assert [getattr(again, name) for name in same] == [getattr(settings, name) for name in same]
    assert again.corpus.sha256 == settings.corpus.sha256 and settings.parameters()["corpus"] == "linux"
    assert settings.packed and settings.retrain and settings.shipped is None  # the trainer and retrain choices
    assert not Settings.resolve(**settings.parameters(), trainer="per-run").packed


def test_the_book_resolves_each_corpus_once_and_the_intro_resolves_their_languages_alike(reference_data_dir):
    book = BookConfig.resolve(preset="tiny", data_dir=str(reference_data_dir))
    assert [s.language for s in book.settings] == ["text", "c"] and book.corpora == ["warpeace", "linux"]
    assert book.intro_parameters()["language"] == "auto" and "corpus" not in book.intro_parameters()
    forced = BookConfig.resolve(preset="tiny", data_dir=str(reference_data_dir), language="c")
    assert forced.intro_parameters()["language"] == "c" and forced.intro_parameters()["corpora"] == book.corpora


@pytest.mark.parametrize(("values", "message"), [
    ({"preset": "huge"}, "unknown preset 'huge'"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
    ({"precision": "fp8"}, "unknown precision 'fp8'"),
    ({"precision": "tf32", "device": "cpu"}, "tf32 exists only on a CUDA GPU"),
    ({"corpus": "nonesuch"}, "unknown corpus 'nonesuch'"),
    ({"language": "klingon"}, "unknown language 'klingon'.*pygmentize -L lexers"),
])
def test_bad_settings_are_one_line_errors(values, message, reference_data_dir):
    with pytest.raises(UserError, match=message):
        Settings.resolve(**{"corpus": "warpeace", "data_dir": str(reference_data_dir), **values})


def test_a_corpus_too_small_to_split_fails_at_the_door(tmp_path):
    small = tmp_path / "small.txt"
    small.write_bytes(b"four kilobytes of text\n" * 180)
    with pytest.raises(UserError, match="too few for one validation and one test batch"):
        Settings.resolve(corpus=str(small), preset="small")


def test_the_command_line_takes_the_language_and_rejects_a_bad_one_in_one_line(reference_data_dir, capsys):
    assert main(["baselines", "--corpus", "warpeace", "--preset", "tiny", "--data-dir", str(reference_data_dir),
                 "--language", "klingon"]) == 2
    assert capsys.readouterr().err.startswith("lit-rnn: error: unknown language 'klingon'")


@pytest.mark.slow
def test_the_grid_command_and_the_book_train_the_same_runs(reference_data_dir, tmp_path):
    artifacts = tmp_path / "artifacts"
    common = ["--corpus", "warpeace", "--preset", "tiny", "--device", "cpu", "--data-dir", str(reference_data_dir),
              "--artifacts", str(artifacts)]
    assert main(["grid", *common]) == 0
    trained = {run.config.run_id for run in stored_runs(artifacts)}
    study = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                       artifacts=str(artifacts), progress=False)
    assert trained == {c.run_id for c in study.preset.run_configs(study.corpus)}
    every_role = [*study.recurrent_runs, *study.nnn_runs.values(), study.dynamics_run]
    assert {run.config.run_id for run in every_role} <= trained
    assert {run.config.run_id for run in stored_runs(artifacts)} == trained  # found, none trained again


def test_the_grid_command_trains_a_part_of_table1_and_refuses_an_empty_one_in_one_line(reference_data_dir, tmp_path,
                                                                                       capsys, monkeypatch):
    monkeypatch.setitem(PRESETS, "tiny", dataclasses.replace(PRESETS["tiny"], replicates=(ModelSpec("rnn", 1, 0),),
                                                             replicate_seeds=(1,)))
    common = ["grid", "--corpus", "warpeace", "--preset", "tiny", "--device", "cpu", "--data-dir",
              str(reference_data_dir), "--artifacts", str(tmp_path)]
    assert main([*common, "--architectures", "gru", "rnn", "--layers", "1", "--dropouts", "0", "--seeds", "0"]) == 0
    assert sorted(run.config.model.architecture for run in stored_runs(tmp_path)) == ["gru", "rnn"]
    assert main([*common, "--seeds", "1"]) == 0  # the replicate alone
    assert sorted((run.config.model.architecture, run.config.seed) for run in stored_runs(tmp_path)) == [
        ("gru", 0), ("rnn", 0), ("rnn", 1)]
    capsys.readouterr()
    assert main([*common, "--budgets", "3", "--seeds", "0"]) == 2
    assert capsys.readouterr().err == ("lit-rnn: error: no run of the tiny preset's grid or replicates has budgets 3, "
                                       "seeds 0; it has budgets 0, seeds 0 1\n")


def test_without_replicates_the_page_says_the_command_that_trains_them(reference_data_dir, tmp_path):
    study = Study.open(corpus="warpeace", preset="core", device="cpu", data_dir=str(reference_data_dir),
                       artifacts=str(tmp_path), retrain=True, progress=False)  # nothing shipped, nothing stored
    assert study.replicate_runs == {}
    assert ("`lit-rnn grid --corpus warpeace --preset paper --seeds 1 2 3 4` trains them"
            in study.replicates_missing)


@pytest.mark.slow
def test_study_names_each_chapters_runs(reference_data_dir, tmp_path):
    study = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                       artifacts=str(tmp_path), progress=False)
    preset = PRESETS["tiny"]
    assert study.cell_run.config.model == preset.model(preset.large[0], 0.0, study.corpus.vocab_size)
    assert set(study.gate_runs) == {"lstm", "gru"} and study.gate_runs["lstm"] is study.cell_run
    large, small = study.error_runs
    assert large is study.cell_run and small.config.model == preset.model(preset.small, 0.0, study.corpus.vocab_size)
    assert set(study.nnn_runs) == set(preset.nnn_contexts)  # every n-NN is its own model
    assert study.dynamics_run is study.cell_run and sorted(study.cell_run.snapshots()) == list(preset.snapshot_steps)
    assert {run.config.run_id for run in study.recurrent_runs} == {run.config.run_id for run in study.grid_runs}
    assert all("did not train" in note for note in study.notes)  # nothing missing; 40 steps teach tiny models little
    lstms = [run for run in study.recurrent_runs if run.config.model.architecture == "lstm"]
    for run in lstms:  # the rival of a model: the best on validation of its budget, trained alike
        budget = compare.budget_index(run.result.parameters, study.budgets)
        rivals = [r for r in lstms if r.training == run.training
                  and compare.budget_index(r.result.parameters, study.budgets) == budget]
        assert study.matched_lstm(run).config.run_id == min(rivals, key=lambda r: r.result.best_val_loss).config.run_id
    short = study.transformer_runs[0]  # chapter 10's claim: a Transformer is at the paper's scale with the long recipe
    long = Run(preset.transformer_configs(study.corpus, cpu=False)[0], tmp_path)
    assert study.judged_beside(short, study.cell_run) == [short, study.cell_run]
    assert study.judged_beside(long, study.cell_run) == [study.cell_run]
    traced = [run.dir for run in study.traced_runs]  # the explorer's runs: each traced run once
    assert sorted(traced) == sorted({run.dir for run in [study.cell_run, *study.gate_runs.values()]})
    assert len(traced) == len(set(traced)) and traced[0] == study.cell_run.dir
    study.prepare()  # everything the chapters read, computed once
    assert all((run.dir / "predictions" / "test-best.npz").exists() for run in study.recurrent_runs)
    assert all((run.dir / "trace-test").is_dir() for run in study.gate_runs.values())
    assert len(list((study.cell_run.dir / "predictions").glob("test-step*.npz"))) == len(preset.snapshot_steps)


def test_study_reads_each_replicated_model_by_seed_where_the_store_has_more_than_one(reference_data_dir, tmp_path,
                                                                                     monkeypatch):
    tiny = PRESETS["tiny"]
    paper = dataclasses.replace(tiny, replicates=tiny.grid[:2], replicate_seeds=(1, 2))  # as Table 1 reads "paper"
    monkeypatch.setitem(PRESETS, "paper", paper)
    def study(plateau: float) -> Study:  # the loss a run must go below to count as trained
        opened = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                            artifacts=str(tmp_path), progress=False)
        opened.__dict__["plateau"] = plateau  # 40 steps teach tiny models little: a plateau they all go below
        return opened

    corpus = study(float("inf")).corpus
    one, two, again = paper.replicate_configs(corpus)[:3]  # the first model at seed 1, the second, the first at 2
    train_runs([*paper.grid_configs(corpus)[:2], one, two, again], corpus,
               study(float("inf")).settings.train_options, tmp_path)
    assert {model: [run.config.seed for run in runs] for model, runs in study(float("inf")).replicate_runs.items()} == {
        one.model: [0, 1, 2], two.model: [0, 1]}
    assert study(0.0).replicate_runs == {}  # runs that did not train are no measure of a seed


@pytest.mark.slow
def test_a_missing_paper_scale_model_falls_back_to_the_grid_and_says_so(reference_data_dir, tmp_path):
    tiny = PRESETS["tiny"]
    preset = dataclasses.replace(tiny, large=(*tiny.large[:2], dataclasses.replace(tiny.large[2], n_layers=3)),
                                 train_on_demand=False)
    settings = Settings.resolve(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                                artifacts=str(tmp_path), progress=False)
    study = Study(dataclasses.replace(settings, preset=preset))
    runs = study.large_runs
    assert runs["rnn"].config.model.n_layers == 1  # the grid's RNN stands in for the missing 3-layer one
    held = [note for note in study.every_note if "rnn-3x" in note and "lit-rnn grid --corpus warpeace --preset tiny"
            in note]
    assert held and not set(held) & set(study.notes)
    assert study.cell_run and not set(held) & set(study.notes)  # a page on the LSTM alone does not note the RNN
    assert study.recurrent_runs and set(held) <= set(study.notes)  # Table 1's page does


@pytest.mark.slow
def test_a_paper_scale_model_that_did_not_train_says_so(reference_data_dir, tmp_path):
    def notes() -> tuple[Study, list[str]]:
        study = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                           artifacts=str(tmp_path), progress=False)
        assert study.large_runs  # where the notes on the large models are taken
        return study, [note for note in study.every_note if note.startswith(f"{study.large_runs['rnn'].name} did not")]

    study, none = notes()
    rnn = study.large_runs["rnn"]
    assert rnn.result.best_val_loss < study.plateau and none == []
    result = json.loads(rnn.result_path.read_text())
    rnn.result_path.write_text(json.dumps(result | {"best_val_loss": study.plateau + 0.05}))  # as if it had not
    _, held = notes()
    assert len(held) == 1 and "never went below" in held[0]


@pytest.mark.slow
def test_table_2_rows_are_bytes_of_context_and_the_n_nn_is_chosen_on_validation(reference_data_dir, tmp_path):
    study = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                       artifacts=str(tmp_path), progress=False)
    ngrams, nnns = study.baselines()
    assert {n: p.name for n, p in ngrams.items()} == {n: f"{n}-gram" for n in PRESETS["tiny"].ngram_contexts}
    assert {n: p.name for n, p in nnns.items()} == {n: f"{n}-NN" for n in PRESETS["tiny"].nnn_contexts}
    chosen = study.best_nnn()
    assert chosen.result.best_val_loss == min(run.result.best_val_loss for run in study.nnn_runs.values())
    study.__dict__["nnn_runs"] = {}  # a build whose store has no n-NN (the core preset on Linux, today)
    assert study.best_nnn() is None
