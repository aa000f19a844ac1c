"""Reading fields out of evidence JSON: a wrong shape is one InputError naming the file and the
field (`lint/before.json: findings[3].line: expected an integer`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from mapguard.errors import InputError

T = TypeVar("T")
_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
          dict: "an object", list: "a list"}


class Doc:
    """A JSON object at `where` inside the file `origin`."""

    __slots__ = ("data", "origin", "where")

    def __init__(self, data: Any, origin: str, where: str = "") -> None:
        if not isinstance(data, dict):
            raise InputError(origin, f"expected an object, found {_json_type(data)}",
                             where=where or None)
        self.data: dict[str, Any] = data
        self.origin = origin
        self.where = where

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _get(self, key: str, kind: type[T], optional: bool) -> T | None:
        value = self.data.get(key)
        if value is None:
            if optional:
                return None
            raise InputError(self.origin, "missing", where=self._path(key),
                             expected=_NAMES.get(kind, kind.__name__))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InputError(self.origin, f"found {_json_type(value)}", where=self._path(key),
                             expected=_NAMES.get(kind, kind.__name__))
        return value

    def integer(self, key: str) -> int:
        value = self._get(key, int, False)
        assert value is not None
        return value

    def opt_integer(self, key: str) -> int | None:
        return self._get(key, int, True)

    def number(self, key: str) -> float:
        value = self._get(key, float, False)
        assert value is not None
        return value

    def opt_number(self, key: str) -> float | None:
        return self._get(key, float, True)

    def text(self, key: str) -> str:
        value = self._get(key, str, False)
        assert value is not None
        return value

    def opt_text(self, key: str) -> str | None:
        return self._get(key, str, True)

    def opt_flag(self, key: str) -> bool | None:
        return self._get(key, bool, True)

    def child(self, key: str) -> Doc:
        return Doc(self._get(key, dict, False), self.origin, self._path(key))

    def opt_child(self, key: str) -> Doc | None:
        value = self._get(key, dict, True)
        return None if value is None else Doc(value, self.origin, self._path(key))

    def objects(self, key: str, *, optional: bool = False) -> Iterator[Doc]:
        """The objects of a list field."""
        values = self._get(key, list, optional) or []
        for index, value in enumerate(values):
            yield Doc(value, self.origin, f"{self._path(key)}[{index}]")

    def numbers(self, key: str) -> dict[str, float]:
        """An object of numbers (`{"create": 12, "grow": 40}`)."""
        found = self.child(key)
        return {name: found.number(name) for name in found.data}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "a string", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)
