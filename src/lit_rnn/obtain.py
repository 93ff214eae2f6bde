"""The reference corpora: their registry, their recipes, and obtaining them on first use, checked by sha256.

:data:`KNOWN_CORPORA` names the corpora the paper uses and the bytes each must hold; the recipes
(:func:`char_rnn_war_and_peace`, :func:`build_linux_corpus`) make them from their sources. This module
knows nothing of splits or models: :mod:`lit_rnn.data` imports it, never the reverse.

When a registered corpus is missing from the data directory, :func:`lit_rnn.data.resolve_corpus_path`
calls :func:`obtain`, which tries the corpus's ways in order and writes the first result whose
sha256 is the reference's (nothing else is ever written under a corpus's name):

- War and Peace: char-rnn's ``warpeace_input.txt`` as Karpathy published it beside char-rnn; else
  Project Gutenberg's eBook #2600 put in char-rnn's form (:func:`char_rnn_war_and_peace`),
  which counts only if it reproduces the reference bytes (Gutenberg revises its texts).
- Linux: the recipe (:func:`build_linux_corpus`) on the kernel tarball of Debian's
  ``linux-source-6.1`` where it is installed, else on the one inside the pinned 6.1.192-2 package.

Downloads go through pooch into ``<data dir>/downloads/`` and are kept there: a progress bar, a
temporary file renamed only once its sha256 is the pinned one, retries that restart an interrupted
transfer, and a finished download reused. Offline, the error names the files to put in place by hand.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import random
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lit_rnn.atomic import atomic_write_bytes
from lit_rnn.errors import UserError

DOWNLOADS = "downloads"  # the data directory's folder for downloaded sources
RETRIES = 2  # further attempts after a failed transfer, each from the start


@dataclass(frozen=True)
class KnownCorpus:
    """A corpus the paper uses: where it lives in the data directory and the bytes it must hold.

    A registered corpus missing from the data directory is obtained on first use (:func:`obtain`).
    """

    name: str
    filename: str
    n_bytes: int
    sha256: str
    language: str  # what the reference signals lex it as: a Pygments lexer name, or "text" for prose


KNOWN_CORPORA = {
    "warpeace": KnownCorpus(
        name="warpeace",
        filename="warpeace_input.txt",
        n_bytes=3_258_246,
        sha256="fb66ba999dafe24017cdd59e04c56d385a9c8466993d374fd4c6f08b2142985e",
        language="text",
    ),
    "linux": KnownCorpus(
        name="linux",
        filename="linux_input.txt",
        n_bytes=6_206_996,
        sha256="23bf5331767050f11daa148bf2845f3c038aecb9ea621ffb9f7ecf9738aa088f",
        language="c",
    ),
}


# -- The recipes of the reference corpora ----------------------------------------------------

WAR_AND_PEACE_FIRST_LINE = '"Well, Prince, so Genoa and Lucca'
WAR_AND_PEACE_LAST_WORDS = "conscious."


def char_rnn_war_and_peace(gutenberg_text: bytes) -> bytes:
    """The char-rnn form of Gutenberg's War and Peace: the novel's text alone, CRLF, with a BOM.

    The title page, contents and Gutenberg licence are dropped: the text starts at
    the first sentence of Book One and ends with the Second Epilogue's last word.
    """
    text = gutenberg_text.decode("utf-8-sig").replace("\r\n", "\n")
    start = text.find(WAR_AND_PEACE_FIRST_LINE)
    end_marker = text.find("*** END OF")
    body_end = text.rfind(WAR_AND_PEACE_LAST_WORDS, 0, end_marker if end_marker >= 0 else None)
    if start < 0 or body_end < 0:
        raise UserError("the downloaded file does not look like Project Gutenberg's War and Peace")
    body = text[start : body_end + len(WAR_AND_PEACE_LAST_WORDS)]
    return "\ufeff".encode() + body.replace("\n", "\r\n").encode("utf-8")


LINUX_SEED = 1506


def _tree_root(names: list[str]) -> str:
    """The top-level folder that a kernel tarball unpacks into ('' if it has none)."""
    tops = {name.split("/", 1)[0] for name in names}
    return tops.pop() + "/" if len(tops) == 1 and all("/" in n for n in names) else ""


def linux_source_files(source: Path) -> tuple[list[str], Callable[[list[str]], dict[str, bytes]]]:
    """The ``.c``/``.h`` files of a kernel tree or tarball, and a reader for them.

    A file is what ``Path.is_file()`` accepts in the unpacked tree, so a symbolic link to a
    regular file counts (with its target's bytes); 13 such links are in Linux 6.1.
    """
    source = Path(source)
    if source.is_dir():
        paths = [str(p.relative_to(source)) for p in source.rglob("*") if p.suffix in (".c", ".h") and p.is_file()]
        return paths, lambda wanted: {p: (source / p).read_bytes() for p in wanted}
    if not tarfile.is_tarfile(source):
        raise UserError(f"{source} is neither a kernel source folder nor a tarball")
    with tarfile.open(source) as tar:
        members = {m.name: m for m in tar if m.isreg() or m.issym()}
    root = _tree_root(list(members))

    def target(name: str) -> str | None:
        """The regular file a member stands for, following symbolic links inside the tree."""
        for _ in range(40):
            member = members.get(name)
            if member is None or member.isreg():
                return name if member is not None else None
            name = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
        return None

    sources = {name[len(root) :]: target(name) for name in members if name.endswith((".c", ".h"))}
    sources = {path: real for path, real in sources.items() if real is not None}

    def read(wanted: list[str]) -> dict[str, bytes]:
        by_member: dict[str, list[str]] = {}
        for path in wanted:
            by_member.setdefault(sources[path], []).append(path)
        found = {}
        with tarfile.open(source) as tar:
            for member in tar:
                for path in by_member.get(member.name, ()):
                    found[path] = tar.extractfile(member).read()
        return found

    return list(sources), read


def build_linux_corpus(source: str | Path, n_bytes: int = KNOWN_CORPORA["linux"].n_bytes,
                       seed: int = LINUX_SEED) -> bytes:
    """The paper's Linux corpus: shuffled ``.c``/``.h`` files concatenated and cut to ``n_bytes``.

    Paths relative to the tree root are sorted as Python sorts strings, shuffled with
    ``random.Random(seed)``, and whole files are appended until ``n_bytes`` is reached.
    """
    source = Path(source)
    if not source.exists():
        raise UserError(f"kernel source {source} not found; give a source folder or a .tar.xz")
    paths, read = linux_source_files(source)
    if not paths:
        raise UserError(f"no .c or .h files found in {source}")
    paths.sort()
    random.Random(seed).shuffle(paths)
    # Read only as many files as the corpus needs; sizes are unknown before reading, so read
    # in growing rounds (a tarball is read sequentially, once per round).
    chosen: list[str] = []
    contents: dict[str, bytes] = {}
    total, next_index, round_size = 0, 0, 512
    while total < n_bytes and next_index < len(paths):
        batch = paths[next_index : next_index + round_size]
        contents.update(read(batch))
        for path in batch:
            chosen.append(path)
            total += len(contents[path])
            if total >= n_bytes:
                break
        next_index += len(batch)
        round_size *= 4
    corpus = b"".join(contents[p] for p in chosen)
    if len(corpus) < n_bytes:
        raise UserError(f"the source tree holds only {len(corpus):,} bytes of C; {n_bytes:,} are needed")
    return corpus[:n_bytes]


def write_linux_corpus(source: str | Path, data_dir: Path) -> tuple[Path, bool]:
    """Build the Linux corpus into the data directory; returns its path and whether it matches."""
    known = KNOWN_CORPORA["linux"]
    corpus = build_linux_corpus(source)
    path = Path(data_dir) / known.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, corpus)
    return path, hashlib.sha256(corpus).hexdigest() == known.sha256


# -- Obtaining them ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """A file to download: its name, the sha256 it must have (None where the publisher revises it) and
    the URLs that serve it, tried in order."""

    filename: str
    sha256: str | None
    urls: tuple[str, ...]


WAR_AND_PEACE = Download(
    filename="warpeace_input.txt",
    sha256=KNOWN_CORPORA["warpeace"].sha256,
    urls=("https://cs.stanford.edu/people/karpathy/char-rnn/warpeace_input.txt",),
)
GUTENBERG_WAR_AND_PEACE = Download(
    filename="pg2600.txt",
    sha256=None,
    urls=("https://www.gutenberg.org/cache/epub/2600/pg2600.txt",),
)
LINUX_SOURCE_PACKAGE = Download(
    filename="linux-source-6.1_6.1.192-2_all.deb",
    sha256="ae95fe63d4c553f8d0e6c86cb1ab566f3894a43743eb19ab585cd97d82f26514",
    urls=(
        "https://deb.debian.org/debian-security/pool/updates/main/l/linux/linux-source-6.1_6.1.192-2_all.deb",
        # The snapshot archive serves every file Debian ever published, by its sha1, for good.
        "https://snapshot.debian.org/file/68f40866ca310be49762f0b2552e656eae72a14f",
    ),
)
KERNEL_TARBALL = "usr/src/linux-source-6.1.tar.xz"  # inside the package, and where it installs it
INSTALLED_KERNEL_TARBALL = Path("/") / KERNEL_TARBALL


@dataclass(frozen=True)
class Way:
    """One way of obtaining a corpus: a source (a download, or a file that may be installed) and the
    function that turns the source file into the corpus's bytes."""

    what: str
    source: Download | Path
    make: Callable[[Path], bytes]


class Unavailable(Exception):
    """A source that cannot be had here (offline, not installed, a wrong checksum)."""


def _war_and_peace_from_gutenberg(text: Path) -> bytes:
    return char_rnn_war_and_peace(text.read_bytes())


def _linux_corpus(tarball: Path) -> bytes:
    return build_linux_corpus(tarball, n_bytes=KNOWN_CORPORA["linux"].n_bytes)


def _linux_corpus_from_package(package: Path) -> bytes:
    with tempfile.TemporaryDirectory(dir=package.parent) as scratch:
        return _linux_corpus(extract_from_deb(package, KERNEL_TARBALL, Path(scratch)))


WAYS = {
    "warpeace": (
        Way("char-rnn's copy as Karpathy published it", WAR_AND_PEACE, Path.read_bytes),
        Way("Project Gutenberg's eBook #2600", GUTENBERG_WAR_AND_PEACE, _war_and_peace_from_gutenberg),
    ),
    "linux": (
        Way("the kernel tarball of Debian's linux-source-6.1 6.1.192-2", INSTALLED_KERNEL_TARBALL, _linux_corpus),
        Way("Debian's linux-source-6.1 6.1.192-2 package", LINUX_SOURCE_PACKAGE, _linux_corpus_from_package),
    ),
}


def obtain(name: str, data_dir: Path) -> Path:
    """Put the registered corpus ``name`` into the data directory, its sha256 checked; returns its path."""
    known = KNOWN_CORPORA[name]
    folder = Path(data_dir)
    try:
        (folder / DOWNLOADS).mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK) and os.access(folder / DOWNLOADS, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        raise UserError(f"corpus {name!r} is not in {folder.resolve()}, which cannot be written: "
                        f"{by_hand(name, folder)}, or point LIT_RNN_DATA or --data-dir at a folder you can write")
    failures = []
    for way in WAYS[name]:
        try:
            corpus = way.make(_source_file(way.source, folder / DOWNLOADS))
        except (Unavailable, UserError) as error:
            failures.append(f"{way.what}: {error}")
            continue
        digest = hashlib.sha256(corpus).hexdigest()
        if digest != known.sha256:
            failures.append(f"{way.what}: other bytes than the reference (sha256 {digest[:12]}...)")
            continue
        path = folder / known.filename
        atomic_write_bytes(path, corpus)
        print(f"obtained {name} from {way.what}: {path} (sha256 matches the reference)", file=sys.stderr)
        return path
    raise UserError(f"corpus {name!r} is not in {folder.resolve()} and could not be obtained "
                    f"({'; '.join(failures)}): {by_hand(name, folder)}, then run the command again")


def by_hand(name: str, folder: Path) -> str:
    """Where to put which file so that ``name`` is obtained without a connection."""
    known = KNOWN_CORPORA[name]
    options = [f"put {known.filename} (sha256 {known.sha256}) in {folder.resolve()}"]
    for way in WAYS[name]:
        if isinstance(way.source, Path):
            options.append(f"put {way.what} at {way.source}")
        elif way.source.sha256 is not None:
            options.append(f"save {way.source.urls[-1]} as {(folder / DOWNLOADS / way.source.filename).resolve()}")
    return ", or ".join(options)


def _source_file(source: Download | Path, downloads: Path) -> Path:
    if isinstance(source, Download):
        return download(source, downloads)
    if not source.exists():
        raise Unavailable(f"{source} is not there")
    return source


def download(item: Download, folder: Path) -> Path:
    """``item`` in ``folder``: kept from an earlier download if its sha256 is right, else downloaded."""
    import pooch

    reasons = []
    for url in item.urls:
        fetcher = pooch.create(path=folder, base_url="", registry={item.filename: item.sha256},
                               urls={item.filename: url}, retry_if_failed=RETRIES)
        try:
            return Path(fetcher.fetch(item.filename, progressbar=True))
        except (OSError, ValueError) as error:  # requests' errors are OSErrors; pooch's wrong hash a ValueError
            reasons.append(f"{url}: {_reason(error)}")
    raise Unavailable("; ".join(reasons))


def _reason(error: Exception) -> str:
    """What went wrong with a download, in a few words."""
    import requests

    if isinstance(error, requests.HTTPError):
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, ValueError) and "hash" in str(error):
        return "its sha256 is not the pinned one"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def extract_from_deb(package: Path, member: str, folder: Path) -> Path:
    """Extract file ``member`` of a Debian package into ``folder`` (no dpkg needed: a .deb is an ar
    archive whose ``data.tar.*`` holds the files)."""
    with open(package, "rb") as deb:
        if deb.read(8) != b"!<arch>\n":
            raise UserError(f"{package} is not a Debian package")
        while header := deb.read(60):
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            if name.startswith("data.tar"):
                with tarfile.open(fileobj=deb, mode="r|*") as tar:
                    for entry in tar:
                        if entry.name.removeprefix("./") == member and entry.isreg():
                            target = folder / Path(member).name
                            with tar.extractfile(entry) as content, open(target, "wb") as out:
                                shutil.copyfileobj(content, out)
                            return target
                break
            deb.seek(size + size % 2, 1)  # ar pads every member to an even length
    raise UserError(f"{package} holds no {member}")


__all__ = ["DOWNLOADS", "KNOWN_CORPORA", "WAYS", "Download", "KnownCorpus", "Way", "build_linux_corpus", "by_hand",
           "char_rnn_war_and_peace", "download", "extract_from_deb", "linux_source_files", "obtain",
           "write_linux_corpus"]
