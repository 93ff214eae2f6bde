"""The runs shipped in pretrained/: each passes the import checks and is a run the default preset names (or one of
the paper's grid, which Table 1 reads wherever it is present, or of its replicates, which chapter 2 reads), and all
of them stay within pretrained/'s 60 MB."""

from __future__ import annotations

from lit_rnn.data import KNOWN_CORPORA, load_corpus
from lit_rnn.presets import DEFAULT_PRESET, get_preset
from lit_rnn.runs import SHIPPED, import_run
from lit_rnn.synthetic import truth_models, write
from lit_rnn.truth_study import generator_config


def test_every_shipped_run_imports_and_is_one_the_default_preset_names(reference_data_dir, tmp_path):
    preset = get_preset(DEFAULT_PRESET)
    corpora = [load_corpus(name, reference_data_dir) for name in KNOWN_CORPORA]
    paper = get_preset("paper")
    named = {run_config.run_id for corpus in corpora for run_config in
             [*preset.run_configs(corpus), *paper.grid_configs(corpus), *paper.replicate_configs(corpus)]}
    truth = load_corpus(str(write(generator_config(preset.name), tmp_path / "synthetic")), tmp_path)
    named |= {run_config.run_id for run_config in truth_models(preset.name).run_configs(truth)}  # chapter 9's
    folders = sorted(SHIPPED.iterdir())
    assert folders, "pretrained/runs is empty"
    for folder in folders:
        # The import's own checks: the config hashes to the folder's name, the weights load with
        # weights_only=True and fit it; a run cut short must say so.
        run, _ = import_run(folder, tmp_path, accept_incomplete=True)
        assert run.config.run_id == folder.name in named, f"{folder.name} ({run.name}) is not a {preset.name} run"
        assert run.provenance, f"{folder.name} does not say how it was trained"
    size = sum(path.stat().st_size for path in SHIPPED.parent.rglob("*") if path.is_file())
    assert size <= 60e6, f"pretrained/ holds {size / 1e6:.1f} MB, over its 60 MB"
