"""Does the paper's recipe start training the grid's models? Each model of the ``paper`` grid of one architecture
(default: the RNN; dropout 0) trained for its first steps on War and Peace exactly as the grid trains it: the mean
training loss over its last 50 steps against the byte frequencies' entropy (the plateau a model learns first), the
2-norm of its first layer's recurrent weights at initialisation and after the first step, and the share of its top
layer's units saturated (|h| > 0.99) at the end.

    .venv/bin/python bench/rnn_recipe.py                        # the grid's 12 RNNs, 200 steps each (~10 min)
    .venv/bin/python bench/rnn_recipe.py --learning-rate 5e-4   # the same at another learning rate
    .venv/bin/python bench/rnn_recipe.py --grad-clip 0.05       # clipped as char-rnn clips
    .venv/bin/python bench/rnn_recipe.py --architecture gru     # the GRUs
    .venv/bin/python bench/rnn_recipe.py --smoke                # two small RNNs, 10 steps

Why: on a GPU, War and Peace's RNN 3x487 trained with the recipe stayed above that entropy for 6 epochs
(bench/gpu-windows.md). RMSProp's first step moves every weight by about lr / sqrt(1 - decay) = 4.5 lr, all at
once, which in a wide recurrent matrix is a large change of its norm.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from lit_rnn.analysis.compare import byte_entropy
from lit_rnn.data import load_corpus
from lit_rnn.devices import resolve_precision, training_precision
from lit_rnn.folders import resolve_data_dir
from lit_rnn.models import CharLM
from lit_rnn.presets import get_preset
from lit_rnn.runs import RunConfig
from lit_rnn.train import TrainOptions, initialise, train_step

SATURATED = 0.99


def recurrent_norm(model: CharLM) -> float:
    """The 2-norm of the first layer's recurrent weights (all gate blocks stacked)."""
    return float(torch.linalg.matrix_norm(model.rnn.weight_hh_l0.detach().float(), 2))


@torch.no_grad()
def saturation(model: CharLM, ids: np.ndarray) -> float:
    """The share of the top layer's outputs with |h| > 0.99 over the rows ``ids``."""
    hidden, _ = model.rnn(model.one_hot(torch.from_numpy(ids.astype(np.int64))))
    return float((hidden.abs() > SATURATED).float().mean())


def first_steps(config: RunConfig, corpus, steps: int, options: TrainOptions) -> dict:
    """``config`` trained for its first ``steps`` steps: losses, recurrent norms, saturation, seconds."""
    recipe = config.recipe
    model, optimizer = initialise(config, options.device)
    batcher = recipe.batcher(corpus)
    state, losses, start = model.initial_state(recipe.batch_size), [], time.perf_counter()
    norms = [recurrent_norm(model)]
    with training_precision(options.precision):
        for step in range(steps):
            loss, state = train_step(model, optimizer, batcher.batch(step % batcher.n_train), state, recipe, options)
            losses.append(float(loss))
            if step == 0:
                norms.append(recurrent_norm(model))
    last_rows = batcher.batch((steps - 1) % batcher.n_train)[0][:20]
    return {"model": config.model.name, "parameters": sum(p.numel() for p in model.parameters()),
            "first_loss": losses[0], "last_loss": float(np.mean(losses[-50:])), "norm_init": norms[0],
            "norm_step_1": norms[1], "saturated": saturation(model, last_rows), "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="rnn", choices=["rnn", "lstm", "gru"])
    parser.add_argument("--steps", type=int, default=200, help="steps per model")
    parser.add_argument("--learning-rate", type=float, default=None, help="instead of the recipe's")
    parser.add_argument("--grad-clip", type=float, default=None,
                        help="instead of the recipe's element-wise clipping (char-rnn clips a gradient summed over the "
                             "100 time steps at 5: 0.05 of lit-rnn's, which is averaged)")
    parser.add_argument("--precision", default="auto", help="as lit-rnn's (auto: bf16 where native)")
    parser.add_argument("--smoke", action="store_true", help="the two smallest models, 10 steps")
    args = parser.parse_args()
    corpus = load_corpus("warpeace", resolve_data_dir())
    preset = get_preset("paper")
    recipe = preset.grid_recipe or preset.recipe
    recipe = dataclasses.replace(recipe, learning_rate=args.learning_rate or recipe.learning_rate,
                                 grad_clip=args.grad_clip or recipe.grad_clip)
    configs = [dataclasses.replace(c, recipe=recipe) for c in preset.grid_configs(corpus)
               if c.model.architecture == args.architecture and c.model.dropout == 0.0]
    steps = 10 if args.smoke else args.steps
    if args.smoke:
        configs = sorted(configs, key=lambda c: c.model.hidden_size)[:2]
    device = torch.device("cpu")
    options = TrainOptions(device=device, precision=resolve_precision(args.precision, device), progress=False)
    print(f"War and Peace, {steps} steps each, learning rate {recipe.learning_rate:g}, gradients clipped at "
          f"{recipe.grad_clip:g}, {options.precision}; "
          f"the byte frequencies' entropy: {byte_entropy(corpus.data):.3f} nats/byte\n")
    print(f"| model | parameters | loss, step 1 | loss, last {min(50, steps)} steps | ‖W_hh‖₂ at init | "
          "after step 1 | saturated at the end | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for config in configs:
        row = first_steps(config, corpus, steps, options)
        print(f"| {row['model']} | {row['parameters']:,} | {row['first_loss']:.3f} | {row['last_loss']:.3f} | "
              f"{row['norm_init']:.2f} | {row['norm_step_1']:.2f} | {row['saturated']:.0%} | {row['seconds']:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
