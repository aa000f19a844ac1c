"""Draw the random sample of findings that a review round reads by hand.

    python3 docs/review/sample_findings.py [--rules=MG002,...] OUTDIR SEED N TREE [TREE ...]

OUTDIR holds one `mapguard lint --format json` report per tree, named `<TREE>.json`, made with

    mapguard lint ./... --select MG001,MG002,MG003,MG010 --no-cache --format json \\
        -o OUTDIR/<TREE>.json

in the tree's root. Every finding of the listed trees (of the `--rules` given, default all) is
put in one list, sorted by (tree,
path, line, rule), and N of them are drawn with `random.Random(SEED).sample`; the sample is
printed sorted, one tab-separated line per finding: tree, path, line, rule. The same reports,
seed and trees give the same sample.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    rules: set[str] | None = None
    if argv and argv[0].startswith("--rules="):
        rules = set(argv[0].removeprefix("--rules=").split(","))
        argv = argv[1:]
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    outdir, seed, n, trees = Path(argv[0]), int(argv[1]), int(argv[2]), argv[3:]
    pool = []
    for tree in trees:
        report = json.loads((outdir / f"{tree}.json").read_text(encoding="utf-8"))
        pool.extend((tree, f["path"], f["line"], f["rule"]) for f in report["findings"]
                    if rules is None or f["rule"] in rules)
    pool.sort()
    for item in sorted(random.Random(seed).sample(pool, min(n, len(pool)))):
        print(*item, sep="\t")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
