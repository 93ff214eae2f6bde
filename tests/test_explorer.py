"""The explorer's opening view, its legibility (WCAG contrast) and its test-segment joins, without a browser."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from test_viz import ListTrace, quoted_explorer

from lit_rnn.analysis.cells import CellView, rank_cells
from lit_rnn.data import Corpus
from lit_rnn.errors import UserError
from lit_rnn.viz.explorer import CellExplorer, activation_curve_svg, cell_view_html, segment_joins
from lit_rnn.viz.heatmap import _rgb, contrast_ratio, ink, luminance, text_heatmap_html

BLACK, WHITE, BLUE, RED = (0, 0, 0), (255, 255, 255), (0, 0, 255), (255, 0, 0)


def _rgb_of(css: str) -> tuple[int, int, int]:
    if css.startswith("#"):
        return (0, 0, 0) if css == "#000" else (255, 255, 255)
    return tuple(int(v) for v in re.findall(r"\d+", css))


def test_contrast_ratio_is_wcags():
    assert luminance(BLACK) == 0 and luminance(WHITE) == pytest.approx(1)
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21) and contrast_ratio(WHITE, BLACK) == pytest.approx(21)
    assert contrast_ratio(BLUE, BLUE) == 1
    assert contrast_ratio(BLUE, BLACK) == pytest.approx(2.44, abs=0.01)  # the explorer's black text on blue, before
    assert contrast_ratio(BLUE, WHITE) == pytest.approx(8.59, abs=0.01)
    assert contrast_ratio((118, 118, 118), WHITE) == pytest.approx(4.54, abs=0.01)  # #767676: AA's known edge


@pytest.mark.parametrize("low, high", [(-1, 1), (0, 1)])
def test_every_shade_of_the_scale_gets_text_at_least_aa(low, high):
    for value in np.linspace(low, high, 511):
        background = _rgb(value, low, high)
        assert contrast_ratio(background, _rgb_of(ink(background))) >= 4.5, background
    assert ink(BLUE) == "#fff" and ink(RED) == "#000" and ink(WHITE) == "#000"


def test_heatmap_text_and_marked_underline_take_the_legible_colour():
    text = b"abcdef"
    page = text_heatmap_html(text, np.array([-1, -0.5, 0, 0.5, 0.8, 1.0]), start=0, marked=(0, 6))
    styles = re.findall(r'style="background:(rgb\([^)]*\));color:(#\w+);box-shadow:inset 0 -3px (#\w+)"', page)
    assert len(styles) == 6
    for background, colour, underline in styles:
        assert colour == underline and contrast_ratio(_rgb_of(background), _rgb_of(colour)) >= 4.5
    assert styles[-1] == ("rgb(0,0,255)", "#fff", "#fff")  # the underline shows on saturated blue


def test_the_curve_fits_its_box_and_breaks_where_segments_join():
    svg = activation_curve_svg(np.linspace(-1, 1, 10), -1, 1, joins=[4])
    assert "box-sizing:border-box" in svg and "width:100%" in svg
    assert svg.count("<polyline") == 2 and svg.count("class='lit-rnn-join'") == 1


def test_segment_joins_are_where_corpus_offsets_jump():
    positions = np.array([10, 11, 12, 40, 41, 42, 43, 90, 91])
    assert segment_joins(positions, 0, 9) == [3, 7]
    assert segment_joins(positions, 2, 6) == [1]
    assert segment_joins(positions, 3, 7) == []


def test_a_window_across_two_test_segments_shows_them_apart():
    data = np.frombuffer(b"first segment text. " * 20 + b"SECOND segment here " * 20, np.uint8)
    positions = np.concatenate([np.arange(0, 200), np.arange(400, 600)])  # two separate stretches
    rng = np.random.default_rng(0)
    trace = ListTrace([{"c": rng.uniform(-1, 1, (len(positions), 4)).astype(np.float16),
                        "h": rng.uniform(-1, 1, (len(positions), 4)).astype(np.float16)}], positions)
    explorer = CellExplorer(Corpus("two", Path("two.txt"), data), {"run": trace}, signals={}, length=100)
    explorer.start.value = 150
    page = explorer.text.html
    assert page.count("lit-rnn-join") == 2  # in the text and on the curve
    before, after = page.split("next test segment")
    rows = [int(r) for r in re.findall(r'data-row="(\d+)"', before)], [int(r) for r in re.findall(r'data-row="(\d+)"',
                                                                                                   after)]
    assert max(rows[0]) < 200 <= min(rows[1])
    assert cell_view_html(CellView("x", 0, "c", 0, 0, b"ab", np.zeros(2))).count("lit-rnn-join") == 0


def test_the_explorer_opens_on_the_rankings_best_cell():
    explorer = quoted_explorer()
    lstm = explorer.traces["lstm-2x8"]
    signals = {name: explorer.signals[name] for name in ("in_quotes", "line_position")}
    ranking = rank_cells(lstm, signals.values(), lstm.positions, quantities=("c", "h"))
    best = ranking.loc[ranking.score.idxmax()]
    assert (best.signal, best.layer, best.quantity, best.cell) == ("in_quotes", 1, "c", 5)  # the planted cell
    explorer.run.value = "gru-1x8"
    explorer.show_best(ranking, run="lstm-2x8")
    assert (explorer.run.value, explorer.layer.value, explorer.quantity.value, explorer.cell.value,
            explorer.rank_by.value) == ("lstm-2x8", 1, "c", 5, "in_quotes")
    assert "lstm-2x8 · layer 2 · cell state · cell 5" in explorer.text.html
    assert "best for in_quotes (AUC): cell 5" in explorer.ranking.value
    quotes = np.asarray(signals["in_quotes"].values)[lstm.positions]
    window = quotes[explorer.start.value : explorer.start.value + explorer.length]
    assert 0 < window.mean() < 1  # opened where quotes open and close, not on a flat stretch
    with pytest.raises(UserError, match="no run 'nonesuch'"):
        explorer.show(run="nonesuch")
    with pytest.raises(UserError, match="quantity menu has no 'q'"):
        explorer.show(quantity="q")
