"""Writes that never leave half a file, and the one cached-artifact helper built on them.

Everything expensive (trained runs, predictions, traces, n-gram binaries) lives under one root (chosen once,
by :mod:`lit_rnn.settings`), in a folder named by a hash of the configuration that determines it
(:func:`lit_rnn.hashing.config_hash`), so a result is reused exactly when it would come out the same. Every
file is written whole or not at all, and every cached artifact goes through :func:`cached`, which renames a
complete build into place (the layout of the store is in :mod:`lit_rnn.runs`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes files private; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_save_torch(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`atomic_write_bytes`."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def atomic_save_npz(path: str | Path, compress: bool = False, **arrays: Any) -> None:
    """``numpy.savez`` (``savez_compressed`` with ``compress``) through :func:`atomic_write_bytes`."""
    import numpy as np

    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one JSON line (metrics logs); a line is written whole or, after a crash, cut."""
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file, skipping a last line cut short by a crash."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def cached(path: str | Path, build: Callable[[Path], None], load: Callable[[Path], T]) -> T:
    """The artifact at ``path`` (a file or a folder), built on first use: the one cache of the store.

    The key rule: ``path`` names everything that determines the artifact (its owner's folder, a run's or
    an n-gram's, is named by a :func:`~lit_rnn.hashing.config_hash`; the artifact's own name adds the split,
    checkpoint or a hash of its parameters). ``build(staging)`` writes the artifact at ``staging``, a path in a hidden
    folder beside ``path``; it is renamed to ``path`` only once complete, so a reader (or a rerun after a
    crash) finds the whole artifact or none. ``load(path)`` reads it, right after building too, so a first
    use returns what every later one does.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
        try:
            build(scratch / path.name)
            try:
                os.replace(scratch / path.name, path)
            except OSError:
                if not path.exists():  # another process built a folder artifact first: keep theirs
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return load(path)
