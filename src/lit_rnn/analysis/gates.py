"""Gate saturation (the paper's Figure 3): how often each gate of each cell is nearly shut or open.

A gate value is left-saturated below ``left`` (0.1) and right-saturated above ``right`` (0.9).
The fractions of positions spent in each regime place every cell on the paper's scatter plots;
cells whose forget gate is almost always right-saturated keep their value for long stretches:
the paper's near-perfect integrators.

GRU gates are reported in the paper's convention. PyTorch computes ``h = (1 - z) * n + z * h_prev``;
the paper writes ``h = (1 - z) * h_prev + z * h~``, so the paper's update gate is ``1 - z`` of
PyTorch's, and its left- and right-saturated fractions are PyTorch's right and left ones. (The
reset gate ``r`` means the same in both, though PyTorch applies it after the recurrent product:
``r * (W_hn h + b_hn)``, where the paper has ``W (r * h)``.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lit_rnn.analysis.cells import TraceLike
from lit_rnn.analysis.scorecard import Claim, judge
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
        gru = "r" in arrays
        for gate in (g for g in gates if g in arrays):
            array = arrays[gate]
            below, above = np.zeros(array.shape[1]), np.zeros(array.shape[1])
            for start in range(0, len(array), chunk):
                # float32: compared with float16 values, the thresholds would be rounded to float16
                block = np.asarray(array[start : start + chunk], np.float32)
                if gru and gate == "z":
                    block = 1.0 - block  # the paper's update gate
                below += (block < left).sum(axis=0)
                above += (block > right).sum(axis=0)
            frames.append(pd.DataFrame({
                "layer": layer, "gate": gate, "cell": np.arange(array.shape[1]),
                "left": below / len(array), "right": above / len(array),
            }))
    if not frames:
        raise UserError(f"the trace holds none of the gates {list(gates)} (an RNN has no gates)")
    return pd.concat(frames, ignore_index=True)


CONSISTENTLY = 0.9  # a gate saturated at >= 90% of positions is "consistently" (the paper: "almost always") so


def saturated_cells(saturation: pd.DataFrame, gate: str, side: str, min_fraction: float = CONSISTENTLY) -> pd.DataFrame:
    """Rows of ``gate_saturation``'s table whose ``gate`` is ``side``-saturated ("left" or "right") at
    >= ``min_fraction`` of positions, most saturated first.

    Forget gates right-saturated: the paper's integrators; left-saturated: cells that work purely
    feed-forward. Output gates either way: cells whose state is always revealed or always blocked.
    """
    rows = saturation[(saturation["gate"] == gate) & (saturation[side] >= min_fraction)]
    return rows.sort_values(side, ascending=False, kind="stable").reset_index(drop=True)


def unsaturated_fraction(saturation: pd.DataFrame, threshold: float = 0.1) -> float:
    """Fraction of gates in ``gate_saturation``'s table saturated less than ``threshold`` of the time either way.

    The paper's "diffuse" regime: such gates live mostly between 0.1 and 0.9.
    """
    return float(((saturation.left < threshold) & (saturation.right < threshold)).mean())


def lstm_gate_claims(saturation: pd.DataFrame) -> list[Claim]:
    """The paper's claims about an LSTM's gates: integrator cells; no purely feed-forward cells and no output
    gate consistently open or shut; a first layer more diffuse than the layers above."""
    integrators = saturated_cells(saturation, "f", "right")
    feed_forward = saturated_cells(saturation, "f", "left")
    stuck = pd.concat([saturated_cells(saturation, "o", "left"), saturated_cells(saturation, "o", "right")])
    cells = saturation[saturation.gate == "f"].shape[0]
    share = f"at >= {CONSISTENTLY:.0%} of positions"
    claims = [
        Claim("Gates", "Some forget gates are almost always open: near-perfect integrators",
              f"{len(integrators)} of {cells} cells have a forget gate right-saturated {share}",
              judge(len(integrators) >= 2, partly=len(integrators) == 1),
              threshold=f"at least 2 cells (partly: 1) with a forget gate right-saturated {share}"),
        Claim("Gates", "No cell works purely feed-forward (forget gate consistently shut)",
              f"{len(feed_forward)} cells have a forget gate left-saturated {share}", judge(len(feed_forward) == 0),
              threshold=f"no cell with a forget gate left-saturated {share}"),
        Claim("Gates", "No output gate is consistently open or shut",
              f"{len(stuck)} cells have an output gate saturated one way {share}", judge(len(stuck) == 0),
              threshold=f"no cell with an output gate saturated one way {share}"),
    ]
    layers = sorted(saturation.layer.unique())
    if len(layers) < 2:
        claims.append(Claim("Gates", "The first layer's gates are the most diffuse", "one layer only", judge(None)))
        return claims
    fractions = {layer: unsaturated_fraction(saturation[saturation.layer == layer]) for layer in layers}
    above = [fractions[layer] for layer in layers[1:]]
    claims.append(Claim("Gates", "The first layer's gates are the most diffuse",
                        "gates saturated < 10% of the time either way: "
                        + ", ".join(f"layer {layer + 1} {f:.0%}" for layer, f in fractions.items()),
                        judge(fractions[layers[0]] > max(above), partly=fractions[layers[0]] > min(above)),
                        threshold="the first layer has the largest share of gates saturated < 10% of the time either "
                                  "way (partly: larger than some layer above)"))
    return claims


RARELY = 0.1  # a gate saturated on average at < 10% of positions is "rarely" so


def gru_first_layer_claim(saturation: pd.DataFrame) -> Claim:
    """The paper: in a GRU's first layer reset gates are nearly never right-saturated and update gates (the
    paper's z) rarely left-saturated, a first layer that barely uses its previous state. Tested on the
    layer means, against the layers above where there are any."""
    means = saturation.groupby(["layer", "gate"])[["left", "right"]].mean()
    reset, update = means.loc[(0, "r"), "right"], means.loc[(0, "z"), "left"]
    measured = (f"first layer: reset gates right-saturated {reset:.1%}, update gates left-saturated {update:.1%} "
                "of the time on average")
    rare = reset < RARELY and update < RARELY
    deeper = [layer for layer in means.index.get_level_values(0).unique() if layer > 0]
    if deeper:
        reset_above = max(means.loc[(layer, "r"), "right"] for layer in deeper)
        update_above = max(means.loc[(layer, "z"), "left"] for layer in deeper)
        measured += f" (layers above: up to {reset_above:.1%} and {update_above:.1%})"
        rare = rare and reset <= reset_above and update <= update_above
    return Claim("Gates", "A GRU's first layer barely uses its previous state", measured,
                 judge(rare, partly=reset < RARELY or update < RARELY),
                 threshold=f"both layer means < {RARELY:.0%}, and no higher than in the layers above (partly: one "
                           "of them)")
