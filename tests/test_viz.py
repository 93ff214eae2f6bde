"""The figures and the cell explorer as a reader uses them: colours, the cell selector, every explorer control."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from browser import Page

from lit_rnn.analysis.cells import CellView
from lit_rnn.analysis.signals import lex, reference_signals
from lit_rnn.data import Corpus
from lit_rnn.viz import notebook
from lit_rnn.viz.explorer import CELL_NUMBER, MARKED_SPAN, RANKING, CellExplorer, cell_view_html
from lit_rnn.viz.figures import cell_selector
from lit_rnn.viz.heatmap import _colour, colour_range

REPO = Path(__file__).resolve().parent.parent
STATIC = REPO / "book" / "_static"
needs_chromium = pytest.mark.usefixtures("browser")  # conftest.py: skipped without Chromium, failed under CI


class ListTrace(list):
    """An in-memory trace: a list of layers ({quantity: (positions, cells) array}) and the rows' corpus offsets."""

    def __init__(self, layers, positions):
        super().__init__(layers)
        self.positions = positions


SPAN = (200, 240)  # trace rows where the planted input-gate cell is on


def quoted_explorer() -> CellExplorer:
    """Two runs over a quoted prose text; planted cells: quotes (LSTM layer 1 c[5]), line position
    (LSTM layer 0 h[2], falling), the marked span (LSTM layer 1 i[6]); no braces in the text."""
    rng = np.random.default_rng(0)
    text = b" ".join(rng.choice([b"the", b"cell", b'"said he"', b"line\n", b"and", b"(x)"], size=3000))
    data = np.frombuffer(text, np.uint8)
    signals = reference_signals(lex(data, "c"))  # C lexing: quotes are strings, and there are no comments
    positions = np.arange(100, len(data))
    n = len(positions)

    def layer(quantities):
        return {q: (rng.random((n, 8)) if q in "ifozr" else rng.uniform(-1, 1, (n, 8))).astype(np.float16)
                for q in quantities}

    lstm = ListTrace([layer("ifgoch"), layer("ifgoch")], positions)
    lstm[1]["c"][:, 5] = 3 * signals["in_quotes"].values[positions] - 1.5 + 0.2 * rng.standard_normal(n)
    lstm[0]["h"][:, 2] = -signals["line_position"].values[positions] / 40 + 0.05 * rng.standard_normal(n)
    lstm[1]["i"][:, 6] = 0.1
    lstm[1]["i"][SPAN[0] : SPAN[1], 6] = 0.9
    gru = ListTrace([layer("rznh")], positions)
    return CellExplorer(Corpus("quoted", Path("quoted.txt"), data), {"lstm-2x8": lstm, "gru-1x8": gru},
                        length=300, signals=signals)


@pytest.fixture
def explorer() -> CellExplorer:
    return quoted_explorer()


def _shown_rows(explorer: CellExplorer) -> list[int]:
    return [int(r) for r in re.findall(r'data-row="(\d+)"', explorer.text.html)]


def test_colours_are_the_papers_on_a_fixed_scale():
    assert (_colour(-1, -1, 1), _colour(0, -1, 1), _colour(1, -1, 1)) == ("rgb(255,0,0)", "rgb(255,255,255)",
                                                                          "rgb(0,0,255)")
    assert colour_range("c") == (-1, 1) and colour_range("f") == (0, 1) and colour_range("z") == (0, 1)
    text = b"a quiet cell"
    for c, expected in ((0.1, _colour(np.tanh(0.1), -1, 1)), (8.0, "rgb(0,0,255)")):
        view = CellView("c", 0, "c", 0, 0, text, np.full(len(text), c))
        assert set(re.findall(r"background:(rgb\([^)]*\))", cell_view_html(view))) == {expected}
    # a nearly constant cell stays nearly white instead of being stretched over the colours
    assert _colour(np.tanh(0.1), -1, 1) == "rgb(230,230,255)"


def test_explorer_offers_every_run_layer_and_quantity_by_name(explorer):
    assert list(explorer.run.options) == ["lstm-2x8", "gru-1x8"]
    assert [label for label, _ in explorer.layer.options] == ["layer 1", "layer 2"]
    assert [label for label, _ in explorer.quantity.options] == [
        "input gate", "forget gate", "cell candidate", "output gate", "cell state", "hidden state"]
    assert explorer.quantity.value == "c"
    explorer.run.value = "gru-1x8"
    assert [value for _, value in explorer.layer.options] == [0]
    assert [label for label, _ in explorer.quantity.options] == ["reset gate", "update gate", "candidate",
                                                                 "hidden state"]
    assert explorer.quantity.value == "h" and "gru-1x8 · layer 1 · hidden state" in explorer.text.html


def test_only_signals_that_vary_are_offered(explorer):
    offered = set(explorer.rank_by.options) - {CELL_NUMBER, MARKED_SPAN}
    assert {"in_quotes", "line_position", "paren_depth"} <= offered
    assert not {"brace_depth", "in_comment", "bracket_depth"} & offered
    assert "brace_depth" in explorer.absent.value and "in_comment" in explorer.absent.value


def test_ranking_text_menu_and_view_follow_every_control(explorer):
    shown = []
    explorer.ranking.observe(lambda change: shown.append(change.new), names="value")
    explorer.layer.value = 1
    explorer.rank_by.value = "in_quotes"
    assert shown[-2:] == [RANKING, explorer.ranking.value]  # "ranking…" first, then the result
    assert explorer.ranking.value.startswith("best for in_quotes (AUC): cell 5 (")
    assert explorer.cell.value == 5 and explorer.cell.options[0][1] == 5
    assert "layer 2 · cell state · cell 5" in explorer.text.html

    explorer.quantity.value = "h"  # another quantity: its own ranking, not the cell state's
    assert ("lstm-2x8", 1, "h", "in_quotes") in explorer.rankings
    assert "cell 5 (1.00" not in explorer.ranking.value and "hidden state" in explorer.text.html

    explorer.rank_by.value = "line_position"
    explorer.layer.value = 0
    assert explorer.ranking.value.startswith("best for line_position (|ρ|): cell 2 (")
    assert "cell 2 (1.00, falls)" in explorer.ranking.value and explorer.cell.value == 2

    explorer.rank_by.value = CELL_NUMBER  # the old ranking's text and order go
    assert explorer.ranking.value == "" and [v for _, v in explorer.cell.options] == list(range(8))
    assert explorer.cell.value == 2  # the cell shown stays

    explorer.quantity.value = "c"
    explorer.layer.value = 1
    explorer.rank_by.value = "in_quotes"  # cached: no "ranking…" this time
    before = len(shown)
    explorer.quantity.value = "h"
    explorer.quantity.value = "c"
    assert RANKING not in shown[before:] and explorer.cell.value == 5

    explorer.cell.value = 3
    assert "cell 3" in explorer.text.html
    explorer.start.value = 150
    assert _shown_rows(explorer)[0] == 150

    explorer.run.value = "gru-1x8"  # a run without layer 1 or a cell state: its own ranking
    assert explorer.layer.value == 0 and explorer.quantity.value == "h"
    assert ("gru-1x8", 0, "h", "in_quotes") in explorer.rankings and "gru-1x8" in explorer.text.html


def test_marking_a_span_ranks_cells_on_inside_and_off_around_it(explorer):
    explorer.layer.value = 1
    explorer.quantity.value = "i"
    explorer.rank_by.value = MARKED_SPAN
    assert "select text" in explorer.ranking.value
    explorer.text.span = list(SPAN)  # what selecting the text does in the page
    assert explorer.cell.value == 6 and explorer.ranking.value.startswith("on inside the span")
    assert "cell 6 (+0.80)" in explorer.ranking.value
    underlined = re.findall(r'data-row="(\d+)" style="[^"]*box-shadow', explorer.text.html)
    assert [int(r) for r in underlined] == list(range(*SPAN))
    assert ("lstm-2x8", 1, "i", SPAN) in explorer.rankings
    explorer.clear.click()
    assert explorer.marked is None and "box-shadow" not in explorer.text.html
    assert "select text" in explorer.ranking.value


def test_the_mark_shows_whatever_the_ranking(explorer):
    explorer.rank_by.value = "in_quotes"
    ranking = explorer.ranking.value
    explorer.text.span = [120, 130]
    assert explorer.ranking.value == ranking and len(re.findall("box-shadow", explorer.text.html)) == 10


def test_cell_selector_reads_at_the_books_width():
    text = b'He said "look, a <b> & quote" and\nleft.\n' * 4
    views = [CellView(f"in_quotes #{k}: layer 1 c[{k}]", 1, "c", k, 0, text, np.linspace(-5, 5, len(text)))
             for k in range(3)]
    figure = cell_selector(views).to_plotly_json()
    layout, traces = figure["layout"], figure["data"]
    assert all(t["textfont"]["size"] >= 11 for t in traces)
    labels = [glyph for t in traces for row in t["text"] for glyph in row]
    assert '"' in labels and "<" in labels and not any("&" in g and len(g) > 1 for g in labels)  # no &quot;
    assert all((t["zmin"], t["zmax"]) == (-1, 1) for t in traces)
    assert traces[0]["z"][0][0] == round(np.tanh(-5), 3)  # tanh(c), the paper's view of a cell, to 3 decimals
    menu = layout["updatemenus"][0]
    assert [b["args"][1] for b in menu["buttons"]] == [{"title.text": v.label} for v in views]
    assert menu["y"] >= 1 and menu["yanchor"] == "bottom"  # above the text, not on it
    assert layout["title"]["text"] == views[0].label


@needs_chromium
def test_cell_selector_in_a_browser(tmp_path):
    text = b'He said "look, a <b> & quote" and\nleft the room.\n' * 6
    views = [CellView(f"in_quotes #{k}", 1, "c", k, 0, text, np.sin(np.arange(len(text)) / (k + 3)) * 3)
             for k in range(3)]
    page = tmp_path / "selector.html"
    cell_selector(views).write_html(page, include_plotlyjs=True, default_width="730px")  # the book's column
    with Page(page.resolve().as_uri(), width=900, height=900) as browser:
        browser.wait_for("document.querySelectorAll('.heatmaplayer text').length > 0", what="the heatmap's text")
        glyphs = browser.evaluate("[...document.querySelectorAll('.heatmaplayer text')].map(t => "
                                  "[t.textContent, t.getBoundingClientRect().height, t.getBoundingClientRect().top])")
        assert '"' in [g for g, _, _ in glyphs] and not any("&" in g and len(g) > 1 for g, _, _ in glyphs)
        assert min(height for g, height, _ in glyphs if g.strip()) >= 9  # px: legible, not 2 px
        menu_bottom = browser.evaluate("document.querySelector('.updatemenu-header-group')"
                                       ".getBoundingClientRect().bottom")
        assert menu_bottom <= min(top for _, _, top in glyphs)  # the menu leaves the first line visible
        browser.click(".updatemenu-header-group")
        browser.wait_for("document.querySelectorAll('.updatemenu-dropdown-button').length == 3", what="the menu")
        browser.click(".updatemenu-dropdown-button", 2)
        assert browser.wait_for("(document.querySelector('.gtitle') || {}).textContent") == "in_quotes #2"
        browser.screenshot(tmp_path / "selector.png")
        assert not browser.errors


def test_book_figures_draw_with_the_sites_plotly_and_carry_no_copy_of_it(monkeypatch):
    monkeypatch.setenv(notebook.BOOK_ENV, "1")
    notebook.setup()
    assert pio.renderers.default == f"plotly_mimetype+{notebook.SITE_RENDERER}"
    figure = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    bundle = figure._repr_mimebundle_()  # what IPython displays
    page = bundle["text/html"]
    assert 'class="plotly-graph-div"' in page and "Plotly.newPlot(" in page
    assert len(page) < 20_000 and "plotly.js v" not in page  # the library itself is the site's, served once
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["type"] == "bar"
    monkeypatch.delenv(notebook.BOOK_ENV)
    notebook.setup()
    assert pio.renderers.default == "plotly_mimetype"


@needs_chromium
@pytest.mark.skipif(not (STATIC / "widgets" / "embed-amd.js").exists(),
                    reason="needs the site's widget manager in book/_static (`make setup` fetches it)")
def test_saved_explorer_renders_offline_as_the_book_serves_it(explorer, tmp_path):
    """The widget state a chapter saves, on a page with the book's scripts only: the marked text is drawn."""
    from ipywidgets.embed import embed_data

    from lit_rnn.book import serve_widget_modules

    static = tmp_path / "_static"
    for name in ("widgets/require.js", "widgets/embed-amd.js", "widget-modules.js"):
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(STATIC / name, static / name)
    serve_widget_modules(static)
    explorer.rank_by.value = "in_quotes"
    explorer.text.span = [120, 130]
    data = embed_data(views=[explorer.widget], drop_defaults=False)  # as a kernel sends it: _esm included
    page = tmp_path / "chapter.html"
    page.write_text(
        "<html><head>" + "".join(f'<script src="_static/{name}"></script>' for name in
                                 ("widgets/require.js", "widget-modules.js", "widgets/embed-amd.js"))
        + f'<script type="application/vnd.jupyter.widget-state+json">{json.dumps(data["manager_state"])}</script>'
        + '</head><body><script type="application/vnd.jupyter.widget-view+json">'
        + json.dumps(data["view_specs"][0]) + "</script></body></html>")
    with Page(page.resolve().as_uri()) as browser:
        browser.wait_for("!!document.querySelector('.lit-rnn-text .lit-rnn-heatmap')", what="the explorer's text")
        assert browser.evaluate("document.querySelectorAll('.lit-rnn-text [style*=box-shadow]').length") == 10
        assert "best for in_quotes" in browser.evaluate("document.querySelector('.lit-rnn-explorer').innerText")
        assert not browser.errors


_CHOOSE = """(label, text) => {  // ipywidgets draws a menu's spaces as no-break spaces
    const menu = [...document.querySelectorAll('.lit-rnn-explorer .widget-dropdown')]
        .find(d => d.querySelector('label').textContent === label).querySelector('select');
    menu.value = [...menu.options].find(o => o.textContent.replace(/\\u00a0/g, ' ') === text).value;
    menu.dispatchEvent(new Event('change', {bubbles: true}));
}"""


OPENED_AS_CHAPTER_3 = """from test_viz import quoted_explorer
from lit_rnn.analysis.cells import rank_cells
explorer = quoted_explorer()
lstm = explorer.traces["lstm-2x8"]
explorer.show_best(rank_cells(lstm, explorer.signals.values(), lstm.positions, quantities=("c", "h")), run="lstm-2x8")
explorer.widget"""

_COLOURS = """const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const shades = [...document.querySelectorAll('.lit-rnn-text [data-row]')].map(e => getComputedStyle(e));"""

_MIN_CONTRAST = f"""() => {{  // WCAG 2's contrast of every character's text on its background: the lowest
    {_COLOURS}
    const lum = (c) => {{ const [r, g, b] = c.map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92
                                                     : ((v + 0.055) / 1.055) ** 2.4);
                         return 0.2126 * r + 0.7152 * g + 0.0722 * b; }};
    const ratio = (a, b) => {{ const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
                              return (x + 0.05) / (y + 0.05); }};
    return Math.min(...shades.map(s => ratio(rgb(s.color), rgb(s.backgroundColor))));
}}"""

_EXTREMES = f"""() => {{  // a nearly saturated red and a nearly saturated blue among the backgrounds
    {_COLOURS}
    const backgrounds = shades.map(s => rgb(s.backgroundColor));
    return [backgrounds.some(([r, g, b]) => r === 255 && g < 40), backgrounds.some(([r, g, b]) => b === 255 && r < 40)];
}}"""

_NO_SCROLLBAR = """() => [...document.querySelectorAll('.jp-OutputArea-output, .jp-OutputArea-output *')]
    .every(e => !['auto', 'scroll'].includes(getComputedStyle(e).overflowX) || e.scrollWidth <= e.clientWidth)"""


def _lab(root: Path, port: int) -> subprocess.Popen:
    """JupyterLab on ``root`` with its own settings, the app exposed to the page as ``window.jupyterapp``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])}
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(root / ".jupyter" / name.lower())
    return subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--allow-root", "--IdentityProvider.token=lit-rnn", "--LabApp.expose_app_in_browser=True",
         f"--ServerApp.root_dir={root}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
@needs_chromium
def test_explorer_live_in_jupyterlab(tmp_path):
    """JupyterLab 4 offline in Chromium: run the notebook (the explorer opened as chapter 3 opens it: on its
    ranking's best cell, legible on every shade, fitting its box), then use every kind of control as a reader does."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(OPENED_AS_CHAPTER_3)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, tmp_path / "explorer.ipynb")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lab = _lab(tmp_path, port)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=lit-rnn", timeout=5)
                break
            except OSError:
                if time.time() > deadline or lab.poll() is not None:
                    raise
                time.sleep(0.5)
        with Page(f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token=lit-rnn", height=1400) as browser:
            browser.wait_for("!!(window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'))", 120,
                             what="JupyterLab and the notebook")
            browser.evaluate("jupyterapp.shell.currentWidget.sessionContext.ready"
                             ".then(() => { jupyterapp.commands.execute('notebook:run-all-cells'); return true; })")
            browser.wait_for("!!document.querySelector('.lit-rnn-explorer .lit-rnn-text .lit-rnn-heatmap')", 120,
                             what="the explorer")
            opened = browser.evaluate("document.querySelector('.lit-rnn-explorer').innerText")
            assert "lstm-2x8 · layer 2 · cell state · cell 5" in opened  # the ranking's best: the planted cell
            assert "best for in_quotes (AUC): cell 5 (1.00" in opened
            assert browser.evaluate(f"({_MIN_CONTRAST})()") >= 4.5
            assert browser.evaluate(f"({_EXTREMES})()") == [True, True]  # saturated red and blue both shown
            assert browser.evaluate(f"({_NO_SCROLLBAR})()"), "a horizontal scrollbar in the explorer's output"

            def choose(label: str, text: str, until: str) -> str:
                browser.evaluate(f"({_CHOOSE})({json.dumps(label)}, {json.dumps(text)})")
                return browser.wait_for(f"(() => {{ const t = document.querySelector('.lit-rnn-explorer').innerText;"
                                        f" return t.includes({json.dumps(until)}) ? t : ''; }})()", 60, what=until)

            choose("layer", "layer 1", "lstm-2x8 · layer 1 · cell state")  # ranked afresh for layer 1
            shown = choose("layer", "layer 2", "layer 2 · cell state · cell 5")
            assert "best for in_quotes (AUC): cell 5 (1.00" in shown
            assert browser.evaluate("[...document.querySelectorAll('.lit-rnn-explorer select')]"
                                    ".find(s => s.selectedOptions[0].textContent.startsWith('5\\u00a0(1.00)')) != null")
            shown = choose("quantity", "hidden state", "layer 2 · hidden state · cell")
            assert "cell 5 (1.00" not in shown
            browser.evaluate(f"({_CHOOSE})('rank by', '(cell number)')")
            browser.wait_for("!document.querySelector('.lit-rnn-explorer').innerText.includes('best for')", 60,
                             what="the ranking text to go")
            choose("run", "gru-1x8", "gru-1x8 · layer 1 · hidden state")
            choose("run", "lstm-2x8", "lstm-2x8 · layer 1")
            choose("layer", "layer 2", "lstm-2x8 · layer 2")
            choose("quantity", "input gate", "layer 2 · input gate")
            choose("rank by", "marked span", "select text below")
            browser.evaluate("jupyterapp.shell.currentWidget.sessionContext.session.kernel"  # back to the start
                             ".requestExecute({code: 'explorer.start.value = 0'}).done.then(() => true)")
            browser.wait_for(f"!!document.querySelector('.lit-rnn-text [data-row=\"{SPAN[1]}\"]')", 60,
                             what="the text from the start")
            browser.wait_for(  # the same text for a second: a redraw still on its way would move it under the mouse
                f"(() => {{ const e = document.querySelector('.lit-rnn-text [data-row=\"{SPAN[0]}\"]');"
                " if (!e) return false; if (window.litRnnRow !== e) { window.litRnnRow = e;"
                " window.litRnnSince = Date.now(); return false; } return Date.now() - window.litRnnSince > 1000; })()",
                60, what="the text to settle")
            first = browser.point(f'.lit-rnn-text [data-row="{SPAN[0]}"]', across=0.1)  # select with the mouse
            browser.drag(first, browser.point(f'.lit-rnn-text [data-row="{SPAN[1] - 1}"]', across=0.9))
            shown = browser.wait_for("(() => { const t = document.querySelector('.lit-rnn-explorer').innerText;"
                                     " return t.includes('on inside the span') ? t : ''; })()", 60, what="the span")
            assert "cell 6 (+0.80)" in shown and "input gate · cell 6" in shown
            underlined = browser.evaluate("[...document.querySelectorAll('.lit-rnn-text [style*=box-shadow]')]"
                                          ".map(e => Number(e.dataset.row))")
            assert underlined == list(range(*SPAN))
            browser.screenshot(Path(os.environ.get("LIT_RNN_TEST_ARTIFACTS", REPO / "test-artifacts"))
                               / "screenshots" / "explorer_in_jupyterlab.png")
            assert not browser.errors, browser.errors
    finally:
        lab.terminate()
        lab.wait(timeout=30)


def test_the_book_build_runs_chapters_with_the_sites_renderer_and_the_lab_without(tmp_path, monkeypatch):
    """``book.execute`` (what ``lit-rnn book`` runs) sets the book's setting for the chapter's kernel only."""
    import nbformat

    from lit_rnn.book import execute

    monkeypatch.delenv(notebook.BOOK_ENV, raising=False)
    source = tmp_path / "chapter.py"
    source.write_text("# %%\nimport plotly.io as pio\n\nfrom lit_rnn.viz import notebook\n\nnotebook.setup()\n"
                      "print(pio.renderers.default)\n")
    monkeypatch.setenv("PYTHONPATH", str(REPO / "src"))  # the kernel imports this checkout's library
    execute(source, tmp_path / "executed.ipynb", parameters={})
    printed = nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells[-1].outputs[0]["text"]
    assert printed.strip() == f"plotly_mimetype+{notebook.SITE_RENDERER}"
    assert notebook.BOOK_ENV not in os.environ  # the build's own process is left as it was
