"""A build killed (SIGKILL) while it trains, while KenLM estimates an n-gram and while a chapter runs: the rerun
completes with the scorecard of a build never killed, and no cached artifact is ever there half-written.

The build is the book's for one chapter at the tiny preset: what chapter 5 reads prepared as ``lit-rnn book``
prepares it (through the Study: the grid and the n-NNs trained, every n-gram estimated, predictions
cached), then the chapter executed by papermill as the book executes it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
CHAPTER = "05_baselines"  # reads every n-gram, n-NN and the grid, and saves its claims
PREPARE = ("from lit_rnn.study import Study; import sys; "
           "study = Study.open(corpus='warpeace', preset='tiny', device='cpu', data_dir=sys.argv[1], "
           "artifacts=sys.argv[2], progress=False); study.baselines(); study.predictions(study.best_recurrent())")
EXECUTE = ("from lit_rnn.book import execute; from pathlib import Path; import sys; "
           f"execute(Path(sys.argv[3]) / 'notebooks' / '{CHAPTER}.py', Path(sys.argv[2]) / 'executed.ipynb', "
           "{'corpus': 'warpeace', 'preset': 'tiny', 'device': 'cpu', 'data_dir': sys.argv[1], "
           "'artifacts': sys.argv[2]})")


def _start(code: str, data: Path, store: Path, project: Path = REPO) -> subprocess.Popen:
    """The step in a process group of its own (a chapter's kernel is killed with it)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-c", code, str(data), str(store), str(project)], env=environment,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> bool:
    """SIGKILL the step's whole process group as soon as ``ready()``; False if it finished first."""
    deadline = time.time() + timeout
    while process.poll() is None and time.time() < deadline:
        if ready():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.02)
    process.wait()
    return False


def _finish(code: str, data: Path, store: Path, project: Path = REPO) -> None:
    process = _start(code, data, store, project)
    _, error = process.communicate(timeout=600)
    assert process.returncode == 0, error.decode()[-2000:]


def _training(store: Path) -> bool:
    """A run has logged a validation and not finished."""
    return any(not (m.parent / "result.json").exists() for m in (store / "runs").glob("*/metrics.jsonl"))


def _estimating(store: Path) -> bool:
    """KenLM is writing an n-gram binary (its hidden build folder exists)."""
    return any((store / "ngram").glob("*/.model.bin.*.partial"))


def _in_chapter(store: Path) -> bool:
    """papermill has begun writing the executed chapter (its kernel runs the cells)."""
    return (store / "executed.ipynb").exists()


def _every_artifact_reads(store: Path) -> None:
    """Every file under a final name in the store reads whole; only hidden ``.partial`` builds may be cut."""
    for path in store.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(store).parts) or not path.is_file():
            continue
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as stored:
                [stored[name] for name in stored.files]
        elif path.suffix == ".npy":
            np.load(path, mmap_mode="r")
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            torch.load(path, weights_only=True)


def _scorecard(store: Path) -> str:
    return next((store / "scorecards").glob(f"*/{CHAPTER}.json")).read_text()


@pytest.mark.slow
def test_a_build_killed_anywhere_reruns_to_the_same_scorecard(reference_data_dir, tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    never_killed = _start(f"{PREPARE}\n{EXECUTE}", reference_data_dir, clean)  # alongside, on the other core
    for ready in (_estimating, _training):  # the order the build meets them: n-grams first, then the n-NNs
        assert _kill_when(_start(PREPARE, reference_data_dir, killed), partial(ready, killed)), ready.__name__
        _every_artifact_reads(killed)
    _finish(PREPARE, reference_data_dir, killed)
    assert _kill_when(_start(EXECUTE, reference_data_dir, killed), partial(_in_chapter, killed))
    _every_artifact_reads(killed)
    _finish(EXECUTE, reference_data_dir, killed)
    _, error = never_killed.communicate(timeout=600)
    assert never_killed.returncode == 0, error.decode()[-2000:]
    assert _scorecard(killed) == _scorecard(clean)
