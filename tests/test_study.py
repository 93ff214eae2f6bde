"""Settings resolved once, and a Study that names every chapter's runs: the same runs from every door."""

from __future__ import annotations

import pytest
import torch

from lit_rnn.cli import main
from lit_rnn.errors import UserError
from lit_rnn.presets import PRESETS, get_preset
from lit_rnn.runs import stored_runs
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


def test_the_grid_command_and_the_book_train_the_same_runs(reference_data_dir, tmp_path):
    artifacts = tmp_path / "artifacts"
    common = ["--corpus", "warpeace", "--preset", "tiny", "--device", "cpu", "--data-dir", str(reference_data_dir),
              "--artifacts", str(artifacts)]
    assert main(["grid", *common]) == 0
    trained = {run.config.run_id for run in stored_runs(artifacts)}
    study = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                       artifacts=str(artifacts), progress=False)
    assert {run.config.run_id for run in study.grid_runs} == trained  # found, none trained again
    assert {run.config.run_id for run in stored_runs(artifacts)} == trained


def test_study_names_each_chapters_runs(reference_data_dir, tmp_path):
    study = Study.open(corpus="warpeace", preset="tiny", device="cpu", data_dir=str(reference_data_dir),
                       artifacts=str(tmp_path), progress=False)
    lstms = [run for run in study.grid_runs if run.config.model.architecture == "lstm"]
    assert study.cell_run in lstms
    assert set(study.gate_runs) == {"lstm", "gru"}
    assert max(run.config.model.n_layers for run in lstms) == study.gate_runs["lstm"].config.model.n_layers
    large, *small = study.error_runs
    assert large == study.cell_run and all(run in lstms for run in small)
    assert set(study.nnn_runs) == set(PRESETS["tiny"].nnn_orders)  # every n-NN is its own model
