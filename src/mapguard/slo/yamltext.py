"""YAML output that humans can review: block style, key order kept, multi-line text as ``|``."""

from __future__ import annotations

from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[misc]
    pass


def _represent_str(dumper: Any, value: str) -> Any:
    if "\n" in value:
        value = "\n".join(line.rstrip() for line in value.splitlines()) + "\n"
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def dump(document: Any, *, header: str = "") -> str:
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True,
        default_flow_style=False,
    )
    comments = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comments + body


def dump_all(documents: list[Any], *, header: str = "") -> str:
    return "---\n".join(dump(document) for document in documents).join(
        ["".join(f"# {line}\n" for line in header.splitlines()), ""]
    )
