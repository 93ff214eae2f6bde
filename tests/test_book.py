"""The whole book at the tiny preset: papermill over every chapter, jupyter-book, then a real browser."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from browser import Page

from lit_rnn.book import (
    ONCE,
    PLOTLY_BANNER,
    PLOTLY_MIME,
    BookConfig,
    Step,
    build_book,
    chapters,
    execute,
    once_chapters,
    run_steps,
    site_sizes,
    slim_downloads,
    to_ipynb,
)
from lit_rnn.errors import UserError

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
    config = BookConfig.resolve(project=project, preset="tiny", data_dir=str(reference_data_dir),
                                artifacts=str(project / "artifacts"), jobs=2)  # the build's steps side by side
    return build_book(config)


def _pages(site: Path) -> list[Path]:
    return [site / "book" / "intro.html", *sorted((site / "book").glob("*/*.html"))]


@pytest.mark.slow
def test_book_has_every_chapter_for_every_corpus(site):
    expected = {p.stem for p in chapters(REPO / "notebooks")}
    for corpus in ("warpeace", "linux"):
        assert {p.stem for p in (site / "book" / corpus).glob("*.html")} == expected
    for source in once_chapters(REPO / "notebooks"):
        assert (site / "book" / ONCE[source.stem] / f"{source.stem}.html").exists()
    assert (site / "index.html").exists()


def test_the_ground_truth_chapter_runs_once_not_per_corpus():
    notebooks = REPO / "notebooks"
    assert [p.stem for p in once_chapters(notebooks)] == ["09_ground_truth"]
    assert "09_ground_truth" not in {p.stem for p in chapters(notebooks)}
    assert f"book/{ONCE['09_ground_truth']}/" in (REPO / "_toc.yml").read_text()


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


PAGE_LIMIT = 600_000  # bytes per page, plotly.js (served once from _static) not counted
SHARED_PLOTLY = re.compile(r'<script src="(?:\.\./)+_static/plotly/plotly\.min\.js(?:\?v=\w+)?"></script>')


@pytest.mark.slow
def test_pages_load_the_one_shared_plotly_and_stay_light(site):
    sizes = site_sizes(site)
    print(sizes)
    assert sizes.pages_with_plotly == ()
    assert sizes.largest_page_bytes <= PAGE_LIMIT, sizes
    shared = site / "_static" / "plotly" / "plotly.min.js"
    assert PLOTLY_BANNER in shared.read_bytes()[:200]
    for page in _pages(site):
        assert len(SHARED_PLOTLY.findall(page.read_text())) == 1, page.name
    downloads = list((site / "_sources").rglob("*.ipynb"))
    assert downloads and not [p.name for p in downloads if PLOTLY_BANNER in p.read_bytes()]
    assert max(p.stat().st_size for p in downloads) <= PAGE_LIMIT


def test_site_sizes_measure_pages_and_sources_and_find_an_inlined_plotly(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_sources" / "book").mkdir(parents=True)
    (tmp_path / "index.html").write_bytes(b"x" * 100)
    inlined = b"<script>/**\n" + PLOTLY_BANNER + b"4.1.1\n*/</script>"
    (tmp_path / "book" / "heavy.html").write_bytes(inlined + b"y" * 900)
    (tmp_path / "_sources" / "book" / "heavy.ipynb").write_bytes(b"z" * 2000)
    sizes = site_sizes(tmp_path)
    assert (sizes.largest_page, sizes.pages_with_plotly) == ("book/heavy.html", ("book/heavy.html",))
    assert sizes.largest_page_bytes == (tmp_path / "book" / "heavy.html").stat().st_size
    assert (sizes.total_bytes, sizes.sources_bytes) == (100 + sizes.largest_page_bytes + 2000, 2000)
    with pytest.raises(UserError, match="no built site"):
        site_sizes(tmp_path / "nowhere")


def test_downloads_keep_each_figure_once_as_plotlys_mime_type(tmp_path):
    import nbformat

    figure = {PLOTLY_MIME: {"data": [{"type": "bar", "y": list(range(500))}]}, "text/html": "<div>copy</div>" * 500}
    table = {"text/html": "<table></table>", "text/plain": "a table"}
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("fig", outputs=[
        nbformat.v4.new_output("display_data", data=figure), nbformat.v4.new_output("execute_result", data=table,
                                                                                     execution_count=1)])])
    path = tmp_path / "_sources" / "book" / "chapter.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    before = path.stat().st_size
    slim_downloads(tmp_path)
    slimmed = nbformat.read(path, as_version=4)
    nbformat.validate(slimmed)
    shown, result = slimmed.cells[0].outputs
    assert set(shown.data) == {PLOTLY_MIME} and shown.data[PLOTLY_MIME]["data"][0]["y"] == list(range(500))
    assert result.data == table  # only figures lose their HTML copy
    assert path.stat().st_size < before / 2


RAW_TABLE = re.compile(r"\|\s*:?-{3,}:?\s*\|")  # a Markdown table's rule row, left as text


WIDGETS = ".widget-box, .widget-vbox, .widget-hbox, .widget-html, .widget-dropdown, .widget-slider"
EXPLORER_TEXT = ".lit-rnn-text > .lit-rnn-heatmap"  # chapter 3's explorer: its text (an anywidget) drawn


def _drawn(figures: int, widgets: bool, explorer: bool) -> str:
    """A JavaScript test that a page has drawn its plotly figures, widgets and explorer text."""
    tests = [f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {figures}"]
    tests += [f"!!document.querySelector({json.dumps(WIDGETS)})"] if widgets else []
    tests += [f"!!document.querySelector({json.dumps(EXPLORER_TEXT)})"] if explorer else []
    return " && ".join(tests)


@pytest.mark.slow
@pytest.mark.usefixtures("browser")
def test_every_page_renders_in_a_browser(site):
    """One Chromium opens every page in turn, waits until it has drawn (or 30 s), then reads its DOM."""
    problems = []
    with Page(_pages(site)[0].resolve().as_uri(), height=4000) as browser:
        for page in _pages(site):
            static = page.read_text(errors="replace")
            figures = static.count('class="plotly-graph-div"')
            views = static.count("application/vnd.jupyter.widget-view+json")
            browser.navigate(page.resolve().as_uri())
            with contextlib.suppress(TimeoutError):  # what did not draw is reported below
                browser.wait_for(_drawn(figures, bool(views), page.stem == "03_cells"), timeout=30)
            dom = browser.evaluate("document.documentElement.outerHTML")
            browser.screenshot(SCREENSHOTS / str(page.relative_to(site / "book")).replace("/", "_").replace(
                ".html", ".png"))
            drawn = len(re.findall(r'class="[^"]*js-plotly-plot[^"]*"', dom))
            if drawn != figures or figures and "main-svg" not in dom:
                problems.append(f"{page.name}: {drawn} of {figures} plotly figures rendered")
            if "Traceback" in dom or re.search(r'class="[^"]*(output error|traceback|stderr)', dom):
                problems.append(f"{page.name}: error output in the page")
            if views and len(re.findall(r'class="[^"]*widget-(?:box|vbox|hbox|html|dropdown|slider)', dom)) == 0:
                problems.append(f"{page.name}: {views} widget views but none rendered")
            if RAW_TABLE.search(re.sub(r"<(pre|code|script|style)\b.*?</\1>", "", dom, flags=re.S)):
                problems.append(f"{page.name}: a Markdown table shown as text (a row of pipes), not as a table")
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


def test_converting_a_chapter_leaves_an_unchanged_pair_untouched(tmp_path):
    """Building the book must not dirty a clone: the committed .ipynb is rewritten only when its source changed."""
    for name in ("02_models.py", "02_models.ipynb"):
        shutil.copyfile(REPO / "notebooks" / name, tmp_path / name)
    pair = tmp_path / "02_models.ipynb"
    committed = pair.read_bytes()
    assert to_ipynb(tmp_path / "02_models.py") == pair and pair.read_bytes() == committed
    source = tmp_path / "02_models.py"
    source.write_text(source.read_text() + "\n# %%\n1 + 1\n")
    to_ipynb(source)
    assert pair.read_bytes() != committed and "1 + 1" in pair.read_text()


def test_every_chapter_sets_up_its_error_display_before_it_resolves_its_parameters():
    import jupytext

    for source in REPO.glob("notebooks/*.py"):
        parameters, first, *_ = [cell for cell in jupytext.read(source).cells if cell.cell_type == "code"]
        assert "parameters" in parameters.metadata.get("tags", []), source.name
        assert "language" in parameters.source or source.stem in ONCE, source.name  # ONCE: no corpus to lex
        resolved = [first.source.index(call) for call in ("Study.open(", "Settings.resolve(") if call in first.source]
        assert resolved and first.source.index("notebook.setup()") < min(resolved), source.name


@pytest.mark.slow
@pytest.mark.parametrize(("parameters", "message"), [
    ({"corpus": "nonesuch"}, "unknown corpus 'nonesuch': known corpora are warpeace, linux, or give the path"),
    ({"corpus": "warpeace", "language": "klingon"}, "unknown language 'klingon'"),
])
def test_a_bad_parameter_stops_a_chapter_at_its_first_cell_with_one_line(tmp_path, reference_data_dir, parameters,
                                                                          message, capfd):
    import nbformat

    notebooks = shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    output = tmp_path / "04_gates.ipynb"
    with pytest.raises(UserError, match=f"chapter 04_gates failed for {parameters['corpus']}: {re.escape(message)}"):
        execute(notebooks / "04_gates.py", output,
                {"preset": "tiny", "data_dir": str(reference_data_dir), **parameters})
    shown = [output for cell in nbformat.read(output, as_version=4).cells if cell.cell_type == "code"
             for output in cell.outputs]
    assert len(shown) == 1 and shown[0].output_type == "stream" and shown[0].name == "stderr", shown
    assert shown[0].text.startswith(f"lit-rnn: error: {message}") and shown[0].text.count("\n") == 1
    if os.name == "posix":  # its kernel talked over local sockets, not unencrypted TCP
        assert "without encryption" not in capfd.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="kernels use TCP where there are no local sockets")
def test_every_chapter_kernel_has_local_sockets_of_its_own():
    """Two build steps start kernels at once: on shared socket names each read the other's messages ("Invalid
    Signature"); jupyter_client's default puts them in the working folder as kernel-ipc-1, -2..."""
    from lit_rnn.book import _local_kernels

    manager = _local_kernels()["kernel_manager_class"]
    first, second = manager(kernel_name="python3"), manager(kernel_name="python3")
    assert first.transport == second.transport == "ipc"
    assert first.ip != second.ip and Path(first.ip).is_absolute() and Path(first.ip).parent == Path(second.ip).parent


def test_a_chapter_kernel_shows_a_user_error_as_one_line_and_a_missing_value_as_a_dash(capsys):
    """What ``viz.notebook.setup()`` does in the kernel that runs a chapter, in this process."""
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from lit_rnn.viz import notebook

    shell = InteractiveShell.instance()
    try:
        notebook.setup()
        result = shell.run_cell("from lit_rnn.errors import UserError\nraise UserError('bad corpus: give a file')")
        assert not result.success
        captured = capsys.readouterr()
        assert captured.err == "lit-rnn: error: bad corpus: give a file\n" and "Traceback" not in captured.out
        shown = shell.display_formatter.format(pd.DataFrame({"n-NN": [float("nan")]}))[0]["text/html"]
        assert f"<td>{notebook.MISSING}</td>" in shown and "NaN" not in shown
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.slow
def test_every_figure_and_table_keeps_the_contract(site):
    """Titled axes with units, distinct series, whole legends and titles, untruncated tables, integers as integers."""
    from lit_rnn.book_checks import figures_in_html, site_problems

    drawn = sum(len(figures_in_html(page.read_text())) for page in _pages(site))
    assert drawn >= 10, f"only {drawn} figures read back from the pages: has the way pages carry figures changed?"
    assert site_problems(site) == {}


def _record(folder: Path, name: str) -> None:
    """What a step's worker saw: its process, its share of the cores and whether it draws bars (a file per step)."""
    if name == "broken":
        raise UserError("chapter 02_models failed for broken")
    import torch

    (folder / f"{name}.txt").write_text(f"{os.getpid()} {os.environ.get('OMP_NUM_THREADS')} {torch.get_num_threads()} "
                                        f"{os.environ.get('TQDM_DISABLE')}")


def test_steps_run_once_those_they_follow_have_the_first_listed_first():
    done = []
    steps = [Step("chapter", functools.partial(done.append, "chapter"), ("models",)),
             Step("models", functools.partial(done.append, "models")),
             Step("n-gram", functools.partial(done.append, "n-gram"))]
    run_steps(steps, jobs=1)
    assert done == ["models", "chapter", "n-gram"]


@pytest.mark.parametrize("steps", [[Step("a", print, ("b",)), Step("b", print, ("a",))], [Step("a", print, ("c",))],
                                   [Step("a", print), Step("a", print)]])
def test_steps_that_can_never_run_are_refused(steps):
    with pytest.raises(ValueError, match="steps"):
        run_steps(steps, jobs=1)


@pytest.mark.slow
def test_steps_run_side_by_side_in_processes_that_share_the_cores(tmp_path):
    steps = [Step(name, functools.partial(_record, tmp_path, name)) for name in ("first", "broken")]
    with pytest.raises(UserError, match="failed for broken"):  # a step's failure fails the build
        run_steps(steps, jobs=2)
    pid, kernels, torch_threads, quiet = (tmp_path / "first.txt").read_text().split()  # the other ran meanwhile
    assert pid != str(os.getpid()) and kernels == torch_threads == str(max(1, (os.cpu_count() or 1) // 2))
    assert quiet == "1"  # one bar, the build's, on the terminal
