"""``lit-rnn``: thin command-line wrappers over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lit_rnn.errors import UserError

TABLE1_PART = ("architectures", "layers", "budgets", "dropouts", "seeds")  # `lit-rnn grid`'s flags for a part of it


def _data_info(args: argparse.Namespace) -> None:
    from lit_rnn.data import KNOWN_CORPORA, byte_label, load_corpus
    from lit_rnn.settings import resolve_data_dir

    corpus = load_corpus(args.corpus, resolve_data_dir(args.data_dir))
    batcher = corpus.batcher(args.batch_size, args.seq_length)
    print(f"corpus      {corpus.name}  ({corpus.path})")
    print(f"size        {len(corpus):,} bytes")
    print(f"vocabulary  {corpus.vocab_size} distinct bytes")
    print("            " + " ".join(byte_label(int(b)) for b in corpus.vocab))
    print(f"sha256      {corpus.sha256}")
    known = KNOWN_CORPORA.get(corpus.name)
    if known is not None:
        verdict = "matches the reference" if corpus.sha256 == known.sha256 else "DIFFERS from the reference"
        print(f"reference   {verdict} ({known.sha256})")
    print(f"batches     {batcher.n_batches} of {batcher.batch_size}x{batcher.seq_length} "
          f"({len(corpus) - batcher.n_batches * batcher.bytes_per_batch:,} trailing bytes trimmed)")
    for split in ("train", "val", "test"):
        span = batcher.batch_range(split)
        print(f"{split:<11} {len(span)} batches, {batcher.split_bytes(split):,} bytes")


def _report_corpus(name: str, path, matches: bool) -> None:
    if matches:
        print(f"{name}: {path} (sha256 matches the reference)")
    else:
        print(f"WARNING: {name}: {path} differs from the reference (sha256 mismatch); results will "
              "not be comparable to the paper's or this project's reference figures", file=sys.stderr)


def _data_fetch(args: argparse.Namespace) -> None:
    from lit_rnn.data import KNOWN_CORPORA, load_corpus
    from lit_rnn.settings import resolve_data_dir

    for name in args.corpus:
        corpus = load_corpus(name, resolve_data_dir(args.data_dir))  # obtains it if the data directory lacks it
        _report_corpus(name, corpus.path, corpus.sha256 == KNOWN_CORPORA[name].sha256)


def _data_build_linux(args: argparse.Namespace) -> None:
    from lit_rnn.obtain import write_linux_corpus
    from lit_rnn.settings import resolve_data_dir

    _report_corpus("linux", *write_linux_corpus(args.source, resolve_data_dir(args.data_dir)))


def _train(args: argparse.Namespace) -> None:
    from lit_rnn.models import ModelConfig
    from lit_rnn.runs import RunConfig
    from lit_rnn.settings import settings_from_args
    from lit_rnn.train import get_or_train

    settings = settings_from_args(args)
    corpus = settings.corpus
    model = ModelConfig(args.architecture, args.n_layers, args.hidden, corpus.vocab_size, args.dropout)
    config = RunConfig(corpus.sha256, model, settings.preset.recipe, args.seed)
    run = get_or_train(config, corpus, settings.train_options, settings.artifacts)
    print(f"{model.name}: best validation loss {run.result.best_val_loss:.4f} nats/byte "
          f"after {run.result.steps} steps ({run.dir})")


def _grid(args: argparse.Namespace) -> None:
    from dataclasses import replace
    from pathlib import Path

    from lit_rnn.grid import ClusterOptions, packs_for, train_runs
    from lit_rnn.settings import settings_from_args

    settings = settings_from_args(args)
    cluster = ClusterOptions(args.executor, args.partition, args.time_min, args.gpus_per_job, args.cpus_per_job,
                             args.precision, Path(args.logs) if args.logs else None)
    device = settings.device if cluster.executor == "process" else cluster.job_device
    part = {key: tuple(values) for key in TABLE1_PART if (values := getattr(args, key)) is not None}
    configs = settings.preset.table1_configs(settings.corpus, **part) if part else settings.preset.run_configs(
        settings.corpus)
    if not configs:
        preset, every = settings.preset, settings.preset.table1_configs(settings.corpus)
        has = {"architectures": {c.model.architecture for c in every}, "layers": {c.model.n_layers for c in every},
               "budgets": {s.budget_index for s in (*preset.grid, *preset.replicates)},
               "dropouts": {c.model.dropout for c in every}, "seeds": {c.seed for c in every}}

        def listed(values) -> str:
            return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)

        raise UserError(f"no run of the {preset.name} preset's grid or replicates has "
                        + ", ".join(f"{key} {listed(part[key])}" for key in part)
                        + "; it has " + ", ".join(f"{key} {listed(sorted(has[key]))}" for key in part))
    options = replace(settings.train_options, cuda_graphs=args.cuda_graphs)
    for run in train_runs(configs, settings.corpus, options, settings.artifacts, settings.jobs,
                          shipped=settings.shipped, packed=packs_for(args.trainer, device), pack_by=args.pack_by,
                          streams=args.streams, cluster=cluster):
        model = run.config.model
        print(f"{model.name:<16} dropout {model.dropout:<4} val {run.result.best_val_loss:.4f}  {run.dir}")


def _baselines(args: argparse.Namespace) -> None:
    from lit_rnn.analysis.compare import finite_horizon_table
    from lit_rnn.runs import Run
    from lit_rnn.settings import settings_from_args
    from lit_rnn.study import Study

    study = Study(settings_from_args(args))
    ngrams, nnns = study.baselines()
    grid_done = all(Run(c, study.artifacts).is_finished for c in study.preset.run_configs(study.corpus))
    print(finite_horizon_table(ngrams, nnns).round(4).to_string())
    if grid_done:
        best = study.predictions(study.best("lstm"))
        print(f"{best.name}: {best.cross_entropy:.4f}")


def _runs_list(args: argparse.Namespace) -> None:
    from lit_rnn.runs import run_table
    from lit_rnn.settings import resolve_artifacts

    table = run_table(resolve_artifacts(args.artifacts))
    print(table.to_string(index=False) if len(table) else f"no runs in {resolve_artifacts(args.artifacts)}")


def _runs_export(args: argparse.Namespace) -> None:
    from lit_rnn.runs import Run, export_run, stored_runs
    from lit_rnn.settings import resolve_artifacts

    stored = {run.config.run_id: run for run in stored_runs(resolve_artifacts(args.artifacts))}
    missing = [run_id for run_id in args.run if run_id not in stored]
    if missing:
        raise UserError(f"no run {', '.join(missing)} in the store; `lit-rnn runs list` shows what it holds")
    for run_id in args.run:
        run: Run = stored[run_id]
        if args.weightless:
            folder = _export_weightless(run, args)
        else:
            if args.sampled_snapshots and not args.no_snapshots:
                _sample_snapshots(run, args)
            folder = export_run(run, args.destination, half=args.fp16, snapshots=not args.no_snapshots,
                                sampled=args.sampled_snapshots)
        print(f"exported {run.name}{' weightless' if args.weightless else ''} to {folder}")


def _sample_snapshots(run, args: argparse.Namespace) -> None:
    """Compute (once: cached in the store) each snapshot's sampled test predictions, which ship in its place."""
    from lit_rnn.devices import resolve_device
    from lit_rnn.evaluate import sampled_snapshots

    sampled_snapshots(run, _run_corpus(run.config.corpus_sha256, args.corpus, args.data_dir),
                      resolve_device(args.device))


def _export_weightless(run, args: argparse.Namespace):
    """Export a run without its weights, computing its test predictions first where the store lacks them."""
    from lit_rnn.analysis.compare import bootstrap_std
    from lit_rnn.devices import resolve_device
    from lit_rnn.evaluate import predictions
    from lit_rnn.predictions import Predictions
    from lit_rnn.runs import TEST_PREDICTIONS, export_weightless

    cached = run.dir / TEST_PREDICTIONS
    test = Predictions.load(cached) if cached.exists() else predictions(
        run, _run_corpus(run.config.corpus_sha256, args.corpus, args.data_dir), "test", resolve_device(args.device))
    return export_weightless(run, args.destination, bootstrap_std(test))


def _run_corpus(sha256: str, name_or_path: str | None, data_dir: str | None):
    """The corpus a run was trained on: ``name_or_path`` or a registered corpus, whole or cut to a preset's size."""
    from lit_rnn.data import KNOWN_CORPORA, load_corpus
    from lit_rnn.presets import PRESETS
    from lit_rnn.settings import resolve_data_dir

    for name in [name_or_path] if name_or_path else list(KNOWN_CORPORA):
        corpus = load_corpus(name, resolve_data_dir(data_dir))
        for size in [None, *(p.max_bytes for p in PRESETS.values() if p.max_bytes)]:
            cut = corpus.head(size) if size else corpus
            if cut.sha256 == sha256:
                return cut
    raise UserError(f"no corpus {'named' if name_or_path else 'registered'} here has sha256 {sha256[:16]}…, the run's; "
                    "pass --corpus with the file it was trained on")


def _runs_import(args: argparse.Namespace) -> None:
    import json
    from pathlib import Path

    from lit_rnn.runs import import_run
    from lit_rnn.settings import resolve_artifacts

    try:
        provenance = json.loads(Path(args.provenance).read_text()) if args.provenance else None
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read the provenance file {args.provenance}: {error}") from error
    for folder in args.path:
        run, what = import_run(folder, resolve_artifacts(args.artifacts), accept_incomplete=args.accept_incomplete,
                               provenance=provenance)
        print(f"{run.config.run_id} {run.name}: {what}")


def _sample(args: argparse.Namespace) -> None:
    from lit_rnn.data import load_corpus
    from lit_rnn.devices import resolve_device
    from lit_rnn.evaluate import sample
    from lit_rnn.models import load_model
    from lit_rnn.settings import resolve_data_dir

    corpus = load_corpus(args.corpus, resolve_data_dir(args.data_dir))
    model = load_model(args.checkpoint, resolve_device(args.device), vocab_size=corpus.vocab_size)
    text = sample(model, corpus, args.prime.encode(), args.length, args.temperature, args.seed)
    sys.stdout.buffer.write(args.prime.encode() + text + b"\n")


def _book(args: argparse.Namespace) -> None:
    from lit_rnn.book import BookConfig, build_book
    from lit_rnn.settings import settings_from_args

    build_book(BookConfig(tuple(settings_from_args(args, corpus) for corpus in args.corpus)))


def _gpu_window(args: argparse.Namespace) -> None:
    from lit_rnn.window import main

    main(args)


def build_parser() -> argparse.ArgumentParser:
    from lit_rnn.data import KNOWN_CORPORA
    from lit_rnn.grid import EXECUTORS
    from lit_rnn.packed import PACK_BY
    from lit_rnn.settings import settings_parser

    parser = argparse.ArgumentParser(prog="lit-rnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    # --preset --device --precision --jobs --data-dir --artifacts --retrain --trainer --language
    settings = settings_parser()

    data = commands.add_parser("data", help="corpora: inspect, download, build").add_subparsers(
        dest="data_command", required=True
    )
    info = data.add_parser("info", parents=[data_dir], help="size, vocabulary, split and sha256 of a corpus")
    info.add_argument("corpus", help="a registered name (warpeace, linux) or a file path")
    info.add_argument("--batch-size", type=int, default=100)
    info.add_argument("--seq-length", type=int, default=100)
    info.set_defaults(handler=_data_info)
    fetch = data.add_parser("fetch", parents=[data_dir],
                            help="obtain the reference corpora now, as any command does on first use")
    fetch.add_argument("corpus", nargs="+", choices=list(KNOWN_CORPORA))
    fetch.set_defaults(handler=_data_fetch)
    linux = data.add_parser("build-linux", parents=[data_dir],
                            help="build the Linux corpus from any kernel tree or tarball (warns if it differs)")
    linux.add_argument("--source", required=True, help="kernel source folder or .tar.xz")
    linux.set_defaults(handler=_data_build_linux)

    recipe = argparse.ArgumentParser(add_help=False)
    recipe.add_argument("--corpus", required=True, help="warpeace, linux or a file path")
    recipe.add_argument("--epochs", type=float, default=None, help="override the preset's epochs")
    recipe.add_argument("--max-steps", type=int, default=None, help="cap the optimisation steps")
    train = commands.add_parser("train", parents=[settings, recipe], help="train one model with a preset's recipe")
    train.add_argument("--architecture", choices=["rnn", "lstm", "gru"], default="lstm")
    train.add_argument("--layers", dest="n_layers", type=int, default=2)
    train.add_argument("--hidden", type=int, default=128)
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=_train)
    grid = commands.add_parser("grid", parents=[settings, recipe],
                               help="train every model of a preset, skipping finished runs")
    grid.add_argument("--executor", choices=EXECUTORS, default="process",
                      help="where the trainings run: process (here: in-process, or --jobs processes); local or slurm: "
                           "one submitit job per pack (slurm: the run store on a file system the nodes share)")
    grid.add_argument("--pack-by", choices=PACK_BY, default="depth",
                      help="packed trainer: a pack per architecture and depth, per model (its dropouts) or per run")
    grid.add_argument("--streams", type=int, default=1,
                      help="packed trainer: packs trained at once in this process, each on its own CUDA stream "
                           "(lit-rnn gpu-window measures which grouping is fastest on a GPU)")
    grid.add_argument("--cuda-graphs", action="store_true",
                      help="packed trainer on a GPU: capture each pack's step once as a CUDA graph and replay it "
                           "(lit-rnn gpu-window checks the graphs against the eager step before it uses them)")
    grid.add_argument("--partition", default=None, help="slurm: the partition (default: the cluster's)")
    grid.add_argument("--time-min", type=int, default=240,
                      help="local/slurm: a job's time limit in minutes; a job cut by it is requeued and resumes")
    grid.add_argument("--gpus-per-job", type=int, default=1, help="local/slurm: GPUs per job (0: CPU jobs)")
    grid.add_argument("--cpus-per-job", type=int, default=4, help="local/slurm: CPUs per job (its torch threads)")
    grid.add_argument("--logs", default=None, help="local/slurm: submitit's log folder (default: ARTIFACTS/submitit)")
    part = grid.add_argument_group("a part of Table 1", "any of these trains only the preset's grid and replicate "
                                   "runs that match every one given (e.g. --budgets 1 --dropouts 0 on a CPU)")
    part.add_argument("--architectures", nargs="+", choices=["rnn", "lstm", "gru"], default=None,  # RECURRENT's,
                      help="cells")  # not imported: this module imports torch only when a command runs
    part.add_argument("--layers", nargs="+", type=int, default=None, help="depths (1 to 3)")
    part.add_argument("--budgets", nargs="+", type=int, default=None,
                      help="budget indices from 0, the smallest (the paper's: a 1-layer LSTM of 64, 128, 256 or 512 "
                           "cells)")
    part.add_argument("--dropouts", nargs="+", type=float, default=None, help="(the paper preset's: 0 0.25 0.5)")
    part.add_argument("--seeds", nargs="+", type=int, default=None,
                      help="the grid's seed, or the replicates' (the paper preset's: 0; 1 2 3 4)")
    grid.set_defaults(handler=_grid)

    baselines = commands.add_parser("baselines", parents=[settings],
                                    help="Table 2: n-gram and n-NN baselines of a preset")
    baselines.add_argument("--corpus", required=True, help="warpeace, linux or a file path")
    baselines.set_defaults(handler=_baselines)

    artifacts = argparse.ArgumentParser(add_help=False)
    artifacts.add_argument("--artifacts", default=None, help="artifacts folder (default: $LIT_RNN_HOME or ./artifacts)")
    runs = commands.add_parser("runs", help="the run store: list, export, import").add_subparsers(
        dest="runs_command", required=True)
    listing = runs.add_parser("list", parents=[artifacts], help="every run in the store, with its losses")
    listing.set_defaults(handler=_runs_list)
    export = runs.add_parser("export", parents=[artifacts], help="copy finished runs out of the store")
    export.add_argument("run", nargs="+", help="run ids (see `lit-rnn runs list`)")
    export.add_argument("destination", help="folder to copy them into (one folder per run)")
    export.add_argument("--fp16", action="store_true", help="store the weights in fp16 (half the size)")
    export.add_argument("--no-snapshots", action="store_true", help="leave the early snapshots behind")
    export.add_argument("--weightless", action="store_true",
                        help="leave the weights behind: results and summarised test predictions only (what Table 1 "
                             "and Figure 1 need), computing the predictions if the store lacks them")
    export.add_argument("--sampled-snapshots", action="store_true",
                        help="ship each snapshot as its test distributions at a fixed sample of test positions (what "
                             "chapter 6's training dynamics reads), not as weights, computing them if the store lacks "
                             "them")
    export.add_argument("--corpus", default=None,
                        help="with --weightless or --sampled-snapshots: the run's corpus, if not a registered one")
    export.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    export.add_argument("--device", default="auto",
                        help="with --weightless or --sampled-snapshots: where to compute the predictions")
    export.set_defaults(handler=_runs_export)
    imports = runs.add_parser("import", parents=[artifacts],
                              help="bring run folders trained elsewhere into the store, after checking them")
    imports.add_argument("path", nargs="+", help="run folders (named by their config hash)")
    imports.add_argument("--accept-incomplete", action="store_true",
                         help="import a run that stopped before its recipe ended, marked as cut short")
    imports.add_argument("--provenance", default=None,
                         help="a JSON file of facts about how the runs were trained, kept in provenance.json")
    imports.set_defaults(handler=_runs_import)

    sample = commands.add_parser("sample", parents=[data_dir], help="sample text from a trained checkpoint")
    sample.add_argument("checkpoint", help="a run's best.pt")
    sample.add_argument("--corpus", required=True, help="the corpus the checkpoint was trained on")
    sample.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    sample.add_argument("--prime", default="\n")
    sample.add_argument("--length", type=int, default=500)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(handler=_sample)

    book = commands.add_parser("book", parents=[settings],
                               help="train what a preset needs, execute every chapter, build the site")
    book.add_argument("--corpus", nargs="+", default=["warpeace", "linux"], help="corpora the chapters run on")
    book.set_defaults(handler=_book)

    from lit_rnn.window import add_arguments

    window = commands.add_parser("gpu-window", help="check a GPU, train what the store lacks until a deadline, "
                                 "export it and report")
    add_arguments(window)
    window.set_defaults(handler=_gpu_window)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except UserError as error:
        print(f"lit-rnn: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lit-rnn: interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
