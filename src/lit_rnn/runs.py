"""The run store: what determines a trained run, where it lives, and how runs move between machines.

A run lives in ``<artifacts>/runs/<id>/``, ``id`` being a hash of its :class:`RunConfig`: the
corpus (by sha256), the model, the recipe and the seed — everything that determines its result.
How it was executed (device, precision, checkpoint cadence) is not part of its identity; the
precision is recorded in its result, because it moves the numbers slightly.

Everything the store holds, and who writes it. The training files are written by the trainer; every
other artifact is computed on first use through :func:`lit_rnn.atomic.cached`, whose key rule is
that a path names all that determines the artifact: its owner's folder (a run's, an n-gram's) is a
:func:`~lit_rnn.hashing.config_hash`, and the artifact's own name adds the split, the checkpoint or a
hash of its parameters. Anything in it can be deleted and is rebuilt the same; a hidden
``.*.partial`` folder is a build that was killed, never read::

    <artifacts>/                        the folder Settings resolves (--artifacts, $LIT_RNN_HOME, ./artifacts)
      runs/<id>/                        one trained run
        config.json                     the RunConfig, which hashes to <id>
        metrics.jsonl                   one line per validation
        checkpoint.pt                   while the run can resume
        best.pt                         the best weights on validation
        result.json                     once training ended
        provenance.json                 how and where it was trained
        snapshots/step<N>.pt            early weights (the training dynamics)
        snapshots/step<N>.npz           their test predictions, sampled (evaluate.sampled_snapshots): shipped instead
        predictions/<split>-<best|stepN>.npz     the predictions of the best weights or a snapshot (evaluate)
        trace-<split>/layer<L>_<q>.npy  cells and gates over a split, float16, memory-mapped (evaluate)
        ablations/<hash>.npz            one layer's ablations: layer, tested cells, AblationConfig (interventions)
        dynamic/rms-<hash>.pt           dynamic evaluation: the gradient RMS of a window length (dynamic)
        dynamic/val-<hash>.json         one configuration's validation loss
        dynamic/test-<hash>.json, .npz  the configuration chosen on validation and its test predictions
      ngram/<hash>/                     a KenLM n-gram: NgramConfig (corpus sha256, split, order) (ngram)
        config.json, model.bin, predictions-<split>.npz
      syntax/<hash>.npz                 a corpus lexed in a language: sha256, language, Pygments, rules (signals)
      scorecards/<preset>-<sha256>/<chapter>.json   the claims each chapter judged (study)

A *weightless* run (``weightless.json``) is a finished run shipped without its weights: its
config, metrics, result and provenance, its test loss with its bootstrap standard deviation, and
its test predictions in summarised form (:meth:`lit_rnn.predictions.Predictions.summarised`: each segment's
exact totals, and at some positions of each the most likely byte and the true byte's
log-probability). That is what Table 1 and Figure 1 read, at about 50 KB a run where the grid's
weights would not fit in git; anything that needs the weights refuses it (:meth:`Run.load_model`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lit_rnn.analysis.segments import segment_ids, segment_sums
from lit_rnn.atomic import atomic_save_torch, atomic_write_text, read_jsonl, umask
from lit_rnn.data import KNOWN_CORPORA, Batcher, Corpus
from lit_rnn.errors import UserError
from lit_rnn.hashing import canonical_json, config_hash
from lit_rnn.models import LATER, Model, ModelConfig, load_checkpoint, load_model
from lit_rnn.predictions import Predictions

PORTABLE_FILES = ("config.json", "metrics.jsonl", "result.json", "provenance.json", "best.pt")
WEIGHTLESS = "weightless.json"  # marks a run kept without weights; holds its test loss and bootstrap std
TEST_PREDICTIONS = Path("predictions") / "test-best.npz"  # where evaluate.predictions caches the test predictions
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
    init_range: float = 0.08  # every weight and bias, forget gates too (char-rnn's 1s came after the paper)
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
        """How long the recipe trains, in words: its cap on steps where it has one (on the paper's corpora that cap
        ends a run long before its epochs do, and before any epoch-wise decay of the learning rate), else its
        epochs."""
        return f"{self.max_steps:,} steps" if self.max_steps else f"{self.epochs:g} epochs"

    @property
    def stopping(self) -> str:
        """The recipe's early stopping, in words."""
        return (f"training stops once {self.patience} validations in a row bring no new best (one at each epoch's end "
                f"and every {self.eval_every:,} steps), and the best weights are kept")


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
            return f"early-stopped at epoch {round(self.epochs, 1):g}"
        return f"{self.steps:,} steps" if recipe.max_steps is not None and self.steps >= recipe.max_steps \
            else f"{self.epochs:g} epochs"


class Run:
    """A run's folder: its config, resumable checkpoint, best weights, snapshots and metrics log."""

    def __init__(self, config: RunConfig, artifacts: str | Path):
        self.config = config
        self.dir = Path(artifacts) / "runs" / config.run_id

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
    def paper_recipe(self) -> bool:
        """Whether it trained with the paper's recipe (as long: epochs and any step cap), even if cut short."""
        return self.config.recipe.length == Recipe().length

    @property
    def shortfall(self) -> str:
        """"" if it finished its recipe; else the model and where it stopped ("lstm-3x244 cut short at epoch 35 of
        50"), for the claims judged on it to say so."""
        return "" if self.result.complete else f"{self.name} {self.result.describe(self.config.recipe)}"

    @property
    def is_finished(self) -> bool:
        return self.result_path.exists()

    @property
    def step(self) -> int:
        """The step its checkpoint stands at (0 without one)."""
        return _step(self.dir)

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

    @property
    def weightless(self) -> bool:
        """Whether the run is kept without its weights (its results and compact test predictions only)."""
        return (self.dir / WEIGHTLESS).exists()

    def snapshot_path(self, step: int) -> Path:
        return self.dir / "snapshots" / f"step{step:08d}.pt"

    def snapshots(self) -> dict[int, Path]:
        """Kept early weights by training step (for the training-dynamics analysis)."""
        folder = self.dir / "snapshots"
        return {int(p.stem[4:]): p for p in sorted(folder.glob("step*.pt"))} if folder.exists() else {}

    def sampled_path(self, step: int) -> Path:
        return self.dir / "snapshots" / f"step{step:08d}.npz"

    def sampled_snapshots(self) -> dict[int, Path]:
        """Kept early test predictions, sampled, by training step: the light form of :meth:`snapshots`."""
        folder = self.dir / "snapshots"
        return {int(p.stem[4:]): p for p in sorted(folder.glob("step*.npz"))} if folder.exists() else {}

    def load_model(self, device: torch.device = torch.device("cpu"), path: Path | None = None) -> Model:
        """The best model (or the weights at ``path``), on ``device``, in eval mode; a weightless run refuses."""
        if self.weightless:
            raise UserError(f"run {self.config.run_id} ({self.name}) is weightless (imported for Table 1 and Figure 1 "
                            "without its weights), and this needs its weights: import the full run or train it")
        return load_model(path or self.best_path, device)

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dir / "config.json", canonical_json(identity(self.config)))

    def write_result(self, result: RunResult) -> None:
        atomic_write_text(self.result_path, json.dumps(dataclasses.asdict(result), indent=2))


def stored_runs(artifacts: str | Path) -> list[Run]:
    """Every run in the store whose config reads, in folder order."""
    runs = []
    for folder in sorted((Path(artifacts) / "runs").glob("*/config.json")):
        try:
            config = RunConfig.from_dict(json.loads(folder.read_text()))
        except (ValueError, KeyError, TypeError, UserError):
            continue
        if config.run_id == folder.parent.name:
            runs.append(Run(config, artifacts))
    return runs


def run_table(artifacts: str | Path) -> pd.DataFrame:
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
            "weightless": run.weightless,
        })
    return pd.DataFrame(rows)


# -- Moving runs between machines ---------------------------------------------------------------


def export_run(run: Run, destination: str | Path, half: bool = False, snapshots: bool = True,
               sampled: bool = False) -> Path:
    """Copy a finished run's portable files (and, with ``snapshots``, its early weights) into ``destination/<id>/``.

    ``half`` stores the weights in fp16 (half the size; loading widens them back to fp32). ``sampled`` ships each
    snapshot as its sampled test predictions instead of its weights (computed beforehand:
    ``evaluate.sampled_snapshots``): the training dynamics' light form, a tenth of the size or less.
    """
    if not run.is_finished:
        raise UserError(f"run {run.config.run_id} ({run.name}) has not finished; only finished runs are exported")
    if run.weightless:
        raise UserError(f"run {run.config.run_id} ({run.name}) is weightless: export it with --weightless")
    if sampled and snapshots and sorted(run.sampled_snapshots()) != sorted(run.snapshots()):
        raise UserError(f"run {run.config.run_id} ({run.name}) lacks the sampled predictions of some snapshots; "
                        "`lit-rnn runs export --sampled-snapshots` computes them")
    target = Path(destination) / run.config.run_id
    if target.exists():
        raise UserError(f"{target} exists already; choose an empty destination")
    staging = _staging(Path(destination), ".export-")
    try:
        copied = [run.dir / n for n in PORTABLE_FILES if not n.endswith(".pt")]
        for source in [*copied, *(run.sampled_snapshots().values() if sampled and snapshots else ())]:
            if source.exists():
                (staging / source.relative_to(run.dir)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staging / source.relative_to(run.dir))
        for source in [run.best_path, *(run.snapshots().values() if snapshots and not sampled else ())]:
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


def export_weightless(run: Run, destination: str | Path, test_std: float) -> Path:
    """Copy a finished run into ``destination/<id>/`` without its weights: its files, its test predictions in
    summarised form (computed beforehand: ``evaluate.predictions``), its test loss with ``test_std``, its bootstrap
    std, and its error rate."""
    if not run.is_finished:
        raise UserError(f"run {run.config.run_id} ({run.name}) has not finished; only finished runs are exported")
    if not (run.dir / TEST_PREDICTIONS).exists():
        raise UserError(f"run {run.config.run_id} ({run.name}) has no test predictions to export weightless; "
                        "`lit-rnn runs export --weightless` computes them")
    target = Path(destination) / run.config.run_id
    if target.exists():
        raise UserError(f"{target} exists already; choose an empty destination")
    predictions = Predictions.load(run.dir / TEST_PREDICTIONS).summarised()
    staging = _staging(Path(destination), ".export-")
    try:
        for name in ("config.json", "metrics.jsonl", "result.json", "provenance.json"):
            if (run.dir / name).exists():
                shutil.copyfile(run.dir / name, staging / name)
        predictions.save(staging / TEST_PREDICTIONS)
        summary = {"split": "test", "bytes": predictions.split_bytes, "positions_kept": len(predictions.targets),
                   "test_loss": predictions.cross_entropy, "test_std": test_std,
                   "error_rate": predictions.error_rate, "predictions": str(TEST_PREDICTIONS)}
        atomic_write_text(staging / WEIGHTLESS, json.dumps(summary, indent=2))
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


RESUMABLE_FILES = ("config.json", "metrics.jsonl", "checkpoint.pt", "best.pt", "provenance.json")


def export_unfinished(run: Run, destination: str | Path, snapshots: bool = True) -> Path:
    """Copy an unfinished run's checkpoint, best weights, log and (``snapshots``) weight snapshots as they are (fp32:
    training goes on from them exactly) into ``destination/<id>/``, for another machine to resume it
    (:func:`resume_unfinished`): how a run cut by one GPU window's deadline reaches the next window, on a fresh
    machine. An earlier export of the run there is replaced, unless it stands further on than the store's."""
    if run.is_finished:
        raise UserError(f"run {run.config.run_id} ({run.name}) has finished: export it with `lit-rnn runs export`")
    if not run.checkpoint_path.exists():
        raise UserError(f"run {run.config.run_id} ({run.name}) has no checkpoint: it has nothing to resume from")
    target = Path(destination) / run.config.run_id
    try:
        earlier = _step(target)
    except UserError:  # a damaged earlier export: replaced
        earlier = 0
    if earlier > run.step:
        raise UserError(f"{target} holds {run.name} at step {earlier:,}, further on than this store's "
                        f"{run.step:,}; choose another destination")
    staging = _staging(Path(destination), ".export-")
    try:
        for source in _resumable_files(run, snapshots):
            copy = staging / source.relative_to(run.dir)
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, copy)
        if target.exists():  # superseded: set aside, then removed once the new export is in place
            target.rename(staging.with_name(staging.name + "-old"))
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(staging.with_name(staging.name + "-old"), ignore_errors=True)
    return target


def _step(folder: Path) -> int:
    """The step of the checkpoint in a run folder (0 without one)."""
    path = folder / "checkpoint.pt"
    return load_checkpoint(path)["progress"]["step"] if path.exists() else 0


def _resumable_files(run: Run, snapshots: bool) -> list[Path]:
    """What another machine needs to go on from ``run``: its files of :data:`RESUMABLE_FILES` and (``snapshots``) its
    weight snapshots."""
    files = [run.dir / name for name in RESUMABLE_FILES] + (list(run.snapshots().values()) if snapshots else [])
    return [path for path in files if path.exists()]


def resumable_bytes(run: Run, snapshots: bool = True) -> int:
    """What :func:`export_unfinished` would copy of ``run``, in bytes."""
    return sum(path.stat().st_size for path in _resumable_files(run, snapshots))


def resume_unfinished(folder: str | Path, artifacts: str | Path) -> Run | None:
    """Bring an unfinished run exported from another machine (:func:`export_unfinished`) into the store, so that
    training resumes it from its checkpoint; returns the run, or None where it is left out because the store has it
    finished or checkpointed as far. Its config must hash to the folder's name and its weights load with
    ``weights_only=True`` and fit the config."""
    folder = Path(folder)
    config = _verified_config(folder)
    run = Run(config, artifacts)
    if not (folder / "checkpoint.pt").exists():
        raise UserError(f"{folder} has no checkpoint.pt: not an unfinished run to resume (a finished run is "
                        "imported with `lit-rnn runs import`)")
    for path in (folder / "checkpoint.pt", folder / "best.pt", *sorted((folder / "snapshots").glob("step*.pt"))):
        if path.exists():
            _check_weights(path, config)
    step = _step(folder)
    if run.is_finished or run.step >= step:
        return None
    staging = _staging(run.dir.parent, ".import-")
    try:
        shutil.copytree(folder, staging, dirs_exist_ok=True, copy_function=shutil.copyfile)
        _move_into_store(staging, run)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run


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


def _check_sampled(folder: Path, config: RunConfig) -> None:
    """Refuse sampled snapshot predictions that are not this run's model's test distributions, all at one set of
    positions, each agreeing with itself (rows that sum to 1, the true byte's log-probability among them)."""
    model, first = config.model, None
    for path in sorted((folder / "snapshots").glob("step*.npz")):
        if not path.stem[4:].isdigit():
            raise UserError(f"{path}: a snapshot's predictions are named step<N>.npz; not imported")
        p = Predictions.load(path)
        found = (p.is_compact, p.name, p.architecture, p.corpus_sha256, p.split, p.vocab_size)
        if found != (False, model.name, model.architecture, config.corpus_sha256, "test", model.vocab_size):
            raise UserError(f"{path} are not the test distributions of {model.name} on its corpus (compact, name, "
                            f"architecture, corpus, split, vocabulary: {found}); not imported")
        rows = np.arange(len(p.targets))
        agrees = (len(p.targets) and int(p.targets.max()) < model.vocab_size and np.all(np.diff(p.positions) > 0)
                  and np.allclose(p.probs.sum(axis=1, dtype=np.float64), 1, atol=1e-2)
                  and np.all(np.isfinite(p.target_log_probs)) and np.all(p.target_log_probs <= 0)
                  and np.allclose(np.exp(p.target_log_probs), p.probs[rows, p.targets], atol=1e-3))
        if not agrees:
            raise UserError(f"{path}: its distributions do not agree with themselves (rows summing to 1, the true "
                            "byte's log-probability among them, positions increasing); not imported")
        if first is not None and not (np.array_equal(first.positions, p.positions)
                                      and np.array_equal(first.targets, p.targets)):
            raise UserError(f"{path} covers other positions than the run's other snapshots; not imported")
        first = p


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


def _checked_weightless(folder: Path, config: RunConfig) -> RunResult:
    """The result of a weightless run folder, refused unless its files agree: no weights, a result, test predictions
    in summarised form of this run's model and corpus, and the test loss its summary states."""
    if (folder / "best.pt").exists():
        raise UserError(f"{folder} holds both {WEIGHTLESS} and best.pt; a run is weightless or not; not imported")
    if not (folder / "result.json").exists():
        raise UserError(f"{folder} is weightless but has no result.json; only finished runs travel weightless")
    try:
        summary = json.loads((folder / WEIGHTLESS).read_text())
        result = RunResult.from_dict(json.loads((folder / "result.json").read_text()))
        loss, rate = float(summary["test_loss"]), float(summary["error_rate"])
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"{folder}: {WEIGHTLESS} or result.json does not read ({error}); not imported") from error
    if not (folder / TEST_PREDICTIONS).exists():
        raise UserError(f"{folder} is weightless but lacks {TEST_PREDICTIONS}; not imported")
    predictions = Predictions.load(folder / TEST_PREDICTIONS)
    model = config.model
    found = (predictions.is_summarised, predictions.name, predictions.architecture, predictions.corpus_sha256,
             predictions.split, predictions.vocab_size)
    if found != (True, model.name, model.architecture, config.corpus_sha256, "test", model.vocab_size):
        raise UserError(f"{folder / TEST_PREDICTIONS} are not the summarised test predictions of {model.name} on its "
                        f"corpus (summarised, name, architecture, corpus, split, vocabulary: {found}); not imported")
    ids_fit = max(predictions.most_likely.max(), predictions.targets.max()) < model.vocab_size
    ordered = bool(np.all(np.diff(predictions.positions) > 0))
    probable = bool(np.all(np.isfinite(predictions.target_log_probs)) and np.all(predictions.target_log_probs <= 0))
    kept = predictions.totals()  # the kept positions are some of each segment's bytes, and errors are some bytes
    counted = segment_sums(segment_ids(predictions.positions), np.ones(len(predictions.positions)), predictions.errors)
    summed = bool(np.all(counted[0] <= kept[1]) and np.all(counted[1] <= kept[2]) and np.all(kept[2] <= kept[1]))
    stated = abs(predictions.cross_entropy - loss) <= 1e-9 and abs(predictions.error_rate - rate) <= 1e-9
    if not (ids_fit and ordered and probable and summed and stated):
        raise UserError(f"{folder}: its predictions do not agree with themselves or with its stated test loss "
                        f"{loss:.6f} and error rate {rate:.6f} (they give {predictions.cross_entropy:.6f} and "
                        f"{predictions.error_rate:.6f}); not imported")
    return result


def _move_into_store(staging: Path, run: Run) -> None:
    """Rename a complete staged run folder into the store, replacing a weightless copy of the same run."""
    if not run.dir.exists():
        staging.rename(run.dir)
        return
    aside = Path(tempfile.mkdtemp(dir=run.dir.parent, prefix=".replaced-"))
    run.dir.rename(aside / run.dir.name)
    try:
        staging.rename(run.dir)
    except OSError:
        (aside / run.dir.name).rename(run.dir)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def import_run(folder: str | Path, artifacts: str | Path, accept_incomplete: bool = False,
               provenance: dict | None = None) -> tuple[Run, str]:
    """Bring a run folder trained elsewhere into the store; returns the run and what happened.

    The folder's ``config.json`` must hash to the folder's name (configs of older lit-rnn
    versions are accepted and stored under the current id), its weights must load with
    ``weights_only=True`` and fit the config; a weightless folder's files must agree
    (:func:`_checked_weightless`). A run without ``result.json`` (cut short) enters only with
    ``accept_incomplete``, marked incomplete. Nothing in the store is overwritten, except that a
    run with weights replaces a weightless copy of itself: a finished run of the same id is left as
    it is, an unfinished one is an error.
    """
    folder = Path(folder)
    config = _verified_config(folder)
    weightless = (folder / WEIGHTLESS).exists()
    run = Run(config, artifacts)
    if run.is_finished and (weightless or not run.weightless):
        return run, "already in the store"
    if run.dir.exists() and not run.is_finished:
        raise UserError(f"run {config.run_id} is in the store but unfinished ({run.dir}); delete that folder to "
                        "import this one instead, or let it finish")
    replacing = run.dir.exists()
    result = _checked_weightless(folder, config) if weightless else _checked_result(folder, config, accept_incomplete)
    staging = _staging(run.dir.parent, ".import-")
    try:
        for name in ("metrics.jsonl", *((WEIGHTLESS, str(TEST_PREDICTIONS)) if weightless else ("best.pt",))):
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, staging / name)
        if (folder / "snapshots").exists() and not weightless:
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
        _move_into_store(staging, run)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    what = "imported weightless" if weightless else "imported" + (" (its weights replace the weightless copy)"
                                                                 if replacing else "")
    return run, what + ("" if result.complete else f" (incomplete: {result.describe(config.recipe)})")


def _checked_result(folder: Path, config: RunConfig, accept_incomplete: bool) -> RunResult:
    """The result of a run folder with weights, after checking every weights file against its config (and any
    sampled snapshot predictions against it too)."""
    for path in [folder / "best.pt", *sorted((folder / "snapshots").glob("step*.pt"))]:
        _check_weights(path, config)
    _check_sampled(folder, config)
    if (folder / "result.json").exists():
        return RunResult.from_dict(json.loads((folder / "result.json").read_text()))
    if accept_incomplete:
        return _result_from_metrics(folder)
    raise UserError(f"{folder} has no result.json: it did not finish training; pass --accept-incomplete to "
                    "import it marked as cut short")


def import_shipped(configs: list[RunConfig], shipped: Path, artifacts: str | Path) -> list[Run]:
    """Import into the store every run of ``configs`` that is missing there (or weightless there, and shipped with
    weights) and shipped in ``shipped``."""
    imported = []
    for config in configs:
        folder, run = shipped / config.run_id, Run(config, artifacts)
        if folder.is_dir() and (not run.is_finished or (run.weightless and not (folder / WEIGHTLESS).exists())):
            imported.append(import_run(folder, artifacts)[0])
    return imported
