"""Signals in the corpus's own language: Pygments' lexers for code, prose rules for text, and the language
resolved once from a name, a file name or the text itself."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lit_rnn.analysis.longrange import bracket_pairs
from lit_rnn.analysis.signals import SIGNAL_KINDS, lex, reference_signals, resolve_language
from lit_rnn.data import Corpus, load_corpus
from lit_rnn.errors import UserError
from lit_rnn.settings import Settings
from lit_rnn.study import Study


def signal(text: str | bytes, name: str, language: str) -> list[int]:
    text = text.encode() if isinstance(text, str) else text
    return reference_signals(lex(text, language), [name])[name].values.astype(int).tolist()


def marks(pattern: str) -> list[int]:
    """'..11.' -> [0, 0, 1, 1, 0]: expected values written under the text, one mark per byte."""
    return [int(c) if c.isdigit() else 0 for c in pattern]


# -- Code, by Pygments ---------------------------------------------------------------------------


def test_python_comments_open_at_the_hash_and_end_at_the_newline():
    text = "x = 1  # a (note)\ny"
    assert signal(text, "in_comment", "python") == marks(".......1111111111..")
    assert signal(text, "paren_depth", "python") == [0] * len(text)


def test_python_strings_triple_quoted_prefixed_and_interpolated():
    text = 'a = """x\n(y"""; b = f"{c(d)}e"'
    assert signal(text, "in_quotes", "python") == marks("....111111111........11....11.")
    assert signal(text, "paren_depth", "python") == marks("........................11....")


def test_every_byte_of_a_multi_byte_character_in_a_literal_or_comment_is_inside():
    text = 's = "é" # ü'  # é and ü are two bytes each
    assert signal(text, "in_quotes", "python") == marks("....111......")
    assert signal(text, "in_comment", "python") == marks(".........1111")


def test_preprocessor_directives_are_code_whose_strings_count():
    text = b'#define A "a(b"\n#include "x.h"\nf(A);'
    syntax = lex(text, "c")
    assert syntax.in_quotes.astype(int).tolist() == marks("..........1111...........1111.......")
    assert not syntax.in_comment.any()
    assert signal(text, "paren_depth", "c") == marks("................................11..")
    assert bracket_pairs(syntax, b'"').tolist() == [[10, 14], [25, 29]]


def test_successive_line_comments_each_open_and_end():
    text = "// a\n// b\nx"
    assert signal(text, "in_comment", "c") == marks(".111..111..")


def test_language_names_are_pygments_lexers_and_unknown_ones_say_where_to_look():
    assert lex(b"x", "Py").language == "python"
    with pytest.raises(UserError, match=r"unknown language 'pyhton' \(did you mean python.*pygmentize -L lexers"):
        lex(b"x", "pyhton")


# -- Prose ---------------------------------------------------------------------------------------


def test_prose_quotes_ascii_and_typographic_at_the_last_byte_of_each_mark():
    text = 'a "b" «c» “d”'  # «, », “ and ” are two or three bytes: inside from the last byte of the opener
    assert signal(text, "in_quotes", "text") == marks("..11...111....1111.")
    assert signal("„e“ f", "in_quotes", "text") == marks("..1111...")  # German: „ opens, “ closes


def test_apostrophes_are_not_quotes_and_single_quotes_nest_in_double_ones():
    text = "\"I don't say 'no'\" ok ’tis"
    assert signal(text, "in_quotes", "text") == marks("1" * 17 + "." * 11)  # ’ before a word is an apostrophe


def test_a_blank_line_ends_every_quotation_and_prose_brackets_count_inside_quotes():
    text = '"one (two\n\nthree) "four"'
    assert signal(text, "in_quotes", "text") == marks("1111111111........11111.")
    assert signal(text, "paren_depth", "text") == marks(".....11111111111........")
    assert bracket_pairs(lex(text.encode(), "text"), b'"').tolist() == [[18, 23]]


def test_prose_has_no_comment_signal():
    assert "in_comment" not in reference_signals(lex(b"a /* b */", "text"))
    with pytest.raises(UserError, match="no signals \\['in_comment'\\] for language 'text'"):
        reference_signals(lex(b"a", "text"), ["in_comment"])


# -- The language, resolved once -----------------------------------------------------------------


def test_auto_uses_a_registered_corpus_language_then_the_file_name_then_the_text(tmp_path, reference_data_dir):
    assert resolve_language("auto", load_corpus("warpeace", reference_data_dir)) == "text"
    assert resolve_language("auto", load_corpus("linux", reference_data_dir)) == "c"
    source = b"import os\n\n\ndef f(x):\n    return {'a': [x * 2]}  # twice\n" * 50
    prose = "«Ну, что, князь?» — сказала Анна Павловна. Ἐν ἀρχῇ ἦν ὁ λόγος.\n".encode() * 50
    unsure = b"int f(void) { return g(x[1], y); }\n" * 50  # C that Pygments cannot tell: read as text
    for name, data, expected in (("a.py", b"x = 1\n", "python"), ("code.txt", source, "python"),
                                 ("prose.txt", prose, "text"), ("notes", prose, "text"), ("f.txt", unsure, "text"),
                                 ("f.c", unsure, "c")):
        assert resolve_language("auto", Corpus(name, tmp_path / name, np.frombuffer(data, np.uint8))) == expected
    assert resolve_language("C", load_corpus("warpeace", reference_data_dir)) == "c"


def test_settings_resolve_the_language_once(reference_data_dir):
    settings = Settings.resolve(corpus="linux", preset="tiny", data_dir=str(reference_data_dir))
    assert settings.language == "c"
    with pytest.raises(UserError, match="unknown language 'klingon'.*pygmentize -L lexers"):
        Settings.resolve(corpus="linux", preset="tiny", data_dir=str(reference_data_dir), language="klingon")


# -- The cache -----------------------------------------------------------------------------------


def test_a_lexed_corpus_is_cached_by_content_and_language(tmp_path):
    text = b'int f(void) { return g("x", 1); } /* done */\n' * 20
    fresh = lex(text, "c", cache=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1 and not list(tmp_path.glob(".*"))
    cached = lex(text, "c", cache=tmp_path)
    for name in ("in_quotes", "in_comment", "code", "quote_pairs"):
        assert np.array_equal(getattr(cached, name), getattr(fresh, name)), name
    lex(text, "cpp", cache=tmp_path)
    lex(text + b"x", "c", cache=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 3


# -- Linux: the same signals as the hand-written C rules they replace -----------------------------

# The C rules the signals used before Pygments, kept here as the reference they are compared with.
_C_RULES = re.compile(
    rb"(?P<block>/\*.*?(?:\*/|\Z))|(?P<line>//[^\n]*)"
    rb'|(?P<string>"(?:\\.|[^"\\])*(?:"|\Z))|(?P<char>\'(?:\\.[^\'\n]{0,8}|[^\'\\\n])\')',
    re.DOTALL,
)


def c_rules(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, set]:
    """In-string, in-comment and code masks and the quote pairs, by the hand-written C rules."""
    n = len(data)
    in_string, in_comment, hidden = (np.zeros(n + 1, np.int32) for _ in range(3))
    pairs = set()
    for match in _C_RULES.finditer(data.tobytes()):
        start, stop = match.span()
        hidden[start] += 1
        hidden[stop] -= 1
        if match.lastgroup == "string":
            closed = stop - start >= 2 and data[stop - 1] == ord('"')
            in_string[start] += 1
            in_string[stop - closed] -= 1
            if closed:
                pairs.add((start, stop - 1))
        elif match.lastgroup in ("block", "line"):
            closed = match.lastgroup == "block" and data[stop - 2 : stop].tobytes() == b"*/"
            in_comment[start + 1] += 1
            in_comment[stop - closed] -= 1
    return np.cumsum(in_string[:n]) > 0, np.cumsum(in_comment[:n]) > 0, np.cumsum(hidden[:n]) == 0, pairs


def disabled_blocks(data: np.ndarray) -> list[tuple[int, int]]:
    """Byte spans of the blocks of code disabled by ``#if 0``, from that line to its ``#endif``/``#else``."""
    blocks, start, depth, offset = [], None, 0, 0
    for line in data.tobytes().splitlines(keepends=True):
        directive = line.lstrip()
        if start is None and re.match(rb"#if\s+0", directive):
            start = offset
        if start is not None:
            if directive.startswith(b"#if"):
                depth += 1
            elif directive.startswith(b"#endif"):
                depth -= 1
            elif depth == 1 and directive.startswith(b"#el"):
                depth = 0
            if depth == 0:
                blocks.append((start, offset + len(line)))
                start = None
        offset += len(line)
    return blocks


@pytest.mark.slow
def test_linux_signals_match_the_hand_written_c_rules_outside_if_0_blocks(reference_data_dir):
    """Pygments reads code disabled by ``#if 0`` as a comment; everywhere else the masks are equal."""
    data = load_corpus("linux", reference_data_dir).data
    syntax = lex(data, "c")
    in_string, in_comment, code, pairs = c_rules(data)
    blocks = disabled_blocks(data)
    assert (len(blocks), sum(stop - start for start, stop in blocks)) == (20, 4285)  # as signals' docstring says
    disabled = np.zeros(len(data), bool)
    for start, stop in blocks:
        disabled[start:stop] = True
    for name, ours, theirs in (("in_quotes", syntax.in_quotes, in_string), ("in_comment", syntax.in_comment,
                                                                            in_comment), ("code", syntax.code, code)):
        differ = ours != theirs
        assert differ.any() and not (differ & ~disabled).any(), name  # they differ, and only in those blocks
    for delimiter in b"()[]{}":  # so the depths differ only after a bracket counted in one and not the other
        counted_here, counted_before = (data == delimiter) & syntax.code, (data == delimiter) & code
        assert np.array_equal(counted_here[~disabled], counted_before[~disabled]), chr(delimiter)
    ours_pairs = {tuple(pair) for pair in syntax.quote_pairs.tolist()}
    assert {p for p in ours_pairs ^ pairs if not disabled[p[0]]} == set()


def test_a_study_reads_the_signals_of_its_corpus_language_from_the_store(tmp_path):
    source = tmp_path / "tool.py"
    source.write_bytes(b'def f(x):\n    """Twice x."""\n    return [x, (x)]  # both\n' * 400)
    study = Study.open(corpus=str(source), preset="tiny", artifacts=str(tmp_path / "artifacts"))
    assert study.settings.language == "python"
    signals = study.signals()
    assert set(signals) == set(SIGNAL_KINDS)
    assert signals["in_comment"].values.any() and signals["in_quotes"].values.any()
    assert len(list((tmp_path / "artifacts" / "syntax").glob("*.npz"))) == 1
