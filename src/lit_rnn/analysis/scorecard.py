"""The scorecard: each of the paper's claims beside what this build measured, and a verdict from the numbers.

A chapter computes its claims from its own analyses (the functions of this module turn numbers
into a :class:`Claim`; none is typed in), shows them as a table and saves them; the introduction
gathers every chapter's claims into one scorecard.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lit_rnn.store import atomic_write_text

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_MEASURED = "reproduced", "partly", "not reproduced", "not measured"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_MEASURED)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, what this build measured for it, and the verdict those numbers give."""

    chapter: str  # the chapter that measures it, e.g. "Interpretable cells"
    claim: str  # the paper's claim, in words
    measured: str  # what this build measured, with its numbers
    verdict: str  # one of VERDICTS

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")


NOISE = 2.0  # a difference within NOISE bootstrap standard deviations is within noise


def judge(holds: bool | None, partly: bool = False) -> str:
    """The verdict for a claim whose test ``holds`` (None: not measured); ``partly`` when it holds only in part."""
    if holds is None:
        return NOT_MEASURED
    if holds:
        return REPRODUCED
    return PARTLY if partly else NOT_REPRODUCED


def table(claims: Iterable[Claim]) -> pd.DataFrame:
    """The claims as a table: chapter, claim, measured, verdict."""
    return pd.DataFrame([dataclasses.asdict(c) for c in claims], columns=[f.name for f in dataclasses.fields(Claim)])


def save(claims: Iterable[Claim], path: Path) -> None:
    """Write a chapter's claims (JSON), atomically, for the introduction to gather."""
    atomic_write_text(path, json.dumps([dataclasses.asdict(c) for c in claims], indent=1))


def load(paths: Iterable[Path]) -> list[Claim]:
    """The claims saved at ``paths`` that exist, in order."""
    return [Claim(**row) for path in paths if path.exists() for row in json.loads(path.read_text())]
