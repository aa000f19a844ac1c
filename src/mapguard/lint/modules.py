"""Each module's own configuration: the options that apply to a directory.

The configuration found from the current directory (or named with --config) applies to the
whole run; a module below it that has a configuration file of its own (`.mapguard.toml`, or
`[tool.mapguard]` in pyproject.toml) gets that file's rules, excludes, Go version and file
choices for its directories, so linting a monorepo from its root gives each module the
settings it gets when linted from inside. Command-line flags override every file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mapguard.errors import InputError, UsageError
from mapguard.goversion import GoVersion
from mapguard.lint.cache import default_cache_dir
from mapguard.lint.config import LoadedConfig, config_in, load_config
from mapguard.lint.engine import LintOptions
from mapguard.lint.registry import rule_for, select_rules
from mapguard.lint.results import FileNote
from mapguard.source.discover import DirTarget, Expansion, Selection, selects_file
from mapguard.source.gomod import find_module


@dataclass(frozen=True, slots=True)
class CommandLine:
    """What the command line said; it overrides every configuration file."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    go_version: str | None = None
    exclude: tuple[str, ...] = ()
    include_generated: bool | None = None
    jobs: int | None = None
    no_cache: bool = False
    advice_everywhere: bool | None = None
    extend_select: tuple[str, ...] = ()
    profile: bool = False  # --profile: the speed advice that is off by default runs on its evidence


def options_from(loaded: LoadedConfig, flags: CommandLine) -> LintOptions:
    config = loaded.config
    # A rule named on the command line is wanted, whatever the configuration ignores; a
    # --select on the command line replaces the configuration's choice, extensions included.
    wanted = {rule_for(key).code for key in flags.extend_select}
    rules = select_rules(list(flags.select) or config.select,
                         list(flags.ignore) or ([] if flags.select else [
                             key for key in config.ignore if rule_for(key).code not in wanted]),
                         extend=[*([] if flags.select else config.extend_select),
                                 *flags.extend_select],
                         profile=flags.profile)
    version_text = flags.go_version or config.go_version
    try:
        forced = GoVersion.parse(version_text) if version_text else None
    except ValueError as exc:
        source = "--go-version" if flags.go_version else f"{loaded.path}: go-version"
        raise UsageError(f"{source}: {exc}") from None
    return LintOptions(
        rules=rules,
        selection=Selection(
            exclude=(*config.exclude, *flags.exclude), base=loaded.base,
            include_generated=config.include_generated if flags.include_generated is None
            else flags.include_generated,
            include_tests=config.include_tests,
        ),
        go_version=forced,
        detect_toolchain=forced is None,
        jobs=flags.jobs if flags.jobs is not None else config.jobs,
        cache_dir=None if flags.no_cache or not config.cache else default_cache_dir(),
        advice_everywhere=(config.advice_everywhere if flags.advice_everywhere is None
                           else flags.advice_everywhere),
    )


class ModuleOptions:
    """The options of each directory: those of the nearest configuration file above it."""

    def __init__(self, run: LoadedConfig, run_options: LintOptions, flags: CommandLine,
                 *, explicit: bool) -> None:
        self._run = run
        self._run_options = run_options
        self._flags = flags
        self._explicit = explicit  # --config: that file for everything
        self._nearest: dict[Path, Path | None] = {}
        self._by_config: dict[Path, LintOptions] = {}

    def apply(self, expansion: Expansion) -> tuple[Expansion, dict[Path, LintOptions]]:
        """The expansion with each directory's files chosen by its own configuration, and
        the options per directory."""
        targets: list[DirTarget] = []
        per_dir: dict[Path, LintOptions] = {}
        for target in expansion.targets:
            options = self.options_for(target.directory)
            if options is not self._run_options:
                files = tuple((path, explicit) for path, explicit in target.files
                              if explicit or selects_file(path, options.selection))
                if not files:
                    continue
                target = replace(target, files=files)
            targets.append(target)
            per_dir[target.directory] = options
        return replace(expansion, targets=tuple(targets)), per_dir

    def options_for(self, directory: Path) -> LintOptions:
        if self._explicit:
            return self._run_options
        found = self._nearest_config(directory)
        if found is None or found == self._run.path:
            return self._run_options
        options = self._by_config.get(found)
        if options is None:
            loaded = load_config(found)
            options = replace(options_from(loaded, self._flags), jobs=self._run_options.jobs,
                              cache_dir=self._run_options.cache_dir)
            self._by_config[found] = options
        return options

    def _nearest_config(self, directory: Path) -> Path | None:
        if directory in self._nearest:
            return self._nearest[directory]
        found = config_in(directory)
        if found is None and directory.parent != directory:
            found = self._nearest_config(directory.parent)
        self._nearest[directory] = found
        return found


def without_broken_modules(expansion: Expansion) -> tuple[Expansion, tuple[FileNote, ...]]:
    """The expansion without the directories of nested modules whose go.mod cannot be read
    as one (empty, no `module` line, a bad `go` directive, unreadable), and a warning per such
    go.mod. A `./...` from a parent module reaches a nested module's packages, which
    `go vet ./...` leaves out; an empty `third_party/go.mod` in a real tree used to stop the
    whole run halfway through, losing every finding. A go.mod at or above a root the command
    line names is that run's own module: its error stops the run, before any work."""
    kept: list[DirTarget] = []
    left_out: dict[Path, tuple[InputError, int]] = {}  # go.mod -> its error, directories
    for target in expansion.targets:
        try:
            find_module(target.directory)
        except InputError as exc:
            go_mod = Path(exc.source)
            if not any(go_mod.parent != root and go_mod.parent.is_relative_to(root)
                       for root in expansion.roots):
                raise
            first, count = left_out.get(go_mod, (exc, 0))
            left_out[go_mod] = (first, count + 1)
            continue
        kept.append(target)
    if not kept and left_out:
        raise UsageError("no Go files to lint: " + "; ".join(
            str(exc) for exc, _ in left_out.values()))
    notes = tuple(FileNote(go_mod, f"{exc.problem}"
                                   f"{f' (expected {exc.expected})' if exc.expected else ''}: "
                                   f"this nested module's {count} package director"
                                   f"{'y is' if count == 1 else 'ies are'} not analysed")
                  for go_mod, (exc, count) in left_out.items())
    return replace(expansion, targets=tuple(kept)), notes
