"""A book build killed (SIGKILL) while it trains, while KenLM estimates an n-gram and while a chapter runs: the
rerun completes with the scorecard of a build never killed, and no cached artifact is ever there half-written.

The build is the book's own (:func:`lit_rnn.book.execute_book`, what ``lit-rnn book`` runs before the site,
which reads no cache) for War and Peace at the tiny preset, in a project
holding chapter 5 (it reads every n-gram, n-NN and grid run, and saves its claims) and the introduction.

And Ctrl-C: a training keeps one that came after its last step, and a grid or a book build in processes stops with
what was under way saved or cleaned up.
"""

from __future__ import annotations

import contextlib
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


def _interrupted(command: list[str], ready: Callable[[], bool], tmp_path: Path, term: bool = False) -> str:
    """Run ``command`` in a process group of its own, Ctrl-C the group once ``ready()`` (or, with ``term``, TERM its
    main process alone, as ``timeout`` does), and return its stderr (the group killed, whatever happens)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])}
    process = subprocess.Popen([sys.executable, "-c", *command], env=environment, cwd=tmp_path,
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while process.poll() is None and time.time() < deadline and not ready():
            time.sleep(0.02)
        assert process.poll() is None and ready(), "never ready"
        if term:
            os.kill(process.pid, signal.SIGTERM)
        else:
            os.killpg(process.pid, signal.SIGINT)
        _, error = process.communicate(timeout=60)
        assert process.returncode != 0 and b"KeyboardInterrupt" in error, error.decode()[-2000:]
        return error.decode()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


GRID = ("import sys; import numpy as np; from lit_rnn.data import Corpus, load_corpus; from lit_rnn.grid import "
        "train_runs; from lit_rnn.models import ModelConfig; from lit_rnn.runs import Recipe, RunConfig; "
        "from lit_rnn.train import TrainOptions; whole = load_corpus('warpeace', sys.argv[1]); "
        "corpus = Corpus('wp200k', whole.path, np.array(whole.data[:200_000])); "
        "configs = [RunConfig(corpus.sha256, ModelConfig('lstm', layers, hidden, corpus.vocab_size), Recipe("
        "batch_size=20, seq_length=50, epochs=50, eval_every=10, max_steps=steps)) for layers, hidden, steps in "
        "((1, 64, 20), (2, 1024, 100_000))]; "  # the long run's steps take a while, as a paper-scale model's do
        "train_runs(configs, corpus, TrainOptions(progress=False, checkpoint_every=10_000), sys.argv[2], jobs=2)")


@pytest.mark.slow
@pytest.mark.parametrize("term", [False, True], ids=["ctrl-c", "term"])
def test_a_ctrl_c_stops_a_grid_in_processes_the_training_under_way_saved(term, reference_data_dir, tmp_path):
    """Ctrl-C reaches every process; a pool process with nothing to train died of it, and the pool, broken, killed
    the training under way before it saved. A TERM to the main process alone killed it and left the trainings."""
    runs = tmp_path / "runs"

    def ready() -> bool:  # the short run done (its process idle), the long one 10 steps in
        return bool(list(runs.glob("*/result.json"))) and len(list(runs.glob("*/metrics.jsonl"))) == 2

    error = _interrupted([GRID, str(reference_data_dir), str(tmp_path)], ready, tmp_path, term)
    [long] = [m.parent for m in runs.glob("*/metrics.jsonl") if not (m.parent / "result.json").exists()]
    assert (long / "checkpoint.pt").exists(), error[-2000:]  # saved at the Ctrl-C (else at step 10,000)


def cleaning_up(started: str, cleaned: str) -> None:
    """A step that takes a while to clean up when Ctrl-C stops it, as papermill shutting a kernel down does."""
    try:
        Path(started).touch()
        time.sleep(120)
    finally:
        time.sleep(3)
        Path(cleaned).touch()


BOOK = ("import sys; from functools import partial; from pathlib import Path; from lit_rnn.book import Step, "
        "run_steps; from test_kill import cleaning_up; run_steps([Step('first', Path('first').touch), "
        "Step('long', partial(cleaning_up, 'started', 'cleaned'), after=('first',)), "
        "Step('short', Path('short').touch, after=('first',))], jobs=2)")


@pytest.mark.slow
@pytest.mark.parametrize("other", ["idle", "starting"])
def test_a_ctrl_c_stops_a_book_build_in_processes_the_step_under_way_cleaned_up(other, tmp_path):
    """As the grid's: the other process of the pool, its step done or still starting up (the long and the short
    step start together, the short one in a new process), died of the Ctrl-C, and the broken pool killed the long
    step before it cleaned up."""
    def ready() -> bool:
        if other == "idle" and (tmp_path / "short").exists():
            time.sleep(0.5)
        return (tmp_path / "started").exists() and (other == "starting" or (tmp_path / "short").exists())

    error = _interrupted([BOOK], ready, tmp_path)
    assert (tmp_path / "cleaned").exists(), error[-2000:]
