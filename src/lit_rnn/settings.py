"""Settings resolved once, at the door: the command line and the chapters' parameters build the same object.

A :class:`Settings` holds the corpus already cut to the preset's byte limit, the preset (with any
recipe override), a ``torch.device``, the training precision, the corpus's language (for the
reference signals), the folders, the trainer and whether to retrain, so the same words mean the
same runs whether they come from ``lit-rnn grid``, ``lit-rnn book`` or a notebook.

This is the only module that reads the environment (``$LIT_RNN_DATA``, ``$LIT_RNN_HOME``, through the
light :mod:`lit_rnn.folders`, which ``python -m lit_rnn.window`` uses too): everything below takes the
resolved folders, device and precision as arguments (``tests/test_imports.py`` checks it).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from lit_rnn.analysis.signals import AUTO, LANGUAGE_HELP, resolve_language
from lit_rnn.data import Corpus, load_corpus
from lit_rnn.devices import PRECISIONS, resolve_device, resolve_precision
from lit_rnn.folders import resolve_artifacts, resolve_data_dir
from lit_rnn.grid import TRAINERS, packs_for
from lit_rnn.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset
from lit_rnn.runs import SHIPPED
from lit_rnn.train import TrainOptions


@dataclass(frozen=True)
class Settings:
    """One corpus at one preset, on one device: what every command and chapter works from."""

    corpus: Corpus  # cut to ``preset.max_bytes`` where the preset has one
    preset: Preset
    device: torch.device
    precision: str  # the training precision, resolved: fp32, tf32 or bf16
    data_dir: Path
    artifacts: Path
    language: str  # what the reference signals lex the corpus as: a Pygments lexer name, or "text" for prose
    shipped: Path | None = None  # runs shipped in pretrained/, imported when needed; None: train everything
    jobs: int = 1  # trainings at once, and the book build's steps run side by side
    progress: bool = True
    packed: bool = False  # train runs of one architecture and depth as one computation (the trainer's choice)
    retrain: bool = False  # train every run of the preset rather than import those shipped in pretrained/

    @classmethod
    def resolve(cls, *, corpus: str, preset: str = DEFAULT_PRESET, device: str = "auto", precision: str = "auto",
                data_dir: str | None = None, artifacts: str | None = None, language: str = AUTO,
                retrain: bool = False, trainer: str = "auto", jobs: int = 1,
                progress: bool = True, epochs: float | None = None, max_steps: int | None = None) -> Settings:
        """Resolve user-facing values (names, ``auto``, ``None`` for defaults) into settings; bad values
        raise a one-line :class:`~lit_rnn.errors.UserError`."""
        overrides = {k: v for k, v in (("epochs", epochs), ("max_steps", max_steps)) if v is not None}
        chosen = get_preset(preset, **overrides)
        resolved_device = resolve_device(device)
        folder = resolve_data_dir(data_dir)
        text = load_corpus(corpus, folder)
        if chosen.max_bytes is not None:
            text = text.head(chosen.max_bytes)
        chosen.recipe.batcher(text)  # a corpus too small to split fails here, not in a chapter's third cell
        shipped = SHIPPED if not retrain and SHIPPED.is_dir() else None
        return cls(text, chosen, resolved_device, resolve_precision(precision, resolved_device), folder,
                   resolve_artifacts(artifacts), resolve_language(language, text), shipped, jobs, progress,
                   packs_for(trainer, resolved_device), retrain)

    def parameters(self) -> dict:
        """These settings as a chapter's papermill parameters (its ``parameters`` cell), resolved: a chapter
        given them opens the same corpus, preset, device, precision, folders and language."""
        if self.preset != get_preset(self.preset.name):
            raise ValueError(f"preset {self.preset.name} has recipe overrides; chapters' parameters cannot carry them")
        return {"corpus": self.corpus.argument, "preset": self.preset.name, "device": str(self.device),
                "precision": self.precision, "data_dir": str(self.data_dir), "artifacts": str(self.artifacts),
                "language": self.language}

    @property
    def train_options(self) -> TrainOptions:
        return TrainOptions(device=self.device, precision=self.precision, progress=self.progress,
                            snapshot_steps=self.preset.snapshot_steps)


def settings_parser() -> argparse.ArgumentParser:
    """The flags every training or analysing command shares (an argparse parent, so they are declared once)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--preset", default=DEFAULT_PRESET, help=f"which models and recipe: {', '.join(PRESETS)}")
    parent.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, cuda or cuda:N")
    parent.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="training precision; auto is bf16 autocast where the hardware runs it natively")
    parent.add_argument("--jobs", type=int, default=1,
                        help="trainings at once (useful on a GPU), and the book build's steps run side by side")
    parent.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    parent.add_argument("--artifacts", default=None, help="artifacts folder (default: $LIT_RNN_HOME or ./artifacts)")
    parent.add_argument("--retrain", action="store_true",
                        help="train every run instead of importing the ones shipped in pretrained/")
    parent.add_argument("--trainer", choices=TRAINERS, default="auto",
                        help="packed: runs of one architecture and depth train together as one computation; per-run: "
                             "one run per training (--jobs at a time); auto: packed on a GPU, per-run on a CPU")
    parent.add_argument("--language", default=AUTO,
                        help=f"the corpus's language, for the reference signals: {LANGUAGE_HELP}")
    return parent


def settings_from_args(args: argparse.Namespace, corpus: str | None = None) -> Settings:
    """The settings a parsed command line describes (``corpus`` overrides ``args.corpus``)."""
    return Settings.resolve(corpus=corpus or args.corpus, preset=args.preset, device=args.device,
                            precision=args.precision, data_dir=args.data_dir, artifacts=args.artifacts,
                            language=args.language, retrain=args.retrain, trainer=args.trainer, jobs=args.jobs,
                            epochs=getattr(args, "epochs", None), max_steps=getattr(args, "max_steps", None))
