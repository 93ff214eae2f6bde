"""The one cached-artifact helper: built once, read the same the first time and after, never read half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_rnn.atomic import atomic_write_text, cached


def _json(value):
    return lambda path: atomic_write_text(path, json.dumps(value))


def _read(path: Path):
    return json.loads(path.read_text())


def test_an_artifact_is_built_once_and_read_from_disk_every_time(tmp_path):
    built = []

    def build(path: Path) -> None:
        built.append(path)
        _json({"loss": 0.1 + 0.2})(path)

    path = tmp_path / "run" / "dynamic" / "val-abc.json"
    first = cached(path, build, _read)
    again = cached(path, lambda p: pytest.fail("built twice"), _read)
    assert first == again == {"loss": 0.1 + 0.2} and len(built) == 1
    assert built[0] != path and built[0].name == path.name  # built aside, then renamed into place
    assert sorted(p.name for p in path.parent.iterdir()) == ["val-abc.json"]  # no scratch left behind


def test_a_build_that_fails_leaves_nothing_that_looks_finished(tmp_path):
    def half(path: Path) -> None:
        path.write_text('{"loss": ')
        raise KeyboardInterrupt

    path = tmp_path / "predictions" / "test-best.json"
    with pytest.raises(KeyboardInterrupt):
        cached(path, half, _read)
    assert list(path.parent.iterdir()) == []
    assert cached(path, _json([1, 2]), _read) == [1, 2]


def test_a_folder_artifact_appears_whole(tmp_path):
    seen = []

    def build(folder: Path) -> None:
        folder.mkdir()
        (folder / "a.txt").write_text("a")
        seen.append((tmp_path / "trace-test").exists())  # not there while it is being written
        (folder / "b.txt").write_text("b")

    folder = cached(tmp_path / "trace-test", build, lambda p: p)
    assert seen == [False] and sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["trace-test"]
