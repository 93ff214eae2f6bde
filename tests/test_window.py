"""The GPU window's logic on a CPU with tiny runs: its priority order, the rule that a pack which cannot finish is
not started, the deadline's cut, the export and the report (the per-run processes of its throughput probe run in
tests/test_bench.py, through `bench/grid_throughput.py --smoke`)."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lit_rnn import window
from lit_rnn.cli import main
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.packed import PACK_BY
from lit_rnn.presets import ModelSpec, get_preset
from lit_rnn.probe import per_run_rate, time_training
from lit_rnn.runs import Run, import_run, resumable_bytes
from lit_rnn.train import TrainOptions, train
from lit_rnn.window import Report, export_cut, fastest, gpu_window, markdown, path, plan, train_window

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster

QUIET = TrainOptions(progress=False, precision="fp32")
TINY = dataclasses.replace(get_preset("tiny"), transformers=())  # the tiny Transformers train alone; not here
# core: one LSTM and the 1-NN; grid: a GRU and an RNN at two dropouts each (two packs of two)
CORE = dataclasses.replace(TINY, grid=(ModelSpec("lstm", 1, 0),), large=(ModelSpec("lstm", 1, 0),),
                           small=ModelSpec("lstm", 1, 0), nnn_contexts=(1,), snapshot_steps=(5,))
GRID = dataclasses.replace(TINY, grid=(ModelSpec("gru", 1, 0, (0.0, 0.3)), ModelSpec("rnn", 1, 0, (0.0, 0.3))))
LONG = dataclasses.replace(GRID, grid_recipe=dataclasses.replace(TINY.recipe, epochs=5_000, max_steps=None))


@pytest.fixture(scope="module")
def corpora(wp_slice) -> list[Corpus]:
    """Two corpora of 40,000 bytes (two parts of War and Peace)."""
    return [Corpus(name, wp_slice.path, np.array(wp_slice.data[start : start + 40_000]))
            for name, start in (("first", 0), ("second", 100_000))]


def _timed(tasks):
    for task in tasks:
        task.timing = time_training(task.configs, task.corpus, QUIET, steps=2, warmup=1)
    return tasks


def test_the_plan_is_core_of_every_corpus_then_each_corpus_grid_then_replicates_and_skips_what_the_store_has(
        corpora, tmp_path):
    grid = dataclasses.replace(GRID, replicates=(ModelSpec("rnn", 1, 0),), replicate_seeds=(1, 2))
    tasks = plan(corpora, CORE, grid, tmp_path)
    assert [(t.stage, t.corpus.name) for t in tasks] == [
        ("core", "first"), ("core", "first"), ("core", "second"), ("core", "second"),
        ("grid", "first"), ("grid", "first"), ("grid", "second"), ("grid", "second"),
        ("replicates", "first"), ("replicates", "second")]
    assert [len(t.configs) for t in tasks] == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]  # a model's dropouts, or seeds, a pack
    assert [c.seed for c in tasks[-1].configs] == [1, 2]
    assert {c.model for c in tasks[-1].configs} == {c.model for c in tasks[7].configs if c.model.dropout == 0}
    lstm = tasks[0].configs[0]
    train(lstm, tasks[0].corpus, dataclasses.replace(QUIET, checkpoint_every=1000), tmp_path)
    assert lstm.run_id not in {c.run_id for t in plan(corpora, CORE, grid, tmp_path) for c in t.configs}


def test_a_pack_that_cannot_finish_in_the_time_left_is_not_started(corpora, tmp_path):
    tasks = _timed(plan(corpora[:1], CORE, LONG, tmp_path))
    finished = train_window(tasks, dataclasses.replace(QUIET, deadline=time.monotonic() + 60), tmp_path)
    outcomes = [(t.stage, t.outcome) for t in tasks]
    assert outcomes == [("core", "trained"), ("core", "trained"), ("grid", "skipped"), ("grid", "skipped")]
    assert tasks[-1].projected_s > 60
    assert len(finished) == 2
    assert not any(Run(c, tmp_path).dir.exists() for t in tasks[2:] for c in t.configs)  # never started


def test_the_deadline_cuts_a_started_pack_which_keeps_its_checkpoint(corpora, tmp_path):
    tasks = _timed(plan(corpora[:1], CORE, LONG, tmp_path)[2:])  # the long grid's two packs
    finished = train_window(tasks, dataclasses.replace(QUIET, deadline=time.monotonic() + 3), tmp_path, partial=True)
    assert [t.outcome for t in tasks] == ["cut", "skipped"] and finished == []
    for config in tasks[0].configs:
        run = Run(config, tmp_path)
        assert not run.is_finished
        assert torch.load(run.checkpoint_path, weights_only=True)["progress"]["step"] > 0


def test_a_window_trains_an_architecture_and_depth_as_the_packs_it_is_told(corpora, tmp_path):
    tasks = _timed(plan(corpora[:1], CORE, GRID, tmp_path)[2:])  # the grid's two packs of two dropouts
    finished = train_window(tasks, dataclasses.replace(QUIET, deadline=time.monotonic() + 120), tmp_path,
                            pack_by="run")
    assert [t.outcome for t in tasks] == ["trained", "trained"] and len(finished) == 4
    assert {run.provenance["pack_size"] for run in finished} == {1}  # each run alone, on its own thread


def test_a_window_trains_with_the_fastest_path_it_measured_and_with_graphs_only_where_they_passed():
    rates = {"packed": 100.0, "streams by model": 150.0, "streams by run": 120.0, "per_run": 900.0,
             "packed with CUDA graphs": 130.0, "streams by model with CUDA graphs": 300.0,
             "streams by run with CUDA graphs": 400.0}
    assert fastest(rates, cuda_graphs=True) == ("run", True)
    assert fastest(rates, "model", cuda_graphs=True) == ("model", True)
    assert fastest(rates) == ("model", False)  # per-run processes are measured beside, not a way a window trains
    assert fastest(rates, "depth") == ("depth", False)


def test_the_report_says_what_the_graphs_check_found():
    report = Report("NVIDIA H200", "bf16", 9.0, "2026-12-05 00:00:00 UTC", rnn_dtype={"lstm": "float16"})
    assert "- CUDA graphs: not checked (not a CUDA GPU, or --cuda-graphs off)" in markdown(report)
    assert "computes in float16 (lstm); the backward pass from the loss times 256" in markdown(report)
    report.graphs = {"passed": False, "architectures": [], "masks_change": False,
                     "error": "RuntimeError: operation not permitted when stream is capturing"}
    assert "failed their check (RuntimeError: operation not permitted when stream is capturing); trained without" \
        in markdown(report)
    gaps = [{"architecture": "lstm", "loss_gap": 2e-7, "state_gap": 3e-8, "scale_loss_gap": 4e-3}]
    report.graphs = {"passed": False, "precision": "bf16", "architectures": gaps, "masks_change": False, "error": None}
    assert ("carried state): lstm 2.0e-07; of the losses in bf16 at 100 x 100: lstm 4.0e-03; the SAME dropout masks "
            "every replay: failed") in markdown(report)
    report.graphs, report.pack_by, report.cuda_graphs = {**report.graphs, "masks_change": True, "passed": True}, \
        "run", True
    report.resumed, report.unfinished = ["a"], ["b", "c"]
    report.probe_errors = {"per_run": "TimeoutError"}
    report.throughput = {"probe": "grid warpeace: rnn-1 layers (12 runs)", "runs": 12, "per_run_processes": 12,
                         "run_steps_per_s": {"packed": 400.0}}
    text = markdown(report)
    assert "failed in the throughput probe, so not taken: each run in its own process (12 processes) (TimeoutError)" \
        in text
    assert "gone on from an earlier window's checkpoints: 1 runs" in text
    assert "2 unfinished runs exported with their checkpoints to unfinished/" in text
    assert "lstm 4.0e-03; new dropout masks every replay: passed" in text
    assert "each run on its own CUDA stream, all of an architecture and depth at once, every step replayed" in text


def _quick_measure(corpora, core, grid, options, processes, report, **_):
    """The device check without its probes: each pack timed over two steps."""
    return {c.run_id: task.timing for task in _timed(plan(corpora, core, grid)) for c in task.configs}


@pytest.mark.slow
def test_a_failure_or_a_cut_loses_nothing_and_the_next_window_goes_on_in_the_same_folder(corpora, tmp_path,
                                                                                         monkeypatch):
    """A training that fails (here: out of memory) is reported and the window goes on; what the deadline cut is
    exported with its checkpoints, and the next window, on a fresh store, given that folder inside its own
    ``--out`` (the README's layout), goes on from it and exports it again further on."""
    monkeypatch.setattr(window, "measure", _quick_measure)
    real = window.train_task

    def out_of_memory_first(task, *args, **kwargs):
        if task.stage == "core" and task.configs[0].model.architecture == "lstm":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(task, *args, **kwargs)

    monkeypatch.setattr(window, "train_task", out_of_memory_first)
    out, kwargs = tmp_path / "out", dict(core=CORE, grid=LONG, options=QUIET, partial=True)
    first = gpu_window(corpora[:1], out, deadline=time.monotonic() + 8, artifacts=tmp_path / "one", **kwargs)
    outcomes = [task["outcome"] for task in first.tasks]
    assert outcomes[:3] == ["failed: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB", "trained", "cut"]
    cut = first.tasks[2]["run_ids"]
    assert first.exported == first.tasks[1]["run_ids"] and first.unfinished == cut and not first.error
    steps = {c.run_id: Run(c, tmp_path / "one").step for c in plan(corpora[:1], CORE, LONG)[2].configs}
    monkeypatch.setattr(window, "train_task", real)
    (out / "unfinished" / "stray").mkdir()  # a folder that is no run: left out, with why, and the window goes on
    (out / "unfinished" / ".export-killed").mkdir()
    second = gpu_window(corpora[:1], out, deadline=time.monotonic() + 8, artifacts=tmp_path / "two",
                        resume=out / "unfinished", **kwargs)
    assert sorted(second.resumed) == sorted(cut) and second.unfinished[-2:] == cut
    assert second.not_resumed == {"stray": f"{out / 'unfinished' / 'stray'} is not a run folder (no config.json)"}
    for config in plan(corpora[:1], CORE, LONG)[2].configs:
        again = torch.load(out / "unfinished" / config.run_id / "checkpoint.pt", weights_only=True)
        assert again["progress"]["step"] > steps[config.run_id]  # replaced by the run further on
        assert not (out / "unfinished" / config.run_id / "snapshots").exists()  # not a dynamics run: no snapshots
    assert not list((out / "unfinished").glob(".export-*"))  # a killed export's leftover, cleared
    runs = [Run(config, tmp_path / "two") for config in plan(corpora[:1], CORE, LONG)[2].configs]
    one = resumable_bytes(runs[0], False)
    assert export_cut(runs, tmp_path / "small", one, None) == ([cut[0]], [cut[1]], {})
    assert export_cut(runs[1:], tmp_path / "small", one, None) == ([], [cut[1]], {})  # what it holds counts

    def full(run, *args):
        raise OSError("No space left on device")

    monkeypatch.setattr(window, "export_unfinished", full)
    assert export_cut(runs, tmp_path / "full", 2**30, None) == ([], [], dict.fromkeys(cut, "OSError: No space left "
                                                                                        "on device"))
    assert "1 more unfinished runs not exported" in markdown(dataclasses.replace(second, not_carried=[cut[1]]))


def test_a_window_stopped_by_an_error_still_writes_its_report(corpora, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(window, "measure", broken)
    with pytest.raises(RuntimeError, match="illegal memory access"):
        gpu_window(corpora[:1], tmp_path, deadline=time.monotonic() + 60, core=CORE, grid=GRID, options=QUIET,
                   artifacts=tmp_path / "store")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["error"] == "RuntimeError: CUDA error: an illegal memory access was encountered"
    assert "**Stopped early by RuntimeError: CUDA error" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
def test_a_window_measures_trains_in_order_exports_and_reports(corpora, tmp_path):
    grid = dataclasses.replace(GRID, replicates=(ModelSpec("rnn", 1, 0),), replicate_seeds=(1,))
    report = gpu_window(corpora[:1], tmp_path / "out", deadline=time.monotonic() + 120, core=CORE, grid=grid,
                        options=QUIET, artifacts=tmp_path / "store", processes=0)
    assert all(row["passed"] for row in report.trace)
    rates = report.throughput["run_steps_per_s"]
    assert report.throughput["runs"] == 2 and set(rates) == {"packed", "streams by model", "streams by run"}
    assert report.pack_by == max(PACK_BY, key=lambda by: rates[path(by)])  # the fastest in the probe
    assert report.graphs == {} and not report.cuda_graphs  # not a CUDA GPU: no graphs checked or used
    assert report.rnn_dtype == {"lstm": "fp32", "gru": "fp32", "rnn": "fp32"}  # QUIET trains in fp32: no autocast
    assert set(report.projected_s) == {"core", "grid first", "replicates first"}
    assert set(report.projected_s["grid first"]) == set(rates) == set(report.projected_s["replicates first"])
    assert [(t["stage"], t["outcome"]) for t in report.tasks] == [("core", "trained")] * 2 + [
        ("grid", "trained")] * 2 + [("replicates", "trained")]
    assert len(report.exported) == 7
    for run_id in report.exported:  # what `lit-rnn runs import` takes
        run, _ = import_run(tmp_path / "out" / "runs" / run_id, tmp_path / "elsewhere")
        assert run.is_finished
        weights = torch.load(run.best_path, weights_only=True)["model"]
        assert all(w.dtype == torch.float16 for w in weights.values() if w.is_floating_point())
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["tasks"] == report.tasks
    assert all(task["step_s"] > 0 and task["validation_s"] > 0 for task in report.tasks)  # the pack's own timing
    written = (tmp_path / "out" / "report.md").read_text()
    assert "core first: lstm-1 layers (1 runs)" in written and "projected wall time, replicates first" in written



def test_a_window_too_short_to_train_is_refused_in_one_line(capsys, tmp_path):
    assert main(["gpu-window", "--minutes", "0.5", "--out", str(tmp_path), "--device", "cpu"]) == 2
    assert "leaves no time to train" in capsys.readouterr().err
    assert main(["gpu-window", "--minutes", "9", "--out", str(tmp_path), "--resume", str(tmp_path / "none")]) == 2
    assert "is not a folder: give an earlier window's OUT/unfinished/" in capsys.readouterr().err


@pytest.mark.slow
def test_a_term_signal_stops_a_window_with_its_report(reference_data_dir, tmp_path):
    """`timeout` sends TERM: the window takes it as Ctrl-C, so its exports and report still happen."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lit_rnn.window", "--device", "cpu", "--core", "tiny", "--grid", "small",
               "--corpus", "warpeace", "--minutes", "5", "--out", str(out), "--processes", "0", "--retrain",
               "--artifacts", str(tmp_path / "store"), "--data-dir", str(reference_data_dir)]
    window_process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(root / "src"),
                                                    "PYTHONFAULTHANDLER": "1"},  # an abort prints every thread
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while not out.exists() and time.monotonic() - started < 60:  # the window has begun: its handler is set
        time.sleep(0.2)
    window_process.send_signal(signal.SIGTERM)
    try:
        _, stderr = window_process.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # where it hangs: every thread's stack, then the failure
        window_process.send_signal(signal.SIGABRT)
        pytest.fail(f"the window did not stop within 120 s of a TERM:\n{window_process.communicate()[1][-6000:]}")
    assert window_process.returncode != 0
    assert json.loads((out / "report.json").read_text())["error"] == "KeyboardInterrupt", stderr[-2000:]


@pytest.mark.slow
def test_a_per_run_probe_worker_that_fails_is_reported_by_its_own_error(corpora):
    """One worker fails before the barrier: the others stop waiting, and its error, not theirs, is raised."""
    good = plan(corpora[:1], CORE, GRID)[2].configs[0]
    bad = dataclasses.replace(good, recipe=dataclasses.replace(good.recipe, batch_size=100_000))
    with pytest.raises(UserError, match="too few for one validation and one test batch"):
        per_run_rate([good, bad], corpora[0], QUIET, processes=2, steps=2)


def test_a_window_counts_its_minutes_from_its_process_start():
    """Python's start and torch's import (seconds on a fresh GPU machine) are part of the window."""
    code = "import time; time.sleep(1.0); from lit_rnn.window import _running_s; print(_running_s())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert 1.0 <= float(result.stdout) < 60


def test_window_packs_prints_each_grid_pack_of_a_kept_report(reference_data_dir):
    """scripts/window_packs.py on the first window's report: one row per grid pack, run-steps and seconds as kept."""
    root = Path(__file__).resolve().parents[1]
    report = root / "bench" / "gpu-windows" / "2026-12-04-report.json"
    result = subprocess.run([sys.executable, str(root / "scripts" / "window_packs.py"), str(report), "--data-dir",
                             str(reference_data_dir)], capture_output=True, text=True, check=True)
    rows = [line for line in result.stdout.splitlines() if line.startswith("| warpeace") or line.startswith("| linux")]
    assert len(rows) == sum(task["stage"] == "grid" for task in json.loads(report.read_text())["tasks"]) == 18
    assert rows[0] == ("| warpeace: rnn-1 layers (12 runs) | 12 × 13,000 | 6.3 min | 412 | 34.3 | 36.7 M | 5.44 M | "
                       "75 | 11.2 |")  # its fused weights: 12 runs' 5,970 units, zeros included
    assert "The whole grid (216 runs) does 115 PFLOP on its runs' own weights" in result.stdout
