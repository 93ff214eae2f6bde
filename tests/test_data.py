import hashlib
import tarfile

import numpy as np
import pytest

from lit_rnn.cli import main
from lit_rnn.data import KNOWN_CORPORA, Batcher, Corpus, load_corpus
from lit_rnn.errors import UserError
from lit_rnn.obtain import build_linux_corpus, char_rnn_war_and_peace


def test_reference_corpora_sizes_and_vocabularies(reference_data_dir):
    warpeace = load_corpus("warpeace", reference_data_dir)
    linux = load_corpus("linux", reference_data_dir)
    assert (len(warpeace), warpeace.vocab_size) == (3_258_246, 87)
    assert (len(linux), linux.vocab_size) == (6_206_996, 110)
    assert warpeace.sha256 == KNOWN_CORPORA["warpeace"].sha256
    assert linux.sha256 == KNOWN_CORPORA["linux"].sha256


def test_war_and_peace_split_is_char_rnns(warpeace):
    batcher = warpeace.batcher(100, 100)
    assert (batcher.n_batches, batcher.n_train, batcher.n_val, batcher.n_test) == (325, 260, 32, 33)
    assert [batcher.split_bytes(s) for s in ("train", "val", "test")] == [2_600_000, 320_000, 330_000]
    test_positions = batcher.positions("test")
    assert test_positions.shape == (100, 3300)
    # 100 segments spread through the book, one per row, each at the row's end.
    assert np.all(np.diff(test_positions[:, 0]) == 32_500)
    assert test_positions[0, 0] == 292 * 100


def _counting_corpus(n: int, vocab: int = 50) -> Corpus:
    return Corpus("counting", None, (np.arange(n) % vocab + 40).astype(np.uint8))


def test_batcher_rows_and_shift_by_one():
    corpus = _counting_corpus(10 * 4 * 5 + 7)  # 10 batches of 4 rows x 5 steps, 7 bytes trimmed
    batcher = corpus.batcher(batch_size=4, seq_length=5)
    inputs, targets = batcher.batch(3)
    assert inputs.shape == (4, 5)
    row_length = batcher.row_length
    for row in range(4):
        start = row * row_length + 3 * 5
        np.testing.assert_array_equal(inputs[row], corpus.ids[start : start + 5])
        np.testing.assert_array_equal(targets[row], corpus.ids[start + 1 : start + 6])
    # The last target is the first trimmed byte, not a wrap-around.
    assert batcher.grid[1][-1, -1] == corpus.ids[4 * row_length]


def test_batches_iterate_in_order_from_a_resume_point():
    batcher = _counting_corpus(20 * 2 * 3).batcher(2, 3)
    all_train = list(batcher.batches("train"))
    assert len(all_train) == 16
    resumed = list(batcher.batches("train", start=5))
    np.testing.assert_array_equal(resumed[0][0], all_train[5][0])


def test_positions_restore_text_order():
    corpus = _counting_corpus(10 * 3 * 4 + 1, vocab=256 - 40)  # one byte follows the last input
    batcher = corpus.batcher(3, 4)
    for split in ("train", "val", "test"):
        positions = batcher.positions(split).ravel()
        assert np.all(np.diff(positions) > 0)
        np.testing.assert_array_equal(batcher.split_inputs(split).ravel(), corpus.ids[positions])
        np.testing.assert_array_equal(batcher.split_targets(split).ravel(), corpus.ids[positions + 1])


def test_vocabulary_is_the_sorted_bytes_of_the_whole_file():
    corpus = Corpus("x", None, np.frombuffer(b"banana\r\n", dtype=np.uint8))
    assert corpus.vocab.tolist() == sorted(set(b"banana\r\n"))
    assert corpus.decode(corpus.ids) == b"banana\r\n"
    with pytest.raises(UserError, match="not in the vocabulary"):
        corpus.encode(b"z")


def _write_tree(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def test_linux_recipe_on_a_synthetic_tree(tmp_path):
    tree = tmp_path / "linux-x"
    files = {f"dir{i % 3}/file{i}.{'c' if i % 2 else 'h'}": f"/* file {i} */\n".encode() * (i + 1) for i in range(12)}
    files["Makefile"] = b"not C\n"
    files["doc/readme.txt"] = b"not C either\n"
    _write_tree(tree, files)
    (tree / "dir0" / "link.h").symlink_to("file0.h")  # a link to a regular file counts, as is_file() says

    corpus = build_linux_corpus(tree, n_bytes=500, seed=1506)
    # The recipe written out: sort, shuffle with the seed, concatenate whole files, cut.
    import random

    paths = sorted([name for name in files if name.endswith((".c", ".h"))] + ["dir0/link.h"])
    random.Random(1506).shuffle(paths)
    contents = {**files, "dir0/link.h": files["dir0/file0.h"]}
    expected = b"".join(contents[p] for p in paths)[:500]
    assert corpus == expected

    tarball = tmp_path / "linux-x.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(tree, arcname="linux-x")
    assert build_linux_corpus(tarball, n_bytes=500, seed=1506) == expected


def test_linux_recipe_needs_enough_source(tmp_path):
    _write_tree(tmp_path, {"a.c": b"int x;\n"})
    with pytest.raises(UserError, match="only 7 bytes"):
        build_linux_corpus(tmp_path, n_bytes=100)


def test_war_and_peace_from_gutenberg_form():
    gutenberg = (
        "\ufeffThe Project Gutenberg eBook of War and Peace\r\n\r\n*** START OF THE PROJECT ***\r\n"
        'BOOK ONE\r\n\r\n"Well, Prince, so Genoa and Lucca are now\r\njust family estates.\r\n'
        "...of which we are not\r\nconscious.\r\n\r\n*** END OF THE PROJECT ***\r\nlicence\r\n"
    ).encode()
    text = char_rnn_war_and_peace(gutenberg)
    assert text.startswith(b'\xef\xbb\xbf"Well, Prince')
    assert text.endswith(b"not\r\nconscious.")
    assert b"\n" not in text.replace(b"\r\n", b"")
    with pytest.raises(UserError):
        char_rnn_war_and_peace(b"some other book")


@pytest.mark.parametrize(
    "argument, message",
    [
        ("nosuchcorpus", "unknown corpus 'nosuchcorpus': known corpora are warpeace, linux"),
        ("missing/file.txt", "not found: searched"),
    ],
)
def test_bad_corpus_names_give_one_line_errors(argument, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LIT_RNN_DATA", str(tmp_path))
    assert main(["data", "info", argument]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_empty_small_and_directory_inputs(capsys, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 5000)
    for path, message in [(empty, "is empty"), (small, "at least 100,000 bytes"), (tmp_path, "is a directory")]:
        assert main(["data", "info", str(path)]) == 2
        assert message in capsys.readouterr().err


def test_data_info_prints_size_vocab_split_and_hash(tmp_path, capsys):
    text = bytes(range(32, 127)) * 2000
    path = tmp_path / "mine.txt"
    path.write_bytes(text)
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "190,000 bytes" in out and "95 distinct bytes" in out
    assert hashlib.sha256(text).hexdigest() in out
    assert "test        3 batches, 30,000 bytes" in out


def test_batcher_rejects_too_small_corpus_with_minimum():
    with pytest.raises(UserError, match="at least 1,000 bytes"):
        Batcher(_counting_corpus(999), batch_size=10, seq_length=10)
