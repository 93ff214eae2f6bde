"""Process pools that Ctrl-C stops cleanly.

A terminal's Ctrl-C reaches every process of its group. A pool process with nothing to do dies of it, and the pool,
broken, then terminates the others (SIGTERM) before what they were doing has saved or cleaned up: a training its
checkpoint, a chapter its kernel. So a pool process ignores Ctrl-C between its tasks and takes it during one.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


def ignore_interrupts() -> None:
    """Ctrl-C ignored in this process: a pool's initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C raised as KeyboardInterrupt in this block (a pool process's task), ignored again after it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        ignore_interrupts()
