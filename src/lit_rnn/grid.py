"""Training a preset's whole grid, several runs at once if asked, and choosing dropout on validation.

Two trainers: one run per training (``jobs`` processes at a time), or packs of runs that train as
one computation (:mod:`lit_rnn.packed`), the default on a GPU, where one run leaves it mostly idle.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import ModelConfig
from lit_rnn.packed import pack_groups, train_packed
from lit_rnn.runs import Run, RunConfig, import_shipped
from lit_rnn.train import TrainOptions, get_or_train

TRAINERS = ("auto", "packed", "per-run")


def packs_for(trainer: str, device: torch.device) -> bool:
    """Whether ``trainer`` trains in packs: ``packed``, ``per-run``, or ``auto`` (packs on a GPU, one run per
    training on a CPU, where a pack is not faster)."""
    if trainer not in TRAINERS:
        raise UserError(f"unknown trainer {trainer!r}: choose one of {', '.join(TRAINERS)}")
    return trainer == "packed" or (trainer == "auto" and device.type == "cuda")


def _train_group(group: list[RunConfig], corpus: Corpus, options: TrainOptions, artifacts: str | Path,
                 threads: int | None = None) -> None:
    """One training: a pack of runs, or a single run."""
    if threads is not None:
        torch.set_num_threads(threads)
    if len(group) > 1:
        train_packed(group, corpus, options, artifacts)
    else:
        get_or_train(group[0], corpus, options, artifacts)


def train_runs(
    configs: list[RunConfig],
    corpus: Corpus,
    options: TrainOptions,
    artifacts: str | Path,
    jobs: int = 1,
    *,
    shipped: Path | None = None,
    packed: bool = False,
) -> list[Run]:
    """The finished runs of ``configs``: from the store, imported from ``shipped`` (``pretrained/``) where a
    run is there, trained otherwise, ``jobs`` trainings at a time, each a single run or, with ``packed``, a
    pack of the runs that share architecture and depth (:func:`lit_rnn.packed.pack_groups`)."""
    if shipped is not None:
        import_shipped(configs, shipped, artifacts)
    pending = [c for c in configs if not Run(c, artifacts).is_finished]
    groups = pack_groups(pending) if packed else [[c] for c in pending]
    if jobs <= 1 or len(groups) <= 1:
        for group in groups:
            _train_group(group, corpus, options, artifacts)
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs) if options.device.type == "cpu" else 1
        quiet = replace(options, progress=False)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_train_group, g, corpus, quiet, artifacts, threads) for g in groups]
            for future in tqdm(as_completed(futures), total=len(futures), desc=f"training on {corpus.name}",
                               unit="training", disable=not options.progress):
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
