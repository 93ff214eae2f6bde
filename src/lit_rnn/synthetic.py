"""A synthetic corpus whose hidden state is known at every byte: ground truth for the cell search.

The generator writes text made of space-separated tokens on lines and records, beside it, each
byte's true values of the latent variables that produced it (the state *after reading* the byte,
the convention of :mod:`lit_rnn.analysis.signals`):

- ``paren_depth`` and ``bracket_depth``: how many ``(`` and ``[`` are open. Brackets nest up to
  ``max_depth`` and a closing bracket always matches the innermost open one, so predicting it
  needs both depths (and their order);
- ``in_quotes``: inside a quoted span ``" ... "`` (the opening ``"`` is inside, the closing one
  outside). No bracket, name or recall occurs inside a quote, so the model needs the state to
  predict them; a share ``long_share`` of spans is drawn longer than the 100-byte unroll horizon;
- ``line_position``: bytes since the last newline (0 at the newline). Each line's length is drawn
  from ``line_lengths``, so the newline's chance rises with the position;
- ``name_pending``: a name ``@xyz`` has been introduced and not yet repeated as ``#xyz``, about
  ``name_distances`` bytes later. A new name is introduced only when none is pending.

And the controls, which no model needs (they measure what the search finds by chance):

- ``noise_flag`` (on/off) and ``noise_level`` (a count): drawn independently of the text from
  ``control_seed``, with spans and steps like the quotes' and the brackets'; no model can know them;
- ``letter_parity``: whether the last letter of ``letters`` has occurred an odd number of times so
  far, and ``letter_walk``: the count of the first letter minus the count of the second since the
  line began. A model could compute both, but letters are drawn independently, so neither helps.

``write`` puts ``<name>.txt`` (a corpus file: its path works wherever a corpus name does) and
``<name>.truth.npz`` (one array per variable) in a folder named by the config's hash.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lit_rnn.atomic import atomic_save_npz, atomic_write_bytes, atomic_write_text
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.hashing import canonical_json, config_hash
from lit_rnn.models import ModelConfig
from lit_rnn.presets import PRESETS, SMALL_RECIPE
from lit_rnn.runs import Recipe, RunConfig

NEEDED = {  # the variables the text depends on, by kind
    "paren_depth": "count",
    "bracket_depth": "count",
    "in_quotes": "binary",
    "line_position": "count",
    "name_pending": "binary",
}
UNKNOWABLE = {"noise_flag": "binary", "noise_level": "count"}  # independent of the text
UNNEEDED = {"letter_parity": "binary", "letter_walk": "count"}  # computable from the text, never useful
VARIABLES = {**NEEDED, **UNKNOWABLE, **UNNEEDED}
OPENERS, CLOSERS = {"(": "paren_depth", "[": "bracket_depth"}, {")": "(", "]": "["}
HORIZON = 100  # the unroll horizon of the paper's recipe (seq_length)


@dataclass(frozen=True)
class SyntheticConfig:
    """What the generator draws: sizes and distributions (uniform ranges are inclusive)."""

    n_bytes: int = 1_000_000
    seed: int = 0
    letters: str = "abcdefgh"
    word_lengths: tuple[int, int] = (1, 5)
    line_lengths: tuple[int, int] = (20, 90)
    max_depth: int = 4
    open_prob: float = 0.08  # per token outside quotes: open a bracket (below max_depth)
    close_prob: float = 0.1  # per token: close the innermost bracket (if one is open)
    quote_prob: float = 0.03  # per token outside quotes: open a quoted span
    quote_lengths: tuple[int, int] = (10, 60)  # bytes of a short span's content
    long_quote_lengths: tuple[int, int] = (120, 300)  # bytes of a long span's content
    long_share: float = 0.25  # share of spans drawn from the long lengths
    name_length: int = 3
    name_prob: float = 0.05  # per token outside quotes when no name is pending
    name_distances: tuple[int, int] = (10, 120)  # bytes from the introduction to the repeat
    control_seed: int = 1

    def __post_init__(self) -> None:
        ranges = {"word_lengths": self.word_lengths, "line_lengths": self.line_lengths,
                  "quote_lengths": self.quote_lengths, "long_quote_lengths": self.long_quote_lengths,
                  "name_distances": self.name_distances}
        for name, (low, high) in ranges.items():
            if not 1 <= low <= high:
                raise UserError(f"{name} must be a range (low, high) with 1 <= low <= high, got {(low, high)}")
        if self.line_lengths[0] <= max(self.word_lengths[1], self.name_length + 1):
            raise UserError("line_lengths must start above the longest word and name: a token must fit on a line")
        if len(set(self.letters)) < 2 or not self.letters.isalpha() or not self.letters.islower():
            raise UserError(f"letters must be at least two distinct lowercase letters, got {self.letters!r}")
        if self.n_bytes < 10_000 or self.max_depth < 1 or self.name_length < 1:
            raise UserError("n_bytes must be at least 10,000 and max_depth and name_length at least 1")
        for name in ("open_prob", "close_prob", "quote_prob", "long_share", "name_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise UserError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")

    @property
    def key(self) -> str:
        return config_hash(self)


class _Writer:
    """Emits tokens onto lines and records each byte's state; all randomness from one seeded stream."""

    def __init__(self, config: SyntheticConfig) -> None:
        self.config, self.rng = config, random.Random(config.seed)
        self.out = bytearray()
        self.stack: list[str] = []
        self.depth = {"(": 0, "[": 0}
        self.quote, self.pending = False, False
        self.column, self.line_end = 0, self._draw(config.line_lengths)
        self.rows: list[tuple[int, int, int, int, int]] = []  # per byte: paren, bracket, quote, column, pending

    def _draw(self, bounds: tuple[int, int]) -> int:
        low, high = bounds
        return low + int(self.rng.random() * (high - low + 1))

    def _byte(self, char: str) -> None:
        self.out += char.encode()
        self.column = 0 if char == "\n" else self.column + 1
        self.rows.append((self.depth["("], self.depth["["], self.quote, self.column, self.pending))

    def token(self, text: str, name: str = "") -> None:
        """One token, after a space or (when the line would pass its drawn length) a newline.

        ``name`` is "intro" for ``@xyz`` (a name is pending from its ``@``) or "recall" for ``#xyz``
        (none is pending from its last letter on).
        """
        if self.out:
            if self.column + 1 + len(text) > self.line_end:
                self._byte("\n")
                self.line_end = self._draw(self.config.line_lengths)
            else:
                self._byte(" ")
        self.pending = self.pending or name == "intro"
        for char in text[:-1]:
            self._byte(char)
        self.pending = self.pending and name != "recall"
        self._last(text[-1])

    def _last(self, char: str) -> None:
        """The token's last byte, which changes the state (a bracket, a quote mark, a name's end)."""
        if char in OPENERS:
            self.stack.append(char)
            self.depth[char] += 1
        elif char in CLOSERS:
            self.depth[self.stack.pop()] -= 1
        elif char == '"':
            self.quote = not self.quote
        self._byte(char)

    def word(self, length: int | None = None) -> str:
        letters = self.config.letters
        length = length or self._draw(self.config.word_lengths)
        return "".join(letters[int(self.rng.random() * len(letters))] for _ in range(length))


def _quote(w: _Writer, config: SyntheticConfig) -> None:
    """A quoted span: its content's length drawn short or (a share ``long_share``) long, words up to it."""
    bounds = config.long_quote_lengths if w.rng.random() < config.long_share else config.quote_lengths
    length = w._draw(bounds)
    w.token('"')
    start = len(w.out)
    while len(w.out) - start < length:
        w.token(w.word())
    w.token('"')


def _generate(config: SyntheticConfig) -> tuple[bytes, dict[str, np.ndarray]]:
    """The text and its needed variables, token by token until ``n_bytes`` are written (then cut)."""
    w, name, due = _Writer(config), "", 0
    rng = w.rng
    while len(w.out) < config.n_bytes:
        if w.pending and len(w.out) >= due:
            w.token("#" + name, name="recall")
            continue
        r = rng.random()
        if r < config.open_prob:
            if len(w.stack) < config.max_depth:
                w.token("(" if rng.random() < 0.5 else "[")
            continue
        r -= config.open_prob
        if r < config.close_prob:
            if w.stack:
                w.token(")" if w.stack[-1] == "(" else "]")
            continue
        r -= config.close_prob
        if r < config.quote_prob:
            _quote(w, config)
            continue
        r -= config.quote_prob
        if r < config.name_prob and not w.pending:
            name = w.word(config.name_length)
            w.token("@" + name, name="intro")
            due = len(w.out) + w._draw(config.name_distances)
            continue
        w.token(w.word())
    text = bytes(w.out[: config.n_bytes])
    rows = np.asarray(w.rows[: config.n_bytes], dtype=np.int32)
    names = ("paren_depth", "bracket_depth", "in_quotes", "line_position", "name_pending")
    return text, {name: rows[:, i] for i, name in enumerate(names)}


def _spans(rng: np.random.Generator, n: int, on: tuple[int, int], off: tuple[int, int]) -> np.ndarray:
    """An on/off signal of alternating spans with uniform lengths, starting off."""
    lengths = rng.integers([off[0], on[0]], [off[1] + 1, on[1] + 1], size=(n // (off[0] + on[0]) + 1, 2)).ravel()
    return np.repeat(np.arange(len(lengths)) % 2, lengths)[:n].astype(np.int32)


def unknowable_controls(config: SyntheticConfig, draw: int = 0) -> dict[str, np.ndarray]:
    """The controls drawn independently of the text (``draw`` picks another independent draw)."""
    rng = np.random.default_rng([config.control_seed, draw])
    n = config.n_bytes
    quote_on = (config.quote_lengths[0], config.long_quote_lengths[1])
    flag = _spans(rng, n, quote_on, (HORIZON, 10 * HORIZON))
    steps = rng.choice([-1, 0, 1], size=n, p=[0.02, 0.96, 0.02])
    values = _walk(steps, config.max_depth)
    return {"noise_flag": flag, "noise_level": values}


def _walk(steps: np.ndarray, top: int) -> np.ndarray:
    """A walk of ``steps`` reflected inside [0, top], one value per step."""
    values = np.empty(len(steps), np.int32)
    value = 0
    changes = np.flatnonzero(steps)
    last = 0
    for i in changes:
        values[last:i] = value
        value = min(max(value + int(steps[i]), 0), top)
        last = i
    values[last:] = value
    return values


def unneeded_controls(text: bytes, letters: str) -> dict[str, np.ndarray]:
    """The controls a model could compute from the text but never needs: a letter's parity, two letters' walk."""
    data = np.frombuffer(text, np.uint8)
    parity = (np.cumsum(data == ord(letters[-1])) % 2).astype(np.int32)
    step = (data == ord(letters[0])).astype(np.int32) - (data == ord(letters[1]))
    total = np.concatenate([[0], np.cumsum(step)])  # total[i]: the walk over bytes before i
    newline = np.maximum.accumulate(np.where(data == ord("\n"), np.arange(len(data)), -1))  # -1: none yet
    return {"letter_parity": parity, "letter_walk": (total[1:] - total[newline + 1]).astype(np.int32)}


def generate(config: SyntheticConfig) -> tuple[bytes, dict[str, np.ndarray]]:
    """The text and every variable of :data:`VARIABLES`, one value per byte."""
    text, needed = _generate(config)
    return text, {**needed, **unknowable_controls(config), **unneeded_controls(text, config.letters)}


def corpus_path(config: SyntheticConfig, folder: str | Path) -> Path:
    """Where :func:`write` puts the text for ``config`` under ``folder``."""
    return Path(folder) / "synthetic" / config.key / f"synthetic-{config.key[:8]}.txt"


def truth_path(corpus: str | Path) -> Path:
    """The file of true values beside a written corpus."""
    return Path(corpus).with_suffix(".truth.npz")


def write(config: SyntheticConfig, folder: str | Path) -> Path:
    """Generate and write the corpus, its truth and its config (once per config); returns the corpus path."""
    path = corpus_path(config, folder)
    if not truth_path(path).exists():
        text, truth = generate(config)
        atomic_write_text(path.with_suffix(".json"), canonical_json(asdict(config)))
        atomic_write_bytes(path, text)
        atomic_save_npz(truth_path(path), **truth)  # last: its presence says the rest is whole
    return path


def read_truth(corpus: str | Path) -> dict[str, np.ndarray]:
    """The true values written beside a synthetic corpus, by variable."""
    path = truth_path(corpus)
    if not path.exists():
        raise UserError(f"{corpus} has no recorded truth beside it ({path.name}): write it with synthetic.write")
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in VARIABLES}


def target_bytes(text: bytes, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per needed variable, the bytes whose prediction needs it: closing brackets of its kind, closing quotes,
    line breaks, and the letters of a repeated name."""
    data = np.frombuffer(text, np.uint8)
    falls = {name: np.diff(truth[name], prepend=0) < 0 for name in ("paren_depth", "bracket_depth", "in_quotes")}
    recall = np.zeros(len(data), bool)
    for start in np.flatnonzero(data == ord("#")):
        recall[start + 1 : start + 1 + int(truth["name_pending"][start] and _name_length(data, start))] = True
    return {**falls, "line_position": data == ord("\n"), "name_pending": recall}


def _name_length(data: np.ndarray, start: int) -> int:
    """The letters after a ``#`` up to the next space or newline."""
    end = start + 1
    while end < len(data) and data[end] not in (ord(" "), ord("\n")):
        end += 1
    return end - start - 1


# -- The models trained on it ----------------------------------------------------------------------


@dataclass(frozen=True)
class TruthModels:
    """The LSTMs the ground-truth chapter trains on a synthetic corpus: a few widths, one recipe, snapshots."""

    hidden_sizes: tuple[int, ...] = (32, 64, 128)
    n_layers: int = 2
    recipe: Recipe = field(default_factory=lambda: SMALL_RECIPE)  # the small preset's: 1,000 steps
    snapshot_steps: tuple[int, ...] = (50, 100, 200, 400)
    seed: int = 0

    def run_configs(self, corpus: Corpus) -> list[RunConfig]:
        """One run per width, smallest first."""
        return [RunConfig(corpus.sha256, ModelConfig("lstm", self.n_layers, hidden, corpus.vocab_size),
                          self.recipe, self.seed) for hidden in self.hidden_sizes]


TRUTH_MODELS = {  # by preset: tiny for the tests (seconds), every other preset the CPU-sized set
    "tiny": TruthModels(hidden_sizes=(8, 16), recipe=PRESETS["tiny"].recipe, snapshot_steps=(10, 20)),
}
TRUTH_CORPUS = {"tiny": SyntheticConfig(n_bytes=30_000)}  # the generator's defaults for other presets


def truth_models(preset: str) -> TruthModels:
    """The models a preset trains on the synthetic corpus."""
    return TRUTH_MODELS.get(preset, TruthModels())
