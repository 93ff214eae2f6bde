"""Test loss from a run's fp32 weights and from the fp16 copy `lit-rnn runs export --fp16` ships, side by side.

    lit-rnn runs import ../shared/reference-runs/* --artifacts /tmp/fp32 --accept-incomplete
    .venv/bin/python bench/half_weights.py --artifacts /tmp/fp32     # every run of a registered corpus there
    .venv/bin/python bench/half_weights.py --artifacts /tmp/fp32 --runs f20071b35d6ec472 a4ba2e2402f2fc89

The fp16 copy is made by ``export_run(half=True)`` itself and read back as the book reads it (widened to
fp32); both losses are evaluated on the CPU in exact fp32 over the whole test split.
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from _models import SMOKE_BYTES

from lit_rnn.data import KNOWN_CORPORA, Corpus, load_corpus
from lit_rnn.evaluate import split_loss
from lit_rnn.models import ModelConfig
from lit_rnn.runs import Recipe, Run, RunConfig, export_run, stored_runs
from lit_rnn.settings import resolve_data_dir
from lit_rnn.train import TrainOptions, get_or_train


def compared(run: Run, corpus: Corpus) -> list[str]:
    """One table row: the run's test loss from its fp32 weights and from its fp16 export, on the CPU."""
    cpu = torch.device("cpu")
    batcher = run.config.batcher(corpus)
    full = split_loss(run.load_model(cpu), batcher, "test", cpu)
    with tempfile.TemporaryDirectory() as folder:
        half = Run(run.config, folder)
        export_run(run, half.dir.parent, half=True, snapshots=False)
        rounded = split_loss(half.load_model(cpu), batcher, "test", cpu)
    return [run.config.run_id, corpus.name, run.name, f"{full:.6f}", f"{rounded:.6f}", f"{rounded - full:+.2e}"]


def smoke_run(folder: str, data_dir: str | None) -> tuple[Run, Corpus]:
    """A 1x8 LSTM trained for 2 steps on War and Peace's first bytes, in ``folder``: what ``--smoke`` compares."""
    corpus = load_corpus("warpeace", resolve_data_dir(data_dir)).head(SMOKE_BYTES)
    recipe = Recipe(batch_size=10, seq_length=20, max_steps=2, eval_every=2)
    config = RunConfig(corpus.sha256, ModelConfig("lstm", 1, 8, corpus.vocab_size), recipe)
    return get_or_train(config, corpus, TrainOptions(progress=False), folder), corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", help="a run store holding runs with fp32 weights (required but with --smoke)")
    parser.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    parser.add_argument("--runs", nargs="*", default=None, help="run ids (default: every run in the store)")
    parser.add_argument("--smoke", action="store_true", help="a 2-step tiny run in a temporary store: checks it runs")
    args = parser.parse_args()
    if not args.smoke and not args.artifacts:
        parser.error("--artifacts is required (or --smoke)")
    names = {known.sha256: name for name, known in KNOWN_CORPORA.items()}
    print("| run | corpus | model | test, fp32 weights | test, fp16 weights | difference |")
    print("| --- | --- | --- | --- | --- | --- |")
    if args.smoke:
        with tempfile.TemporaryDirectory() as folder:
            print("| " + " | ".join(compared(*smoke_run(folder, args.data_dir))) + " |")
        return
    for run in stored_runs(args.artifacts):
        chosen = args.runs is None or run.config.run_id in args.runs
        if not chosen or run.config.corpus_sha256 not in names or not run.is_finished:
            continue
        corpus = load_corpus(names[run.config.corpus_sha256], resolve_data_dir(args.data_dir))
        print("| " + " | ".join(compared(run, corpus)) + " |", flush=True)


if __name__ == "__main__":
    main()
