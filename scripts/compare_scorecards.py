"""Two builds' scorecards side by side: the verdict counts per corpus, and every claim whose verdict changed.

    .venv/bin/python scripts/compare_scorecards.py BEFORE/scorecards AFTER/scorecards

Each folder is a store's ``scorecards/`` (``<preset>-<corpus sha256>/<chapter>.json``, the claims each chapter
saved); claims are matched by chapter and wording, so a claim reworded between the builds shows as gone and new.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def claims(folder: Path) -> dict[str, dict[tuple[str, str], dict]]:
    """Per corpus folder, every saved claim by (chapter, claim)."""
    return {corpus.name: {(path.stem, claim["claim"]): claim for path in sorted(corpus.glob("*.json"))
                          for claim in json.loads(path.read_text())}
            for corpus in sorted(folder.iterdir()) if corpus.is_dir()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    before, after = claims(args.before), claims(args.after)
    for corpus in sorted(set(before) | set(after)):
        old, new = before.get(corpus, {}), after.get(corpus, {})
        print(f"## {corpus}")
        print("before:", dict(Counter(c["verdict"] for c in old.values())))
        print("after: ", dict(Counter(c["verdict"] for c in new.values())))
        for key in sorted(set(old) | set(new)):
            was, now = old.get(key, {}).get("verdict", "-"), new.get(key, {}).get("verdict", "-")
            if was != now:
                print(f"  {key[0]} | {key[1]} | {was} -> {now}")


if __name__ == "__main__":
    main()
