"""A GPU window's packs side by side: each pack's projected time, its run-steps and pack-steps per second, and the
arithmetic it does, on its fused weights (zeros included) and on its runs' own.

    .venv/bin/python scripts/window_packs.py window/report.json       # corpora from $LIT_RNN_DATA

Read from the window's ``report.json`` (each training's runs and projected seconds, validations included, no early
stopping) and the steps of the grid's recipe on each corpus (:func:`lit_rnn.train.total_steps`). A step costs about
6 floating-point operations per weight and byte (2 forward, 4 backward), over the batch's rows × unrolled steps, so
TFLOPS = 6 × weights × bytes per step / seconds per step (a lower bound: the seconds include validations). The last
line: the whole grid's arithmetic on its runs' own weights, and the rate that would train it in 30 minutes.
bench/gpu-windows.md shows what it printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lit_rnn.data import load_corpus
from lit_rnn.folders import resolve_data_dir
from lit_rnn.models import GATE_BLOCKS, ModelConfig
from lit_rnn.presets import get_preset
from lit_rnn.train import total_steps

FLOPS_PER_WEIGHT_BYTE = 6  # floating-point operations per weight and byte: 2 forward, 4 backward


def fused_weights(models: list[ModelConfig]) -> int:
    """The weights a pack multiplies: per layer one fused layer of H = Σ h units (block-diagonal past the input,
    zeros included), and a read-out per run."""
    first, width = models[0], sum(m.hidden_size for m in models)
    gates, vocab = GATE_BLOCKS[first.architecture], first.vocab_size
    layers = gates * width * (vocab + width) + (first.n_layers - 1) * gates * 2 * width * width
    return layers + width * vocab


def own_weights(models: list[ModelConfig]) -> int:
    """The weights the pack's runs have themselves (what a pack of one multiplies, summed)."""
    return sum(fused_weights([m]) for m in models)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a window's report.json")
    parser.add_argument("--preset", default="paper", help="the window's --grid preset")
    parser.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    preset = get_preset(args.preset)
    recipe = preset.grid_recipe or preset.recipe
    corpora = {name: load_corpus(name, resolve_data_dir(args.data_dir))
               for name in {task["corpus"] for task in report["tasks"] if task["stage"] == "grid"}}
    steps = {key: total_steps(recipe, recipe.batcher(corpus).n_train)
             for name, corpus in corpora.items() for key in (name, corpus.sha256)}
    models = {c.run_id: c.model for corpus in corpora.values() for c in preset.grid_configs(corpus)}
    flops_per_step = FLOPS_PER_WEIGHT_BYTE * recipe.batch_size * recipe.seq_length
    print("| pack | runs × steps | projected | run-steps/s | pack-steps/s | fused weights | runs' own | "
          "TFLOPS, fused | TFLOPS, own |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    own_rates, fused_rates = [], []
    for task in report["tasks"]:
        if task["stage"] != "grid":
            continue
        n, seconds = steps[task["corpus"]], task["projected_s"]
        pack = [models[run_id] for run_id in task["run_ids"]]
        fused, own = (flops_per_step * weights(pack) * n / seconds / 1e12 for weights in (fused_weights, own_weights))
        fused_rates.append(fused)
        own_rates.append(own)
        print(f"| {task['training'].removeprefix('grid ')} | {task['runs']} × {n:,} | {seconds / 60:.1f} min | "
              f"{task['runs'] * n / seconds:.0f} | {n / seconds:.1f} | {fused_weights(pack) / 1e6:.1f} M | "
              f"{own_weights(pack) / 1e6:.2f} M | {fused:.0f} | {own:.1f} |")
    configs = [c for corpus in corpora.values() for c in preset.grid_configs(corpus)]
    grid = sum(flops_per_step * own_weights([c.model]) * steps[c.corpus_sha256] for c in configs)
    print(f"\nThe whole grid ({len(configs)} runs) does {grid / 1e15:.0f} PFLOP on its runs' own weights: "
          f"{grid / 1800 / 1e12:.0f} TFLOPS sustained would train it in 30 minutes. The packs above reached "
          f"{min(own_rates):.1f}-{max(own_rates):.1f} TFLOPS on their runs' own weights "
          f"({min(fused_rates):.0f}-{max(fused_rates):.0f} on their fused weights, zeros included).")

if __name__ == "__main__":
    main()
