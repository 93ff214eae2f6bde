"""Time of dynamic evaluation against plain evaluation, side by side, over the first bytes of each row of a split.

    .venv/bin/python bench/dynamic_evaluation.py --model artifacts/runs/<id>/best.pt --corpus warpeace
    .venv/bin/python bench/dynamic_evaluation.py --corpus warpeace        # an untrained 3x241 LSTM

Plain evaluation is one forward pass (no gradient, in windows of 1,000 steps, as evaluation runs);
dynamic evaluation a forward pass, a backward pass and an update per window of ``--window`` steps. The
two alternate ``--repeats`` times; the ratio of the medians is reported, with the loss each reaches.
The ``rms`` rule's gradient statistics (a one-off per run and window, cached by the book) are timed
apart.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _models import SMOKE_BYTES, benchmark_model

from lit_rnn.data import load_corpus
from lit_rnn.dynamic import RULES, DynamicConfig, dynamic_loss, gradient_rms
from lit_rnn.evaluate import split_loss
from lit_rnn.settings import resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a weights file (default: an untrained 3x241 LSTM)")
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--split", default="test")
    parser.add_argument("--length", type=int, default=500, help="bytes per row (default 500)")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--decay", type=float, default=0.01)
    parser.add_argument("--rule", choices=RULES, default="rms")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.length, args.repeats = 20, 1
    corpus = load_corpus(args.corpus, resolve_data_dir())
    corpus = corpus.head(SMOKE_BYTES) if args.smoke else corpus
    model = benchmark_model(args.model, corpus, hidden=16 if args.smoke else 241)
    batcher, device = corpus.batcher(), torch.device("cpu")
    config = DynamicConfig(args.learning_rate, args.decay, args.window, args.rule)
    start = time.perf_counter()
    rms = gradient_rms(model, batcher, device, args.window) if args.rule == "rms" else None
    rms_s = time.perf_counter() - start
    times = {"plain": [], "dynamic": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        plain = split_loss(model, batcher, args.split, device, length=args.length)
        times["plain"].append(time.perf_counter() - start)
        start = time.perf_counter()
        dynamic = dynamic_loss(model, batcher, args.split, device, config, args.length, rms)
        times["dynamic"].append(time.perf_counter() - start)
    plain_s, dynamic_s = statistics.median(times["plain"]), statistics.median(times["dynamic"])
    print(f"{model.config.name} on {batcher.batch_size} rows x {args.length} bytes of {args.corpus}/{args.split}, "
          f"{torch.get_num_threads()} threads: plain {plain_s:.2f} s (loss {plain:.4f}), dynamic {dynamic_s:.2f} s "
          f"(loss {dynamic:.4f}, {args.rule} eta {args.learning_rate:g}, window {args.window}): "
          f"{dynamic_s / plain_s:.2f}x" + (f"; gradient RMS once: {rms_s:.2f} s" if rms is not None else ""))


if __name__ == "__main__":
    main()
