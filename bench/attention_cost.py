"""What a Transformer costs against the LSTM of the same budget: one training step and evaluation, side by side.

    .venv/bin/python bench/attention_cost.py            # CPU, fp32, one thread, budgets 0-3
    .venv/bin/python bench/attention_cost.py --smoke    # budget 0, small batches: seconds

Per budget, the core preset's Transformer (window 100) and the 1-layer LSTM matched to the same budget
each take optimisation steps on a 100 x 100 batch as ``lit_rnn.train`` takes them (their own recipes'
optimisers) and evaluate 10,000 bytes as ``lit_rnn.evaluate`` does (the Transformer's sliding window:
W/S = 4 passes per byte); medians, measured alternately so a shared machine slows both alike. The
ratio (Transformer / LSTM) is the figure to read; the seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lit_rnn.data import Corpus
from lit_rnn.models import ModelConfig, budget, build_model, matched_hidden_size
from lit_rnn.presets import TRANSFORMERS, get_preset
from lit_rnn.runs import Recipe, RunConfig
from lit_rnn.train import initialise

VOCAB = 87


def timed(work, repeats: int) -> float:
    """Median seconds of ``work()`` over ``repeats`` calls, after one warm-up."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def costs(config: RunConfig, rows: int, length: int, repeats: int) -> tuple[float, float]:
    """Seconds of one training step and of evaluating ``rows`` x ``length`` bytes, for ``config``'s model."""
    model, optimizer = initialise(config, torch.device("cpu"))
    ids = torch.randint(0, VOCAB, (rows, length + 1))
    state = {"train": model.initial_state(rows), "eval": None}

    def step():
        logits, _ = model(ids[:, :-1], state["train"])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    evaluator = build_model(config.model).eval()

    @torch.no_grad()
    def evaluate():
        evaluator(ids[:, :-1])

    return timed(step, repeats), timed(evaluate, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="budget 0, 10 x 100 batches, 2 repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, repeats = (10, 2) if args.smoke else (100, 5)
    corpus = Corpus("random", None, np.arange(VOCAB, dtype=np.uint8).repeat(10))  # only its vocabulary is read
    preset = get_preset("core")
    print("budget  transformer            lstm        train s/step (T, LSTM, ratio)  eval s/10KB (T, LSTM, ratio)")
    for spec in TRANSFORMERS[:1] if args.smoke else [s for s in TRANSFORMERS if s.window == 100]:
        transformer = preset.transformer_config(spec, corpus)
        hidden = matched_hidden_size("lstm", 1, budget(spec.budget_index, VOCAB), VOCAB)
        lstm = RunConfig(corpus.sha256, ModelConfig("lstm", 1, hidden, VOCAB), Recipe())
        (t_step, t_eval), (l_step, l_eval) = (costs(c, rows, 100, repeats) for c in (transformer, lstm))
        scale = 10_000 / (rows * 100)
        print(f"{spec.budget_index:>6}  {transformer.model.name:<22} {lstm.model.name:<11} "
              f"{t_step:7.3f} {l_step:7.3f} {t_step / l_step:6.1f}x        "
              f"{t_eval * scale:7.3f} {l_eval * scale:7.3f} {t_eval / l_eval:6.1f}x")


if __name__ == "__main__":
    main()
