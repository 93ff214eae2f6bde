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
        shown = display_char(byte) + ("<br>" if byte == 10 else "")
        tip = f"{byte_label(byte)}: {value:+.3f}"
        spans.append(f'<span title="{html.escape(tip)}" style="background:{_colour(value, low, high)}">{shown}</span>')
    heading = f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>" if title else ""
    return (f"<div class='lit-rnn-heatmap' style='font-family:monospace;white-space:pre-wrap;"
            f"line-height:1.5;font-size:12px'>{heading}{''.join(spans)}</div>")


def display_char(byte: int) -> str:
    """How a byte is drawn in a heatmap: newlines as ↵, bytes outside printable ASCII as ·, HTML-escaped."""
    return "\u21b5" if byte == 10 else html.escape(chr(byte)) if 32 <= byte < 127 else "\u00b7"


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
