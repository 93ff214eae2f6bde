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


def _options(args: argparse.Namespace):
    from lit_rnn.train import TrainOptions, fast_bf16

    bf16 = fast_bf16(args.device) if args.precision == "auto" else args.precision == "bf16"
    return TrainOptions(device=args.device, autocast_bf16=bf16)


def _recipe_overrides(args: argparse.Namespace) -> dict:
    return {k: v for k, v in (("epochs", args.epochs), ("max_steps", args.max_steps)) if v is not None}


def _train(args: argparse.Namespace) -> None:
    from lit_rnn.data import load_corpus
    from lit_rnn.models import ModelConfig
    from lit_rnn.presets import get_preset
    from lit_rnn.train import RunConfig, get_or_train

    corpus = load_corpus(args.corpus, args.data_dir)
    preset = get_preset(args.preset, **_recipe_overrides(args))
    model = ModelConfig(args.cell, args.layers, args.hidden, corpus.vocab_size, args.dropout)
    config = RunConfig(corpus.sha256, model, preset.recipe, args.seed)
    run = get_or_train(config, corpus, _options(args), args.artifacts)
    print(f"{model.name}: best validation loss {run.result['best_val_loss']:.4f} nats/byte "
          f"after {run.result['steps']} steps ({run.dir})")


def _grid(args: argparse.Namespace) -> None:
    from lit_rnn.data import load_corpus
    from lit_rnn.grid import train_grid
    from lit_rnn.presets import get_preset

    corpus = load_corpus(args.corpus, args.data_dir)
    preset = get_preset(args.preset, **_recipe_overrides(args))
    for run in train_grid(preset, corpus, _options(args), args.artifacts, args.jobs):
        model = run.config.model
        print(f"{model.name:<16} dropout {model.dropout:<4} val {run.result['best_val_loss']:.4f}  {run.dir}")


def _baselines(args: argparse.Namespace) -> None:
    from lit_rnn.analysis.compare import finite_horizon_table
    from lit_rnn.study import Study

    study = Study.open(args.corpus, args.preset, args.data_dir, args.artifacts, args.device, args.jobs)
    ngrams, nnns = study.baselines()
    lstms = [run for run in study.finished_runs() if run.config.model.cell == "lstm"]
    best = min(lstms, key=lambda run: run.result["best_val_loss"]) if lstms else None
    print(finite_horizon_table(ngrams, nnns, study.predictions(best) if best else None).round(4).to_string())


def _sample(args: argparse.Namespace) -> None:
    from lit_rnn.data import load_corpus
    from lit_rnn.evaluate import sample
    from lit_rnn.train import load_model

    corpus = load_corpus(args.corpus, args.data_dir)
    model = load_model(args.checkpoint, vocab_size=corpus.vocab_size)
    text = sample(model, corpus, args.prime.encode(), args.length, args.temperature, args.seed)
    sys.stdout.buffer.write(args.prime.encode() + text + b"\n")


def _book(args: argparse.Namespace) -> None:
    from lit_rnn.book import BookConfig, build_book

    build_book(BookConfig(args.preset, tuple(args.corpus), args.device, args.jobs, args.data_dir, args.artifacts))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lit-rnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="corpora: inspect, download, build").add_subparsers(
        dest="data_command", required=True
    )
    info = data.add_parser("info", help="size, vocabulary, split and sha256 of a corpus")
    info.add_argument("corpus", help="a registered name (warpeace, linux) or a file path")
    info.add_argument("--batch-size", type=int, default=100)
    info.add_argument("--seq-length", type=int, default=100)
    info.set_defaults(handler=_data_info)
    fetch = data.add_parser("fetch", help="download War and Peace from Project Gutenberg")
    fetch.add_argument("corpus", choices=["warpeace"])
    fetch.set_defaults(handler=_data_fetch)
    linux = data.add_parser("build-linux", help="build the Linux corpus from a kernel tree or tarball")
    linux.add_argument("--source", required=True, help="kernel source folder or .tar.xz")
    linux.set_defaults(handler=_data_build_linux)

    train = commands.add_parser("train", help="train one model with a preset's recipe")
    train.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="lstm")
    train.add_argument("--layers", type=int, default=2)
    train.add_argument("--hidden", type=int, default=128)
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=_train)
    grid = commands.add_parser("grid", help="train every model of a preset, skipping finished runs")
    grid.add_argument("--jobs", type=int, default=1, help="trainings at once (useful on a GPU)")
    grid.set_defaults(handler=_grid)
    for sub in (train, grid):
        sub.add_argument("--corpus", required=True, help="warpeace, linux or a file path")
        sub.add_argument("--preset", default="small", help="tiny, small or paper")
        sub.add_argument("--epochs", type=float, default=None, help="override the preset's epochs")
        sub.add_argument("--max-steps", type=int, default=None, help="cap the optimisation steps")
        sub.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
        sub.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                         help="bf16 autocast; auto uses it where the hardware runs it natively")
        sub.add_argument("--artifacts", default=None, help="artifacts root (default: $LIT_RNN_HOME or ./artifacts)")

    baselines = commands.add_parser("baselines", help="Table 2: n-gram and n-NN baselines of a preset")
    baselines.add_argument("--corpus", required=True)
    baselines.add_argument("--preset", default="small")
    baselines.add_argument("--device", default="cpu")
    baselines.add_argument("--jobs", type=int, default=1)
    baselines.add_argument("--artifacts", default=None)
    baselines.set_defaults(handler=_baselines)

    sample = commands.add_parser("sample", help="sample text from a trained checkpoint")
    sample.add_argument("checkpoint", help="a run's best.pt")
    sample.add_argument("--corpus", required=True)
    sample.add_argument("--prime", default="\n")
    sample.add_argument("--length", type=int, default=500)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(handler=_sample)

    book = commands.add_parser("book", help="train what a preset needs, execute every chapter, build the site")
    book.add_argument("--preset", default="small")
    book.add_argument("--corpus", nargs="+", default=["warpeace", "linux"], help="corpora the chapters run on")
    book.add_argument("--device", default="cpu")
    book.add_argument("--jobs", type=int, default=1, help="trainings at once")
    book.add_argument("--artifacts", default=None)
    book.set_defaults(handler=_book)

    for sub in (info, fetch, linux, train, grid, baselines, sample, book):
        sub.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
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
