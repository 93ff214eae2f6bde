"""Byte-level corpora and char-rnn's train/validation/test split.

The paper models *bytes*: a corpus is a file of bytes and its vocabulary is the
sorted set of byte values that occur anywhere in it. The split is the one of
char-rnn's ``CharSplitLMMinibatchLoader``: the text is cut into ``batch_size``
contiguous rows, each row into ``seq_length``-long chunks, and a batch is one
chunk from every row; the first 80% of batches train, the next 10% validate and
the rest test. The test set is therefore 100 segments spread through the text.

The registered corpora, their recipes and obtaining them are :mod:`lit_rnn.obtain`'s.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from lit_rnn.errors import UserError
from lit_rnn.obtain import KNOWN_CORPORA, obtain

SPLITS = ("train", "val", "test")


def resolve_corpus_path(name_or_path: str | Path, data_dir: Path) -> Path:
    """The file behind a registered corpus name or a user's path, with a clear error if absent.

    A registered corpus missing from the data directory is obtained here, so every command and
    chapter that needs one gets it on first use.
    """
    text = str(name_or_path)
    known = KNOWN_CORPORA.get(text)
    if known is not None:
        path = Path(data_dir) / known.filename
        if not path.exists():
            path = obtain(text, Path(data_dir))
    else:
        path = Path(text).expanduser()
        if not path.exists() and not path.is_absolute():
            in_data_dir = Path(data_dir) / text
            path = in_data_dir if in_data_dir.exists() else path
        if not path.exists():
            looks_like_name = os.sep not in text and "." not in text
            if looks_like_name:
                raise UserError(
                    f"unknown corpus {text!r}: known corpora are {', '.join(KNOWN_CORPORA)}, "
                    "or give the path of a text file"
                )
            raise UserError(
                f"corpus file {text!r} not found: searched {Path(text).resolve()} and "
                f"{(Path(data_dir) / text).resolve()}"
            )
    if path.is_dir():
        raise UserError(f"corpus {text!r} is a directory ({path}); give the path of a text file")
    return path


@dataclass(frozen=True)
class Corpus:
    """A byte corpus: its bytes, its byte vocabulary and the ids of every byte in it."""

    name: str
    path: Path
    data: np.ndarray  # uint8, the raw bytes

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data.tobytes()).hexdigest()

    @cached_property
    def vocab(self) -> np.ndarray:
        """Sorted distinct byte values; id ``k`` stands for byte ``vocab[k]``."""
        return np.flatnonzero(np.bincount(self.data, minlength=256)).astype(np.uint8)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def argument(self) -> str:
        """What ``--corpus`` takes to load this corpus: its registered name, else its file."""
        known = KNOWN_CORPORA.get(self.name)
        return self.name if known and self.path.name == known.filename else str(self.path)

    @cached_property
    def ids(self) -> np.ndarray:
        """The corpus as vocabulary ids (uint8, since a vocabulary has at most 256 entries)."""
        lookup = np.zeros(256, dtype=np.uint8)
        lookup[self.vocab] = np.arange(self.vocab_size, dtype=np.uint8)
        return lookup[self.data]

    def __len__(self) -> int:
        return len(self.data)

    def decode(self, ids: np.ndarray) -> bytes:
        """The bytes that a sequence of vocabulary ids stands for."""
        return self.vocab[np.asarray(ids)].tobytes()

    def encode(self, text: bytes) -> np.ndarray:
        """Vocabulary ids of ``text``; every byte must be in the vocabulary."""
        raw = np.frombuffer(text, dtype=np.uint8)
        missing = np.setdiff1d(raw, self.vocab)
        if missing.size:
            raise UserError(f"bytes {missing.tolist()} are not in the vocabulary of corpus {self.name!r}")
        return np.searchsorted(self.vocab, raw).astype(np.uint8)

    def head(self, n_bytes: int) -> Corpus:
        """The first ``n_bytes`` of the corpus as a corpus of its own (its own vocabulary and hash)."""
        return Corpus(self.name, self.path, self.data[:n_bytes]) if n_bytes < len(self.data) else self

    def batcher(self, batch_size: int = 100, seq_length: int = 100) -> Batcher:
        return Batcher(self, batch_size, seq_length)


def load_corpus(name_or_path: str | Path, data_dir: Path) -> Corpus:
    """Read a registered corpus or any file as bytes."""
    path = resolve_corpus_path(name_or_path, data_dir)
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise UserError(f"corpus file {path} is empty; give a file with text in it")
    name = str(name_or_path) if str(name_or_path) in KNOWN_CORPORA else path.stem
    return Corpus(name=name, path=path, data=data)


@dataclass(frozen=True)
class Batcher:
    """char-rnn's batches of a corpus and their train/val/test split.

    Row ``r`` of the batch grid is the ``r``-th contiguous ``1/batch_size`` of the
    trimmed text; batch ``b`` holds chunk ``b`` (``seq_length`` bytes) of every row.
    Targets are the inputs shifted by one byte.
    """

    corpus: Corpus
    batch_size: int = 100
    seq_length: int = 100
    train_fraction: float = 0.8
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.seq_length < 1:
            raise UserError("batch size and sequence length must be positive")
        if self.n_val < 1 or self.n_test < 1:
            raise UserError(
                f"corpus {self.corpus.name!r} has {len(self.corpus):,} bytes, too few for "
                f"one validation and one test batch of {self.batch_size}x{self.seq_length}: "
                f"it needs at least {self.min_bytes:,} bytes"
            )

    @property
    def bytes_per_batch(self) -> int:
        return self.batch_size * self.seq_length

    @property
    def min_bytes(self) -> int:
        """The smallest corpus that leaves at least one batch in every split."""
        n = 1
        while not self._counts(n)[1] or not self._counts(n)[2]:
            n += 1
        return n * self.bytes_per_batch

    def _counts(self, n_batches: int) -> tuple[int, int, int]:
        n_train = int(np.floor(n_batches * self.train_fraction))
        n_val = int(np.floor(n_batches * self.val_fraction))
        return n_train, n_val, n_batches - n_train - n_val

    @property
    def n_batches(self) -> int:
        return len(self.corpus) // self.bytes_per_batch

    @property
    def n_train(self) -> int:
        return self._counts(self.n_batches)[0]

    @property
    def n_val(self) -> int:
        return self._counts(self.n_batches)[1]

    @property
    def n_test(self) -> int:
        return self._counts(self.n_batches)[2]

    def batch_range(self, split: str) -> range:
        """Indices of the batches that belong to ``split``."""
        starts = {"train": 0, "val": self.n_train, "test": self.n_train + self.n_val}
        sizes = {"train": self.n_train, "val": self.n_val, "test": self.n_test}
        if split not in starts:
            raise UserError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        return range(starts[split], starts[split] + sizes[split])

    @property
    def row_length(self) -> int:
        return self.n_batches * self.seq_length

    @cached_property
    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets as ``(batch_size, row_length)`` id arrays."""
        n = self.batch_size * self.row_length
        ids = self.corpus.ids
        # The byte after the trimmed text is its last target; char-rnn wraps to the first
        # byte when nothing follows, and so do we.
        following = ids[n : n + 1] if len(ids) > n else ids[:1]
        targets = np.concatenate([ids[1:n], following])
        return ids[:n].reshape(self.batch_size, -1), targets.reshape(self.batch_size, -1)

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index``: inputs and targets of shape ``(batch_size, seq_length)``."""
        cols = slice(index * self.seq_length, (index + 1) * self.seq_length)
        inputs, targets = self.grid
        return inputs[:, cols], targets[:, cols]

    def batches(self, split: str, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The batches of ``split`` in order, from its ``start``-th batch on (for resuming)."""
        for index in self.batch_range(split)[start:]:
            yield self.batch(index)

    def _columns(self, split: str) -> slice:
        span = self.batch_range(split)
        return slice(span.start * self.seq_length, span.stop * self.seq_length)

    def split_inputs(self, split: str) -> np.ndarray:
        """All inputs of ``split`` as ``(batch_size, n_split_batches * seq_length)``."""
        return self.grid[0][:, self._columns(split)]

    def split_targets(self, split: str) -> np.ndarray:
        return self.grid[1][:, self._columns(split)]

    def positions(self, split: str) -> np.ndarray:
        """Offset in the corpus of every input of ``split``, same shape as ``split_inputs``.

        Rows are contiguous and ordered, so ``positions(split).ravel()`` is increasing:
        flattening any per-position array row by row puts it in the text's order.
        """
        rows = np.arange(self.batch_size)[:, None] * self.row_length
        span = self.batch_range(split)
        cols = np.arange(span.start * self.seq_length, span.stop * self.seq_length)[None, :]
        return rows + cols

    def split_bytes(self, split: str) -> int:
        return len(self.batch_range(split)) * self.bytes_per_batch

    def segment_bytes(self, split: str) -> int:
        """The bytes of one of the split's ``batch_size`` segments (one row's share of it)."""
        return self.split_bytes(split) // self.batch_size


def byte_label(byte: int) -> str:
    """A printable name for a byte value (for tables and figures)."""
    names = {9: "\\t", 10: "\\n", 13: "\\r", 32: "space"}
    if byte in names:
        return names[byte]
    return chr(byte) if 32 < byte < 127 else f"0x{byte:02x}"


def decode_utf8(data: bytes | np.ndarray) -> tuple[str, np.ndarray]:
    """A byte text as characters, and the byte offset where each starts (and where the text ends).

    Bytes that are not part of a valid UTF-8 sequence become one lone surrogate each (Python's
    ``surrogateescape``: byte ``0xNN`` is ``U+DCNN``), so every byte belongs to exactly one character.
    """
    raw = bytes(data) if isinstance(data, (bytes, bytearray)) else np.asarray(data, np.uint8).tobytes()
    text = raw.decode("utf-8", errors="surrogateescape")
    codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    widths = 1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000)
    widths[(codes >= 0xDC80) & (codes <= 0xDCFF)] = 1  # an escaped byte
    return text, np.concatenate([[0], np.cumsum(widths)])


def is_escaped_byte(character: str) -> bool:
    """Whether a character of :func:`decode_utf8` stands for a byte outside any valid UTF-8 sequence."""
    return "\udc80" <= character <= "\udcff"


def character_label(character: str) -> str:
    """A printable name for one character of :func:`decode_utf8`: as :func:`byte_label` for ASCII, the
    character itself for a printable multi-byte one, ``U+NNNN`` for an invisible one, ``\\xNN`` for a stray byte."""
    if is_escaped_byte(character):
        return f"\\x{ord(character) - 0xDC00:02x}"
    if ord(character) < 128:
        return byte_label(ord(character))
    return character if character.isprintable() else f"U+{ord(character):04X}"


def character_table(data: bytes | np.ndarray) -> pd.DataFrame:
    """The vocabulary as a reader sees it: every distinct character of a byte text, most frequent first.

    Columns: character (:func:`character_label`), kind (``ascii``, ``multi-byte`` or ``invalid``, a
    byte outside any valid UTF-8 sequence), bytes (in hex) and count.
    """
    text, _ = decode_utf8(data)
    counts = Counter(text).most_common()
    return pd.DataFrame({
        "character": [character_label(c) for c, _ in counts],
        "kind": ["invalid" if is_escaped_byte(c) else "ascii" if ord(c) < 128 else "multi-byte" for c, _ in counts],
        "bytes": [c.encode("utf-8", errors="surrogateescape").hex(" ") for c, _ in counts],
        "count": [n for _, n in counts],
    })


__all__ = [
    "KNOWN_CORPORA",
    "SPLITS",
    "Batcher",
    "Corpus",
    "byte_label",
    "character_table",
    "character_label",
    "decode_utf8",
    "is_escaped_byte",
    "load_corpus",
    "resolve_corpus_path",
]
