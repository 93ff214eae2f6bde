"""Training a preset's whole grid, several runs at once if asked, and choosing dropout on validation."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from lit_rnn.data import Corpus
from lit_rnn.models import ModelConfig
from lit_rnn.runs import Run, RunConfig, import_shipped
from lit_rnn.train import TrainOptions, get_or_train


def _train_one(config: RunConfig, corpus: Corpus, options: TrainOptions, artifacts: str | None, threads: int) -> str:
    torch.set_num_threads(threads)
    return get_or_train(config, corpus, options, artifacts).config.run_id


def train_runs(
    configs: list[RunConfig],
    corpus: Corpus,
    options: TrainOptions = TrainOptions(),
    artifacts: str | Path | None = None,
    jobs: int = 1,
    shipped: Path | None = None,
) -> list[Run]:
    """The finished runs of ``configs``: from the store, imported from ``shipped`` (``pretrained/``) where a
    run is there, trained otherwise, ``jobs`` trainings at a time."""
    if shipped is not None:
        import_shipped(configs, shipped, artifacts)
    pending = [c for c in configs if not Run(c, artifacts).is_finished]
    if jobs <= 1 or len(pending) <= 1:
        for config in pending:
            get_or_train(config, corpus, options, artifacts)
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs) if options.device.type == "cpu" else 1
        quiet = replace(options, progress=False)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            folder = str(artifacts) if artifacts else None
            futures = [pool.submit(_train_one, c, corpus, quiet, folder, threads) for c in pending]
            for future in tqdm(as_completed(futures), total=len(futures), desc=f"training on {corpus.name}",
                               unit="run", disable=not options.progress):
                future.result()
    return [Run(c, artifacts) for c in configs]


def choose_dropout(runs: list[Run]) -> list[Run]:
    """Per model (its whole config but dropout: every n-NN is its own model), the run whose dropout gave the
    lowest validation loss."""
    best: dict[ModelConfig, Run] = {}
    for run in runs:
        key = replace(run.config.model, dropout=0.0)
        if key not in best or run.result.best_val_loss < best[key].result.best_val_loss:
            best[key] = run
    return list(best.values())
