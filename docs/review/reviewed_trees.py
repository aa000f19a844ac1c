"""Which trees the review rounds in this directory have already read: the exclusion list of the
next fresh round.

    python3 docs/review/reviewed_trees.py                  # every reviewed name, one a line
    python3 docs/review/reviewed_trees.py OWNER/NAME ...   # which of these were reviewed

The reports name a tree in four ways: `owner/name` in the text; often only its bare directory
name in the first column of a table (`| m3 | 1 | 2e397f7fb582 | ...`); its bare name with the
revision read (`etcd @ c34dc7ee0048`, `frp 40274d8c9224`); or its Go module path
(`knative.dev/networking`, `buf.build/go/protovalidate`). A name that matches once `go-`/`-go` is
dropped is flagged for a look too (`bufbuild/protovalidate-go`), and so is a candidate whose
owner a table names as a tree (round 9 read tinode/chat as `tinode`; round 23's list let it
through on its common bare name `chat`). Renames, forks and in-tree copies found by hand (a
README saying "moved to", a rebranded fork) are listed in `renames.tsv` beside this script, and a
candidate listed there is reported as such; names written with a space in prose ("knative
serving") still need a grep by hand.
Round 18 matched candidates by `owner/name` alone and let 45 trees earlier tables had read into its
fresh pool; this script matches both ways. A candidate is reviewed when its `owner/name` is named,
or its bare name is: a bare name that is a common word (`server`, `proxy`) then needs a look by
hand (`grep -n NAME docs/review/*.md`), which this script cannot give. Names are compared in lower
case.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
# owner/name as GitHub spells them, not a file path (`cmd/server.go`) nor a fraction (`3/8`).
_REPOSITORY = re.compile(r"(?<![\w/.-])([A-Za-z0-9][\w.-]{0,38})/([A-Za-z0-9][\w.-]{0,99})"
                         r"(?![\w/])")
_NOT_A_NAME = re.compile(r"\.(?:go|md|py|json|ya?ml|toml|txt|mod|sum|s|sh)$")
_TABLE_RULE = re.compile(r"^[\s:|-]*$")
# A tree named with its revision anywhere: `frp @ 40274d8c9224`, or in a list of trees read at
# their revisions, `coredns 4b26cced3271, fasthttp b8ff6fb0bb1c`.
_AT_REVISION = re.compile(r"([A-Za-z][\w.-]*)(?: @ | )[0-9a-f]{7,40}\b")
# A Go module path of a vanity domain (`knative.dev/networking`, `buf.build/go/protovalidate`):
# its last element names the tree.
_MODULE_PATH = re.compile(r"(?<![\w/.-])[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/[\w.-]+)+")


def _stem(name: str) -> str:
    """A name without the `go-`/`-go`/`.go` the Go projects of a name add or drop
    (`protovalidate-go` is read as `buf.build/go/protovalidate`)."""
    return re.sub(r"^go-|[-.]go$", "", name)


def reviewed(reports: list[Path]) -> tuple[set[str], set[str]]:
    """(owner/name, bare names) of every tree the reports name."""
    repositories: set[str] = set()
    names: set[str] = set()
    for report in reports:
        text = report.read_text(encoding="utf-8")
        for owner, name in _REPOSITORY.findall(text):
            name = name.rstrip(".")
            if re.search(r"[A-Za-z]", owner) and not _NOT_A_NAME.search(name):
                repositories.add(f"{owner}/{name}".lower())
        names.update(name.lower() for name in _AT_REVISION.findall(text))
        names.update(path.rsplit("/", 1)[1].lower() for path in _MODULE_PATH.findall(text)
                     if not _NOT_A_NAME.search(path))
        for line in text.splitlines():
            if not line.startswith("|") or _TABLE_RULE.match(line):
                continue
            first = line.strip("|").split("|")[0].strip(" `*")
            first = first.split(" @ ")[0].strip()
            if first and " " not in first and not first.isdigit():
                names.add(first.rsplit("/", 1)[-1].lower())
    names |= {repository.rsplit("/", 1)[1] for repository in repositories}
    return repositories, names


def copies(table: Path) -> dict[str, str]:
    """renames.tsv: candidate (lower case) -> what it is, in words."""
    found: dict[str, str] = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            candidate, original, relation, where = line.split("\t")
            found[candidate.lower()] = f"as {original} ({relation}; {where}; renames.tsv)"
    return found


def main(argv: list[str]) -> int:
    repositories, names = reviewed(sorted(HERE.glob("*.md")))
    known_copies = copies(HERE / "renames.tsv")
    if not argv:
        print("\n".join(sorted(repositories | names)))
        return 0
    for candidate in argv:
        lowered = candidate.lower()
        bare = lowered.rsplit("/", 1)[-1]
        stems = {_stem(name) for name in names}
        owner = lowered.split("/", 1)[0] if "/" in lowered else ""
        verdict = ("reviewed" if lowered in repositories else
                   "bare name reviewed (check by hand)" if bare in names else
                   "name without go-/-go reviewed (check by hand)" if _stem(bare) in stems
                   else "fresh")
        if verdict != "reviewed" and owner in names:
            verdict = ("owner named as a tree (check by hand)" if verdict == "fresh" else
                       f"{verdict}; owner named as a tree too")
        if lowered in known_copies:
            verdict = f"reviewed {known_copies[lowered]}"
        print(f"{candidate}\t{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
