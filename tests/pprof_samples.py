"""Build small pprof profiles in tests, field by field, with the generated protobuf classes."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass, field

from mapguard.formats import profile_pb2


@dataclass
class Stack:
    """A sample: frames leaf first as (function, file, line, address), values, object size."""

    frames: Sequence[tuple[str, str, int, int]]
    values: Sequence[int]
    size: int | None = None
    labels: dict[str, str] = field(default_factory=dict)


def build(sample_types: Sequence[tuple[str, str]], stacks: Sequence[Stack], *,
          default: str | None = None, compress: bool = True) -> bytes:
    strings: dict[str, int] = {"": 0}

    def s(text: str) -> int:
        return strings.setdefault(text, len(strings))

    message = profile_pb2.Profile()
    for kind, unit in sample_types:
        message.sample_type.add(type=s(kind), unit=s(unit))
    functions: dict[tuple[str, str], int] = {}
    locations: dict[int, int] = {}
    for stack in stacks:
        ids = []
        for function, file, line, address in stack.frames:
            fid = functions.get((function, file))
            if fid is None:
                fid = functions[(function, file)] = len(functions) + 1
                message.function.add(id=fid, name=s(function), system_name=s(function),
                                     filename=s(file))
            lid = locations.get(address)
            if lid is None:
                lid = locations[address] = len(locations) + 1
                location = message.location.add(id=lid, address=address)
                location.line.add(function_id=fid, line=line)
            ids.append(lid)
        sample = message.sample.add(location_id=ids, value=list(stack.values))
        if stack.size is not None:
            sample.label.add(key=s("bytes"), num=stack.size)
        for key, value in stack.labels.items():
            sample.label.add(key=s(key), str=s(value))
    if default:
        message.default_sample_type = s(default)
    message.period_type.type = s(sample_types[-1][0])
    message.period_type.unit = s(sample_types[-1][1])
    message.period = 1
    message.string_table.extend(strings)
    data = message.SerializeToString()
    return gzip.compress(data, mtime=0) if compress else data


HEAP_TYPES = (("alloc_objects", "count"), ("alloc_space", "bytes"),
              ("inuse_objects", "count"), ("inuse_space", "bytes"))
