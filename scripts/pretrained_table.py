"""Print pretrained/README.md's table of shipped runs, read from each run's own files.

    .venv/bin/python scripts/pretrained_table.py            # Markdown, one row per run in pretrained/runs

Every figure comes from the run folder: config.json (model, recipe), result.json (how training
ended, best validation loss, precision), provenance.json (where, how long, with what command).
"""

from __future__ import annotations

import sys

from lit_rnn.runs import SHIPPED, run_table, stored_runs


def main() -> int:
    runs = {run.config.run_id: run for run in stored_runs(SHIPPED.parent)}
    table = run_table(SHIPPED.parent)
    print("| run | corpus | model | dropout | recipe | status | best val | trained on | precision | wall | how |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in table.itertuples():
        provenance = runs[row.run].provenance
        wall = f"{provenance['wall_s'] / 60:.0f} min" if "wall_s" in provenance else "—"
        how = provenance.get("command") or provenance.get("note") or "—"
        print(f"| `{row.run}` | {row.corpus} | {row.model} | {row.dropout:g} | {row.recipe} | {row.status} | "
              f"{row.best_val:.4f} | {provenance.get('device', '—')} | {row.precision or '—'} | {wall} | {how} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
