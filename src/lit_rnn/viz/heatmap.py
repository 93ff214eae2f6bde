"""The paper's cell figures: text whose every character is coloured by one cell's activation.

Colour conventions, shared by the text heatmaps, the explorer and the plotly cell selector: the
paper's colours (red at the low end, white in the middle, blue at the high end: its Figure 2 draws
tanh(c) with -1 red and +1 blue) on a fixed scale per quantity, never rescaled to the window, so
a saturated cell looks saturated. Cell states are drawn as tanh(c) on [-1, 1], gates on [0, 1],
everything else (hidden states, candidates) on [-1, 1].

A character of several UTF-8 bytes is drawn whole and coloured by its last byte's value (the cell
has read all of it then); its tooltip lists every byte's value.
"""

from __future__ import annotations

import html

import numpy as np

from lit_rnn.data import byte_label, character_label, decode_utf8, is_escaped_byte

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


def _rgb(value: float, low: float, high: float) -> tuple[int, int, int]:
    """Red (low) through white to blue (high): the paper's colours (``COLOURSCALE``)."""
    t = 0.0 if high == low else float(np.clip((value - low) / (high - low), 0.0, 1.0)) * 2 - 1
    strength = int(round(255 * (1 - abs(t))))
    return (strength, strength, 255) if t > 0 else (255, strength, strength)


def _colour(value: float, low: float, high: float) -> str:
    """:func:`_rgb` as CSS."""
    return "rgb({},{},{})".format(*_rgb(value, low, high))


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2's relative luminance of an sRGB colour (0 black, 1 white)."""
    linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2's contrast ratio of two colours, 1 to 21 (text needs 4.5 for level AA)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


BLACK, WHITE = (0, 0, 0), (255, 255, 255)


def ink(background: tuple[int, int, int]) -> str:
    """The text colour, black or white, that contrasts more with ``background`` (at least 4.58:1 on any colour)."""
    return "#000" if contrast_ratio(background, BLACK) >= contrast_ratio(background, WHITE) else "#fff"


def text_heatmap_html(text: bytes, values: np.ndarray, low: float = -1.0, high: float = 1.0,
                      title: str | None = None, start: int | None = None,
                      marked: tuple[int, int] | None = None) -> str:
    """HTML of ``text`` with each character shaded by ``values`` of its bytes; renders in JupyterLab and the book.

    Each character's text is black or white, whichever is more legible on its shade (:func:`ink`).
    Newlines break lines (CR is hidden); long runs without a space wrap too. With ``start`` (the
    trace row of the first byte), every character carries the row of its first byte as
    ``data-row``, and those in ``marked`` (``[first, stop)`` rows) are underlined in the text's colour.
    """
    if len(text) != len(values):
        raise ValueError(f"{len(text)} bytes but {len(values)} values")
    values = np.asarray(values, dtype=np.float64)
    spans = []
    for first, stop, shown in glyphs(text):
        if not shown:
            continue
        tip = html.escape(tooltip(text[first:stop], values[first:stop]))
        text_colour = ink(_rgb(values[stop - 1], low, high))
        style = f"background:{_colour(values[stop - 1], low, high)};color:{text_colour}"
        row = "" if start is None else f' data-row="{start + first}"'
        if start is not None and marked is not None and marked[0] <= start + first < marked[1]:
            style += f";box-shadow:inset 0 -3px {text_colour}"  # the text's colour: visible on every shade
        newline = "<br>" if text[first:stop] == b"\n" else ""
        spans.append(f'<span title="{tip}"{row} style="{style}">{shown}{newline}</span>')
    heading = f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>" if title else ""
    return (f"<div class='lit-rnn-heatmap' style='font-family:monospace;white-space:pre-wrap;overflow-wrap:anywhere;"
            f"line-height:1.5;font-size:12px'>{heading}{''.join(spans)}</div>")


def colour_key_html(quantity: str, what: str = "") -> str:
    """A colour key for text heatmaps of ``quantity``: its fixed scale's low, middle and high ends, named."""
    low, high = colour_range(quantity)
    stops = [(low, f"{low:g}"), ((low + high) / 2, f"{(low + high) / 2:g}"), (high, f"{high:g}")]
    swatches = "".join(f"<span style='background:{_colour(value, low, high)};padding:0 8px;margin-right:4px;"
                       f"border:1px solid #ccc'>{label}</span>" for value, label in stops)
    about = f" — {html.escape(what)}" if what else ""
    return (f"<div class='lit-rnn-key' style='font-size:12px;margin:4px 0'>Shading: {html.escape(shown_name(quantity))}"
            f"{about}: {swatches}</div>")


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
