"""Reading benchmark files named on the command line (``PATH`` or ``LABEL=PATH``)."""

from __future__ import annotations

from pathlib import Path

from mapguard.bench.tables import LabelledFile
from mapguard.errors import InputError
from mapguard.formats.benchfmt import BenchFile, parse_benchfmt

EXPECTED = "Go benchmark format, e.g. output of `go test -bench . -count 10`"


def split_label(argument: str) -> tuple[str, Path]:
    """benchstat's LABEL=PATH: the label names the column. A path that exists as given wins."""
    if "=" in argument and not Path(argument).exists():
        label, path = argument.split("=", 1)
        if label:
            return label, Path(path)
    return argument, Path(argument)


def read_bench_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, "is a directory", expected=EXPECTED) from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}", "not UTF-8 text", expected=EXPECTED) from None


def read_bench_file(argument: str) -> LabelledFile:
    label, path = split_label(argument)
    parsed = parse_benchfmt(read_bench_text(path), str(path))
    return LabelledFile(label, parsed)


def require_results(parsed: BenchFile) -> None:
    if not parsed.results:
        raise InputError(parsed.source, "no benchmark results",
                         expected="lines like 'BenchmarkGet-8  1000000  231 ns/op'")
