"""Building the book: train what a preset needs, execute every chapter with papermill, build the site.

The jupytext ``.py`` notebooks are the source of truth: each is converted to its paired ``.ipynb``
afresh (outputs empty), executed by papermill with the corpus and preset as parameters into
``book/<corpus>/``, and never
synced back. Jupyter Book 1.x then builds the site with execution off and warnings as errors.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lit_rnn.errors import UserError
from lit_rnn.settings import Settings
from lit_rnn.viz.notebook import BOOK_ENV, ERROR_PREFIX

BOOK_CORPORA = ("warpeace", "linux")
INTRO = "00_intro"
PLOTLY_JS = "plotly/plotly.min.js"  # under the site's _static; _config.yml's html_js_files loads it on every page
ONCE = {"09_ground_truth": "ground_truth"}  # chapters about no corpus of the book: executed once, into book/<folder>/


@dataclass(frozen=True)
class BookConfig:
    """What a book build covers: the settings of each corpus (resolved at the door), and where the project is."""

    settings: tuple[Settings, ...]  # one per corpus, in the book's order; the same preset, device and folders
    project: Path = Path(".")  # the repository root: notebooks/, book/, _config.yml, _toc.yml

    @classmethod
    def resolve(cls, corpora: tuple[str, ...] = BOOK_CORPORA, project: Path = Path("."), **values) -> BookConfig:
        """A book of ``corpora``, each with :meth:`Settings.resolve` of ``values`` (preset, device, folders...)."""
        return cls(tuple(Settings.resolve(corpus=corpus, **values) for corpus in corpora), project)

    @property
    def notebooks(self) -> Path:
        return self.project / "notebooks"

    @property
    def book(self) -> Path:
        return self.project / "book"

    @property
    def corpora(self) -> list[str]:
        """The corpora as the chapters' ``corpus`` parameter names them."""
        return [settings.parameters()["corpus"] for settings in self.settings]

    def intro_parameters(self) -> dict:
        """The introduction's parameters: every corpus, and the settings they share.

        Each corpus's language was resolved on its own: where they differ, they came from ``auto``,
        which the introduction resolves again to the same languages.
        """
        shared = {k: v for k, v in self.settings[0].parameters().items() if k != "corpus"}
        languages = {settings.language for settings in self.settings}
        return {**shared, "corpora": self.corpora, "language": languages.pop() if len(languages) == 1 else "auto"}


def chapters(notebooks: Path) -> list[Path]:
    """The chapter sources executed once per corpus, in reading order (``NN_name.py``): not the intro, not ``ONCE``."""
    return sorted(p for p in notebooks.glob("[0-9][0-9]_*.py") if p.stem != INTRO and p.stem not in ONCE)


def once_chapters(notebooks: Path) -> list[Path]:
    """The chapter sources executed once for the whole book (:data:`ONCE`), in reading order."""
    return sorted(p for p in notebooks.glob("[0-9][0-9]_*.py") if p.stem in ONCE)


def _step(message: str) -> float:
    print(f"\n== {message}", flush=True)
    return time.time()


def _done(start: float) -> None:
    print(f"   done in {time.time() - start:.0f} s", flush=True)


def to_ipynb(source: Path) -> Path:
    """Write the ``.ipynb`` paired with a jupytext ``.py`` source (outputs empty; never synced back).

    A paired file whose cells already say what the source says is left as it is: a conversion draws new
    cell ids, so rewriting it would change a committed file at every build.
    """
    import jupytext

    target = source.with_suffix(".ipynb")
    notebook = jupytext.read(source)
    if target.exists() and _cells(jupytext.read(target)) == _cells(notebook):
        return target
    jupytext.write(notebook, target, fmt="ipynb")
    return target


def _cells(notebook) -> list[tuple[str, str, list]]:
    """What a notebook says, cell by cell: type, source and tags (not ids, outputs or other metadata)."""
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in notebook.cells]


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` while the block runs (a kernel started inside inherits it)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def execute(source: Path, output: Path, parameters: dict) -> None:
    """Run one chapter with papermill as the book does (``BOOK_ENV`` set: figures for the book's pages).

    A failing cell fails the build with the chapter's name and message.
    """
    import papermill

    notebook = to_ipynb(source)
    try:
        with _environment(BOOK_ENV, "1"):
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters, progress_bar=False,
                                       kernel_name="python3", cwd=str(Path.cwd()))
    except papermill.PapermillExecutionError as error:
        message = _one_line_error(output) or f"{error.ename}: {error.evalue}"
        raise UserError(f"chapter {source.stem} failed for {parameters.get('corpus', 'the book')}: {message} "
                        f"(the executed notebook is {output})") from error
    _hide_plumbing(output)


PLUMBING = {"parameters", "injected-parameters"}  # papermill's cells: the reader sees the page's values elsewhere


def _hide_plumbing(executed: Path) -> None:
    """Leave the parameters cells out of the page (Jupyter Book's ``remove-cell`` tag)."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if PLUMBING & set(tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(notebook, executed)


def _one_line_error(executed: Path) -> str | None:
    """The project's one-line message that a chapter printed (``viz.notebook``) before failing, if it did."""
    import nbformat

    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            for line in "".join(output.get("text", "")).splitlines():
                if line.startswith(ERROR_PREFIX):
                    return line[len(ERROR_PREFIX):]
    return None


def _use_threads(threads: str) -> None:
    """A worker's share of the cores, for itself and the kernels it starts (they inherit the environment)."""
    os.environ["OMP_NUM_THREADS"] = threads


def side_by_side(config: BookConfig, work: Callable[[Settings], None]) -> None:
    """``work`` for each corpus's settings: in up to ``jobs`` processes at once, else one after another here."""
    workers = min(config.settings[0].jobs, len(config.settings))
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))  # the cores shared out, kernels included
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_use_threads, initargs=(threads,)) as pool:
            list(pool.map(work, config.settings))  # re-raises a failure
    else:
        for settings in config.settings:
            work(settings)


def _prepare_corpus(settings: Settings) -> None:
    """Train (or find in the run store) and evaluate everything one corpus's chapters read."""
    from lit_rnn.study import Study

    start = _step(f"models for {settings.corpus.name} at preset {settings.preset.name}")
    Study(settings).prepare()
    _done(start)


def prepare(config: BookConfig) -> None:
    """Train (or find in the run store) every model each corpus's chapters read: with ``retrain``, every run of
    the preset first (``jobs`` trainings at once); then each corpus's models, the corpora side by side."""
    from lit_rnn.grid import train_runs
    from lit_rnn.study import Study

    for settings in config.settings:
        if settings.retrain:  # everything, so that the chapters find every run in the store
            study = Study(settings)
            train_runs(study.preset.run_configs(study.corpus), study.corpus, settings.train_options,
                       study.artifacts, settings.jobs, packed=settings.packed)
    side_by_side(config, _prepare_corpus)
    if once_chapters(config.notebooks):
        from lit_rnn.truth_study import TruthStudy

        start = _step(f"models for the ground truth at preset {config.settings[0].preset.name}")
        TruthStudy.open(**_once_parameters(config), retrain=config.settings[0].retrain).prepare()
        _done(start)


def _once_parameters(config: BookConfig) -> dict:
    """The parameters of a chapter executed once: the book's settings without a corpus or its language."""
    return {k: v for k, v in config.settings[0].parameters().items() if k not in ("corpus", "language")}


def _execute_corpus(config: BookConfig, settings: Settings) -> None:
    """Every chapter of one corpus, in order, into ``book/<corpus>/``."""
    folder = config.book / settings.corpus.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in chapters(config.notebooks):
        start = _step(f"chapter {source.stem} on {settings.corpus.name}")
        execute(source, folder / f"{source.stem}.ipynb", settings.parameters())
        _done(start)


def execute_chapters(config: BookConfig) -> None:
    """Execute the ``ONCE`` chapters first (the corpus chapters read what they keep, e.g. the ground truth's
    false-positive rate), then every other chapter of each corpus, the corpora side by side in up to ``jobs``
    processes (a corpus's chapters in order: each reads what the ones before it cached), then the intro."""
    for source in once_chapters(config.notebooks):
        folder = config.book / ONCE[source.stem]
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        start = _step(f"chapter {source.stem}")
        execute(source, folder / f"{source.stem}.ipynb", _once_parameters(config))
        _done(start)
    for source in chapters(config.notebooks):  # the paired .ipynb written here once, not by two processes at once
        to_ipynb(source)
    side_by_side(config, functools.partial(_execute_corpus, config))
    start = _step("introduction")
    execute(config.notebooks / f"{INTRO}.py", config.book / "intro.ipynb", config.intro_parameters())
    _done(start)


def serve_widget_modules(static: Path) -> None:
    """Copy anywidget's front end (an AMD module in its Python package) where ``widget-modules.js`` points.

    The explorer's text is an anywidget: this is what draws its saved state in the static pages
    offline, the same version as the kernel's.
    """
    import anywidget

    target = static / "widgets" / "anywidget.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(anywidget.__file__).parent / "nbextension" / "index.js", target)


def serve_plotly(static: Path) -> None:
    """Copy plotly.js from the installed plotly package into the site, which every page loads once (cached).

    The same version as the kernel's, so the figures' data matches the library that draws them.
    """
    import plotly

    target = static / PLOTLY_JS
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", target)


PLOTLY_MIME = "application/vnd.plotly.v1+json"


def slim_downloads(html: Path) -> None:
    """Leave each figure once in the executed notebooks the site offers for download (``_sources``).

    A figure keeps plotly's MIME type, which JupyterLab draws; its HTML copy is for the site's
    pages only. Written as compact JSON (a valid notebook), since indenting plotly's data doubles it.
    """
    import nbformat

    from lit_rnn.atomic import atomic_write_text

    for path in (html / "_sources").rglob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                if PLOTLY_MIME in output.get("data", {}):
                    output.data.pop("text/html", None)
        atomic_write_text(path, json.dumps(notebook, ensure_ascii=False, separators=(",", ":")))


@dataclass(frozen=True)
class SiteSizes:
    """How much a reader downloads from a built site, in bytes."""

    largest_page: str  # relative to the site
    largest_page_bytes: int
    total_bytes: int
    sources_bytes: int  # _sources: the executed notebooks the download button offers
    pages_with_plotly: tuple[str, ...]  # pages that carry a copy of plotly.js instead of the shared one

    def __str__(self) -> str:
        mb = 1e6
        return (f"largest page {self.largest_page} {self.largest_page_bytes / 1e3:,.0f} KB; site "
                f"{self.total_bytes / mb:,.1f} MB, of which _sources {self.sources_bytes / mb:,.1f} MB")


PLOTLY_BANNER = b"* plotly.js v"  # the first lines of plotly.min.js


def site_sizes(html: Path) -> SiteSizes:
    """Measure a built site: its largest HTML page, its total size, its ``_sources`` and pages inlining plotly.js."""
    files = [p for p in html.rglob("*") if p.is_file()]
    if not files:
        raise UserError(f"no built site in {html}: build the book first")
    pages = {p: p.stat().st_size for p in files if p.suffix == ".html"}
    largest = max(pages, key=pages.get)
    sources = html / "_sources"
    inlining = tuple(str(p.relative_to(html)) for p in pages if PLOTLY_BANNER in p.read_bytes())
    return SiteSizes(str(largest.relative_to(html)), pages[largest], sum(p.stat().st_size for p in files),
                     sum(p.stat().st_size for p in files if sources in p.parents), inlining)


def build_site(project: Path = Path(".")) -> Path:
    """Run ``jupyter-book build`` (no execution, warnings as errors); returns the HTML folder."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", str(project),
               "--warningiserror", "--nitpick", "--keep-going"]
    html = project / "_build" / "html"
    shutil.rmtree(project / "_build", ignore_errors=True)
    serve_widget_modules(project / "book" / "_static")
    serve_plotly(project / "book" / "_static")
    start = _step("jupyter-book build")
    if subprocess.run(command).returncode != 0:
        raise UserError("jupyter-book build failed (see the warnings above)")
    pages = list(html.rglob("*.html"))
    if not (html / "index.html").exists() or len(pages) < 2:
        raise UserError(f"jupyter-book produced no pages in {html}")
    slim_downloads(html)
    _done(start)
    return html


def build_book(config: BookConfig) -> Path:
    """The whole job behind ``make book``: prepare models, execute chapters, build the site."""
    if not (config.notebooks.is_dir() and (config.project / "_toc.yml").exists()):
        raise UserError("run `lit-rnn book` from the repository root (where _toc.yml and notebooks/ are)")
    start = time.time()
    prepare(config)
    execute_chapters(config)
    html = build_site(config.project)
    print(f"\nbook built in {(time.time() - start) / 60:.1f} min: {html / 'index.html'}\n{site_sizes(html)}")
    return html
