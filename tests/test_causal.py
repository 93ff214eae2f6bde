"""Causal scores on hand-made losses, the bytes each signal concerns, and what samples under a clamp are measured by."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lit_rnn.analysis.causal import (
    TARGETS,
    CausalScores,
    _holm,
    causal_claim,
    causal_scores,
    cells_to_ablate,
    clamp_values,
    line_lengths,
    p_text,
    quiet_prime,
    scores_table,
    signal_in_samples,
    target_mask,
)
from lit_rnn.analysis.oracles import (
    ErrorBreakdown,
    FixedShare,
    NetChange,
    OracleConfig,
    dynamic_claim,
    fixed_errors,
    fixed_share,
    memory_steps,
    net_change,
)
from lit_rnn.analysis.signals import SIGNAL_KINDS, Signal, lex, reference_signals
from lit_rnn.errors import UserError
from lit_rnn.interventions import LayerAblations
from lit_rnn.predictions import Predictions


def targets(text: bytes, name: str, language: str = "c") -> str:
    """The target bytes of signal ``name`` over ``text`` lexed in ``language``, drawn as ^ under the text."""
    mask = target_mask(reference_signals(lex(text, language), [name])[name], text)
    return "".join("^" if on else "." for on in mask)


def test_every_signal_has_target_bytes():
    assert set(TARGETS) == set(SIGNAL_KINDS)


def test_closing_quotes_are_the_targets_of_the_quote_signal():
    assert targets(b'a "bc" d "e"', "in_quotes") == ".....^.....^"
    assert targets(b'a "bc" d "e"', "in_quotes", "text") == ".....^.....^"


def test_a_blank_line_that_ends_a_quotation_in_prose_is_no_closing_quote():
    text = b'"Yes,\n\n"no," he said.'
    assert targets(text, "in_quotes", "text") == "...........^........."  # not the second newline


def test_a_closing_mark_of_several_bytes_counts_at_its_first_byte():
    text = "a «b» c".encode()  # « and » are two bytes each
    assert targets(text, "in_quotes", "text") == ".....^..."


def test_line_breaks_are_the_newline_or_the_carriage_return_of_a_crlf():
    assert targets(b"ab\ncd\r\nef\n", "line_position") == "..^..^...^"


def test_closers_and_comment_ends():
    assert targets(b"f(a(b)) [x]", "paren_depth") == ".....^^...."
    assert targets(b"f(a(b)) [x]", "bracket_depth") == "..........^"
    assert targets(b"{ if { } }", "brace_depth") == ".......^.^"
    assert targets(b"a /* b */ c // d\ne", "in_comment") == "........^.......^."


def test_indentation_targets_are_the_leading_whitespace_and_the_byte_that_ends_it():
    assert targets(b"a\n  b c\n\tx\ny", "indentation") == "..^^^...^^.."


def test_targets_need_a_known_signal_of_the_texts_length():
    with pytest.raises(UserError, match="no target bytes are defined"):
        target_mask(Signal("mine", "binary", np.zeros(3, bool)), b"abc")
    with pytest.raises(UserError, match="has 3 values for 4 bytes"):
        target_mask(Signal("in_quotes", "binary", np.zeros(3, bool)), b"abcd")


def _ablations(layer: int, tested: list[int], draws: int, rows: int = 8, length: int = 50, effect: float = 0.0,
               seed: int = 0, data_length: int = 1000, cost: float = 0.0) -> tuple[LayerAblations, np.ndarray]:
    """Losses where the first tested cell adds ``effect`` on the target bytes (every 5th byte) and ``cost`` on the
    others, and noise elsewhere."""
    rng = np.random.default_rng(seed)
    positions = np.arange(rows)[:, None] * 100 + np.arange(length)[None, :]
    on = np.zeros(data_length, bool)
    on[::5] = True
    predicted = on[positions + 1]
    plain = rng.uniform(0.5, 2.0, (rows, length)).astype(np.float32)
    noise = lambda n: plain + rng.normal(0, 0.01, (n, rows, length)).astype(np.float32)  # noqa: E731
    tested_losses = noise(len(tested))
    tested_losses[0] += effect * predicted + cost * ~predicted
    return LayerAblations(layer, np.array(tested), np.arange(100, 100 + draws), plain, tested_losses, noise(draws),
                          positions), on


def _signal(on: np.ndarray) -> dict[str, Signal]:
    """A quote signal whose falls are the ``on`` bytes: on just before each of them."""
    values = np.zeros(len(on), bool)
    values[np.flatnonzero(on) - 1] = True
    return {"in_quotes": Signal("in_quotes", "binary", values)}


@pytest.mark.parametrize(("effect", "cost", "causal"),
                         [(0.5, 0.0, True), (-0.5, 0.05, True), (-0.5, 0.0, False), (0.0, 0.0, False)])
def test_a_cell_that_moves_its_targets_is_causal_and_one_like_the_random_cells_is_not(effect, cost, causal):
    """A cell whose ablation makes its bytes easier is used only if it costs the other bytes: without that cost
    (the old "reproduced" for War and Peace's line-length cell at -0.373 nats) it is not."""
    cells = pd.DataFrame({"signal": ["in_quotes"], "layer": [1], "quantity": ["c"], "cell": [7], "score": [0.9]})
    ablated, on = _ablations(1, [7, 3], draws=40, effect=effect, cost=cost)
    scores = causal_scores(cells, {1: ablated}, _signal(on), np.zeros(1000, np.uint8), bootstrap=200)
    row = scores.table.iloc[0]
    assert row.targets == int(on[ablated.positions + 1].sum()) == 80 and row.measured
    assert bool(row.causal) == causal
    assert len(scores.random["in_quotes"]) == 40
    if effect:
        assert row.delta == pytest.approx(effect, abs=0.01) and row.rank_p == pytest.approx(1 / 41)
        assert abs(row.z) > 10 and row.delta_low < effect < row.delta_high and row.p_holm < 0.05
        assert (row.excess_low > 0.45) if effect > 0 else (row.excess_high < -0.45)
        assert row.effect == ("hurts" if effect > 0 else "helps")
        assert row.delta_other == pytest.approx(cost, abs=0.01) and (row.other_excess_low > 0) == (cost > 0)
    else:
        assert row.rank_p > 0.05 and abs(row.z) < 4


def test_the_scores_table_reads_as_the_chapter_names_each_test():
    cells = pd.DataFrame({"signal": ["in_quotes"], "layer": [1], "quantity": ["c"], "cell": [7], "score": [0.9]})
    ablated, on = _ablations(1, [7, 3], draws=40, effect=0.5, cost=0.0)
    scores = causal_scores(cells, {1: ablated}, _signal(on), np.zeros(1000, np.uint8), bootstrap=200)
    row = scores_table(scores).iloc[0]
    assert row["layer"] == 2 and row["cell"] == "c[7]" and row["used"] == "yes" and row["target bytes (count)"] == 80
    assert row["why not used"] == ""
    assert row["Holm p"] == p_text(scores.table.p_holm.iloc[0]) != "0.0" and " to " in row["excess over random (95%)"]
    assert (p_text(4e-18), p_text(2.5e-3)) == ("< 1e-06", "0.0025")  # the normal tail's far digits are not shown
    assert p_text(float("nan")) == "not measured"


def test_a_cell_with_too_few_target_bytes_is_not_measured():
    cells = pd.DataFrame({"signal": ["in_quotes"], "layer": [1], "quantity": ["c"], "cell": [7], "score": [0.9]})
    ablated, on = _ablations(1, [7], draws=40, effect=0.5, rows=1)
    scores = causal_scores(cells, {1: ablated}, _signal(on), np.zeros(1000, np.uint8), min_targets=20)
    row = scores.table.iloc[0]
    assert row.targets == 10 and not row.measured and not row.causal
    assert scores_table(scores).iloc[0]["why not used"] == "too few target bytes to test"


def test_the_causal_claim_counts_the_measurable_cells():
    table = pd.DataFrame({"signal": ["in_quotes", "line_position", "paren_depth"], "target": ["q", "l", "p"],
                          "layer": [1, 1, 0], "quantity": ["c", "c", "h"], "cell": [7, 3, 2], "delta": [0.2, -0.3, 0.1],
                          "z": [8.0, -9.0, 0.5], "p_holm": [1e-9, 1e-9, 0.6], "effect": ["hurts", "helps", "hurts"],
                          "delta_other": [0.0, 0.001, 0.0], "measured": [True, True, False],
                          "rank_p": [0.01, 0.01, 0.5], "excess_low": [0.1, -0.4, -0.1], "excess_high": [0.3, -0.2, 0.2],
                          "other_excess_low": [0.0, -0.1, 0.0],
                          "causal": [True, False, False]})
    claim = causal_claim(CausalScores(table, {}))
    assert claim.verdict == "partly" and claim.measured.startswith("1 of 2 signals' top cells causally used: ")
    assert "in_quotes (layer 2 c[7], used)" in claim.measured and "paren_depth" not in claim.measured
    assert "z 8.0, Holm p < 1e-06" in claim.measured
    assert "line_position (layer 2 c[3], not used: it makes its bytes easier but costs the other bytes no more " \
           "than random cells)" in claim.measured
    shared = causal_claim(CausalScores(table.assign(cell=[7, 7, 2], p_holm=[1e-9, 0.2, 0.6]), {}))
    assert "(1 distinct cell: a cell may lead two signals, used for one)" in shared.measured
    assert "not used: Holm p 0.2 > 0.05" in shared.measured
    assert causal_claim(CausalScores(table.assign(causal=[True, True, False]), {})).verdict == "reproduced"
    assert causal_claim(CausalScores(table.assign(measured=False), {})).verdict == "not measured"


def test_causal_scores_need_the_cells_ablations():
    cells = pd.DataFrame({"signal": ["in_quotes"], "layer": [0], "quantity": ["h"], "cell": [5], "score": [0.8]})
    ablated, on = _ablations(1, [7], draws=5)
    with pytest.raises(UserError, match="no ablation of layer 0 cell 5"):
        causal_scores(cells, {1: ablated}, _signal(on), np.zeros(1000, np.uint8))


def test_the_cells_to_ablate_per_layer():
    cells = pd.DataFrame({"layer": [2, 0, 2, 2], "cell": [5, 1, 3, 5]})
    assert cells_to_ablate(cells) == {0: [1], 2: [3, 5]}


class _Trace:
    positions = np.arange(10, 20)

    def __getitem__(self, layer):
        return {"c": np.arange(20, dtype=np.float32).reshape(10, 2)}


def test_clamp_values_are_the_cells_extremes_on_the_side_the_signal_puts_it():
    values = np.zeros(30, bool)
    values[12:15] = True  # trace rows 2, 3, 4: the cell (1, 3, …, 19) reads 5, 7, 9 there, lower than elsewhere
    on, off = clamp_values(_Trace(), 0, "c", 1, Signal("in_quotes", "binary", values))
    assert (on, off) == pytest.approx((1.9, 18.1))
    on, off = clamp_values(_Trace(), 0, "c", 1, Signal("in_quotes", "binary", ~values), percentile=10)
    assert (on, off) == pytest.approx((17.2, 2.8))
    falling = Signal("line_position", "count", np.arange(30)[::-1])  # a count the cell runs against
    assert clamp_values(_Trace(), 0, "c", 1, falling) == pytest.approx((1.9, 18.1))
    with pytest.raises(UserError, match="never changes"):
        clamp_values(_Trace(), 0, "c", 1, Signal("line_position", "count", np.zeros(30)))


def test_quiet_prime_ends_at_a_line_break_outside_the_signal():
    text = b'say "a\nb" ok\nnext "x\ny" z\n'
    signal = reference_signals(lex(text, "text"), ["in_quotes"])["in_quotes"]  # prose: quotes span lines
    assert quiet_prime(text, np.arange(len(text)), signal, length=5) == b'y" z\n'  # the quote closes inside it
    assert quiet_prime(text, np.arange(13), signal, length=5) == b'" ok\n'  # its closing quote is its first byte
    assert quiet_prime(text, np.arange(14, len(text)), signal, length=5) == b'y" z\n'  # skips the break in quotes
    assert quiet_prime(text, np.arange(14, len(text)), length=5) == b't "x\n'  # no signal: the first break


def test_the_prime_is_taken_where_the_signal_is_in_use():
    text = b'plain line\nno quotes here\n"a" "b" "c"\nend\n'
    signal = reference_signals(lex(text, "text"), ["in_quotes"])["in_quotes"]
    assert quiet_prime(text, np.arange(len(text)), signal, length=12) == b'"a" "b" "c"\n'  # not the first break
    assert quiet_prime(text, np.arange(len(text)), length=12) == b"quotes here\n"  # no signal: the first break


def test_samples_are_measured_by_the_signal_read_from_their_start():
    measured = signal_in_samples({"plain": [b'a "b" c', b'"open'], "clamped": [b'xx "yy']}, "in_quotes", "text")
    plain, clamped = measured.iloc[0], measured.iloc[1]
    assert plain["count"] == 2 and plain.open_at_end == 0.5
    assert plain.bytes_on == pytest.approx((2 + 5) / 12)
    assert plain.switches_per_1000 == pytest.approx(1000 * 3 / 12)
    assert plain.open_at_end_se == pytest.approx(0.5) and plain.bytes_on_se == pytest.approx(np.std([2 / 7, 1], ddof=1)
                                                                                             / np.sqrt(2))
    assert clamped.open_at_end == 1.0 and clamped.bytes_on == pytest.approx(3 / 6)


def _predictions(probs_of_target: np.ndarray, name: str, positions: np.ndarray | None = None) -> Predictions:
    n = len(probs_of_target)
    return Predictions(np.zeros((n, 3), np.float16), np.log(probs_of_target).astype(np.float32), np.zeros(n, int),
                       np.arange(n) if positions is None else positions, name, "lstm", "sha", "test")


def test_fixed_errors_and_category_changes_compare_two_evaluations_of_the_same_bytes():
    labels = np.array(["1-memory", "1-memory", "n-gram", "", "remaining", ""], dtype=object)
    table = pd.DataFrame({"step": ["n-gram", "1-memory", "remaining"], "category": ["n-gram", "memory", "remaining"],
                          "errors": [1, 2, 1], "share": [0.25, 0.5, 0.25], "remaining": [3, 1, 1]})
    before = ErrorBreakdown("plain", table, labels, np.arange(6) + 1)
    plain = _predictions(np.array([0.3, 0.1, 0.3, 0.9, 0.2, 0.8]), "plain")
    after = _predictions(np.array([0.9, 0.2, 0.3, 0.4, 0.6, 0.9]), "dynamic")
    fixed = fixed_errors(before, plain, after).set_index("category")
    assert fixed.loc["memory", ["errors", "fixed", "fixed_share"]].tolist() == [2, 1, 0.5]
    assert fixed.loc["memory", "gain"] == pytest.approx(np.mean([np.log(3), np.log(2)]), abs=1e-6)
    assert fixed.loc["n-gram", ["errors", "fixed", "fixed_share", "gain"]].tolist() == [1, 0, 0.0, 0.0]
    assert fixed.loc["remaining", ["errors", "fixed", "fixed_share"]].tolist() == [1, 1, 1.0]
    with pytest.raises(UserError, match="cover different positions"):
        fixed_errors(before, plain, _predictions(np.full(5, 0.5), "short"))


def _breakdown(labels: list[str], positions: np.ndarray) -> ErrorBreakdown:
    table = pd.DataFrame({"step": ["n-gram", "1-memory", "remaining"], "category": ["n-gram", "memory", "remaining"],
                          "errors": [1, 1, 1], "share": [1 / 3] * 3, "remaining": [2, 1, 1]})
    return ErrorBreakdown("plain", table, np.array(labels, dtype=object), positions + 1)


def test_fixed_share_of_memory_errors_against_the_others_with_a_bootstrap_over_segments():
    positions = np.concatenate([np.arange(6), np.arange(100, 106)])  # two segments (char-rnn rows)
    labels = ["1-memory", "1-memory", "n-gram", "", "remaining", "",
              "1-memory", "n-gram", "n-gram", "", "remaining", "1-memory"]
    plain = _predictions(np.full(12, 0.2), "plain", positions)
    after = _predictions(np.array([0.9, 0.9, 0.3, 0.9, 0.3, 0.9, 0.9, 0.3, 0.9, 0.9, 0.3, 0.3]), "dynamic", positions)
    gap = fixed_share(_breakdown(labels, positions), plain, after, samples=500)
    assert (gap.share, gap.rest) == (0.75, 0.0) and gap.group == "memory"  # the n-gram errors fixed do not count
    assert gap.low <= gap.share - gap.rest <= gap.high and gap.low < gap.high
    up, little = np.log(0.9 / 0.2), np.log(0.3 / 0.2)  # log p' - log p of a byte at 0.2 raised to 0.9 or 0.3
    memory, rest = (3 * up + little) / 4, little
    assert (gap.gain, gap.rest_gain) == pytest.approx((memory, rest), abs=1e-6)
    assert gap.gain_low <= gap.gain - gap.rest_gain <= gap.gain_high and gap.gain_outcome is not None
    steps = fixed_share(_breakdown(labels, positions), plain, after, steps=["1-memory"], samples=500)
    assert (steps.group, steps.share, steps.rest) == ("1-memory", 0.75, 0.0)
    assert np.isnan(fixed_share(_breakdown(labels, positions), plain, after, steps=[]).share)  # a window too short
    assert memory_steps(OracleConfig(), 512) == ["100-memory", "500-memory"] and memory_steps(OracleConfig(), 50) == []
    assert memory_steps(OracleConfig(), 512, beyond=True) == ["1000-memory", "5000-memory"]
    against = fixed_share(_breakdown(labels, positions), plain, after, steps=["1-memory"], against=["remaining"],
                          samples=500)  # another baseline: the named steps alone, named in the text
    assert (against.share, against.rest) == (0.75, 0.0) and "of the remaining errors" in against.text("memory ones")
    assert "short context" in steps.text("memory ones") and "it raises the log-probability" in steps.text("x")
    none = ["n-gram" if label == "1-memory" else label for label in labels]
    assert np.isnan(fixed_share(_breakdown(none, positions), plain, after).share)


def test_the_net_change_counts_each_models_own_errors_with_a_bootstrap_over_segments():
    positions = np.concatenate([np.arange(6), np.arange(100, 106)])  # two segments (char-rnn rows)
    plain = _predictions(np.full(12, 0.2), "plain", positions)
    dynamic = _predictions(np.full(12, 0.2), "dynamic", positions)
    before = _breakdown(["1-memory", "1-memory", "n-gram", "", "remaining", "",
                         "1-memory", "n-gram", "n-gram", "", "remaining", "1-memory"], positions)
    after = _breakdown(["1-memory", "", "n-gram", "", "remaining", "",
                        "", "n-gram", "n-gram", "", "remaining", ""], positions)
    net = net_change(before, plain, after, dynamic, "memory", samples=500)
    assert (net.before, net.after) == (4, 1)
    assert (net.low, net.high) == (-4, -2)  # per segment: 2 → 1 and 2 → 0, two segments drawn with replacement
    assert net.text("memory errors") == "memory errors 4 → 1 (change -3, 95% interval -4 to -2)"
    assert NetChange(4, 2, -3.0, -1.0).outcome == "for" and NetChange(2, 4, 1.0, 3.0).outcome == "against"
    assert NetChange(4, 4, -1.0, 1.0).outcome == "within"


def test_the_dynamic_evaluation_claim_is_decided_by_the_memory_errors():
    """The memory errors' fixed share and their net change decide; "partly" where the share is fixed at a higher rate
    but as many memory errors remain. The log-probability gains are stated with their interval, whichever way."""
    def gap(share, rest, low, high, gains=(0.5, 0.025, 0.3, 0.6)):
        return FixedShare("memory", share, rest, low, high, *gains)

    fewer, same, more = NetChange(4, 3, -2.0, -0.5), NetChange(4, 4, -1.0, 1.0), NetChange(3, 4, 0.5, 2.0)
    assert dynamic_claim(gap(0.75, 0.19, 0.2, 0.9), 1.10, 1.05, 0.01, fewer).verdict == "reproduced"
    assert dynamic_claim(gap(0.75, 0.19, 0.2, 0.9), 1.10, 1.05, 0.03, fewer).verdict == "reproduced"  # loss: noise
    assert dynamic_claim(gap(0.75, 0.19, 0.2, 0.9), 1.10, 1.05, 0.01, same).verdict == "partly"
    assert dynamic_claim(gap(0.75, 0.19, 0.2, 0.9), 1.10, 1.05, 0.01, more).verdict == "not reproduced"
    within = dynamic_claim(gap(0.012, 0.012, -0.003, 0.003), 1.10, 1.05, 0.01, same)  # issue 27: 1.2% vs 1.2%
    assert within.verdict == "inconclusive"
    assert dynamic_claim(gap(0.10, 0.19, -0.3, -0.1), 1.10, 1.05, 0.01, fewer).verdict == "not reproduced"
    assert dynamic_claim(gap(0.75, 0.19, 0.2, 0.9), 1.10, 1.15, 0.01, fewer).verdict == "not reproduced"  # loss up
    assert dynamic_claim(gap(np.nan, 0.19, np.nan, np.nan), 1.10, 1.05, 0.01, fewer).verdict == "not measured"
    gains_down = gap(0.75, 0.19, 0.2, 0.9, (0.1, 0.5, -0.6, -0.2))  # stated, not judged
    assert dynamic_claim(gains_down, 1.1, 1.0, 0.01, fewer).verdict == "reproduced"
    claim = dynamic_claim(gap(0.75, 0.1875, 0.2, 0.9), 1.1, 1.0, 0.01, same)
    assert ("fixes 75.00% of the memory-oracle errors and 18.75% of the other errors that short context cannot fix "
            "(difference +56.25 points, 95% interval +20.00 to +90.00 points)") in claim.measured
    assert ("raises the log-probability of their true bytes by 0.500 nats and raises that of the others' by 0.025 "
            "(difference +0.475 nats, 95% interval +0.300 to +0.600)") in claim.measured
    assert claim.measured.endswith("; memory-oracle errors, each model peeled alike, 4 → 4 (change +0, 95% interval "
                                   "-1 to +1)")
    assert claim.finding == (
        "memory errors fixed 75.00% against 18.75%; their log-probability rises more than the others', by 0.475 "
        "nats, beyond the noise; memory errors in all the same within the noise, 4 → 4")


def test_holm_keeps_the_family_wise_error_over_the_tested_cells():
    adjusted = _holm(np.array([0.01, 0.04, 0.03, 0.5]))
    assert adjusted.tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert (np.array([0.01, 0.04, 0.03]) <= 0.05).all() and (adjusted <= 0.05).sum() == 1


def test_line_lengths_count_complete_lines_without_the_carriage_return():
    lengths = line_lengths({"a": [b"abc\r\nde\nf", b"\nxyz"], "b": [b"no break"]})
    assert lengths.iloc[0].tolist() == pytest.approx(["a", 3, 5 / 3, 1.25, 3])  # per-sample means 2.5 and 0
    assert lengths.iloc[1].lines == 0 and np.isnan(lengths.iloc[1].mean_length)


def test_no_tracking_cell_gives_an_empty_table_and_a_claim_not_measured():
    scores = causal_scores(pd.DataFrame(columns=["signal", "layer", "quantity", "cell", "score"]), {}, {}, b"abc")
    assert scores.table.empty and {"signal", "delta", "causal", "p_holm"} <= set(scores.table.columns)
    claim = causal_claim(scores)
    assert claim.verdict == "not measured" and "no cell tracks a signal" in claim.measured
