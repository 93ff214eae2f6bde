"""The figure and table contract of the built book: what a reader must never meet on a page.

Every plotly figure on a page is read back from its JSON (the ``Plotly.newPlot`` call the page
carries) and every HTML table from its markup. A figure fails on an axis without a title, a
quantity axis whose title names no unit, two different series drawn in the same style, a legend
taller than the figure, or a title line wider than the book's text column; a table fails on pandas'
truncation marks, on its marks of a missing value ("NaN"), on a negative zero and on integer columns
printed as floats.
``site_problems`` runs them over a built site (``_build/html``), so the tiny-book test and a person
checking the ``core`` site use the same rules (``python -m lit_rnn.book_checks _build/html`` runs them
from a shell).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

BOOK_WIDTH = 730  # px: the book's text column, where figures are drawn at their full width
DEFAULT_HEIGHT = 450  # px: plotly's default figure height
LEGEND_ROW = 20  # px a legend entry takes
TITLE_SIZE = 17  # px: plotly's default title font
CHAR_WIDTH = 0.55  # a proportional font's mean glyph width, in ems
UNIT = re.compile(r"\(|nats|bytes?\b|fraction|share|probability|errors|epoch|step|count|row|%|z-score|rank",
                  re.IGNORECASE)
NEW_PLOT = "Plotly.newPlot("


def figures_in_html(page: str) -> list[dict]:
    """Every plotly figure a page draws, as {"data": [...], "layout": {...}}, read from its newPlot calls."""
    decoder, found, start = json.JSONDecoder(), [], 0
    while (start := page.find(NEW_PLOT, start)) >= 0:
        start += len(NEW_PLOT)
        values, position = [], start
        try:
            for _ in range(3):  # the div's id, the traces, the layout
                position = _skip(page, position)
                value, position = decoder.raw_decode(page, position)
                values.append(value)
        except json.JSONDecodeError:
            continue
        found.append({"data": values[1], "layout": values[2]})
    return found


def _skip(text: str, position: int) -> int:
    """The position of the next JSON value: past blanks and one comma."""
    while text[position] in " \t\r\n,":
        position += 1
    return position


def figure_problems(figure: dict, width: int = BOOK_WIDTH) -> list[str]:
    """What is wrong with one figure (its plotly JSON) as a reader sees it; empty when nothing is."""
    layout, traces = figure.get("layout", {}), figure.get("data", [])
    title = _text(layout.get("title"))
    where = f"figure {title[:50]!r}"
    problems = [f"{where}: {problem}" for problem in
                _axis_problems(layout, traces) + _style_problems(traces) + _legend_problems(layout, traces)]
    longest = max((len(re.sub(r"<[^>]+>", "", line)) for line in re.split(r"<br\s*/?>", title)), default=0)
    size = ((layout.get("title") or {}).get("font") or {}).get("size", TITLE_SIZE) if isinstance(
        layout.get("title"), dict) else TITLE_SIZE
    if longest * size * CHAR_WIDTH > (layout.get("width") or width) * 0.95:
        problems.append(f"{where}: a title line of {longest} characters is cut off at {width} px")
    return problems


def _text(title) -> str:
    """A title's text, whether plotly wrote it as a string or as {"text": ...}."""
    return (title.get("text") or "") if isinstance(title, dict) else (title or "")


def _axis_problems(layout: dict, traces: list[dict]) -> list[str]:
    """Axes that carry data but no title, and quantity axes whose title names no unit."""
    problems = []
    for letter in "xy":
        used = {}
        for trace in traces:
            if trace.get("type") in ("pie", "table") or trace.get("visible") is False:
                continue
            used.setdefault(trace.get(f"{letter}axis", letter), trace.get(letter))
        for reference, values in used.items():
            name = f"{letter}axis{reference[1:]}"
            axis = layout.get(name, {})
            if axis.get("visible") is False or axis.get("matches") or axis.get("showticklabels") is False:
                continue
            title = _text(axis.get("title"))
            if not title.strip():
                problems.append(f"{name} has no title")
            elif axis.get("type", _inferred_type(values)) != "category" and not UNIT.search(title):
                problems.append(f"{name} {title!r} names no unit")
    for trace in traces:
        shows_scale = trace.get("showscale") is not False and trace.get("visible") is not False
        if trace.get("type") == "heatmap" and shows_scale and not _text((trace.get("colorbar") or {}).get("title")):
            problems.append("a colour bar has no title")
    return problems


def _inferred_type(values) -> str:
    """"category" where an axis's values are text, as plotly decides it."""
    if isinstance(values, list) and any(isinstance(v, str) for v in values[:20]):
        return "category"
    return "linear"


def _style_problems(traces: list[dict]) -> list[str]:
    """Two different series (by legend group, else name) drawn in one colour, dash and marker symbol."""
    styles: dict[tuple, set[str]] = {}
    for trace in traces:
        line, marker = trace.get("line") or {}, trace.get("marker") or {}
        colour = line.get("color") if isinstance(line.get("color"), str) else marker.get("color")
        if not isinstance(colour, str) or trace.get("visible") is False:
            continue
        style = (colour.lower(), line.get("dash", "solid"), marker.get("symbol", "circle"))
        styles.setdefault(style, set()).add(str(trace.get("legendgroup") or trace.get("name")))
    return [f"series {sorted(series)} share the colour {style[0]}" for style, series in styles.items()
            if len(series) > 1]


def _legend_problems(layout: dict, traces: list[dict]) -> list[str]:
    """A vertical legend with more entries than the figure's height shows."""
    shown = [t for t in traces if t.get("showlegend", True) is not False and t.get("name")
             and t.get("type") not in ("heatmap",)]
    if layout.get("showlegend") is False or (len(shown) < 2 and layout.get("showlegend") is not True):
        return []
    if (layout.get("legend") or {}).get("orientation") == "h":
        return []
    height = layout.get("height") or DEFAULT_HEIGHT
    entries = len({(t.get("legendgroup"), t.get("name")) for t in shown})
    if entries * LEGEND_ROW > height - 40:
        return [f"a legend of {entries} entries in a figure {height} px tall shows about "
                f"{(height - 40) // LEGEND_ROW}"]
    return []


class _Tables(HTMLParser):
    """The text of every table cell, as tables of rows, and of every table's header cells (``<thead>``)."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headers: list[list[str]] = []
        self.cell: list[str] | None = None
        self.in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
            self.headers.append([])
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag):
        if tag == "thead":
            self.in_head = False
        if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
            text = "".join(self.cell).strip()
            self.tables[-1][-1].append(text)
            if self.in_head and tag == "th":
                self.headers[-1].append(text)
            self.cell = None


FLOAT_INTEGER = re.compile(r"^-?[\d,]+\.0+$")
NEGATIVE_ZERO = re.compile(r"^-0(\.0*)?$")
MISSING_MARKS = ("NaN", "nan", "None", "<NA>", "NaT")  # what pandas prints for a missing value unless told
IDENTIFIER = re.compile(r"^[A-Za-z]\w*_\w+$")  # a library's column name (test_loss), not a reader's header


def table_problems(page: str) -> list[str]:
    """pandas' truncation marks, its marks of a missing value ("NaN"), integer columns printed as floats
    ("77.0") and headers that are code's names (``test_loss``), in a page's HTML tables."""
    problems = []
    if match := re.search(r"\d+ rows × \d+ columns", page):
        problems.append(f"a table is truncated ({match.group()})")
    parser = _Tables()
    parser.feed(page)
    for table, header in zip(parser.tables, parser.headers):
        rows = [row for row in table if row]
        if names := [cell for cell in header if IDENTIFIER.match(cell)]:
            problems.append(f"a table's header shows the code's names {names[:4]}, not words")
        if any(cell in ("...", "…") for row in rows for cell in row):
            problems.append(f"a table with header {rows[0][:6]} shows pandas' truncation mark")
        if marks := sorted({cell for row in rows for cell in row if cell in MISSING_MARKS}):
            problems.append(f"a table with header {rows[0][:6]} shows {marks} for a missing value")
        if zeros := sorted({cell for row in rows for cell in row if NEGATIVE_ZERO.match(cell)}):
            problems.append(f"a table with header {rows[0][:6]} shows a negative zero {zeros}")
        body = rows[1:]
        if not body:
            continue
        k = min(len(row) for row in body)  # data columns align on the right (index cells may span rows)
        for j in range(1, k + 1):
            column = [row[-j] for row in body if row[-j] not in ("", "—", *MISSING_MARKS)]  # "—": chapters' missing
            if len(set(column)) > 1 and all(FLOAT_INTEGER.match(v) for v in column) and any(
                    abs(float(v.replace(",", ""))) >= 2 for v in column):  # a constant column may be a whole rate
                problems.append(f"a table prints the integers {column[:3]} as floats")
    return problems


def page_problems(page: str) -> list[str]:
    """Every figure and table problem of one page's HTML."""
    return [p for figure in figures_in_html(page) for p in figure_problems(figure)] + table_problems(page)


def site_pages(site: Path) -> list[Path]:
    """The pages of a built site (``_build/html``): not what lies in _static, _sources or _images."""
    return [page for page in sorted(Path(site).rglob("*.html"))
            if not any(part.startswith("_") for part in page.relative_to(site).parts[:-1])]


def site_problems(site: Path) -> dict[str, list[str]]:
    """The problems of every page of a built site (``_build/html``), by page; pages without any are left out."""
    found = {}
    for page in site_pages(site):
        if problems := page_problems(page.read_text(encoding="utf-8", errors="replace")):
            found[str(page.relative_to(site))] = problems
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m lit_rnn.book_checks _build/html``: print every page's problems; exit 1 if there are any."""
    import sys

    site = Path((argv if argv is not None else sys.argv[1:] or ["_build/html"])[0])
    found = site_problems(site)
    for page, problems in found.items():
        print(page)
        for problem in problems:
            print(f"  {problem}")
    print(f"{sum(map(len, found.values()))} problems on {len(found)} of the {len(site_pages(site))} pages of {site}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
