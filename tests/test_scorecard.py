"""The scorecard: verdicts from numbers, tables, and claims gathered across chapters."""

from __future__ import annotations

import pytest

from lit_rnn.analysis import scorecard
from lit_rnn.analysis.scorecard import Claim


def test_verdicts_follow_the_test_of_each_claim():
    assert scorecard.judge(True) == "reproduced"
    assert scorecard.judge(False) == "not reproduced"
    assert scorecard.judge(False, partly=True) == "partly"
    assert scorecard.judge(None) == "not measured"
    with pytest.raises(ValueError):
        Claim("x", "y", "z", "maybe")


def test_claims_are_saved_per_chapter_and_gathered_in_order(tmp_path):
    first = [Claim("Models", "depth helps", "2 layers 1.40 vs 1 layer 1.45", "reproduced")]
    second = [Claim("Cells", "a quote cell", "AUC 0.93", "reproduced"), Claim("Cells", "x", "—", "not measured")]
    scorecard.save(first, tmp_path / "a.json")
    scorecard.save(second, tmp_path / "b.json")
    gathered = scorecard.load([tmp_path / "a.json", tmp_path / "missing.json", tmp_path / "b.json"])
    assert gathered == first + second
    assert list(scorecard.table(gathered).columns) == ["chapter", "claim", "measured", "verdict"]
