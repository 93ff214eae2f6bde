"""Presets: which models a build trains and for how long. A preset is data, not code branches.

Every preset names the same roles, which the chapters read through :class:`lit_rnn.study.Study`:

- the **grid** (Table 1): recurrent models at the paper's matched parameter budgets;
- the **large** model of each architecture: the one whose cells, gates and errors the chapters
  analyse (the paper's 3-layer models at the largest budget);
- the **small** LSTM, whose errors the error analysis sets beside the large one's;
- the **n-NN** baselines (Table 2), and the **dynamics** run whose early snapshots chapter 6
  compares with them;
- the **replicates**: a few grid models trained again with other seeds, so that chapter 2 can say how
  much of a difference in Table 1 a seed alone makes.

The presets:

- ``tiny``: CI and smoke tests, seconds per model, on the first 120 KB of a corpus;
- ``small``: LSTMs of 1-3 layers and a 2-layer RNN and GRU at the second budget (plus a small
  LSTM), 1,000 steps each, n-NNs too: the whole set trains on a 2-core CPU in well under an hour;
- ``core`` (the default book): the small grid for Table 1, and the paper-scale models the analyses
  need (3-layer LSTM, GRU and RNN at the largest budget, the 3-layer LSTM at the smallest, the
  n-NNs, the first 3 epochs of the large LSTM) trained with the paper's full recipe: on one GPU in
  minutes, or imported from ``pretrained/``;
- ``paper``: the paper's whole grid (36 models × 3 dropouts) with the full recipe; meant for a GPU.

Every preset also names its **Transformers** (chapter 10), matched to the same budgets: the smaller
ones with a short recipe a CPU trains in minutes, the largest (windows of 100 and 512 bytes) with a
longer one meant for a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import (
    RECURRENT,
    REFERENCE_LSTM_SIZES,
    ModelConfig,
    budget,
    matched_hidden_size,
    matched_transformer,
    nnn_config,
)
from lit_rnn.runs import Recipe, RunConfig

TABLE2_CONTEXTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 20)  # the paper's Table 2 rows: bytes of context


@dataclass(frozen=True)
class ModelSpec:
    """A recurrent model of a preset: architecture, depth, budget index (0..3) and the dropouts tried."""

    architecture: str
    n_layers: int
    budget_index: int  # which of the paper's budgets: a 1-layer LSTM of 64, 128, 256, 512 cells
    dropouts: tuple[float, ...] = (0.0,)


@dataclass(frozen=True)
class TransformerSpec:
    """A Transformer of a preset: budget index, depth, heads, window, and whether a CPU trains it (else a GPU)."""

    budget_index: int
    n_layers: int
    n_heads: int
    window: int = 100  # bytes it attends over: 100 is the LSTM's unroll
    cpu: bool = True  # trained with the preset's short Transformer recipe, on demand; else the long one, on a GPU


# AdamW with a linear warm-up and a cosine decay to a tenth, GPT-2's initialisation: a recipe suited to a
# Transformer, on the same batches (100 rows x 100 bytes) and split as the LSTM's.
TRANSFORMER_RECIPE = Recipe(learning_rate=2e-3, optimizer="adamw", weight_decay=0.1, schedule="cosine",
                            warmup_steps=100, initialisation="normal", epochs=50, max_steps=1000, eval_every=250,
                            patience=3)  # the CPU one: 1,000 steps, as the small grid's LSTMs
TRANSFORMER_GPU_RECIPE = replace(TRANSFORMER_RECIPE, learning_rate=1e-3, warmup_steps=500, epochs=20,
                                 max_steps=None, eval_every=1000, patience=5)
TRANSFORMERS = (TransformerSpec(0, 2, 2), TransformerSpec(1, 2, 2), TransformerSpec(2, 4, 4),
                TransformerSpec(3, 4, 4, cpu=False), TransformerSpec(3, 4, 4, window=512, cpu=False))


@dataclass(frozen=True)
class Preset:
    name: str
    recipe: Recipe  # the analysed models' recipe, and the n-NNs'
    grid: tuple[ModelSpec, ...]  # Table 1
    large: tuple[ModelSpec, ...]  # per architecture, the model the chapters analyse
    small: ModelSpec  # the small LSTM of the error comparison
    grid_recipe: Recipe | None = None  # Table 1's recipe where it differs from ``recipe``
    nnn_contexts: tuple[int, ...] = TABLE2_CONTEXTS
    ngram_contexts: tuple[int, ...] = TABLE2_CONTEXTS  # the n-gram conditioning on n bytes has order n + 1
    dynamics_epochs: float | None = None  # the dynamics run: the large LSTM cut at this many epochs (None: itself)
    snapshot_steps: tuple[int, ...] = ()  # training steps whose weights are kept (training dynamics)
    seed: int = 0
    replicates: tuple[ModelSpec, ...] = ()  # grid models trained again with the seeds below: the training noise
    replicate_seeds: tuple[int, ...] = ()
    reference_sizes: tuple[int, ...] = field(default=REFERENCE_LSTM_SIZES)
    max_bytes: int | None = None  # use only the corpus's first bytes (tiny: seconds per chapter)
    train_on_demand: bool = True  # False: the analysed models are trained by `lit-rnn grid` or shipped, never
    # by a chapter (the paper's recipe takes hours on a CPU); a chapter falls back to the grid and says so
    transformers: tuple[TransformerSpec, ...] = TRANSFORMERS
    transformer_recipe: Recipe = TRANSFORMER_RECIPE  # the CPU Transformers'
    transformer_gpu_recipe: Recipe = TRANSFORMER_GPU_RECIPE  # the others'

    def model(self, spec: ModelSpec, dropout: float, vocab_size: int) -> ModelConfig:
        """The model a spec describes, its hidden size matched to its budget for this vocabulary."""
        target = budget(spec.budget_index, vocab_size, self.reference_sizes)
        hidden = matched_hidden_size(spec.architecture, spec.n_layers, target, vocab_size)
        return ModelConfig(spec.architecture, spec.n_layers, hidden, vocab_size, dropout)

    def spec_configs(self, spec: ModelSpec, corpus: Corpus, recipe: Recipe | None = None) -> list[RunConfig]:
        """One run per dropout of ``spec`` (with ``recipe``, else the preset's)."""
        return [RunConfig(corpus.sha256, self.model(spec, dropout, corpus.vocab_size), recipe or self.recipe, self.seed)
                for dropout in spec.dropouts]

    def grid_configs(self, corpus: Corpus) -> list[RunConfig]:
        return [c for spec in self.grid for c in self.spec_configs(spec, corpus, self.grid_recipe)]

    def replicate_configs(self, corpus: Corpus) -> list[RunConfig]:
        """The ``replicates`` as the grid trains them, once per seed of ``replicate_seeds``, seed by seed (so that
        training cut short leaves each model with as many seeds): what a model's test loss owes to its seed (its
        initialisation, and its dropout masks)."""
        return [replace(config, seed=seed) for seed in self.replicate_seeds for spec in self.replicates
                for config in self.spec_configs(spec, corpus, self.grid_recipe)]

    def table1_configs(self, corpus: Corpus, *, architectures: tuple[str, ...] | None = None,
                       layers: tuple[int, ...] | None = None, budgets: tuple[int, ...] | None = None,
                       dropouts: tuple[float, ...] | None = None, seeds: tuple[int, ...] | None = None,
                       ) -> list[RunConfig]:
        """Table 1's runs, the grid's then its replicates', keeping those whose architecture, depth, budget index,
        dropout and seed are each among the values given (None: any): a part of the grid to train on its own."""
        def chosen(spec: ModelSpec) -> bool:
            return ((architectures is None or spec.architecture in architectures)
                    and (layers is None or spec.n_layers in layers)
                    and (budgets is None or spec.budget_index in budgets))

        narrowed = replace(self, grid=tuple(filter(chosen, self.grid)) if seeds is None or self.seed in seeds else (),
                           replicates=tuple(filter(chosen, self.replicates)),
                           replicate_seeds=tuple(s for s in self.replicate_seeds if seeds is None or s in seeds))
        kept = [c for c in [*narrowed.grid_configs(corpus), *narrowed.replicate_configs(corpus)]
                if dropouts is None or c.model.dropout in dropouts]
        return list({c.run_id: c for c in kept}.values())  # a replicate at the grid's own seed is the grid's run

    def large_configs(self, corpus: Corpus) -> dict[str, list[RunConfig]]:
        return {spec.architecture: self.spec_configs(spec, corpus) for spec in self.large}

    def small_configs(self, corpus: Corpus) -> list[RunConfig]:
        return self.spec_configs(self.small, corpus)

    def nnn_configs(self, corpus: Corpus) -> list[RunConfig]:
        """The n-NN baselines: one per context length, with the preset's recipe."""
        return [RunConfig(corpus.sha256, nnn_config(n, corpus.vocab_size), self.recipe, self.seed)
                for n in self.nnn_contexts]

    def transformer_config(self, spec: TransformerSpec, corpus: Corpus) -> RunConfig:
        """The Transformer a spec describes, its width matched to its budget, with its recipe."""
        target = budget(spec.budget_index, corpus.vocab_size, self.reference_sizes)
        model = matched_transformer(spec.n_layers, spec.n_heads, target, corpus.vocab_size, spec.window)
        recipe = self.transformer_recipe if spec.cpu else self.transformer_gpu_recipe
        return RunConfig(corpus.sha256, model, recipe, self.seed)

    def transformer_configs(self, corpus: Corpus, cpu: bool | None = None) -> list[RunConfig]:
        """The preset's Transformers (only the CPU ones, or only the others, when ``cpu`` says)."""
        return [self.transformer_config(s, corpus) for s in self.transformers if cpu is None or s.cpu == cpu]

    def dynamics_config(self, large_lstm: RunConfig) -> RunConfig | None:
        """The training-dynamics run: the chosen large LSTM's config cut at ``dynamics_epochs`` (its first
        epochs, step for step), or None when the large LSTM's own snapshots serve."""
        if self.dynamics_epochs is None:
            return None
        return replace(large_lstm, recipe=replace(large_lstm.recipe, epochs=self.dynamics_epochs))

    def run_configs(self, corpus: Corpus) -> list[RunConfig]:
        """Every run the preset trains on ``corpus`` (each dropout and replicate seed; the dynamics runs of every large
        LSTM)."""
        large = [c for configs in self.large_configs(corpus).values() for c in configs]
        dynamics = [self.dynamics_config(c) for c in self.large_configs(corpus).get("lstm", [])]
        every = [*self.grid_configs(corpus), *self.replicate_configs(corpus), *large, *self.small_configs(corpus),
                 *self.nnn_configs(corpus), *(c for c in dynamics if c is not None), *self.transformer_configs(corpus)]
        return list({c.run_id: c for c in every}.values())


def full_grid(dropouts: tuple[float, ...], n_layers=(1, 2, 3), budget_indices=(0, 1, 2, 3),
              architectures=RECURRENT) -> tuple[ModelSpec, ...]:
    return tuple(ModelSpec(a, n, b, dropouts) for a in architectures for n in n_layers for b in budget_indices)


def geometric_steps(first: int, last: int, count: int) -> tuple[int, ...]:
    """``count`` training steps from ``first`` to ``last``, evenly spaced in log: dense early, where training moves
    fastest (the training dynamics' snapshots)."""
    return tuple(sorted({round(float(step)) for step in np.geomspace(first, last, count)}))


SMALL_RECIPE = Recipe(epochs=50, max_steps=1000, eval_every=250, patience=3)
# A fixed step budget rather than epochs, so both corpora cost the same: 1,000 steps are 3.8
# epochs of War and Peace and 2 of Linux.
SMALL_GRID = (
    ModelSpec("lstm", 1, 0),
    *(ModelSpec("lstm", n_layers, 1) for n_layers in (1, 2, 3)),
    ModelSpec("rnn", 2, 1),
    ModelSpec("gru", 2, 1),
)
PAPER_DROPOUTS = (0.0, 0.25, 0.5)

PRESETS = {
    "tiny": Preset(
        name="tiny",
        recipe=Recipe(batch_size=10, seq_length=50, epochs=1, eval_every=20, patience=3, max_steps=40),
        grid=(ModelSpec("lstm", 1, 0), ModelSpec("lstm", 2, 0), ModelSpec("gru", 1, 0), ModelSpec("rnn", 1, 0)),
        large=(ModelSpec("lstm", 2, 0), ModelSpec("gru", 1, 0), ModelSpec("rnn", 1, 0)),
        small=ModelSpec("lstm", 1, 0),
        reference_sizes=(16, 32, 64, 128),
        snapshot_steps=(5, 10, 20),
        nnn_contexts=(1, 2, 3),
        ngram_contexts=(1, 2, 3, 5, 9, 20),
        max_bytes=120_000,
        transformers=(TransformerSpec(0, 2, 2, window=50), TransformerSpec(1, 2, 2, window=50, cpu=False)),
        transformer_recipe=Recipe(batch_size=10, seq_length=50, epochs=1, eval_every=20, patience=3, max_steps=40,
                                  optimizer="adamw", weight_decay=0.1, schedule="cosine", warmup_steps=5,
                                  initialisation="normal"),
        transformer_gpu_recipe=Recipe(batch_size=10, seq_length=50, epochs=1, eval_every=20, patience=3,
                                      max_steps=60, optimizer="adamw", weight_decay=0.1, schedule="cosine",
                                      warmup_steps=5, initialisation="normal"),
    ),
    "small": Preset(
        name="small",
        recipe=SMALL_RECIPE,
        grid=SMALL_GRID,
        large=(ModelSpec("lstm", 3, 1), ModelSpec("gru", 2, 1), ModelSpec("rnn", 2, 1)),
        small=ModelSpec("lstm", 1, 0),
        snapshot_steps=(25, 50, 100, 200, 400, 800),
        nnn_contexts=(1, 2, 3, 5, 9, 20),
        transformers=TRANSFORMERS[:2],
    ),
    "core": Preset(
        name="core",
        recipe=Recipe(),
        grid=SMALL_GRID,
        grid_recipe=SMALL_RECIPE,
        large=(ModelSpec("lstm", 3, 3, (0.25, 0.5)), ModelSpec("gru", 3, 3, (0.25,)), ModelSpec("rnn", 3, 3, (0.25,))),
        small=ModelSpec("lstm", 3, 0),
        dynamics_epochs=3.0,
        # Linux's 3 epochs are 3 x 496 = 1,488 steps at batch 100 x unroll 100; War and Peace's (3 x 260) hold 21 of 24.
        snapshot_steps=geometric_steps(10, 1488, 24),
        train_on_demand=False,
    ),
    "paper": Preset(
        name="paper",
        recipe=Recipe(),
        grid=full_grid(PAPER_DROPOUTS),
        large=tuple(ModelSpec(a, 3, 3, PAPER_DROPOUTS) for a in RECURRENT),
        small=ModelSpec("lstm", 3, 0, PAPER_DROPOUTS),
        snapshot_steps=(50, 100, 200, 400, 800, 1600, 3200),
        # The smallest budget's 1-layer LSTM and RNN (minutes each on a CPU), four more seeds each.
        replicates=(ModelSpec("lstm", 1, 0), ModelSpec("rnn", 1, 0)),
        replicate_seeds=(1, 2, 3, 4),
    ),
}
DEFAULT_PRESET = "core"  # what `make book` builds


def get_preset(name: str, **recipe_overrides) -> Preset:
    """A preset by name, optionally with some recipe fields replaced (e.g. ``epochs=2``) in all its recipes."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if not recipe_overrides:
        return preset
    grid_recipe = replace(preset.grid_recipe, **recipe_overrides) if preset.grid_recipe else None
    return replace(preset, recipe=replace(preset.recipe, **recipe_overrides), grid_recipe=grid_recipe)
