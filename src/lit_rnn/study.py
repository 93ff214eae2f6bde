"""One corpus at one preset: the trained runs and predictions that the chapters read.

A Study is the only place that decides *which* runs a chapter needs; it trains what is missing
(through the run store, so a second build reuses everything) and hands the analyses plain
:class:`~lit_rnn.predictions.Predictions` and traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from lit_rnn import evaluate
from lit_rnn.data import Corpus, load_corpus
from lit_rnn.grid import choose_dropout, train_runs
from lit_rnn.predictions import Predictions
from lit_rnn.presets import Preset, get_preset
from lit_rnn.train import Run, TrainOptions, fast_bf16


@dataclass
class Study:
    corpus: Corpus
    preset: Preset
    root: Path | None = None
    device: str = "cpu"
    jobs: int = 1
    progress: bool = True
    _predictions: dict = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, corpus: str, preset: str = "small", data_dir: str | None = None, artifacts: str | None = None,
             device: str = "cpu", jobs: int = 1, progress: bool = True) -> Study:
        """A study of a registered corpus or any text file at a named preset."""
        preset_ = get_preset(preset)
        text = load_corpus(corpus, data_dir)
        if preset_.max_bytes is not None:
            text = text.head(preset_.max_bytes)
        return cls(text, preset_, Path(artifacts) if artifacts else None, device, jobs, progress)

    @property
    def options(self) -> TrainOptions:
        return TrainOptions(device=self.device, autocast_bf16=fast_bf16(self.device), progress=self.progress,
                            snapshot_steps=self.preset.snapshot_steps)

    @cached_property
    def all_runs(self) -> list[Run]:
        """Every recurrent run of the preset (each dropout), trained if missing."""
        return train_runs(self.preset.run_configs(self.corpus), self.corpus, self.options, self.root, self.jobs)

    @cached_property
    def runs(self) -> list[Run]:
        """One run per model of the grid, its dropout chosen on validation."""
        return choose_dropout(self.all_runs)

    @cached_property
    def nnn_runs(self) -> dict[int, Run]:
        """The n-NN baselines by n (dropout chosen on validation)."""
        runs = choose_dropout(train_runs(self.preset.nnn_run_configs(self.corpus), self.corpus,
                                         replace(self.options, snapshot_steps=()), self.root, self.jobs))
        return {run.config.model.context: run for run in sorted(runs, key=lambda r: r.config.model.context)}

    @property
    def batcher(self):
        recipe = self.preset.recipe
        return self.corpus.batcher(recipe.batch_size, recipe.seq_length)

    def ngram(self, order: int, split: str = "test") -> Predictions:
        """The KenLM ``order``-gram's predictions (estimated and cached on first use)."""
        from lit_rnn.ngram import ngram_predictions

        return ngram_predictions(self.batcher, order, split, self.root)

    def baselines(self) -> tuple[dict[int, Predictions], dict[int, Predictions]]:
        """Test predictions of every n-gram and every n-NN of the preset, by n."""
        ngrams = {n: self.ngram(n) for n in self.preset.ngram_orders}
        nnns = {n: self.predictions(run) for n, run in self.nnn_runs.items()}
        return ngrams, nnns

    def prepare(self) -> None:
        """Train and evaluate everything the chapters read, so executing them only reads the store."""
        for run in self.runs:
            self.predictions(run)
        for cell in ("lstm", "gru"):
            if self.has(cell):
                self.trace(self.deepest(cell))
        self.trace(self.best("lstm"))
        self.snapshot_predictions(self.best("lstm"))
        self.baselines()

    def has(self, cell: str) -> bool:
        return any(r.config.model.cell == cell for r in self.runs)

    def deepest(self, cell: str = "lstm") -> Run:
        """The run of type ``cell`` with the most layers (the best of those): the paper's Figure 3 model."""
        return min((r for r in self.runs if r.config.model.cell == cell),
                   key=lambda r: (-r.config.model.n_layers, r.result["best_val_loss"]))

    def snapshot_predictions(self, run: Run, split: str = "test") -> list[tuple[int, Predictions]]:
        """The run's predictions at each kept early checkpoint, by training step."""
        return [(step, evaluate.predictions(run, self.corpus, split, self.device, checkpoint=path))
                for step, path in run.snapshots().items()]

    def finished_runs(self) -> list[Run]:
        """The preset's recurrent runs already in the store (none trained), dropout chosen."""
        return choose_dropout([run for config in self.preset.run_configs(self.corpus)
                               if (run := Run(config, self.root)).is_finished])

    def best(self, cell: str = "lstm") -> Run:
        """The run of type ``cell`` with the lowest validation loss."""
        return min((r for r in self.runs if r.config.model.cell == cell), key=lambda r: r.result["best_val_loss"])

    def smallest(self, cell: str = "lstm") -> Run:
        """The run of type ``cell`` with the fewest parameters."""
        return min((r for r in self.runs if r.config.model.cell == cell), key=lambda r: r.result["parameters"])

    def predictions(self, run: Run, split: str = "test") -> Predictions:
        key = (run.config.run_id, split)
        if key not in self._predictions:
            self._predictions[key] = evaluate.predictions(run, self.corpus, split, self.device)
        return self._predictions[key]

    def trace(self, run: Run, split: str = "test") -> evaluate.Trace:
        return evaluate.trace(run, self.corpus, split, self.device)
