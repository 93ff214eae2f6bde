"""Chapter 6's training dynamics from the whole test split and from the sampled positions the light form ships.

    .venv/bin/python scripts/sampled_dynamics.py --corpus warpeace --artifacts STORE   # the core preset

STORE must hold the training-dynamics run with its snapshot weights (and the n-NNs, imported from pretrained/ if
missing). Prints, for both, the nearest n-NN by step and the claim's verdict, the symmetric KL table, and the largest
relative difference between the two tables: what shipping the snapshots sampled changes.
"""

from __future__ import annotations

import argparse
import sys

from lit_rnn.analysis import longrange
from lit_rnn.settings import Settings
from lit_rnn.study import Study


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--preset", default="core")
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args(argv)
    study = Study(Settings.resolve(corpus=args.corpus, preset=args.preset, artifacts=args.artifacts, progress=False))
    nnns = {n: study.predictions(run) for n, run in study.nnn_runs.items()}
    if study.dynamics_run is None or not study.dynamics_run.snapshots() or not nnns:
        print("the store lacks the dynamics run's snapshot weights or the n-NNs", file=sys.stderr)
        return 1
    whole = study.snapshot_predictions(study.dynamics_run)
    tables = {}
    for label, checkpoints in (("whole test split", whole), ("sampled", [(s, p.sample()) for s, p in whole])):
        tables[label] = longrange.training_dynamics(checkpoints, nnns)
        claim = longrange.dynamics_claim(tables[label])
        print(f"{label} ({len(checkpoints[0][1].targets):,} bytes): {claim.measured} | {claim.verdict}")
        print(tables[label].pivot(index="step", columns="n", values="symmetric_kl").round(3).to_string())
    full, sampled = (t.symmetric_kl.to_numpy() for t in tables.values())
    print(f"largest relative difference in symmetric KL: {abs(sampled / full - 1).max():.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
