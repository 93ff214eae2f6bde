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
    for sub in (info, fetch, linux):
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
