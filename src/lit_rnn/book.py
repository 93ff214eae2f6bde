"""Building the book: train what a preset needs, execute every chapter with papermill, build the site.

The jupytext ``.py`` notebooks are the source of truth: each is converted to its paired ``.ipynb``
afresh (outputs empty), executed by papermill with the corpus and preset as parameters into
``book/<corpus>/``, and never
synced back. Jupyter Book 1.x then builds the site with execution off and warnings as errors.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from lit_rnn.errors import UserError
from lit_rnn.pools import spawn_pool, submit
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


def _say(line: str) -> None:
    print(line, flush=True)


def _step(message: str, write: Callable[[str], None] = _say) -> float:
    """Say that a step starts (``write``: print, or a progress bar's write), and return when."""
    write(f"== {message}")
    return time.time()


def _done(start: float, message: str = "", write: Callable[[str], None] = _say) -> None:
    write(f"   {message + ' ' if message else ''}done in {time.time() - start:.0f} s")


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
                                       kernel_name="python3", cwd=str(Path.cwd()), **_local_kernels())
    except papermill.PapermillExecutionError as error:
        message = _one_line_error(output) or f"{error.ename}: {error.evalue}"
        raise UserError(f"chapter {source.stem} failed for {parameters.get('corpus', 'the book')}: {message} "
                        f"(the executed notebook is {output})") from error
    _hide_plumbing(output)


@functools.cache
def _local_kernels() -> dict:
    """On POSIX, kernels talk over local sockets (IPC), each kernel its own in the user's Jupyter runtime folder
    (never another's: build steps start kernels at once), not over TCP, which any user of the machine can reach
    and which ipykernel warns about once per chapter."""
    if os.name != "posix":
        return {}
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _local_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _own_sockets(self) -> str:  # the sockets' path prefix: "kernel-ipc" in the working folder by default
            folder = Path(jupyter_runtime_dir())
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            return str(folder / f"lit-rnn-{uuid.uuid4().hex[:12]}")

    return {"kernel_manager_class": LocalKernelManager}


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


@dataclass(frozen=True)
class Step:
    """One piece of a build: its name in the log, what it does (a call a process can be handed), and the steps it
    must follow."""

    name: str
    work: Callable[[], object]
    after: tuple[str, ...] = ()


def _run_step(step: Step) -> None:
    start = _step(step.name)
    step.work()
    _done(start, step.name)


def _set_up_worker(threads: int) -> None:
    """A worker's share of the cores, for the kernels it starts (they read the environment) and for itself (torch,
    imported with this module, read the environment already); no progress bars, kernels' included
    (``TQDM_DISABLE``): bars from two processes garble each other on one terminal, so the build draws one."""
    import torch

    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["TQDM_DISABLE"] = "1"
    torch.set_num_threads(threads)


def in_order(steps: list[Step]) -> list[Step]:
    """The steps as one process runs them: each once those it follows have run, the first listed of those ready
    first; refused if names repeat, or a step follows one that is not there or that waits for it."""
    names = [step.name for step in steps]
    unknown = {name for step in steps for name in step.after} - set(names)
    if unknown or len(set(names)) < len(names):
        raise ValueError(f"steps named twice, or following steps that are not there: {sorted(unknown)}")
    pending, done, order = list(steps), set(), []
    while pending:
        step = next((s for s in pending if done.issuperset(s.after)), None)
        if step is None:
            raise ValueError(f"steps that wait for each other: {[s.name for s in pending]}")
        pending.remove(step)
        done.add(step.name)
        order.append(step)
    return order


def run_steps(steps: list[Step], jobs: int) -> None:
    """Every step (checked by :func:`in_order`), each once the steps it follows have finished; of the steps ready,
    the first listed first. Up to ``jobs`` at once in processes that share the cores out (the kernels they start
    included) under one progress bar over the steps, else here, in :func:`in_order`'s order, each with its own bars.
    A failing step fails the build with its message once the steps running beside it end."""
    order = in_order(steps)
    if jobs <= 1:
        for step in order:
            _run_step(step)
        return
    pending, done, running = list(steps), set(), {}
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with spawn_pool(jobs, _set_up_worker, (threads,)) as pool, tqdm(total=len(steps), desc="book", unit="step") as bar:
        while pending or running:
            for step in [s for s in pending if done.issuperset(s.after)][: jobs - len(running)]:
                pending.remove(step)
                running[submit(pool, step.work)] = (step.name, _step(step.name, bar.write))
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name, start = running.pop(future)
                future.result()  # re-raises a step's failure
                done.add(name)
                _done(start, name, bar.write)
                bar.update()


def _prepare_part(settings: Settings, part: str) -> None:
    from lit_rnn.study import Study

    Study(settings).parts()[part][0]()


def _prepare_truth(parameters: dict, retrain: bool) -> None:
    from lit_rnn.truth_study import TruthStudy

    TruthStudy.open(**parameters, retrain=retrain).prepare()


def _once_parameters(config: BookConfig) -> dict:
    """The parameters of a chapter executed once: the book's settings without a corpus or its language."""
    return {k: v for k, v in config.settings[0].parameters().items() if k not in ("corpus", "language")}


def book_steps(config: BookConfig) -> list[Step]:
    """A book build before its site, as steps: each corpus's preparation in parts (:meth:`Study.parts`), its
    chapters in reading order (each reads what the ones before it cached) after them and after the chapters run
    once (chapter 3 reads the ground truth's false-positive rate), and the introduction after every chapter.

    Listed in the order they are preferred when ready: the chapters first (they end the build), then the parts of
    the corpora in turn, the largest corpus's first (the longest to prepare).
    """
    from lit_rnn.study import Study

    once, prepared, every_chapter = [], [], []
    if once_chapters(config.notebooks):
        truth = Step(f"models for the ground truth at preset {config.settings[0].preset.name}",
                     functools.partial(_prepare_truth, _once_parameters(config), config.settings[0].retrain))
        once.append(truth)
        for source in once_chapters(config.notebooks):
            output = config.book / ONCE[source.stem] / f"{source.stem}.ipynb"
            once.append(Step(f"chapter {source.stem}", functools.partial(execute, source, output,
                                                                          _once_parameters(config)), (truth.name,)))
    for settings in config.settings:
        corpus = settings.corpus.name
        parts = [Step(f"{part} for {corpus}", functools.partial(_prepare_part, settings, part),
                      tuple(f"{before} for {corpus}" for before in after))
                 for part, (_, after) in Study(settings).parts().items()]
        prepared.append((len(settings.corpus.data), parts))
        previous = (*(step.name for step in parts), *(step.name for step in once[1:]))
        for source in chapters(config.notebooks):
            step = Step(f"chapter {source.stem} on {corpus}", functools.partial(
                execute, source, config.book / corpus / f"{source.stem}.ipynb", settings.parameters()), previous)
            every_chapter.append(step)
            previous = (step.name,)
    intro = Step("introduction", functools.partial(execute, config.notebooks / f"{INTRO}.py",
                                                   config.book / "intro.ipynb", config.intro_parameters()),
                 tuple(step.name for step in [*once, *every_chapter]))
    largest_first = [parts for _, parts in sorted(prepared, key=lambda sized: -sized[0])]
    in_turn = [step for turn in itertools.zip_longest(*largest_first) for step in turn if step is not None]
    return [*once, *every_chapter, *in_turn, intro]


def execute_book(config: BookConfig) -> None:
    """Everything before the site: with ``retrain``, every run of the preset first (``jobs`` trainings at once);
    then :func:`book_steps`, ``jobs`` at once. Each chapter's folder is emptied, and every paired ``.ipynb``
    written, here first (not by two processes at once)."""
    from lit_rnn.grid import train_runs
    from lit_rnn.study import Study

    for settings in config.settings:
        if settings.retrain:  # everything, so that the chapters find every run in the store
            study = Study(settings)
            train_runs(study.preset.run_configs(study.corpus), study.corpus, settings.train_options,
                       study.artifacts, settings.jobs, packed=settings.packed)
    folders = [*(config.book / ONCE[p.stem] for p in once_chapters(config.notebooks)),
               *(config.book / settings.corpus.name for settings in config.settings)]
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for source in [*once_chapters(config.notebooks), *chapters(config.notebooks), config.notebooks / f"{INTRO}.py"]:
        to_ipynb(source)
    run_steps(book_steps(config), config.settings[0].jobs)


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
    execute_book(config)
    html = build_site(config.project)
    print(f"\nbook built in {(time.time() - start) / 60:.1f} min: {html / 'index.html'}\n{site_sizes(html)}")
    return html
