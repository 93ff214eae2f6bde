"""Presets: which models a build trains and for how long. A preset is data, not code branches.

- ``tiny``: CI and smoke tests, seconds per model; small batches so a ~10 KB text is enough.
- ``small``: the default book on a 2-core CPU: full corpora, LSTMs of 1-3 layers and a 2-layer RNN
  and GRU at the second budget (plus a small LSTM), 1,000 steps each (n-NN too).
- ``paper``: the exact recipe and the full 36-model grid per corpus, with dropout chosen on
  validation; meant for a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import RECURRENT, REFERENCE_LSTM_SIZES, ModelConfig, budget, matched_hidden_size, nnn_config
from lit_rnn.runs import Recipe, RunConfig


@dataclass(frozen=True)
class GridEntry:
    """One model of a preset's grid, by architecture, depth and size index (0..3 = the paper's four budgets)."""

    architecture: str
    n_layers: int
    size: int


@dataclass(frozen=True)
class Preset:
    name: str
    recipe: Recipe
    grid: tuple[GridEntry, ...]
    dropouts: tuple[float, ...] = (0.0,)
    seed: int = 0
    snapshot_steps: tuple[int, ...] = ()
    ngram_orders: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 20)
    nnn_orders: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 20)
    reference_sizes: tuple[int, ...] = field(default=REFERENCE_LSTM_SIZES)
    max_bytes: int | None = None  # use only the corpus's first bytes (tiny: seconds per chapter)

    def hidden_size(self, entry: GridEntry, vocab_size: int) -> int:
        """Hidden size of ``entry`` matched to the 1-layer LSTM budget of its size index."""
        target = budget(entry.size, vocab_size, self.reference_sizes)
        return matched_hidden_size(entry.architecture, entry.n_layers, target, vocab_size)

    def run_configs(self, corpus: Corpus) -> list[RunConfig]:
        """Every run the preset trains on ``corpus``: each grid entry at each dropout."""
        return [
            RunConfig(
                corpus_sha256=corpus.sha256,
                model=ModelConfig(
                    entry.architecture, entry.n_layers, self.hidden_size(entry, corpus.vocab_size), corpus.vocab_size,
                    dropout,
                ),
                recipe=self.recipe,
                seed=self.seed,
            )
            for entry in self.grid
            for dropout in self.dropouts
        ]

    def nnn_run_configs(self, corpus: Corpus) -> list[RunConfig]:
        """The n-NN baselines: one per order in ``nnn_orders`` and dropout, same recipe."""
        return [
            RunConfig(corpus.sha256, nnn_config(n, corpus.vocab_size, dropout), self.recipe, self.seed)
            for n in self.nnn_orders
            for dropout in self.dropouts
        ]


def full_grid(depths=(1, 2, 3), sizes=(0, 1, 2, 3), architectures=RECURRENT) -> tuple[GridEntry, ...]:
    return tuple(GridEntry(a, d, s) for a in architectures for d in depths for s in sizes)


PRESETS = {
    "tiny": Preset(
        name="tiny",
        recipe=Recipe(batch_size=10, seq_length=50, epochs=1, eval_every=20, patience=3, max_steps=40),
        grid=(GridEntry("lstm", 1, 0), GridEntry("lstm", 2, 0), GridEntry("gru", 1, 0), GridEntry("rnn", 1, 0)),
        reference_sizes=(16, 32, 64, 128),
        snapshot_steps=(5, 10, 20),
        ngram_orders=(1, 2, 3, 5, 9, 20),
        nnn_orders=(1, 2, 3),
        max_bytes=120_000,
    ),
    "small": Preset(
        name="small",
        # A fixed step budget rather than epochs, so both corpora cost the same: 1,000 steps are
        # 3.8 epochs of War and Peace and 2 of Linux.
        recipe=Recipe(epochs=50, max_steps=1000, eval_every=250, patience=3),
        grid=(
            GridEntry("lstm", 1, 0),
            *(GridEntry("lstm", depth, 1) for depth in (1, 2, 3)),
            GridEntry("rnn", 2, 1),
            GridEntry("gru", 2, 1),
        ),
        snapshot_steps=(25, 50, 100, 200, 400, 800),
        nnn_orders=(1, 2, 3, 5, 9, 20),
    ),
    "paper": Preset(
        name="paper",
        recipe=Recipe(),
        grid=full_grid(),
        dropouts=(0.0, 0.25, 0.5),
        snapshot_steps=(50, 100, 200, 400, 800, 1600, 3200),
    ),
}


DEFAULT_PRESET = "small"  # what `make book` builds


def get_preset(name: str, **recipe_overrides) -> Preset:
    """A preset by name, optionally with some recipe fields replaced (e.g. ``epochs=2``)."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    return replace(preset, recipe=replace(preset.recipe, **recipe_overrides)) if recipe_overrides else preset
