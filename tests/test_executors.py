"""The grid through submitit (``lit-rnn grid --executor local``) trains exactly what the in-process path trains."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from lit_rnn.cli import main
from lit_rnn.errors import UserError
from lit_rnn.grid import ClusterOptions
from lit_rnn.presets import PRESETS, ModelSpec
from lit_rnn.runs import stored_runs


@pytest.mark.slow
def test_the_local_executor_trains_the_grid_as_the_in_process_path_does(reference_data_dir, tmp_path, monkeypatch,
                                                                         one_thread):
    tiny = PRESETS["tiny"]  # two models, so two jobs: both start at once and the test takes one job's time
    monkeypatch.setitem(PRESETS, "tiny", dataclasses.replace(
        tiny, grid=(ModelSpec("lstm", 1, 0), ModelSpec("gru", 1, 0)), large=(), nnn_contexts=(), snapshot_steps=(),
        transformers=()))
    common = ["grid", "--corpus", "warpeace", "--preset", "tiny", "--device", "cpu", "--precision", "fp32",
              "--data-dir", str(reference_data_dir), "--trainer", "packed"]
    assert main([*common, "--artifacts", str(tmp_path / "here")]) == 0
    assert main([*common, "--artifacts", str(tmp_path / "jobs"), "--executor", "local", "--gpus-per-job", "0",
                 "--cpus-per-job", "1", "--time-min", "10"]) == 0
    here, jobs = stored_runs(tmp_path / "here"), stored_runs(tmp_path / "jobs")
    assert [r.config.run_id for r in jobs] == [r.config.run_id for r in here] and len(jobs) == 2
    for a, b in zip(here, jobs):
        assert b.is_finished and json.loads(b.result_path.read_text()) == json.loads(a.result_path.read_text())
        assert [{**m, "time": None} for m in b.metrics] == [{**m, "time": None} for m in a.metrics]  # but the clock
    assert list((tmp_path / "jobs" / "submitit").glob("*_log.out"))  # they ran as submitit jobs


def test_cluster_options_are_checked_in_one_line():
    with pytest.raises(UserError, match="unknown executor 'kubernetes'"):
        ClusterOptions("kubernetes")
    with pytest.raises(UserError, match="positive time limit"):
        ClusterOptions("slurm", time_min=0)
    assert ClusterOptions("slurm", gpus_per_job=2).job_device == torch.device("cuda")  # asked of the cluster
