"""``lit-rnn``: thin command-line wrappers over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lit_rnn.errors import UserError


def _data_info(args: argparse.Namespace) -> None:
    from lit_rnn.data import KNOWN_CORPORA, byte_label, load_corpus

    corpus = load_corpus(args.corpus, args.data_dir)
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


def _report_written(path, matches: bool, what: str) -> None:
    print(f"wrote {path}")
    if matches:
        print(f"sha256 matches the reference {what}")
    else:
        print(f"WARNING: {path} differs from the reference {what} (sha256 mismatch); results will "
              "not be comparable to the paper's or this project's reference figures", file=sys.stderr)


def _data_fetch(args: argparse.Namespace) -> None:
    from lit_rnn.data import fetch_war_and_peace

    if args.corpus != "warpeace":
        raise UserError("only `warpeace` can be downloaded; build `linux` with `lit-rnn data build-linux`")
    _report_written(*fetch_war_and_peace(args.data_dir), what="War and Peace")


def _data_build_linux(args: argparse.Namespace) -> None:
    from lit_rnn.data import write_linux_corpus

    _report_written(*write_linux_corpus(args.source, args.data_dir), what="Linux corpus")


def _train(args: argparse.Namespace) -> None:
    from lit_rnn.models import ModelConfig
    from lit_rnn.runs import RunConfig
    from lit_rnn.settings import settings_from_args
    from lit_rnn.train import get_or_train

    settings = settings_from_args(args)
    corpus = settings.corpus
    model = ModelConfig(args.architecture, args.layers, args.hidden, corpus.vocab_size, args.dropout)
    config = RunConfig(corpus.sha256, model, settings.preset.recipe, args.seed)
    run = get_or_train(config, corpus, settings.train_options, settings.artifacts)
    print(f"{model.name}: best validation loss {run.result.best_val_loss:.4f} nats/byte "
          f"after {run.result.steps} steps ({run.dir})")


def _grid(args: argparse.Namespace) -> None:
    from lit_rnn.grid import train_runs
    from lit_rnn.settings import settings_from_args

    settings = settings_from_args(args)
    configs = settings.preset.run_configs(settings.corpus)
    for run in train_runs(configs, settings.corpus, settings.train_options, settings.artifacts, settings.jobs):
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
    best = study.predictions(study.best("lstm")) if grid_done else None
    print(finite_horizon_table(ngrams, nnns, best).round(4).to_string())


def _sample(args: argparse.Namespace) -> None:
    from lit_rnn.data import load_corpus
    from lit_rnn.devices import resolve_device
    from lit_rnn.evaluate import sample
    from lit_rnn.models import load_model

    corpus = load_corpus(args.corpus, args.data_dir)
    model = load_model(args.checkpoint, resolve_device(args.device), vocab_size=corpus.vocab_size)
    text = sample(model, corpus, args.prime.encode(), args.length, args.temperature, args.seed)
    sys.stdout.buffer.write(args.prime.encode() + text + b"\n")


def _book(args: argparse.Namespace) -> None:
    from lit_rnn.book import BookConfig, build_book

    build_book(BookConfig(corpora=tuple(args.corpus), preset=args.preset, device=args.device,
                          precision=args.precision, language=args.language, jobs=args.jobs, data_dir=args.data_dir,
                          artifacts=args.artifacts))


def build_parser() -> argparse.ArgumentParser:
    from lit_rnn.settings import settings_parser

    parser = argparse.ArgumentParser(prog="lit-rnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    settings = settings_parser()  # --preset, --device, --precision, --jobs, --data-dir, --artifacts

    data = commands.add_parser("data", help="corpora: inspect, download, build").add_subparsers(
        dest="data_command", required=True
    )
    info = data.add_parser("info", parents=[data_dir], help="size, vocabulary, split and sha256 of a corpus")
    info.add_argument("corpus", help="a registered name (warpeace, linux) or a file path")
    info.add_argument("--batch-size", type=int, default=100)
    info.add_argument("--seq-length", type=int, default=100)
    info.set_defaults(handler=_data_info)
    fetch = data.add_parser("fetch", parents=[data_dir], help="download War and Peace from Project Gutenberg")
    fetch.add_argument("corpus", choices=["warpeace"])
    fetch.set_defaults(handler=_data_fetch)
    linux = data.add_parser("build-linux", parents=[data_dir],
                            help="build the Linux corpus from a kernel tree or tarball")
    linux.add_argument("--source", required=True, help="kernel source folder or .tar.xz")
    linux.set_defaults(handler=_data_build_linux)

    recipe = argparse.ArgumentParser(add_help=False)
    recipe.add_argument("--corpus", required=True, help="warpeace, linux or a file path")
    recipe.add_argument("--epochs", type=float, default=None, help="override the preset's epochs")
    recipe.add_argument("--max-steps", type=int, default=None, help="cap the optimisation steps")
    train = commands.add_parser("train", parents=[settings, recipe], help="train one model with a preset's recipe")
    train.add_argument("--architecture", choices=["rnn", "lstm", "gru"], default="lstm")
    train.add_argument("--layers", type=int, default=2)
    train.add_argument("--hidden", type=int, default=128)
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=_train)
    grid = commands.add_parser("grid", parents=[settings, recipe],
                               help="train every model of a preset, skipping finished runs")
    grid.set_defaults(handler=_grid)

    baselines = commands.add_parser("baselines", parents=[settings],
                                    help="Table 2: n-gram and n-NN baselines of a preset")
    baselines.add_argument("--corpus", required=True, help="warpeace, linux or a file path")
    baselines.set_defaults(handler=_baselines)

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
