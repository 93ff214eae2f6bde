"""Reference signals over a text, one value per byte, for finding cells that track them.

The paper shows cells that count the position in a line, turn on inside quotes and comments,
and follow the nesting depth and the indentation of code. Each signal here is a per-byte array
aligned with the text, computed over the *whole* corpus (so a comment opened before a split's
segment still counts) and indexed by a trace's positions afterwards.

Convention: a signal's value at byte ``p`` is the state *after reading* byte ``p``, the same
moment a trace records the cell that has just consumed that byte. So an opening ``"``, ``(``, the
``#`` of a Python comment or the ``*`` of ``/*`` is already inside; a closing ``"``, ``)`` or the
``/`` of ``*/`` is already outside; a newline is at position 0 of the new line. A character of
several UTF-8 bytes takes effect at its last byte: the first bytes of an opening ``«`` are still
outside, the first bytes of a closing ``»`` still inside.

Quotes, comments and the code where brackets count come from one lexical pass in the corpus's
*language* (:func:`lex`), a Pygments lexer name or ``text``:

- **Code**: Pygments' lexer for the language. String tokens are quotes, comment tokens comments,
  everything else code; a character literal (``'"'``, ``'{'``) and a regular-expression literal
  are neither quotes nor code. A comment is on from the character that completes its opening (the
  shortest prefix the lexer alone reads as a comment: ``#``, ``//``, ``/*``), and a line comment
  ends at its newline. Preprocessor directives (``#define``, ``#include "x.h"``) are code: Pygments
  marks them as comments, so their text is lexed again, and their strings and brackets count.
- **Prose** (``text``): no comments; every bracket counts; quotations open and close with ASCII
  ``"`` (alternating), “ ” (and German „ “), « » and single quotes ‘ ’ or ``'`` at word boundaries
  (an apostrophe inside a word, as in *don't*, is not a quote), and a blank line ends every
  quotation, as a quotation that runs over paragraphs reopens each with a new mark.

On the Linux corpus Pygments' C lexer finds the same quotes, comments and counted brackets as the
hand-written C rules the signals used before, byte for byte, except inside the 20 blocks of code
disabled by ``#if 0`` (4,285 bytes), which it reads as comments and the C rules read as code;
``tests/test_languages.py`` checks that every differing byte lies in such a block.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pygments
from pygments.lexer import Lexer
from pygments.lexers import get_all_lexers, get_lexer_by_name, get_lexer_for_filename, guess_lexer
from pygments.token import Comment, String
from pygments.util import ClassNotFound

from lit_rnn.atomic import atomic_save_npz, cached
from lit_rnn.data import KNOWN_CORPORA, Corpus, decode_utf8
from lit_rnn.errors import UserError
from lit_rnn.hashing import config_hash

KINDS = ("count", "binary")

SIGNAL_KINDS = {
    "line_position": "count",
    "in_quotes": "binary",
    "in_comment": "binary",
    "paren_depth": "count",
    "bracket_depth": "count",
    "brace_depth": "count",
    "indentation": "count",
}

SIGNAL_WORDS = {  # each reference signal as a sentence names it
    "line_position": "the position in the line",
    "in_quotes": "being inside quotes",
    "in_comment": "being inside a comment",
    "paren_depth": "the parenthesis depth",
    "bracket_depth": "the square-bracket depth",
    "brace_depth": "the brace depth",
}  # indentation names itself

AUTO = "auto"
TEXT = "text"  # prose: Pygments' own name for plain text
PROSE_SIGNALS = tuple(name for name in SIGNAL_KINDS if name != "in_comment")  # prose has no comments
LANGUAGE_HELP = (
    "give auto, text (prose) or a Pygments lexer name such as python, c, rust or html "
    "(`pygmentize -L lexers` lists them all)"
)

_GUESS_BYTES = 1 << 16  # how much of a text ``auto`` reads
_CODE_SYMBOLS = frozenset("{}[]<>=_*/\\#|&+^~@$%;`")  # rare in prose: under 0.1% of War and Peace
_PROSE_SYMBOL_SHARE = 0.01  # C has 5-15%, typical Python 2-12%
_LEXING_VERSION = 1  # part of the cache key: change it when the rules below change

# Token kinds: what a token is for the signals.
_CODE, _QUOTE, _OPAQUE, _LINE_COMMENT, _BLOCK_COMMENT, _DIRECTIVE = range(6)
_COMMENTS = (_LINE_COMMENT, _BLOCK_COMMENT)

_MIRROR = {"(": ")", "{": "}", "<": ">"}  # a block comment's first and last characters: /* */, (* *), {- -}

# Prose quotation marks: each match is one mark (or a paragraph break).
_PROSE_MARKS = re.compile(r"[\"“”„«»‘’']|\n[^\S\n]*\n")


@dataclass(frozen=True)
class Signal:
    """A per-byte reference signal: a name, a kind ("count" or "binary") and one value per byte."""

    name: str
    kind: str
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"signal {self.name!r} has kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if np.ndim(self.values) != 1:
            shape = np.shape(self.values)
            raise UserError(f"signal {self.name!r} needs one value per byte, not an array of shape {shape}")
        values = np.asarray(self.values)
        if self.kind == "binary" and values.dtype != bool and not np.isin(np.unique(values), (0, 1)).all():
            raise UserError(f"binary signal {self.name!r} holds values other than 0 and 1")


@dataclass(frozen=True)
class Syntax:
    """A text lexed in its language: where its quotes and comments are, and where brackets count."""

    data: np.ndarray  # uint8, the text
    language: str  # a Pygments lexer name, or "text" for prose
    in_quotes: np.ndarray  # bool per byte, after reading (opening quote on, closing quote off)
    in_comment: np.ndarray  # bool per byte, after reading (``*`` of ``/*`` on, ``/`` of ``*/`` off)
    code: np.ndarray  # bool per byte: outside every literal and comment, where delimiters count
    quote_pairs: np.ndarray  # (k, 2) offsets of the opening and closing ``"`` of each closed quotation

    @property
    def signal_names(self) -> tuple[str, ...]:
        """The reference signals that mean something in this language."""
        return PROSE_SIGNALS if self.language == TEXT else tuple(SIGNAL_KINDS)


def as_bytes(data: bytes | np.ndarray) -> np.ndarray:
    """A text as a uint8 array (accepts ``bytes`` or an array of byte values)."""
    if isinstance(data, (bytes, bytearray)):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    return np.asarray(data, dtype=np.uint8)


def signal_words(name: str) -> str:
    """A signal as a sentence names it, its code name first (tables show that): "brace_depth, the brace depth"; any
    other signal (the ground truth's, a user's) by its name alone."""
    return f"{name}, {SIGNAL_WORDS[name]}" if name in SIGNAL_WORDS else name


# -- Languages -----------------------------------------------------------------------------------


def language_name(language: str) -> str:
    """A resolved language as pages name it: ``prose``, or ``C code`` for the lexer ``c``."""
    return "prose" if language == TEXT else f"{_lexer(language).name} code"


@functools.cache
def _lexer(language: str) -> Lexer:
    """Pygments' lexer for a language name, or a one-line error that says how to find the names."""
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        names = [alias for _, aliases, _, _ in get_all_lexers() for alias in aliases]
        close = difflib.get_close_matches(language.lower(), names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown language {language!r}{hint}: {LANGUAGE_HELP}") from None


def _looks_like_prose(sample: str) -> bool:
    """Whether a text has almost none of the symbols code is full of."""
    return sum(c in _CODE_SYMBOLS for c in sample) < _PROSE_SYMBOL_SHARE * max(len(sample), 1)


def resolve_language(language: str, corpus: Corpus) -> str:
    """The lexer name the signals use for ``corpus``: ``language`` itself (checked), or for ``auto`` a guess.

    ``auto`` takes a registered corpus's own language (War and Peace is text, Linux is C), else the
    language of the file's name (``.py``, ``.c``), else ``text`` for a text with almost no code
    symbols, else the language Pygments is certain of from the first 64 KB (a shebang, a Python
    ``import``), else ``text``: Pygments' less certain guesses are mostly wrong (plain Python reads
    as SQL), so a file whose name does not tell its language needs ``language`` named.
    """
    if language != AUTO:
        return _lexer(language).aliases[0]
    known = KNOWN_CORPORA.get(corpus.name)
    if known is not None and corpus.path.name == known.filename:
        return known.language
    sample = corpus.data[:_GUESS_BYTES].tobytes().decode("utf-8", errors="replace")
    try:
        by_name = get_lexer_for_filename(corpus.path.name, sample).aliases[0]
    except ClassNotFound:
        by_name = TEXT
    if by_name != TEXT or _looks_like_prose(sample):
        return by_name
    try:
        guessed = guess_lexer(sample)
    except ClassNotFound:
        return TEXT
    return guessed.aliases[0] if type(guessed).analyse_text(sample) == 1.0 else TEXT


# -- Lexing --------------------------------------------------------------------------------------


@functools.cache
def _kind(token) -> int:
    """What a Pygments token type is for the signals."""
    if token in Comment.Preproc or token in Comment.PreprocFile:
        return _DIRECTIVE
    if token in String.Affix:
        return _CODE  # the L of L"x", the f of f"x": the literal opens at its quote
    if token in String.Char or token in String.Regex or token in String.Symbol:
        return _OPAQUE
    if token in String:
        return _QUOTE
    if token in Comment.Multiline:
        return _BLOCK_COMMENT
    if token in Comment:
        return _LINE_COMMENT
    return _CODE


def _runs(lexer: Lexer, text: str) -> list[tuple[int, int, int, object]]:
    """Maximal runs of tokens of one kind other than code: (kind, first character, end, last token type)."""
    runs = []
    kind, first, end, last, line_ended = _CODE, 0, 0, None, False
    for index, token, value in lexer.get_tokens_unprocessed(text):
        if not value:
            continue
        this = _kind(token)
        # One run per line comment and per directive, even where they follow each other.
        if (this != kind or index != end or (this == _LINE_COMMENT and line_ended)
                or (this == _DIRECTIVE and value[0] == "#")):
            if kind != _CODE:
                runs.append((kind, first, end, last))
            kind, first = this, index
        end, last, line_ended = index + len(value), token, value[-1] == "\n"
    if kind != _CODE:
        runs.append((kind, first, end, last))
    return runs


@functools.cache
def _reads_as_comment(language: str, prefix: str) -> bool:
    """Whether the lexer, given ``prefix`` alone on a line, already reads all of it as a comment."""
    _, token, value = next(iter(_lexer(language).get_tokens_unprocessed(prefix + "\n")))
    return _kind(token) in _COMMENTS and len(value) >= len(prefix)


def _opening_length(language: str, comment: str) -> int:
    """Characters of a comment's opening (``#`` 1, ``//`` 2): its shortest prefix (of up to 4) read as a comment."""
    return next((n for n in range(1, min(len(comment), 4) + 1) if _reads_as_comment(language, comment[:n])), 1)


def _lex_code(text: str, offsets: np.ndarray, language: str) -> tuple[list, list, list, list]:
    """Byte spans of quotes, comments and non-code, and the ``"`` pairs, from Pygments' tokens."""
    lexer = _lexer(language)
    quotes, comments, hidden, pairs = [], [], [], []
    runs = _runs(lexer, text)
    for first, end in [(first, end) for kind, first, end, _ in runs if kind == _DIRECTIVE]:
        # A directive's text again, after its #, as code: its strings and brackets count.
        skip = len(text[first:end]) - len(text[first:end].lstrip().removeprefix("#"))
        runs.extend((kind, a + first + skip, b + first + skip, last)
                    for kind, a, b, last in _runs(lexer, text[first + skip : end]) if kind != _DIRECTIVE)
    for kind, first, end, last in runs:
        if kind == _DIRECTIVE:
            continue
        start, stop = offsets[first], offsets[end]
        if kind == _LINE_COMMENT and text[end - 1] == "\n":
            stop = offsets[end - 1]  # the newline that ends a line comment is outside it
        hidden.append((start, stop))
        ends_text = end == len(text)  # then only its last character tells whether it is closed
        if kind == _QUOTE:
            closed = end - first > 1 and last not in String.Interpol and (not ends_text or text[end - 1] in "\"'`")
            quotes.append((offsets[first + 1] - 1, stop - 1 if closed else stop))  # off at the closing quote
            if closed and text[first] == '"' and text[end - 1] == '"':
                pairs.append((start, stop - 1))
        elif kind in _COMMENTS:
            opened = offsets[first + _opening_length(language, text[first : min(end, first + 4)])] - 1
            closing = _MIRROR.get(text[first], text[first])
            closed = kind == _BLOCK_COMMENT and (not ends_text or text[end - 1] == closing)
            comments.append((opened, stop - 1 if closed else stop))  # off at the closing */
    return quotes, comments, hidden, pairs


def _flanks(text: str, at: int) -> tuple[bool, bool]:
    """Whether a single quote at ``at`` can open (word follows, none precedes) and close (the reverse)."""
    before = text[at - 1] if at > 0 else " "
    after = text[at + 1] if at + 1 < len(text) else " "
    return not after.isspace() and not before.isalnum(), not before.isspace() and not after.isalnum()


def _lex_prose(text: str, offsets: np.ndarray) -> tuple[list, list]:
    """Byte spans inside quotations, and the ``"`` pairs, by the prose rules of the module docstring."""
    spans, pairs = [], []
    double, curly, low, angle, single = None, 0, 0, 0, 0  # open ``"`` (its offset), nesting of “ ”, „ “, « », ‘ ’/'
    opened = None  # byte where the current run of open quotations began
    for mark in _PROSE_MARKS.finditer(text):
        at, character = mark.start(), mark.group()[0]
        last_byte = offsets[mark.end()] - 1
        if character == "\n":
            double, curly, low, angle, single = None, 0, 0, 0, 0
        elif character == '"':
            if double is None:
                double = offsets[at]
            else:
                pairs.append((double, offsets[at]))
                double = None
        elif character == "„":
            low += 1
        elif character == "“" and low:
            low -= 1
        elif character in "“”":
            curly = curly + 1 if character == "“" else max(curly - 1, 0)
        elif character in "«»":
            angle = angle + 1 if character == "«" else max(angle - 1, 0)
        else:  # ‘ opens; ’ closes or is an apostrophe; ' is either, by what flanks it
            can_open, can_close = _flanks(text, at)
            if character == "‘" or (character == "'" and can_open and not (can_close and single)):
                single += 1
            elif can_close:
                single = max(single - 1, 0)
        inside = double is not None or curly > 0 or low > 0 or angle > 0 or single > 0
        if inside and opened is None:
            opened = last_byte
        elif not inside and opened is not None:
            spans.append((opened, last_byte))
            opened = None
    if opened is not None:
        spans.append((opened, offsets[-1]))
    return spans, pairs


def _mask(spans: list[tuple[int, int]], n: int) -> np.ndarray:
    """Bytes covered by any ``[start, stop)`` span."""
    steps = np.zeros(n + 1, np.int32)
    starts, stops = np.array(spans, np.int64).reshape(-1, 2).T
    kept = starts < stops
    np.add.at(steps, starts[kept], 1)
    np.add.at(steps, stops[kept], -1)
    return np.cumsum(steps[:n]) > 0


def _lex(data: np.ndarray, language: str) -> Syntax:
    text, offsets = decode_utf8(data)
    n = len(data)
    if language == TEXT:
        quotes, pairs = _lex_prose(text, offsets)
        comments, hidden = [], []
    else:
        quotes, comments, hidden, pairs = _lex_code(text, offsets, language)
    return Syntax(data, language, _mask(quotes, n), _mask(comments, n), ~_mask(hidden, n),
                  np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2))


def lex(data: bytes | np.ndarray, language: str, cache: Path | None = None) -> Syntax:
    """Lex ``data`` once in ``language`` (a Pygments lexer name, or ``text`` for prose).

    With ``cache`` (a folder), the result is kept there under the text's sha256, the language and
    the lexer's version, so a corpus is lexed once (the Linux corpus takes seconds).
    """
    data = as_bytes(data)
    language = _lexer(language).aliases[0]
    if cache is None:
        return _lex(data, language)
    key = config_hash({"sha256": hashlib.sha256(data.tobytes()).hexdigest(), "language": language,
                       "pygments": pygments.__version__, "rules": _LEXING_VERSION})

    def build(path: Path) -> None:
        syntax = _lex(data, language)
        atomic_save_npz(path, quote_pairs=syntax.quote_pairs,
                        **{name: np.packbits(getattr(syntax, name)) for name in ("in_quotes", "in_comment", "code")})

    def load(path: Path) -> Syntax:
        with np.load(path) as stored:
            masks = {name: np.unpackbits(stored[name], count=len(data)).astype(bool)
                     for name in ("in_quotes", "in_comment", "code")}
            return Syntax(data, language, **masks, quote_pairs=stored["quote_pairs"])

    return cached(Path(cache) / f"{key}.npz", build, load)


# -- Signals -------------------------------------------------------------------------------------


def position_in_line(data: bytes | np.ndarray) -> np.ndarray:
    """Bytes read since the last newline (0 at the newline itself): the paper's line-length cell."""
    data = as_bytes(data)
    index = np.arange(len(data))
    last_newline = np.maximum.accumulate(np.where(data == ord("\n"), index, -1))
    return (index - last_newline).astype(np.int32)


def nesting_depth(
    data: bytes | np.ndarray, opener: bytes, closer: bytes, counted: np.ndarray | None = None
) -> np.ndarray:
    """Depth of ``opener``/``closer`` nesting after each byte; ``counted`` masks the delimiters that count.

    A closer with nothing open is ignored (the depth never goes below 0), so a text that
    starts inside a block, or a stray closer, does not shift the rest of the text.
    """
    data = as_bytes(data)
    counted = np.ones(len(data), bool) if counted is None else counted
    steps = ((data == ord(opener)) & counted).astype(np.int64) - ((data == ord(closer)) & counted)
    raw = np.cumsum(steps)
    # Clamping a walk at 0 subtracts the lowest point it has reached below 0.
    return (raw - np.minimum(np.minimum.accumulate(raw), 0)).astype(np.int32)


def indentation(data: bytes | np.ndarray, tab_width: int = 8) -> np.ndarray:
    """Columns of leading whitespace of the current line read so far (a tab counts ``tab_width``).

    Inside the leading run it counts up byte by byte; from the first other byte to the end of
    the line it holds the line's indentation; a newline starts again at 0.
    """
    data = as_bytes(data)
    index = np.arange(len(data))
    width = np.where(data == ord(" "), 1, np.where(data == ord("\t"), tab_width, 0))
    last_other = np.maximum.accumulate(np.where(width == 0, index, -1))
    leading = (last_other < 0) | (data[np.maximum(last_other, 0)] == ord("\n"))
    total = np.cumsum(np.where(leading, width, 0))
    line_start = np.maximum.accumulate(np.where(data == ord("\n"), index, -1))
    return (total - np.where(line_start >= 0, total[np.maximum(line_start, 0)], 0)).astype(np.int32)


def reference_signals(syntax: Syntax, names: list[str] | None = None, tab_width: int = 8) -> dict[str, Signal]:
    """The named reference signals of a lexed text (all that its language has, or ``names``)."""
    names = list(syntax.signal_names) if names is None else names
    unknown = [name for name in names if name not in syntax.signal_names]
    if unknown:
        raise UserError(f"no signals {unknown} for language {syntax.language!r}: choose from "
                        f"{', '.join(syntax.signal_names)}")
    data = syntax.data
    compute = {
        "line_position": lambda: position_in_line(data),
        "in_quotes": lambda: syntax.in_quotes,
        "in_comment": lambda: syntax.in_comment,
        "paren_depth": lambda: nesting_depth(data, b"(", b")", syntax.code),
        "bracket_depth": lambda: nesting_depth(data, b"[", b"]", syntax.code),
        "brace_depth": lambda: nesting_depth(data, b"{", b"}", syntax.code),
        "indentation": lambda: indentation(data, tab_width),
    }
    return {name: Signal(name, SIGNAL_KINDS[name], compute[name]()) for name in names}


def varying(signals: dict[str, Signal], positions: np.ndarray) -> dict[str, Signal]:
    """The signals that change somewhere at ``positions``: one that never changes there ranks nothing."""
    at = {name: np.asarray(signal.values)[np.asarray(positions)] for name, signal in signals.items()}
    return {name: signal for name, signal in signals.items() if at[name].min() != at[name].max()}
