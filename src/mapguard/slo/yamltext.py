"""YAML output that humans can review: block style, key order kept, multi-line text as ``|-``.

Rule and test files are large (100 SLOs: ~2000 rules), and PyYAML's representer is pure
Python, so they go through `fast_dump`: a small emitter for the shapes mapguard writes (maps,
lists, text, integers, booleans, decimals). Text is plain only when YAML cannot mistake it for
something else, single-quoted otherwise; `yaml.safe_load` reads back exactly what was given
(a property test checks this). Other files use PyYAML with the same conventions.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# Plain scalars: identifier-like text that YAML 1.1 does not read as a bool, null or number.
_PLAIN = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_./:-]*[A-Za-z0-9_./-])?")
_NOT_PLAIN = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"})
# One line of YAML-printable text without line breaks (\n, \r, NEL, LS, PS) or a BOM.
_LINE = re.compile(
    "[\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)


class _Dumper(_Base):  # type: ignore[misc]
    """A subclass of its own, so the representers registered below leave PyYAML's alone."""


def _represent_str(dumper: Any, value: str) -> Any:
    if "\n" in value:
        value = "\n".join(line.rstrip() for line in value.splitlines())
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _represent_decimal(dumper: Any, value: Decimal) -> Any:
    # Exact text, never through float: 99.95 stays 99.95.
    text = _decimal_text(value)
    tag = "int" if "." not in text else "float"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{tag}", text)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Decimal, _represent_decimal)


def _header(header: str) -> str:
    return "".join(f"# {line}\n" for line in header.splitlines())


def dump(document: Any, *, header: str = "") -> str:
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True,
        default_flow_style=False,
    )
    return _header(header) + body


def dump_all(documents: list[Any], *, header: str = "") -> str:
    """Several YAML documents separated by ``---``, with a comment header."""
    return _header(header) + "---\n".join(dump(document) for document in documents)


# ------------------------------------------------------------------------ fast emitter


def _text(value: str) -> str:
    if _PLAIN.fullmatch(value) and value.lower() not in _NOT_PLAIN:
        return value
    if _LINE.fullmatch(value):
        return "'" + value.replace("'", "''") + "'"
    return '"' + "".join(_escape(char) for char in value) + '"'


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(char: str) -> str:
    """One character inside a YAML double-quoted scalar."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if _LINE.fullmatch(char):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, str):
        return _text(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _block(value: str, indent: str) -> str | None:
    """A literal block for multi-line printable text (None: not representable as one)."""
    lines = value.split("\n")
    if len(lines) < 2 or not all(_LINE.fullmatch(line) for line in lines):
        return None
    if any(line != line.rstrip(" \t") for line in lines) or lines[-1] == "":
        return None  # trailing blanks and final newlines are lost in a `|-` block
    indicator = "2" if lines[0][:1] in {" ", "\t"} else ""
    inner = indent + "  "
    body = "\n".join(f"{inner}{line}" if line else "" for line in lines)
    return f"|{indicator}-\n{body}"


def _entry(key: str, value: Any, indent: str, out: list[str]) -> None:
    head = f"{indent}{_text(key)}:"
    if isinstance(value, dict) and value:
        out.append(head)
        _mapping(value, indent + "  ", out)
    elif isinstance(value, list) and value:
        out.append(head)
        _sequence(value, indent, out)
    elif isinstance(value, dict | list):
        out.append(f"{head} {'{}' if isinstance(value, dict) else '[]'}")
    elif isinstance(value, str) and (block := _block(value, indent)) is not None:
        out.append(f"{head} {block}")
    else:
        out.append(f"{head} {_scalar(value)}")


def _mapping(mapping: dict[str, Any], indent: str, out: list[str]) -> None:
    for key, value in mapping.items():
        _entry(key, value, indent, out)


def _sequence(items: list[Any], indent: str, out: list[str]) -> None:
    for item in items:
        if isinstance(item, dict) and item:
            start = len(out)
            _mapping(item, indent + "  ", out)
            out[start] = f"{indent}- {out[start][len(indent) + 2:]}"
        elif isinstance(item, list | dict):
            if item:
                raise TypeError("nested lists are not written by mapguard")
            out.append(f"{indent}- {'{}' if isinstance(item, dict) else '[]'}")
        else:
            out.append(f"{indent}- {_scalar(item)}")


def fast_dump(document: dict[str, Any], *, header: str = "") -> str:
    """Block-style YAML for a mapping of maps, lists and scalars; `yaml.safe_load` inverts it."""
    out: list[str] = []
    _mapping(document, "", out)
    return _header(header) + "\n".join(out) + "\n"
