"""Reading spec files: YAML documents with line numbers, and errors that point into them.

Every problem in a spec becomes one `InputError` line: ``FILE:LINE: FIELD.PATH: problem
(expected ...)``. Pydantic's errors are translated here, with the field's `description` as the
"expected" part, so models document themselves and the user sees what would have been valid.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import pydantic
import yaml

from mapguard.errors import InputError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Loc = Sequence[str | int]
M = typing.TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a spec file, with its node tree for line numbers."""

    source: str
    data: Any
    node: yaml.Node | None
    prefix: tuple[int, ...] = ()  # (n,) for the n-th document of a multi-document file
    # Field names as the file spells them, for models that read another spelling (Sloth's
    # Kubernetes form writes errorQuery where the model says error_query).
    spelling: Mapping[str, str] = field(default_factory=dict)

    def spelled(self, loc: Loc) -> Loc:
        return tuple(self.spelling.get(part, part) if isinstance(part, str) else part
                     for part in loc)

    def line_of(self, loc: Loc) -> int | None:
        node, line = self.node, None
        for part in self.spelled(loc):
            if node is None:
                break
            line = node.start_mark.line + 1
            node = _child(node, part)
        if node is not None:
            line = node.start_mark.line + 1
        return line

    def error(
        self, loc: Loc, problem: str, expected: str | None = None
    ) -> InputError:
        line = self.line_of(loc)
        source = f"{self.source}:{line}" if line is not None else self.source
        where = field_path((*self.prefix, *self.spelled(loc)))
        return InputError(source, problem, where=where, expected=expected)

    def where(self, loc: Loc) -> str:
        """``FILE:LINE: FIELD.PATH`` for warnings."""
        line = self.line_of(loc)
        source = f"{self.source}:{line}" if line is not None else self.source
        return f"{source}: {field_path((*self.prefix, *self.spelled(loc)))}"


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def field_path(loc: Loc) -> str:
    """("slos", 0, "objective") -> "slos[0].objective"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(document)"


def read_documents(path: Path | str, text: str | None = None) -> list[Document]:
    """Every YAML document of a file (a spec file may hold several, separated by ---)."""
    source = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(source, f"cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InputError(source, "not UTF-8 text", expected="a YAML spec") from None
    loader = _Loader(text)
    documents: list[tuple[Any, yaml.Node]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            documents.append((loader.construct_document(node), node))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(where, f"invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    documents = [(data, node) for data, node in documents if data is not None]
    if not documents:
        raise InputError(source, "empty file", expected="a YAML spec")
    many = len(documents) > 1
    return [
        Document(source, data, node, (index,) if many else ())
        for index, (data, node) in enumerate(documents)
    ]


class SpecProblems(InputError):
    """Several problems in one spec, each a complete InputError (the first is the message)."""

    def __init__(self, problems: Sequence[InputError]) -> None:
        first = problems[0]
        super().__init__(first.source, first.problem, where=first.where, expected=first.expected)
        self.problems = tuple(problems)


def problems_of(error: InputError) -> tuple[InputError, ...]:
    return error.problems if isinstance(error, SpecProblems) else (error,)


def validate(model: type[M], document: Document, data: Any = None, loc: Loc = ()) -> M:
    """Validate `data` (default: the whole document) against `model`; every problem found is
    reported (SpecProblems), each as one InputError line."""
    try:
        return model.model_validate(document.data if data is None else data)
    except pydantic.ValidationError as exc:
        found: dict[str, InputError] = {}
        for error in exc.errors(include_url=False):
            problem = translate_one(error, model, document, loc)
            found.setdefault(problem.where or "", problem)  # one line per field (unions)
        raise SpecProblems(list(found.values())) from None


def translate_one(
    error: Any, model: type[pydantic.BaseModel], document: Document, loc: Loc = (),
) -> InputError:
    error_loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
    kind = error["type"]
    if kind == "missing":
        problem = "missing"
    elif kind == "extra_forbidden":
        problem = "unknown field"
    elif kind in {"value_error", "assertion_error"}:
        problem = str(error.get("ctx", {}).get("error", error["msg"]))
    elif kind.endswith(("_type", "_parsing")) or kind in {"literal_error", "enum"}:
        problem = f"got {_short(error.get('input'))}"
    else:
        problem = error["msg"][0].lower() + error["msg"][1:]
    expected = describe(model, error_loc)
    if expected is None and (kind in {"literal_error", "enum"} or kind.endswith("_type")):
        expected = error["msg"].removeprefix("Input should be ").removeprefix("input should be ")
    return document.error((*loc, *error_loc), problem, expected)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(model: type[pydantic.BaseModel], loc: Loc) -> str | None:
    """The `description` of the field at `loc`, following nested models, lists and dicts."""
    current: Any = model
    description: str | None = None
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, pydantic.BaseModel)
        ):
            current = _element(current)
            continue
        info = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        if info is None:
            return None
        description, current = info.description, info.annotation
    return description


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in {Union, types.UnionType}:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(options[0]) if len(options) == 1 else annotation
    return annotation


def _element(annotation: Any) -> Any:
    args = typing.get_args(_unwrap(annotation))
    return args[-1] if args else annotation


def extras(model: pydantic.BaseModel, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every unknown key kept by models with extra="allow", with its location."""
    for key in model.model_extra or {}:
        yield (*loc, key), key
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = info.alias or name
        children = (
            [(i, v) for i, v in enumerate(value)] if isinstance(value, list)
            else [(k, v) for k, v in value.items()] if isinstance(value, dict)
            else [(None, value)]
        )
        for index, child in children:
            if isinstance(child, pydantic.BaseModel):
                yield from extras(child, (*loc, key) if index is None else (*loc, key, index))
