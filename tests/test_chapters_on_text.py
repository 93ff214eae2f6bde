"""Every chapter run by papermill on the reader's own text, given as a file path (the README's rerun): generated
Python source, and UTF-8 prose in several scripts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lit_rnn.book import chapters, execute

REPO = Path(__file__).resolve().parent.parent


def python_source(n_bytes: int, seed: int = 0) -> bytes:
    """Generated Python: functions with docstrings, comments, strings holding brackets, nesting and indentation."""
    rng = np.random.default_rng(seed)
    words = ["total", "items", "value", "count", "name", "index", "limit", "state", "cell", "line"]

    def w() -> str:
        return str(rng.choice(words))

    statements = [
        lambda: f"    # {w()} the {w()} (and {w()}) before the {w()}",
        lambda: f"    {w()} = {{'{w()}': [{w()}, ({w()} + {rng.integers(100)})], \"{w()}\": \"a ({w()}) [{w()}]\"}}",
        lambda: f"    if {w()} > {rng.integers(10)}:\n        return {w()}([{w()}, ({w()} * 2)])  # {w()} {w()}",
        lambda: f"    for {w()} in range(len({w()})):\n        {w()}.append(f\"{{{w()}}}: {w()}\")",
        lambda: f"    {w()} = '{w()}, {w()}' if {w()} else \"{w()}\"",
    ]
    chunks, size = ['"""A generated module."""\n\nimport os\nimport re\n\n\n'], 0
    while size < n_bytes:
        body = "\n".join(statements[int(rng.integers(len(statements)))]() for _ in range(int(rng.integers(2, 7))))
        docstring = f'    """Return the {w()} of the {w()}."""'
        chunk = f"def {w()}_{w()}({w()}, {w()}=None):\n{docstring}\n{body}\n    return {w()}\n\n\n"
        chunks.append(chunk)
        size += len(chunk.encode())
    return "".join(chunks).encode()[:n_bytes]


SENTENCES = [
    "«Ну, что, князь? Генуя и Лукка стали не больше, как поместья фамилии Буонапарте», — сказала она.",
    "Анна Павловна кашляла несколько дней, у неё был грипп, как она говорила.",
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν. «Γνῶθι σεαυτόν», εἶπε.",
    "天下皆知美之为美，斯恶已。“道可道，非常道。”名可名，非常名。",
    "“Où est la bibliothèque ?” demanda-t-elle ; l’élève répondit : ‘à côté de l’église’.",
    "Müller aß Spätzle in Köln und sagte: „Schöne Grüße“ — ganz ohne Ärger.",
]


def multi_script_text(n_bytes: int, seed: int = 0) -> bytes:
    """Generated UTF-8 prose in Cyrillic, Greek, CJK and accented Latin, with quotes, in paragraphs."""
    rng = np.random.default_rng(seed)
    paragraphs, size = [], 0
    while size < n_bytes:
        paragraph = " ".join(SENTENCES[int(k)] for k in rng.integers(len(SENTENCES), size=int(rng.integers(2, 6))))
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 2
    return "\n\n".join(paragraphs).encode()[:n_bytes]


def _outputs(notebook: Path, source_holds: str) -> str:
    """Everything the cells whose source holds ``source_holds`` showed, as one string."""
    import nbformat

    shown = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code" and source_holds in cell.source:
            for output in cell.outputs:
                shown.append(output.get("text", ""))
                shown.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(shown)


def _run_chapters(tmp_path: Path, name: str, text: bytes) -> Path:
    corpus = tmp_path / name
    corpus.write_bytes(text)
    parameters = {"corpus": str(corpus), "preset": "tiny", "artifacts": str(tmp_path / "artifacts")}
    notebooks = shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    for source in chapters(notebooks):
        execute(source, tmp_path / f"{source.stem}.ipynb", parameters)
    return tmp_path


@pytest.mark.slow
def test_every_chapter_runs_on_python_source_and_ranks_cells_for_its_comments_and_strings(tmp_path):
    """papermill with a corpus given as a file path, as the README shows: signals in the corpus's language."""
    executed = _run_chapters(tmp_path, "my_python.txt", python_source(30_000))
    assert "the reference signals for Python code" in _outputs(executed / "03_cells.ipynb", "run = study.cell_run")
    ranking = _outputs(executed / "03_cells.ipynb", "ranking = study.cell_ranking(")
    assert "in_comment" in ranking and "in_quotes" in ranking


@pytest.mark.slow
def test_every_chapter_runs_on_utf8_text_and_draws_its_characters(tmp_path):
    text = multi_script_text(30_000)
    executed = _run_chapters(tmp_path, "my_text.txt", text)
    assert "the reference signals for prose" in _outputs(executed / "03_cells.ipynb", "run = study.cell_run")
    # No signal of this random text reaches "partly", so chapter 3 draws no cell view (a sentence says so): its
    # drawing is checked on the same text through the function that draws every cell view.
    from lit_rnn.analysis.cells import CellView
    from lit_rnn.viz.explorer import cell_view_html

    heatmaps = cell_view_html(CellView("probe", 0, "c", 0, 0, text[:6000], np.linspace(-1, 1, 6000)))
    characters = {c for c in set(text.decode(errors="ignore")) if ord(c) > 127}
    drawn = {c for c in characters if f">{c}</span>" in heatmaps}
    for script, (first, last) in {"Cyrillic": ("\u0400", "\u04ff"), "Greek": ("\u0370", "\u03ff"),
                                  "CJK": ("\u4e00", "\u9fff"), "accented Latin": ("\u00c0", "\u017f")}.items():
        assert any(first <= c <= last for c in drawn), script
    assert len(drawn) >= 30 and ">\u00b7</span>" not in heatmaps  # no character drawn as a placeholder
    errors = _outputs(executed / "07_errors.ipynb", "for step in first.table.step")
    assert sum(f">{c}</span>" in errors for c in characters) >= 5
    vocabulary = _outputs(executed / "01_corpora.ipynb", "wide.head(")
    assert "multi-byte" in vocabulary and "а" in vocabulary and "道" in vocabulary
