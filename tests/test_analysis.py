"""Reference signals, cell ranking, gate saturation and long-range comparisons on hand-made data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lit_rnn.analysis.cells import (
    BeyondHorizon,
    beyond_horizon,
    cell_claims,
    cell_window,
    depth_in_span,
    held_out,
    rank_cells,
    shared_leaders,
    span_mask,
    span_query,
    top_cells,
)
from lit_rnn.analysis.gates import gate_saturation, gru_first_layer_claim, lstm_gate_claims, saturated_cells
from lit_rnn.analysis.longrange import (
    bracket_pairs,
    byte_advantage,
    closer_probability_by_distance,
    delta_loss,
    error_overlap,
    per_byte_probability,
    symmetric_kl,
    training_dynamics,
)
from lit_rnn.analysis.signals import Signal, indentation, lex, reference_signals
from lit_rnn.errors import UserError
from lit_rnn.predictions import Predictions


def signal(text: bytes, name: str, language: str = "c", **options) -> list[int]:
    return reference_signals(lex(text, language), [name], **options)[name].values.astype(int).tolist()


def marks(pattern: str) -> list[int]:
    """'..11.' -> [0, 0, 1, 1, 0]: expected values written under the text."""
    return [int(c) if c.isdigit() else 0 for c in pattern]


# -- Reference signals -------------------------------------------------------------------------


def test_position_in_line_counts_bytes_since_newline():
    assert signal(b"ab\ncde\n\nf", "line_position") == [1, 2, 0, 1, 2, 3, 0, 0, 1]


def test_quotes_turn_on_at_the_opening_quote_and_off_at_the_closing_one():
    text = b'x = "a\\"b" + y;'
    assert signal(text, "in_quotes") == marks('....11111......')


def test_quotes_inside_comments_and_character_literals_do_not_count():
    text = b"/* \"no */ c = '\"'; s = \"ok\";"
    assert signal(text, "in_quotes") == marks('.......................111..')
    assert signal(text, "in_comment") == marks(".1111111....................")


def test_comment_markers_inside_strings_do_not_open_comments():
    text = b'"/* x */ // y" z'
    assert signal(text, "in_comment") == [0] * len(text)
    assert signal(text, "in_quotes") == marks("1111111111111...")


def test_line_comments_end_at_the_newline_and_hide_quotes():
    text = b'a // b "c\nd "e"'
    assert signal(text, "in_comment") == marks("...111111......")
    assert signal(text, "in_quotes") == marks("............11.")


def test_unterminated_comment_and_string_run_to_the_end():
    assert signal(b"x /* y", "in_comment") == marks("...111")
    assert signal(b'x "y', "in_quotes") == marks("..11")


def test_brace_depth_follows_nesting_and_ignores_stray_closers():
    assert signal(b"{a{b}c}}{", "brace_depth") == [1, 1, 2, 2, 1, 1, 0, 0, 1]


def test_delimiters_in_strings_comments_and_char_literals_do_not_count():
    text = b"{\"}\"/*}*/'}'(x[1])}"
    assert signal(text, "brace_depth") == [1] * (len(text) - 1) + [0]
    assert signal(text, "paren_depth") == marks("............11111..")
    assert signal(text, "bracket_depth") == marks("..............11...")


def test_indentation_counts_leading_whitespace_with_tab_width():
    text = b"\tif\n    x;\n  \ty\n"
    expected = [4, 4, 4, 0, 1, 2, 3, 4, 4, 4, 0, 1, 2, 6, 6, 0]
    assert signal(text, "indentation", tab_width=4) == expected
    assert indentation(b"\tz", tab_width=8).tolist() == [8, 8]


def test_quote_pairs_are_the_closed_string_literals():
    assert lex(b'a "b" /* " */ "c\\"d" "e', "c").quote_pairs.tolist() == [[2, 4], [14, 19]]


def test_signal_validation():
    with pytest.raises(UserError):
        Signal("bad", "binary", np.array([0, 1, 2]))
    with pytest.raises(UserError):
        Signal("bad", "fuzzy", np.array([0, 1]))
    with pytest.raises(UserError):
        reference_signals(lex(b"abc", "c"), ["no_such_signal"])


# -- Cells -------------------------------------------------------------------------------------


def c_like_text(rng: np.random.Generator, n_blocks: int = 300) -> bytes:
    pieces = []
    for _ in range(n_blocks):
        depth = int(rng.integers(0, 4))
        body = b"".join(b"\t" * (d + 1) + b"if (x) {\n" for d in range(depth))
        body += b"\t" * (depth + 1) + b'printk("%d", a[i]); /* note */\n'
        body += b"".join(b"\t" * (d + 1) + b"}\n" for d in reversed(range(depth)))
        pieces.append(b"int f(void)\n{\n" + body + b"}\n")
    return b"".join(pieces)


@pytest.fixture(scope="module")
def synthetic():
    """A C-like text, its signals, and a trace whose planted cells copy three signals."""
    rng = np.random.default_rng(0)
    text = c_like_text(rng)
    signals = reference_signals(lex(text, "c"))
    positions = np.arange(50, len(text))
    n = len(positions)
    c = rng.standard_normal((n, 8)).astype(np.float16)
    c[:, 3] = signals["brace_depth"].values[positions] + 0.3 * rng.standard_normal(n)
    c[:, 5] = signals["in_comment"].values[positions] + 0.3 * rng.standard_normal(n)
    h = rng.standard_normal((n, 4)).astype(np.float16)
    h[:, 0] = -signals["line_position"].values[positions] / 30 + 0.1 * rng.standard_normal(n)
    trace = {0: {"c": c, "h": rng.standard_normal((n, 8)).astype(np.float16)}, 1: {"c": c[:, :4] * 0, "h": h}}
    return text, signals, positions, trace


def test_a_cell_built_to_follow_a_signal_ranks_first(synthetic):
    _, signals, positions, trace = synthetic
    table = rank_cells(trace, signals.values(), positions)
    best = table.groupby("signal", sort=False).head(1).set_index("signal")
    assert tuple(best.loc["brace_depth", ["layer", "quantity", "cell", "direction"]]) == (0, "c", 3, 1)
    assert tuple(best.loc["in_comment", ["layer", "quantity", "cell", "direction"]]) == (0, "c", 5, 1)
    assert tuple(best.loc["line_position", ["layer", "quantity", "cell", "direction"]]) == (1, "h", 0, -1)
    assert best.loc["brace_depth", "score"] > 0.9 and best.loc["in_comment", "score"] > 0.9
    assert list(table["signal"].unique()) == list(signals)
    assert len(table) == len(signals) * (8 + 8 + 4 + 4)


def test_constant_cells_and_signals_score_chance_without_nans():
    rng = np.random.default_rng(1)
    trace = {0: {"h": np.column_stack([np.full(100, 0.5), rng.random(100)]).astype(np.float32)}}
    signals = [
        Signal("flat_count", "count", np.full(100, 3)),
        Signal("flat_binary", "binary", np.zeros(100, bool)),
        Signal("half", "binary", np.arange(100) < 50),
    ]
    table = rank_cells(trace, signals, quantities=("h",))
    assert not table["score"].isna().any()
    constant_cell = table[table["cell"] == 0].set_index("signal")
    assert constant_cell["score"].tolist() == [0.0, 0.5, 0.5]
    assert (constant_cell["direction"] == 0).all()
    assert (table[table["signal"] != "half"]["direction"] == 0).all()


def test_auc_scores_match_sklearn_with_ties():
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal((500, 3)), 1).astype(np.float16)  # many ties
    on = rng.random(500) < 0.3
    x[:, 1] -= on  # lower where on: direction -1
    table = rank_cells({0: {"c": x}}, [Signal("on", "binary", on)], quantities=("c",)).sort_values("cell")
    auc = np.array([roc_auc_score(on, x[:, k].astype(np.float64)) for k in range(3)])
    np.testing.assert_allclose(table["score"], np.maximum(auc, 1 - auc), atol=1e-12)
    assert table["direction"].tolist()[1] == -1


def test_signals_must_match_the_trace_length():
    with pytest.raises(UserError):
        rank_cells({0: {"h": np.zeros((5, 2))}}, [Signal("s", "count", np.arange(7))])


def test_span_query_finds_the_cell_on_inside_the_selection(synthetic):
    _, signals, positions, trace = synthetic
    on = signals["in_quotes"].values[positions]
    trace = {0: {"c": np.column_stack([trace[0]["c"], on * 2.0 + 0.1]).astype(np.float16)}}
    result = span_query(trace, on, window=10)
    top = result.iloc[0]
    assert (top["layer"], top["quantity"], top["cell"]) == (0, "c", 8)
    assert top["inside"] == pytest.approx(2.1, abs=0.01) and top["around"] == pytest.approx(0.1, abs=0.01)
    with pytest.raises(UserError):
        span_query(trace, np.zeros(len(on), bool))


class _Trace(dict):
    """A hand-made trace: layers of arrays with the corpus offsets of their rows."""

    def __init__(self, layers, positions):
        super().__init__(layers)
        self.positions = positions


def test_span_mask_and_cell_window_use_corpus_offsets():
    positions = np.arange(10, 20)
    assert span_mask(positions, [(12, 14), (18, 30)]).tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 1, 1]
    data = np.frombuffer(b"0123456789abcdefghijkl", np.uint8)
    trace = _Trace({0: {"c": np.stack([np.zeros(10), np.arange(10) / 10], axis=1)}}, positions)
    text, values = cell_window(data, trace, 0, "c", 1, start=5, length=20)
    assert text == b"fghij"
    assert values.tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])


# -- Gates -------------------------------------------------------------------------------------


def test_gate_saturation_fractions_and_integrators():
    f = np.array([[0.05, 0.95], [0.5, 0.95], [0.95, 0.99], [0.01, 0.5]], np.float16)
    i = np.array([[0.5, 0.09], [0.5, 0.09], [0.5, 0.5], [0.5, 0.91]], np.float32)
    trace = {0: {"f": f, "i": i, "c": np.zeros((4, 2)), "h": np.zeros((4, 2))}}
    table = gate_saturation(trace).set_index(["gate", "cell"])
    assert sorted(table.index.get_level_values("gate").unique()) == ["f", "i"]
    assert tuple(table.loc[("f", 0), ["left", "right"]]) == (0.5, 0.25)
    assert tuple(table.loc[("f", 1), ["left", "right"]]) == (0.0, 0.75)
    assert tuple(table.loc[("i", 1), ["left", "right"]]) == (0.5, 0.25)
    assert tuple(gate_saturation(trace, left=0.6, right=0.96).set_index(["gate", "cell"]).loc[("f", 1)]
                 [["left", "right"]]) == (0.25, 0.25)
    integrators = saturated_cells(gate_saturation(trace), "f", "right", min_fraction=0.7)
    assert integrators[["layer", "cell"]].values.tolist() == [[0, 1]]
    with pytest.raises(UserError):
        gate_saturation({0: {"h": np.zeros((3, 2))}})


def test_gru_update_gates_are_reported_in_the_papers_convention():
    """PyTorch's z = 0.02 keeps the candidate (h = (1 - z) n + z h_prev): the paper's update gate is 0.98."""
    trace = {0: {"r": np.full((2, 3), 0.95), "z": np.full((2, 3), 0.02), "n": np.zeros((2, 3))}}
    table = gate_saturation(trace)
    assert set(table["gate"]) == {"r", "z"}
    update = table[table["gate"] == "z"]
    assert (update["right"] == 1.0).all() and (update["left"] == 0).all()
    assert saturated_cells(table, "r", "right")["cell"].tolist() == [0, 1, 2]


def _saturation(rows):
    return pd.DataFrame(rows, columns=["layer", "gate", "cell", "left", "right"])


def test_lstm_gate_claims_follow_the_fractions():
    rows = [(0, "f", c, 0.0, 0.95) for c in range(2)] + [(0, "o", c, 0.2, 0.2) for c in range(2)]
    rows += [(0, "i", c, 0.05, 0.05) for c in range(2)] + [(1, "f", c, 0.5, 0.5) for c in range(2)]
    rows += [(1, "o", 0, 0.0, 0.97), (1, "o", 1, 0.3, 0.3), (1, "i", 0, 0.5, 0.5), (1, "i", 1, 0.5, 0.5)]
    integrators, feed_forward, output, diffuse = lstm_gate_claims(_saturation(rows))
    assert integrators.verdict == "reproduced" and "2 of 4 cells" in integrators.measured
    assert feed_forward.verdict == "reproduced"
    assert output.verdict == "not reproduced" and output.measured.startswith("1 cells")
    assert diffuse.verdict == "reproduced"  # layer 1: 4 of 6 gates rarely saturated; layer 2: none


def test_gru_first_layer_claim():
    quiet = [(0, "r", 0, 0.3, 0.02), (0, "z", 0, 0.03, 0.4)]
    busy = [(1, "r", 0, 0.2, 0.5), (1, "z", 0, 0.4, 0.3)]
    assert gru_first_layer_claim(_saturation(quiet + busy)).verdict == "reproduced"
    assert gru_first_layer_claim(_saturation([(0, "r", 0, 0.0, 0.5), (0, "z", 0, 0.4, 0.0)] + busy)).verdict == (
        "not reproduced")


# -- Long-range ----------------------------------------------------------------------------------


def predictions(name: str, target_probs, positions=None, vocab_size: int = 4, targets=None) -> Predictions:
    """Predictions whose target gets ``target_probs`` and the rest is spread evenly."""
    target_probs = np.asarray(target_probs, np.float64)
    n = len(target_probs)
    targets = np.zeros(n, np.int64) if targets is None else np.asarray(targets)
    probs = np.repeat(((1 - target_probs) / (vocab_size - 1))[:, None], vocab_size, axis=1)
    probs[np.arange(n), targets] = target_probs
    positions = np.arange(n) if positions is None else np.asarray(positions)
    with np.errstate(divide="ignore"):
        return Predictions.from_log_probs(np.log(probs), targets, positions, name, "lstm", "sha", "test")


def test_bracket_pairs_match_across_nesting():
    text = b"}{ { } { ( ) } /* } */ \"}\" }"
    pairs = bracket_pairs(lex(text, "c"), b"}")
    assert pairs.tolist() == [[3, 5], [7, 13], [1, 27]]
    assert bracket_pairs(lex(text, "c"), b")").tolist() == [[9, 11]]
    assert bracket_pairs(lex(b'"a" /* " */ "b"', "c"), b'"').tolist() == [[0, 2], [12, 14]]
    with pytest.raises(UserError):
        bracket_pairs(lex(text, "c"), b">")


def test_closer_probability_by_distance_buckets_and_openers_before_the_segment():
    text = b"{" + b"x" * 30 + b"{ab}" + b"y" * 5 + b"}"
    closers = [i for i, b in enumerate(text) if b == ord("}")]  # 34 (distance 3), 40 (distance 40)
    positions = np.arange(20, len(text) - 1)  # the outer opener (offset 0) lies before the segment
    probs = np.full(len(positions), 0.2)
    probs[np.isin(positions + 1, closers)] = [0.7, 0.4]
    flat = np.full(len(positions), 0.1)
    models = [predictions("lstm", probs, positions), predictions("ngram", flat, positions)]
    table = closer_probability_by_distance(models, lex(text, "c"), edges=(1, 20, 60))
    assert table["bucket"].tolist() == ["[1, 20)", "[20, 60)"]
    assert table["count"].tolist() == [1, 1]
    assert table["lstm"].tolist() == pytest.approx([0.7, 0.4])
    assert table["ngram"].tolist() == pytest.approx([0.1, 0.1])


def test_symmetric_kl_is_zero_for_identical_and_positive_otherwise():
    p = predictions("a", [0.5, 0.9, 1.0], vocab_size=2)
    q = predictions("b", [0.9, 0.9, 0.0], vocab_size=2)
    assert symmetric_kl(p, p) == 0.0
    expected = 0.4 * np.log(0.9 / 0.1) / 3  # first row: sum of (p - q)(log p - log q); the second is equal
    value = symmetric_kl(p, q, eps=1e-7)
    assert np.isfinite(value) and value > expected  # the third row disagrees completely: ~ log(1/eps)
    same_but_first = predictions("b", [0.9, 0.9, 1.0], vocab_size=2)
    assert symmetric_kl(p, same_but_first) == pytest.approx(expected, rel=1e-3)  # probs are float16


def test_delta_loss_and_training_dynamics_table():
    lstm_early = predictions("lstm", [0.5, 0.5])
    lstm_late = predictions("lstm", [0.9, 0.9])
    baselines = {2: predictions("2-nn", [0.6, 0.6]), 1: predictions("1-nn", [0.5, 0.5])}
    assert delta_loss(lstm_late, baselines[2]) == pytest.approx(np.log(0.9) - np.log(0.6))
    table = training_dynamics([(100, lstm_early), (200, lstm_late)], baselines)
    assert table[["step", "n"]].values.tolist() == [[100, 1], [100, 2], [200, 1], [200, 2]]
    assert table["symmetric_kl"].iloc[0] == 0.0 and table["delta_loss"].iloc[0] == 0.0
    assert (table["symmetric_kl"].iloc[1:] > 0).all()


def test_error_overlap_counts_each_combination():
    a = predictions("a", [0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.1])
    b = predictions("b", [0.1, 0.1, 0.9, 0.1, 0.9, 0.9, 0.9])
    c = predictions("c", [0.1, 0.9, 0.9, 0.9, 0.1, 0.9, 0.9])
    table = error_overlap([a, b, c]).set_index("models")
    assert table.loc["a & b & c", "count"] == 1
    assert table.loc["a & b", "count"] == 1
    assert table.loc["a", "count"] == 2
    assert table.loc["b", "count"] == 1 and table.loc["c", "count"] == 1
    assert table.loc["a & c", "count"] == 0 and table.loc["b & c", "count"] == 0
    assert table["count"].sum() == 6 and table["share"].sum() == pytest.approx(1)
    with pytest.raises(UserError):
        error_overlap([a, predictions("a", [0.1] * 7)])
    with pytest.raises(UserError):
        error_overlap([a, predictions("d", [0.1] * 6)])


def test_per_byte_probability_and_advantage():
    vocab = np.array([ord("a"), ord("}"), ord(" ")], np.uint8)
    targets = [0, 0, 1, 2]
    lstm = predictions("lstm", [0.8, 0.6, 0.9, 0.5], vocab_size=3, targets=targets)
    ngram = predictions("ngram", [0.8, 0.8, 0.3, 0.5], vocab_size=3, targets=targets)
    table = per_byte_probability([lstm, ngram], vocab)
    assert table["label"].tolist() == ["a", "}", "space"]
    assert table["count"].tolist() == [2, 1, 1]
    assert table["lstm"].tolist() == pytest.approx([0.7, 0.9, 0.5])
    advantage = byte_advantage(table, "lstm", "ngram")
    assert advantage["label"].tolist() == ["}", "space", "a"]
    assert advantage["advantage"].tolist() == pytest.approx([0.6, 0.0, -0.1])


# -- Cells beyond the unroll horizon, and the claims ---------------------------------------------


def test_depth_in_span_counts_bytes_since_the_span_began():
    assert depth_in_span(np.array([0, 1, 1, 1, 0, 1, 1], bool)).tolist() == [0, 0, 1, 2, 0, 0, 1]


def test_beyond_horizon_scores_only_the_deep_part_of_long_spans():
    on = np.zeros(2_000, bool)
    on[100:400] = True  # a 300-byte span: 199 bytes lie more than 100 bytes in
    on[600:650] = True  # a short one
    cell = np.where(on, 1.0, -1.0)
    cell[100 + 101 :400] = -1.0  # a cell that forgets the span after 100 bytes
    trace = _Trace({0: {"c": cell[:, None].astype(np.float16)}}, np.arange(2_000))
    result = beyond_horizon(trace, Signal("in_quotes", "binary", on), 0, "c", 0, horizon=100)
    assert result.bytes_beyond == 199 and result.longest_span == 300 and result.longest_end == 399
    assert result.auc_beyond == pytest.approx(0.5) and result.auc > 0.6 and result.horizon == 100
    keeper = np.where(on, 1.0, -1.0)[:, None].astype(np.float16)
    trace = _Trace({0: {"c": keeper}}, np.arange(2_000))
    assert beyond_horizon(trace, Signal("in_quotes", "binary", on), 0, "c", 0, horizon=100).auc_beyond == 1.0
    assert beyond_horizon(trace, Signal("in_quotes", "binary", on), 0, "c", 0, horizon=50).bytes_beyond == 249


def test_a_cell_that_flips_beyond_the_horizon_is_scored_in_its_overall_direction():
    """Issue 26's case: on overall (AUC about 0.7) but below its off level deep in spans, where max(AUC, 1 - AUC)
    read 0.99 and "reproduced"; scored in the overall direction it reads about 0.01."""
    on = np.zeros(4_000, bool)
    on[100:400] = on[1000:1090] = on[1500:1590] = on[2000:2090] = on[2500:2590] = True
    cell = np.where(on, 1.0, 0.0)
    cell[201:400] = -1.0  # deep inside the long span it drops below every off byte
    trace = _Trace({0: {"c": cell[:, None].astype(np.float16)}}, np.arange(4_000))
    result = beyond_horizon(trace, Signal("in_quotes", "binary", on), 0, "c", 0, horizon=100)
    assert 0.6 < result.auc < 0.8 and result.auc_beyond < 0.05
    claims = {c.claim: c for c in cell_claims(_ranking(), silent=[], beyond=[result])}
    assert claims["A quote or comment cell stays on beyond the 100-byte unroll horizon"].verdict == "not reproduced"


def _ranking(quotes: float = 0.8) -> pd.DataFrame:
    return pd.DataFrame({
        "signal": ["line_position", "in_quotes", "paren_depth"], "kind": ["count", "binary", "count"],
        "layer": [0, 2, 1], "quantity": ["c", "c", "h"], "cell": [5, 7, 9], "score": [0.62, quotes, 0.1],
        "direction": [1, 1, -1]})


def test_cells_are_chosen_on_one_split_and_scored_on_the_other():
    chosen_on = _ranking().assign(score=[0.62, 0.8, 0.1])
    second = chosen_on.assign(cell=[6, 8, 10], score=[0.7, 0.95, 0.3])  # better on validation alone
    validation = pd.concat([chosen_on, second]).sort_values(["signal", "score"], ascending=[True, False])
    test = pd.concat([chosen_on.assign(score=[0.5, 0.9, 0.2]), second.assign(score=[0.1, 0.6, 0.05])])
    ranking = held_out(validation, test)
    best = top_cells(ranking, per_signal=1).set_index("signal").loc[list(chosen_on.signal)]
    assert list(best.cell) == [6, 8, 10]  # the validation split's choice...
    assert list(best.score) == [0.1, 0.6, 0.05] and list(best.chosen_score) == [0.7, 0.95, 0.3]  # ...scored on test
    assert list(ranking.signal.unique()) == list(validation.signal.unique())


def test_one_cell_leading_two_signals_is_said_with_how_the_signals_correlate():
    depth = np.arange(200) % 10
    signals = {"brace_depth": Signal("brace_depth", "count", depth), "indentation": Signal("indentation", "count",
                                                                                         2 * depth + (depth > 4))}
    leaders = pd.DataFrame({"signal": ["brace_depth", "indentation"], "layer": [1, 1], "quantity": ["c", "c"],
                            "cell": [75, 75]})
    sentence = shared_leaders(leaders, signals, np.arange(200))
    assert sentence.startswith("The same cell, layer 2 c[75], leads brace_depth and indentation")
    assert "correlate on the test split (ρ = 1.00)" in sentence
    assert shared_leaders(leaders.assign(cell=[75, 76]), signals, np.arange(200)) == ""


def test_cell_claims_use_the_best_cell_per_concept_and_say_what_is_absent():
    beyond = [BeyondHorizon("in_quotes", 100, 0.8, 0.93, 500, 300, 10)]
    claims = {c.claim: c for c in cell_claims(_ranking(), silent=["in_comment", "indentation"], beyond=beyond)}
    assert claims["A cell tracks line length"].verdict == "reproduced"
    line = claims["A cell tracks line length"]
    assert "layer 1 c[5] follows line_position, the position in the line (|ρ| 0.62)" in line.measured
    assert claims["A cell tracks line length"].chance.startswith("|ρ| 0: the cell is the best of 1 states")
    assert claims["A cell tracks quotes"].verdict == "partly" and "0.75" in claims["A cell tracks quotes"].threshold
    assert claims["A cell tracks brackets"].verdict == "not reproduced"
    assert claims["A cell tracks brackets"].corpora == ("linux",)
    assert claims["A cell tracks comments"].verdict == "not measured"
    assert claims["A cell tracks comments"].measured == "not in this text (in_comment never changes)"
    prose = {c.claim: c for c in cell_claims(_ranking(), silent=[])}  # prose has no comment signal at all
    assert prose["A cell tracks comments"].measured == "not in this text (its language has no in_comment)"
    assert claims["A quote or comment cell stays on beyond the 100-byte unroll horizon"].verdict == "reproduced"
    short = BeyondHorizon("in_comment", 100, 0.9, float("nan"), 0, 96, 10)
    both = cell_claims(_ranking(), silent=[], beyond=[*beyond, short])[-1]
    assert both.verdict == "reproduced" and both.measured.endswith("; in_comment: no span longer than 100 bytes")
    unroll = cell_claims(_ranking(), silent=[], beyond=[BeyondHorizon("in_quotes", 50, 0.8, 0.93, 500, 300, 10)])
    assert unroll[-1].claim == "A quote or comment cell stays on beyond the 50-byte unroll horizon"
    assert cell_claims(_ranking(), silent=[])[-1].verdict == "not measured"
