"""The two folders the environment may name, resolved at the door (:class:`lit_rnn.settings.Settings`, the CLI
and ``python -m lit_rnn.window``), in a module light enough for a bare GPU machine to import."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "LIT_RNN_DATA"  # the data directory, where no --data-dir or data_dir parameter names one
HOME_ENV = "LIT_RNN_HOME"  # the artifacts folder, where no --artifacts or artifacts parameter names one


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory: the argument, else ``$LIT_RNN_DATA``, else ``./data``."""
    return Path(data_dir or os.environ.get(DATA_ENV) or "data")


def resolve_artifacts(artifacts: str | Path | None = None) -> Path:
    """The artifacts folder: the argument, else ``$LIT_RNN_HOME``, else ``./artifacts``."""
    return Path(artifacts or os.environ.get(HOME_ENV) or "artifacts")
