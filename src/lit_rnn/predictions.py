"""One format for what any model predicts over a split, so every analysis takes any model.

``probs[i]`` is the model's distribution over the corpus vocabulary for the byte that
follows input position ``positions[i]``; ``targets[i]`` is that byte's id. Positions are in
the text's order. Distributions are kept in float16 (enough to compare models); the true byte's
log-probability is kept exactly, in float32, because float16 rounds probabilities under ~6e-8 to
zero, which would wreck a cross-entropy. Cross-entropy, the error mask and per-byte means all
derive from these.

The *compact* form (:meth:`Predictions.compact`) drops the distributions and keeps each position's
most likely byte: enough for Table 1 (losses, errors, bootstrap) and the agreement t-SNE, at a few
bytes per position instead of two per vocabulary entry.

The *summarised* form (:meth:`Predictions.summarised`, what a weightless run keeps) is the compact form at a
seeded ``SUMMARY_STRETCH`` consecutive positions of every segment, with each segment's exact totals
over the whole split (loss, bytes, errors): Table 1's losses, error rates and every bootstrap over
segments (:mod:`lit_rnn.analysis.segments`) come from the totals exactly as from every byte, and
only the agreement between models is measured on the kept positions. About 50 KB a run on War and
Peace, so a whole grid travels in git.

The *sampled* form (:meth:`Predictions.sample`, what a run ships for a training snapshot) keeps the
distributions but only at a fixed, seeded stretch of ``SAMPLE_STRETCH`` consecutive positions of
every contiguous segment: the training dynamics' KL needs distributions, and its bootstrap needs
every test segment, not every byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from lit_rnn.analysis.segments import segment_count, segment_ids, segment_sums
from lit_rnn.atomic import atomic_save_npz
from lit_rnn.errors import UserError

ERROR_THRESHOLD = 0.5
SAMPLE_STRETCH = 10  # consecutive positions kept from every segment in the sampled form (100 test segments: 1,000)
SAMPLE_SEED = 0
SUMMARY_STRETCH = 100  # consecutive positions kept of every segment in the summarised form (100 test segments: 10,000)
TOTALS = ("loss", "bytes", "errors")  # the summarised form's exact per-segment totals over the whole split


@dataclass(frozen=True)
class Predictions:
    """A model's next-byte distributions at every position of one split."""

    probs: np.ndarray | None  # (n, vocab_size) float16, rows sum to 1; None in the compact form
    target_log_probs: np.ndarray  # (n,) float32, natural log-probability of the true next byte
    targets: np.ndarray  # (n,) vocabulary ids of the true next bytes
    positions: np.ndarray  # (n,) corpus offsets of the inputs, increasing
    name: str  # the model's name for tables and legends, e.g. "lstm-2x128" or "20-gram"
    architecture: str  # "rnn", "lstm", "gru", "nnn", "transformer" or "ngram"
    corpus_sha256: str
    split: str
    top_ids: np.ndarray | None = None  # (n,) the most likely next byte's id: the compact form's, for want of probs
    compact_vocab_size: int | None = None  # the vocabulary's size: the compact form's, for want of probs
    segment_totals: np.ndarray | None = None  # (3, segments) TOTALS over the whole split: the summarised form's

    def __post_init__(self) -> None:
        n = len(self.targets)
        kept = self.probs if self.probs is not None else self.top_ids
        if kept is None or (self.probs is not None and self.probs.ndim != 2) or kept.shape[0] != n or len(
            self.positions
        ) != n or len(self.target_log_probs) != n:
            raise ValueError(
                f"probs {None if self.probs is None else self.probs.shape}, top ids "
                f"{None if self.top_ids is None else self.top_ids.shape}, target log-probs "
                f"{self.target_log_probs.shape}, targets {self.targets.shape} and positions {self.positions.shape} "
                "do not describe the same positions"
            )
        segments = segment_count(self.positions)
        if self.segment_totals is not None and self.segment_totals.shape != (len(TOTALS), segments):
            raise ValueError(f"segment totals {self.segment_totals.shape} do not describe the {segments} segments of "
                             "the positions")

    @classmethod
    def from_log_probs(cls, log_probs: np.ndarray, targets: np.ndarray, positions: np.ndarray, name: str,
                       architecture: str, corpus_sha256: str, split: str) -> Predictions:
        """Predictions from full (n, vocab) log-probabilities, keeping the target's exactly."""
        targets = np.asarray(targets)
        target_log_probs = log_probs[np.arange(len(targets)), targets].astype(np.float32)
        return cls(np.exp(log_probs).astype(np.float16), target_log_probs, targets, positions, name,
                   architecture, corpus_sha256, split)

    @property
    def vocab_size(self) -> int:
        return self.probs.shape[1] if self.probs is not None else int(self.compact_vocab_size)

    @property
    def is_compact(self) -> bool:
        """Whether only the most likely bytes are kept, not the distributions (a weightless run's predictions)."""
        return self.probs is None

    @property
    def is_summarised(self) -> bool:
        """Whether only some positions are kept, with the whole split's totals per segment (a weightless run's)."""
        return self.segment_totals is not None

    @property
    def split_bytes(self) -> int:
        """How many bytes of the split these predictions summarise (more than they keep, in the summarised form)."""
        return int(self.totals()[1].sum())

    @cached_property
    def most_likely(self) -> np.ndarray:
        """The id of the most likely next byte at every position (what the agreement between models compares)."""
        return self.top_ids if self.probs is None else self.probs.argmax(axis=1).astype(np.uint8)

    def compact(self) -> Predictions:
        """The same predictions without the distributions: most likely bytes, true bytes' log-probabilities."""
        return replace(self, probs=None, top_ids=self.most_likely, compact_vocab_size=self.vocab_size)

    @cached_property
    def target_probs(self) -> np.ndarray:
        """Probability given to the byte that actually came next, as float64."""
        return np.exp(self.target_log_probs.astype(np.float64))

    @property
    def cross_entropy(self) -> float:
        """Mean negative log-probability of the true next byte over the split, in nats per byte."""
        if self.is_summarised:
            loss, count, _ = self.segment_totals.sum(axis=1)
            return float(loss / count)
        return float(-np.mean(self.target_log_probs, dtype=np.float64))

    @property
    def errors(self) -> np.ndarray:
        """The paper's error at every kept position: the true next byte got probability below 0.5."""
        return self.target_probs < ERROR_THRESHOLD

    @property
    def error_rate(self) -> float:
        """The share of the split's bytes that are errors."""
        _, count, errors = self.totals().sum(axis=1)
        return float(errors / count)

    def totals(self) -> np.ndarray:
        """Per contiguous segment of the split, its TOTALS (summed loss, bytes, errors): shape (3, segments)."""
        if self.is_summarised:
            return self.segment_totals
        return segment_sums(segment_ids(self.positions), -self.target_log_probs, np.ones(len(self.positions)),
                            self.errors)

    def at(self, positions: np.ndarray) -> Predictions:
        """The same predictions at ``positions`` only (some of these, increasing): to align with a sampled form."""
        positions = np.asarray(positions)
        index = np.minimum(np.searchsorted(self.positions, positions), len(self.positions) - 1)
        if not np.array_equal(self.positions[index], positions) or np.any(np.diff(positions) <= 0):
            raise UserError(f"predictions of {self.name!r} do not cover the positions asked of them")
        return replace(self, probs=None if self.probs is None else self.probs[index],
                       target_log_probs=self.target_log_probs[index], targets=self.targets[index], positions=positions,
                       top_ids=None if self.top_ids is None else self.top_ids[index], segment_totals=None)

    def sample(self, stretch: int = SAMPLE_STRETCH, seed: int = SAMPLE_SEED) -> Predictions:
        """The sampled form: ``stretch`` consecutive positions of every contiguous segment, at seeded offsets."""
        return self.at(sample_positions(self.positions, stretch, seed))

    def summarised(self) -> Predictions:
        """The summarised form: the compact form at ``SUMMARY_STRETCH`` positions of every segment, with the whole
        split's totals per segment."""
        if self.is_summarised:
            return self
        return replace(self.compact().sample(SUMMARY_STRETCH), segment_totals=self.totals())

    def save(self, path: str | Path, compress: bool = False) -> None:
        if self.is_compact:
            steps = np.diff(self.positions, prepend=0).astype(np.int32)  # mostly 1: compress to almost nothing
            totals = {} if self.segment_totals is None else {"segment_totals": self.segment_totals}
            atomic_save_npz(path, compress=True, top_ids=self.top_ids, target_log_probs=self.target_log_probs,
                            targets=self.targets, position_steps=steps, **totals,
                            meta=np.array([self.name, self.architecture, self.corpus_sha256, self.split,
                                           str(self.compact_vocab_size)]))
            return
        atomic_save_npz(path, compress=compress, probs=self.probs, target_log_probs=self.target_log_probs,
                        targets=self.targets, positions=self.positions,
                        meta=np.array([self.name, self.architecture, self.corpus_sha256, self.split]))

    @classmethod
    def load(cls, path: str | Path) -> Predictions:
        try:
            with np.load(path, allow_pickle=False) as stored:
                name, architecture, sha, split, *vocab = (str(x) for x in stored["meta"])
                if "probs" in stored:
                    return cls(stored["probs"], stored["target_log_probs"], stored["targets"], stored["positions"],
                               name, architecture, sha, split)
                positions = np.cumsum(stored["position_steps"], dtype=np.int64)
                totals = stored.get("segment_totals")
                return cls(None, stored["target_log_probs"], stored["targets"], positions, name, architecture, sha,
                           split, stored["top_ids"], int(vocab[0]), totals)
        except (OSError, ValueError, KeyError) as error:
            raise UserError(f"cannot read predictions {path}: {error}; delete it to recompute") from error


def sample_positions(positions: np.ndarray, stretch: int = SAMPLE_STRETCH, seed: int = SAMPLE_SEED) -> np.ndarray:
    """One stretch of ``stretch`` consecutive positions from each contiguous segment of ``positions`` (the whole
    segment if shorter), each at an offset drawn with ``seed``: the same positions for the same split."""
    positions = np.asarray(positions)
    starts = np.flatnonzero(np.diff(positions, prepend=-2) != 1)  # where each segment begins (offsets are >= 0)
    ends = np.append(starts[1:], len(positions))
    offsets = np.random.default_rng(seed).integers(0, np.maximum(ends - starts - stretch, 0) + 1)
    stretches = (positions[s + o:min(s + o + stretch, e)] for s, o, e in zip(starts, offsets, ends))
    return np.concatenate([positions[:0], *stretches])


def on_common_positions(predictions: Sequence[Predictions]) -> list[Predictions]:
    """The predictions at the positions the summarised ones keep (all of them where none is): so that a weightless
    run compares with a run kept whole."""
    summarised = [p for p in predictions if p.is_summarised]
    if not summarised:
        return list(predictions)
    kept = summarised[0].positions
    return [p if np.array_equal(p.positions, kept) else p.at(kept) for p in predictions]


def check_aligned(predictions: Sequence[Predictions]) -> None:
    """Raise unless all predictions cover the same positions and targets with the same vocabulary."""
    if not predictions:
        raise UserError("give the predictions of at least one model")
    first = predictions[0]
    for other in predictions[1:]:
        if not (np.array_equal(first.positions, other.positions)
                and np.array_equal(first.targets, other.targets)):
            raise UserError(f"predictions of {first.name!r} and {other.name!r} cover different positions")
        if first.vocab_size != other.vocab_size:
            raise UserError(f"predictions of {first.name!r} and {other.name!r} use different vocabularies")
