"""docs/review/reviewed_trees.py, the exclusion list of the next fresh review round: it must
find the trees the reports name in each of the ways they name them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "docs" / "review" / "reviewed_trees.py"


def verdicts(*candidates: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, str(SCRIPT), *candidates], capture_output=True,
                          text=True, check=True)
    return dict(line.split("\t") for line in done.stdout.splitlines())


def test_each_way_a_report_names_a_tree_is_found() -> None:
    found = verdicts(
        "prometheus/prometheus",        # owner/name in the text
        "someone/m3",                   # a bare name in a table's first column (round 18)
        "someone/frp",                  # a bare name with its revision (`frp @ 40274d8c9224`)
        "someone/networking",           # a vanity module path (`knative.dev/networking`)
        "bufbuild/protovalidate-go",    # the same name without `-go` (`buf.build/go/...`)
        "tinode/zz-never-read",         # the owner a table names as a tree (round 9's `tinode`)
        "nobody-at-all/zz-never-read",
    )
    assert found["prometheus/prometheus"] == "reviewed"
    assert found["someone/m3"] == "bare name reviewed (check by hand)"
    assert found["someone/frp"] == "bare name reviewed (check by hand)"
    assert found["someone/networking"] == "bare name reviewed (check by hand)"
    assert found["bufbuild/protovalidate-go"] == "name without go-/-go reviewed (check by hand)"
    assert found["tinode/zz-never-read"] == "owner named as a tree (check by hand)"
    assert found["nobody-at-all/zz-never-read"] == "fresh"


def test_without_arguments_it_lists_every_reviewed_name() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          check=True)
    names = set(done.stdout.split())
    assert {"prometheus/prometheus", "nats-io/nats-server", "m3"} <= names


def test_a_renamed_or_forked_tree_listed_by_hand_is_reviewed() -> None:
    # Renames and forks no name check can see (round 24: kubeflow/trainer is
    # kubeflow/training-operator, read in round 10) are listed in renames.tsv.
    found = verdicts("Kubeflow/Trainer", "kubeflow/zz-never-read")
    assert found["Kubeflow/Trainer"].startswith("reviewed as kubeflow/training-operator (renamed;")
    assert not found["kubeflow/zz-never-read"].startswith("reviewed")
