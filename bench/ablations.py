"""Time of scoring many one-cell ablations in one batch against scoring them one at a time.

    .venv/bin/python bench/ablations.py --model artifacts/runs/<id>/best.pt --corpus warpeace --layer 3

Each ablation is a pass over ``--rows`` rows of the test split (their first ``--length`` bytes). The
batched form runs the layers below the ablated one once for all ablations and the rest with every
ablation's rows side by side; reported per ablation, against a plain fused pass over the same rows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _models import SMOKE_BYTES, benchmark_model

from lit_rnn.data import load_corpus
from lit_rnn.interventions import Intervention, intervention_losses, scored_rows
from lit_rnn.settings import resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a weights file (default: an untrained 3x241 LSTM)")
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--layer", type=int, default=3, help="the layer ablated, counted from 1 (default 3)")
    parser.add_argument("--ablations", type=int, default=16)
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.ablations, args.rows, args.length = 2, 2, 20
    corpus = load_corpus(args.corpus, resolve_data_dir())
    corpus = corpus.head(SMOKE_BYTES) if args.smoke else corpus
    model = benchmark_model(args.model, corpus, hidden=16 if args.smoke else 241)
    batcher, device = corpus.batcher(), torch.device("cpu")
    rows = scored_rows(batcher.batch_size, args.rows)
    ablations = [Intervention.ablate(args.layer - 1, [cell]) for cell in range(args.ablations)]

    def timed(interventions) -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        losses = intervention_losses(model, batcher, "test", interventions, rows, device, args.length)
        return time.perf_counter() - start, losses

    plain_s, plain = timed([Intervention()])
    batched_s, batched = timed(ablations)
    single = [timed([ablation]) for ablation in ablations]
    single_s = sum(s for s, _ in single)
    worst = max(float(np.abs(b - s[1][0]).max()) for b, s in zip(batched, single))
    print(f"{model.config.name}, {args.ablations} ablations of layer {args.layer} over {len(rows)} rows x "
          f"{args.length} bytes: plain pass {plain_s:.2f} s; one at a time {single_s / args.ablations:.2f} s each; "
          f"batched {batched_s / args.ablations:.2f} s each ({single_s / batched_s:.1f}x faster); "
          f"largest per-byte loss difference batched vs alone {worst:.1e}")


if __name__ == "__main__":
    main()
