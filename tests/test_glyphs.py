"""UTF-8 drawn as text: every figure that shows the corpus draws a multi-byte character whole, keeps each
byte's value inspectable, and shows a byte outside any valid sequence as itself."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from lit_rnn.analysis.cells import CellView
from lit_rnn.analysis.signals import Signal
from lit_rnn.data import Corpus, character_table, decode_utf8
from lit_rnn.viz.explorer import CellExplorer
from lit_rnn.viz.figures import cell_selector
from lit_rnn.viz.heatmap import error_examples_html, glyphs, text_heatmap_html

TEXT = "aд€😀".encode() + b"\xff\r\n<\t"  # 1-, 2-, 3- and 4-byte characters, a stray byte, CR, LF, <, tab


def test_decoding_gives_every_byte_to_exactly_one_character():
    characters, offsets = decode_utf8(TEXT)
    assert characters == "aд€😀\udcff\r\n<\t"
    assert offsets.tolist() == [0, 1, 3, 6, 10, 11, 12, 13, 14, 15]


def test_glyphs_keep_characters_whole_and_show_stray_bytes_as_bytes():
    assert glyphs(TEXT) == [(0, 1, "a"), (1, 3, "д"), (3, 6, "€"), (6, 10, "😀"), (10, 11, "\\xff"), (11, 12, ""),
                            (12, 13, "\u21b5"), (13, 14, "&lt;"), (14, 15, "\u00b7")]
    assert [shown for _, _, shown in glyphs("é".encode()[:1] + b"x")] == ["\\xc3", "x"]  # a cut sequence


def test_a_heatmap_colours_a_character_by_its_last_byte_and_its_tooltip_lists_every_byte():
    html = text_heatmap_html("aд\n".encode(), np.array([1.0, -1.0, 1.0, 0.0]))
    spans = re.findall(r'<span title="([^"]*)" style="([^"]*)">([^<]*)', html)
    assert [(tip, shown) for tip, _, shown in spans] == [("a: +1.000", "a"), ("д: 0xd0 -1.000, 0xb4 +1.000", "д"),
                                                         ("\\n: +0.000", "\u21b5")]
    assert spans[1][1] == spans[0][1] != spans[2][1]  # д has its last byte's value, as a has


def test_error_examples_mark_the_whole_character_holding_the_mispredicted_byte():
    text = "xдy".encode()
    examples = pd.DataFrame({"offset": [12], "start": [10], "stop": [14], "text": [text], "word_start": [10],
                             "word_stop": [14]})
    html = error_examples_html(examples)
    assert '<span style="background:#1f5fbf;color:white">д</span>' in html
    assert '<span style="background:#c6dbef">x</span>' in html


def test_the_cell_selector_lays_out_characters_with_every_byte_in_the_hover():
    text, values = "дa\nb".encode(), np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    heatmap = cell_selector([CellView("v", 0, "h", 0, 0, text, values)], width=3).data[0]  # h: drawn as it is
    assert np.asarray(heatmap.text).tolist() == [["д", "a", "\u21b5"], ["b", "", ""]]
    assert np.asarray(heatmap.z).tolist() == [[0.2, 0.3, 0.4], [0.5, None, None]]
    assert heatmap.customdata[0][0] == "д: 0xd0 +0.100, 0xb4 +0.200"


class _Trace:
    """A one-layer trace over the whole of a short text."""

    def __init__(self, n: int):
        self.positions = np.arange(n)
        self.arrays = {"h": np.linspace(-1, 1, 2 * n).reshape(n, 2), "c": np.zeros((n, 2))}

    def __len__(self) -> int:
        return 1

    def __getitem__(self, layer: int):
        return self.arrays


def test_the_explorer_draws_the_text_as_characters():
    data = np.frombuffer("Война и мир. Ἐν ἀρχῇ. 你好。".encode(), np.uint8)
    corpus = Corpus("mixed", None, data)
    signals = {"line_position": Signal("line_position", "count", np.arange(len(data)))}
    explorer = CellExplorer(corpus, {"run": _Trace(len(data))}, signals, length=len(data))
    for word in ("Война", "ἀρχῇ", "你好"):
        assert all(f">{character}</span>" in explorer.text.html for character in word)


def test_the_vocabulary_as_characters():
    table = character_table("aaд\u00a0".encode() + b"\xff")
    assert table.values.tolist() == [["a", "ascii", "61", 2], ["д", "multi-byte", "d0 b4", 1],
                                     ["U+00A0", "multi-byte", "c2 a0", 1], ["\\xff", "invalid", "ff", 1]]
