"""Shared fixtures: the reference corpora, small War and Peace slices, a private artifacts root, one torch thread."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lit_rnn.data import KNOWN_CORPORA, Corpus, load_corpus
from lit_rnn.settings import resolve_data_dir


@pytest.fixture(scope="session")
def reference_data_dir() -> Path:
    """The folder with the reference corpora; CI must have it, a fresh checkout may not."""
    folder = resolve_data_dir()
    if all((folder / known.filename).exists() for known in KNOWN_CORPORA.values()):
        return folder
    message = f"reference corpora not found in {folder.resolve()} (set LIT_RNN_DATA)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> str:
    """Chromium for the tests that open pages in a real browser: skipped without it, failed under CI."""
    from browser import require_chromium

    return require_chromium()


@pytest.fixture(scope="session")
def warpeace(reference_data_dir) -> Corpus:
    return load_corpus("warpeace", reference_data_dir)


@pytest.fixture(scope="session")
def wp_slice(warpeace) -> Corpus:
    """The first 200,000 bytes of War and Peace: big enough to learn from in seconds."""
    return Corpus("wp200k", warpeace.path, np.array(warpeace.data[:200_000]))


@pytest.fixture(scope="session")
def wp40k(wp_slice) -> Corpus:
    """The first 40,000 bytes: 160 training batches of 10 rows x 20 bytes and a 4,000-byte validation split."""
    return Corpus("wp40k", wp_slice.path, np.array(wp_slice.data[:40_000]))


@pytest.fixture
def one_thread(monkeypatch):
    """One torch thread, here and in the processes a test starts: tiny models run ten times slower on two threads of
    a busy 2-core machine, and one thread adds floats up in one order on every path."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def artifacts(tmp_path) -> Path:
    """A private artifacts root (passed by argument: nothing below Settings reads ``$LIT_RNN_HOME``)."""
    return tmp_path / "artifacts"
