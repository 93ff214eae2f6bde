"""One corpus at one preset: the runs every chapter reads, named in one place.

A Study is the only place that decides *which* runs a chapter analyses (:attr:`Study.cell_run`,
:attr:`Study.gate_runs`, :attr:`Study.error_runs`, …). It trains what is missing through the run
store, so a second build reuses everything, and hands the analyses plain
:class:`~lit_rnn.predictions.Predictions`, traces and the corpus lexed in its language (the
reference signals). :meth:`Study.prepare` computes exactly what those properties name, so
executing the chapters afterwards only reads the store.
"""

from __future__ import annotations

import functools
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from lit_rnn import evaluate, interventions
from lit_rnn.analysis import scorecard
from lit_rnn.analysis.causal import cells_to_ablate
from lit_rnn.analysis.cells import held_out, rank_cells, top_cells
from lit_rnn.analysis.compare import budget_index, byte_entropy, did_not_train
from lit_rnn.analysis.oracles import OracleConfig
from lit_rnn.analysis.signals import Signal, Syntax, lex, reference_signals, varying
from lit_rnn.atomic import atomic_write_text, cached
from lit_rnn.data import Batcher, Corpus
from lit_rnn.dynamic import DynamicResult, dynamic_evaluation
from lit_rnn.grid import choose_dropout, train_runs
from lit_rnn.hashing import config_hash
from lit_rnn.interventions import AblationConfig, LayerAblations
from lit_rnn.models import ModelConfig, budget
from lit_rnn.predictions import Predictions
from lit_rnn.presets import PRESETS, Preset
from lit_rnn.runs import Run, RunConfig, import_shipped
from lit_rnn.settings import Settings

NAMED = 4  # the grid note names the models trained with the paper's recipe, up to this many


@dataclass
class Study:
    settings: Settings
    notes: list[str] = field(default_factory=list)  # fallbacks and short runs, for the chapters to show
    _held: dict = field(default_factory=dict, repr=False)  # notes kept until a chapter uses the models they are about
    _predictions: dict = field(default_factory=dict, repr=False)
    _rankings: dict = field(default_factory=dict, repr=False)  # held-out cell rankings by run id

    @classmethod
    def open(cls, **parameters) -> Study:
        """A study from a chapter's parameters (corpus, preset, device, precision, data_dir, artifacts, language);
        any other keyword of :meth:`Settings.resolve` is passed on."""
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

    @property
    def prose(self) -> bool:
        """Whether the text is prose rather than code: its language is "text"."""
        return self.settings.language == "text"

    @property
    def budgets(self) -> list[int]:
        """The paper's four parameter budgets for this corpus's vocabulary."""
        return [budget(budget_index, self.corpus.vocab_size, self.preset.reference_sizes)
                for budget_index in range(len(self.preset.reference_sizes))]

    def _runs(self, configs: list[RunConfig], train: bool = True, weightless: bool = False) -> list[Run]:
        """The finished runs of ``configs``: from the store, imported from pretrained/, or (``train``) trained;
        weightless runs only if ``weightless`` (every analysis but Table 1 and Figure 1 needs the weights)."""
        settings = self.settings
        if not train:
            if settings.shipped is not None:
                import_shipped(configs, settings.shipped, self.artifacts)
            runs = [run for c in configs if (run := Run(c, self.artifacts)).is_finished]
        else:
            runs = train_runs(configs, self.corpus, settings.train_options, self.artifacts, settings.jobs,
                              shipped=settings.shipped, packed=settings.packed)
        return [run for run in runs if weightless or not run.weightless]

    # -- The runs, by the role they play in the chapters ----------------------------------------
    # The grid trains on demand. The analysed models (large, small, n-NN, dynamics) train on demand
    # unless the preset says they are trained elsewhere (``train_on_demand``): then a missing one
    # falls back to the grid's nearest model, and ``notes`` says so for the chapters to show.

    @cached_property
    def grid_runs(self) -> list[Run]:
        """One run per model of Table 1, its dropout chosen on validation: the paper's grid trained with its full
        recipe wherever the store holds it (weightless or not), the preset's own grid for the other models."""
        full = [] if self.preset.name == "paper" else choose_dropout(
            self._runs(PRESETS["paper"].grid_configs(self.corpus), train=False, weightless=True))
        covered = {replace(run.config.model, dropout=0.0) for run in full}
        own = [c for c in self.preset.grid_configs(self.corpus) if replace(c.model, dropout=0.0) not in covered]
        runs = [*full, *choose_dropout(self._runs(own, weightless=True))]
        recipe = (self.preset.grid_recipe or self.preset.recipe).length
        models = {replace(c.model, dropout=0.0) for c in PRESETS["paper"].grid_configs(self.corpus)}
        grid = f"Of the paper's grid of {_count(len(models), 'model')} (its Table 1 and Figure 1), this build " \
               f"has {len(runs)}"
        if full:
            weightless, own_count = sum(run.weightless for run in full), len(runs) - len(full)
            named = ", ".join(run.shortfall or run.name for run in full) if len(full) <= NAMED else \
                "; ".join(run.shortfall for run in full if run.shortfall)  # a few by name, else those cut short
            caveats = ([f"{weightless} of them shipped without weights: their results and a summary of their test "
                        "predictions only"] if weightless else []) + ([named] if named else [])
            self._hold("grid", f"{grid}" + (", all with the paper's recipe" if not own_count else
                                             f": {len(full)} with the paper's recipe")
                              + (f" ({'; '.join(caveats)})" if caveats else "")
                              + (f", {own_count} with this preset's ({recipe})" if own_count else "") + ".")
        elif self.preset.name != "paper" and self.preset.max_bytes is None:  # a cut corpus has no paper grid
            self._hold("grid", f"{grid}, all this preset's ({recipe}): none trained with the paper's full recipe is in "
                              f"its run store ({self._how_to_train(PRESETS['paper'])}).")
        return runs

    @cached_property
    def replicate_runs(self) -> dict[ModelConfig, list[Run]]:
        """Per model the paper's preset trains with several seeds (its replicates), its runs by seed, the grid's own
        included, where the store holds two or more that finished their recipe and trained: how far a seed alone
        moves a model's test loss."""
        paper = PRESETS["paper"]
        replicates = paper.replicate_configs(self.corpus)
        originals = list({replace(c, seed=paper.seed): None for c in replicates})  # the grid's runs of those models
        by_model: dict[ModelConfig, list[Run]] = {}
        for run in self._runs([*originals, *replicates], train=False, weightless=True):
            if not (run.shortfall or self.did_not_train(run)):
                by_model.setdefault(run.config.model, []).append(run)
        return {model: sorted(runs, key=lambda run: run.config.seed) for model, runs in by_model.items()
                if len(runs) > 1}

    @property
    def replicates_missing(self) -> str:
        """What the store lacks to measure a seed's share, and how to train it ("" when it has them, or for a cut
        corpus, which has no paper grid to replicate)."""
        if self.replicate_runs or self.preset.max_bytes is not None:
            return ""
        wanted = PRESETS["paper"].replicate_configs(self.corpus)
        seeds = sorted({c.seed for c in wanted})
        command = f"lit-rnn grid --corpus {shlex.quote(self.corpus.argument)} --preset paper"
        return ("This build's run store holds no model trained with more than one seed, so Table 1's differences "
                "here have no measure of their seeds' share. The `paper` preset's replicates are "
                + scorecard.listed(sorted({c.model.name for c in wanted})) + " at seeds "
                + scorecard.listed(map(str, seeds)) + f": `{command} --seeds {' '.join(map(str, seeds))}` trains "
                f"them (and `{command}` the whole preset, them included).")

    def _how_to_train(self, preset: Preset, many: bool = False) -> str:
        """How to get a run this build lacks: the command that trains it here, or an import."""
        it = "them" if many else "it"
        return (f"`lit-rnn grid --corpus {shlex.quote(self.corpus.argument)} --preset {preset.name} --device cuda` "
                f"trains {it}; `lit-rnn runs import` brings {it} from elsewhere")

    @cached_property
    def plateau(self) -> float:
        """The loss of predicting each byte by its frequency alone: a model that never goes below it did not train."""
        return byte_entropy(self.corpus.data)

    def did_not_train(self, run: Run) -> bool:
        """Whether ``run``'s best validation loss never went below :attr:`plateau`."""
        return did_not_train(run.result.best_val_loss, self.plateau)

    @cached_property
    def large_runs(self) -> dict[str, Run]:
        """Per architecture, the model the chapters analyse (dropout chosen on validation), or its fallback."""
        chosen = {}
        for architecture, configs in self.preset.large_configs(self.corpus).items():
            found = choose_dropout(self._runs(configs, self.preset.train_on_demand))
            if found:
                run = chosen[architecture] = found[0]
                if not run.result.complete:
                    self._hold(run.dir, f"{run.name} did not finish its recipe: "
                                        f"{run.result.describe(run.config.recipe)}, so it is a paper-scale model "
                                        f"trained for fewer epochs than the paper's{_trend(run)}.")
                if self.did_not_train(run):
                    self._hold(run.dir, f"{run.name} did not train: its validation loss never went below "
                                        f"{self.plateau:.3f} nats/byte, the byte frequencies' entropy, and it is "
                                        "shown as its training left it.")
            elif (fallback := self._grid_fallback(architecture, largest=True)) is not None:
                chosen[architecture] = fallback
                wanted = self.preset.model(_spec(self.preset.large, architecture), 0.0, self.corpus.vocab_size)
                self._hold(fallback.dir, self._missing(wanted, fallback))
        return chosen

    def dropout_note(self) -> str:
        """Which dropouts this build trained for each analysed model and which one validation chose."""
        roles = [*self.preset.large_configs(self.corpus).items(), ("small", self.preset.small_configs(self.corpus))]
        parts = []
        for role, configs in roles:
            run = self.small_run if role == "small" else self.large_runs.get(role)
            if run is None or run.config not in configs:  # a fallback from the grid: its note says so
                continue
            parts.append(f"{run.name}: {self._dropout_choice(configs, run.config.model.dropout)}")
        described = {c for _, configs in roles for c in configs}
        paper = PRESETS["paper"].grid_configs(self.corpus) if self.preset.name != "paper" else []
        if full := [run for run in self.grid_runs if run.config in paper and run.config not in described]:
            models = {replace(run.config.model, dropout=0.0) for run in full}
            tried = [c for c in paper if replace(c.model, dropout=0.0) in models]
            parts.append(f"the other models of the paper's grid at its recipe ({_count(len(full), 'model')}): "
                         + self._dropout_choice(tried))
        grid = sorted({d for spec in self.preset.grid for d in spec.dropouts})
        if any(run.config not in paper for run in self.grid_runs):  # some of Table 1 is this preset's own grid
            parts.append(f"this preset's grid ({(self.preset.grid_recipe or self.preset.recipe).length}): "
                         + (f"chosen on validation from {_dropouts(grid)}" if len(grid) > 1 else
                            f"{grid[0]:g}, the only dropout it trains"))
        return "Dropout in this build: " + "; ".join(parts) + "."

    def _dropout_choice(self, configs: list[RunConfig], chosen: float | None = None) -> str:
        """Which of the dropouts ``configs`` try this build trained, and the one validation ``chosen`` (None: each
        model chose its own), naming those it lacks."""
        trained = sorted({c.model.dropout for c in configs if Run(c, self.artifacts).is_finished})
        missing = sorted({c.model.dropout for c in configs} - set(trained))
        how = (f"{trained[0]:g}, the only dropout trained" if len(trained) == 1 else
               ("" if chosen is None else f"{chosen:g}, ") + f"chosen on validation from {_dropouts(trained)}")
        return how + (f" ({_dropouts(missing)} not in this build)" if missing else "")

    @cached_property
    def small_run(self) -> Run:
        """The small LSTM of the error comparison, or its fallback."""
        found = choose_dropout(self._runs(self.preset.small_configs(self.corpus), self.preset.train_on_demand))
        if found:
            return found[0]
        fallback = self._grid_fallback("lstm", largest=False)
        self.notes.append(self._missing(self.preset.model(self.preset.small, 0.0, self.corpus.vocab_size), fallback))
        return fallback

    @cached_property
    def nnn_runs(self) -> dict[int, Run]:
        """The n-NN baselines by n; the missing ones are named in ``notes``."""
        configs = self.preset.nnn_configs(self.corpus)
        runs = self._runs(configs, self.preset.train_on_demand)
        found = {run.config.model.context for run in runs}
        missing = [c.model.context for c in configs if c.model.context not in found]
        if missing:
            many = len(missing) > 1
            them = "them" if many else "it"
            self.notes.append(f"The n-NN{'s' if many else ''} for n = {', '.join(map(str, missing))} "
                              f"{'are' if many else 'is'} not in this build's run store "
                              f"({self._how_to_train(self.preset, many)}); the tables and figures leave {them} out "
                              "(— in a table).")
        return {run.config.model.context: run for run in sorted(runs, key=lambda r: r.config.model.context)}

    @cached_property
    def dynamics_run(self) -> Run | None:
        """The LSTM whose early snapshots chapter 6 compares with the n-NNs (None if no such snapshots exist)."""
        config = self.preset.dynamics_config(self.cell_run.config)
        if config is None:
            return self.cell_run if self.cell_run.snapshots() or self.cell_run.sampled_snapshots() else None
        found = self._runs([config], self.preset.train_on_demand)
        if found:
            return found[0]
        self.notes.append(f"The first {self.preset.dynamics_epochs:g} epochs of {config.model.name} (with snapshots) "
                          f"are not in this build's run store ({self._how_to_train(self.preset)}).")
        return None

    @property
    def cell_run(self) -> Run:
        """The model whose cells chapter 3 ranks and shows: the large LSTM."""
        run = self.large_runs["lstm"]
        self._use(run)
        return run

    @property
    def gate_runs(self) -> dict[str, Run]:
        """The models whose gates chapter 4 measures: the large LSTM and GRU (where present)."""
        runs = {a: run for a, run in self.large_runs.items() if a in ("lstm", "gru")}
        self._use(*runs.values())
        return runs

    @property
    def traced_runs(self) -> list[Run]:
        """Every run whose trace the chapters read (the cell run and the gate runs), each once: the explorer's."""
        return list({run.dir: run for run in [self.cell_run, *self.gate_runs.values()]}.values())

    @property
    def error_runs(self) -> list[Run]:
        """The large and the small LSTM whose errors chapter 7 peels (one run if they coincide)."""
        return list(dict.fromkeys([self.cell_run, self.small_run]))

    @property
    def recurrent_runs(self) -> list[Run]:
        """Table 1's models: the grid, with the large and small models added."""
        runs = self._recurrent()
        self._use(*runs, grid=True)
        return runs

    def _recurrent(self) -> list[Run]:
        """Table 1's models, without noting them: a chapter that picks one of them notes that one alone."""
        return choose_dropout([*self.grid_runs, *self.large_runs.values(), self.small_run])  # one run per model

    def _pick(self, runs: list[Run], key: Callable[[Run], object]) -> Run:
        """The run of least ``key`` among ``runs``, noted as one the chapter uses."""
        chosen = min(runs, key=key)
        self._use(chosen)
        return chosen

    @cached_property
    def transformer_runs(self) -> list[Run]:
        """The preset's Transformers at hand (store or ``pretrained/``), smallest first. The CPU ones train on demand
        where the preset trains its models so (else only the smallest, where none is at hand: minutes); the GPU
        ones never train here."""
        cpu = self.preset.transformer_configs(self.corpus, cpu=True)
        found = self._runs(self.preset.transformer_configs(self.corpus), train=False)
        if self.preset.train_on_demand or not found:
            found = [*self._runs(cpu if self.preset.train_on_demand else cpu[:1]),
                     *self._runs(self.preset.transformer_configs(self.corpus, cpu=False), train=False)]
        return sorted(found, key=lambda run: (run.result.parameters, run.config.model.context))

    @cached_property
    def transformer_run(self) -> Run | None:
        """The Transformer set beside the LSTM: the largest with a window of the LSTM's unroll trained with the long
        recipe (on a GPU); else the largest at hand, named in ``notes``."""
        runs = self.transformer_runs
        unroll = self.preset.recipe.seq_length
        long = [r for r in runs if r.config.recipe == self.preset.transformer_gpu_recipe
                and r.config.model.context == unroll]
        if long:
            return long[-1]
        if not runs:
            return None
        chosen = max(runs, key=lambda r: (r.config.model.context == unroll, r.result.parameters))
        wanted = [c for c in self.preset.transformer_configs(self.corpus, cpu=False) if c.model.context == unroll]
        if wanted:
            self.notes.append(f"The {wanted[-1].model.name} trained for a GPU is not in this build's run store "
                              f"({self._how_to_train(self.preset)}); this chapter uses {self.about(chosen)} in its "
                              "place.")
        return chosen

    def judged_beside(self, transformer: Run, lstm: Run) -> list[Run]:
        """The runs a claim on ``transformer`` against ``lstm`` is judged on for the paper's scale: the LSTM, and the
        Transformer unless it trained with the preset's long recipe (the paper trained none; that recipe stands in)."""
        return [lstm] if transformer.config.recipe == self.preset.transformer_gpu_recipe else [transformer, lstm]

    def matched_lstm(self, run: Run) -> Run:
        """The LSTM to set beside ``run``: of those trained alike (the same recipe length), the best on validation
        of its parameter budget (the paper's, nearest in log-parameters), else of the nearest budget that has one;
        else the large LSTM the chapters analyse. The best of a budget, so a model is not judged against a weak
        rival."""
        return self._matched(run)[0]

    def matched_how(self, run: Run) -> str:
        """How :meth:`matched_lstm` chose the LSTM beside ``run``, in words a chapter prints."""
        return self._matched(run)[1]

    def _matched(self, run: Run) -> tuple[Run, str]:
        alike = [r for r in self._recurrent() if r.config.model.architecture == "lstm" and r.training == run.training]
        if not alike:
            return self.cell_run, f"the large LSTM the chapters analyse (no LSTM here trained for {run.training})"
        budget = budget_index(run.result.parameters, self.budgets)
        same = [r for r in alike if budget_index(r.result.parameters, self.budgets) == budget]
        from lit_rnn.viz.figures import budget_label

        if same:
            return (self._pick(same, lambda r: r.result.best_val_loss),
                    f"the best on validation of the LSTMs trained as long ({run.training}) at its parameter budget")
        nearest = min(alike, key=lambda r: abs(np.log(r.result.parameters / run.result.parameters)))
        near_budget = budget_index(nearest.result.parameters, self.budgets)
        near = [r for r in alike if budget_index(r.result.parameters, self.budgets) == near_budget]
        return (self._pick(near, lambda r: r.result.best_val_loss),
                f"the best on validation of the LSTMs trained as long ({run.training}) at the nearest budget that "
                f"has one, {budget_label(self.budgets[near_budget])} (none at "
                f"{budget_label(self.budgets[budget])}): a model of another size than the Transformer's")

    def best(self, architecture: str = "lstm") -> Run:
        """The recurrent run of ``architecture`` with the lowest validation loss."""
        return self._pick([r for r in self._recurrent() if r.config.model.architecture == architecture],
                          lambda r: r.result.best_val_loss)

    def best_nnn(self) -> Run | None:
        """The n-NN of lowest validation loss (chosen on validation, never on test); None if the store has none."""
        return min(self.nnn_runs.values(), key=lambda r: r.result.best_val_loss, default=None)

    def best_recurrent(self) -> Run:
        """The recurrent run of lowest validation loss, whatever its architecture, of those with weights (a chapter
        that reads it reads every byte)."""
        return self._pick([r for r in self._recurrent() if not r.weightless], lambda r: r.result.best_val_loss)

    def _grid_fallback(self, architecture: str, largest: bool) -> Run | None:
        """The grid's nearest stand-in: of ``architecture``, the deepest and largest (or the smallest) model."""
        candidates = [r for r in self.grid_runs if r.config.model.architecture == architecture and not r.weightless]
        if not candidates:
            return None
        if largest:
            return max(candidates, key=lambda r: (r.config.model.n_layers, r.result.parameters))
        return min(candidates, key=lambda r: r.result.parameters)

    def _missing(self, wanted: ModelConfig, fallback: Run) -> str:
        """The note for a model this build lacks: how to get it, and what stands in its place."""
        return (f"The paper-scale {wanted.name} is not in this build's run store ({self._how_to_train(self.preset)}); "
                f"the chapters use {self.about(fallback)} in its place.")

    def _hold(self, about: Path | str, note: str) -> None:
        """Keep ``note`` until a chapter uses what it is about (a run's folder, or "grid" for Table 1's models), so a
        page notes only the models it uses."""
        self._held.setdefault(about, []).append(note)

    def _use(self, *runs: Run, grid: bool = False) -> None:
        """Add the notes held about ``runs`` (and Table 1's grid, if ``grid``) to ``notes``: a chapter uses them."""
        for about in [*(run.dir for run in runs), *(["grid"] if grid else [])]:
            self.notes.extend(note for note in self._held.pop(about, []) if note not in self.notes)

    @property
    def every_note(self) -> list[str]:
        """``notes`` and the notes held about models no chapter has used yet, Table 1's included (its models are
        read for them): the introduction's list of them all."""
        self._recurrent()
        return [*self.notes, *(note for held in self._held.values() for note in held if note not in self.notes)]

    def about(self, run: Run) -> str:
        """A run's short name on pages: model, size, dropout and how long it trained, e.g.
        ``lstm-3x241 · 1.27M · d0.25 · 50 epochs``, and "did not train" where it did not (so no table or figure
        shows such a model unmarked); where and how it trained is in :meth:`provenance_table`."""
        label = model_label(run)
        return f"{label} · did not train" if self.did_not_train(run) else label

    def provenance_table(self, runs: list[Run] | None = None) -> pd.DataFrame:
        """Where and how each run was trained (hardware, precision, wall time), one row per run: the book's one
        place for it, from ``Run.provenance``."""
        return provenance_table(runs if runs is not None else self.recurrent_runs, self.about)

    # -- What the chapters read ------------------------------------------------------------------

    def prepare(self) -> None:
        """Train and evaluate everything the chapters read, so executing them only reads the store."""
        for work, _ in self.parts().values():
            work()

    def parts(self) -> dict[str, tuple[Callable[[], object], tuple[str, ...]]]:
        """:meth:`prepare` in parts that may run side by side, by name: what each computes and the parts it must
        follow. Only ``runs`` trains or imports (two processes must never train one run); ``ablations`` reads the
        trace and signals that ``models`` keeps."""
        parts = {  # the slowest first, as a build prefers them in this order
            "runs": (self.every_run, ()),
            "dynamic evaluation": (lambda: self.dynamic(self.cell_run), ("runs",)),
            "models": (self._evaluate_models, ("runs",)),
            "ablations": (lambda: self.ablations(self.cell_run, self.leading_cells(self.cell_run)), ("models",)),
        }
        for n in sorted(self.preset.ngram_contexts, reverse=True):
            parts[f"{n}-gram"] = (functools.partial(self.ngram, n + 1), ())
        return parts

    def every_run(self) -> list[Run]:
        """Every run the chapters read, found in the store, imported from ``pretrained/`` or trained."""
        found = [*self.recurrent_runs, *self.nnn_runs.values(), self.dynamics_run, self.transformer_run]
        return [run for run in found if run is not None]

    def _evaluate_models(self) -> None:
        """Every model's test predictions and the traces and signals the chapters read (the n-grams apart)."""
        for run in [*self.recurrent_runs, *self.nnn_runs.values()]:
            self.predictions(run)
        for run in self.traced_runs:
            self.trace(run)
        if self.dynamics_run is not None:
            self.snapshot_predictions(self.dynamics_run)
        self.signals()
        if self.transformer_run is not None:
            self.predictions(self.transformer_run)

    # -- The scorecard ----------------------------------------------------------------------------

    def claims_path(self, chapter: str) -> Path:
        """Where a chapter's claims are kept for this corpus and preset (the introduction reads them all)."""
        return self.artifacts / "scorecards" / f"{self.preset.name}-{self.corpus.sha256[:16]}" / f"{chapter}.json"

    def save_claims(self, chapter: str, claims: list[scorecard.Claim]) -> None:
        scorecard.save(claims, self.claims_path(chapter))

    def claims(self) -> list[scorecard.Claim]:
        """Every claim the chapters saved for this corpus and preset, in chapter order."""
        return scorecard.load(sorted(self.claims_path("any").parent.glob("*.json")))

    def ngram(self, order: int, split: str = "test") -> Predictions:
        """The KenLM ``order``-gram's predictions (estimated and cached on first use), named as the paper names
        n-grams: by the bytes of context they see, so KenLM's order 21 is the paper's "20-gram"."""
        from lit_rnn.ngram import ngram_predictions

        return replace(ngram_predictions(self.batcher, order, split, self.artifacts), name=f"{order - 1}-gram")

    def oracle_ngrams(self, oracle: OracleConfig) -> list[Predictions]:
        """The n-grams the error oracle consults that the preset has, by increasing context."""
        return [self.ngram(n + 1) for n in oracle.ngram_contexts if n in self.preset.ngram_contexts]

    def baselines(self, split: str = "test") -> tuple[dict[int, Predictions], dict[int, Predictions]]:
        """Predictions of every n-gram and every n-NN of the preset, by n: the bytes of context they see
        (the n-gram seeing n bytes has order n + 1)."""
        ngrams = {n: self.ngram(n + 1, split) for n in self.preset.ngram_contexts}
        nnns = {n: self.predictions(run, split) for n, run in self.nnn_runs.items()}
        return ngrams, nnns

    def predictions(self, run: Run, split: str = "test") -> Predictions:
        key = (run.config.run_id, split)
        if key not in self._predictions:
            self._predictions[key] = evaluate.predictions(run, self.corpus, split, self.settings.device)
        return self._predictions[key]

    def snapshot_predictions(self, run: Run, split: str = "test") -> list[tuple[int, Predictions]]:
        """The run's predictions at each kept early checkpoint, by training step: over the whole split from the
        snapshots' weights, or where only their sampled test predictions were shipped, those (fewer positions)."""
        if not run.snapshots() and split == "test":
            return [(step, Predictions.load(path)) for step, path in run.sampled_snapshots().items()]
        return [(step, evaluate.predictions(run, self.corpus, split, self.settings.device, checkpoint=path))
                for step, path in run.snapshots().items()]

    def trace(self, run: Run, split: str = "test") -> evaluate.StoredTrace:
        return evaluate.trace(run, self.corpus, split, self.settings.device)

    def dynamic(self, run: Run) -> DynamicResult:
        """Dynamic evaluation of ``run`` on test, its configuration chosen on validation (chapter 8's)."""
        return dynamic_evaluation(run, self.corpus, self.settings.device)

    def cell_ranking(self, run: Run) -> pd.DataFrame:
        """Every cell (c and h, every layer) of ``run`` against each reference signal that varies in the text, ranked
        on the validation split and scored on test (:func:`lit_rnn.analysis.cells.held_out`; chapters 3 and 8)."""
        if run.config.run_id not in self._rankings:
            self._rankings[run.config.run_id] = held_out(self._validation_ranking(run), self._ranked(self.trace(run)))
        return self._rankings[run.config.run_id]

    def _ranked(self, trace: evaluate.StoredTrace) -> pd.DataFrame:
        """Every c and h of ``trace`` against each reference signal that varies at its positions."""
        signals = varying(self.signals(), trace.positions)
        return rank_cells(trace, signals.values(), trace.positions, quantities=("c", "h"))

    def _validation_ranking(self, run: Run) -> pd.DataFrame:
        """Every cell of ``run`` ranked on the validation split, kept as a table (cached in the run's folder, by the
        language its signals are read in); the trace it is read from, as large as the test split's (gigabytes for a
        paper-scale LSTM), is not kept."""
        def build(path: Path) -> None:
            with tempfile.TemporaryDirectory(dir=run.dir, prefix=".trace-val.") as scratch:
                folder = Path(scratch) / "trace"
                model = run.config.model
                evaluate.write_trace(run.load_model(self.settings.device), run.config.batcher(self.corpus), "val",
                                     folder)
                ranking = self._ranked(evaluate.StoredTrace(folder, model.architecture, model.n_layers))
            atomic_write_text(path, ranking.to_csv(index=False))

        name = f"ranking-val-{config_hash({'language': self.settings.language})}.csv"
        return cached(run.dir / name, build, pd.read_csv)

    def leading_cells(self, run: Run) -> pd.DataFrame:
        """The cell that ranks first on validation for each reference signal, with its test score: the cells
        chapter 8 ablates."""
        return top_cells(self.cell_ranking(run), per_signal=1)

    def ablations(self, run: Run, leaders: pd.DataFrame) -> dict[int, LayerAblations]:
        """``run`` with each of the ``leaders`` ablated, one at a time, beside random cells of its layer (cached)."""
        return interventions.ablations(run, self.corpus, cells_to_ablate(leaders), AblationConfig(),
                                       self.settings.device)

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


def _spec(specs, architecture: str):
    return next(spec for spec in specs if spec.architecture == architecture)


def _count(n: int, noun: str) -> str:
    """``1 model``, ``7 models``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _trend(run: Run, epochs: int = 5) -> str:
    """Whether a run cut short was still improving: its best validation loss over its last ``epochs`` epoch ends
    against the ``epochs`` before, as a clause (empty for a run of fewer)."""
    ends = [m["val_loss"] for m in run.metrics if float(m["epoch"]).is_integer()]
    if len(ends) < 2 * epochs:
        return ""
    last, before = min(ends[-epochs:]), min(ends[-2 * epochs : -epochs])
    return (f"; its best validation loss over its last {epochs} epochs, {last:.3f} nats/byte, was "
            f"{'below' if last < before else 'no lower than'} that over the {epochs} before, {before:.3f}"
            + (": it was still improving when it stopped" if last < before else ""))


def _dropouts(values: list[float]) -> str:
    """``0.25``, ``0.25 and 0.5``."""
    return scorecard.listed(f"{value:g}" for value in values)




def model_label(run: Run) -> str:
    """``lstm-3x241 · 1.27M · d0.25 · 50 epochs``: a run's name, parameters, dropout and training length."""
    from lit_rnn.viz.figures import count_label

    result = run.result
    return (f"{run.name} · {count_label(result.parameters)} · d{run.config.model.dropout:g} · "
            f"{result.describe(run.config.recipe)}")


def provenance_table(runs: list[Run], label: Callable[[Run], str] = model_label) -> pd.DataFrame:
    """One row per run: its short name (``label``), hardware, precision, wall time (seconds, where timed) and any
    note."""
    rows = []
    for run in runs:
        facts = run.provenance
        wall = facts.get("wall_s")
        rows.append({"model": label(run), "hardware": facts.get("device", "not recorded"),
                     "precision": facts.get("precision", run.result.precision or "not recorded"),
                     "wall time (s)": round(wall) if wall is not None else "not timed", "note": facts.get("note", "")})
    return pd.DataFrame(rows, columns=["model", "hardware", "precision", "wall time (s)", "note"])
