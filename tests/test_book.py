"""The whole book at the tiny preset: papermill over every chapter, jupyter-book, then a real browser."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from browser import chromium, rendered_dom, screenshot

from lit_rnn.book import BookConfig, build_book, chapters, execute

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("LIT_RNN_TEST_ARTIFACTS", REPO / "test-artifacts")) / "screenshots"


def _copy_project(target: Path) -> Path:
    for name in ("notebooks", "_config.yml", "_toc.yml"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / name)
    shutil.copytree(REPO / "book" / "_static", target / "book" / "_static")
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory, reference_data_dir) -> Path:
    project = _copy_project(tmp_path_factory.mktemp("project"))
    config = BookConfig(preset="tiny", data_dir=str(reference_data_dir), artifacts=str(project / "artifacts"),
                        project=project)
    return build_book(config)


def _pages(site: Path) -> list[Path]:
    return [site / "book" / "intro.html", *sorted((site / "book").glob("*/*.html"))]


@pytest.mark.slow
def test_book_has_every_chapter_for_every_corpus(site):
    expected = {p.stem for p in chapters(REPO / "notebooks")}
    for corpus in ("warpeace", "linux"):
        assert {p.stem for p in (site / "book" / corpus).glob("*.html")} == expected
    assert (site / "index.html").exists()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def _parse(page: Path) -> _Links:
    links = _Links()
    links.feed(page.read_text(errors="replace"))
    return links


@pytest.mark.slow
def test_no_broken_internal_links(site):
    broken = []
    for page in site.rglob("*.html"):
        for href in _parse(page).hrefs:
            url = urlparse(href)
            if url.scheme or href.startswith("mailto:"):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {href}")
            elif url.fragment and target.suffix == ".html" and url.fragment not in _parse(target).ids:
                broken.append(f"{page.relative_to(site)} -> {href} (no such anchor)")
    assert not broken, broken


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_every_page_renders_in_a_browser(site):
    problems = []
    for page in _pages(site):
        name = str(page.relative_to(site / "book")).replace("/", "_").replace(".html", ".png")
        screenshot(page, SCREENSHOTS / name)
        static = page.read_text(errors="replace")
        dom = rendered_dom(page)
        figures = static.count('class="plotly-graph-div"')
        drawn = len(re.findall(r'class="[^"]*js-plotly-plot[^"]*"', dom))
        if drawn != figures or figures and "main-svg" not in dom:
            problems.append(f"{page.name}: {drawn} of {figures} plotly figures rendered")
        if "Traceback" in dom or re.search(r'class="[^"]*(output error|traceback|stderr)', dom):
            problems.append(f"{page.name}: error output in the page")
        views = static.count("application/vnd.jupyter.widget-view+json")
        if views and len(re.findall(r'class="[^"]*widget-(?:box|vbox|hbox|html|dropdown|slider)', dom)) == 0:
            problems.append(f"{page.name}: {views} widget views but none rendered")
        drawn_text = r'class="[^"]*lit-rnn-text[^>]*>\s*<div class="lit-rnn-heatmap'
        if page.stem == "03_cells" and not re.search(drawn_text, dom):
            problems.append(f"{page.name}: the explorer's text (an anywidget) is not drawn")
    assert not problems, problems
    assert len(list(SCREENSHOTS.glob("*.png"))) >= len(_pages(site))


def test_committed_ipynb_files_match_their_py_sources():
    """The .py is the source of truth; the paired .ipynb (no outputs) must say the same."""
    import jupytext

    for source in REPO.glob("notebooks/*.py"):
        paired = source.with_suffix(".ipynb")
        assert paired.exists(), f"{paired.name} is missing: run `jupytext --to ipynb {source}`"
        expected = [(c.cell_type, c.source) for c in jupytext.read(source).cells]
        assert [(c.cell_type, c.source) for c in jupytext.read(paired).cells] == expected, paired.name


@pytest.mark.slow
def test_every_chapter_runs_on_a_users_text_file(tmp_path, reference_data_dir):
    """papermill with a corpus given as a file path (a generated text), as the README shows."""
    rng = np.random.default_rng(0)
    words = ["the", "cell", "state", "(", ")", '"quote"', "{", "}", "line", "\n", "/* note */", "  "]
    text = " ".join(rng.choice(words, size=40_000)).encode()
    corpus = tmp_path / "my_text.txt"
    corpus.write_bytes(text)
    parameters = {"corpus": str(corpus), "preset": "tiny", "artifacts": str(tmp_path / "artifacts")}
    notebooks = shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    for source in chapters(notebooks):
        execute(source, tmp_path / f"{source.stem}.ipynb", parameters)
