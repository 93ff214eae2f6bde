"""A book build killed (SIGKILL) while it trains, while KenLM estimates an n-gram and while a chapter runs: the
rerun completes with the scorecard of a build never killed, and no cached artifact is ever there half-written.

The build is the book's own (:func:`lit_rnn.book.execute_book`, what ``lit-rnn book`` runs before the site,
which reads no cache) for War and Peace at the tiny preset, in a project
holding chapter 5 (it reads every n-gram, n-NN and grid run, and saves its claims) and the introduction.
"""

from __future__ import annotations

import json
import os
import shutil
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
CHAPTERS = ("00_intro", "05_baselines")  # the introduction is always executed; chapter 5 saves claims
EXECUTED = Path("book") / "warpeace" / "05_baselines.ipynb"
BUILD = ("from lit_rnn.book import BookConfig, execute_book; from pathlib import Path; import sys; "
         "config = BookConfig.resolve(('warpeace',), project=Path(sys.argv[3]), preset='tiny', device='cpu', "
         "data_dir=sys.argv[1], artifacts=sys.argv[2], progress=False); execute_book(config)")


def _project(folder: Path) -> Path:
    """A project with the chapters of the build (the book's paired notebooks are written beside them)."""
    (folder / "notebooks").mkdir(parents=True)
    for chapter in CHAPTERS:
        shutil.copy(REPO / "notebooks" / f"{chapter}.py", folder / "notebooks")
    return folder


def _start(data: Path, store: Path, project: Path) -> subprocess.Popen:
    """The build in a process group of its own, run from its project (a chapter's kernel exits with it)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-c", BUILD, str(data), str(store), str(project)], env=environment,
                            cwd=project, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 300) -> bool:
    """SIGKILL the build's whole process group as soon as ``ready()``; False if it finished first."""
    deadline = time.time() + timeout
    while process.poll() is None and time.time() < deadline:
        if ready():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.02)
    process.wait()
    return False


def _training(store: Path, project: Path) -> bool:
    """A run has logged a validation and not finished."""
    return any(not (m.parent / "result.json").exists() for m in (store / "runs").glob("*/metrics.jsonl"))


def _estimating(store: Path, project: Path) -> bool:
    """KenLM estimates an n-gram of the corpus (lmplz piped into build_binary, in the binary's hidden build folder)."""
    return any((store / "ngram").glob("*/.model.bin.*.partial/build_binary.log"))


def _in_chapter(store: Path, project: Path) -> bool:
    """Chapter 5's kernel has run some of its cells (papermill saves the notebook after each)."""
    try:
        return (project / EXECUTED).read_text().count('"status": "completed"') >= 3
    except (OSError, UnicodeDecodeError):
        return False


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


def _scorecards(store: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted((store / "scorecards").glob("*/*.json"))}


@pytest.mark.slow
def test_a_book_build_killed_anywhere_reruns_to_the_same_scorecard(reference_data_dir, tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    never_killed = _start(reference_data_dir, clean / "store", _project(clean))  # alongside, on the other core
    store, project = killed / "store", _project(killed)
    for ready in (_training, _estimating, _in_chapter):  # the order the build meets them
        assert _kill_when(_start(reference_data_dir, store, project), partial(ready, store, project)), ready.__name__
        _every_artifact_reads(store)
    rerun = _start(reference_data_dir, store, project)
    _, error = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, error.decode()[-2000:]
    _, error = never_killed.communicate(timeout=600)
    assert never_killed.returncode == 0, error.decode()[-2000:]
    assert "05_baselines.json" in _scorecards(clean / "store")
    assert _scorecards(store) == _scorecards(clean / "store")


def test_a_ctrl_c_no_step_saw_is_raised_on_leaving_the_training_not_lost():
    """It came while a run finished, after its last step: a window once trained on, its TERM lost."""
    import signal

    from lit_rnn.train import deferred_interrupt

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), deferred_interrupt() as interrupted:
        signal.raise_signal(signal.SIGINT)
        assert interrupted()  # deferred: nothing raised here
    assert signal.getsignal(signal.SIGINT) is before
    with deferred_interrupt() as interrupted:  # none pending: nothing raised
        assert not interrupted()
