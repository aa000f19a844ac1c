"""Prometheus' text exposition format (what `/metrics` serves), for the few families we read.

Pure: bytes in, `Sample`s out; bad input raises `InputError` naming the line. The parsing itself
is prometheus-client's; this module first keeps only the lines of the wanted families, because
a service's `/metrics` often carries thousands of series that the watch agent never reads, and
skipping a line by its first word is much cheaper than parsing it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from mapguard.errors import InputError

_SUFFIXES = ("", "_total", "_sum", "_count", "_bucket", "_created")


@dataclass(frozen=True, slots=True)
class Sample:
    name: str  # as exposed, e.g. go_gc_duration_seconds_count
    labels: tuple[tuple[str, str], ...]  # sorted by label name
    value: float

    def label(self, name: str) -> str | None:
        return next((value for key, value in self.labels if key == name), None)


def parse_samples(data: bytes, source: str, families: Collection[str]) -> tuple[Sample, ...]:
    """The samples of the metric families named in `families` (base names: a histogram's
    `_bucket`, `_sum` and `_count` samples belong to its family)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, "not UTF-8 text", where=f"offset {exc.start}",
                         expected="the Prometheus text exposition format") from None
    names = {family + suffix for family in families for suffix in _SUFFIXES}
    kept = list(_lines_of(text, set(families), names))
    try:
        return _parse("\n".join(line for _, line in kept))
    except ValueError:
        pass
    # Find the line at fault: only on the error path, so the common path parses once.
    for number, line in kept:
        if line.startswith("#"):
            continue
        try:
            _parse(line)
        except ValueError as exc:
            detail = f" ({exc})" if str(exc) else ""
            raise InputError(source, f"malformed sample{detail}", where=f"line {number}",
                             expected="name{labels} value [timestamp]") from None
    raise InputError(source, "malformed metadata for a metric family",
                     expected="# TYPE name counter|gauge|summary|histogram|untyped")


def _lines_of(text: str, families: set[str], names: set[str]) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            words = line.split(None, 3)
            if len(words) >= 3 and words[1] in ("TYPE", "HELP") and words[2] in families:
                yield number, line
            continue
        end = len(line)
        for stop in ("{", " ", "\t"):
            found = line.find(stop)
            if 0 <= found < end:
                end = found
        if line[:end] in names:
            yield number, line


def _parse(text: str) -> tuple[Sample, ...]:
    return tuple(
        Sample(sample.name, tuple(sorted(sample.labels.items())), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )
