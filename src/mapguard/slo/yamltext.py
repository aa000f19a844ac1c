"""YAML output that humans can review: block style, key order kept, multi-line text as ``|``."""

from __future__ import annotations

from decimal import Decimal
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


def _represent_decimal(dumper: Any, value: Decimal) -> Any:
    # Exact text, never through float: 99.95 stays 99.95.
    text = format(value.normalize(), "f")
    tag = "int" if "." not in text else "float"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{tag}", text)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Decimal, _represent_decimal)


def dump(document: Any, *, header: str = "") -> str:
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True,
        default_flow_style=False,
    )
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


def dump_all(documents: list[Any], *, header: str = "") -> str:
    """Several YAML documents separated by ``---``, with a comment header."""
    body = "---\n".join(dump(document) for document in documents)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body
