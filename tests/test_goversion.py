from __future__ import annotations

import pytest

from mapguard.goversion import GO_1_21, GoVersion


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.21", (1, 21)), ("1.21.3", (1, 21)), ("go1.22rc1", (1, 22)), ("go1.27.3", (1, 27))],
)
def test_parse_accepts_go_version_spellings(text: str, expected: tuple[int, int]) -> None:
    version = GoVersion.parse(text)
    assert (version.major, version.minor) == expected


@pytest.mark.parametrize("text", ["", "1", "go", "1.x", "devel +abc"])
def test_parse_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a Go version"):
        GoVersion.parse(text)


def test_versions_order_numerically_not_lexically() -> None:
    assert GoVersion.parse("1.9") < GoVersion.parse("1.10") < GO_1_21
    assert str(GoVersion(1, 21)) == "1.21"
