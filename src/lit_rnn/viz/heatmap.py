"""The paper's cell figures: text whose every character is coloured by one cell's activation."""

from __future__ import annotations

import html

import numpy as np

from lit_rnn.data import byte_label, character_label, decode_utf8, is_escaped_byte


def _colour(value: float, low: float, high: float) -> str:
    """Blue (low) through white to red (high), as in the paper's figures."""
    t = 0.0 if high == low else float(np.clip((value - low) / (high - low), 0.0, 1.0)) * 2 - 1
    strength = int(round(255 * (1 - abs(t))))
    return f"rgb(255,{strength},{strength})" if t > 0 else f"rgb({strength},{strength},255)"


def text_heatmap_html(text: bytes, values: np.ndarray, low: float = -1.0, high: float = 1.0,
                      title: str | None = None) -> str:
    """HTML of ``text`` with each character shaded by ``values`` of its bytes; renders in JupyterLab and the book.

    A character of several UTF-8 bytes is drawn whole and shaded by its last byte's value (the cell
    has read all of it then); its tooltip lists every byte's value. Newlines break lines (CR is hidden).
    """
    if len(text) != len(values):
        raise ValueError(f"{len(text)} bytes but {len(values)} values")
    values = np.asarray(values, dtype=np.float64)
    spans = []
    for start, stop, shown in glyphs(text):
        if not shown:
            continue
        tip = html.escape(tooltip(text[start:stop], values[start:stop]))
        colour = _colour(values[stop - 1], low, high)
        newline = "<br>" if text[start:stop] == b"\n" else ""
        spans.append(f'<span title="{tip}" style="background:{colour}">{shown}{newline}</span>')
    heading = f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>" if title else ""
    return (f"<div class='lit-rnn-heatmap' style='font-family:monospace;white-space:pre-wrap;"
            f"line-height:1.5;font-size:12px'>{heading}{''.join(spans)}</div>")


def glyphs(text: bytes) -> list[tuple[int, int, str]]:
    """``text`` as drawn, one (first byte, end byte, HTML) per character.

    A multi-byte UTF-8 character is drawn as itself, a newline as ↵, CR as nothing, other invisible
    characters (tab, control, byte-order mark) as ·, and a byte outside any valid sequence as ``\\xNN``.
    """
    characters, offsets = decode_utf8(text)
    return [(int(start), int(stop), _drawn(character))
            for character, start, stop in zip(characters, offsets[:-1], offsets[1:])]


def _drawn(character: str) -> str:
    """How one character of :func:`glyphs` is drawn, HTML-escaped."""
    if character == "\n":
        return "\u21b5"
    if character == "\r":
        return ""
    if is_escaped_byte(character):
        return character_label(character)
    return html.escape(character) if character.isprintable() else "\u00b7"


def tooltip(chunk: bytes, values: np.ndarray) -> str:
    """A character's bytes and the value after each: ``a: +0.120``, or ``д: 0xd0 +0.120, 0xb4 -0.300``."""
    if len(chunk) == 1:
        return f"{byte_label(chunk[0])}: {values[0]:+.3f}"
    character = character_label(chunk.decode("utf-8", errors="surrogateescape"))
    return f"{character}: " + ", ".join(f"0x{byte:02x} {value:+.3f}" for byte, value in zip(chunk, values))


def error_examples_html(examples, title: str = "") -> str:
    """Example errors (rows of ``oracles.example_spans``): the mispredicted byte in dark blue, its word light."""
    lines = []
    for row in examples.itertuples():
        spans = []
        for start, stop, shown in glyphs(row.text):
            if not shown:
                continue
            first, end = row.start + start, row.start + stop  # the character's corpus offsets
            colour = ("#1f5fbf;color:white" if first <= row.offset < end
                      else "#c6dbef" if row.word_start < end and first < row.word_stop else "transparent")
            spans.append(f'<span style="background:{colour}">{shown}</span>')
        lines.append(f"<div style='margin:2px 0'>{''.join(spans)}</div>")
    heading = f"<div style='font-weight:bold'>{html.escape(title)}</div>" if title else ""
    return f"<div style='font-family:monospace;font-size:12px'>{heading}{''.join(lines)}</div>"
