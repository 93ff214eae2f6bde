"""The scorecard of one corpus computed straight from its Study, without building the book.

Each chapter's claims are computed from the same Study calls and claim functions its notebook uses
(chapters 2 to 7; chapter 8's ablations and dynamic evaluation are left to the book). Everything the
chapters read is taken from the run store, and computed there if missing, so run it on a store the
book has filled. Prints every claim with its verdict and the totals.

    python scripts/scorecard.py --corpus warpeace --preset core [--chapters models cells] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pandas as pd

from lit_rnn.analysis import compare, longrange, scorecard
from lit_rnn.analysis.cells import beyond_horizon, cell_claims, rank_cells, top_cells
from lit_rnn.analysis.gates import gate_saturation, gru_first_layer_claim, lstm_gate_claims
from lit_rnn.analysis.oracles import OracleConfig, breakdown_claim, error_breakdown, scaling_claim
from lit_rnn.analysis.signals import varying
from lit_rnn.runs import Recipe
from lit_rnn.study import Study


def _scaled(claims: list[scorecard.Claim], *runs) -> list[scorecard.Claim]:
    """The claims, counted "not at the paper's scale" unless every run they read trained with the paper's recipe."""
    return [scorecard.at_scale(c, all(run.paper_recipe for run in runs)) for c in claims]


def models(study: Study) -> list[scorecard.Claim]:
    """Chapter 2: depth, gating and the clusters of models."""
    runs = study.recurrent_runs
    predictions = {run.name: study.predictions(run) for run in runs}
    table = compare.loss_table([compare.ScoredModel(predictions[run.name], run.config.model, run.result.parameters,
                                                    run.training) for run in runs], study.budgets, study.corpus.name)
    paper_training = Recipe().length
    return [compare.depth_claim(table, predictions, paper_training, study.plateau),
            compare.three_layers_claim(table, predictions, paper_training, study.plateau),
            compare.gated_claim(table, predictions, paper_training, study.plateau),
            compare.cluster_claim(table, predictions, paper_training, study.plateau)]


def cells(study: Study) -> list[scorecard.Claim]:
    """Chapter 3: interpretable cells, and cells beyond the unroll horizon."""
    run = study.cell_run
    trace = study.trace(run)
    all_signals = study.signals()
    signals = varying(all_signals, trace.positions)
    ranking = rank_cells(trace, signals.values(), trace.positions, quantities=("c", "h"))
    leaders = top_cells(ranking, per_signal=1)
    beyond = [beyond_horizon(trace, signals[row.signal], row.layer, row.quantity, row.cell,
                             run.config.recipe.seq_length) for row in leaders.itertuples() if row.kind == "binary"]
    return _scaled(cell_claims(ranking, sorted(set(all_signals) - set(signals)), beyond, n_bytes=len(trace.positions)),
                   run)


def gates(study: Study) -> list[scorecard.Claim]:
    """Chapter 4: gate saturation."""
    saturation = {architecture: gate_saturation(study.trace(run)) for architecture, run in study.gate_runs.items()}
    gru = [gru_first_layer_claim(saturation["gru"])] if "gru" in saturation else []
    return _scaled(lstm_gate_claims(saturation["lstm"]), study.gate_runs["lstm"]) + (
        _scaled(gru, study.gate_runs["gru"]) if gru else [])


def baselines(study: Study) -> list[scorecard.Claim]:
    """Chapter 5: Table 2."""
    ngrams, nnns = study.baselines()
    best = study.best_recurrent()
    return _scaled(compare.finite_horizon_claims(ngrams, nnns, study.predictions(best), study.corpus.name), best)


def long_range(study: Study) -> list[scorecard.Claim]:
    """Chapter 6: error overlap, byte advantage, the closing brace, training dynamics."""
    ngrams, nnns = study.baselines()
    lstm, ngram = study.predictions(study.cell_run), ngrams[max(ngrams)]
    nnn_run = study.best_nnn()
    compared = [lstm, *([nnns[nnn_run.config.model.context]] if nnn_run else []), ngram]
    per_byte = longrange.per_byte_probability([lstm, ngram], study.corpus.vocab)
    advantage = longrange.byte_advantage(per_byte, lstm.name, ngram.name)
    dynamics = (longrange.training_dynamics(study.snapshot_predictions(study.dynamics_run), nnns)
                if study.dynamics_run is not None and nnns else pd.DataFrame(columns=["step", "n", "symmetric_kl"]))
    return _scaled([longrange.overlap_claim(compared), longrange.advantage_claim(advantage, prose=study.prose),
                    longrange.closer_claim(lstm, ngram, study.syntax), longrange.dynamics_claim(dynamics)],
                   study.cell_run)


def errors(study: Study) -> list[scorecard.Claim]:
    """Chapter 7: the error breakdown and what scaling removes."""
    oracle = OracleConfig()
    ngrams = study.oracle_ngrams(oracle)
    runs = study.error_runs
    breakdowns = [error_breakdown(study.predictions(run), ngrams, study.corpus.data, study.train_positions(), oracle)
                  for run in runs]
    claims = [breakdown_claim(breakdowns[0])]
    if len(breakdowns) > 1:
        ratio = runs[0].result.parameters / runs[1].result.parameters
        claims.append(scaling_claim(breakdowns[0], breakdowns[1], ratio))
    return _scaled(claims, *runs)


CHAPTERS = {"models": models, "cells": cells, "gates": gates, "baselines": baselines, "long_range": long_range,
            "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--preset", default="core")
    parser.add_argument("--chapters", nargs="+", choices=list(CHAPTERS), default=list(CHAPTERS))
    parser.add_argument("--json", type=Path, help="also write the claims here")
    args = parser.parse_args()
    study = Study.open(corpus=args.corpus, preset=args.preset, progress=False)
    claims = scorecard.applicable([c for name in args.chapters for c in CHAPTERS[name](study)], study.corpus.name)
    with pd.option_context("display.max_colwidth", 200, "display.width", 250):
        print(scorecard.table(claims)[["chapter", "claim", "verdict", "measured"]].to_string())
        print(scorecard.totals({study.corpus.name: claims}).to_string())
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(c) for c in claims], indent=1))


if __name__ == "__main__":
    main()
