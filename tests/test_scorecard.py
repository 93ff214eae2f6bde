"""The scorecard: verdicts from numbers, tables, and claims gathered across chapters."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pytest

from lit_rnn.analysis import scorecard
from lit_rnn.analysis.scorecard import Claim


@dataclass(frozen=True)
class Model:
    """A model claims are judged on, as the scorecard reads one (a Run's two properties)."""

    paper_recipe: bool = True
    shortfall: str = ""


def test_verdicts_follow_the_test_of_each_claim():
    assert scorecard.judge(True) == "reproduced"
    assert scorecard.judge(False) == "not reproduced"
    assert scorecard.judge(False, partly=True) == "partly"
    assert scorecard.judge(None) == "not measured"
    with pytest.raises(ValueError):
        Claim("x", "y", "z", "maybe")


@pytest.mark.parametrize(("outcomes", "verdict"), [
    (["for", "for"], "reproduced"),
    (["for", "within"], "partly"),
    (["within", "within"], "inconclusive"),
    (["for", "against"], "not reproduced"),  # any contradiction beyond the noise
    (["within", "against"], "not reproduced"),
    (["for", None], "not measured"),  # a NaN is never "not reproduced"
    ([], "not measured"),
])
def test_three_outcomes_per_test_make_the_verdict(outcomes, verdict):
    assert scorecard.verdict(outcomes) == verdict


def test_outcomes_against_the_noise():
    assert scorecard.outcome_z(0.05, 0.01) == "for" and scorecard.outcome_z(-0.05, 0.01) == "against"
    assert scorecard.outcome_z(0.01, 0.01) == "within" and scorecard.outcome_z(math.nan, 0.01) is None
    assert scorecard.outcome_interval(0.1, 0.3) == "for" and scorecard.outcome_interval(-0.3, -0.1) == "against"
    assert scorecard.outcome_interval(-0.1, 0.3) == "within" and scorecard.outcome_interval(0.4, 0.6, 0.5) == "within"
    assert scorecard.outcome_interval(math.nan, math.nan) is None


def test_claims_the_paper_made_on_another_corpus_are_not_applicable_and_not_counted():
    claims = [Claim("Cells", "brackets", "ρ 0.06", "not reproduced", corpora=("linux",)),
              Claim("Cells", "line length", "ρ 0.9", "reproduced"),
              Claim("Errors", "word starts", "55%", "reproduced", corpora=("warpeace",)),
              Claim(scorecard.BEYOND, "cells are used", "1 of 7", "partly")]
    warpeace = scorecard.applicable(claims, "warpeace")
    assert [c.verdict for c in warpeace] == ["not applicable", "reproduced", "reproduced", "partly"]
    assert warpeace[0].measured == \
        "ρ 0.06 (the paper makes this claim on Linux only; here it would read: not reproduced)"
    assert scorecard.applicable(claims, "my.txt") == claims  # a user's text: every claim applies
    short = scorecard.applicable(claims, "linux", models=[Model(paper_recipe=False)])
    scale = "not at the paper's scale"
    assert [c.verdict for c in short] == [scale, scale, "not applicable", scale]
    totals = scorecard.totals({"warpeace": warpeace, "linux": scorecard.applicable(claims, "linux")})
    assert totals.loc[("warpeace", "the paper's"), "judged"] == 2
    assert totals.loc[("warpeace", "the paper's"), "not applicable"] == 1
    assert totals.loc[("linux", "the paper's"), "not reproduced"] == 1
    assert totals.loc[("warpeace", "beyond the paper"), "partly"] == 1  # tallied apart from the paper's
    summary = scorecard.summary({"warpeace": warpeace})
    assert "**War and Peace**: of the paper's claims, 2 reproduced" in summary and "out of **2** judged" in summary
    assert "not counted: 1 not applicable" in summary
    assert "*reproduced* where its test passed): 1 partly out of 1 judged" in summary
    assert "Setup checks" not in summary


def test_setup_checks_are_tallied_apart_from_the_papers_claims():
    corpus = Claim(scorecard.SETUP, "the corpus has the paper's size", "110 symbols against 101", "not reproduced")
    claims = scorecard.applicable([corpus, Claim("Cells", "line length", "ρ 0.9", "reproduced")], "linux")
    totals = scorecard.totals({"linux": claims})
    assert totals.loc[("linux", "the paper's"), "judged"] == 1 and totals.loc[("linux", "the paper's"),
                                                                              "not reproduced"] == 0
    assert totals.loc[("linux", "setup checks"), "not reproduced"] == 1
    assert scorecard.summary({"linux": claims}).endswith("Setup checks: 1 not reproduced.")
    assert scorecard.findings([corpus], "linux").startswith("Of the setup checks, 1 judged on Linux: 1 not reproduced")


def test_a_claim_judged_on_a_model_cut_short_says_so_in_what_it_measured_and_found():
    claims = [Claim("Baselines", "beats the 20-gram", "worse by 0.039", "not reproduced", finding="worse by 0.039"),
              Claim("Baselines", "overfits", "no n-NN at n = 7", "not measured")]
    cut = Model(shortfall="lstm-3x244 cut short at epoch 35 of 50")
    judged, unmeasured = scorecard.applicable(claims, "linux", models=[cut, Model()])
    assert judged.verdict == "not reproduced"
    assert judged.measured == "worse by 0.039 (judged on lstm-3x244 cut short at epoch 35 of 50)"
    assert judged.caveat == "judged on lstm-3x244 cut short at epoch 35 of 50"
    assert unmeasured == claims[1]  # nothing was judged: nothing to qualify
    assert scorecard.applicable(claims, "linux", models=[Model()]) == claims
    found = scorecard.findings([judged, Claim("Baselines", "n-NN ≈ n-gram", "n = 1: +0.7%", "not reproduced")])
    assert "20-gram (worse by 0.039; judged on lstm-3x244 cut short at epoch 35 of 50); and n-NN" in found
    both = [judged, dataclasses.replace(judged, claim="overfits")]
    assert scorecard.findings(both).count("judged on") == 1  # a caveat they all share is said once
    assert scorecard.findings(both).endswith("All were judged on lstm-3x244 cut short at epoch 35 of 50.")
    assert "- **Baselines** (judged on lstm-3x244 cut short at epoch 35 of 50): 2 not reproduced (of 2 judged); " \
           "not reproduced: beats the 20-gram (worse by 0.039); and overfits (worse by 0.039)." in \
           scorecard.by_chapter({"linux": both})


def test_a_claim_on_short_trainings_is_counted_apart():
    claim = Claim("Models", "depth helps", "lstm-1 is better", "not reproduced")
    short = scorecard.at_scale(claim, paper_recipe=False)
    assert short.verdict == "not at the paper's scale" and "(would read: not reproduced)" in short.measured
    assert scorecard.at_scale(claim, paper_recipe=True) == claim
    assert scorecard.at_scale(Claim("M", "x", "-", "not measured"), False).verdict == "not measured"


def test_findings_sum_up_a_chapter_in_a_few_sentences():
    claims = [Claim("Cells", "A cell tracks quotes", "AUC 0.97", "reproduced", finding="AUC 0.97"),
              Claim("Cells", "A cell tracks brackets", "-", "not applicable", corpora=("linux",)),
              Claim("Cells", "Cells stay on", "AUC 0.6", "not reproduced")]
    text = scorecard.findings(claims, "warpeace")
    partly = Claim("Cells", "A cell counts lines", "AUC 0.8", "partly")
    assert text.startswith("Of the paper's claims, 2 judged on War and Peace: 1 reproduced, 1 not reproduced "
                           "(not counted: 1 not applicable).")
    assert scorecard.findings(claims[1:2], "linux") == "None of the paper's claims could be judged on Linux: " \
                                                         "1 not applicable."
    assert "Reproduced: a cell tracks quotes (AUC 0.97)." in text and "Not reproduced: cells stay on." in text
    assert 2 <= text.count(". ") + 1 <= 5
    lines = scorecard.by_chapter({"warpeace": claims})
    assert lines.startswith("*War and Peace*") and "- **Cells**: 1 reproduced, 1 not reproduced (of 2 judged)" in lines
    assert "; partly: a cell counts lines; not reproduced: cells stay on." in \
        scorecard.by_chapter({"warpeace": [*claims, partly]})
    acronym = Claim("Models", "LSTM and GRU predictions cluster apart", "margin -1%", "not reproduced")
    assert "and LSTM and GRU predictions cluster apart." in scorecard.findings([claims[2], acronym], "warpeace")


def test_claims_are_saved_per_chapter_and_gathered_in_order(tmp_path):
    first = [Claim("Models", "depth helps", "2 layers 1.40 vs 1 layer 1.45", "reproduced", "|z| > 2")]
    second = [Claim("Cells", "a quote cell", "AUC 0.93", "reproduced", chance="AUC 0.5", corpora=("warpeace",)),
              Claim("Cells", "x", "—", "not measured")]
    scorecard.save(first, tmp_path / "a.json")
    scorecard.save(second, tmp_path / "b.json")
    gathered = scorecard.load([tmp_path / "a.json", tmp_path / "missing.json", tmp_path / "b.json"])
    assert gathered == first + second
    assert list(scorecard.table(gathered).columns) == ["chapter", "claim", "measured", "verdict", "threshold",
                                                       "chance"]
    assert "chance" not in scorecard.table(first).columns  # no claim states one: an empty column says nothing
    by_corpus = scorecard.table({"warpeace": gathered, "linux": first}, kind=scorecard.KINDS[0])
    assert list(by_corpus.corpus) == ["warpeace"] * 3 + ["linux"]
    assert list(by_corpus.columns)[:2] == ["corpus", "chapter"]
    assert scorecard.table({"warpeace": gathered}, kind=scorecard.KINDS[1]).empty
