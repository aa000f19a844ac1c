"""The evidence bundle's layout, version 1: one directory per kind of evidence.

```
DIR/bundle.json                 the manifest (optional: files dropped in by hand are found too)
DIR/lint/LABEL.json             mapguard lint --format json
DIR/escape/LABEL.json           mapguard escape --format json   (LABEL.log: -gcflags=-m=2 output)
DIR/profiles/LABEL.KIND.pb.gz   a pprof profile, KIND allocs | heap | cpu
DIR/profiles/LABEL.json         mapguard profile --format json
DIR/gc/LABEL.json               mapguard gc --format json       (LABEL.log: a gctrace stderr)
DIR/trace/LABEL.json            mapguard trace --format json
DIR/bench/LABEL.json            mapguard bench compare --format json (LABEL.txt: Go bench format)
DIR/load/LABEL.json             mapguard load --format json
DIR/chaos/LABEL.json            mapguard chaos cpu --format json
DIR/ebpf/LABEL.json             mapguard ebpf --format json
DIR/watch/LABEL.json            map bytes by site of one interval (mapguard watch --once)
DIR/slo/LABEL.json              mapguard slo status --format json
DIR/prometheus/LABEL.json       Prometheus range queries (see `bundle.prometheus`)
DIR/demo/LABEL.json             mapguard demo --format json
```

A LABEL names what the evidence is of — a version (`before`, `after`), a revision, a host —
and is the file name up to its first dot. Evidence of one label is joined on the `Site` key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUNDLE_VERSION = 1
MANIFEST = "bundle.json"
DEFAULT_LABEL = "current"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of evidence a bundle holds: its directory, file endings and the command that writes
    it."""

    name: str
    directory: str
    suffixes: tuple[str, ...]  # accepted file name endings, the first is what writers use
    what: str


KINDS: tuple[Kind, ...] = (
    Kind("lint", "lint", (".json",), "mapguard lint --format json"),
    Kind("escape", "escape", (".json", ".log"), "mapguard escape --format json, or "
         "go build -gcflags=-m=2 output"),
    Kind("profile", "profiles", (".pb.gz", ".pb", ".json"),
         "a pprof profile (LABEL.allocs.pb.gz, LABEL.heap.pb.gz, LABEL.cpu.pb.gz), or "
         "mapguard profile --format json"),
    Kind("gc", "gc", (".json", ".log"), "mapguard gc --format json, or a GODEBUG=gctrace=1 "
         "stderr"),
    Kind("trace", "trace", (".json",), "mapguard trace --format json"),
    Kind("bench", "bench", (".json", ".txt"), "mapguard bench compare --format json, or Go "
         "benchmark output"),
    Kind("load", "load", (".json",), "mapguard load --format json"),
    Kind("chaos", "chaos", (".json",), "mapguard chaos cpu --format json"),
    Kind("ebpf", "ebpf", (".json",), "mapguard ebpf --format json"),
    Kind("watch", "watch", (".json",), "map bytes by site of one watch interval"),
    Kind("slo", "slo", (".json",), "mapguard slo status --format json"),
    Kind("prometheus", "prometheus", (".json",), "Prometheus range query results"),
    Kind("demo", "demo", (".json",), "mapguard demo --format json"),
)
KIND_BY_NAME = {kind.name: kind for kind in KINDS}
KIND_BY_DIRECTORY = {kind.directory: kind for kind in KINDS}


def check_label(label: str) -> str:
    """A label is a file name part: letters, digits, `_`, `+`, `-`; at most 64 characters."""
    if not _LABEL.match(label):
        raise ValueError(f"label {label!r}: use letters, digits, '_', '+' and '-' (at most 64, "
                         "starting with a letter or digit)")
    return label


def label_of(file_name: str) -> str:
    """`before.allocs.pb.gz` -> `before`."""
    return file_name.split(".", 1)[0]


def matching_suffix(kind: Kind, file_name: str) -> str | None:
    return next((suffix for suffix in kind.suffixes if file_name.endswith(suffix)), None)
