"""One command that checks the GPU path and prints a short report (under 5 minutes on one H100/H200).

    .venv/bin/python bench/gpu_check.py            # needs the corpora: LIT_RNN_DATA or ./data
    .venv/bin/python bench/gpu_check.py --smoke    # the same checks on a CPU, tiny and in seconds

1. the written-out equations against cuDNN, one step from cuDNN's own state and free-running over a
   window (:func:`lit_rnn.probe.trace_agreement`, what tests/test_models.py checks);
2. the training throughput benchmark on the GPU, fp32 and bf16 (bench/train_throughput.py);
3. a 2-minute training of a 2-layer LSTM on War and Peace with the paper's recipe (capped by time),
   then its test loss evaluated on the GPU and on the CPU from the same weights, and its traces on
   both: they must agree (traces and evaluations run in fp32, TF32 off).

On a machine without a GPU it says so and exits 0. ``lit-rnn gpu-window`` runs check 1 and a throughput
probe of its own before it trains.
"""

from __future__ import annotations

import argparse
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


def trace_check(device: str) -> tuple[bool, str]:
    """The written-out equations against the fused kernels, per architecture and depth."""
    from lit_rnn.probe import trace_agreement

    rows = trace_agreement(torch.device(device))
    lines = [f"{r['architecture']}-{r['n_layers']}: one step {r['one_step']:.1e}, free-running {r['free_running']:.1e}"
             + ("" if r["passed"] else "  FAIL") for r in rows]
    return all(r["passed"] for r in rows), f"{sum(r['passed'] for r in rows)} of {len(rows)} agree\n" + "\n".join(lines)


def training_check(device: str = "cuda", seconds: float = TRAINING_SECONDS, hidden: int = 128,
                   warmup: int = 50) -> tuple[bool, str]:
    """Train a 2-layer LSTM for about ``seconds`` (after ``warmup`` steps that measure the rate), then compare its
    test loss and trace on ``device`` and the CPU."""
    from lit_rnn.evaluate import model_predictions
    from lit_rnn.models import ModelConfig
    from lit_rnn.runs import Recipe, RunConfig
    from lit_rnn.settings import Settings
    from lit_rnn.train import train

    settings = Settings.resolve(corpus="warpeace", preset="paper", device=device)
    corpus = settings.corpus
    batcher = Recipe().batcher(corpus)
    probe = RunConfig(corpus.sha256, ModelConfig("lstm", 2, hidden, corpus.vocab_size), Recipe(max_steps=warmup))
    with tempfile.TemporaryDirectory() as folder:
        start = time.time()
        train(probe, corpus, settings.train_options, folder)  # warm-up and the measured rate
        rate = warmup / (time.time() - start)
        steps = warmup + max(1, int(rate * seconds))
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
        result = run.result  # read before the folder goes
    agree = abs(gpu.cross_entropy - cpu.cross_entropy) < 1e-4 and worst < 1e-3
    return agree, (f"{result.steps} steps in {seconds:.0f} s ({result.steps / seconds:.0f} steps/s, "
                   f"{settings.precision}); best val {result.best_val_loss:.4f}; test loss on the GPU "
                   f"{gpu.cross_entropy:.5f}, on the CPU {cpu.cross_entropy:.5f}; largest trace difference over "
                   f"300 steps {worst:.2e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="the checks on a CPU, tiny, in seconds")
    smoke = parser.parse_args(argv).smoke
    if not smoke and not torch.cuda.is_available():
        print("gpu_check: PyTorch sees no CUDA GPU here; nothing to check (run it on a machine with one).")
        return 0
    device = "cpu" if smoke else "cuda"
    if smoke:
        torch.set_num_threads(1)
    else:
        print(f"gpu_check on {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
              f"cuDNN {torch.backends.cudnn.version()}", flush=True)
    report = {"trace agreement": trace_check(device)}
    if not smoke:
        python = sys.executable
        report["throughput fp32"] = run("throughput", [python, "bench/train_throughput.py", "--device", "cuda"], 60)
        report["throughput bf16"] = run("throughput", [python, "bench/train_throughput.py", "--device", "cuda",
                                                       "--bf16"], 60)
    print(f"\n== a short training of a 2-layer LSTM on War and Peace ({device})", flush=True)
    report["training"] = training_check(device, 2, 16, 5) if smoke else training_check()
    print("\n== report")
    for name, (passed, detail) in report.items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail.splitlines()[0]}")
        for line in detail.splitlines()[1:]:
            print(f"      {line}")
    return 0 if all(passed for passed, _ in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
