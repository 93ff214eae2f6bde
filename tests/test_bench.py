"""Every benchmark script runs at its smallest setting (``--smoke``), so an import error never reaches a GPU.

The scripts run side by side (``PARALLEL`` at a time, one thread each): most of their time is
importing torch and waiting for a shared CPU, so the whole file takes about as long as its slowest script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))
PARALLEL = 4


def smoke(script: Path, data_dir: Path, folder: Path) -> subprocess.CompletedProcess:
    """``script --smoke`` in a subprocess, on the CPU, with the library from this checkout and a private store."""
    folder.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LIT_RNN_DATA": str(data_dir),
                   "LIT_RNN_HOME": str(folder / "artifacts"), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, str(script), "--smoke"], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def smoked(reference_data_dir, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("bench")
    with ThreadPoolExecutor(PARALLEL) as pool:
        done = pool.map(lambda script: smoke(script, reference_data_dir, root / script.stem), SCRIPTS)
        return {script.name: result for script, result in zip(SCRIPTS, done)}


def test_bench_scripts_are_found():
    assert len(SCRIPTS) >= 10, [p.name for p in SCRIPTS]


@pytest.mark.slow
@pytest.mark.parametrize("script", [p.name for p in SCRIPTS])
def test_bench_script_runs_smoke(script: str, smoked):
    done = smoked[script]
    assert done.returncode == 0, f"{script} --smoke exited {done.returncode}:\n{done.stderr[-3000:]}"
