"""Gate saturation (the paper's Figure 3): how often each gate of each cell is nearly shut or open.

A gate value is left-saturated below ``left`` (0.1) and right-saturated above ``right`` (0.9).
The fractions of positions spent in each regime place every cell on the paper's scatter plots;
cells whose forget gate is almost always right-saturated keep their value for long stretches:
the paper's near-perfect integrators. For a GRU, ``h = (1 - z) * n + z * h_prev`` here, so the
update gate ``z`` plays the forget gate's role.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lit_rnn.analysis.cells import TraceLike
from lit_rnn.errors import UserError

GATES = ("i", "f", "o", "r", "z")  # LSTM input, forget, output; GRU reset, update


def gate_saturation(
    trace: TraceLike, left: float = 0.1, right: float = 0.9, gates: Sequence[str] = GATES, chunk: int = 32768
) -> pd.DataFrame:
    """Fraction of positions each cell's gates spend below ``left`` and above ``right``.

    Covers every gate of ``gates`` present in each layer. Columns: layer, gate, cell, left, right.
    """
    if not 0 <= left <= right <= 1:
        raise UserError(f"saturation thresholds must satisfy 0 <= left <= right <= 1, got {left} and {right}")
    frames = []
    for layer in range(len(trace)):
        arrays = trace[layer]  # read once: a stored trace opens its files on each access
        for gate in (g for g in gates if g in arrays):
            array = arrays[gate]
            below, above = np.zeros(array.shape[1]), np.zeros(array.shape[1])
            for start in range(0, len(array), chunk):
                # float32: compared with float16 values, the thresholds would be rounded to float16
                block = np.asarray(array[start : start + chunk], np.float32)
                below += (block < left).sum(axis=0)
                above += (block > right).sum(axis=0)
            frames.append(pd.DataFrame({
                "layer": layer, "gate": gate, "cell": np.arange(array.shape[1]),
                "left": below / len(array), "right": above / len(array),
            }))
    if not frames:
        raise UserError(f"the trace holds none of the gates {list(gates)} (an RNN has no gates)")
    return pd.concat(frames, ignore_index=True)


def integrator_cells(saturation: pd.DataFrame, min_fraction: float = 0.9, gate: str = "f") -> pd.DataFrame:
    """Cells whose ``gate`` (forget; ``z`` for a GRU) is right-saturated at >= ``min_fraction`` of positions.

    Takes ``gate_saturation``'s table; returns its rows for those cells, most saturated first.
    """
    rows = saturation[(saturation["gate"] == gate) & (saturation["right"] >= min_fraction)]
    return rows.sort_values("right", ascending=False, kind="stable").reset_index(drop=True)


def unsaturated_fraction(saturation: pd.DataFrame, threshold: float = 0.1) -> float:
    """Fraction of gates in ``gate_saturation``'s table saturated less than ``threshold`` of the time either way.

    The paper's "diffuse" regime: such gates live mostly between 0.1 and 0.9.
    """
    return float(((saturation.left < threshold) & (saturation.right < threshold)).mean())
