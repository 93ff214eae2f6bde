"""A GPU window's packs side by side: each pack's projected time and its run-steps and pack-steps per second.

    .venv/bin/python scripts/window_packs.py window/report.json       # corpora from $LIT_RNN_DATA

Read from the window's ``report.json`` (each training's runs and projected seconds, validations included, no early
stopping) and the steps of the grid's recipe on each corpus (:func:`lit_rnn.train.total_steps`);
bench/gpu-windows.md shows what it printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lit_rnn.data import load_corpus
from lit_rnn.folders import resolve_data_dir
from lit_rnn.presets import get_preset
from lit_rnn.train import total_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a window's report.json")
    parser.add_argument("--preset", default="paper", help="the window's --grid preset")
    parser.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    preset = get_preset(args.preset)
    recipe = preset.grid_recipe or preset.recipe
    names = {task["corpus"] for task in report["tasks"] if task["stage"] == "grid"}
    steps = {name: total_steps(recipe, recipe.batcher(load_corpus(name, resolve_data_dir(args.data_dir))).n_train)
             for name in names}
    print("| pack | runs × steps | projected | run-steps/s | pack-steps/s |")
    print("| --- | --- | --- | --- | --- |")
    for task in report["tasks"]:
        if task["stage"] != "grid":
            continue
        n, seconds = steps[task["corpus"]], task["projected_s"]
        print(f"| {task['training'].removeprefix('grid ')} | {task['runs']} × {n:,} | {seconds / 60:.1f} min | "
              f"{task['runs'] * n / seconds:.0f} | {n / seconds:.1f} |")


if __name__ == "__main__":
    main()
