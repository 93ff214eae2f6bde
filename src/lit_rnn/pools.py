"""Process pools that Ctrl-C stops cleanly.

A terminal's Ctrl-C reaches every process of its group. A pool process with nothing to do, or still starting up,
would die of it, and the pool, broken, then terminates the others (SIGTERM) before what they were doing has saved or
cleaned up: a training its checkpoint, a chapter its kernel. So a pool process is started with Ctrl-C held back,
ignores it between its tasks, and takes it (KeyboardInterrupt) during one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

SPAWN = multiprocessing.get_context("spawn")  # the pools' processes, and the queues and events handed to them


def spawn_pool(jobs: int, initializer: Callable[..., None], initargs: tuple = ()) -> ProcessPoolExecutor:
    """``jobs`` spawned processes, each running ``initializer(*initargs)`` with Ctrl-C ignored."""
    return ProcessPoolExecutor(jobs, mp_context=SPAWN, initializer=_start,
                               initargs=(initializer, *initargs))


def submit(pool: ProcessPoolExecutor, fn: Callable[..., object], *args) -> Future:
    """``fn(*args)`` in ``pool``, Ctrl-C taken while it runs; a Ctrl-C here waits until the pool's process (which
    submitting may start) is set up, then comes."""
    with _held():
        return pool.submit(_interruptibly, fn, *args)


@contextlib.contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM (``timeout``, ``kill``) raised as KeyboardInterrupt here, in a process that only waits on its pool:
    it then stops the pool's tasks as Ctrl-C does, where dying at once would leave them running, orphaned."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupt_workers() -> None:
    """Ctrl-C to this process's pool processes, for one that reached this process alone (``kill -INT``): those
    with a task stop it (a training checkpoints), the others ignore it."""
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGINT)


def _start(initializer: Callable[..., None], *initargs) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one held since its start is dropped, ignored
    initializer(*initargs)


def _interruptibly(fn: Callable[..., object], *args) -> object:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return fn(*args)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _held() -> Iterator[None]:
    """Ctrl-C held back in this thread, and in a process started meanwhile (a signal mask survives spawning)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
