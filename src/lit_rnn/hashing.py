"""Configuration hashes: the stable name of everything a configuration determines (a run's folder, an
n-gram's, a cached artifact's), so a result is reused exactly when it would come out the same."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Stable JSON of a (nested) dataclass or plain value: sorted keys, no whitespace."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def config_hash(value: Any, length: int = 16) -> str:
    """Short sha256 of ``canonical_json(value)``: the name of the folder that caches it."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]
