"""How far runs trained in a pack are from the same runs trained alone, against fp32's own rounding.

    LIT_RNN_DATA=/path/to/data .venv/bin/python bench/packed_equality.py
    LIT_RNN_DATA=/path/to/data .venv/bin/python bench/packed_equality.py --steps 60 --learning-rate 1e-2

Five runs per architecture (2 layers, widths 8-40, dropout 0 and 0.3) train on the first 40,000
bytes of War and Peace in batches of 10 x 20, as one pack (``lit_rnn.packed.pack_step``) and each
alone, in fp32 (``train_step``'s computation) and in fp64. Per run it prints the largest weight
difference and per-step loss difference of packed vs alone, and of alone in fp32 vs fp64: the
rounding error of fp32 training itself, which sets the scale: tests/test_packed.py runs
:func:`distances` and allows packing twice that distance in weights, and 8 ulps in each step's loss.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch

from lit_rnn.data import Corpus, load_corpus
from lit_rnn.models import RECURRENT, ModelConfig
from lit_rnn.packed import assemble, disassemble, pack_step, prepare_member
from lit_rnn.runs import Recipe, RunConfig
from lit_rnn.settings import resolve_data_dir
from lit_rnn.train import TrainOptions, batch_tensors, detach, initialise, rmsprop

CPU = torch.device("cpu")
RUNS = ((8, 0.0, 1), (12, 0.3, 2), (10, 0.0, 3), (24, 0.0, 4), (40, 0.3, 5))  # width, dropout, seed


def alone(config: RunConfig, batcher, steps: int, dtype: torch.dtype):
    """Per-step losses and the model of ``config`` trained alone in ``dtype`` (``train_step``'s computation)."""
    model, _ = initialise(config, CPU)
    model = model.to(dtype)
    optimizer = rmsprop(model.parameters(), config.recipe)
    state, losses = model.initial_state(config.recipe.batch_size), []
    state = tuple(s.to(dtype) for s in state) if isinstance(state, tuple) else state.to(dtype)
    for index in range(steps):
        inputs, targets = batch_tensors(batcher.batch(index), CPU)
        logits, state = model(inputs, detach(state))
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), config.recipe.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses), model


def largest_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    with torch.no_grad():
        return max(float((x.double() - y.double()).abs().max()) for x, y in zip(a.parameters(), b.parameters()))


def distances(architecture: str, text: Corpus, steps: int, learning_rate: float, runs=RUNS) -> list[dict]:
    """Per run of a pack of ``runs`` (width, dropout, seed): how far the packed run ends from the run alone (largest
    weight difference ``packed``; largest per-step loss difference in ulps ``loss_ulps``), how far the run alone in
    fp32 ends from fp64 (``rounding``), and the largest weight the pack holds outside its blocks (``outside``)."""
    recipe = Recipe(batch_size=10, seq_length=20, learning_rate=learning_rate)
    batcher = recipe.batcher(text)
    configs = [RunConfig(text.sha256, ModelConfig(architecture, 2, width, text.vocab_size, dropout), recipe, seed)
               for width, dropout, seed in runs]
    with tempfile.TemporaryDirectory() as folder:
        members = [prepare_member(c, folder, CPU) for c in configs]
    pack, optimizer = assemble(members, recipe, CPU)
    state, packed_losses = pack.join_state([m.state for m in members]), []
    for index in range(steps):
        losses, state = pack_step(pack, optimizer, batcher.batch(index), state, recipe, TrainOptions())
        packed_losses.append(losses.numpy())
    disassemble(pack, optimizer, members, state)
    parameters = dict(pack.named_parameters())
    outside = max(float(parameters[name].detach()[mask].abs().max()) for name, mask in pack.outside.items())
    rows = []
    for run, (config, member) in enumerate(zip(configs, members)):
        losses32, model32 = alone(config, batcher, steps, torch.float32)
        _, model64 = alone(config, batcher, steps, torch.float64)
        ulps = np.abs(np.array(packed_losses)[:, run] - losses32) / np.spacing(losses32.astype(np.float32))
        rows.append({"run": config.model.name, "dropout": config.model.dropout, "outside": outside,
                     "packed": largest_difference(member.model, model32),
                     "rounding": largest_difference(model32, model64), "loss_ulps": float(ulps.max())})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs, args.steps = (RUNS[:2], 1) if args.smoke else (RUNS, args.steps)
    war_and_peace = load_corpus("warpeace", resolve_data_dir())
    text = Corpus("wp40k", war_and_peace.path, np.array(war_and_peace.data[:40_000]))
    print(f"{args.steps} steps at learning rate {args.learning_rate:g}; weights: largest |difference|; "
          "losses: largest |difference| over the steps, in ulps of the loss")
    print(f"{'run':<12}{'dropout':>8}{'packed vs alone':>17}{'fp32 vs fp64':>14}{'ratio':>7}{'loss ulps':>11}")
    for architecture in RECURRENT:
        for row in distances(architecture, text, args.steps, args.learning_rate, runs):
            print(f"{row['run']:<12}{row['dropout']:>8}{row['packed']:>17.2e}{row['rounding']:>14.2e}"
                  f"{row['packed'] / row['rounding']:>7.2f}{row['loss_ulps']:>11.0f}")


if __name__ == "__main__":
    main()
