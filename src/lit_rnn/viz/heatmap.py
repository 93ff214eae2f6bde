"""The paper's cell figures: text whose every byte is coloured by one cell's activation.

Colour conventions, shared by the text heatmaps, the explorer and the plotly cell selector: the
paper's colours (red at the low end, white in the middle, blue at the high end: its Figure 2 draws
tanh(c) with -1 red and +1 blue) on a fixed scale per quantity, never rescaled to the window, so
a saturated cell looks saturated. Cell states are drawn as tanh(c) on [-1, 1], gates on [0, 1],
everything else (hidden states, candidates) on [-1, 1].
"""

from __future__ import annotations

import html

import numpy as np

from lit_rnn.data import byte_label

QUANTITY_NAMES = {
    "i": "input gate", "f": "forget gate", "g": "cell candidate", "o": "output gate",  # LSTM
    "r": "reset gate", "z": "update gate", "n": "candidate",  # GRU
    "c": "cell state", "h": "hidden state",
}
GATES = frozenset("iforz")  # sigmoid outputs
COLOURSCALE = [[0.0, "rgb(255,0,0)"], [0.5, "rgb(255,255,255)"], [1.0, "rgb(0,0,255)"]]  # the paper's, for plotly


def shown_values(quantity: str, values: np.ndarray) -> np.ndarray:
    """What a figure colours for ``quantity``: tanh(c) for cell states (as the paper does), the values otherwise."""
    values = np.asarray(values, dtype=np.float64)
    return np.tanh(values) if quantity == "c" else values


def colour_range(quantity: str) -> tuple[float, float]:
    """The fixed colour scale of a quantity's shown values: gates on [0, 1], the rest (tanh(c), h, g, n) on [-1, 1]."""
    return (0.0, 1.0) if quantity in GATES else (-1.0, 1.0)


def shown_name(quantity: str) -> str:
    """A quantity's name as its figures show it: ``tanh(cell state)`` for c."""
    name = QUANTITY_NAMES.get(quantity, quantity)
    return f"tanh({name})" if quantity == "c" else name


def _colour(value: float, low: float, high: float) -> str:
    """Red (low) through white to blue (high): the paper's colours (``COLOURSCALE``)."""
    t = 0.0 if high == low else float(np.clip((value - low) / (high - low), 0.0, 1.0)) * 2 - 1
    strength = int(round(255 * (1 - abs(t))))
    return f"rgb({strength},{strength},255)" if t > 0 else f"rgb(255,{strength},{strength})"


def text_heatmap_html(text: bytes, values: np.ndarray, low: float = -1.0, high: float = 1.0,
                      title: str | None = None, start: int | None = None,
                      marked: tuple[int, int] | None = None) -> str:
    """HTML of ``text`` with byte ``k`` shaded by ``values[k]``; renders in JupyterLab and the book.

    Newlines break lines (CR is hidden); bytes outside ASCII are shown as placeholders so a
    multi-byte character never splits into invalid text. With ``start`` (the trace row of the
    first byte), every byte carries its row as ``data-row``, and the rows of ``marked``
    (``[first, stop)``) are underlined.
    """
    if len(text) != len(values):
        raise ValueError(f"{len(text)} bytes but {len(values)} values")
    spans = []
    for k, (byte, value) in enumerate(zip(text, np.asarray(values, dtype=np.float64))):
        if byte == 13:
            continue
        shown = display_char(byte) + ("<br>" if byte == 10 else "")
        tip = f"{byte_label(byte)}: {value:+.3f}"
        style = f"background:{_colour(value, low, high)}"
        row = "" if start is None else f' data-row="{start + k}"'
        if start is not None and marked is not None and marked[0] <= start + k < marked[1]:
            style += ";box-shadow:inset 0 -3px #111"
        spans.append(f'<span title="{html.escape(tip)}"{row} style="{style}">{shown}</span>')
    heading = f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>" if title else ""
    return (f"<div class='lit-rnn-heatmap' style='font-family:monospace;white-space:pre-wrap;"
            f"line-height:1.5;font-size:12px'>{heading}{''.join(spans)}</div>")


def glyph(byte: int) -> str:
    """How a byte is drawn: newlines as ↵, bytes outside printable ASCII as ·, the character otherwise."""
    return "\u21b5" if byte == 10 else chr(byte) if 32 <= byte < 127 else "\u00b7"


def display_char(byte: int) -> str:
    """A byte's glyph in HTML (escaped)."""
    return html.escape(glyph(byte))


def error_examples_html(examples, title: str = "") -> str:
    """Example errors (rows of ``oracles.example_spans``): the mispredicted byte in dark blue, its word light."""
    lines = []
    for row in examples.itertuples():
        spans = []
        for offset, byte in zip(range(row.start, row.stop), row.text):
            if byte == 13:
                continue
            colour = ("#1f5fbf;color:white" if offset == row.offset
                      else "#c6dbef" if row.word_start <= offset < row.word_stop else "transparent")
            spans.append(f'<span style="background:{colour}">{display_char(byte)}</span>')
        lines.append(f"<div style='margin:2px 0'>{''.join(spans)}</div>")
    heading = f"<div style='font-weight:bold'>{html.escape(title)}</div>" if title else ""
    return f"<div style='font-family:monospace;font-size:12px'>{heading}{''.join(lines)}</div>"
