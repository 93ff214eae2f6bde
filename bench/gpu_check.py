"""One command that checks the GPU path and prints a short report (under 5 minutes on one H100/H200).

    .venv/bin/python bench/gpu_check.py            # needs the corpora: LIT_RNN_DATA or ./data

1. the CUDA tests: the written-out equations against cuDNN, one step from cuDNN's own state and
   free-running over a window (tests/test_models.py -k cuda);
2. the training throughput benchmark on the GPU, fp32 and bf16 (bench/train_throughput.py);
3. a 2-minute training of a 2-layer LSTM on War and Peace with the paper's recipe (capped by time),
   then its test loss evaluated on the GPU and on the CPU from the same weights, and its traces on
   both: they must agree (traces and evaluations run in fp32, TF32 off).

On a machine without a GPU it says so and exits 0.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TRAINING_SECONDS = 120


def run(title: str, command: list[str], timeout: int) -> tuple[bool, str]:
    """Run a command, echo its output, and return whether it passed and its last lines."""
    print(f"\n== {title}: {' '.join(command)}", flush=True)
    start = time.time()
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s"
    print(result.stdout[-4000:] + result.stderr[-2000:], flush=True)
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-12:])
    return result.returncode == 0, f"{time.time() - start:.0f} s\n{tail}"


def training_check() -> tuple[bool, str]:
    """Train a 2-layer LSTM for about two minutes, then compare its test loss and trace on GPU and CPU."""
    from lit_rnn.evaluate import model_predictions
    from lit_rnn.models import ModelConfig
    from lit_rnn.runs import Recipe, RunConfig
    from lit_rnn.settings import Settings
    from lit_rnn.train import train

    settings = Settings.resolve(corpus="warpeace", preset="paper", device="cuda")
    corpus = settings.corpus
    batcher = Recipe().batcher(corpus)
    probe = RunConfig(corpus.sha256, ModelConfig("lstm", 2, 128, corpus.vocab_size), Recipe(max_steps=50))
    with tempfile.TemporaryDirectory() as folder:
        start = time.time()
        train(probe, corpus, settings.train_options, folder)  # warm-up and the measured rate
        rate = 50 / (time.time() - start)
        steps = max(50, int(rate * TRAINING_SECONDS))
        config = RunConfig(corpus.sha256, probe.model, Recipe(max_steps=steps))
        start = time.time()
        run = train(config, corpus, settings.train_options, folder)
        seconds = time.time() - start
        gpu = model_predictions(run.load_model(settings.device), batcher, "test", run.name, settings.device)
        cpu = model_predictions(run.load_model(), batcher, "test", run.name, torch.device("cpu"))
        model, ids = run.load_model(settings.device), torch.from_numpy(batcher.split_inputs("test")[:4, :300])
        with torch.no_grad():
            (gpu_layers, _), _ = model.trace(ids.long().to(settings.device))
            (cpu_layers, _), _ = run.load_model().trace(ids.long())
        worst = max(float((gpu_layers[layer][name].cpu() - cpu_layers[layer][name]).abs().max())
                    for layer in range(2) for name in cpu_layers[layer])
    agree = abs(gpu.cross_entropy - cpu.cross_entropy) < 1e-4 and worst < 1e-3
    return agree, (f"{run.result.steps} steps in {seconds:.0f} s ({run.result.steps / seconds:.0f} steps/s, "
                   f"{settings.precision}); best val {run.result.best_val_loss:.4f}; test loss on the GPU "
                   f"{gpu.cross_entropy:.5f}, on the CPU {cpu.cross_entropy:.5f}; largest trace difference over "
                   f"300 steps {worst:.2e}")


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu_check: PyTorch sees no CUDA GPU here; nothing to check (run it on a machine with one).")
        return 0
    print(f"gpu_check on {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}", flush=True)
    python = sys.executable
    report = {
        "CUDA tests": run("CUDA tests", [python, "-m", "pytest", "-q", "tests/test_models.py", "-k", "cuda"], 120),
        "throughput fp32": run("throughput", [python, "bench/train_throughput.py", "--device", "cuda"], 60),
        "throughput bf16": run("throughput", [python, "bench/train_throughput.py", "--device", "cuda", "--bf16"], 60),
    }
    print("\n== a 2-minute training of a 2-layer LSTM on War and Peace", flush=True)
    report["training"] = training_check()
    print("\n== report")
    for name, (passed, detail) in report.items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail.splitlines()[0]}")
        for line in detail.splitlines()[1:]:
            print(f"      {line}")
    return 0 if all(passed for passed, _ in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
