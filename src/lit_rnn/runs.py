"""The run store: what determines a trained run, where it lives, and how runs move between machines.

A run lives in ``<artifacts>/runs/<id>/``, ``id`` being a hash of its :class:`RunConfig`: the
corpus (by sha256), the model, the recipe and the seed — everything that determines its result.
How it was executed (device, precision, checkpoint cadence) is not part of its identity; the
precision is recorded in its result, because it moves the numbers slightly.

The folder holds ``config.json``, ``metrics.jsonl`` (one line per validation), ``best.pt`` (the
best weights on validation), ``result.json`` once training ended, ``provenance.json`` (how and
where it was trained), ``checkpoint.pt`` while it can resume, and ``snapshots/``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from lit_rnn.data import KNOWN_CORPORA, Batcher, Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import LATER, Model, ModelConfig, load_checkpoint, load_model
from lit_rnn.predictions import Predictions
from lit_rnn.store import (
    atomic_save_torch,
    atomic_write_text,
    canonical_json,
    config_hash,
    read_jsonl,
    resolve_artifacts,
    umask,
)

PORTABLE_FILES = ("config.json", "metrics.jsonl", "result.json", "provenance.json", "best.pt")
SHIPPED = Path(__file__).resolve().parents[2] / "pretrained" / "runs"  # runs shipped with the repository


OPTIMIZERS, SCHEDULES, INITIALISATIONS = ("rmsprop", "adamw"), ("epochs", "cosine"), ("uniform", "normal")


def identity(value):
    """A config as hashed and written to ``config.json``: a nested dict without the fields marked ``LATER`` that
    hold their defaults, so adding such a field leaves every stored run's id unchanged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: identity(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("later") and getattr(value, f.name) == f.default)}
    return value


@dataclass(frozen=True)
class Recipe:
    """How a model is trained; the defaults are the paper's (Section 3.3, following char-rnn)."""

    learning_rate: float = 2e-3
    rmsprop_decay: float = 0.95
    rmsprop_eps: float = 1e-8
    batch_size: int = 100
    seq_length: int = 100
    init_range: float = 0.08
    grad_clip: float = 5.0  # element-wise clipping: char-rnn's setting, not stated in the paper
    epochs: float = 50.0
    lr_decay: float = 0.95
    lr_decay_after: int = 10  # epochs after which the learning rate starts to decay
    eval_every: int = 1000  # steps between validation evaluations (and at every epoch's end)
    patience: int = 5  # evaluations without improvement before early stopping
    max_steps: int | None = None  # cap on optimisation steps (for the small presets)
    # Added for the Transformer (fields left out of a run's identity at their defaults, so older runs keep theirs):
    optimizer: str = field(default="rmsprop", metadata=LATER)  # rmsprop (the paper's) or adamw
    weight_decay: float = field(default=0.0, metadata=LATER)  # AdamW's decoupled decay, on weight matrices only
    schedule: str = field(default="epochs", metadata=LATER)  # epochs: × lr_decay per epoch; cosine: warm-up, then
    # cosine decay to a tenth of the learning rate at the last step
    warmup_steps: int = field(default=0, metadata=LATER)  # cosine's linear warm-up
    initialisation: str = field(default="uniform", metadata=LATER)  # uniform(±init_range) or normal (GPT-2's)

    def __post_init__(self) -> None:
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("initialisation", INITIALISATIONS)):
            if getattr(self, name) not in allowed:
                raise UserError(f"recipe {name} {getattr(self, name)!r} is not one of {', '.join(allowed)}")

    def batcher(self, corpus: Corpus) -> Batcher:
        """The corpus cut into this recipe's batches and split."""
        return corpus.batcher(self.batch_size, self.seq_length)

    @property
    def length(self) -> str:
        """How long the recipe trains, in words: its epochs and any cap on steps."""
        return f"{self.epochs:g} epochs" + (f", <= {self.max_steps} steps" if self.max_steps else "")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a trained run's result: its hash names the run's folder."""

    corpus_sha256: str
    model: ModelConfig
    recipe: Recipe = field(default_factory=Recipe)
    seed: int = 0

    @property
    def run_id(self) -> str:
        return config_hash(identity(self))

    def batcher(self, corpus: Corpus) -> Batcher:
        return self.recipe.batcher(corpus)

    @classmethod
    def from_dict(cls, values: dict) -> RunConfig:
        return cls(values["corpus_sha256"], ModelConfig.from_dict(values["model"]), Recipe(**values["recipe"]),
                   values["seed"])


@dataclass(frozen=True)
class RunResult:
    """How training ended: the best validation loss and its step, steps run, and how it was trained."""

    best_val_loss: float
    best_step: int
    steps: int
    epochs: float
    stopped_early: bool  # early stopping on validation ended it
    parameters: int
    precision: str | None = None  # fp32, tf32 or bf16; None where it was not recorded
    complete: bool = True  # False: cut short before its recipe ended (e.g. a time limit) and not resumable

    @classmethod
    def from_dict(cls, values: dict) -> RunResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def describe(self, recipe: Recipe) -> str:
        """One phrase for tables and pages: how far training went."""
        if not self.complete:
            return f"cut short at epoch {self.epochs:g} of {recipe.epochs:g}"
        if self.stopped_early:
            return f"early-stopped at epoch {self.epochs:.1f}"
        return f"{self.steps:,} steps" if recipe.max_steps is not None and self.steps >= recipe.max_steps \
            else f"{self.epochs:g} epochs"


class Run:
    """A run's folder: its config, resumable checkpoint, best weights, snapshots and metrics log."""

    def __init__(self, config: RunConfig, artifacts: str | Path | None = None):
        self.config = config
        self.dir = resolve_artifacts(artifacts) / "runs" / config.run_id

    checkpoint_path = property(lambda self: self.dir / "checkpoint.pt")
    best_path = property(lambda self: self.dir / "best.pt")
    metrics_path = property(lambda self: self.dir / "metrics.jsonl")
    result_path = property(lambda self: self.dir / "result.json")
    provenance_path = property(lambda self: self.dir / "provenance.json")

    @property
    def name(self) -> str:
        return self.config.model.name

    @property
    def training(self) -> str:
        """How long it trained, to compare like with like: its recipe's length, and "cut short" where it stopped
        before the recipe ended (early stopping is part of every recipe, so an early-stopped run trained alike)."""
        return self.config.recipe.length + ("" if self.result.complete else ", cut short")

    @property
    def is_finished(self) -> bool:
        return self.result_path.exists()

    @property
    def result(self) -> RunResult:
        return RunResult.from_dict(json.loads(self.result_path.read_text()))

    @property
    def provenance(self) -> dict:
        """How and where the run was trained (device, precision, wall time, versions), if recorded."""
        return json.loads(self.provenance_path.read_text()) if self.provenance_path.exists() else {}

    @property
    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_path)

    def snapshot_path(self, step: int) -> Path:
        return self.dir / "snapshots" / f"step{step:08d}.pt"

    def snapshots(self) -> dict[int, Path]:
        """Kept early weights by training step (for the training-dynamics analysis)."""
        folder = self.dir / "snapshots"
        return {int(p.stem[4:]): p for p in sorted(folder.glob("step*.pt"))} if folder.exists() else {}

    def load_model(self, device: torch.device = torch.device("cpu"), path: Path | None = None) -> Model:
        """The best model (or the weights at ``path``), on ``device``, in eval mode."""
        return load_model(path or self.best_path, device)

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / "config.json", canonical_json(identity(self.config)))

    def write_result(self, result: RunResult) -> None:
        atomic_write_text(self.result_path, json.dumps(dataclasses.asdict(result), indent=2))


def stored_runs(artifacts: str | Path | None = None) -> list[Run]:
    """Every run in the store whose config reads, in folder order."""
    runs = []
    for folder in sorted((resolve_artifacts(artifacts) / "runs").glob("*/config.json")):
        try:
            config = RunConfig.from_dict(json.loads(folder.read_text()))
        except (ValueError, KeyError, TypeError, UserError):
            continue
        if config.run_id == folder.parent.name:
            runs.append(Run(config, artifacts))
    return runs


def run_table(artifacts: str | Path | None = None) -> pd.DataFrame:
    """What the store holds, one row per run: id, corpus, model, dropout, recipe, steps, losses, precision."""
    corpora = {known.sha256: name for name, known in KNOWN_CORPORA.items()}
    rows = []
    for run in stored_runs(artifacts):
        config, result = run.config, (run.result if run.is_finished else None)
        test = run.dir / "predictions" / "test-best.npz"
        rows.append({
            "run": config.run_id,
            "corpus": corpora.get(config.corpus_sha256, config.corpus_sha256[:12]),
            "model": run.name,
            "dropout": config.model.dropout,
            "recipe": config.recipe.length,
            "steps": result.steps if result else None,
            "status": result.describe(config.recipe) if result else "unfinished",
            "best_val": round(result.best_val_loss, 4) if result else None,
            "test": round(Predictions.load(test).cross_entropy, 4) if test.exists() else None,
            "precision": result.precision if result else None,
        })
    return pd.DataFrame(rows)


# -- Moving runs between machines ---------------------------------------------------------------


def export_run(run: Run, destination: str | Path, half: bool = False, snapshots: bool = True) -> Path:
    """Copy a finished run's portable files (and, with ``snapshots``, its early weights) into ``destination/<id>/``.

    ``half`` stores the weights in fp16 (half the size; loading widens them back to fp32).
    """
    if not run.is_finished:
        raise UserError(f"run {run.config.run_id} ({run.name}) has not finished; only finished runs are exported")
    target = Path(destination) / run.config.run_id
    if target.exists():
        raise UserError(f"{target} exists already; choose an empty destination")
    staging = _staging(Path(destination), ".export-")
    try:
        for name in PORTABLE_FILES:
            if (run.dir / name).exists() and not name.endswith(".pt"):
                shutil.copyfile(run.dir / name, staging / name)
        for source in [run.best_path, *(run.snapshots().values() if snapshots else ())]:
            relative = source.relative_to(run.dir)
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            checkpoint = load_checkpoint(source)
            if half:
                checkpoint["model"] = {k: v.half() if v.is_floating_point() else v
                                       for k, v in checkpoint["model"].items()}
            atomic_save_torch({"model_config": checkpoint["model_config"], "model": checkpoint["model"]},
                              staging / relative)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _staging(parent: Path, prefix: str) -> Path:
    """A hidden folder beside the final one, with the usual permissions, renamed into place when complete."""
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    staging.chmod(0o777 & ~umask())
    return staging


def _verified_config(folder: Path) -> RunConfig:
    """The config of a run folder, refused unless its hash (as written) is the folder's name."""
    path = folder / "config.json"
    if not path.exists():
        raise UserError(f"{folder} is not a run folder (no config.json)")
    try:
        raw = json.loads(path.read_text())
        config = RunConfig.from_dict(raw)
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} is not a run config ({error})") from error
    if config_hash(raw) != folder.name:
        raise UserError(f"{path} does not hash to its folder's name {folder.name}: the config was edited or the "
                        "folder renamed, so its weights cannot be trusted to be what it says; not imported")
    return config


def _check_weights(path: Path, config: RunConfig) -> None:
    """Refuse weights that do not load with ``weights_only=True`` or do not fit the run's model."""
    model = load_model(path)  # weights-only; raises a one-line error on damage or wrong shapes
    if model.config != config.model:
        raise UserError(f"{path} holds a {model.config.name} (dropout {model.config.dropout}), but its run config "
                        f"describes a {config.model.name} (dropout {config.model.dropout}); not imported")


def _result_from_metrics(folder: Path) -> RunResult:
    """The result of a run that stopped without writing one, read from its metrics log."""
    metrics = read_jsonl(folder / "metrics.jsonl")
    if not metrics:
        raise UserError(f"{folder} has neither result.json nor metrics: nothing says how far it trained")
    best = min(metrics, key=lambda r: r["val_loss"])
    last = metrics[-1]
    parameters = sum(v.numel() for v in load_checkpoint(folder / "best.pt")["model"].values())
    return RunResult(best_val_loss=best["val_loss"], best_step=best["step"], steps=last["step"], epochs=last["epoch"],
                     stopped_early=False, parameters=parameters, complete=False)


def import_run(folder: str | Path, artifacts: str | Path | None = None, accept_incomplete: bool = False,
               provenance: dict | None = None) -> tuple[Run, str]:
    """Bring a run folder trained elsewhere into the store; returns the run and what happened.

    The folder's ``config.json`` must hash to the folder's name (configs of older lit-rnn
    versions are accepted and stored under the current id), its weights must load with
    ``weights_only=True`` and fit the config. A run without ``result.json`` (cut short) enters
    only with ``accept_incomplete``, marked incomplete. Nothing in the store is overwritten: a
    finished run of the same id is left as it is, an unfinished one is an error.
    """
    folder = Path(folder)
    config = _verified_config(folder)
    run = Run(config, artifacts)
    if run.is_finished:
        return run, "already in the store"
    if run.dir.exists():
        raise UserError(f"run {config.run_id} is in the store but unfinished ({run.dir}); delete that folder to "
                        "import this one instead, or let it finish")
    for path in [folder / "best.pt", *sorted((folder / "snapshots").glob("step*.pt"))]:
        _check_weights(path, config)
    if (folder / "result.json").exists():
        result = RunResult.from_dict(json.loads((folder / "result.json").read_text()))
    elif accept_incomplete:
        result = _result_from_metrics(folder)
    else:
        raise UserError(f"{folder} has no result.json: it did not finish training; pass --accept-incomplete to "
                        "import it marked as cut short")
    staging = _staging(run.dir.parent, ".import-")
    try:
        for name in ("metrics.jsonl", "best.pt"):
            shutil.copyfile(folder / name, staging / name)
        if (folder / "snapshots").exists():
            shutil.copytree(folder / "snapshots", staging / "snapshots", copy_function=shutil.copyfile)
        atomic_write_text(staging / "config.json", canonical_json(identity(config)))
        recorded = json.loads((folder / "provenance.json").read_text()) if (folder / "provenance.json").exists() else {}
        recorded = {**recorded, **(provenance or {})}
        if result.precision is None and "precision" in recorded:
            result = dataclasses.replace(result, precision=recorded["precision"])
        if folder.name != config.run_id:
            recorded["imported_as"] = f"{folder.name} (its id under an older lit-rnn config format)"
        if recorded:
            atomic_write_text(staging / "provenance.json", json.dumps(recorded, indent=2))
        atomic_write_text(staging / "result.json", json.dumps(dataclasses.asdict(result), indent=2))
        staging.rename(run.dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run, "imported" + ("" if result.complete else f" (incomplete: {result.describe(config.recipe)})")


def import_shipped(configs: list[RunConfig], shipped: Path, artifacts: str | Path | None = None) -> list[Run]:
    """Import into the store every run of ``configs`` that is missing there and shipped in ``shipped``."""
    imported = []
    for config in configs:
        folder = shipped / config.run_id
        if not Run(config, artifacts).is_finished and folder.is_dir():
            imported.append(import_run(folder, artifacts)[0])
    return imported
