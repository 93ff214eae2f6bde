"""The paper's cell figures: text whose every byte is coloured by one cell's activation."""

from __future__ import annotations

import html

import numpy as np

from lit_rnn.data import byte_label


def _colour(value: float, low: float, high: float) -> str:
    """Blue (low) through white to red (high), as in the paper's figures."""
    t = 0.0 if high == low else float(np.clip((value - low) / (high - low), 0.0, 1.0)) * 2 - 1
    strength = int(round(255 * (1 - abs(t))))
    return f"rgb(255,{strength},{strength})" if t > 0 else f"rgb({strength},{strength},255)"


def text_heatmap_html(text: bytes, values: np.ndarray, low: float = -1.0, high: float = 1.0,
                      title: str | None = None) -> str:
    """HTML of ``text`` with byte ``k`` shaded by ``values[k]``; renders in JupyterLab and the book.

    Newlines break lines (CR is hidden); bytes outside ASCII are shown as placeholders so a
    multi-byte character never splits into invalid text.
    """
    if len(text) != len(values):
        raise ValueError(f"{len(text)} bytes but {len(values)} values")
    spans = []
    for byte, value in zip(text, np.asarray(values, dtype=np.float64)):
        if byte == 13:
            continue
        shown = "\u21b5<br>" if byte == 10 else html.escape(chr(byte)) if 32 <= byte < 127 else "\u00b7"
        tip = f"{byte_label(byte)}: {value:+.3f}"
        spans.append(f'<span title="{html.escape(tip)}" style="background:{_colour(value, low, high)}">{shown}</span>')
    heading = f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>" if title else ""
    return (f"<div class='lit-rnn-heatmap' style='font-family:monospace;white-space:pre-wrap;"
            f"line-height:1.5;font-size:12px'>{heading}{''.join(spans)}</div>")
