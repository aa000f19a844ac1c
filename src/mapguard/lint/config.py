"""`.mapguard.toml` (or `[tool.mapguard]` in pyproject.toml): settings the CLI flags override.

```toml
select = ["MG001", "MG004"]     # rules to run (default: all but those off by default)
extend-select = ["MG002"]        # also these (MG001, MG002, MG008, MG010, MG013, MG014 are off)
ignore = ["MG002"]               # rules to skip
exclude = ["internal/gen/**"]    # globs, relative to the config file's directory
include-generated = false        # lint files marked `// Code generated ... DO NOT EDIT.`
include-tests = true             # lint *_test.go files
advice-everywhere = false        # MG001-MG003, MG010 also in test and tool code
go-version = "1.22"              # advice as if the module said `go 1.22`
baseline = "mapguard-baseline.json"
jobs = 0                         # worker processes; 0 = one per core
cache = true                     # reuse results for unchanged files
hot-share = 1.0                  # with --profile: percent of the profile that makes a site hot
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapguard.errors import InputError
from mapguard.goversion import GoVersion

CONFIG_NAMES = (".mapguard.toml", "pyproject.toml")


@dataclass(frozen=True, slots=True)
class LintConfig:
    """The settings; validated by `_schema()` when they come from a file."""

    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    include_generated: bool = False
    include_tests: bool = True
    advice_everywhere: bool = False
    go_version: str | None = None
    baseline: str | None = None
    jobs: int = 0
    cache: bool = True
    hot_share: float = 1.0


def _schema() -> Any:
    """The pydantic model of a configuration file (imported only when there is one)."""
    from pydantic import BaseModel, ConfigDict, Field, field_validator

    class Schema(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)

        select: list[str] | None = None
        extend_select: list[str] = Field(default_factory=list, alias="extend-select")
        ignore: list[str] = Field(default_factory=list)
        exclude: list[str] = Field(default_factory=list)
        include_generated: bool = Field(False, alias="include-generated")
        include_tests: bool = Field(True, alias="include-tests")
        advice_everywhere: bool = Field(False, alias="advice-everywhere")
        go_version: str | None = Field(None, alias="go-version")
        baseline: str | None = None
        jobs: int = Field(0, ge=0)
        cache: bool = True
        hot_share: float = Field(1.0, gt=0, le=100, alias="hot-share")

        @field_validator("go_version")
        @classmethod
        def _valid_go_version(cls, value: str | None) -> str | None:
            if value is not None:
                GoVersion.parse(value)
            return value

    return Schema


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A lint configuration and the file it was read from."""

    config: LintConfig
    path: Path | None  # None: defaults, no file found

    @property
    def base(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()


def find_config(start: Path) -> Path | None:
    """The nearest .mapguard.toml, or pyproject.toml with [tool.mapguard], from `start` up."""
    for directory in (start, *start.parents):
        found = config_in(directory)
        if found is not None:
            return found
    return None


def config_in(directory: Path) -> Path | None:
    """The configuration file of this directory itself, if it has one."""
    candidate = directory / ".mapguard.toml"
    if _exists(candidate):
        return candidate
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        try:
            return pyproject if b"[tool.mapguard]" in pyproject.read_bytes() else None
        except OSError as exc:
            raise InputError(pyproject, f"cannot read: {exc.strerror}") from None
    return None


def _exists(path: Path) -> bool:
    """Present in any form (a directory or a broken link where a file should be is then an
    error when it is read, not a file silently passed over)."""
    try:
        path.lstat()
    except OSError:
        return False
    return True


def load_config(path: Path | None) -> LoadedConfig:
    if path is None:
        return LoadedConfig(LintConfig(), None)
    import tomllib  # only a run with a configuration file pays for the TOML reader

    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    prefix = ""
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("mapguard", {})
        prefix = "tool.mapguard."
    from pydantic import ValidationError

    try:
        checked = _schema().model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = prefix + ".".join(str(part) for part in error["loc"])
        problem = "unknown setting" if error["type"] == "extra_forbidden" else error["msg"]
        raise InputError(path, problem, where=field) from None
    return LoadedConfig(LintConfig(**checked.model_dump()), path)
