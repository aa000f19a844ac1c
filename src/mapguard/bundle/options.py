"""`--bundle DIR` and `--label NAME` for evidence commands: open the bundle before the work
starts (a bad directory fails at once, not after a long run), write into it when the work is
done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mapguard.bundle.layout import DEFAULT_LABEL, check_label
from mapguard.errors import UsageError

if TYPE_CHECKING:  # imported when a bundle is asked for: every run of a command pays the rest
    from mapguard.bundle.writer import BundleWriter

F = TypeVar("F", bound=Callable[..., Any])


def bundle_options(function: F) -> F:
    function = click.option(
        "--label", "bundle_label", default=DEFAULT_LABEL, show_default=True,
        help="With --bundle: what this evidence is of (a version, a revision, a host).")(function)
    return click.option(
        "--bundle", "bundle_dir", type=click.Path(path_type=Path),
        help="Also save this evidence into an evidence bundle directory (docs/bundle.md).",
    )(function)


def open_bundle_writer(bundle_dir: Path | None, label: str, producer: str
                       ) -> BundleWriter | None:
    if bundle_dir is None:
        return None
    try:
        check_label(label)
    except ValueError as exc:
        raise UsageError(f"--label: {exc}") from None
    from mapguard.bundle.writer import BundleWriter

    return BundleWriter(bundle_dir, producer=producer)
