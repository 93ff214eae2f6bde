"""KenLM n-gram baselines (the paper's Table 2): byte n-grams with modified Kneser-Ney smoothing.

Each byte is one token. The training text is the train split, one KenLM sentence per char-rnn
row, so a context never resets inside a row. ``lmplz`` estimates an unpruned model whose ARPA
streams straight into ``build_binary`` (a War and Peace 20-gram's ARPA is 1.9 GB; its trie, 0.3 GB).
Evaluation walks each row of a split from the sentence start, carrying KenLM's state through
the row as recurrent models carry theirs, and renormalises KenLM's probabilities over the
corpus's bytes (KenLM's own distribution also covers ``</s>`` and ``<unk>``).
"""

from __future__ import annotations

import functools
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lit_rnn.atomic import atomic_write_text, cached
from lit_rnn.data import Batcher, Corpus
from lit_rnn.errors import UserError
from lit_rnn.hashing import canonical_json, config_hash
from lit_rnn.predictions import Predictions

MAX_ORDER = 21  # what `make setup` compiles lmplz, build_binary and the kenlm module for (Table 2's n = 20)
KENLM_VERSION = "0.3.0"
LMPLZ_OPTIONS = ("--discount_fallback",)  # small or skewed counts: KenLM's fallback discounts
BINARY_TYPE = "trie"
SORT_MEMORY = "20%"  # lmplz/build_binary sort buffers; the result does not depend on it
MODULE_FIX = f"MAX_ORDER={MAX_ORDER} pip install --no-cache-dir --no-binary kenlm kenlm=={KENLM_VERSION}"
MAX_ORDER_MESSAGE = re.compile(r"compiled to support up to (\d+)")


@dataclass(frozen=True)
class NgramConfig:
    """Everything that determines an n-gram binary: corpus, split, order and KenLM's settings."""

    corpus_sha256: str
    batch_size: int
    seq_length: int
    train_fraction: float
    val_fraction: float
    order: int
    kenlm: str = f"kenlm=={KENLM_VERSION} lmplz {' '.join(LMPLZ_OPTIONS)} | build_binary {BINARY_TYPE}"

    @classmethod
    def of(cls, batcher: Batcher, order: int) -> NgramConfig:
        order = operator.index(order)
        if not 1 <= order <= MAX_ORDER:
            raise UserError(f"n-gram order {order} is outside 1..{MAX_ORDER}; choose an order in that range")
        return cls(
            batcher.corpus.sha256,
            batcher.batch_size,
            batcher.seq_length,
            batcher.train_fraction,
            batcher.val_fraction,
            order,
        )

    def folder(self, artifacts: str | Path) -> Path:
        return Path(artifacts) / "ngram" / config_hash(self)


def tokens(corpus: Corpus) -> list[str]:
    """KenLM's word for each vocabulary id: the byte's two hex digits (never whitespace or ``<s>``)."""
    return [f"{byte:02x}" for byte in corpus.vocab]


# -- KenLM's programs and module ----------------------------------------------------------------


def _kenlm():
    """The kenlm module, imported when first needed so that the rest of lit_rnn works without it."""
    try:
        import kenlm
    except ImportError as error:
        raise UserError(f"the kenlm Python module is missing; run `make setup` or `{MODULE_FIX}`") from error
    return kenlm


def _programs() -> tuple[str, str]:
    """``lmplz`` and ``build_binary``: beside this Python (where `make setup` puts them), else on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = tuple(shutil.which(name, path=search) for name in ("lmplz", "build_binary"))
    if None in found:
        raise UserError(
            f"KenLM's lmplz and build_binary were not found beside {sys.executable} or on PATH; "
            "run `make setup`, which builds them into .venv/bin"
        )
    return found


def _load_model(path: Path):
    """Open a KenLM binary, saying how to fix a kenlm module compiled for too low an order."""
    try:
        return _kenlm().Model(str(path))
    except OSError as error:
        low = MAX_ORDER_MESSAGE.search(str(error))
        if low:
            raise UserError(
                f"the kenlm Python module supports n-grams up to order {low[1]} only; reinstall it "
                f"with `{MODULE_FIX}`"
            ) from error
        raise UserError(f"cannot read n-gram model {path}: {error}; delete it to rebuild") from error


def _estimate(programs: tuple[str, str], text: Path, order: int, out: Path, tmp: Path) -> None:
    """``lmplz -o order < text | build_binary trie /dev/stdin out``: the ARPA only passes through a pipe.

    KenLM cannot query a unigram model, so a 1-gram ARPA (a few KB, which the pipe holds
    whole) gets an empty bigram section on the way, which leaves its probabilities as they are.
    """
    lmplz, build_binary = programs
    log = tmp / "build_binary.log"
    unigram = order == 1
    with open(text, "rb") as source, open(log, "wb") as binarize_log:
        estimate = subprocess.Popen(
            [lmplz, "-o", str(order), *LMPLZ_OPTIONS, "-S", SORT_MEMORY, "-T", str(tmp)],
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        binarize = subprocess.Popen(
            [build_binary, "-S", SORT_MEMORY, "-T", str(tmp / "sort"), BINARY_TYPE, "/dev/stdin", str(out)],
            stdin=subprocess.PIPE if unigram else estimate.stdout,
            stdout=binarize_log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            if unigram:
                lmplz_tail = _follow_lmplz(estimate.stderr, order)
                binarize.communicate(_with_empty_bigrams(estimate.communicate()[0]))
            else:
                estimate.stdout.close()  # build_binary alone holds the pipe: lmplz stops if it dies
                lmplz_tail = _follow_lmplz(estimate.stderr, order)
            estimate.wait()
            binarize.wait()
        except BaseException:  # interrupted: stop both programs rather than leave them running
            for process in (estimate, binarize):
                process.kill()
                process.wait()
            raise
    output = log.read_text(errors="replace")
    low = MAX_ORDER_MESSAGE.search(output)
    if binarize.returncode and low:
        raise UserError(
            f"KenLM's build_binary ({build_binary}) supports n-grams up to order {low[1]} only, "
            f"not {order}; rebuild it for order {MAX_ORDER} with `make setup`"
        )
    if estimate.returncode:
        raise RuntimeError(f"lmplz failed (exit {estimate.returncode}):\n{''.join(lmplz_tail)}")
    if binarize.returncode:
        raise RuntimeError(f"build_binary failed (exit {binarize.returncode}):\n{output[-2000:]}")


def _with_empty_bigrams(arpa: str) -> str:
    """A unigram ARPA declared as a bigram model with no bigrams: the same distribution, loadable by KenLM."""
    with_count = arpa.replace("\n\n\\1-grams:", "\nngram 2=0\n\n\\1-grams:", 1)
    return with_count.replace("\\end\\", "\\2-grams:\n\n\\end\\", 1)


def _follow_lmplz(stderr: Iterable[str], order: int) -> deque[str]:
    """Show lmplz's five stages as a progress bar; return its last lines for error messages."""
    tail: deque[str] = deque(maxlen=30)
    with tqdm(total=5, desc=f"estimating {order}-gram", leave=False) as bar:
        for line in stderr:
            tail.append(line)
            stage = re.match(r"=== (\d)/5", line)
            if stage:
                bar.update(int(stage[1]) - 1 - bar.n)
        bar.update(bar.total - bar.n)
    return tail


@functools.cache
def _check_max_order(programs: tuple[str, str], order: int) -> None:
    """Fail in a second, not after a long estimation, if build_binary or kenlm can't hold ``order``-grams."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "probe.txt").write_text(" ".join(["a"] * (order + 1)) + "\n")
        _estimate(programs, tmp / "probe.txt", order, tmp / "probe.bin", tmp)
        _load_model(tmp / "probe.bin")


# -- Estimation ---------------------------------------------------------------------------------


def _write_training_text(batcher: Batcher, path: Path) -> None:
    """The train split as KenLM sentences: one line per char-rnn row, one token per byte."""
    words = np.array(tokens(batcher.corpus))
    with open(path, "w") as handle:
        for row in batcher.split_inputs("train"):
            handle.write(" ".join(words[row]) + "\n")


def train_ngram(batcher: Batcher, order: int, artifacts: str | Path) -> Path:
    """The KenLM binary of an ``order``-gram on ``batcher``'s train split, estimated once and cached.

    The binary is built in a hidden folder and renamed into place (:func:`lit_rnn.atomic.cached`), so an
    interrupted build never leaves a ``model.bin`` that looks finished.
    """
    config = NgramConfig.of(batcher, order)
    folder = config.folder(artifacts)

    def build(path: Path) -> None:
        programs = _programs()
        _check_max_order(programs, order)
        atomic_write_text(folder / "config.json", canonical_json(config))
        _write_training_text(batcher, path.parent / "train.txt")
        _estimate(programs, path.parent / "train.txt", order, path, path.parent)
        with open(path, "rb") as built:
            os.fsync(built.fileno())

    return cached(folder / "model.bin", build, lambda path: path)


# -- Next-byte distributions --------------------------------------------------------------------


def _split_probs(model, batcher: Batcher, split: str, desc: str) -> np.ndarray:
    """Next-byte distributions after each byte of every row of ``split``, in text order: ``(positions, vocab_size)``.

    Position i of a row gets KenLM's p(word k | <s> row[:i+1]), its state carried from the sentence start.
    A distribution depends on nothing but that state (the context KenLM keeps), so it is asked of KenLM
    once per distinct state and copied after: War and Peace's 330,000 test positions hold 75 distinct
    states under the 1-gram, 28,000 under the 4-gram, 296,000 under the 20-gram. Words the model never
    saw share its ``<unk>`` probability equally; each distribution is renormalised over the vocabulary
    (no ``</s>``).
    """
    kenlm = _kenlm()
    words = tokens(batcher.corpus)
    unseen = [k for k, word in enumerate(words) if word not in model]
    rows = np.array(words)[batcher.split_inputs(split)]
    score, scratch = model.BaseScore, kenlm.State()
    log10_probs = np.empty((rows.size, len(words)))
    first: dict = {}  # KenLM state -> the first position that had it
    position = 0
    for row in tqdm(rows, desc=desc, unit="row", leave=False):
        state = kenlm.State()
        model.BeginSentenceWrite(state)
        for word in row.tolist():
            following = kenlm.State()
            score(state, word, following)
            seen = first.setdefault(following, position)
            if seen == position:
                log10_probs[position] = [score(following, w, scratch) for w in words]
            else:
                log10_probs[position] = log10_probs[seen]
            state, position = following, position + 1
    if unseen:
        log10_probs[:, unseen] -= np.log10(len(unseen))
    probs = np.power(10.0, log10_probs, out=log10_probs)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs


def ngram_predictions(
    batcher: Batcher, order: int, split: str, artifacts: str | Path
) -> Predictions:
    """The ``order``-gram's next-byte distributions over ``split``, cached beside its binary."""
    config = NgramConfig.of(batcher, order)
    batcher.batch_range(split)  # a clear error for an unknown split, before any estimation

    def build(path: Path) -> None:
        model = _load_model(train_ngram(batcher, order, artifacts))
        Predictions.from_log_probs(
            np.log(_split_probs(model, batcher, split, desc=f"scoring {order}-gram on {split}")),
            targets=batcher.split_targets(split).reshape(-1),
            positions=batcher.positions(split).reshape(-1),
            name=f"{order}-gram",
            architecture="ngram",
            corpus_sha256=batcher.corpus.sha256,
            split=split,
        ).save(path)

    return cached(config.folder(artifacts) / f"predictions-{split}.npz", build, Predictions.load)


__all__ = [
    "MAX_ORDER",
    "NgramConfig",
    "ngram_predictions",
    "tokens",
    "train_ngram",
]
