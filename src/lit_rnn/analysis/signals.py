"""Reference signals over a text, one value per byte, for finding cells that track them.

The paper shows cells that count the position in a line, turn on inside quotes and comments,
and follow the nesting depth and the indentation of code. Each signal here is a per-byte array
aligned with the text, computed over the *whole* corpus (so a comment opened before a split's
segment still counts) and indexed by a trace's positions afterwards.

Convention: a signal's value at byte ``p`` is the state *after reading* byte ``p``, the same
moment a trace records the cell that has just consumed that byte. So an opening ``"``, ``(`` or
the ``*`` of ``/*`` is already inside; a closing ``"``, ``)`` or the ``/`` of ``*/`` is already
outside; a newline is at position 0 of the new line.

Quotes, comments and nesting come from one lexical pass with C's rules (one regular expression
over the bytes): comments (``/* */``, ``//`` to the end of the line) hide quotes and delimiters;
string literals hide comment markers and delimiters, and ``\\"`` does not close them; character
literals (``'"'``, ``'{'``) are opaque. Strings may span lines, so dialogue in prose, where a
quotation often runs over several lines, reads as a string as well.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from lit_rnn.errors import UserError

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

# The leftmost token wins, which is C's lexer: a comment swallows quotes, a string swallows
# comment markers. A character literal is one byte or one escape ('a', '\n', '\x1b') between
# apostrophes, so an apostrophe in prose (don't) does not start one.
_C_TOKENS = re.compile(
    rb"(?P<block>/\*.*?(?:\*/|\Z))"
    rb"|(?P<line>//[^\n]*)"
    rb'|(?P<string>"(?:\\.|[^"\\])*(?:"|\Z))'
    rb"|(?P<char>'(?:\\.[^'\n]{0,8}|[^'\\\n])')",
    re.DOTALL,
)


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
class CSyntax:
    """Where a text's string literals and comments are, by C's lexical rules."""

    in_string: np.ndarray  # bool per byte, after reading (opening quote on, closing quote off)
    in_comment: np.ndarray  # bool per byte, after reading (``*`` of ``/*`` on, ``/`` of ``*/`` off)
    code: np.ndarray  # bool per byte: outside every literal and comment, where delimiters count
    quote_pairs: np.ndarray  # (k, 2) offsets of the opening and closing quote of each closed string


def as_bytes(data: bytes | np.ndarray) -> np.ndarray:
    """A text as a uint8 array (accepts ``bytes`` or an array of byte values)."""
    if isinstance(data, (bytes, bytearray)):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    return np.asarray(data, dtype=np.uint8)


def c_syntax(data: bytes | np.ndarray) -> CSyntax:
    """Lex ``data`` once with C's rules for strings, character literals and comments."""
    data = as_bytes(data)
    n = len(data)
    in_string, in_comment = np.zeros(n + 1, np.int32), np.zeros(n + 1, np.int32)
    hidden = np.zeros(n + 1, np.int32)
    pairs = []
    for match in _C_TOKENS.finditer(data.tobytes()):
        start, stop = match.span()
        hidden[start] += 1
        hidden[stop] -= 1
        kind = match.lastgroup
        if kind == "string":
            closed = bool(stop - start >= 2 and data[stop - 1] == ord('"'))
            in_string[start] += 1
            in_string[stop - closed] -= 1
            if closed:
                pairs.append((start, stop - 1))
        elif kind == "block":
            closed = bool(stop - start >= 4 and data[stop - 2 : stop].tobytes() == b"*/")
            in_comment[start + 1] += 1
            in_comment[stop - closed] -= 1
        elif kind == "line":
            in_comment[start + 1] += 1
            in_comment[stop] -= 1
    return CSyntax(
        in_string=np.cumsum(in_string[:n]) > 0,
        in_comment=np.cumsum(in_comment[:n]) > 0,
        code=np.cumsum(hidden[:n]) == 0,
        quote_pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
    )


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


def reference_signals(
    data: bytes | np.ndarray, names: list[str] | None = None, tab_width: int = 8
) -> dict[str, Signal]:
    """The named reference signals of ``SIGNAL_KINDS`` (all, or ``names``) over ``data``."""
    names = list(SIGNAL_KINDS) if names is None else names
    unknown = [name for name in names if name not in SIGNAL_KINDS]
    if unknown:
        raise UserError(f"unknown signals {unknown}: choose from {', '.join(SIGNAL_KINDS)}")
    data = as_bytes(data)
    syntax = functools.cache(lambda: c_syntax(data))  # one lexical pass, only if a signal needs it
    compute = {
        "line_position": lambda: position_in_line(data),
        "in_quotes": lambda: syntax().in_string,
        "in_comment": lambda: syntax().in_comment,
        "paren_depth": lambda: nesting_depth(data, b"(", b")", syntax().code),
        "bracket_depth": lambda: nesting_depth(data, b"[", b"]", syntax().code),
        "brace_depth": lambda: nesting_depth(data, b"{", b"}", syntax().code),
        "indentation": lambda: indentation(data, tab_width),
    }
    return {name: Signal(name, SIGNAL_KINDS[name], compute[name]()) for name in names}


def varying(signals: dict[str, Signal], positions: np.ndarray) -> dict[str, Signal]:
    """The signals that change somewhere at ``positions``: one that never changes there ranks nothing."""
    at = {name: np.asarray(signal.values)[np.asarray(positions)] for name, signal in signals.items()}
    return {name: signal for name, signal in signals.items() if at[name].min() != at[name].max()}
