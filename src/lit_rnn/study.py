"""One corpus at one preset: the runs every chapter reads, named in one place.

A Study is the only place that decides *which* runs a chapter analyses (:attr:`Study.cell_run`,
:attr:`Study.gate_runs`, :attr:`Study.error_runs`, …). It trains what is missing through the run
store, so a second build reuses everything, and hands the analyses plain
:class:`~lit_rnn.predictions.Predictions`, traces and the corpus lexed in its language (the
reference signals). :meth:`Study.prepare` computes exactly what those properties name, so
executing the chapters afterwards only reads the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from lit_rnn import evaluate
from lit_rnn.analysis.oracles import OracleConfig
from lit_rnn.analysis.signals import Signal, Syntax, lex, reference_signals
from lit_rnn.data import Batcher, Corpus
from lit_rnn.grid import choose_dropout, train_runs
from lit_rnn.predictions import Predictions
from lit_rnn.presets import Preset
from lit_rnn.runs import Run
from lit_rnn.settings import Settings


@dataclass
class Study:
    settings: Settings
    _predictions: dict = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, **parameters) -> Study:
        """A study from a chapter's parameters (corpus, preset, device, precision, data_dir, artifacts, language)."""
        return cls(Settings.resolve(**parameters))

    @property
    def corpus(self) -> Corpus:
        return self.settings.corpus

    @property
    def preset(self) -> Preset:
        return self.settings.preset

    @property
    def artifacts(self) -> Path:
        return self.settings.artifacts

    @property
    def batcher(self) -> Batcher:
        return self.preset.recipe.batcher(self.corpus)

    def _train(self, configs, snapshots: bool = True) -> list[Run]:
        options = self.settings.train_options
        options = options if snapshots else replace(options, snapshot_steps=())
        return train_runs(configs, self.corpus, options, self.artifacts, self.settings.jobs)

    # -- The runs, by the role they play in the chapters ----------------------------------------

    @cached_property
    def grid_runs(self) -> list[Run]:
        """One run per model of the grid (Table 1), its dropout chosen on validation."""
        return choose_dropout(self._train(self.preset.run_configs(self.corpus)))

    @cached_property
    def nnn_runs(self) -> dict[int, Run]:
        """The n-NN baselines by n (dropout chosen on validation)."""
        runs = choose_dropout(self._train(self.preset.nnn_run_configs(self.corpus), snapshots=False))
        return {run.config.model.context: run for run in sorted(runs, key=lambda r: r.config.model.context)}

    def has(self, architecture: str) -> bool:
        return any(r.config.model.architecture == architecture for r in self.grid_runs)

    def best(self, architecture: str = "lstm") -> Run:
        """The run of ``architecture`` with the lowest validation loss."""
        return min(self._of(architecture), key=lambda r: r.result.best_val_loss)

    def deepest(self, architecture: str = "lstm") -> Run:
        """The run of ``architecture`` with the most layers (the best of those): the paper's Figure 3 model."""
        return min(self._of(architecture), key=lambda r: (-r.config.model.n_layers, r.result.best_val_loss))

    def smallest(self, architecture: str = "lstm") -> Run:
        """The run of ``architecture`` with the fewest parameters."""
        return min(self._of(architecture), key=lambda r: r.result.parameters)

    def _of(self, architecture: str) -> list[Run]:
        return [r for r in self.grid_runs if r.config.model.architecture == architecture]

    @property
    def cell_run(self) -> Run:
        """The model whose cells chapter 3 ranks and shows."""
        return self.best("lstm")

    @property
    def gate_runs(self) -> dict[str, Run]:
        """The models whose gates chapter 4 measures, by architecture (LSTM and GRU, where present)."""
        return {architecture: self.deepest(architecture) for architecture in ("lstm", "gru") if self.has(architecture)}

    @property
    def error_runs(self) -> list[Run]:
        """The large and the small LSTM whose errors chapter 7 peels (one run if they coincide)."""
        return list(dict.fromkeys([self.best("lstm"), self.smallest("lstm")]))

    @property
    def dynamics_run(self) -> Run:
        """The LSTM whose early snapshots chapter 6 compares with the n-NNs."""
        return self.best("lstm")

    # -- What the chapters read ------------------------------------------------------------------

    def prepare(self) -> None:
        """Train and evaluate everything the chapters read, so executing them only reads the store."""
        for run in self.grid_runs:
            self.predictions(run)
        for run in {self.cell_run.dir: self.cell_run, **{r.dir: r for r in self.gate_runs.values()}}.values():
            self.trace(run)
        self.snapshot_predictions(self.dynamics_run)
        self.baselines()
        self.signals()

    def ngram(self, order: int, split: str = "test") -> Predictions:
        """The KenLM ``order``-gram's predictions (estimated and cached on first use)."""
        from lit_rnn.ngram import ngram_predictions

        return ngram_predictions(self.batcher, order, split, self.artifacts)

    def oracle_ngrams(self, oracle: OracleConfig) -> list[Predictions]:
        """The preset's n-gram predictions among those the error oracle consults, by increasing order."""
        return [self.ngram(order) for order in oracle.ngram_orders if order in self.preset.ngram_orders]

    def baselines(self) -> tuple[dict[int, Predictions], dict[int, Predictions]]:
        """Test predictions of every n-gram and every n-NN of the preset, by n."""
        ngrams = {n: self.ngram(n) for n in self.preset.ngram_orders}
        nnns = {n: self.predictions(run) for n, run in self.nnn_runs.items()}
        return ngrams, nnns

    def predictions(self, run: Run, split: str = "test") -> Predictions:
        key = (run.config.run_id, split)
        if key not in self._predictions:
            self._predictions[key] = evaluate.predictions(run, self.corpus, split, self.settings.device)
        return self._predictions[key]

    def snapshot_predictions(self, run: Run, split: str = "test") -> list[tuple[int, Predictions]]:
        """The run's predictions at each kept early checkpoint, by training step."""
        return [(step, evaluate.predictions(run, self.corpus, split, self.settings.device, checkpoint=path))
                for step, path in run.snapshots().items()]

    def trace(self, run: Run, split: str = "test") -> evaluate.StoredTrace:
        return evaluate.trace(run, self.corpus, split, self.settings.device)

    @cached_property
    def syntax(self) -> Syntax:
        """The corpus lexed in its language (cached in the store): where its quotes, comments and code are."""
        return lex(self.corpus.data, self.settings.language, cache=self.artifacts / "syntax")

    def signals(self) -> dict[str, Signal]:
        """The reference signals of the corpus's language, over the whole corpus."""
        return reference_signals(self.syntax)

    def train_positions(self) -> np.ndarray:
        """Corpus offsets of the training split, in text order (what the rare-word oracle counts)."""
        return self.batcher.positions("train").ravel()
