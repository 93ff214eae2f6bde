"""The ground-truth chapter's study: a synthetic corpus, the LSTMs trained on it, and the cell search against its truth.

Like :class:`lit_rnn.study.Study` for a real corpus, a :class:`TruthStudy` names the runs the
chapter reads and gets them through the run store (imported from ``pretrained/`` where shipped,
trained otherwise); it hands :mod:`lit_rnn.analysis.groundtruth` plain traces and per-byte arrays.
One study per generator config and preset: the chapter runs once, not once per corpus.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from lit_rnn import evaluate, interventions
from lit_rnn.analysis import groundtruth, scorecard
from lit_rnn.analysis.causal import CausalScores, causal_scores, cells_to_ablate
from lit_rnn.analysis.cells import BeyondHorizon, beyond_horizon, busiest_window, rank_cells
from lit_rnn.analysis.signals import Signal
from lit_rnn.atomic import atomic_write_text
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.grid import train_runs
from lit_rnn.runs import Run
from lit_rnn.settings import Settings, resolve_artifacts
from lit_rnn.synthetic import (
    HORIZON,
    NEEDED,
    TRUTH_CORPUS,
    UNKNOWABLE,
    UNNEEDED,
    VARIABLES,
    SyntheticConfig,
    read_truth,
    target_bytes,
    truth_models,
    unknowable_controls,
    write,
)

ROLES = {**dict.fromkeys(NEEDED, "needed"), **dict.fromkeys(UNKNOWABLE, "unknowable"),
         **dict.fromkeys(UNNEEDED, "unneeded")}


def generator_config(preset: str, **overrides) -> SyntheticConfig:
    """The generator's config for a preset (tiny: a small corpus), with any field replaced (None: keep)."""
    unknown = set(overrides) - set(asdict(SyntheticConfig()))
    if unknown:
        raise UserError(f"the generator has no parameter {', '.join(sorted(unknown))}; "
                        f"choose from {', '.join(asdict(SyntheticConfig()))}")
    chosen = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if v is not None}
    return replace(TRUTH_CORPUS.get(preset, SyntheticConfig()), **chosen)


CAUSAL = interventions.AblationConfig(rows=20)  # a fifth of the test rows: some hundred closing quotes and brackets


@dataclass(frozen=True)
class Search:
    """One run's cell search against the truth: the ranking, the per-variable table, the ablations."""

    run: Run
    ranking: pd.DataFrame  # every cell against every variable and the extra control draws
    variables: pd.DataFrame  # groundtruth.variable_table
    causal: CausalScores
    used: pd.DataFrame  # groundtruth.first_used
    controls: pd.DataFrame  # groundtruth.best_cells of every control search


@dataclass
class TruthStudy:
    settings: Settings
    generator: SyntheticConfig

    @classmethod
    def open(cls, *, preset: str, device: str = "auto", precision: str = "auto", artifacts: str | None = None,
             data_dir: str | None = None, generator: dict | None = None, retrain: bool = False) -> TruthStudy:
        """The study of a chapter's parameters; ``generator`` replaces fields of the preset's generator config."""
        config = generator_config(preset, **(generator or {}))
        path = write(config, resolve_artifacts(artifacts))
        settings = Settings.resolve(corpus=str(path), preset=preset, device=device, precision=precision,
                                    data_dir=data_dir, artifacts=artifacts, language="text", retrain=retrain)
        if len(settings.corpus) != config.n_bytes:
            raise UserError(f"preset {preset} reads only {len(settings.corpus):,} bytes; give n_bytes <= that")
        return cls(settings, config)

    @property
    def corpus(self) -> Corpus:
        return self.settings.corpus

    @cached_property
    def models(self):
        return truth_models(self.settings.preset.name)

    @cached_property
    def runs(self) -> list[Run]:
        """The LSTMs of the study, smallest first: from the store, from pretrained/, or trained now."""
        options = replace(self.settings.train_options, snapshot_steps=self.models.snapshot_steps)
        return train_runs(self.models.run_configs(self.corpus), self.corpus, options, self.settings.artifacts,
                          shipped=self.settings.shipped)

    @cached_property
    def truth(self) -> dict[str, np.ndarray]:
        return read_truth(self.corpus.path)

    def signals(self, names=VARIABLES) -> dict[str, Signal]:
        """The true variables as reference signals."""
        return groundtruth.signals({n: self.truth[n] for n in names}, VARIABLES)

    def control_draws(self, draws: int, first: int = 1) -> dict[str, Signal]:
        """``draws`` more independent draws of each unknowable control (draw 0 is the recorded one)."""
        found = {}
        for draw in range(first, first + draws):
            for name, values in unknowable_controls(self.generator, draw).items():
                found[f"{name}#{draw}"] = Signal(f"{name}#{draw}", UNKNOWABLE[name], values)
        return found

    def trace(self, run: Run, step: int | None = None) -> evaluate.StoredTrace:
        """The run's trace over the test split, at its best weights or at a training step's snapshot."""
        checkpoint = None if step is None else run.snapshots()[step]
        return evaluate.trace(run, self.corpus, "test", self.settings.device, checkpoint)

    def search(self, run: Run, step: int | None = None, controls: dict[str, Signal] | None = None) -> pd.DataFrame:
        """Chapter 3's ranking of the run's cells against every variable (and any extra controls)."""
        trace = self.trace(run, step)
        return rank_cells(trace, [*self.signals().values(), *(controls or {}).values()], trace.positions)

    def probes(self, run: Run, step: int | None = None) -> pd.DataFrame:
        trace = self.trace(run, step)
        return groundtruth.probe_scores(trace, self.signals(), np.asarray(trace.positions))

    def causal(self, run: Run, ranking: pd.DataFrame, per_signal: int = 3,
               config: interventions.AblationConfig = CAUSAL) -> CausalScores:
        """Chapter 8's check on the top ``per_signal`` cells of every needed variable, on the bytes that need it."""
        tested = groundtruth.top_distinct(ranking, per_signal, list(NEEDED))
        ablated = interventions.ablations(run, self.corpus, cells_to_ablate(tested), config, self.settings.device)
        targets = target_bytes(self.corpus.data.tobytes(), self.truth)
        return causal_scores(tested, ablated, self.signals(NEEDED), self.corpus.data, targets=targets)

    def analyse(self, run: Run, draws: int, first: int = 1) -> Search:
        """The search on ``run``'s best weights with ``draws`` extra draws of the unknowable controls (from draw
        ``first``), the probes, and the ablations of the top cells of the needed variables."""
        controls = self.control_draws(draws, first)
        ranking = self.search(run, controls=controls)
        causal = self.causal(run, ranking)
        used = groundtruth.first_used(ranking, causal.table)
        variables = groundtruth.variable_table(ranking[ranking.signal.isin(list(ROLES))], self.probes(run), ROLES, used)
        control_best = groundtruth.best_cells(ranking[~ranking.signal.isin(list(NEEDED))])
        return Search(run, ranking, variables, causal, used, control_best)

    def analyse_all(self, draws: int) -> list[Search]:
        """:meth:`analyse` for every run, each with its own independent control draws."""
        return [self.analyse(run, draws, first=1 + i * draws) for i, run in enumerate(self.runs)]

    def loss(self, run: Run) -> float:
        """The run's test loss (nats per byte)."""
        return float(evaluate.predictions(run, self.corpus, "test", self.settings.device).cross_entropy)

    @property
    def roles(self) -> dict[str, str]:
        return ROLES

    @cached_property
    def spans(self) -> dict:
        """The quoted spans: how many, the share longer than the horizon, the longest (the last, maybe cut, too)."""
        lengths = groundtruth.span_lengths(self.truth["in_quotes"])
        return {"spans": len(lengths), "beyond": float(np.mean(lengths > HORIZON)) if len(lengths) else 0.0,
                "longest": int(lengths.max(initial=0))}

    def window(self, name: str, length: int) -> tuple[int, int]:
        """Start and length of the stretch of text where variable ``name`` varies most."""
        return busiest_window(self.truth[name], length), length

    def model_table(self) -> pd.DataFrame:
        """The runs: model, parameters, training, best validation and test loss, where and how long it trained."""
        return pd.DataFrame([{
            "model": run.name, "parameters": run.result.parameters, "trained": run.result.describe(run.config.recipe),
            "best_val": run.result.best_val_loss, "test": self.loss(run),
            "snapshots at steps": ", ".join(f"{step:,}" for step in sorted(run.snapshots())),
            "device": run.provenance.get("device", ""), "precision": run.result.precision,
            "wall time (s)": f"{run.provenance['wall_s']:,.0f}" if "wall_s" in run.provenance else "not timed",
        } for run in self.runs]).round(4)

    def beyond(self, search: Search) -> BeyondHorizon:
        """Chapter 3's beyond-the-horizon scores of the run's best ``in_quotes`` cell."""
        row = search.variables.set_index("signal").loc["in_quotes"]
        return beyond_horizon(self.trace(search.run), self.signals(["in_quotes"])["in_quotes"], int(row.layer),
                              row.quantity, int(row.cell), HORIZON)

    def steps(self, run: Run) -> list[int | None]:
        """The training steps whose weights the run kept, then None for its best weights."""
        return [*sorted(run.snapshots()), None]

    def prepare(self) -> None:
        """Train or import the runs and trace every kept weight, so the chapter only reads the store."""
        for run in self.runs:
            for step in self.steps(run):
                self.trace(run, step)

    def emergence(self) -> pd.DataFrame:
        """Per run, kept step and needed variable: the best cell's score, what the thresholds declare, the probe's."""
        frames = []
        for run in self.runs:
            for step in self.steps(run):
                ranking = rank_cells(self.trace(run, step), self.signals(NEEDED).values(),
                                     self.trace(run, step).positions)
                table = groundtruth.best_cells(ranking).merge(self.probes(run, step)[["signal", "probe"]], on="signal")
                steps = step if step is not None else run.result.best_step
                frames.append(table.assign(hidden=run.config.model.hidden_size, step=steps))
        return pd.concat(frames, ignore_index=True)[["hidden", "step", "signal", "kind", "score", "declared", "probe"]]

    # -- The false-positive rate, kept for chapter 3 ----------------------------------------------

    def false_positives_path(self) -> Path:
        return false_positives_path(self.settings.artifacts, self.settings.preset.name, self.generator)

    def save_false_positives(self, table: pd.DataFrame) -> None:
        """Keep the control searches' false-positive rates where chapter 3 reads them."""
        test_bytes = self.models.recipe.batcher(self.corpus).positions("test").size
        atomic_write_text(self.false_positives_path(), table.assign(test_bytes=test_bytes).to_json(orient="records"))

    def save_claims(self, claims: list[scorecard.Claim]) -> None:
        scorecard.save(claims, self.settings.artifacts / "scorecards" / f"{self.settings.preset.name}-"
                       f"{self.corpus.sha256[:16]}" / "09_ground_truth.json")


def false_positives_path(artifacts: Path, preset: str, generator: SyntheticConfig | None = None) -> Path:
    """Where the ground-truth chapter keeps its false-positive rates for a preset and generator (default: the
    preset's own)."""
    generator = generator or generator_config(preset)
    return Path(artifacts) / "groundtruth" / f"{preset}-{generator.key}" / "false_positives.json"


def false_positive_note(artifacts: Path, preset: str) -> str | None:
    """One sentence on how often chapter 3's thresholds declare a cell for a variable no model needs, as the
    ground-truth chapter measured it for ``preset`` (None where it has not run in this store)."""
    path = false_positives_path(artifacts, preset)
    if not path.exists():
        return None
    rows = {(r["threshold"], r["kind"]): r for r in json.loads(path.read_text())}
    parts = [f"{r['declared']} of {r['searches']} searches at \"{threshold}\" "
             f"({100 * r['rate']:.0f}%, 95% interval {100 * r['low']:.0f}–{100 * r['high']:.0f}%)"
             for threshold in ("tracks", "partly or better") if (r := rows.get((threshold, "all")))]
    test_bytes = next(iter(rows.values()))["test_bytes"]
    return ("Measured on a synthetic corpus whose every latent variable is known (the ground-truth chapter: "
            f"{test_bytes:,} bytes of test text), these thresholds declared a cell for a control variable that no "
            "model needs in " + " and ".join(parts) + ".")
